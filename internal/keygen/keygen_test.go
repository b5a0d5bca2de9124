package keygen_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/keygen"
)

var mem = memory.NewGoAllocator()

type col struct {
	name string
	arr  arrow.Array
}

func record(t testing.TB, cols ...col) arrow.RecordBatch {
	t.Helper()
	fields := make([]arrow.Field, len(cols))
	arrs := make([]arrow.Array, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c.name, Type: c.arr.DataType(), Nullable: true}
		arrs[i] = c.arr
	}
	n := int64(0)
	if len(arrs) > 0 {
		n = int64(arrs[0].Len())
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, n)
}

// strs builds a string array; nil entries are nulls.
func strs(vals ...*string) arrow.Array {
	b := array.NewStringBuilder(mem)
	for _, v := range vals {
		if v == nil {
			b.AppendNull()
		} else {
			b.Append(*v)
		}
	}
	return b.NewArray()
}

func s(v string) *string { return &v }

func ints(vals ...any) arrow.Array {
	b := array.NewInt32Builder(mem)
	for _, v := range vals {
		if v == nil {
			b.AppendNull()
		} else {
			b.Append(int32(v.(int)))
		}
	}
	return b.NewArray()
}

func gen(t testing.TB, cfg keygen.Config, rec arrow.RecordBatch) *keygen.Generator {
	t.Helper()
	g, err := keygen.New(cfg, rec.Schema())
	require.NoError(t, err)
	return g
}

func rowErr(t testing.TB, err error) *keygen.RowError {
	t.Helper()
	var re *keygen.RowError
	require.True(t, errors.As(err, &re), "want *RowError, got %v", err)
	return re
}

func TestSimple(t *testing.T) {
	rec := record(t,
		col{"id", ints(1, 2, 3)},
		col{"city", strs(s("sf"), nil, s(""))},
	)
	for _, hive := range []bool{false, true} {
		g := gen(t, keygen.Config{RecordKeyFields: []string{"id"}, PartitionFields: []string{"city"}, Kind: keygen.Simple, HiveStyle: hive}, rec)
		keys, parts, err := g.Keys(rec)
		require.NoError(t, err)
		assert.Equal(t, []string{"1", "2", "3"}, keys)
		if hive {
			assert.Equal(t, []string{"city=sf", "city=__HIVE_DEFAULT_PARTITION__", "city=__HIVE_DEFAULT_PARTITION__"}, parts)
		} else {
			assert.Equal(t, []string{"sf", "__HIVE_DEFAULT_PARTITION__", "__HIVE_DEFAULT_PARTITION__"}, parts)
		}
	}
}

func TestSimpleNullOrEmptyKey(t *testing.T) {
	rec := record(t,
		col{"uuid", strs(s("a"), nil, s(""), s("d"))},
		col{"p", ints(1, 1, 1, 1)},
	)
	g := gen(t, keygen.Config{RecordKeyFields: []string{"uuid"}, PartitionFields: []string{"p"}}, rec)
	assert.Equal(t, keygen.Simple, g.Kind())
	_, _, err := g.Keys(rec)
	re := rowErr(t, err)
	assert.Equal(t, keygen.RowError{Row: 1, Field: "uuid", Reason: "record key is null"}, *re)
	assert.Equal(t, `keygen: row 1: field "uuid": record key is null`, err.Error())

	keys, parts, bad := g.KeysLenient(rec)
	assert.Equal(t, []string{"a", "", "", "d"}, keys)
	assert.Equal(t, []string{"1", "", "", "1"}, parts)
	assert.Equal(t, []keygen.RowError{
		{Row: 1, Field: "uuid", Reason: "record key is null"},
		{Row: 2, Field: "uuid", Reason: "record key is empty"},
	}, bad)
}

