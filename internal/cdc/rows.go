package cdc

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/internal/ingest"
)

// Table is what one table's change events have shown so far, needed to
// turn more of them into rows consistently: the kind of position of its
// rows (kinds do not order against each other), the Arrow types of the
// schema envelopes (first seen wins) and the row images' fields in
// first-seen order. The zero value is not usable: see NewTable.
type Table struct {
	kind    Kind
	types   map[string]arrow.DataType
	columns []string
	seen    map[string]bool
}

// NewTable returns the state of a table no event was seen of.
func NewTable() *Table {
	return &Table{types: map[string]arrow.DataType{}, seen: map[string]bool{}}
}

// Kind is the kind of position of the rows so far ("" before any).
func (t *Table) Kind() Kind { return t.kind }

// Row turns a row event (ev.Op.HasRow()) into the JSON object of its table
// row and reports whether the row is removed (a hard delete). With
// softDeletes a delete instead keeps its before image as a row with
// DeletedField true (and every other row has DeletedField false). An
// event whose position is of another kind than the earlier rows' is
// refused with an *Error on PosField (the table's state is unchanged).
func (t *Table) Row(ev *Event, softDeletes bool) (js []byte, del bool, err error) {
	if t.kind == "" {
		t.kind = ev.Kind
	} else if ev.Kind != t.kind {
		return nil, false, bad(PosField,
			"the event's position is a %s, earlier events' a %s: positions of different kinds do not order against each other (use --order ts_ms)",
			ev.Kind, t.kind)
	}
	for _, f := range ev.Fields {
		if !t.seen[f] {
			t.seen[f] = true
			t.columns = append(t.columns, f)
		}
	}
	for k, typ := range ev.Types {
		if _, ok := t.types[k]; !ok {
			t.types[k] = typ
		}
	}
	del = ev.Op.IsDelete()
	if softDeletes {
		ev.Row[DeletedField] = json.RawMessage(fmt.Sprint(del))
		del = false
	}
	js, err = json.Marshal(ev.Row)
	if err != nil {
		return nil, false, fmt.Errorf("cdc: %w", err)
	}
	return js, del, nil
}

