package payload_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/stream/payload"
)

func inputs(vals ...string) []payload.Input {
	in := make([]payload.Input, len(vals))
	for i, v := range vals {
		in[i] = payload.Input{Value: []byte(v)}
	}
	return in
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func column(t *testing.T, rec arrow.RecordBatch, name string) arrow.Array {
	t.Helper()
	idx := rec.Schema().FieldIndices(name)
	require.Len(t, idx, 1, "column %s of %v", name, rec.Schema())
	return rec.Column(idx[0])
}

func decodeOK(t *testing.T, opts payload.Options, in []payload.Input, table *arrow.Schema) *payload.Result {
	t.Helper()
	dec, err := payload.NewDecoder(opts)
	require.NoError(t, err)
	res, err := dec.Decode(in, table)
	require.NoError(t, err)
	t.Cleanup(res.Release)
	return res
}

func TestJSONEveryType(t *testing.T) {
	full := func(id int, s string) string {
		return mustJSON(t, map[string]any{"id": id, "i": -9, "f": 1.5, "b": true, "s": s, "o": map[string]any{"x": "ü"},
			"a": []int{1, 2}, "day": "2026-12-06", "ts": "2026-12-06T10:11:12.345678Z"})
	}
	nulls := func(id int) string {
		return fmt.Sprintf(`{"id":%d,"i":null,"f":null,"b":null,"s":null,"o":null,"a":null,"day":null,"ts":null}`, id)
	}
	// Nulls first, between and last (missing or null); an empty, a long and
	// a non-ASCII string; a pretty-printed message.
	in := inputs(nulls(1), full(2, ""), `{"id":3}`, full(4, long), "{\n  \"id\": 5,\n  \"s\": \""+nonASCII+"\", \"f\": 2, \"i\": 0\n}", nulls(6))
	res := decodeOK(t, payload.Options{Format: payload.JSON, InferDates: true}, in, nil)
	require.Empty(t, res.Bad)
	require.Len(t, res.Parts, 1)
	p := res.Parts[0]
	assert.Equal(t, 0, p.From)
	assert.Equal(t, 6, p.To)
	rec := p.Upserts
	require.EqualValues(t, 6, rec.NumRows())
	want := map[string]arrow.DataType{
		"id": arrow.PrimitiveTypes.Int64, "i": arrow.PrimitiveTypes.Int64, "f": arrow.PrimitiveTypes.Float64,
		"b": arrow.FixedWidthTypes.Boolean, "s": arrow.BinaryTypes.String, "o": arrow.BinaryTypes.String,
		"a": arrow.BinaryTypes.String, "day": arrow.FixedWidthTypes.Date32,
		"ts": &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"},
	}
	for name, typ := range want {
		c := column(t, rec, name)
		assert.Equal(t, typ, c.DataType(), name)
		for _, row := range []int{0, 2, 5} {
			if name != "id" {
				assert.True(t, c.IsNull(row), "%s row %d", name, row)
			}
		}
		if name != "id" {
			assert.True(t, c.IsValid(1), "%s", name)
			assert.True(t, c.IsValid(3), "%s", name)
		}
	}
	assert.Equal(t, int64(-9), column(t, rec, "i").(*array.Int64).Value(1))
	assert.Equal(t, int64(0), column(t, rec, "i").(*array.Int64).Value(4))
	assert.Equal(t, 2.0, column(t, rec, "f").(*array.Float64).Value(4))
	assert.True(t, column(t, rec, "b").(*array.Boolean).Value(1))
	s := column(t, rec, "s").(*array.String)
	assert.Equal(t, "", s.Value(1))
	assert.Equal(t, long, s.Value(3))
	assert.Equal(t, nonASCII, s.Value(4))
	assert.Equal(t, `{"x":"ü"}`, column(t, rec, "o").(*array.String).Value(1))
	assert.Equal(t, `[1,2]`, column(t, rec, "a").(*array.String).Value(1))
	assert.Equal(t, arrow.Date32(time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC).Unix()/86400), column(t, rec, "day").(*array.Date32).Value(1))
	assert.Equal(t, arrow.Timestamp(t0.UnixMicro()), column(t, rec, "ts").(*array.Timestamp).Value(1))
}

