// Package payload decodes the payloads of stream messages (Kafka records,
// Kinesis records) into Arrow record batches for one table: plain JSON
// objects, Debezium change events (JSON, with or without the Kafka Connect
// schema envelope, by the rules `hoodie cdc` applies) and Avro bodies
// written with a schema given as a file, optionally in the Confluent wire
// format.
//
// A Decoder decodes the messages of one table, in source order, into
// Parts: the rows to upsert and the rows to delete (each a record batch
// whose types follow the table's schema, new fields becoming new nullable
// columns), split at Debezium truncate events. A message that cannot be
// decoded is reported in Result.Bad with its index, the field to blame
// and the reason; it never fails the batch and is never dropped silently.
//
// Confluent wire format (Options.Confluent):
//
//	+------+---------------------+------------------------------+
//	| 0x00 | schema id (4 bytes, | body: Avro binary, or JSON   |
//	|      | big-endian)         | (JSON Schema serializer)     |
//	+------+---------------------+------------------------------+
//
// Usage, per table:
//
//	dec, err := payload.NewDecoder(payload.Options{Format: payload.Debezium})
//	res, err := dec.Decode(inputs, w.Schema())
//	for _, p := range res.Parts { ... w.Upsert(p.Upserts); w.Delete(p.Deletes) ... }
package payload

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/internal/cdc"
)

// Format is a payload format.
type Format string

// Formats.
const (
	// JSON is one JSON object per message; nested objects and arrays are
	// kept as their JSON text, as `hoodie ingest` reads JSON Lines.
	JSON Format = "json"
	// Debezium is one Debezium change event per message (JSON), with or
	// without the Kafka Connect schema envelope, as `hoodie cdc` reads
	// them: the rows carry cdc's PosField, OpField and TsField columns.
	Debezium Format = "debezium"
	// Avro is one Avro binary body per message, written with
	// Options.AvroSchema (or, in the Confluent wire format, the schema
	// its id names).
	Avro Format = "avro"
)

// ParseFormat parses a --format value.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case JSON, Debezium, Avro:
		return Format(s), nil
	case "jsonl":
		return JSON, nil
	}
	return "", fmt.Errorf("payload: format %q: want json, debezium or avro", s)
}

// Orderings of Debezium events (Options.Order).
const (
	// OrderAuto orders by source.lsn (PostgreSQL), else the binlog file,
	// position and row (MySQL), else ts_ms.
	OrderAuto = "auto"
	// OrderTsMs orders every event by ts_ms.
	OrderTsMs = "ts_ms"
)

// Columns Debezium rows carry, named as `hoodie cdc` names them (so that
// one table can be fed by both).
const (
	// PosField is the ordering column: the event's source position, a
	// string of zero-padded decimal groups (string order is source
	// order); the precombine field of Debezium tables.
	PosField = cdc.PosField
	// OpField is Debezium's operation: c, r, u or d.
	OpField = cdc.OpField
	// TsField is source.ts_ms: the database's commit time (ms).
	TsField = cdc.TsField
	// DeletedField is true on the tombstone rows of SoftDeletes.
	DeletedField = cdc.DeletedField
)

// Options configure a Decoder. The zero value but Format is usable.
type Options struct {
	// Format of the message values. Required.
	Format Format
	// AvroSchema is the Avro writer schema (JSON) of the message bodies:
	// a record. Required for Avro unless AvroSchemas names every schema.
	AvroSchema string
	// AvroSchemas maps Confluent schema ids to writer schemas (JSON), for
	// topics whose messages were written with several schemas. Avro with
	// Confluent only.
	AvroSchemas map[int32]string
	// SchemaID is the Confluent schema id of AvroSchema. With Confluent
	// Avro, a message whose id is neither SchemaID nor in AvroSchemas is
	// a bad message (it would decode to garbage); Confluent Avro with
	// AvroSchema needs it. For JSON and Debezium 0 accepts any id, else a
	// message with another id is a bad message.
	SchemaID int32
	// Confluent reads the values (and, for DebeziumKeyFields, keys) in
	// the Confluent wire format: a magic byte 0 and a 4-byte schema id
	// before the body. Avro values must have the header; JSON values may
	// (the JSON Schema serializer's) or may not (plain JSON).
	Confluent bool
	// Order is the Debezium ordering: OrderAuto (default) or OrderTsMs
	// (see `hoodie cdc --order`).
	Order string
	// SoftDeletes keeps a Debezium delete as a row (the before image with
	// DeletedField true) among the Upserts instead of deleting the row,
	// as `hoodie cdc --soft-deletes` does.
	SoftDeletes bool
	// InferDates infers JSON string fields of ISO-8601 dates as date32 and
	// of timestamps as timestamp(us, UTC), as `hoodie ingest
	// --infer-dates` does (new columns only: a table's columns keep their
	// types).
	InferDates bool
}

