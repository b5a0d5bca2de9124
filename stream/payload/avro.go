package payload

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hamba/avro/v2"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/schema"
)

// avroSchema is a writer schema: hamba's, to read bodies by, and the
// Arrow field of each top-level field by internal/schema's Avro→Arrow
// mapping (the one tables created from Avro schemas use; Hudi meta fields
// are read and left out).
type avroSchema struct {
	rec    *avro.RecordSchema
	fields map[string]arrow.Field
}

func parseAvroSchema(js string) (*avroSchema, error) {
	model, err := schema.ParseAvro([]byte(js))
	if err != nil {
		return nil, fmt.Errorf("payload: Avro schema: %w", err)
	}
	// A cache of its own: hamba's default cache is process-wide, and
	// another table's schema may define the same names differently.
	hs, err := avro.ParseWithCache(js, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("payload: Avro schema: %w", err)
	}
	rec, ok := hs.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("payload: Avro schema: top-level type %s, want a record", hs.Type())
	}
	s := &avroSchema{rec: rec, fields: map[string]arrow.Field{}}
	for _, f := range model.ToArrow().Fields() {
		if err := checkArrowType(f.Type, f.Name); err != nil {
			return nil, err
		}
		f.Nullable = true // new columns are nullable
		s.fields[f.Name] = f
	}
	return s, nil
}