// Schema evolution over batches: the table's columns keep their types (a
// value that does not fit is a bad message), new fields become new
// nullable columns as they appear, a new field that is only null so far
// waits for a value.
func TestJSONSchemaEvolution(t *testing.T) {
	dec, err := payload.NewDecoder(payload.Options{Format: payload.JSON})
	require.NoError(t, err)
	res1, err := dec.Decode(inputs(`{"id":1,"a":10,"s":"x","later":null}`, `{"id":2,"a":11,"s":"y"}`), nil)
	require.NoError(t, err)
	defer res1.Release()
	require.Empty(t, res1.Bad)
	table := res1.Parts[0].Upserts.Schema()
	require.Equal(t, []string{"a", "id", "s"}, fieldNames(table), "an all-null new field is left out")

	res2, err := dec.Decode(inputs(
		`{"id":3,"a":12,"s":5}`,
		`{"id":4,"a":"twelve","s":"z"}`,
		`{"id":5,"a":13.0,"s":"z","c":"new","later":7}`,
		`{"s":"w","id":6,"a":null}`,
	), table)
	require.NoError(t, err)
	defer res2.Release()
	require.Equal(t, []payload.Bad{{Index: 1, Field: "a", Reason: "want an integer, got \"twelve\""}}, res2.Bad)
	rec := res2.Parts[0].Upserts
	require.Equal(t, []string{"a", "id", "s", "c", "later"}, fieldNames(rec.Schema()), "table columns first, then new ones")
	for i, f := range table.Fields() {
		assert.Equal(t, f.Type, rec.Schema().Field(i).Type, f.Name)
	}
	assert.True(t, rec.Schema().Field(3).Nullable)
	assert.Equal(t, "5", column(t, rec, "s").(*array.String).Value(0), "a number into a string column keeps its text")
	assert.Equal(t, int64(13), column(t, rec, "a").(*array.Int64).Value(1))
	c := column(t, rec, "c").(*array.String)
	assert.True(t, c.IsNull(0))
	assert.Equal(t, "new", c.Value(1))
	assert.True(t, c.IsNull(2))
	assert.Equal(t, int64(7), column(t, rec, "later").(*array.Int64).Value(1))
}

func TestJSONBadMessages(t *testing.T) {
	in := []payload.Input{
		{Value: []byte(`{"id":1}`)},
		{Value: []byte(`{"id":`)},
		{Value: []byte(`[1,2]`)},
		{Value: []byte(``)},
		{Value: []byte(`{"id":2} {"id":3}`)},
		{Value: []byte("{\"id\":4,\"s\":\"bad \xff byte\"}")},
		{Value: nil},
		{Value: []byte(`{"id":5,"ok":true}`)},
		{Value: []byte(`{"id":6,"ok":"yes"}`)},
	}
	table := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true}}, nil)
	res := decodeOK(t, payload.Options{Format: payload.JSON}, in, table)
	assert.Equal(t, 1, res.Tombstones)
	var idx []int
	for _, b := range res.Bad {
		idx = append(idx, b.Index)
		assert.NotEmpty(t, b.Reason, "%d", b.Index)
	}
	assert.Equal(t, []int{1, 2, 3, 4, 5, 8}, idx)
	assert.Equal(t, "not a JSON object", res.Bad[1].Reason)
	assert.Equal(t, "s", res.Bad[4].Field)
	assert.Contains(t, res.Bad[4].Reason, "UTF-8")
	assert.Equal(t, payload.Bad{Index: 8, Field: "ok", Reason: `want true or false, got "yes"`}, res.Bad[5])
	assert.EqualValues(t, 2, res.Parts[0].Upserts.NumRows())
	assert.Equal(t, []int{0, 7}, res.Parts[0].UpsertIndex)
}

// Confluent wire format with JSON: the header is stripped when present,
// and with SchemaID set another id is a bad message.
func TestJSONConfluent(t *testing.T) {
	in := []payload.Input{
		{Value: confluent(5, []byte(`{"id":1}`))},
		{Value: confluent(6, []byte(`{"id":2}`))},
		{Value: []byte(`{"id":3}`)},
		{Value: []byte{0, 1}},
	}
	res := decodeOK(t, payload.Options{Format: payload.JSON, Confluent: true, SchemaID: 5}, in, nil)
	assert.Equal(t, []payload.Bad{
		{Index: 1, Reason: "Confluent schema id 6, want 5"},
		{Index: 3, Reason: "Confluent wire format header of 2 bytes (want 5)"},
	}, res.Bad)
	assert.Equal(t, []int64{1, 3}, column(t, res.Parts[0].Upserts, "id").(*array.Int64).Int64Values())

	res = decodeOK(t, payload.Options{Format: payload.JSON, Confluent: true}, in[:3], nil)
	assert.Empty(t, res.Bad, "SchemaID 0 takes any id")
}