// EnsureDefaults fills the zero fields that have defaults.
func (o *Options) EnsureDefaults() {
	if o.Order == "" {
		o.Order = OrderAuto
	}
}

// Validate checks the options.
func (o *Options) Validate() error {
	switch o.Format {
	case JSON, Debezium:
		if o.AvroSchema != "" || len(o.AvroSchemas) > 0 {
			return fmt.Errorf("payload: an Avro schema is given for format %s", o.Format)
		}
	case Avro:
		if o.AvroSchema == "" && len(o.AvroSchemas) == 0 {
			return errors.New("payload: format avro needs AvroSchema (or, Confluent, AvroSchemas)")
		}
		if len(o.AvroSchemas) > 0 && !o.Confluent {
			return errors.New("payload: AvroSchemas (by schema id) need the Confluent wire format")
		}
		if o.Confluent && o.AvroSchema != "" && o.SchemaID == 0 {
			return errors.New("payload: Confluent Avro with AvroSchema needs its SchemaID (the schema registry's id of that schema), or messages written with another schema would decode to garbage")
		}
	case "":
		return errors.New("payload: Format is required (json, debezium or avro)")
	default:
		return fmt.Errorf("payload: format %q: want json, debezium or avro", o.Format)
	}
	if o.SchemaID < 0 {
		return fmt.Errorf("payload: SchemaID %d is negative", o.SchemaID)
	}
	if o.SchemaID != 0 && !o.Confluent {
		return errors.New("payload: SchemaID needs the Confluent wire format")
	}
	if _, err := cdc.ParseOrdering(o.Order); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	return nil
}

// Input is one message: its key and value. A nil Value is a Kafka
// tombstone.
type Input struct {
	Key, Value []byte
}

// Part is a run of messages decoded into rows, or a Debezium truncate.
// The Parts of a Result are in message order and cover every message:
// Part i covers the messages [From, To).
type Part struct {
	// Upserts are the rows to write; Deletes the rows to delete (they
	// carry at least the key and partition fields of the deleted rows: a
	// Debezium before image). Either may be nil. The rows of both follow
	// message order only through their ordering field (Debezium:
	// PosField): buffer them in one commit and let the writer order them
	// by precombine, as `hoodie cdc` does.
	Upserts arrow.RecordBatch
	Deletes arrow.RecordBatch
	// UpsertIndex and DeleteIndex are the message index of each row of
	// Upserts and Deletes (ascending), so that a row the writer would
	// refuse can be reported as its message.
	UpsertIndex, DeleteIndex []int
	// Truncate marks a Debezium truncate event (PostgreSQL op t) at
	// message index At, with no rows: the caller commits the Parts before
	// it, then applies it (deletes every row) or refuses it loudly.
	Truncate bool
	At       int
	// Table names the truncated source table (schema.table), when the
	// event says.
	Table string
	// From and To are the indexes of the messages the Part covers
	// (a truncate: At, At+1).
	From, To int
}

// Release releases the Part's record batches.
func (p *Part) Release() {
	if p.Upserts != nil {
		p.Upserts.Release()
		p.Upserts = nil
	}
	if p.Deletes != nil {
		p.Deletes.Release()
		p.Deletes = nil
	}
}

// Bad is a message that was not decoded: its index in the input, the
// field to blame ("" when none is) and the reason.
type Bad struct {
	Index  int
	Field  string
	Reason string
}

// Result is what Decode made of the messages.
type Result struct {
	Parts []Part
	// Bad are the messages that were not decoded, in message order.
	Bad []Bad
	// Tombstones counts Kafka tombstones (nil values) and Debezium
	// tombstone events (null payloads): skipped, as `hoodie cdc` does.
	Tombstones int
	// Messages counts Debezium logical decoding messages (op m): skipped.
	Messages int
}

// Release releases the record batches of every Part.
func (r *Result) Release() {
	for i := range r.Parts {
		r.Parts[i].Release()
	}
}

