// Package cdc turns Debezium change events (JSON, with or without the Kafka
// Connect schema envelope) into flat rows for a Hudi table: the row image
// (after for create/read/update, before for delete) plus an ordering column
// built from the event's source position, so that replayed or reordered
// events never overwrite a newer version of a row.
//
// Accepted shapes, one event per line:
//
//	{"before":..,"after":..,"source":{..},"op":"u","ts_ms":..}            payload only
//	{"schema":{..},"payload":{"before":..,"after":..,"source":..,"op":..}} Kafka Connect JsonConverter
//	null, {"schema":..,"payload":null}                                     tombstones: skipped
//
// Besides row changes, Parse returns PostgreSQL's truncate events (op "t":
// Event.Table names the truncated table) and logical decoding message
// events (op "m"), with no row: what to do with them is the caller's
// choice.
//
// Ordering (the value of PosField, a string of fixed-width zero-padded
// decimal groups, so that string order is source order):
//
//	PostgreSQL  source.lsn                           %020d                    "00000000000024023128"
//	MySQL       binlog file index, source.pos, row    %010d.%020d.%010d        "0000000003.00000000000000000154.0000000000"
//	fallback    source.ts_ms (else the event's ts_ms) %020d                    "00000001764578400123"
//
// Positions of different kinds do not compare meaningfully; a table must be
// fed events of one kind (Parse reports the kind so callers can refuse a
// mix). Positions of one MySQL server do not compare with those of another
// (after a failover the binlog files restart): use the ts_ms ordering there.
package cdc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/internal/ingest"
)

// Columns added to every row.
const (
	// PosField is the ordering column: the event's source position.
	PosField = "_source_pos"
	// OpField is Debezium's operation (c, r, u or d), named as Debezium's
	// ExtractNewRecordState names it with add.fields=op.
	OpField = "__op"
	// TsField is source.ts_ms (the database's commit time in milliseconds),
	// as ExtractNewRecordState names it with add.fields=source.ts_ms.
	TsField = "__source_ts_ms"
	// DeletedField marks soft-deleted rows (ExtractNewRecordState's rewrite
	// mode): true on the tombstone row a delete leaves, false otherwise.
	DeletedField = "__deleted"
)

// Op is a Debezium operation.
type Op byte

// Operations.
const (
	Create Op = 'c'
	Read   Op = 'r' // snapshot read
	Update Op = 'u'
	Delete Op = 'd'
	// Truncate empties the source table (PostgreSQL): the event has no row.
	Truncate Op = 't'
	// Message is a logical decoding message (PostgreSQL's
	// pg_logical_emit_message): the event has no row.
	Message Op = 'm'
)

// IsDelete reports whether o removes the row.
func (o Op) IsDelete() bool { return o == Delete }

// HasRow reports whether events of o carry a row image (c, r, u, d).
func (o Op) HasRow() bool { return o != Truncate && o != Message }

// Ordering selects how positions are built.
type Ordering int

// Orderings.
const (
	// Auto uses source.lsn (PostgreSQL), else source.file+pos+row (MySQL),
	// else ts_ms.
	Auto Ordering = iota
	// TsMs always uses source.ts_ms (else the event's ts_ms).
	TsMs
)

// ParseOrdering parses an --order value.
func ParseOrdering(s string) (Ordering, error) {
	switch s {
	case "auto", "":
		return Auto, nil
	case "ts_ms", "ts":
		return TsMs, nil
	}
	return Auto, fmt.Errorf("cdc: ordering %q: want auto or ts_ms", s)
}

// Kind is the kind of position an event carries.
type Kind string

// Position kinds.
const (
	KindLSN    Kind = "lsn"
	KindBinlog Kind = "binlog"
	KindTsMs   Kind = "ts_ms"
)

// Event is one parsed change event.
type Event struct {
	Op Op
	// Row is the row image (after, or before for deletes) with the added
	// columns PosField, OpField and TsField.
	Row map[string]json.RawMessage
	// Fields are the row image's field names in their order in the event
	// (the added columns not included).
	Fields []string
	// Pos is the ordering value (see the package doc); Kind its kind.
	Pos  string
	Kind Kind
	// TsMs is source.ts_ms, else the event's ts_ms, else 0 (HasTs false).
	TsMs  int64
	HasTs bool
	// Table is the source table ("schema.table", "db.table" or "table"),
	// when the event's source block names it.
	Table string
	// Types holds Arrow types of the row's fields taken from the schema
	// envelope (nil without one); fields of Connect types that JSON input
	// cannot carry faithfully (bytes, structs, arrays, maps) are strings.
	Types map[string]arrow.DataType
}

// Error is an event that cannot be applied: the field (if one is to
// blame) and the reason.
type Error struct {
	Field  string
	Reason string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return "cdc: " + e.Reason
	}
	return "cdc: field " + e.Field + ": " + e.Reason
}

func bad(field, format string, args ...any) *Error {
	return &Error{Field: field, Reason: fmt.Sprintf(format, args...)}
}