func pgEvent(op string, before, after map[string]any, lsn int) string {
	ev := map[string]any{"op": op, "ts_ms": 1764578400000 + lsn,
		"source": map[string]any{"connector": "postgresql", "lsn": lsn, "ts_ms": 1764578400000 + lsn, "db": "shop", "schema": "public", "table": "users"}}
	if before != nil {
		ev["before"] = before
	}
	if after != nil {
		ev["after"] = after
	}
	b, _ := json.Marshal(ev)
	return string(b)
}

func TestDebeziumWithoutSchema(t *testing.T) {
	in := inputs(
		pgEvent("c", nil, map[string]any{"id": 1, "name": "ann"}, 10),
		pgEvent("u", map[string]any{"id": 1}, map[string]any{"id": 1, "name": nonASCII}, 11),
		"",
		pgEvent("d", map[string]any{"id": 2, "name": "bob"}, nil, 12),
		`{"schema":{"type":"struct"},"payload":null}`,
		`{"op":"m","source":{"lsn":13,"ts_ms":1},"message":{"prefix":"x"}}`,
		`{"op":"t","source":{"connector":"postgresql","lsn":20,"ts_ms":1,"schema":"public","table":"users"},"ts_ms":1}`,
		pgEvent("c", nil, map[string]any{"id": 3, "name": "", "extra": 1.5}, 21),
		pgEvent("x", nil, map[string]any{"id": 4}, 22),
		`{"op":"c","after":{"id":`,
		mustJSON(t, map[string]any{"op": "c", "after": map[string]any{"id": 5}, "source": map[string]any{"file": "mysql-bin.000003", "pos": 154, "ts_ms": 1}}),
	)
	in[2].Value = nil // a Kafka tombstone
	res := decodeOK(t, payload.Options{Format: payload.Debezium}, in, nil)
	assert.Equal(t, 2, res.Tombstones)
	assert.Equal(t, 1, res.Messages)
	require.Len(t, res.Bad, 3)
	assert.Equal(t, payload.Bad{Index: 8, Field: "op", Reason: `unknown operation "x" (want c, r, u, d, t or m)`}, res.Bad[0])
	assert.Equal(t, 9, res.Bad[1].Index)
	assert.Equal(t, 10, res.Bad[2].Index)
	assert.Equal(t, payload.PosField, res.Bad[2].Field)

	require.Len(t, res.Parts, 3)
	p0, tr, p2 := res.Parts[0], res.Parts[1], res.Parts[2]
	assert.Equal(t, [2]int{0, 6}, [2]int{p0.From, p0.To})
	assert.Equal(t, payload.Part{Truncate: true, At: 6, Table: "public.users", From: 6, To: 7}, tr)
	assert.Equal(t, [2]int{7, 11}, [2]int{p2.From, p2.To})

	ups := p0.Upserts
	require.EqualValues(t, 2, ups.NumRows())
	assert.Equal(t, []string{"id", "name", payload.PosField, payload.OpField, payload.TsField}, fieldNames(ups.Schema()))
	assert.Equal(t, "00000000000000000011", column(t, ups, payload.PosField).(*array.String).Value(1))
	assert.Equal(t, "u", column(t, ups, payload.OpField).(*array.String).Value(1))
	assert.Equal(t, int64(1764578400011), column(t, ups, payload.TsField).(*array.Int64).Value(1))
	assert.Equal(t, nonASCII, column(t, ups, "name").(*array.String).Value(1))
	assert.Equal(t, []int{0, 1}, p0.UpsertIndex)
	assert.Equal(t, []int{3}, p0.DeleteIndex)
	assert.Equal(t, []int{7}, p2.UpsertIndex)
	dels := p0.Deletes
	require.EqualValues(t, 1, dels.NumRows())
	assert.Equal(t, int64(2), column(t, dels, "id").(*array.Int64).Value(0))
	assert.Equal(t, "d", column(t, dels, payload.OpField).(*array.String).Value(0))

	require.EqualValues(t, 1, p2.Upserts.NumRows())
	assert.Nil(t, p2.Deletes)
	assert.Equal(t, "", column(t, p2.Upserts, "name").(*array.String).Value(0))
	assert.Equal(t, 1.5, column(t, p2.Upserts, "extra").(*array.Float64).Value(0))
}

