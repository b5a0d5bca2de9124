package arrowutil

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Types as Spark's Parquet files (required inner fields) and Hudi's Avro
// table schema (nullable) describe them.
func nlList(t arrow.DataType, nullable bool) arrow.DataType {
	return arrow.ListOfField(arrow.Field{Name: "element", Type: t, Nullable: nullable})
}

func nlMap(v arrow.DataType, nullable bool) arrow.DataType {
	return arrow.MapOfFields(arrow.Field{Name: "key", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "value", Type: v, Nullable: nullable})
}

func nlStruct(name string, t arrow.DataType, nullable bool) arrow.DataType {
	return arrow.StructOf(arrow.Field{Name: name, Type: t, Nullable: nullable})
}

var (
	strT = arrow.BinaryTypes.String
	i32T = arrow.PrimitiveTypes.Int32
	i64T = arrow.PrimitiveTypes.Int64
)

// ordered is a JSON value with objects kept in order (as []member).
type member struct {
	k string
	v any
}

func decodeOrdered(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch d := tok.(type) {
	case json.Delim:
		switch d {
		case '[':
			var out []any
			for dec.More() {
				v, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			_, err := dec.Token()
			return out, err
		case '{':
			out := []member{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				out = append(out, member{k.(string), v})
			}
			_, err := dec.Token()
			return out, err
		}
	}
	return tok, nil
}

// arrowJSON rewrites v (of type dt) in Arrow's JSON shape: maps, written
// {"k": v, ...} in the cases, become [{"key": "k", "value": v}, ...].
func arrowJSON(dt arrow.DataType, v any) any {
	if v == nil {
		return nil
	}
	switch t := dt.(type) {
	case *arrow.MapType:
		out := []map[string]any{}
		for _, m := range v.([]member) {
			out = append(out, map[string]any{"key": m.k, "value": arrowJSON(t.ItemType(), m.v)})
		}
		return out
	case arrow.ListLikeType:
		var out []any
		for _, e := range v.([]any) {
			out = append(out, arrowJSON(t.Elem(), e))
		}
		if out == nil {
			out = []any{}
		}
		return out
	case *arrow.StructType:
		out := map[string]any{}
		for _, m := range v.([]member) {
			f, _ := t.FieldByName(m.k)
			out[m.k] = arrowJSON(f.Type, m.v)
		}
		return out
	}
	return v
}

func fromJSON(t *testing.T, dt arrow.DataType, js string) arrow.Array {
	t.Helper()
	v, err := decodeOrdered(json.NewDecoder(strings.NewReader(js)))
	require.NoError(t, err)
	b, err := json.Marshal(arrowJSON(arrow.ListOf(dt), v))
	require.NoError(t, err)
	a, _, err := array.FromJSON(mem, dt, strings.NewReader(string(b)))
	require.NoError(t, err, js)
	return a
}

func jsonOf(t *testing.T, a arrow.Array) string {
	t.Helper()
	b, err := json.Marshal(a)
	require.NoError(t, err)
	return string(b)
}

// TestCastNestedNullability converts Spark-shaped nested arrays to the
// table's nullable types at every depth; the values stay the same and the
// validity and offsets buffers are shared, not copied.
func TestCastNestedNullability(t *testing.T) {
	mapListStr := `[
		{"a": ["x", "y"], "b": null, "c": []},
		null,
		{},
		{"d": ["z"]}
	]`
	cases := []struct {
		name     string
		from, to arrow.DataType
		data     string
	}{
		{
			name: "map<string, list<string>>: element non-null → nullable",
			from: nlMap(nlList(strT, false), true),
			to:   nlMap(nlList(strT, true), true),
			data: mapListStr,
		},
		{
			name: "map<string, list<string>>: value and element non-null → nullable",
			from: nlMap(nlList(strT, false), false),
			to:   nlMap(nlList(strT, true), true),
			data: `[{"a": ["x", "y"], "c": []}, null, {}, {"d": ["z"]}]`,
		},
		{
			name: "map<string, list<struct<a: list<int>>>>: every inner level non-null → nullable",
			from: nlMap(nlList(nlStruct("a", nlList(i32T, false), false), false), true),
			to:   nlMap(nlList(nlStruct("a", nlList(i32T, true), true), true), true),
			data: `[
				{"k1": [{"a": [1, 2]}, {"a": []}], "k2": null},
				null,
				{"k3": []},
				{"k4": [{"a": [3]}]}
			]`,
		},
		{
			name: "map<string, list<struct<a: list<int>>>>: struct nullable already, nulls kept",
			from: nlMap(nlList(nlStruct("a", nlList(i32T, false), true), false), true),
			to:   nlMap(nlList(nlStruct("a", nlList(i32T, true), true), true), true),
			data: `[{"k1": [{"a": [1, 2]}, {"a": null}], "k2": null}, null]`,
		},
		{
			name: "list<map<string, list<string>>>: every level non-null → nullable",
			from: nlList(nlMap(nlList(strT, false), false), false),
			to:   nlList(nlMap(nlList(strT, true), true), true),
			data: `[
				[{"a": ["x"], "b": []}, {}],
				null,
				[],
				[{"c": ["y", "z"]}]
			]`,
		},
		{
			name: "list<map<string, list<string>>>: innermost only",
			from: nlList(nlMap(nlList(strT, false), true), true),
			to:   nlList(nlMap(nlList(strT, true), true), true),
			data: `[[{"a": ["x"], "b": null}, null], null, [null], []]`,
		},
		{
			name: "struct<m: map<string, list<string>>>: field and inner levels",
			from: nlStruct("m", nlMap(nlList(strT, false), false), false),
			to:   nlStruct("m", nlMap(nlList(strT, true), true), true),
			data: `[{"m": {"a": ["x"]}}, null, {"m": {}}]`,
		},
		{
			name: "map<string, list<int>> with a value cast inside",
			from: nlMap(nlList(i32T, false), true),
			to:   nlMap(nlList(i64T, true), true),
			data: `[{"a": [1, 2], "b": null}, null, {"c": [3]}]`,
		},
		{
			name: "nullable → non-null without nulls",
			from: nlMap(nlList(strT, true), true),
			to:   nlMap(nlList(strT, false), true),
			data: `[{"a": ["x"], "b": null}, null]`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := fromJSON(t, tc.from, tc.data)
			defer in.Release()
			for _, sl := range []struct{ i, j int }{{0, in.Len()}, {1, in.Len()}} {
				src := array.NewSlice(in, int64(sl.i), int64(sl.j))
				defer src.Release()
				got, err := Cast(src, tc.to)
				require.NoError(t, err)
				defer got.Release()
				assert.True(t, arrow.TypeEqual(tc.to, got.DataType()), "type %s", got.DataType())
				want := fromJSON(t, tc.to, tc.data)
				defer want.Release()
				wantSl := array.NewSlice(want, int64(sl.i), int64(sl.j))
				defer wantSl.Release()
				assert.True(t, array.Equal(wantSl, got), "got %s want %s", got, wantSl)
				assert.JSONEq(t, jsonOf(t, src), jsonOf(t, got))
				assert.Equal(t, src.NullN(), got.NullN())
				// Same buffers (validity, offsets) at the top.
				for i, b := range src.Data().Buffers() {
					if b != nil && arrow.IsNested(tc.from.ID()) {
						assert.Same(t, b, got.Data().Buffers()[i], "buffer %d", i)
					}
				}
			}
		})
	}
}

