package payload_test

import (
	"encoding/binary"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/stream/payload"
)

type inner struct {
	X int32   `avro:"x"`
	Y *string `avro:"y"`
}

// event is the Go side of testdata/event.avsc.
type event struct {
	ID   int64              `avro:"id"`
	B    *bool              `avro:"b"`
	I    *int32             `avro:"i"`
	L    *int64             `avro:"l"`
	F    *float32           `avro:"f"`
	D    *float64           `avro:"d"`
	S    *string            `avro:"s"`
	By   []byte             `avro:"by"`
	Fx   *[4]byte           `avro:"fx"`
	Dec  *big.Rat           `avro:"dec"`
	FDec *[8]byte           `avro:"fdec"`
	Day  *time.Time         `avro:"day"`
	TsM  *time.Time         `avro:"tsm"`
	TsU  *time.Time         `avro:"tsu"`
	U    *string            `avro:"u"`
	E    *string            `avro:"e"`
	Arr  []int64            `avro:"arr"`
	M    *map[string]string `avro:"m"`
	Rec  *inner             `avro:"rec"`
}

func ptr[T any](v T) *T { return &v }

func schemaFile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/event.avsc")
	require.NoError(t, err)
	return string(b)
}

func marshal(t *testing.T, js string, v any) []byte {
	t.Helper()
	s, err := avro.Parse(js)
	require.NoError(t, err)
	b, err := avro.Marshal(s, v)
	require.NoError(t, err)
	return b
}

func confluent(id int32, body []byte) []byte {
	out := binary.BigEndian.AppendUint32([]byte{0}, uint32(id))
	return append(out, body...)
}

var (
	long     = strings.Repeat("long value ", 2000)
	nonASCII = "Grüße, 東京 🚀"
	t0       = time.Date(2026, 12, 6, 10, 11, 12, 345678000, time.UTC)
)

// fullEvent has every field set.
func fullEvent(id int64, s string) event {
	return event{ID: id, B: ptr(true), I: ptr(int32(-7)), L: ptr(int64(1) << 40), F: ptr(float32(1.5)), D: ptr(-2.25),
		S: ptr(s), By: []byte{0, 1, 2}, Fx: &[4]byte{1, 2, 3, 4}, Dec: big.NewRat(-12345, 100), FDec: (*[8]byte)(binary.BigEndian.AppendUint64(nil, 1234567)),
		Day: ptr(time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)), TsM: ptr(t0.Truncate(time.Millisecond)), TsU: ptr(t0),
		U: ptr("6f1c1c1e-8a8c-4a55-9d51-3b0f7b4b2f10"), E: ptr("GREEN"), Arr: []int64{1, 2, 3},
		M: &map[string]string{"k": nonASCII}, Rec: &inner{X: 5, Y: ptr("y")}}
}