func TestDebeziumWithSchema(t *testing.T) {
	line := `{"schema":{"type":"struct","fields":[
	  {"type":"struct","optional":true,"field":"before","fields":[{"type":"int32","field":"id"}]},
	  {"type":"struct","optional":true,"field":"after","fields":[
	    {"type":"int32","optional":false,"field":"id"},
	    {"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"price"},
	    {"type":"boolean","optional":true,"field":"ok"},
	    {"type":"string","optional":true,"field":"s"}]},
	  {"type":"struct","field":"source","fields":[]}]},
	 "payload":{"before":null,"after":{"id":%d,"price":"/zg=","ok":%s,"s":%s},
	  "source":{"connector":"mysql","file":"binlog.000002","pos":%d,"row":0,"ts_ms":9,"db":"shop","table":"items"},"op":"r","ts_ms":10}}`
	in := inputs(fmt.Sprintf(line, 1, "null", `"x"`, 500), fmt.Sprintf(line, 2, "true", "null", 600))
	res := decodeOK(t, payload.Options{Format: payload.Debezium}, in, nil)
	require.Empty(t, res.Bad)
	rec := res.Parts[0].Upserts
	require.EqualValues(t, 2, rec.NumRows())
	assert.Equal(t, arrow.PrimitiveTypes.Int32, column(t, rec, "id").DataType(), "types from the envelope")
	assert.Equal(t, "-2.00", column(t, rec, "price").(*array.String).Value(0))
	assert.Equal(t, arrow.FixedWidthTypes.Boolean, column(t, rec, "ok").DataType())
	assert.True(t, column(t, rec, "ok").IsNull(0))
	assert.True(t, column(t, rec, "s").IsNull(1))
	assert.Equal(t, "0000000002.00000000000000000600.0000000000", column(t, rec, payload.PosField).(*array.String).Value(1))
}

func TestDebeziumSoftDeletesAndOrder(t *testing.T) {
	in := inputs(
		pgEvent("c", nil, map[string]any{"id": 1}, 10),
		pgEvent("d", map[string]any{"id": 1}, nil, 11),
	)
	res := decodeOK(t, payload.Options{Format: payload.Debezium, SoftDeletes: true, Order: payload.OrderTsMs}, in, nil)
	require.Empty(t, res.Bad)
	p := res.Parts[0]
	assert.Nil(t, p.Deletes, "soft deletes are rows")
	require.EqualValues(t, 2, p.Upserts.NumRows())
	del := column(t, p.Upserts, payload.DeletedField).(*array.Boolean)
	assert.False(t, del.Value(0))
	assert.True(t, del.Value(1))
	assert.Equal(t, "00000001764578400011", column(t, p.Upserts, payload.PosField).(*array.String).Value(1), "ordered by ts_ms")
}

// Truncates at the first and last message, and back to back.
func TestDebeziumTruncatePositions(t *testing.T) {
	tr := `{"op":"t","source":{"lsn":20,"ts_ms":1,"schema":"public","table":"users"},"ts_ms":1}`
	row := pgEvent("c", nil, map[string]any{"id": 1}, 30)
	res := decodeOK(t, payload.Options{Format: payload.Debezium}, inputs(tr, row, tr, tr, row, tr), nil)
	var got []string
	for _, p := range res.Parts {
		if p.Truncate {
			got = append(got, fmt.Sprintf("t@%d", p.At))
		} else {
			got = append(got, fmt.Sprintf("rows[%d,%d)=%d", p.From, p.To, p.Upserts.NumRows()))
		}
	}
	assert.Equal(t, []string{"t@0", "rows[1,2)=1", "t@2", "t@3", "rows[4,5)=1", "t@5"}, got)
}