func TestComplex(t *testing.T) {
	rec := record(t,
		col{"id", ints(1, nil, 3, nil)},
		col{"name", strs(s("Alice"), s("Bob"), s(""), s(""))},
		col{"byteField", ints(10, 20, nil, 30)},
		col{"shortField", ints(300, 100, 100, 100)},
	)
	g := gen(t, keygen.Config{
		RecordKeyFields: []string{"id", "name"},
		PartitionFields: []string{"byteField", "shortField"},
		Kind:            keygen.Complex, HiveStyle: true,
	}, rec)
	keys, parts, bad := g.KeysLenient(rec)
	assert.Equal(t, []string{"id:1,name:Alice", "id:__null__,name:Bob", "id:3,name:__empty__", ""}, keys)
	assert.Equal(t, []string{
		"byteField=10/shortField=300",
		"byteField=20/shortField=100",
		"byteField=__HIVE_DEFAULT_PARTITION__/shortField=100",
		"",
	}, parts)
	assert.Equal(t, []keygen.RowError{{Row: 3, Field: "id,name", Reason: "all record key fields are null or empty"}}, bad)

	// Non-hive, and Infer picks Complex for two key fields.
	g = gen(t, keygen.Config{RecordKeyFields: []string{"id", "name"}, PartitionFields: []string{"byteField", "shortField"}}, rec)
	assert.Equal(t, keygen.Complex, g.Kind())
	_, _, err := g.Keys(rec)
	assert.Equal(t, 3, rowErr(t, err).Row)
	sliced := rec.NewSlice(0, 3)
	keys, parts, err = g.Keys(sliced)
	require.NoError(t, err)
	assert.Equal(t, "id:1,name:Alice", keys[0])
	assert.Equal(t, []string{"10/300", "20/100", "__HIVE_DEFAULT_PARTITION__/100"}, parts)
}

func TestComplexSingleKeyIsBare(t *testing.T) {
	// Hudi 0.14.1+ writes the bare value for a one-field ComplexKeyGenerator.
	rec := record(t, col{"id", ints(7, nil)}, col{"a", ints(1, 2)}, col{"b", ints(3, 4)})
	g := gen(t, keygen.Config{RecordKeyFields: []string{"id"}, PartitionFields: []string{"a", "b"}, Kind: keygen.Complex}, rec)
	keys, parts, bad := g.KeysLenient(rec)
	assert.Equal(t, []string{"7", ""}, keys)
	assert.Equal(t, "1/3", parts[0])
	assert.Equal(t, []keygen.RowError{{Row: 1, Field: "id", Reason: "record key is null"}}, bad)
}

func TestNonPartitioned(t *testing.T) {
	rec := record(t, col{"id", ints(1, 2)}, col{"name", strs(s("x"), nil)})
	g := gen(t, keygen.Config{RecordKeyFields: []string{"id"}}, rec)
	assert.Equal(t, keygen.NonPartitioned, g.Kind())
	keys, parts, err := g.Keys(rec)
	require.NoError(t, err)
	assert.Equal(t, []string{"1", "2"}, keys)
	assert.Equal(t, []string{"", ""}, parts)

	g = gen(t, keygen.Config{RecordKeyFields: []string{"id", "name"}, Kind: keygen.NonPartitioned}, rec)
	keys, _, err = g.Keys(rec)
	require.NoError(t, err)
	assert.Equal(t, []string{"id:1,name:x", "id:2,name:__null__"}, keys)
}