// TestCastNestedNarrowing refuses nullable → non-null where a null is
// referenced, at each depth, and accepts it where the nulls are under a null
// parent.
func TestCastNestedNarrowing(t *testing.T) {
	cases := []struct {
		name     string
		from, to arrow.DataType
		data     string
		path     string // "" = accepted
	}{
		{"list element null", nlList(strT, true), nlList(strT, false), `[["a", null]]`, "element"},
		{"map value null", nlMap(nlList(strT, false), true), nlMap(nlList(strT, false), false), `[{"a": null}]`, "value"},
		{"element in map value", nlMap(nlList(strT, true), true), nlMap(nlList(strT, false), true), `[{"a": ["x", null]}]`, "value.element"},
		{"struct field in list in map", nlMap(nlList(nlStruct("a", nlList(i32T, false), true), false), true),
			nlMap(nlList(nlStruct("a", nlList(i32T, false), false), false), true), `[{"k": [{"a": null}]}]`, "value.element.a"},
		{"deep element", nlList(nlMap(nlList(strT, true), true), true), nlList(nlMap(nlList(strT, false), true), true),
			`[null, [{"a": ["x"]}, {"b": [null]}]]`, "element.value.element"},
		{"struct field null under null struct", nlStruct("a", i32T, true), nlStruct("a", i32T, false), `[{"a": 1}, null]`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := fromJSON(t, tc.from, tc.data)
			defer in.Release()
			got, err := Cast(in, tc.to)
			if tc.path == "" {
				require.NoError(t, err)
				defer got.Release()
				assert.JSONEq(t, jsonOf(t, in), jsonOf(t, got))
				return
			}
			require.ErrorIs(t, err, ErrNullInNonNullable)
			assert.Contains(t, err.Error(), ": "+tc.path)
		})
	}

	// A list null that is not in the slice does not count.
	in := fromJSON(t, nlList(strT, true), `[["a", null], ["b"]]`)
	defer in.Release()
	src := array.NewSlice(in, 1, 2)
	defer src.Release()
	got, err := Cast(src, nlList(strT, false))
	require.NoError(t, err)
	defer got.Release()
	assert.JSONEq(t, `[["b"]]`, jsonOf(t, got))
}

// TestConformNestedNullability is the reader's case: a Spark Parquet column
// map<string, list<string not null>> conformed to the table's
// map<string, list<string>>.
func TestConformNestedNullability(t *testing.T) {
	from := nlMap(nlList(strT, false), true)
	to := nlMap(nlList(strT, true), true)
	col := fromJSON(t, from, `[{"a": ["x"]}, null, {"b": []}]`)
	defer col.Release()
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "m", Type: from, Nullable: true}}, nil), []arrow.Array{col}, 3)
	defer rec.Release()
	target := arrow.NewSchema([]arrow.Field{{Name: "m", Type: to, Nullable: true}}, nil)
	out, err := Conform(rec, target)
	require.NoError(t, err)
	defer out.Release()
	assert.True(t, out.Schema().Equal(target))
	assert.JSONEq(t, jsonOf(t, col), jsonOf(t, out.Column(0)))
}
