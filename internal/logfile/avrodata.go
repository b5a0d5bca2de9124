package logfile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/big"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hamba/avro/v2"

	"github.com/hoodie-lake/hoodie/internal/avrobin"
	"github.com/hoodie-lake/hoodie/internal/schema"
)

// recordSchema is a block's record schema: every top-level field of the
// header SCHEMA in order, meta fields included.
type recordSchema struct {
	fields []schema.Field
	arrow  *arrow.Schema
}

// parseRecordSchema parses a header SCHEMA. internal/schema drops meta fields
// and forgets where "null" sits in a union and which strings were enums, so
// the raw JSON is checked here for what its model cannot encode faithfully.
func parseRecordSchema(js string) (*recordSchema, error) {
	if js == "" {
		return nil, corruptf("data block without a SCHEMA header")
	}
	var raw any
	if err := json.Unmarshal([]byte(js), &raw); err != nil {
		return nil, corruptf("SCHEMA header: %w", err)
	}
	if err := checkRawSchema(raw); err != nil {
		return nil, err
	}
	var top struct {
		Fields []struct {
			Name string          `json:"name"`
			Type json.RawMessage `json:"type"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(js), &top); err != nil {
		return nil, corruptf("SCHEMA header: %w", err)
	}
	s, err := schema.ParseAvro([]byte(js))
	if err != nil {
		return nil, corruptf("SCHEMA header: %w", err)
	}
	rs := &recordSchema{}
	afs := make([]arrow.Field, 0, len(top.Fields))
	for _, f := range top.Fields {
		var t *schema.Type
		if schema.IsMetaField(f.Name) {
			var name string
			switch string(bytes.TrimSpace(f.Type)) {
			case `"string"`:
				t = &schema.Type{Kind: schema.String}
			case `["null","string"]`:
				t = &schema.Type{Kind: schema.String, Nullable: true}
			default:
				if json.Unmarshal(f.Type, &name) != nil || name != "string" {
					var u []string
					if json.Unmarshal(f.Type, &u) != nil || len(u) != 2 || u[0] != "null" || u[1] != "string" {
						return nil, fmt.Errorf("%w: meta field %q of type %s", ErrUnsupported, f.Name, f.Type)
					}
					t = &schema.Type{Kind: schema.String, Nullable: true}
				} else {
					t = &schema.Type{Kind: schema.String}
				}
			}
		} else {
			df, ok := s.Field(f.Name)
			if !ok {
				return nil, corruptf("SCHEMA header: field %q lost in parsing", f.Name)
			}
			t = df.Type
		}
		rs.fields = append(rs.fields, schema.Field{Name: f.Name, Type: t})
		afs = append(afs, arrow.Field{Name: f.Name, Type: t.ArrowType(), Nullable: t.Nullable})
	}
	rs.arrow = arrow.NewSchema(afs, nil)
	return rs, nil
}

// checkRawSchema rejects enums (binary ints the model reads as strings) and
// unions other than ["null", T] (the model forgets the branch order).
func checkRawSchema(raw any) error {
	switch v := raw.(type) {
	case []any:
		if len(v) != 2 || v[0] != "null" {
			return fmt.Errorf("%w: union %v (want [\"null\", T])", ErrUnsupported, v)
		}
		return checkRawSchema(v[1])
	case map[string]any:
		if v["type"] == "enum" {
			return fmt.Errorf("%w: enum %v", ErrUnsupported, v["name"])
		}
		for _, k := range []string{"type", "items", "values"} {
			if c, ok := v[k]; ok {
				if err := checkRawSchema(c); err != nil {
					return err
				}
			}
		}
		if fs, ok := v["fields"].([]any); ok {
			for _, f := range fs {
				if err := checkRawSchema(f); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// encodeAvroContent encodes an Avro data block's content.
func encodeAvroContent(schemaJSON string, recs []arrow.RecordBatch) (_ []byte, err error) {
	rs, err := parseRecordSchema(schemaJSON)
	if err != nil {
		return nil, err
	}
	defer recoverAt("encoding Avro records", &err)
	var total int64
	for _, r := range recs {
		total += r.NumRows()
	}
	if total > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d records in one block", ErrInvalidBlock, total)
	}
	var out bytes.Buffer
	out.Write(be32(BlockVersion))
	out.Write(be32(int32(total)))
	var datum bytes.Buffer
	w := avro.NewWriter(&datum, 4096)
	for _, rec := range recs {
		cols := make([]arrow.Array, len(rs.fields))
		for i, f := range rs.fields {
			idx := rec.Schema().FieldIndices(f.Name)
			if len(idx) != 1 {
				return nil, fmt.Errorf("%w: record batch has %d columns %q", ErrInvalidBlock, len(idx), f.Name)
			}
			cols[i] = rec.Column(idx[0])
		}
		for row := 0; row < int(rec.NumRows()); row++ {
			datum.Reset()
			for i, f := range rs.fields {
				if err := encodeValue(w, f.Type, cols[i], row, f.Name); err != nil {
					return nil, err
				}
			}
			if err := w.Flush(); err != nil {
				return nil, fmt.Errorf("logfile: encoding Avro records: %w", err)
			}
			if datum.Len() > math.MaxInt32 {
				return nil, fmt.Errorf("%w: record of %d bytes", ErrInvalidBlock, datum.Len())
			}
			out.Write(be32(int32(datum.Len())))
			out.Write(datum.Bytes())
		}
	}
	return out.Bytes(), nil
}

func be32(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

func recoverAt(what string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %s: %v", ErrCorrupt, what, r)
	}
}

func typeErr(path string, t *schema.Type, a arrow.Array) error {
	return fmt.Errorf("%w: column %q: Arrow %v cannot be written as Avro %v", ErrInvalidBlock, path, a.DataType(), t.Kind)
}

func intOf(a arrow.Array, i int) (int64, bool) {
	switch a := a.(type) {
	case *array.Int8:
		return int64(a.Value(i)), true
	case *array.Int16:
		return int64(a.Value(i)), true
	case *array.Int32:
		return int64(a.Value(i)), true
	case *array.Int64:
		return a.Value(i), true
	case *array.Uint8:
		return int64(a.Value(i)), true
	case *array.Uint16:
		return int64(a.Value(i)), true
	case *array.Uint32:
		return int64(a.Value(i)), true
	}
	return 0, false
}

func encodeValue(w *avro.Writer, t *schema.Type, a arrow.Array, i int, path string) error {
	if t.Nullable {
		if a.IsNull(i) {
			w.WriteLong(0)
			return nil
		}
		w.WriteLong(1)
	} else if a.IsNull(i) {
		return fmt.Errorf("%w: column %q: null in a non-nullable field", ErrInvalidBlock, path)
	}
	switch t.Kind {
	case schema.Boolean:
		b, ok := a.(*array.Boolean)
		if !ok {
			return typeErr(path, t, a)
		}
		w.WriteBool(b.Value(i))
	case schema.Int:
		v, ok := intOf(a, i)
		if !ok || v < math.MinInt32 || v > math.MaxInt32 {
			return typeErr(path, t, a)
		}
		w.WriteInt(int32(v))
	case schema.Long:
		v, ok := intOf(a, i)
		if !ok {
			return typeErr(path, t, a)
		}
		w.WriteLong(v)
	case schema.Float:
		f, ok := a.(*array.Float32)
		if !ok {
			return typeErr(path, t, a)
		}
		w.WriteFloat(f.Value(i))
	case schema.Double:
		switch f := a.(type) {
		case *array.Float64:
			w.WriteDouble(f.Value(i))
		case *array.Float32:
			w.WriteDouble(float64(f.Value(i)))
		default:
			return typeErr(path, t, a)
		}
	case schema.String:
		switch s := a.(type) {
		case *array.String:
			w.WriteString(s.Value(i))
		case *array.LargeString:
			w.WriteString(s.Value(i))
		default:
			return typeErr(path, t, a)
		}
	case schema.Bytes:
		switch s := a.(type) {
		case *array.Binary:
			w.WriteBytes(s.Value(i))
		case *array.LargeBinary:
			w.WriteBytes(s.Value(i))
		default:
			return typeErr(path, t, a)
		}
	case schema.Fixed:
		f, ok := a.(*array.FixedSizeBinary)
		if !ok || len(f.Value(i)) != t.Size {
			return typeErr(path, t, a)
		}
		_, _ = w.Write(f.Value(i))
	case schema.Decimal:
		d, ok := a.(*array.Decimal128)
		if !ok || d.DataType().(*arrow.Decimal128Type).Scale != int32(t.Scale) {
			return typeErr(path, t, a)
		}
		b := decimalBytes(d.Value(i).BigInt(), t.Size)
		if b == nil {
			return fmt.Errorf("%w: column %q: decimal does not fit fixed(%d)", ErrInvalidBlock, path, t.Size)
		}
		if t.Size > 0 {
			_, _ = w.Write(b)
		} else {
			w.WriteBytes(b)
		}
	case schema.Date:
		d, ok := a.(*array.Date32)
		if !ok {
			return typeErr(path, t, a)
		}
		w.WriteInt(int32(d.Value(i)))
	case schema.TimestampMicros, schema.LocalTimestampMicros, schema.TimestampMillis, schema.LocalTimestampMillis:
		ts, ok := a.(*array.Timestamp)
		if !ok {
			return typeErr(path, t, a)
		}
		want := arrow.Microsecond
		if t.Kind == schema.TimestampMillis || t.Kind == schema.LocalTimestampMillis {
			want = arrow.Millisecond
		}
		w.WriteLong(convertUnit(int64(ts.Value(i)), ts.DataType().(*arrow.TimestampType).Unit, want))
	case schema.Array:
		var beg, end int64
		var vals arrow.Array
		switch l := a.(type) {
		case *array.List:
			b, e := l.ValueOffsets(i)
			beg, end, vals = b, e, l.ListValues()
		case *array.LargeList:
			b, e := l.ValueOffsets(i)
			beg, end, vals = b, e, l.ListValues()
		default:
			return typeErr(path, t, a)
		}
		if end > beg {
			w.WriteLong(end - beg)
			for j := beg; j < end; j++ {
				if err := encodeValue(w, t.Items, vals, int(j), path+"[]"); err != nil {
					return err
				}
			}
		}
		w.WriteLong(0)
	case schema.Map:
		m, ok := a.(*array.Map)
		if !ok {
			return typeErr(path, t, a)
		}
		keys, ok := m.Keys().(*array.String)
		if !ok {
			return typeErr(path, t, a)
		}
		beg, end := m.ValueOffsets(i)
		if end > beg {
			w.WriteLong(end - beg)
			for j := beg; j < end; j++ {
				w.WriteString(keys.Value(int(j)))
				if err := encodeValue(w, t.Values, m.Items(), int(j), path+"{}"); err != nil {
					return err
				}
			}
		}
		w.WriteLong(0)
	case schema.Record:
		s, ok := a.(*array.Struct)
		if !ok {
			return typeErr(path, t, a)
		}
		st := s.DataType().(*arrow.StructType)
		for _, f := range t.Fields {
			j, ok := st.FieldIdx(f.Name)
			if !ok {
				return fmt.Errorf("%w: column %q: struct lacks field %q", ErrInvalidBlock, path, f.Name)
			}
			if err := encodeValue(w, f.Type, s.Field(j), i, path+"."+f.Name); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%w: column %q: Avro %v", ErrUnsupported, path, t.Kind)
	}
	return nil
}

func convertUnit(v int64, from, to arrow.TimeUnit) int64 {
	if from == to {
		return v
	}
	mul := map[arrow.TimeUnit]int64{arrow.Second: 1, arrow.Millisecond: 1e3, arrow.Microsecond: 1e6, arrow.Nanosecond: 1e9}
	f, t := mul[from], mul[to]
	if f < t {
		return v * (t / f)
	}
	d := f / t
	q := v / d
	if v%d != 0 && v < 0 {
		q--
	}
	return q
}

// decimalBytes returns the big-endian two's complement of v: exactly size
// bytes (nil if v does not fit), or the minimal length if size is 0.
func decimalBytes(v *big.Int, size int) []byte {
	n := (v.BitLen() + 8) / 8 // room for the sign bit
	if size == 0 {
		size = n
	}
	if n > size {
		return nil
	}
	out := make([]byte, size)
	if v.Sign() >= 0 {
		v.FillBytes(out)
		return out
	}
	// two's complement: 2^(8*size) + v
	m := new(big.Int).Lsh(big.NewInt(1), uint(8*size))
	m.Add(m, v)
	m.FillBytes(out)
	return out
}

// decimalFromBytes decodes a big-endian two's complement into a decimal128.
func decimalFromBytes(b []byte) (decimal128.Num, bool) {
	neg := len(b) > 0 && b[0]&0x80 != 0
	ext := byte(0)
	if neg {
		ext = 0xff
	}
	for len(b) > 16 {
		if b[0] != ext {
			return decimal128.Num{}, false
		}
		b = b[1:]
	}
	var buf [16]byte
	for i := range buf {
		buf[i] = ext
	}
	copy(buf[16-len(b):], b)
	hi := int64(binary.BigEndian.Uint64(buf[:8]))
	lo := binary.BigEndian.Uint64(buf[8:])
	return decimal128.New(hi, lo), true
}

// decodeAvroContent decodes an Avro data block's content into one record
// batch.
func decodeAvroContent(content []byte, schemaJSON string) (_ arrow.RecordBatch, err error) {
	rs, err := parseRecordSchema(schemaJSON)
	if err != nil {
		return nil, err
	}
	if len(content) < 8 {
		return nil, corruptf("Avro data block content of %d bytes", len(content))
	}
	if v := int32(binary.BigEndian.Uint32(content)); v != BlockVersion {
		return nil, fmt.Errorf("%w: Avro data block version %d", ErrUnsupported, v)
	}
	count := int32(binary.BigEndian.Uint32(content[4:]))
	rest := content[8:]
	if count < 0 || int64(count)*4 > int64(len(rest)) {
		return nil, corruptf("Avro data block: %d records in %d bytes", count, len(rest))
	}
	bld := array.NewRecordBuilder(memory.DefaultAllocator, rs.arrow)
	defer bld.Release()
	defer recoverAt("decoding Avro records", &err)
	for n := range int(count) {
		if len(rest) < 4 {
			return nil, corruptf("Avro data block: record %d truncated", n)
		}
		l := int32(binary.BigEndian.Uint32(rest))
		rest = rest[4:]
		if l < 0 || int(l) > len(rest) {
			return nil, corruptf("Avro data block: record %d of %d bytes", n, l)
		}
		d := avrobin.NewDecoder(rest[:l], ErrCorrupt)
		rest = rest[l:]
		for i, f := range rs.fields {
			if err := decodeValue(d, f.Type, bld.Field(i), f.Name); err != nil {
				return nil, err
			}
		}
		if d.Err() != nil {
			return nil, fmt.Errorf("logfile: record %d: %w", n, d.Err())
		}
		if d.Len() != 0 {
			return nil, corruptf("Avro data block: record %d has %d trailing bytes", n, d.Len())
		}
	}
	if len(rest) != 0 {
		return nil, corruptf("Avro data block: %d trailing bytes", len(rest))
	}
	return bld.NewRecordBatch(), nil
}

func decodeValue(d *avrobin.Decoder, t *schema.Type, b array.Builder, path string) error {
	if t.Nullable {
		if d.UnionIndex(2) == 0 {
			b.AppendNull()
			return d.Err()
		}
	}
	bad := func() error {
		return fmt.Errorf("logfile: column %q: builder %T for Avro %v", path, b, t.Kind)
	}
	switch t.Kind {
	case schema.Boolean:
		bb, ok := b.(*array.BooleanBuilder)
		if !ok {
			return bad()
		}
		bb.Append(d.Bool())
	case schema.Int:
		bb, ok := b.(*array.Int32Builder)
		if !ok {
			return bad()
		}
		bb.Append(d.Int())
	case schema.Long:
		bb, ok := b.(*array.Int64Builder)
		if !ok {
			return bad()
		}
		bb.Append(d.Long())
	case schema.Float:
		bb, ok := b.(*array.Float32Builder)
		if !ok {
			return bad()
		}
		bb.Append(d.Float())
	case schema.Double:
		bb, ok := b.(*array.Float64Builder)
		if !ok {
			return bad()
		}
		bb.Append(d.Double())
	case schema.String:
		bb, ok := b.(*array.StringBuilder)
		if !ok {
			return bad()
		}
		bb.Append(d.String())
	case schema.Bytes:
		bb, ok := b.(*array.BinaryBuilder)
		if !ok {
			return bad()
		}
		bb.Append(d.Bytes())
	case schema.Fixed:
		bb, ok := b.(*array.FixedSizeBinaryBuilder)
		if !ok {
			return bad()
		}
		v := d.Fixed(t.Size)
		if v == nil {
			v = make([]byte, t.Size)
		}
		bb.Append(v)
	case schema.Decimal:
		bb, ok := b.(*array.Decimal128Builder)
		if !ok {
			return bad()
		}
		var raw []byte
		if t.Size > 0 {
			raw = d.Fixed(t.Size)
		} else {
			raw = d.Bytes()
		}
		num, ok := decimalFromBytes(raw)
		if !ok {
			d.Fail("decimal exceeds 128 bits")
		}
		bb.Append(num)
	case schema.Date:
		bb, ok := b.(*array.Date32Builder)
		if !ok {
			return bad()
		}
		bb.Append(arrow.Date32(d.Int()))
	case schema.TimestampMicros, schema.TimestampMillis, schema.LocalTimestampMicros, schema.LocalTimestampMillis:
		bb, ok := b.(*array.TimestampBuilder)
		if !ok {
			return bad()
		}
		bb.Append(arrow.Timestamp(d.Long()))
	case schema.Array:
		lb, ok := b.(*array.ListBuilder)
		if !ok {
			return bad()
		}
		lb.Append(true)
		vb := lb.ValueBuilder()
		for n := d.BlockCount(); n > 0 && d.Err() == nil; n = d.BlockCount() {
			for range n {
				if err := decodeValue(d, t.Items, vb, path+"[]"); err != nil || d.Err() != nil {
					return firstErr(err, d.Err())
				}
			}
		}
	case schema.Map:
		mb, ok := b.(*array.MapBuilder)
		if !ok {
			return bad()
		}
		kb, ok := mb.KeyBuilder().(*array.StringBuilder)
		if !ok {
			return bad()
		}
		mb.Append(true)
		ib := mb.ItemBuilder()
		for n := d.BlockCount(); n > 0 && d.Err() == nil; n = d.BlockCount() {
			for range n {
				kb.Append(d.String())
				if err := decodeValue(d, t.Values, ib, path+"{}"); err != nil || d.Err() != nil {
					return firstErr(err, d.Err())
				}
			}
		}
	case schema.Record:
		sb, ok := b.(*array.StructBuilder)
		if !ok || sb.NumField() != len(t.Fields) {
			return bad()
		}
		sb.Append(true)
		for i, f := range t.Fields {
			if err := decodeValue(d, f.Type, sb.FieldBuilder(i), path+"."+f.Name); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%w: column %q: Avro %v", ErrUnsupported, path, t.Kind)
	}
	return d.Err()
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
