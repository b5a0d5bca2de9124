package arrowutil

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var mem = memory.DefaultAllocator

// strs builds a string array; "<null>" is a null.
func strs(vs ...string) arrow.Array {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	for _, v := range vs {
		if v == "<null>" {
			b.AppendNull()
		} else {
			b.Append(v)
		}
	}
	return b.NewArray()
}

// batch makes a one-column batch.
func batch(name string, col arrow.Array) arrow.RecordBatch {
	defer col.Release()
	return array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: name, Type: col.DataType(), Nullable: true}}, nil),
		[]arrow.Array{col}, int64(col.Len()))
}

// structOf builds struct<city: string, zip: string> rows; a nil row is a
// null struct whose child slots still hold garbage.
func structOf(rows ...*[2]string) arrow.Array {
	st := arrow.StructOf(arrow.Field{Name: "city", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "zip", Type: arrow.BinaryTypes.String, Nullable: true})
	b := array.NewStructBuilder(mem, st)
	defer b.Release()
	for _, r := range rows {
		if r == nil {
			b.AppendValues([]bool{false}) // children not nulled: garbage under a null parent
			b.FieldBuilder(0).(*array.StringBuilder).Append("\xff")
			b.FieldBuilder(1).(*array.StringBuilder).Append("\xfe")
			continue
		}
		b.Append(true)
		b.FieldBuilder(0).(*array.StringBuilder).Append(r[0])
		b.FieldBuilder(1).(*array.StringBuilder).Append(r[1])
	}
	return b.NewArray()
}

func listOf(rows ...[]string) arrow.Array {
	b := array.NewListBuilder(mem, arrow.BinaryTypes.String)
	defer b.Release()
	vb := b.ValueBuilder().(*array.StringBuilder)
	for _, r := range rows {
		if r == nil {
			b.AppendNull()
			continue
		}
		b.Append(true)
		for _, v := range r {
			vb.Append(v)
		}
	}
	return b.NewArray()
}

func mapOf(rows ...[][2]string) arrow.Array {
	b := array.NewMapBuilder(mem, arrow.BinaryTypes.String, arrow.BinaryTypes.String, false)
	defer b.Release()
	kb, ib := b.KeyBuilder().(*array.StringBuilder), b.ItemBuilder().(*array.StringBuilder)
	for _, r := range rows {
		b.Append(true)
		for _, kv := range r {
			kb.Append(kv[0])
			ib.Append(kv[1])
		}
	}
	return b.NewArray()
}

func largeStrs(vs ...string) arrow.Array {
	b := array.NewLargeStringBuilder(mem)
	defer b.Release()
	b.AppendValues(vs, nil)
	return b.NewArray()
}

func viewStrs(vs ...string) arrow.Array {
	b := array.NewStringViewBuilder(mem)
	defer b.Release()
	b.AppendValues(vs, nil)
	return b.NewArray()
}

// dict builds a dictionary array of the given entries and indices (-1:
// null).
func dict(entries []string, idx ...int) arrow.Array {
	d := strs(entries...)
	defer d.Release()
	ib := array.NewInt32Builder(mem)
	defer ib.Release()
	for _, i := range idx {
		if i < 0 {
			ib.AppendNull()
		} else {
			ib.Append(int32(i))
		}
	}
	ind := ib.NewArray()
	defer ind.Release()
	return array.NewDictionaryArray(&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, ind, d)
}

// ree builds a run-end encoded array of runs (value, length).
func ree(vals []string, ends ...int32) arrow.Array {
	v := strs(vals...)
	defer v.Release()
	eb := array.NewInt32Builder(mem)
	defer eb.Release()
	eb.AppendValues(ends, nil)
	e := eb.NewArray()
	defer e.Release()
	return array.NewRunEndEncodedArray(e, v, int(ends[len(ends)-1]), 0)
}