// Decoder decodes the messages of one table. It keeps what the table's
// messages have shown so far (Debezium: the kind of position, the types
// of schema envelopes, the order of columns), so use one Decoder per
// table. A Decoder is not safe for concurrent use.
type Decoder struct {
	opts  Options
	ord   cdc.Ordering
	state *cdc.Table
	avro  map[int32]*avroSchema // by Confluent schema id; 0 for AvroSchema without Confluent
}

// NewDecoder returns a Decoder for opts.
func NewDecoder(opts Options) (*Decoder, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	ord, _ := cdc.ParseOrdering(opts.Order) // validated
	d := &Decoder{opts: opts, ord: ord, state: cdc.NewTable()}
	if opts.Format == Avro {
		d.avro = map[int32]*avroSchema{}
		if opts.AvroSchema != "" {
			s, err := parseAvroSchema(opts.AvroSchema)
			if err != nil {
				return nil, err
			}
			d.avro[opts.SchemaID] = s
		}
		for id, js := range opts.AvroSchemas {
			if _, dup := d.avro[id]; dup {
				continue // SchemaID's: AvroSchema wins
			}
			s, err := parseAvroSchema(js)
			if err != nil {
				return nil, fmt.Errorf("payload: schema id %d: %w", id, err)
			}
			d.avro[id] = s
		}
	}
	return d, nil
}

// Decode decodes in, one table's messages in source order. table is the
// table's current Arrow schema (nil for a new table): fields it holds
// keep its types, other fields become new nullable columns (a new field
// whose every value in the call is null is left out until a value comes).
// Bad messages are reported in Result.Bad; the error is for failures
// that are no message's fault.
func (d *Decoder) Decode(in []Input, table *arrow.Schema) (*Result, error) {
	res := &Result{}
	var err error
	switch d.opts.Format {
	case JSON:
		err = d.decodeJSON(in, table, res)
	case Debezium:
		err = d.decodeDebezium(in, table, res)
	case Avro:
		err = d.decodeAvro(in, table, res)
	}
	if err != nil {
		res.Release()
		return nil, err
	}
	sort.SliceStable(res.Bad, func(i, j int) bool { return res.Bad[i].Index < res.Bad[j].Index })
	return res, nil
}

// confluentHeader is the length of the Confluent wire format's header.
const confluentHeader = 5

// unwrap strips the Confluent header of a value: required (Avro) or
// optional (JSON). It returns the body and its schema id (0 without a
// header), or the reason the value is refused.
func unwrap(v []byte, required bool) (body []byte, id int32, reason string) {
	if len(v) == 0 || v[0] != 0 {
		if required {
			return nil, 0, "not in the Confluent wire format (no magic byte 0)"
		}
		return v, 0, ""
	}
	if len(v) < confluentHeader {
		return nil, 0, fmt.Sprintf("Confluent wire format header of %d bytes (want 5)", len(v))
	}
	return v[confluentHeader:], int32(binary.BigEndian.Uint32(v[1:confluentHeader])), ""
}

// DebeziumKeyFields returns the fields of a Debezium record key (JSON,
// with or without the Kafka Connect schema envelope; in the Confluent wire
// format when it starts with the magic byte 0): the source table's primary
// key columns, in the key schema's order (else the key's).
func DebeziumKeyFields(key []byte) ([]string, error) {
	body, _, reason := unwrap(key, false)
	if reason != "" {
		return nil, fmt.Errorf("payload: key: %s", reason)
	}
	fs, err := cdc.KeyFields(body)
	if err != nil {
		return nil, fmt.Errorf("payload: key: %w", err)
	}
	return fs, nil
}

// ErrNoSource reports a Debezium value without a source block naming a
// table (a tombstone, or not a change event).
var ErrNoSource = errors.New("payload: no Debezium source block naming a table")

// DebeziumSource returns the source block of a Debezium change event
// (JSON, with or without the schema envelope; in the Confluent wire
// format when it starts with the magic byte 0), for routing: the
// database, the schema ("" for MySQL) and the table. A tombstone or an
// event without a source table is ErrNoSource.
func DebeziumSource(value []byte) (db, schema, table string, err error) {
	body, _, reason := unwrap(value, false)
	if reason != "" {
		return "", "", "", fmt.Errorf("payload: %s", reason)
	}
	db, schema, table, ok, err := cdc.Source(body)
	if err != nil {
		return "", "", "", fmt.Errorf("payload: %w", err)
	}
	if !ok {
		return "", "", "", ErrNoSource
	}
	return db, schema, table, nil
}
