package interop_test

// The reader matrix's data (see matrix_test.go): one table schema with a
// column per (type, null pattern), two variants of the rows, and the one
// canonical text form every reader's values are compared in.

import (
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/duckdb/duckdb-go/v2"
)

const (
	// matrixRows rows in two partitions: p0 holds the first matrixSmallRows
	// (a small file, one page per column), p1 the rest: more rows than a
	// batch of Spark's vectorized reader (4096), and top-level string and
	// binary values long enough (0 to 600 characters or bytes) that the
	// denser patterns' column chunks span several 1 MiB pages and outgrow
	// parquet-mr's 1 MiB dictionary page. (Row groups are 120 MB: hoodie's
	// writer.Options has no knob for smaller ones, so every file has one.)
	matrixRows      = 5300
	matrixSmallRows = 300
	// matrixLongBytes is the size of the "long" pattern's big values: more
	// than a Parquet page (hoodie.parquet.page.size, 1 MiB).
	matrixLongBytes = 1<<20 + 200<<10
)

// matrixType is a column type of the matrix, as hoodie's writer takes it
// (Arrow, mapped to Avro by internal/schema: decimals become fixed of the
// smallest size for their precision, lists have non-null elements because
// parquet-avro's 2-level lists cannot hold a null element).
type matrixType struct {
	name string
	dt   arrow.DataType
}

func matrixTypes() []matrixType {
	str := arrow.BinaryTypes.String
	i64 := arrow.PrimitiveTypes.Int64
	nf := func(name string, dt arrow.DataType) arrow.Field {
		return arrow.Field{Name: name, Type: dt, Nullable: true}
	}
	list := func(dt arrow.DataType) arrow.DataType {
		return arrow.ListOfField(arrow.Field{Name: "element", Type: dt})
	}
	mapOf := func(dt arrow.DataType) arrow.DataType {
		return arrow.MapOfFields(arrow.Field{Name: "key", Type: str}, arrow.Field{Name: "value", Type: dt, Nullable: true})
	}
	dec := func(p, s int32) arrow.DataType { return &arrow.Decimal128Type{Precision: p, Scale: s} }
	tsMicros := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	tsMillis := &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	return []matrixType{
		{"bool", arrow.FixedWidthTypes.Boolean},
		{"int", arrow.PrimitiveTypes.Int32},
		{"long", i64},
		{"float", arrow.PrimitiveTypes.Float32},
		{"double", arrow.PrimitiveTypes.Float64},
		{"string", str},
		{"binary", arrow.BinaryTypes.Binary},
		{"fixed16", &arrow.FixedSizeBinaryType{ByteWidth: 16}},
		{"dec5_2", dec(5, 2)},
		{"dec10_5", dec(10, 5)},
		{"dec18_4", dec(18, 4)},
		{"dec38_10", dec(38, 10)},
		{"date", arrow.FixedWidthTypes.Date32},
		{"ts_micros", tsMicros},
		{"ts_millis", tsMillis},
		{"struct", arrow.StructOf(nf("s", str), nf("i", arrow.PrimitiveTypes.Int32),
			// No timestamp in the nested struct: hudi-rs 0.5 cannot read a
			// merge-on-read table with one (not even Spark's own), and
			// would then check nothing of the merge-on-read tables.
			nf("inner", arrow.StructOf(nf("d", arrow.PrimitiveTypes.Float64), nf("b", arrow.BinaryTypes.Binary), nf("day", arrow.FixedWidthTypes.Date32))))},
		{"list_string", list(str)},
		{"list_long", list(i64)},
		{"list_struct", list(arrow.StructOf(nf("a", str), nf("b", i64)))},
		{"map_string", mapOf(str)},
		{"map_int", mapOf(arrow.PrimitiveTypes.Int32)},
		{"struct_list_map", arrow.StructOf(nf("tags", list(str)), nf("attrs", mapOf(arrow.PrimitiveTypes.Int32)),
			nf("inner", arrow.StructOf(nf("x", str))))},
		{"list_struct_map", list(arrow.StructOf(nf("name", str), nf("attrs", mapOf(str))))},
		{"map_list", mapOf(list(str))},
		{"list_list", list(list(i64))},
	}
}