// nullGarbage is a string array ["ok", null] whose null slot holds
// invalid bytes (Arrow leaves null slots' content undefined).
func nullGarbage() arrow.Array {
	src := strs("ok", "\xff\xfe")
	defer src.Release()
	d := src.Data()
	valid := memory.NewBufferBytes([]byte{0b01})
	nd := array.NewData(d.DataType(), d.Len(), []*memory.Buffer{valid, d.Buffers()[1], d.Buffers()[2]}, nil, 1, 0)
	defer nd.Release()
	return array.MakeFromData(nd)
}

func p(a, b string) *[2]string { return &[2]string{a, b} }

func TestValidateUTF8(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rec   func() arrow.RecordBatch
		row   int
		field string // "" = valid
		off   int
		bytes string
	}{
		{name: "ascii-unicode-empty-null", rec: func() arrow.RecordBatch {
			return batch("s", strs("a", "", "<null>", "日本語-é-🙂", "\x00"))
		}},
		{name: "string", row: 2, field: "s", off: 1, bytes: "\xff\xfe", rec: func() arrow.RecordBatch {
			return batch("s", strs("a", "<null>", "x\xff\xfey", "\xff"))
		}},
		{name: "null-slot-with-garbage", rec: func() arrow.RecordBatch {
			return batch("s", nullGarbage())
		}},
		{name: "truncated-at-end", row: 0, field: "s", off: 2, bytes: "\xe2\x82", rec: func() arrow.RecordBatch {
			return batch("s", strs("ab\xe2\x82"))
		}},
		{name: "rune-split-across-values", row: 0, field: "s", off: 0, bytes: "\xc3", rec: func() arrow.RecordBatch {
			return batch("s", strs("\xc3", "\xa9")) // "é" only if concatenated
		}},
		{name: "surrogate-encoded", row: 0, field: "s", off: 1, bytes: "\xed\xa0\x80", rec: func() arrow.RecordBatch {
			return batch("s", strs("a\xed\xa0\x80")) // CESU-8 / WTF-8 lone surrogate
		}},
		{name: "overlong", row: 0, field: "s", off: 0, bytes: "\xc0\xaf", rec: func() arrow.RecordBatch {
			return batch("s", strs("\xc0\xaf"))
		}},
		{name: "large-string", row: 1, field: "s", off: 0, bytes: "\x80", rec: func() arrow.RecordBatch {
			return batch("s", largeStrs("ok", "\x80"))
		}},
		{name: "string-view", row: 1, field: "s", off: 20, bytes: "\xff", rec: func() arrow.RecordBatch {
			return batch("s", viewStrs("short", strings.Repeat("long", 5)+"\xff")) // not inlined
		}},
		{name: "string-view-inline", row: 0, field: "s", off: 0, bytes: "\xff", rec: func() arrow.RecordBatch {
			return batch("s", viewStrs("\xff"))
		}},
		{name: "struct", row: 1, field: "address.zip", off: 0, bytes: "\xfe", rec: func() arrow.RecordBatch {
			return batch("address", structOf(p("Paris", "75001"), p("Köln", "\xfe")))
		}},
		{name: "null-struct-hides-garbage", rec: func() arrow.RecordBatch {
			return batch("address", structOf(p("Paris", "75001"), nil))
		}},
		{name: "list", row: 2, field: "tags[]", off: 1, bytes: "\xff", rec: func() arrow.RecordBatch {
			return batch("tags", listOf([]string{"a"}, nil, []string{"b", "c\xff"}))
		}},
		{name: "map-key", row: 1, field: "attrs{key}", off: 1, bytes: "\xff", rec: func() arrow.RecordBatch {
			return batch("attrs", mapOf([][2]string{{"k", "v"}}, [][2]string{{"ok", "v"}, {"k\xff", "v"}}))
		}},
		{name: "map-value", row: 0, field: "attrs{value}", off: 0, bytes: "\xff", rec: func() arrow.RecordBatch {
			return batch("attrs", mapOf([][2]string{{"k", "\xff"}}))
		}},
		{name: "dictionary", row: 2, field: "d", off: 0, bytes: "\xff", rec: func() arrow.RecordBatch {
			return batch("d", dict([]string{"a", "\xff"}, 0, -1, 1))
		}},
		{name: "dictionary-unused-entry", rec: func() arrow.RecordBatch {
			return batch("d", dict([]string{"a", "\xff"}, 0, -1, 0))
		}},
		{name: "run-end-encoded", row: 3, field: "r", off: 0, bytes: "\xff", rec: func() arrow.RecordBatch {
			return batch("r", ree([]string{"a", "\xff"}, 3, 5))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tc.rec()
			defer rec.Release()
			err := ValidateUTF8(rec)
			if tc.field == "" {
				require.NoError(t, err)
				assert.Empty(t, InvalidUTF8Rows(rec))
				return
			}
			var ue *UTF8Error
			require.True(t, errors.As(err, &ue), "%v", err)
			assert.Equal(t, tc.row, ue.Row)
			assert.Equal(t, tc.field, ue.Field)
			assert.Equal(t, tc.off, ue.Offset)
			assert.Equal(t, tc.bytes, ue.Bytes)
			assert.Contains(t, err.Error(), fmt.Sprintf("row %d: field %q", tc.row, tc.field))
			assert.Contains(t, err.Error(), fmt.Sprintf("%q at byte %d", tc.bytes, tc.off))
			assert.True(t, utf8.ValidString(err.Error()) || strings.Contains(err.Error(), `\x`), "bytes are quoted")
		})
	}
}