func TestPartitionSafety(t *testing.T) {
	vals := []string{"a/b", "..", ".", "a\\b", "x\x00y", "ok", "c:d=e", "%", "..."}
	ptrs := make([]*string, len(vals))
	ids := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
		ids[i] = i
	}
	rec := record(t, col{"id", ints(ids...)}, col{"p", strs(ptrs...)})

	cases := []struct {
		name        string
		hive, enc   bool
		wantParts   []string
		wantBadRows []int
	}{
		{"plain", false, false,
			[]string{"", "", "", "", "", "ok", "c:d=e", "%", "..."}, []int{0, 1, 2, 3, 4}},
		{"hive", true, false,
			[]string{"", "p=..", "p=.", "", "", "p=ok", "p=c:d=e", "p=%", "p=..."}, []int{0, 3, 4}},
		{"urlencode", false, true,
			[]string{"a%2Fb", "", "", "a%5Cb", "x%00y", "ok", "c%3Ad%3De", "%25", "..."}, []int{1, 2}},
		{"hive urlencode", true, true,
			[]string{"p=a%2Fb", "p=..", "p=.", "p=a%5Cb", "p=x%00y", "p=ok", "p=c%3Ad%3De", "p=%25", "p=..."}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := gen(t, keygen.Config{RecordKeyFields: []string{"id"}, PartitionFields: []string{"p"}, HiveStyle: c.hive, URLEncode: c.enc}, rec)
			_, parts, bad := g.KeysLenient(rec)
			assert.Equal(t, c.wantParts, parts)
			var rows []int
			for _, b := range bad {
				rows = append(rows, b.Row)
				assert.Equal(t, "p", b.Field)
				if b.Row == 0 {
					assert.Contains(t, b.Reason, "urlencode=true")
					assert.Contains(t, b.Reason, "'/'")
				}
			}
			assert.Equal(t, c.wantBadRows, rows)
			for _, p := range parts {
				for _, seg := range strings.Split(p, "/") {
					if p != "" {
						assert.NotContains(t, []string{"", ".", ".."}, seg, p)
					}
				}
				assert.NotContains(t, p, "\x00")
			}
		})
	}

	g := gen(t, keygen.Config{RecordKeyFields: []string{"id"}, PartitionFields: []string{"p"}}, rec)
	_, _, err := g.Keys(rec)
	re := rowErr(t, err)
	assert.Equal(t, 0, re.Row)
	assert.Contains(t, err.Error(), `row 0: field "p": partition value "a/b" contains '/'`)
}

func TestInvalidUTF8(t *testing.T) {
	rec := record(t, col{"k", strs(s("ok"), s("\xff\xfe"))}, col{"p", strs(s("\xc3"), s("x"))})
	g := gen(t, keygen.Config{RecordKeyFields: []string{"k"}, PartitionFields: []string{"p"}}, rec)
	_, _, bad := g.KeysLenient(rec)
	assert.Equal(t, []keygen.RowError{
		{Row: 0, Field: "p", Reason: "partition value is not valid UTF-8"},
		{Row: 1, Field: "k", Reason: "record key is not valid UTF-8"},
	}, bad)
}

func TestNestedField(t *testing.T) {
	st := arrow.StructOf(
		arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		arrow.Field{Name: "inner", Type: arrow.StructOf(arrow.Field{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}), Nullable: true},
	)
	b := array.NewStructBuilder(mem, st)
	ab := b.FieldBuilder(0).(*array.Int64Builder)
	ib := b.FieldBuilder(1).(*array.StructBuilder)
	sb := ib.FieldBuilder(0).(*array.StringBuilder)
	// row 0: {a:5, inner:{s:"x"}}; row 1: null struct; row 2: {a:null, inner:null}
	b.Append(true)
	ab.Append(5)
	ib.Append(true)
	sb.Append("x")
	b.AppendNull()
	b.Append(true)
	ab.AppendNull()
	ib.AppendNull()
	rec := record(t, col{"id", ints(1, 2, 3)}, col{"st", b.NewArray()})

	g := gen(t, keygen.Config{RecordKeyFields: []string{"st.a", "id"}, PartitionFields: []string{"st.inner.s"}, HiveStyle: true}, rec)
	keys, parts, err := g.Keys(rec)
	require.NoError(t, err)
	assert.Equal(t, []string{"st.a:5,id:1", "st.a:__null__,id:2", "st.a:__null__,id:3"}, keys)
	assert.Equal(t, []string{"st.inner.s=x", "st.inner.s=__HIVE_DEFAULT_PARTITION__", "st.inner.s=__HIVE_DEFAULT_PARTITION__"}, parts)

	_, err = keygen.New(keygen.Config{RecordKeyFields: []string{"st.nope"}}, rec.Schema())
	assert.ErrorContains(t, err, "st.nope")
	_, err = keygen.New(keygen.Config{RecordKeyFields: []string{"id.x"}}, rec.Schema())
	assert.ErrorContains(t, err, "not a struct")
}