// matrixPatterns are the value patterns of every type, over the rows of a
// file in order (pos of n; hoodie's writer and the control's sorted bulk
// insert keep key order in a file). "long" only applies to string and
// binary.
var matrixPatterns = []struct{ name, doc string }{
	{"allnull", "every row null"},
	{"dense", "no nulls, high cardinality, varied lengths (empty included)"},
	{"nullsfirst", "the first third of each file null, then values"},
	{"nullslast", "values, then the last third of each file null"},
	{"between", "single nulls and runs of nulls between values of different lengths"},
	{"sparse", "one value every 50 rows, nulls between"},
	{"lowcard", "3 distinct values (dictionary-friendly), every 5th row null"},
	{"edge", "edge values (empty, zero, min/max, NaN/Inf/-0, max precision, 1900/9999 dates, non-ASCII), every 4th row null"},
	{"long", "values over 1 MiB in 3 rows per file, nulls and short values between"},
}

type matrixCol struct {
	name, typ, pattern string
	dt                 arrow.DataType
}

// matrixColumns are the matrix's data columns: key, part and ts, then one
// column "<type>__<pattern>" per type and pattern.
func matrixColumns() []matrixCol {
	cols := []matrixCol{
		{"key", "key", "", arrow.BinaryTypes.String},
		{"part", "partition", "", arrow.BinaryTypes.String},
		{"ts", "precombine", "", arrow.PrimitiveTypes.Int64},
	}
	for _, ty := range matrixTypes() {
		for _, p := range matrixPatterns {
			if p.name == "long" && ty.name != "string" && ty.name != "binary" {
				continue
			}
			cols = append(cols, matrixCol{ty.name + "__" + p.name, ty.name, p.name, ty.dt})
		}
	}
	return cols
}

func matrixSchema(cols []matrixCol) *arrow.Schema {
	fs := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fs[i] = arrow.Field{Name: c.name, Type: c.dt, Nullable: c.pattern != ""}
	}
	return arrow.NewSchema(fs, nil)
}

func matrixKey(i int) string { return fmt.Sprintf("k%05d", i) }

// matrixPos is row i's partition, its position in the partition's file and
// the file's row count.
func matrixPos(i int) (part string, pos, n int) {
	if i < matrixSmallRows {
		return "p0", i, matrixSmallRows
	}
	return "p1", i - matrixSmallRows, matrixRows - matrixSmallRows
}

// matrixBatch is a variant of the rows: variant 0 is the matrix (what every
// snapshot must return), variant 1 the rows the merge-on-read table's first
// commit writes (other values and null positions, same keys): its base files
// keep them under the second commit's log files.
func matrixBatch(cols []matrixCol, variant int) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, matrixSchema(cols))
	defer b.Release()
	for i := 0; i < matrixRows; i++ {
		part, pos, n := matrixPos(i)
		b.Field(0).(*array.StringBuilder).Append(matrixKey(i))
		b.Field(1).(*array.StringBuilder).Append(part)
		b.Field(2).(*array.Int64Builder).Append(int64(2 - variant))
		for j := 3; j < len(cols); j++ {
			matrixAppend(b.Field(j), matrixValue(cols[j], j, pos, n, variant))
		}
	}
	return b.NewRecordBatch()
}

// --- values ----------------------------------------------------------------

// Values are built as plain Go values, then appended to Arrow builders:
// nil, bool, int32, int64, float32, float64, string, []byte,
// decimal128.Num, arrow.Date32, arrow.Timestamp, []any (struct fields in
// order, or list elements) and []matrixEntry (map entries).
type matrixEntry struct {
	k string
	v any
}