func TestInvalidUTF8RowsNested(t *testing.T) {
	// list<struct<name: string>>, two columns, a slice: rows are the
	// slice's, each bad row once, first bad field of the row.
	elem := arrow.StructOf(arrow.Field{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true})
	lb := array.NewListBuilder(mem, elem)
	defer lb.Release()
	sb := lb.ValueBuilder().(*array.StructBuilder)
	nb := sb.FieldBuilder(0).(*array.StringBuilder)
	items := [][]string{{"a"}, {"\xff"}, {"b", "c"}, {"d", "e\xfe"}, {"f"}}
	for _, it := range items {
		lb.Append(true)
		for _, v := range it {
			sb.Append(true)
			nb.Append(v)
		}
	}
	list := lb.NewArray()
	defer list.Release()
	other := strs("x", "y", "\xc3", "z", "\xff")
	defer other.Release()
	sch := arrow.NewSchema([]arrow.Field{{Name: "items", Type: list.DataType(), Nullable: true},
		{Name: "o", Type: other.DataType(), Nullable: true}}, nil)
	full := array.NewRecordBatch(sch, []arrow.Array{list, other}, 5)
	defer full.Release()

	bad := InvalidUTF8Rows(full)
	var got []string
	for _, e := range bad {
		got = append(got, fmt.Sprintf("%d:%s", e.Row, e.Field))
	}
	assert.Equal(t, []string{"1:items[].name", "2:o", "3:items[].name", "4:o"}, got)

	sl := full.NewSlice(2, 4) // rows 2 and 3
	defer sl.Release()
	err := ValidateUTF8(sl)
	var ue *UTF8Error
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, 0, ue.Row, "row of the slice")
	assert.Equal(t, "o", ue.Field)
	ok := full.NewSlice(0, 1)
	defer ok.Release()
	assert.NoError(t, ValidateUTF8(ok))
}

func TestCheckUTF8Snippet(t *testing.T) {
	v := strings.Repeat("a", 100) + "\xff" + strings.Repeat("b", 100)
	e := CheckUTF8(v)
	require.NotNil(t, e)
	assert.Equal(t, 100, e.Offset)
	assert.Equal(t, "…"+strings.Repeat("a", 24)+"\xff"+strings.Repeat("b", 24)+"…", e.Value)
	assert.Nil(t, CheckUTF8("日本語"))
	long := CheckUTF8(strings.Repeat("\xff", 40))
	assert.Len(t, long.Bytes, 16, "invalid bytes are capped")
}