// AddedFields are the columns Parse and Row add to every row, with their
// Arrow types.
func AddedFields() []arrow.Field {
	return []arrow.Field{
		{Name: PosField, Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: OpField, Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: TsField, Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: DeletedField, Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}
}

// Hint is the types rows are parsed with: the table's schema (nil for a
// new table), the envelope types of the other fields, and the added
// columns.
func (t *Table) Hint(table *arrow.Schema) *arrow.Schema {
	var fs []arrow.Field
	seen := map[string]bool{}
	if table != nil {
		for _, f := range table.Fields() {
			fs = append(fs, f)
			seen[f.Name] = true
		}
	}
	for k, typ := range t.types {
		if !seen[k] {
			fs = append(fs, arrow.Field{Name: k, Type: typ, Nullable: true})
		}
	}
	for _, f := range AddedFields() {
		if !seen[f.Name] {
			fs = append(fs, f)
		}
	}
	return arrow.NewSchema(fs, nil)
}

// Ordered returns the fields of inferred in column order: the table's,
// the row images' as they came, then the added ones.
func (t *Table) Ordered(table, inferred *arrow.Schema) *arrow.Schema {
	var names []string
	if table != nil {
		for _, f := range table.Fields() {
			names = append(names, f.Name)
		}
	}
	names = append(names, t.columns...)
	names = append(names, PosField, OpField, TsField, DeletedField)
	var fs []arrow.Field
	done := map[string]bool{}
	for _, n := range names {
		if idx := inferred.FieldIndices(n); len(idx) > 0 && !done[n] {
			done[n] = true
			fs = append(fs, inferred.Field(idx[0]))
		}
	}
	for _, f := range inferred.Fields() {
		if !done[f.Name] {
			fs = append(fs, f)
		}
	}
	return arrow.NewSchema(fs, nil)
}

// Reader parses rows (the JSON objects of Row, one a line) into Arrow
// batches as ingest parses JSON Lines: the types are inferred (the
// table's and the envelopes' where known), then the rows parsed with the
// columns in a stable order (Ordered). A row's Lines value in the batches
// is its line in rows. opts.Schema and opts.Hint are set here; SampleRows
// should cover every row, so that each one's fields are seen.
func (t *Table) Reader(rows []byte, table *arrow.Schema, opts ingest.Options) (ingest.Reader, error) {
	opts.Schema, opts.Hint = nil, t.Hint(table)
	rd, err := ingest.NewJSONL(bytes.NewReader(rows), "cdc", opts)
	if err != nil {
		return nil, err
	}
	sch := t.Ordered(table, rd.Schema())
	rd.Close()
	opts.Schema, opts.Hint = sch, nil
	return ingest.NewJSONL(bytes.NewReader(rows), "cdc", opts)
}

// Source returns the source block of a change event (JSON, with or
// without the Kafka Connect schema envelope): the database, the schema
// (PostgreSQL, SQL Server; "" for MySQL) and the table. ok is false for a
// tombstone and for an event without a source block naming a table;
// errors are *Error.
func Source(line []byte) (db, schema, table string, ok bool, err error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || string(line) == "null" {
		return "", "", "", false, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(line, &top); err != nil {
		return "", "", "", false, bad("", "not a JSON object: %v", err)
	}
	if p, ok := top["payload"]; ok {
		if _, hasOp := top["op"]; !hasOp {
			if isNull(p) {
				return "", "", "", false, nil
			}
			if err := json.Unmarshal(p, &top); err != nil || top == nil {
				return "", "", "", false, bad("payload", "not a JSON object")
			}
		}
	}
	src, found := top["source"]
	if !found || isNull(src) {
		return "", "", "", false, nil
	}
	var blk map[string]json.RawMessage
	if err := json.Unmarshal(src, &blk); err != nil {
		return "", "", "", false, bad("source", "not a JSON object")
	}
	str := func(k string) (string, error) {
		v, ok := blk[k]
		if !ok || isNull(v) {
			return "", nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", bad("source."+k, "want a string, got %s", v)
		}
		return s, nil
	}
	if db, err = str("db"); err != nil {
		return "", "", "", false, err
	}
	if schema, err = str("schema"); err != nil {
		return "", "", "", false, err
	}
	if table, err = str("table"); err != nil {
		return "", "", "", false, err
	}
	return db, schema, table, table != "", nil
}

// KeyFields returns the fields of a Debezium record key (JSON, with or
// without the Kafka Connect schema envelope): the source table's primary
// key columns, in the schema's order (else the payload's).
func KeyFields(key []byte) ([]string, error) {
	key = bytes.TrimSpace(key)
	if len(key) == 0 || string(key) == "null" {
		return nil, bad("", "the record has no key")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(key, &top); err != nil || top == nil {
		return nil, bad("", "key is not a JSON object")
	}
	body := json.RawMessage(key)
	if p, ok := top["payload"]; ok {
		if s, ok := top["schema"]; ok && len(top) == 2 {
			var sch connectSchema
			if err := json.Unmarshal(s, &sch); err == nil && sch.Type == "struct" && len(sch.Fields) > 0 {
				out := make([]string, 0, len(sch.Fields))
				for _, f := range sch.Fields {
					if f.Field == "" {
						return nil, bad("schema", "key schema field without a name")
					}
					out = append(out, f.Field)
				}
				return out, nil
			}
			body = p
		}
	}
	if isNull(body) || bytes.TrimSpace(body)[0] != '{' {
		return nil, bad("", "key is not a JSON object")
	}
	fs := objectKeys(body)
	if len(fs) == 0 {
		return nil, bad("", "key has no fields")
	}
	return fs, nil
}