func mix(x uint64) uint64 { // splitmix64
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func matrixValue(c matrixCol, col, pos, n, variant int) any {
	seed := func(p int) uint64 { return mix(uint64(col)<<40 ^ uint64(variant)<<32 ^ uint64(p)) }
	h := seed(pos)
	switch c.pattern {
	case "allnull":
		return nil
	case "dense":
	case "nullsfirst":
		if pos < n/(3+variant) {
			return nil
		}
	case "nullslast":
		if pos >= n-n/(3+variant) {
			return nil
		}
	case "between":
		if k := pos + variant; k%3 == 0 || k%11 < 3 {
			return nil
		}
	case "sparse":
		if (pos+7*variant)%50 != 0 {
			return nil
		}
	case "lowcard":
		if (pos+variant)%5 == 0 {
			return nil
		}
		h = seed(-1 - pos%3)
	case "edge":
		if (pos+variant)%4 == 3 {
			return nil
		}
		es := matrixEdges(c.dt)
		return es[(pos-pos/4+variant)%len(es)]
	case "long":
		if pos == 1 || pos == n/2 || pos == n-2 {
			return matrixLongValue(c.dt, pos, variant)
		}
		if (pos+variant)%2 == 0 {
			return nil
		}
	}
	return matrixGen(c.dt, h, 0)
}

// matrixGen is a pseudo-random value of type dt; strings and binary values
// nested in structs, lists and maps (depth > 0) are shorter.
func matrixGen(dt arrow.DataType, h uint64, depth int) any {
	size := 600
	if depth > 0 {
		size = 40
	}
	switch dt := dt.(type) {
	case *arrow.BooleanType:
		return h&1 == 1
	case *arrow.Int32Type:
		return int32(h)
	case *arrow.Int64Type:
		return int64(h)
	case *arrow.Float32Type:
		return float32(int32(h>>32)) / float32(int64(1)<<(h%24))
	case *arrow.Float64Type:
		return float64(int64(h)) / math.Ldexp(1, int(h%80))
	case *arrow.StringType:
		return matrixString(h, int(h%uint64(size)))
	case *arrow.BinaryType:
		return matrixBytes(h, int(h%uint64(size)))
	case *arrow.FixedSizeBinaryType:
		return matrixBytes(h, dt.ByteWidth)
	case *arrow.Decimal128Type:
		mod := pow10(int(dt.Precision))
		v := new(big.Int).Lsh(new(big.Int).SetUint64(mix(h)), 64)
		v.Or(v, new(big.Int).SetUint64(h)).Mod(v, mod)
		if h&1 == 1 {
			v.Neg(v)
		}
		return decimal128.FromBigInt(v)
	case *arrow.Date32Type:
		return arrow.Date32(int32(h%80000) - 25000) // 1901..2120
	case *arrow.TimestampType:
		const from, to = -2208988800000000, 4102444800000000 // 1900..2100, micros
		us := from + int64(h%uint64(to-from))
		if dt.Unit == arrow.Millisecond {
			return arrow.Timestamp(us / 1000)
		}
		return arrow.Timestamp(us)
	case *arrow.StructType:
		out := make([]any, dt.NumFields())
		for j, f := range dt.Fields() {
			if hj := mix(h + uint64(j) + 1); hj%7 != 0 {
				out[j] = matrixGen(f.Type, hj, depth+1)
			}
		}
		return out
	case *arrow.MapType:
		var out []matrixEntry
		for k := 0; k < int(h%4); k++ {
			hk := mix(h + uint64(k) + 1)
			e := matrixEntry{k: fmt.Sprintf("%d:%s", k, matrixString(hk, int(hk%12)))}
			if hk%6 != 0 {
				e.v = matrixGen(dt.ItemType(), hk, depth+1)
			}
			out = append(out, e)
		}
		return out
	case *arrow.ListType:
		out := []any{}
		for k := 0; k < int(h%5); k++ {
			out = append(out, matrixGen(dt.Elem(), mix(h+uint64(k)+1), depth+1))
		}
		return out
	}
	panic(fmt.Sprintf("matrixGen: %v", dt))
}

// matrixRunes are the pieces of generated strings: ASCII, Latin-1,
// CJK, emoji (with a skin tone and a ZWJ sequence), a combining mark,
// right-to-left text.
var matrixRunes = []string{
	"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t",
	"u", "v", "w", "x", "y", "z", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", " ", "-", "_", ".",
	"é", "ß", "ñ", "日", "本", "語", "中", "文", "😀", "👍🏽", "👩‍👩‍👧", "e\u0301", "ع", "ש", "Ω", "€",
}

func matrixString(h uint64, n int) string {
	var sb strings.Builder
	sb.Grow(n * 2)
	var r uint64
	for k := 0; k < n; k++ {
		if k%10 == 0 {
			h = mix(h)
			r = h
		}
		sb.WriteString(matrixRunes[(r&63)%uint64(len(matrixRunes))])
		r >>= 6
	}
	return sb.String()
}

func matrixBytes(h uint64, n int) []byte {
	b := make([]byte, n)
	for k := range b {
		if k%8 == 0 {
			h = mix(h)
		}
		b[k] = byte(h >> (8 * (k % 8)))
	}
	return b
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// matrixEdges are the edge values of a type.
func matrixEdges(dt arrow.DataType) []any {
	switch dt := dt.(type) {
	case *arrow.BooleanType:
		return []any{true, false}
	case *arrow.Int32Type:
		return []any{int32(0), int32(-1), int32(1), int32(math.MinInt32), int32(math.MaxInt32)}
	case *arrow.Int64Type:
		return []any{int64(0), int64(-1), int64(1), int64(math.MinInt64), int64(math.MaxInt64), int64(1<<53 + 1)}
	case *arrow.Float32Type:
		return []any{float32(0), float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
			float32(math.MaxFloat32), float32(math.SmallestNonzeroFloat32), float32(-1.5), float32(0.1)}
	case *arrow.Float64Type:
		return []any{0.0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1),
			math.MaxFloat64, math.SmallestNonzeroFloat64, -1.5, 0.1, 1e300}
	case *arrow.StringType:
		return []any{"", " ", "\x00", "é", "日本語のテキスト", "👩‍👩‍👧‍👦", "e\u0301\u0302", "\u202eRTL", "a\tb\nc\r", "\"'\\", strings.Repeat("x", 1000)}
	case *arrow.BinaryType:
		all := make([]byte, 256)
		for k := range all {
			all[k] = byte(k)
		}
		return []any{[]byte{}, []byte{0}, []byte{0xff}, []byte{0, 0, 0}, all}
	case *arrow.FixedSizeBinaryType:
		zero, ones, seq := make([]byte, dt.ByteWidth), make([]byte, dt.ByteWidth), make([]byte, dt.ByteWidth)
		for k := range ones {
			ones[k], seq[k] = 0xff, byte(k)
		}
		return []any{zero, ones, seq}
	case *arrow.Decimal128Type:
		p, s := int(dt.Precision), int(dt.Scale)
		max := new(big.Int).Sub(pow10(p), big.NewInt(1))
		var out []any
		for _, v := range []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(-1), pow10(s), new(big.Int).Neg(pow10(s)),
			max, new(big.Int).Neg(max), pow10(p - 1)} {
			out = append(out, decimal128.FromBigInt(v))
		}
		return out
	case *arrow.Date32Type:
		return []any{arrow.Date32(0), arrow.Date32(-1), arrow.Date32(-25567), arrow.Date32(11016), arrow.Date32(2932896)}
	case *arrow.TimestampType:
		// The epoch and its neighbours, 1900-01-01, 9999-12-31T23:59:59.999999,
		// 2000-02-29 plus one unit.
		vs := []int64{0, -1, 1, -2208988800000000, 253402300799999999, 951782400000001}
		if dt.Unit == arrow.Millisecond {
			vs = []int64{0, -1, 1, -2208988800000, 253402300799999, 951782400001}
		}
		var out []any
		for _, v := range vs {
			out = append(out, arrow.Timestamp(v))
		}
		return out
	case *arrow.StructType:
		empty := make([]any, dt.NumFields())
		first, second := make([]any, dt.NumFields()), make([]any, dt.NumFields())
		for j, f := range dt.Fields() {
			es := matrixEdges(f.Type)
			first[j], second[j] = es[0], es[1%len(es)]
		}
		return []any{empty, first, second}
	case *arrow.MapType:
		es := matrixEdges(dt.ItemType())
		all := []matrixEntry{}
		for k, e := range es {
			all = append(all, matrixEntry{fmt.Sprintf("k%d", k), e})
		}
		return []any{[]matrixEntry{}, []matrixEntry{{"", es[0]}}, []matrixEntry{{"é", nil}}, all}
	case *arrow.ListType:
		es := matrixEdges(dt.Elem())
		return []any{[]any{}, []any{es[0]}, es}
	}
	panic(fmt.Sprintf("matrixEdges: %v", dt))
}