type payload struct {
	Before json.RawMessage            `json:"before"`
	After  json.RawMessage            `json:"after"`
	Source map[string]json.RawMessage `json:"source"`
	Op     *string                    `json:"op"`
	TsMs   json.RawMessage            `json:"ts_ms"`
}

// connectSchema is a Kafka Connect schema as JsonConverter writes it.
type connectSchema struct {
	Type       string            `json:"type"`
	Name       string            `json:"name"`
	Field      string            `json:"field"`
	Fields     []connectSchema   `json:"fields"`
	Parameters map[string]string `json:"parameters"`
}

// Parse parses one line. A tombstone (null, or an envelope with a null
// payload) returns (nil, nil). Errors are *Error.
func Parse(line []byte, ord Ordering) (*Event, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || string(line) == "null" {
		return nil, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(line, &top); err != nil {
		return nil, bad("", "not a JSON object: %v", err)
	}
	body := line
	var sch *connectSchema
	if p, ok := top["payload"]; ok {
		if _, hasOp := top["op"]; !hasOp {
			if isNull(p) {
				return nil, nil
			}
			body = p
			if s, ok := top["schema"]; ok && !isNull(s) {
				sch = &connectSchema{}
				if err := json.Unmarshal(s, sch); err != nil {
					return nil, bad("schema", "not a Kafka Connect schema: %v", err)
				}
			}
		}
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, bad("", "not a Debezium change event: %v", err)
	}
	if p.Op == nil {
		return nil, bad("op", "missing: not a Debezium change event")
	}
	ev := &Event{}
	var img json.RawMessage
	var imgName string
	switch *p.Op {
	case "c", "r", "u":
		ev.Op, img, imgName = Op((*p.Op)[0]), p.After, "after"
	case "d":
		ev.Op, img, imgName = Delete, p.Before, "before"
	case "t", "m":
		ev.Op = Op((*p.Op)[0])
		ev.Table = sourceTable(p.Source)
		var err error
		if ev.TsMs, ev.HasTs, err = tsOf(p); err != nil {
			return nil, err
		}
		// Applied in read order: a position is kept when there is one.
		if ev.position(p, ord) != nil {
			ev.Pos, ev.Kind = "", ""
		}
		return ev, nil
	default:
		return nil, bad("op", "unknown operation %q (want c, r, u, d, t or m)", *p.Op)
	}
	ev.Table = sourceTable(p.Source)
	if isNull(img) {
		if ev.Op == Delete {
			return nil, bad("before", "is null: a delete needs the old row's key (PostgreSQL: a primary key or REPLICA IDENTITY FULL)")
		}
		return nil, bad("after", "is null in a %q event", *p.Op)
	}
	if err := json.Unmarshal(img, &ev.Row); err != nil || ev.Row == nil {
		return nil, bad(imgName, "not a JSON object")
	}
	ev.Fields = objectKeys(img)
	// Strings are UTF-8 or refused: JSON decoding would silently replace
	// invalid bytes and unpaired surrogate escapes with U+FFFD (in values,
	// and in field names, which become columns).
	if _, reason := ingest.JSONObjectProblem(line, top, nil); reason != "" {
		if field, reason := ingest.JSONObjectProblem(img, ev.Row, ev.Fields); reason != "" {
			if field == "" {
				field = imgName
			}
			return nil, bad(field, "%s", reason)
		}
		return nil, bad("", "%s", reason)
	}
	if sch != nil {
		if err := ev.applySchema(sch, imgName); err != nil {
			return nil, err
		}
	}
	var err error
	if ev.TsMs, ev.HasTs, err = tsOf(p); err != nil {
		return nil, err
	}
	if err := ev.position(p, ord); err != nil {
		return nil, err
	}
	ev.Row[PosField] = quote(ev.Pos)
	ev.Row[OpField] = quote(string(rune(ev.Op)))
	if ev.HasTs {
		ev.Row[TsField] = json.RawMessage(strconv.FormatInt(ev.TsMs, 10))
	} else {
		ev.Row[TsField] = json.RawMessage("null")
	}
	return ev, nil
}

// sourceTable names the source block's table: schema.table (PostgreSQL),
// db.table (MySQL), or table.
func sourceTable(src map[string]json.RawMessage) string {
	str := func(k string) string {
		var s string
		if v, ok := src[k]; ok {
			_ = json.Unmarshal(v, &s)
		}
		return s
	}
	t := str("table")
	if t == "" {
		return ""
	}
	if sch := str("schema"); sch != "" {
		return sch + "." + t
	}
	if db := str("db"); db != "" {
		return db + "." + t
	}
	return t
}

// objectKeys returns the keys of a JSON object in their order.
func objectKeys(obj json.RawMessage) []string {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil { // {
		return nil
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		k, _ := tok.(string)
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return keys
		}
	}
	return keys
}

func isNull(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || string(b) == "null"
}