func TestValueTypes(t *testing.T) {
	boolB := array.NewBooleanBuilder(mem)
	boolB.AppendValues([]bool{true, false}, nil)
	i8 := array.NewInt8Builder(mem)
	i8.AppendValues([]int8{-128, 127}, nil)
	u64 := array.NewUint64Builder(mem)
	u64.AppendValues([]uint64{0, 18446744073709551615}, nil)
	f32 := array.NewFloat32Builder(mem)
	f32.AppendValues([]float32{1, 0.1}, nil)
	f64 := array.NewFloat64Builder(mem)
	f64.AppendValues([]float64{1e7, 2.5}, nil)
	d32 := array.NewDate32Builder(mem)
	d32.AppendValues([]arrow.Date32{19723, -1}, nil)
	d64 := array.NewDate64Builder(mem)
	d64.AppendValues([]arrow.Date64{19723 * 86400000, -1}, nil)
	tsUs := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
	tsUs.AppendValues([]arrow.Timestamp{1696118400000000, -1}, nil)
	tsMs := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Millisecond})
	tsMs.AppendValues([]arrow.Timestamp{1696118400000, 0}, nil)
	tsS := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Second})
	tsS.AppendValues([]arrow.Timestamp{1696118400, -2}, nil)
	tsNs := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Nanosecond})
	tsNs.AppendValues([]arrow.Timestamp{1696118400000000999, -1}, nil)
	dec := array.NewDecimal128Builder(mem, &arrow.Decimal128Type{Precision: 10, Scale: 5})
	dec.AppendValues([]decimal128.Num{decimal128.FromI64(12345000), decimal128.FromI64(-1)}, nil)
	bigDec := array.NewDecimal128Builder(mem, &arrow.Decimal128Type{Precision: 38, Scale: 2})
	bigNum, err := decimal128.FromString("123456789012345678901234567.89", 38, 2)
	require.NoError(t, err)
	bigDec.AppendValues([]decimal128.Num{bigNum, decimal128.FromI64(0)}, nil)
	ls := array.NewLargeStringBuilder(mem)
	ls.AppendValues([]string{"é", "ü"}, nil)
	dict := array.NewDictionaryBuilder(mem, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}).(*array.BinaryDictionaryBuilder)
	require.NoError(t, dict.AppendString("sf"))
	require.NoError(t, dict.AppendString("sf"))

	rec := record(t,
		col{"b", boolB.NewArray()}, col{"i8", i8.NewArray()}, col{"u64", u64.NewArray()},
		col{"f32", f32.NewArray()}, col{"f64", f64.NewArray()}, col{"d32", d32.NewArray()},
		col{"d64", d64.NewArray()}, col{"tsus", tsUs.NewArray()}, col{"tsms", tsMs.NewArray()},
		col{"tss", tsS.NewArray()}, col{"tsns", tsNs.NewArray()}, col{"dec", dec.NewArray()},
		col{"bigdec", bigDec.NewArray()}, col{"ls", ls.NewArray()}, col{"dict", dict.NewArray()},
	)
	names := make([]string, 0, rec.NumCols())
	for _, f := range rec.Schema().Fields() {
		names = append(names, f.Name)
	}
	g := gen(t, keygen.Config{RecordKeyFields: names, Kind: keygen.NonPartitioned}, rec)
	keys, _, err := g.Keys(rec)
	require.NoError(t, err)
	want := []string{
		"b:true,i8:-128,u64:0,f32:1.0,f64:1.0E7,d32:2024-01-01,d64:2024-01-01,tsus:1696118400000000," +
			"tsms:1696118400000000,tss:1696118400000000,tsns:1696118400000000,dec:123.45000," +
			"bigdec:123456789012345678901234567.89,ls:é,dict:sf",
		"b:false,i8:127,u64:18446744073709551615,f32:0.1,f64:2.5,d32:1969-12-31,d64:1969-12-31,tsus:-1," +
			"tsms:0,tss:-2000000,tsns:-1,dec:-0.00001,bigdec:0.00,ls:ü,dict:sf",
	}
	assert.Equal(t, want, keys)

	// Each type also works as a partition field.
	for _, name := range names {
		g := gen(t, keygen.Config{RecordKeyFields: []string{"i8"}, PartitionFields: []string{name}, Kind: keygen.Simple}, rec)
		_, parts, err := g.Keys(rec)
		require.NoError(t, err, name)
		assert.NotEmpty(t, parts[0], name)
	}
}