func matrixLongValue(dt arrow.DataType, pos, variant int) any {
	tag := fmt.Sprintf("#%d/%d", pos, variant)
	switch dt.(type) {
	case *arrow.StringType:
		chunk := "long-é日😀e\u0301|"
		return tag + strings.Repeat(chunk, matrixLongBytes/len(chunk)+pos%7) + tag
	case *arrow.BinaryType:
		return append([]byte(tag), matrixBytes(uint64(pos+variant), matrixLongBytes+pos%7)...)
	}
	panic(fmt.Sprintf("matrixLongValue: %v", dt))
}

func matrixAppend(b array.Builder, v any) {
	if v == nil {
		b.AppendNull()
		return
	}
	switch b := b.(type) {
	case *array.BooleanBuilder:
		b.Append(v.(bool))
	case *array.Int32Builder:
		b.Append(v.(int32))
	case *array.Int64Builder:
		b.Append(v.(int64))
	case *array.Float32Builder:
		b.Append(v.(float32))
	case *array.Float64Builder:
		b.Append(v.(float64))
	case *array.StringBuilder:
		b.Append(v.(string))
	case *array.BinaryBuilder:
		b.Append(v.([]byte))
	case *array.FixedSizeBinaryBuilder:
		b.Append(v.([]byte))
	case *array.Decimal128Builder:
		b.Append(v.(decimal128.Num))
	case *array.Date32Builder:
		b.Append(v.(arrow.Date32))
	case *array.TimestampBuilder:
		b.Append(v.(arrow.Timestamp))
	case *array.StructBuilder:
		b.Append(true)
		for j, f := range v.([]any) {
			matrixAppend(b.FieldBuilder(j), f)
		}
	case *array.MapBuilder:
		b.Append(true)
		for _, e := range v.([]matrixEntry) {
			b.KeyBuilder().(*array.StringBuilder).Append(e.k)
			matrixAppend(b.ItemBuilder(), e.v)
		}
	case *array.ListBuilder:
		b.Append(true)
		for _, e := range v.([]any) {
			matrixAppend(b.ValueBuilder(), e)
		}
	default:
		panic(fmt.Sprintf("matrixAppend: %T", b))
	}
}