// checkArrowType refuses the Arrow types decoding cannot build.
func checkArrowType(t arrow.DataType, path string) error {
	switch t := t.(type) {
	case *arrow.Decimal128Type:
		if t.Precision < 1 || t.Precision > 38 || t.Scale < 0 || t.Scale > t.Precision {
			return fmt.Errorf("payload: Avro schema: field %s: decimal(%d, %d) does not fit 128 bits (precision at most 38)", path, t.Precision, t.Scale)
		}
	case *arrow.ListType:
		return checkArrowType(t.Elem(), path+"[]")
	case *arrow.MapType:
		return checkArrowType(t.ItemType(), path+"{}")
	case *arrow.StructType:
		for _, f := range t.Fields() {
			if err := checkArrowType(f.Type, path+"."+f.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// Values read from Avro bodies, before conversion to a column's type.
type (
	avroDecimal struct {
		n     *big.Int // unscaled
		scale int32
	}
	avroDate int32 // days since the epoch
	avroTime struct {
		v     int64
		unit  arrow.TimeUnit
		local bool
	}
	avroMap struct {
		keys []string
		vals []any
	}
	avroRecord struct {
		names []string
		vals  []any
	}
)

func (r *avroRecord) get(name string) (any, bool) {
	for i, n := range r.names {
		if n == name {
			return r.vals[i], true
		}
	}
	return nil, false
}

// bodyReader reads one Avro body with hamba's Reader, stopping at the
// first problem (its field path and reason).
type bodyReader struct {
	r      *avro.Reader
	budget int // elements of arrays and maps still allowed
	field  string
	reason string
}

func (b *bodyReader) fail(path, reason string) {
	if b.reason == "" {
		b.field, b.reason = path, reason
	}
}

// failed reports whether reading failed, naming the reader's error.
func (b *bodyReader) failed(path string) bool {
	if b.reason != "" {
		return true
	}
	if err := b.r.Error; err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			b.fail(path, "Avro body ends early (truncated, or not written with this schema)")
		} else {
			b.fail(path, "bad Avro body: "+err.Error())
		}
		return true
	}
	return false
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// defaultMaxBytes is hamba's default bound on the length of a string or
// bytes value (1 MiB), which also bounds what a corrupt length allocates.
const defaultMaxBytes = 1 << 20

// decodeBody reads a record body; reason is "" on success.
func decodeBody(s *avroSchema, body []byte) (rec *avroRecord, field, reason string) {
	var opts []avro.ReaderFunc
	if len(body) > defaultMaxBytes {
		// hamba refuses strings and bytes longer than its default; none
		// can be longer than the body.
		opts = append(opts, avro.WithReaderConfig(avro.Config{MaxByteSliceSize: len(body)}.Freeze()))
	}
	br := &bodyReader{r: avro.NewReader(nil, 0, opts...).Reset(body), budget: 8*len(body) + 1024}
	defer func() {
		if p := recover(); p != nil { // hamba's reader on hostile input
			rec, field, reason = nil, br.field, fmt.Sprintf("bad Avro body: %v", p)
		}
	}()
	v := br.read(s.rec, "")
	if br.failed(br.field) {
		return nil, br.field, br.reason
	}
	br.r.Peek()
	if br.r.Error == nil {
		return nil, "", "bad Avro body: trailing bytes after the record (not written with this schema?)"
	}
	return v.(*avroRecord), "", ""
}

// read reads one value of s.
func (b *bodyReader) read(s avro.Schema, path string) any {
	if b.failed(path) {
		return nil
	}
	r := b.r
	var v any
	switch s := s.(type) {
	case *avro.NullSchema:
		return nil
	case *avro.PrimitiveSchema:
		v = b.primitive(s, path)
	case *avro.FixedSchema:
		buf := make([]byte, s.Size())
		r.Read(buf)
		v = buf
		if d, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
			v = avroDecimal{n: twosComplement(buf), scale: int32(d.Scale())}
		}
	case *avro.EnumSchema:
		idx := r.ReadInt()
		if syms := s.Symbols(); idx >= 0 && int(idx) < len(syms) {
			v = syms[idx]
		} else if r.Error == nil {
			b.fail(path, fmt.Sprintf("bad Avro body: enum index %d of %d symbols", idx, len(syms)))
		}
	case *avro.ArraySchema:
		var out []any
		b.blocks(path, func() { out = append(out, b.read(s.Items(), path+"[]")) })
		v = out
	case *avro.MapSchema:
		m := &avroMap{}
		b.blocks(path, func() {
			k := r.ReadString()
			if ue := arrowutil.CheckUTF8(k); ue != nil && r.Error == nil {
				b.fail(path, "map key: "+ue.Reason())
			}
			m.keys = append(m.keys, k)
			m.vals = append(m.vals, b.read(s.Values(), path+"{}"))
		})
		v = m
	case *avro.RecordSchema:
		rec := &avroRecord{}
		for _, f := range s.Fields() {
			rec.names = append(rec.names, f.Name())
			rec.vals = append(rec.vals, b.read(f.Type(), join(path, f.Name())))
		}
		v = rec
	case *avro.RefSchema:
		return b.read(s.Schema(), path)
	case *avro.UnionSchema:
		idx := r.ReadLong()
		types := s.Types()
		if idx < 0 || idx >= int64(len(types)) {
			if r.Error == nil {
				b.fail(path, fmt.Sprintf("bad Avro body: union branch %d of %d", idx, len(types)))
			}
			return nil
		}
		return b.read(types[idx], path)
	default:
		b.fail(path, fmt.Sprintf("Avro type %s is not supported", s.Type()))
	}
	if b.failed(path) {
		return nil
	}
	return v
}

// blocks reads the blocks of an array or map, calling item per element.
func (b *bodyReader) blocks(path string, item func()) {
	for !b.failed(path) {
		n, _ := b.r.ReadBlockHeader()
		if n == 0 || b.failed(path) {
			return
		}
		if n < 0 || n > int64(b.budget) {
			b.fail(path, fmt.Sprintf("bad Avro body: a block of %d elements", n))
			return
		}
		b.budget -= int(n)
		for range n {
			if item(); b.failed(path) {
				return
			}
		}
	}
}

func (b *bodyReader) primitive(s *avro.PrimitiveSchema, path string) any {
	r := b.r
	var logical avro.LogicalType
	if l := s.Logical(); l != nil {
		logical = l.Type()
	}
	switch s.Type() {
	case avro.Boolean:
		return r.ReadBool()
	case avro.Int:
		v := r.ReadInt()
		if logical == avro.Date {
			return avroDate(v)
		}
		return int64(v)
	case avro.Long:
		v := r.ReadLong()
		switch logical {
		case avro.TimestampMillis:
			return avroTime{v: v, unit: arrow.Millisecond}
		case avro.TimestampMicros:
			return avroTime{v: v, unit: arrow.Microsecond}
		case avro.LocalTimestampMillis:
			return avroTime{v: v, unit: arrow.Millisecond, local: true}
		case avro.LocalTimestampMicros:
			return avroTime{v: v, unit: arrow.Microsecond, local: true}
		}
		return v
	case avro.Float:
		return r.ReadFloat()
	case avro.Double:
		return r.ReadDouble()
	case avro.String:
		v := r.ReadString()
		if ue := arrowutil.CheckUTF8(v); ue != nil && r.Error == nil {
			b.fail(path, ue.Reason())
		}
		return v
	case avro.Bytes:
		v := r.ReadBytes()
		if d, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
			return avroDecimal{n: twosComplement(v), scale: int32(d.Scale())}
		}
		return v
	}
	b.fail(path, fmt.Sprintf("Avro type %s is not supported", s.Type()))
	return nil
}

// twosComplement decodes a big-endian two's complement integer.
func twosComplement(raw []byte) *big.Int {
	n := new(big.Int).SetBytes(raw)
	if len(raw) > 0 && raw[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(raw))))
	}
	return n
}