func quote(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// tsOf returns source.ts_ms, else the event's ts_ms; ok is false when
// the event has neither (a ts_ms of 0 is 0).
func tsOf(p payload) (n int64, ok bool, err error) {
	if v, ok := p.Source["ts_ms"]; ok && !isNull(v) {
		n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			return 0, false, bad("source.ts_ms", "want an integer, got %s", v)
		}
		return n, true, nil
	}
	if !isNull(p.TsMs) {
		n, err := strconv.ParseInt(string(bytes.TrimSpace(p.TsMs)), 10, 64)
		if err != nil {
			return 0, false, bad("ts_ms", "want an integer, got %s", p.TsMs)
		}
		return n, true, nil
	}
	return 0, false, nil
}

// position builds Pos and Kind.
func (ev *Event) position(p payload, ord Ordering) error {
	if ord == Auto {
		if v, ok := p.Source["lsn"]; ok && !isNull(v) {
			n, err := parseUint(v)
			if err != nil {
				return bad("source.lsn", "want a non-negative integer, got %s", v)
			}
			ev.Pos, ev.Kind = fmt.Sprintf("%020d", n), KindLSN
			return nil
		}
		if v, ok := p.Source["file"]; ok && !isNull(v) {
			var file string
			if err := json.Unmarshal(v, &file); err != nil || file == "" {
				return bad("source.file", "want a binlog file name, got %s", v)
			}
			i := strings.LastIndexByte(file, '.')
			idx, err := strconv.ParseUint(file[i+1:], 10, 64)
			if err != nil {
				return bad("source.file", "binlog file name %q does not end in a numeric index", file)
			}
			pv, ok := p.Source["pos"]
			if !ok || isNull(pv) {
				return bad("source.pos", "missing next to source.file")
			}
			pos, err := parseUint(pv)
			if err != nil {
				return bad("source.pos", "want a non-negative integer, got %s", pv)
			}
			var row uint64
			if rv, ok := p.Source["row"]; ok && !isNull(rv) {
				if row, err = parseUint(rv); err != nil {
					return bad("source.row", "want a non-negative integer, got %s", rv)
				}
			}
			ev.Pos, ev.Kind = fmt.Sprintf("%010d.%020d.%010d", idx, pos, row), KindBinlog
			return nil
		}
	}
	if !ev.HasTs || ev.TsMs < 0 {
		return bad("source.ts_ms", "missing: the event has no source position (lsn, file+pos) and no ts_ms to order it by")
	}
	ev.Pos, ev.Kind = fmt.Sprintf("%020d", ev.TsMs), KindTsMs
	return nil
}

func parseUint(v json.RawMessage) (uint64, error) {
	s := string(bytes.TrimSpace(v))
	if len(s) > 1 && s[0] == '"' { // some converters quote 64-bit numbers
		s = s[1 : len(s)-1]
	}
	return strconv.ParseUint(s, 10, 64)
}

// applySchema uses the Connect schema of the row image: types for the
// fields, and Connect decimals (base64 of the unscaled big-endian two's
// complement) decoded into their decimal text.
func (ev *Event) applySchema(sch *connectSchema, imgName string) error {
	var rs *connectSchema
	for i := range sch.Fields {
		if sch.Fields[i].Field == imgName {
			rs = &sch.Fields[i]
		}
	}
	if rs == nil {
		return nil
	}
	ev.Types = map[string]arrow.DataType{}
	for _, f := range rs.Fields {
		if f.Name == "org.apache.kafka.connect.data.Decimal" {
			ev.Types[f.Field] = arrow.BinaryTypes.String
			v, ok := ev.Row[f.Field]
			if !ok || isNull(v) {
				continue
			}
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				continue // decimal.handling.mode=double or string: keep the value
			}
			scale, err := strconv.Atoi(f.Parameters["scale"])
			if err != nil {
				return bad(f.Field, "Connect decimal without a numeric scale parameter")
			}
			d, err := decodeDecimal(s, scale)
			if err != nil {
				return bad(f.Field, "Connect decimal %q: %v", s, err)
			}
			ev.Row[f.Field] = quote(d)
			continue
		}
		switch f.Type {
		case "int8", "int16", "int32", "int64":
			ev.Types[f.Field] = arrow.PrimitiveTypes.Int64
			if f.Type != "int64" {
				ev.Types[f.Field] = arrow.PrimitiveTypes.Int32
			}
		case "float", "float32", "double", "float64":
			ev.Types[f.Field] = arrow.PrimitiveTypes.Float64
		case "boolean":
			ev.Types[f.Field] = arrow.FixedWidthTypes.Boolean
		default: // string, bytes (base64), struct, array, map: text
			ev.Types[f.Field] = arrow.BinaryTypes.String
		}
	}
	return nil
}

func decodeDecimal(b64 string, scale int) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", err
	}
	n := new(big.Int).SetBytes(raw)
	if len(raw) > 0 && raw[0]&0x80 != 0 { // negative: two's complement
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(raw))))
	}
	s := n.String()
	if scale <= 0 {
		return s, nil
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for len(s) <= scale {
		s = "0" + s
	}
	s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	if neg {
		s = "-" + s
	}
	return s, nil
}