func TestDebeziumKeyFieldsAndSource(t *testing.T) {
	fs, err := payload.DebeziumKeyFields([]byte(`{"id":1,"tenant":"a"}`))
	require.NoError(t, err)
	assert.Equal(t, []string{"id", "tenant"}, fs)
	withSchema := `{"schema":{"type":"struct","name":"shop.public.users.Key","fields":[{"type":"int32","optional":false,"field":"tenant"},{"type":"int32","optional":false,"field":"id"}]},"payload":{"id":1,"tenant":2}}`
	fs, err = payload.DebeziumKeyFields([]byte(withSchema))
	require.NoError(t, err)
	assert.Equal(t, []string{"tenant", "id"}, fs)
	fs, err = payload.DebeziumKeyFields(confluent(3, []byte(`{"k":1}`)))
	require.NoError(t, err)
	assert.Equal(t, []string{"k"}, fs)
	for _, k := range []string{``, `null`, `[1]`, `{}`, `{"id":`} {
		_, err := payload.DebeziumKeyFields([]byte(k))
		assert.Error(t, err, k)
	}

	db, sch, table, err := payload.DebeziumSource([]byte(pgEvent("c", nil, map[string]any{"id": 1}, 1)))
	require.NoError(t, err)
	assert.Equal(t, []string{"shop", "public", "users"}, []string{db, sch, table})
	db, sch, table, err = payload.DebeziumSource([]byte(`{"schema":{},"payload":{"op":"c","source":{"db":"inv","table":"items"}}}`))
	require.NoError(t, err)
	assert.Equal(t, []string{"inv", "", "items"}, []string{db, sch, table})
	_, _, _, err = payload.DebeziumSource(nil)
	assert.ErrorIs(t, err, payload.ErrNoSource)
	_, _, _, err = payload.DebeziumSource([]byte(`{"schema":{},"payload":null}`))
	assert.ErrorIs(t, err, payload.ErrNoSource)
	_, _, _, err = payload.DebeziumSource([]byte(`{"op":"c","source":{"table":5}}`))
	assert.Error(t, err)
	_, _, _, err = payload.DebeziumSource([]byte(`not json`))
	assert.Error(t, err)
}

func TestDecodeEmpty(t *testing.T) {
	for _, f := range []payload.Format{payload.JSON, payload.Debezium} {
		res := decodeOK(t, payload.Options{Format: f}, nil, nil)
		assert.Empty(t, res.Bad)
		for _, p := range res.Parts {
			assert.Nil(t, p.Upserts)
		}
	}
	res := decodeOK(t, payload.Options{Format: payload.JSON}, inputs(strings.Repeat(" ", 3)), nil)
	require.Len(t, res.Bad, 1)
	assert.Nil(t, res.Parts[0].Upserts)
}

// JSON into a table's typed columns (as a table created from an Avro
// schema has them), nulls first, between and last.
func TestJSONTableTypes(t *testing.T) {
	table := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "tsm", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	in := inputs(
		`{"id":1}`,
		`{"id":2,"i32":-5,"f32":0.5,"day":"2026-12-06","tsm":"2026-12-06T10:11:12.345Z","s":""}`,
		`{"id":3,"i32":null,"f32":null,"day":null,"tsm":null,"s":null}`,
		`{"id":4,"i32":7,"f32":3,"day":20428,"tsm":1765015872345,"s":{"n":[1]}}`,
		`{"id":5,"i32":3000000000}`,
		`{"id":6}`,
	)
	res := decodeOK(t, payload.Options{Format: payload.JSON}, in, table)
	require.Equal(t, []payload.Bad{{Index: 4, Field: "i32", Reason: "3000000000 does not fit int32"}}, res.Bad)
	rec := res.Parts[0].Upserts
	require.EqualValues(t, 5, rec.NumRows())
	assert.Equal(t, []int{0, 1, 2, 3, 5}, res.Parts[0].UpsertIndex)
	for i, f := range table.Fields() {
		assert.Equal(t, f.Type, rec.Schema().Field(i).Type, f.Name)
		if f.Name == "id" {
			continue
		}
		for _, row := range []int{0, 2, 4} {
			assert.True(t, rec.Column(i).IsNull(row), "%s row %d", f.Name, row)
		}
		assert.True(t, rec.Column(i).IsValid(1), f.Name)
		assert.True(t, rec.Column(i).IsValid(3), f.Name)
	}
	assert.Equal(t, int32(-5), column(t, rec, "i32").(*array.Int32).Value(1))
	assert.Equal(t, float32(3), column(t, rec, "f32").(*array.Float32).Value(3))
	assert.Equal(t, arrow.Date32(20428), column(t, rec, "day").(*array.Date32).Value(3))
	assert.Equal(t, arrow.Timestamp(t0.Truncate(time.Millisecond).UnixMilli()), column(t, rec, "tsm").(*array.Timestamp).Value(1))
	assert.Equal(t, `{"n":[1]}`, column(t, rec, "s").(*array.String).Value(3))
}