func TestNewErrors(t *testing.T) {
	bin := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
	bin.Append([]byte("x"))
	lb := array.NewListBuilder(mem, arrow.PrimitiveTypes.Int32)
	lb.Append(true)
	fsb := array.NewFixedSizeBinaryBuilder(mem, &arrow.FixedSizeBinaryType{ByteWidth: 2})
	fsb.Append([]byte("ab"))
	rec := record(t, col{"id", ints(1)}, col{"bin", bin.NewArray()}, col{"list", lb.NewArray()}, col{"fsb", fsb.NewArray()}, col{"p", ints(1)})
	sc := rec.Schema()

	cases := map[string]struct {
		cfg  keygen.Config
		want string
	}{
		"no key":              {keygen.Config{}, "no record key fields"},
		"missing":             {keygen.Config{RecordKeyFields: []string{"nope"}}, `"nope" not in schema`},
		"binary key":          {keygen.Config{RecordKeyFields: []string{"bin"}}, "binary type"},
		"fixed binary part":   {keygen.Config{RecordKeyFields: []string{"id"}, PartitionFields: []string{"fsb"}}, "binary type"},
		"list":                {keygen.Config{RecordKeyFields: []string{"list"}}, "cannot be a key or partition field"},
		"simple two keys":     {keygen.Config{RecordKeyFields: []string{"id", "p"}, PartitionFields: []string{"p"}, Kind: keygen.Simple}, "one record key field"},
		"simple no partition": {keygen.Config{RecordKeyFields: []string{"id"}, Kind: keygen.Simple}, "one partition field"},
		"nonpartitioned":      {keygen.Config{RecordKeyFields: []string{"id"}, PartitionFields: []string{"p"}, Kind: keygen.NonPartitioned}, "no partition fields"},
		"dup":                 {keygen.Config{RecordKeyFields: []string{"id", "id"}}, "listed twice"},
		"bad kind":            {keygen.Config{RecordKeyFields: []string{"id"}, Kind: keygen.Kind(42)}, "unknown kind"},
	}
	for name, c := range cases {
		_, err := keygen.New(c.cfg, sc)
		assert.ErrorContains(t, err, c.want, name)
		if err != nil {
			assert.True(t, strings.HasPrefix(err.Error(), "keygen: "), err.Error())
		}
	}
	_, err := keygen.New(keygen.Config{RecordKeyFields: []string{"id"}}, nil)
	assert.Error(t, err)
}

