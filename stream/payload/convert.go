package payload

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/hoodie-lake/hoodie/internal/ingest"
)

// convError is a value that does not fit its column.
type convError struct {
	path, reason string
}

func (e *convError) Error() string { return e.path + ": " + e.reason }

func mismatch(path string, v any, t arrow.DataType) error {
	return &convError{path: path, reason: fmt.Sprintf("Avro %s value cannot be stored in a %s column", avroKind(v), t)}
}

func avroKind(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case int64:
		return "integer"
	case float32:
		return "float"
	case float64:
		return "double"
	case string:
		return "string"
	case []byte:
		return "bytes"
	case avroDecimal:
		return "decimal"
	case avroDate:
		return "date"
	case avroTime:
		return "timestamp"
	case []any:
		return "array"
	case *avroMap:
		return "map"
	case *avroRecord:
		return "record"
	}
	return fmt.Sprintf("%T", v)
}

// convert turns a value read from Avro into the value appendValue
// appends to a column of type t (nil: null): the column's type wins (a
// table's column keeps its type), values convert when nothing is lost
// (integers to wider integers, floats or decimals; anything to text, nested
// values as JSON), else the message is bad.
func convert(t arrow.DataType, v any, path string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t := t.(type) {
	case *arrow.StringType:
		return text(v), nil
	case *arrow.BooleanType:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type:
		if n, ok := v.(int64); ok {
			bits := t.(arrow.FixedWidthDataType).BitWidth()
			if bits < 64 && (n < -(1<<(bits-1)) || n >= 1<<(bits-1)) {
				return nil, &convError{path: path, reason: fmt.Sprintf("%d does not fit %s", n, t)}
			}
			return n, nil
		}
	case *arrow.Float32Type, *arrow.Float64Type:
		switch n := v.(type) {
		case float32:
			return float64(n), nil
		case float64:
			return n, nil
		case int64:
			return float64(n), nil
		}
	case *arrow.BinaryType:
		switch b := v.(type) {
		case []byte:
			return b, nil
		case string:
			return []byte(b), nil
		}
	case *arrow.FixedSizeBinaryType:
		if b, ok := v.([]byte); ok {
			if len(b) != t.ByteWidth {
				return nil, &convError{path: path, reason: fmt.Sprintf("%d bytes for a %s column", len(b), t)}
			}
			return b, nil
		}
	case *arrow.Decimal128Type:
		return convertDecimal(t, v, path)
	case *arrow.Date32Type:
		if d, ok := v.(avroDate); ok {
			return int32(d), nil
		}
	case *arrow.TimestampType:
		return convertTime(t, v, path)
	case *arrow.ListType:
		return convertList(t, v, path)
	case *arrow.MapType:
		return convertMap(t, v, path)
	case *arrow.StructType:
		return convertStruct(t, v, path)
	}
	return nil, mismatch(path, v, t)
}

func convertDecimal(t *arrow.Decimal128Type, v any, path string) (any, error) {
	var d avroDecimal
	switch x := v.(type) {
	case avroDecimal:
		d = x
	case int64:
		d = avroDecimal{n: big.NewInt(x)}
	default:
		return nil, mismatch(path, v, t)
	}
	n := new(big.Int).Set(d.n)
	switch diff := t.Scale - d.scale; {
	case diff > 0:
		n.Mul(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(diff)), nil))
	case diff < 0:
		q, m := new(big.Int).QuoRem(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-diff)), nil), new(big.Int))
		if m.Sign() != 0 {
			return nil, &convError{path: path, reason: fmt.Sprintf("%s has more than %d decimal places", decimalText(d), t.Scale)}
		}
		n = q
	}
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(t.Precision)), nil)
	if new(big.Int).Abs(n).Cmp(limit) >= 0 {
		return nil, &convError{path: path, reason: fmt.Sprintf("%s does not fit %s", decimalText(d), t)}
	}
	return decimal128.FromBigInt(n), nil
}

func convertTime(t *arrow.TimestampType, v any, path string) (any, error) {
	var n int64
	var from arrow.TimeUnit
	switch x := v.(type) {
	case avroTime:
		n, from = x.v, x.unit
	case avroDate:
		n, from = int64(x)*86400, arrow.Second
	default:
		return nil, mismatch(path, v, t)
	}
	mul := func(f int64) (any, error) {
		if n > math.MaxInt64/f || n < math.MinInt64/f {
			return nil, &convError{path: path, reason: fmt.Sprintf("%d %s is out of range for %s", n, from, t)}
		}
		return n * f, nil
	}
	perSecond := map[arrow.TimeUnit]int64{arrow.Second: 1, arrow.Millisecond: 1e3, arrow.Microsecond: 1e6, arrow.Nanosecond: 1e9}
	a, b := perSecond[from], perSecond[t.Unit]
	switch {
	case a == b:
		return n, nil
	case b > a:
		return mul(b / a)
	}
	// A coarser column: the instant rounded down to its unit.
	f := a / b
	q := n / f
	if n%f < 0 {
		q--
	}
	return q, nil
}

func convertList(t *arrow.ListType, v any, path string) (any, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, mismatch(path, v, t)
	}
	out := make([]any, len(items))
	ef := t.ElemField()
	for i, it := range items {
		cv, err := convert(ef.Type, it, path+"[]")
		if err != nil {
			return nil, err
		}
		if cv == nil && !ef.Nullable {
			return nil, &convError{path: path + "[]", reason: "null element in a list of non-null elements"}
		}
		out[i] = cv
	}
	return out, nil
}