func FuzzCheckUTF8(f *testing.F) {
	for _, s := range []string{"", "a", "\xff", "a\xc3", "\xed\xa0\x80", "日本\xe8", "\xc0\xaf"} {
		f.Add(s, s+"x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, s := range []string{a, b} {
			e := CheckUTF8(s)
			if utf8.ValidString(s) {
				if e != nil {
					t.Fatalf("%q: valid, but %v", s, e)
				}
				continue
			}
			if e == nil {
				t.Fatalf("%q: invalid, not reported", s)
			}
			if !utf8.ValidString(s[:e.Offset]) || !strings.HasPrefix(s[e.Offset:], e.Bytes) || e.Bytes == "" {
				t.Fatalf("%q: bad report %+v", s, e)
			}
			if r, size := utf8.DecodeRuneInString(s[e.Offset:]); r != utf8.RuneError || size != 1 {
				t.Fatalf("%q: offset %d is not invalid", s, e.Offset)
			}
		}
		// The batch check agrees with the per-value check.
		rec := batch("s", strs(a, b))
		defer rec.Release()
		want := -1
		if !utf8.ValidString(a) {
			want = 0
		} else if !utf8.ValidString(b) {
			want = 1
		}
		err := ValidateUTF8(rec)
		var ue *UTF8Error
		if want < 0 {
			if err != nil {
				t.Fatalf("%q %q: %v", a, b, err)
			}
		} else if !errors.As(err, &ue) || ue.Row != want {
			t.Fatalf("%q %q: want row %d, got %v", a, b, want, err)
		}
	})
}

// benchBatch is 1M rows shaped like the writer benchmarks' game events:
// seven string columns (one with non-ASCII text) and two int64 columns.
func benchBatch(b *testing.B) arrow.RecordBatch {
	b.Helper()
	const rows = 1_000_000
	rng := rand.New(rand.NewPCG(1, 2))
	types := []string{"login", "logout", "purchase", "level_up", "match_start", "match_end"}
	regions := []string{"eu-west-1", "us-east-1", "ap-southeast-2", "東京-1"}
	fields := []arrow.Field{}
	for _, n := range []string{"uuid", "type", "schema", "game_id", "region", "dt", "meta"} {
		fields = append(fields, arrow.Field{Name: n, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	fields = append(fields, arrow.Field{Name: "time", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		arrow.Field{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	rb := array.NewRecordBuilder(mem, arrow.NewSchema(fields, nil))
	defer rb.Release()
	for i := range rows {
		for j, s := range []string{
			fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xfff, rng.Uint32()&0xffff, rng.Uint64()&0xffffffffffff),
			types[rng.IntN(len(types))], "game_event_v3", fmt.Sprintf("game-%04d", rng.IntN(500)),
			regions[rng.IntN(len(regions))], "2024-06-01",
			fmt.Sprintf(`{"session":%d,"score":%d,"platform":"pc","player":"Jürgen"}`, rng.IntN(1e6), rng.IntN(1e4)),
		} {
			rb.Field(j).(*array.StringBuilder).Append(s)
		}
		rb.Field(7).(*array.Int64Builder).Append(int64(i))
		rb.Field(8).(*array.Int64Builder).Append(int64(i))
	}
	return rb.NewRecordBatch()
}

// BenchmarkValidateUTF8 measures the check of a valid 1M-row batch (what
// every write pays); compare with internal/basefile's BenchmarkWrite of the
// same shape of data.
func BenchmarkValidateUTF8(b *testing.B) {
	rec := benchBatch(b)
	defer rec.Release()
	b.ReportAllocs()
	for b.Loop() {
		if err := ValidateUTF8(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rec.NumRows())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