func TestBatchSchemaMismatch(t *testing.T) {
	rec := record(t, col{"id", ints(1)}, col{"p", ints(1)})
	g := gen(t, keygen.Config{RecordKeyFields: []string{"id"}, PartitionFields: []string{"p"}}, rec)
	other := record(t, col{"id", strs(s("1"))}, col{"p", ints(1)})
	_, _, err := g.Keys(other)
	assert.ErrorContains(t, err, `field "id" is utf8 in the batch, int32`)
	keys, parts, bad := g.KeysLenient(other)
	assert.Equal(t, []string{""}, keys)
	assert.Equal(t, []string{""}, parts)
	require.Len(t, bad, 1)
	_, _, err = g.Keys(nil)
	assert.Error(t, err)
	k, _, b := g.KeysLenient(nil)
	assert.Empty(t, k)
	assert.Empty(t, b)
	short := record(t, col{"x", ints(1)})
	_, _, err = g.Keys(short)
	assert.ErrorContains(t, err, "batch schema differs")
}

func TestKindFromClass(t *testing.T) {
	for class, want := range map[string]keygen.Kind{
		"": keygen.Infer,
		"org.apache.hudi.keygen.SimpleKeyGenerator":             keygen.Simple,
		"org.apache.hudi.keygen.ComplexKeyGenerator":            keygen.Complex,
		"org.apache.hudi.keygen.NonpartitionedKeyGenerator":     keygen.NonPartitioned,
		"org.apache.hudi.keygen.NonpartitionedAvroKeyGenerator": keygen.NonPartitioned,
		"org.apache.hudi.keygen.TimestampBasedKeyGenerator":     keygen.TimestampBased,
		"org.apache.hudi.keygen.TimestampBasedAvroKeyGenerator": keygen.TimestampBased,
	} {
		k, err := keygen.KindFromClass(class)
		require.NoError(t, err)
		assert.Equal(t, want, k)
		if want != keygen.Infer {
			assert.Contains(t, k.Class(), "org.apache.hudi.keygen.")
		}
	}
	_, err := keygen.KindFromClass("org.apache.hudi.keygen.CustomKeyGenerator")
	assert.ErrorIs(t, err, keygen.ErrUnsupported)
}

func TestEscapePathName(t *testing.T) {
	assert.Equal(t, keygen.DefaultPartition, keygen.EscapePathName(""))
	assert.Equal(t, "2024-01-01", keygen.EscapePathName("2024-01-01"))
	assert.Equal(t, "a%2Fb%3Ac%3Dd%25%23%22%27%2A%3F%5C%7B%5B%5D%5E%7F%01%1F%00 ok_-.é",
		keygen.EscapePathName("a/b:c=d%#\"'*?\\{[]^\x7f\x01\x1f\x00 ok_-.é"))
	assert.Equal(t, "a/b:c", keygen.UnescapePathName("a%2Fb%3Ac"))
	assert.Equal(t, "%zz%4", keygen.UnescapePathName("%zz%4"))
}

func FuzzEscapePathName(f *testing.F) {
	for _, s := range []string{"", "a/b", "..", "%2F", "é/\x00", "x=y:z", "\x7f\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		e := keygen.EscapePathName(v)
		if v == "" {
			require.Equal(t, keygen.DefaultPartition, e)
			return
		}
		require.Equal(t, v, keygen.UnescapePathName(e))
		for i := 0; i < len(e); i++ {
			c := e[i]
			require.False(t, c < 0x20 || c == '/' || c == '\\' || c == '=' || c == ':' || c == 0x7f, "byte %q left in %q", c, e)
		}
		// As a partition value, the generator never yields an unsafe path.
		rec := record(t, col{"id", ints(1)}, col{"p", strs(&v)})
		for _, cfg := range []keygen.Config{
			{RecordKeyFields: []string{"id"}, PartitionFields: []string{"p"}},
			{RecordKeyFields: []string{"id"}, PartitionFields: []string{"p"}, URLEncode: true},
		} {
			g, err := keygen.New(cfg, rec.Schema())
			require.NoError(t, err)
			_, parts, err := g.Keys(rec)
			if err != nil {
				rowErr(t, err)
				continue
			}
			p := parts[0]
			require.NotContains(t, p, "/")
			require.NotContains(t, p, "\x00")
			require.NotContains(t, []string{"", ".", ".."}, p)
		}
	})
}