// avroMsg is a decoded message.
type avroMsg struct {
	i   int
	s   *avroSchema
	rec *avroRecord
}

// decodeAvro decodes Avro bodies into one Part of upserts.
func (d *Decoder) decodeAvro(in []Input, table *arrow.Schema, res *Result) error {
	var msgs []avroMsg
	var used []*avroSchema
	for i, m := range in {
		if m.Value == nil {
			res.Tombstones++
			continue
		}
		s, body, ok := d.avroBody(i, m.Value, res)
		if !ok {
			continue
		}
		rec, field, reason := decodeBody(s, body)
		if reason != "" {
			res.bad(i, field, reason)
			continue
		}
		if len(used) == 0 || used[len(used)-1] != s {
			used = append(used, s)
		}
		msgs = append(msgs, avroMsg{i: i, s: s, rec: rec})
	}
	part := Part{From: 0, To: len(in)}
	if len(msgs) > 0 {
		part.Upserts, part.UpsertIndex = buildAvro(avroColumns(used, table), msgs, res)
	}
	res.Parts = append(res.Parts, part)
	return nil
}

// avroBody picks the writer schema of message i and its body.
func (d *Decoder) avroBody(i int, v []byte, res *Result) (*avroSchema, []byte, bool) {
	if !d.opts.Confluent {
		return d.avro[0], v, true
	}
	body, id, reason := unwrap(v, true)
	if reason != "" {
		res.bad(i, "", reason)
		return nil, nil, false
	}
	s, ok := d.avro[id]
	if !ok {
		res.bad(i, "", fmt.Sprintf("Confluent schema id %d: unknown (the schemas given have ids %s)", id, d.schemaIDs()))
		return nil, nil, false
	}
	return s, body, true
}

// avroColumns are the columns of the batch: the table's fields the
// schemas hold (with the table's types), then the schemas' new fields
// (nullable) in their order.
func avroColumns(used []*avroSchema, table *arrow.Schema) *arrow.Schema {
	has := func(name string) bool {
		for _, s := range used {
			if _, ok := s.fields[name]; ok {
				return true
			}
		}
		return false
	}
	var fs []arrow.Field
	done := map[string]bool{}
	if table != nil {
		for _, f := range table.Fields() {
			if has(f.Name) && !done[f.Name] {
				done[f.Name] = true
				fs = append(fs, f)
			}
		}
	}
	for _, s := range used {
		for _, f := range s.rec.Fields() {
			af, ok := s.fields[f.Name()]
			if ok && !done[af.Name] {
				done[af.Name] = true
				fs = append(fs, af)
			}
		}
	}
	return arrow.NewSchema(fs, nil)
}

// buildAvro converts the messages to the columns' types and builds the
// batch, with the message index of each row; a message with a value
// that does not convert is reported and left out.
func buildAvro(sch *arrow.Schema, msgs []avroMsg, res *Result) (arrow.RecordBatch, []int) {
	bld := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer bld.Release()
	var index []int
	vals := make([]any, sch.NumFields())
next:
	for _, m := range msgs {
		for c, f := range sch.Fields() {
			v, _ := m.rec.get(f.Name)
			cv, err := convert(f.Type, v, f.Name)
			if err == nil && cv == nil && !f.Nullable {
				err = &convError{path: f.Name, reason: "required field is missing or null"}
			}
			if err != nil {
				var ce *convError
				if errors.As(err, &ce) {
					res.bad(m.i, ce.path, ce.reason)
				} else {
					res.bad(m.i, f.Name, err.Error())
				}
				continue next
			}
			vals[c] = cv
		}
		for c, v := range vals {
			appendValue(bld.Field(c), v)
		}
		index = append(index, m.i)
	}
	if len(index) == 0 {
		return nil, nil
	}
	return bld.NewRecordBatch(), index
}

// schemaIDs lists the Confluent schema ids the decoder knows, ascending.
func (d *Decoder) schemaIDs() string {
	ids := make([]int, 0, len(d.avro))
	for id := range d.avro {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.Itoa(id)
	}
	return strings.Join(parts, ", ")
}