func TestAvroRoundTripEveryType(t *testing.T) {
	js := schemaFile(t)
	// Nulls first, between and last; empty, long and non-ASCII strings.
	evs := []event{{ID: 1}, fullEvent(2, ""), {ID: 3}, fullEvent(4, long), fullEvent(5, nonASCII), {ID: 6}}
	var in []payload.Input
	for _, e := range evs {
		in = append(in, payload.Input{Value: marshal(t, js, e)})
	}
	dec, err := payload.NewDecoder(payload.Options{Format: payload.Avro, AvroSchema: js})
	require.NoError(t, err)
	res, err := dec.Decode(in, nil)
	require.NoError(t, err)
	defer res.Release()
	require.Empty(t, res.Bad)
	require.Len(t, res.Parts, 1)
	rec := res.Parts[0].Upserts
	require.NotNil(t, rec)
	require.Nil(t, res.Parts[0].Deletes)
	require.EqualValues(t, len(evs), rec.NumRows())

	col := func(name string) arrow.Array {
		idx := rec.Schema().FieldIndices(name)
		require.Len(t, idx, 1, name)
		return rec.Column(idx[0])
	}
	names := []string{"id", "b", "i", "l", "f", "d", "s", "by", "fx", "dec", "fdec", "day", "tsm", "tsu", "u", "e", "arr", "m", "rec"}
	for i, f := range rec.Schema().Fields() {
		assert.Equal(t, names[i], f.Name)
		assert.True(t, f.Nullable, f.Name)
	}
	// The project's Avro→Arrow mapping.
	assert.Equal(t, arrow.PrimitiveTypes.Int32, col("i").DataType())
	assert.Equal(t, arrow.PrimitiveTypes.Float32, col("f").DataType())
	assert.Equal(t, &arrow.Decimal128Type{Precision: 10, Scale: 2}, col("dec").DataType())
	assert.Equal(t, arrow.FixedWidthTypes.Date32, col("day").DataType())
	assert.Equal(t, &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, col("tsm").DataType())
	assert.Equal(t, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, col("tsu").DataType())
	assert.Equal(t, arrow.BinaryTypes.String, col("e").DataType())

	for _, name := range names[1:] {
		c := col(name)
		for _, row := range []int{0, 2, 5} {
			if name == "l" {
				continue // ["long","null"] with a Go nil pointer is null too
			}
			assert.True(t, c.IsNull(row), "%s row %d", name, row)
		}
		for _, row := range []int{1, 3, 4} {
			assert.True(t, c.IsValid(row), "%s row %d", name, row)
		}
	}
	assert.Equal(t, []int64{1, 2, 3, 4, 5, 6}, col("id").(*array.Int64).Int64Values())
	assert.True(t, col("b").(*array.Boolean).Value(1))
	assert.Equal(t, int32(-7), col("i").(*array.Int32).Value(1))
	assert.Equal(t, int64(1)<<40, col("l").(*array.Int64).Value(1))
	assert.Equal(t, float32(1.5), col("f").(*array.Float32).Value(1))
	assert.Equal(t, -2.25, col("d").(*array.Float64).Value(1))
	s := col("s").(*array.String)
	assert.Equal(t, "", s.Value(1))
	assert.True(t, s.IsValid(1), "an empty string is not null")
	assert.Equal(t, long, s.Value(3))
	assert.Equal(t, nonASCII, s.Value(4))
	assert.Equal(t, []byte{0, 1, 2}, col("by").(*array.Binary).Value(1))
	assert.Equal(t, []byte{1, 2, 3, 4}, col("fx").(*array.FixedSizeBinary).Value(1))
	assert.Equal(t, decimal128.FromI64(-12345), col("dec").(*array.Decimal128).Value(1))
	assert.Equal(t, decimal128.FromI64(1234567), col("fdec").(*array.Decimal128).Value(1))
	assert.Equal(t, arrow.Date32(time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC).Unix()/86400), col("day").(*array.Date32).Value(1))
	assert.Equal(t, arrow.Timestamp(t0.UnixMilli()), col("tsm").(*array.Timestamp).Value(1))
	assert.Equal(t, arrow.Timestamp(t0.UnixMicro()), col("tsu").(*array.Timestamp).Value(1))
	assert.Equal(t, "6f1c1c1e-8a8c-4a55-9d51-3b0f7b4b2f10", col("u").(*array.String).Value(1))
	assert.Equal(t, "GREEN", col("e").(*array.String).Value(1))
	arr := col("arr").(*array.List)
	start, end := arr.ValueOffsets(1)
	assert.Equal(t, []int64{1, 2, 3}, arr.ListValues().(*array.Int64).Int64Values()[start:end])
	m := col("m").(*array.Map)
	ms, _ := m.ValueOffsets(4)
	assert.Equal(t, "k", m.Keys().(*array.String).Value(int(ms)))
	assert.Equal(t, nonASCII, m.Items().(*array.String).Value(int(ms)))
	st := col("rec").(*array.Struct)
	assert.Equal(t, int32(5), st.Field(0).(*array.Int32).Value(1))
	assert.Equal(t, "y", st.Field(1).(*array.String).Value(1))
}