// --- the canonical form ----------------------------------------------------

// The canonical text of a value, the same whichever reader produced it:
// null; true/false; integers in decimal; floats as Go's shortest
// round-trip form (NaN, +Inf, -Inf, -0 spelled out; float32 widened to
// float64 exactly); strings quoted (strconv.Quote); binary and fixed as
// x"hex"; decimals as their exact digits with the scale (-12.50);
// dates as YYYY-MM-DD; timestamps as integer microseconds since the epoch
// (UTC) followed by "us"; lists [a,b]; maps {k:v} sorted by key; structs
// {field=v} sorted by field name.

func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// appendString quotes s: as it is between double quotes when it has no
// control character, quote, backslash or invalid UTF-8, else as
// strconv.Quote does (whose output always holds a backslash, so the two
// forms never meet). Long values stay cheap to canonicalise.
func appendString(b []byte, s string) []byte {
	for k := 0; k < len(s); k++ {
		if c := s[k]; c < 0x20 || c == '"' || c == '\\' || c == 0x7f {
			return strconv.AppendQuote(b, s)
		}
	}
	if !utf8.ValidString(s) {
		return strconv.AppendQuote(b, s)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendHex(b, v []byte) []byte {
	b = append(b, `x"`...)
	b = hex.AppendEncode(b, v)
	return append(b, '"')
}

func appendDecimal(b []byte, v *big.Int, scale int) []byte {
	digits := new(big.Int).Abs(v).String()
	if v.Sign() < 0 {
		b = append(b, '-')
	}
	if scale <= 0 {
		return append(b, digits...)
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	b = append(b, digits[:len(digits)-scale]...)
	b = append(b, '.')
	return append(b, digits[len(digits)-scale:]...)
}

func appendDate(b []byte, days int64) []byte {
	return time.Unix(days*86400, 0).UTC().AppendFormat(b, "2006-01-02")
}

func appendMicros(b []byte, us int64) []byte {
	return append(strconv.AppendInt(b, us, 10), "us"...)
}

// appendSorted writes items (each its own canonical text) sorted, between
// open and close.
func appendSorted(b []byte, open, close byte, items [][]byte) []byte {
	slices.SortFunc(items, func(x, y []byte) int { return strings.Compare(string(x), string(y)) })
	b = append(b, open)
	for k, it := range items {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	return append(b, close)
}

// appendCanon appends the canonical text of a[i].
func appendCanon(b []byte, a arrow.Array, i int) []byte {
	if a.IsNull(i) {
		return append(b, "null"...)
	}
	switch c := a.(type) {
	case *array.Boolean:
		return strconv.AppendBool(b, c.Value(i))
	case *array.Int8:
		return strconv.AppendInt(b, int64(c.Value(i)), 10)
	case *array.Int16:
		return strconv.AppendInt(b, int64(c.Value(i)), 10)
	case *array.Int32:
		return strconv.AppendInt(b, int64(c.Value(i)), 10)
	case *array.Int64:
		return strconv.AppendInt(b, c.Value(i), 10)
	case *array.Uint32:
		return strconv.AppendInt(b, int64(c.Value(i)), 10)
	case *array.Float32:
		return appendFloat(b, float64(c.Value(i)))
	case *array.Float64:
		return appendFloat(b, c.Value(i))
	case *array.String:
		return appendString(b, c.Value(i))
	case *array.LargeString:
		return appendString(b, c.Value(i))
	case *array.StringView:
		return appendString(b, c.Value(i))
	case *array.Binary:
		return appendHex(b, c.Value(i))
	case *array.LargeBinary:
		return appendHex(b, c.Value(i))
	case *array.BinaryView:
		return appendHex(b, c.Value(i))
	case *array.FixedSizeBinary:
		return appendHex(b, c.Value(i))
	case *array.Decimal128:
		return appendDecimal(b, c.Value(i).BigInt(), int(c.DataType().(*arrow.Decimal128Type).Scale))
	case *array.Decimal256:
		return appendDecimal(b, c.Value(i).BigInt(), int(c.DataType().(*arrow.Decimal256Type).Scale))
	case *array.Date32:
		return appendDate(b, int64(c.Value(i)))
	case *array.Date64:
		return appendDate(b, int64(c.Value(i))/86400000)
	case *array.Timestamp:
		v := int64(c.Value(i))
		switch c.DataType().(*arrow.TimestampType).Unit {
		case arrow.Second:
			v *= 1000000
		case arrow.Millisecond:
			v *= 1000
		case arrow.Nanosecond:
			if v%1000 != 0 {
				return fmt.Appendf(b, "%dns", v)
			}
			v /= 1000
		}
		return appendMicros(b, v)
	case *array.Map:
		start, end := c.ValueOffsets(i)
		keys, items := c.Keys(), c.Items()
		var entries [][]byte
		for k := int(start); k < int(end); k++ {
			e := appendCanon(nil, keys, k)
			e = append(e, ':')
			entries = append(entries, appendCanon(e, items, k))
		}
		return appendSorted(b, '{', '}', entries)
	case *array.List:
		start, end := c.ValueOffsets(i)
		return appendList(b, c.ListValues(), int(start), int(end))
	case *array.LargeList:
		start, end := c.ValueOffsets(i)
		return appendList(b, c.ListValues(), int(start), int(end))
	case *array.Struct:
		st := c.DataType().(*arrow.StructType)
		fields := make([][]byte, c.NumField())
		for j := range fields {
			f := append([]byte(st.Field(j).Name), '=')
			fields[j] = appendCanon(f, c.Field(j), i)
		}
		return appendSorted(b, '{', '}', fields)
	case *array.Dictionary:
		return appendCanon(b, c.Dictionary(), c.GetValueIndex(i))
	}
	return fmt.Appendf(b, "?%s:%s", a.DataType(), a.ValueStr(i))
}

func appendList(b []byte, values arrow.Array, start, end int) []byte {
	b = append(b, '[')
	for k := start; k < end; k++ {
		if k > start {
			b = append(b, ',')
		}
		b = appendCanon(b, values, k)
	}
	return append(b, ']')
}

// appendCanonGo appends the canonical text of a value DuckDB's Go driver
// scanned, dt being the column's type in the matrix schema (DuckDB's Go
// values do not tell a date from a timestamp).
func appendCanonGo(b []byte, v any, dt arrow.DataType) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	switch v := v.(type) {
	case bool:
		return strconv.AppendBool(b, v)
	case int8:
		return strconv.AppendInt(b, int64(v), 10)
	case int16:
		return strconv.AppendInt(b, int64(v), 10)
	case int32:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case float32:
		return appendFloat(b, float64(v))
	case float64:
		return appendFloat(b, v)
	case string:
		return appendString(b, v)
	case []byte:
		return appendHex(b, v)
	case duckdb.Decimal:
		return appendDecimal(b, v.Value, int(v.Scale))
	case *big.Int:
		return append(b, v.String()...)
	case time.Time:
		if _, ok := dt.(*arrow.Date32Type); ok {
			return v.UTC().AppendFormat(b, "2006-01-02")
		}
		return appendMicros(b, v.UnixMicro())
	case []any:
		var elem arrow.DataType
		if l, ok := dt.(*arrow.ListType); ok {
			elem = l.Elem()
		}
		b = append(b, '[')
		for k, e := range v {
			if k > 0 {
				b = append(b, ',')
			}
			b = appendCanonGo(b, e, elem)
		}
		return append(b, ']')
	case map[string]any:
		st, _ := dt.(*arrow.StructType)
		var fields [][]byte
		for name, fv := range v {
			var ft arrow.DataType
			if st != nil {
				if f, ok := st.FieldByName(name); ok {
					ft = f.Type
				}
			}
			fields = append(fields, appendCanonGo(append([]byte(name), '='), fv, ft))
		}
		return appendSorted(b, '{', '}', fields)
	case duckdb.OrderedMap:
		var item arrow.DataType
		if m, ok := dt.(*arrow.MapType); ok {
			item = m.ItemType()
		}
		var entries [][]byte
		vals := v.Values()
		for k, key := range v.Keys() {
			entry := appendCanonGo(nil, key, arrow.BinaryTypes.String)
			entries = append(entries, appendCanonGo(append(entry, ':'), vals[k], item))
		}
		return appendSorted(b, '{', '}', entries)
	}
	return fmt.Appendf(b, "?%T:%v", v, v)
}

var matrixSeed = maphash.MakeSeed()

func matrixHash(b []byte) uint64 { return maphash.Bytes(matrixSeed, b) }