// mapValue is a converted map.
type mapValue struct {
	keys []string
	vals []any
}

func convertMap(t *arrow.MapType, v any, path string) (any, error) {
	m, ok := v.(*avroMap)
	if !ok {
		return nil, mismatch(path, v, t)
	}
	if _, ok := t.KeyType().(*arrow.StringType); !ok {
		return nil, mismatch(path, v, t)
	}
	out := &mapValue{keys: m.keys, vals: make([]any, len(m.vals))}
	it := t.ItemField()
	for i, x := range m.vals {
		cv, err := convert(it.Type, x, path+"{}")
		if err != nil {
			return nil, err
		}
		if cv == nil && !it.Nullable {
			return nil, &convError{path: path + "{}", reason: "null value in a map of non-null values"}
		}
		out.vals[i] = cv
	}
	return out, nil
}

func convertStruct(t *arrow.StructType, v any, path string) (any, error) {
	rec, ok := v.(*avroRecord)
	if !ok {
		return nil, mismatch(path, v, t)
	}
	for _, n := range rec.names {
		if _, ok := t.FieldIdx(n); !ok {
			return nil, &convError{path: join(path, n), reason: "field is not in the column's struct type (nested fields do not evolve)"}
		}
	}
	out := make([]any, t.NumFields())
	for i, f := range t.Fields() {
		x, _ := rec.get(f.Name)
		cv, err := convert(f.Type, x, join(path, f.Name))
		if err != nil {
			return nil, err
		}
		if cv == nil && !f.Nullable {
			return nil, &convError{path: join(path, f.Name), reason: "required field is missing or null"}
		}
		out[i] = cv
	}
	return out, nil
}

// text is a value as text: strings as they are, numbers, dates and
// timestamps in their usual notation, bytes in base64, nested values as
// JSON.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any, *avroMap, *avroRecord:
		var b bytes.Buffer
		writeJSON(&b, x)
		return b.String()
	}
	var b bytes.Buffer
	writeJSON(&b, v)
	var s string
	if json.Unmarshal(b.Bytes(), &s) == nil {
		return s
	}
	return b.String()
}

// writeJSON writes v as JSON: records as objects in field order, maps as
// objects, dates, timestamps, decimals and bytes (base64) as strings.
func writeJSON(b *bytes.Buffer, v any) {
	str := func(s string) {
		q, _ := json.Marshal(s) // a string marshals
		b.Write(q)
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float32:
		writeFloat(b, float64(x), 32)
	case float64:
		writeFloat(b, x, 64)
	case string:
		str(x)
	case []byte:
		str(base64.StdEncoding.EncodeToString(x))
	case avroDecimal:
		str(decimalText(x))
	case avroDate:
		str(time.Unix(int64(x)*86400, 0).UTC().Format("2006-01-02"))
	case avroTime:
		t := time.UnixMilli(x.v)
		if x.unit == arrow.Microsecond {
			t = time.UnixMicro(x.v)
		}
		layout := "2006-01-02T15:04:05.999999Z07:00"
		if x.local {
			layout = "2006-01-02T15:04:05.999999"
		}
		str(t.UTC().Format(layout))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, e)
		}
		b.WriteByte(']')
	case *avroMap:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			str(k)
			b.WriteByte(':')
			writeJSON(b, x.vals[i])
		}
		b.WriteByte('}')
	case *avroRecord:
		b.WriteByte('{')
		for i, k := range x.names {
			if i > 0 {
				b.WriteByte(',')
			}
			str(k)
			b.WriteByte(':')
			writeJSON(b, x.vals[i])
		}
		b.WriteByte('}')
	default:
		str(fmt.Sprint(x))
	}
}

// writeFloat writes a float as JSON, NaN and infinities as strings.
func writeFloat(b *bytes.Buffer, f float64, bits int) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		b.WriteString(strconv.Quote(strconv.FormatFloat(f, 'g', -1, bits)))
		return
	}
	b.WriteString(strconv.FormatFloat(f, 'g', -1, bits))
}

// decimalText writes a decimal with its scale: "-12.30".
func decimalText(d avroDecimal) string {
	s := new(big.Int).Abs(d.n).String()
	if d.scale > 0 {
		for len(s) <= int(d.scale) {
			s = "0" + s
		}
		s = s[:len(s)-int(d.scale)] + "." + s[len(s)-int(d.scale):]
	} else if d.scale < 0 {
		s += string(bytes.Repeat([]byte{'0'}, int(-d.scale)))
	}
	if d.n.Sign() < 0 {
		s = "-" + s
	}
	return s
}

// appendValue appends a converted value (nil: null).
func appendValue(b array.Builder, v any) {
	if v == nil {
		b.AppendNull()
		return
	}
	switch b := b.(type) {
	case *array.ListBuilder:
		b.Append(true)
		for _, e := range v.([]any) {
			appendValue(b.ValueBuilder(), e)
		}
	case *array.MapBuilder:
		m := v.(*mapValue)
		b.Append(true)
		for i, k := range m.keys {
			appendValue(b.KeyBuilder(), k)
			appendValue(b.ItemBuilder(), m.vals[i])
		}
	case *array.StructBuilder:
		b.Append(true)
		for i, e := range v.([]any) {
			appendValue(b.FieldBuilder(i), e)
		}
	default:
		ingest.AppendValue(b, v) // scalars, in the same value types
	}
}