// The table's types win: an Avro int into a table's int64 column, a long
// into a string column, a decimal into a wider decimal; a value that does
// not fit is a bad message.
func TestAvroTableTypes(t *testing.T) {
	js := schemaFile(t)
	table := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "l", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "dec", Type: &arrow.Decimal128Type{Precision: 20, Scale: 4}, Nullable: true},
		{Name: "tsu", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "rec", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "b", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	dec, err := payload.NewDecoder(payload.Options{Format: payload.Avro, AvroSchema: js})
	require.NoError(t, err)
	good := fullEvent(1, "x")
	good.B = nil
	bad := fullEvent(2, "x") // b: a boolean into an int64 column
	res, err := dec.Decode([]payload.Input{{Value: marshal(t, js, good)}, {Value: marshal(t, js, bad)}}, table)
	require.NoError(t, err)
	defer res.Release()
	require.Equal(t, []payload.Bad{{Index: 1, Field: "b", Reason: "Avro boolean value cannot be stored in a int64 column"}}, res.Bad)
	rec := res.Parts[0].Upserts
	require.EqualValues(t, 1, rec.NumRows())
	for i, f := range table.Fields() {
		assert.Equal(t, f, rec.Schema().Field(i), "table columns first, with the table's types")
	}
	assert.Equal(t, int64(-7), rec.Column(1).(*array.Int64).Value(0))
	assert.Equal(t, "1099511627776", rec.Column(2).(*array.String).Value(0))
	assert.Equal(t, decimal128.FromI64(-1234500), rec.Column(3).(*array.Decimal128).Value(0))
	assert.Equal(t, arrow.Timestamp(t0.UnixMilli()), rec.Column(4).(*array.Timestamp).Value(0))
	assert.Equal(t, `{"x":5,"y":"y"}`, rec.Column(5).(*array.String).Value(0))
	// New fields follow, nullable.
	assert.Equal(t, "f", rec.Schema().Field(len(table.Fields())).Name)
}

func TestAvroBadMessages(t *testing.T) {
	js := schemaFile(t)
	body := marshal(t, js, fullEvent(1, nonASCII))
	dec, err := payload.NewDecoder(payload.Options{Format: payload.Avro, AvroSchema: js})
	require.NoError(t, err)
	badUTF8 := marshal(t, js, event{ID: 9, S: ptr("ok\xffno")})
	in := []payload.Input{
		{Value: body},
		{Value: body[:len(body)-3]},                   // truncated
		{Value: append(append([]byte{}, body...), 7)}, // trailing byte
		{Value: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}}, // an id of absurd length
		{Value: nil}, // tombstone
		{Value: badUTF8},
		{Value: []byte{2, 3}}, // id 1, then union branch 3 of 2
	}
	res, err := dec.Decode(in, nil)
	require.NoError(t, err)
	defer res.Release()
	assert.Equal(t, 1, res.Tombstones)
	require.Len(t, res.Bad, 5)
	got := map[int]payload.Bad{}
	for _, b := range res.Bad {
		got[b.Index] = b
		assert.NotEmpty(t, b.Reason)
	}
	assert.Contains(t, got[1].Reason, "ends early")
	assert.Contains(t, got[2].Reason, "trailing bytes")
	assert.Contains(t, got[3].Reason, "Avro body")
	assert.Equal(t, "s", got[5].Field)
	assert.Contains(t, got[5].Reason, "UTF-8")
	assert.Equal(t, "b", got[6].Field)
	assert.Contains(t, got[6].Reason, "union branch")
	require.EqualValues(t, 1, res.Parts[0].Upserts.NumRows())
	assert.Equal(t, []int{0}, res.Parts[0].UpsertIndex)
}

// Confluent wire format: the schema id picks the writer schema; a message
// with an unknown id, or without the header, is a bad message. A second
// schema (a new field) evolves the batch with a new nullable column.
func TestAvroConfluentSchemas(t *testing.T) {
	v1 := `{"type":"record","name":"R","fields":[{"name":"id","type":"long"},{"name":"a","type":["null","string"]}]}`
	v2 := `{"type":"record","name":"R","fields":[{"name":"id","type":"long"},{"name":"a","type":["null","string"]},{"name":"c","type":["null","double"]}]}`
	type r1 struct {
		ID int64   `avro:"id"`
		A  *string `avro:"a"`
	}
	type r2 struct {
		ID int64    `avro:"id"`
		A  *string  `avro:"a"`
		C  *float64 `avro:"c"`
	}
	_, err := payload.NewDecoder(payload.Options{Format: payload.Avro, AvroSchema: v1, Confluent: true})
	require.Error(t, err, "Confluent Avro with a schema file needs its id")
	dec, err := payload.NewDecoder(payload.Options{Format: payload.Avro, AvroSchema: v1, SchemaID: 7, Confluent: true,
		AvroSchemas: map[int32]string{8: v2}})
	require.NoError(t, err)
	in := []payload.Input{
		{Value: confluent(7, marshal(t, v1, r1{ID: 1, A: ptr("x")}))},
		{Value: confluent(9, marshal(t, v1, r1{ID: 2}))},
		{Value: confluent(8, marshal(t, v2, r2{ID: 3, C: ptr(1.5)}))},
		{Value: marshal(t, v1, r1{ID: 4})},
		{Value: []byte{0, 0, 7}},
	}
	res, err := dec.Decode(in, nil)
	require.NoError(t, err)
	defer res.Release()
	require.Equal(t, []payload.Bad{
		{Index: 1, Reason: "Confluent schema id 9: unknown (the schemas given have ids 7, 8)"},
		{Index: 3, Reason: "not in the Confluent wire format (no magic byte 0)"},
		{Index: 4, Reason: "Confluent wire format header of 3 bytes (want 5)"},
	}, res.Bad)
	rec := res.Parts[0].Upserts
	require.EqualValues(t, 2, rec.NumRows())
	require.Equal(t, []string{"id", "a", "c"}, fieldNames(rec.Schema()))
	assert.True(t, rec.Column(2).IsNull(0))
	assert.Equal(t, 1.5, rec.Column(2).(*array.Float64).Value(1))
}

func fieldNames(s *arrow.Schema) []string {
	var out []string
	for _, f := range s.Fields() {
		out = append(out, f.Name)
	}
	return out
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []payload.Options{
		{},
		{Format: "xml"},
		{Format: payload.Avro},
		{Format: payload.JSON, AvroSchema: "{}"},
		{Format: payload.Avro, AvroSchema: "{}", AvroSchemas: map[int32]string{1: "{}"}},
		{Format: payload.JSON, SchemaID: 3},
		{Format: payload.Debezium, Order: "lsn"},
	} {
		_, err := payload.NewDecoder(o)
		assert.Error(t, err, "%+v", o)
	}
	_, err := payload.NewDecoder(payload.Options{Format: payload.Avro, AvroSchema: `{"type":"record","name":"R","fields":[{"name":"t","type":{"type":"int","logicalType":"time-millis"}}]}`})
	assert.Error(t, err, "a type the table model does not hold")
	_, err = payload.NewDecoder(payload.Options{Format: payload.Avro, AvroSchema: `"string"`})
	assert.Error(t, err)
}

// Strings longer than hamba's default bound (1 MiB) decode.
func TestAvroLargeString(t *testing.T) {
	js := schemaFile(t)
	big := strings.Repeat("ü", 1<<20)
	dec, err := payload.NewDecoder(payload.Options{Format: payload.Avro, AvroSchema: js})
	require.NoError(t, err)
	res, err := dec.Decode([]payload.Input{{Value: marshal(t, js, event{ID: 1, S: &big})}}, nil)
	require.NoError(t, err)
	defer res.Release()
	require.Empty(t, res.Bad)
	idx := res.Parts[0].Upserts.Schema().FieldIndices("s")
	assert.Equal(t, big, res.Parts[0].Upserts.Column(idx[0]).(*array.String).Value(0))
}
