package logfile_test

import (
	"bytes"
	"encoding/binary"
	"math/big"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/internal/schema"
)

// richSchema covers every type of the schema model, nullable and not.
const richSchema = `{"type":"record","name":"t_record","namespace":"hoodie.t","fields":[
{"name":"_hoodie_commit_time","type":["null","string"],"doc":"","default":null},
{"name":"_hoodie_commit_seqno","type":["null","string"],"doc":"","default":null},
{"name":"_hoodie_record_key","type":["null","string"],"doc":"","default":null},
{"name":"_hoodie_partition_path","type":["null","string"],"doc":"","default":null},
{"name":"_hoodie_file_name","type":["null","string"],"doc":"","default":null},
{"name":"id","type":"int"},
{"name":"l","type":["null","long"],"default":null},
{"name":"b","type":["null","boolean"],"default":null},
{"name":"f","type":["null","float"],"default":null},
{"name":"d","type":["null","double"],"default":null},
{"name":"s","type":["null","string"],"default":null},
{"name":"bin","type":["null","bytes"],"default":null},
{"name":"dec","type":["null",{"type":"fixed","name":"fixed","namespace":"hoodie.t.t_record.dec","size":5,"logicalType":"decimal","precision":10,"scale":5}],"default":null},
{"name":"dt","type":["null",{"type":"int","logicalType":"date"}],"default":null},
{"name":"ts","type":["null",{"type":"long","logicalType":"timestamp-micros"}],"default":null},
{"name":"arr","type":["null",{"type":"array","items":["null",{"type":"record","name":"arr","namespace":"hoodie.t.t_record","fields":[{"name":"a1","type":["null","string"],"default":null},{"name":"a2","type":["null","int"],"default":null}]}]}],"default":null},
{"name":"m","type":["null",{"type":"map","values":["null","double"]}],"default":null},
{"name":"st","type":["null",{"type":"record","name":"st","namespace":"hoodie.t.t_record","fields":[{"name":"x","type":["null","string"],"default":null},{"name":"child","type":["null",{"type":"record","name":"child","namespace":"hoodie.t.t_record.st","fields":[{"name":"y","type":["null","boolean"],"default":null}]}],"default":null}]}],"default":null}
]}`

const richRows = `[
{"_hoodie_commit_time":"20250101000000000","_hoodie_commit_seqno":"20250101000000000_0_1","_hoodie_record_key":"1","_hoodie_partition_path":"p=a","_hoodie_file_name":"f-0",
 "id":1,"l":-9876543210,"b":true,"f":1.5,"d":-3.25,"s":"héllo","bin":"AAEC","dec":"12345.67890","dt":19448,"ts":1680350460123456,
 "arr":[{"a1":"red","a2":100},null,{"a1":null,"a2":-3}],"m":[{"key":"k1","value":1.5},{"key":"k2","value":null}],
 "st":{"x":"Alice","child":{"y":false}}},
{"_hoodie_commit_time":"20250101000000000","_hoodie_commit_seqno":"20250101000000000_0_2","_hoodie_record_key":"2","_hoodie_partition_path":"p=a","_hoodie_file_name":"f-0",
 "id":2,"l":null,"b":null,"f":null,"d":null,"s":null,"bin":null,"dec":"-0.00001","dt":null,"ts":null,"arr":[],"m":[],"st":{"x":null,"child":null}},
{"_hoodie_commit_time":null,"_hoodie_commit_seqno":null,"_hoodie_record_key":null,"_hoodie_partition_path":null,"_hoodie_file_name":null,
 "id":-2147483648,"l":9223372036854775807,"b":false,"f":0,"d":0,"s":"","bin":"","dec":null,"dt":-1,"ts":-1,"arr":null,"m":null,"st":null}
]`

func richRecord(t *testing.T) arrow.RecordBatch {
	t.Helper()
	s, err := schema.ParseAvro([]byte(richSchema))
	require.NoError(t, err)
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, s.ToArrowWithMeta(), strings.NewReader(richRows))
	require.NoError(t, err)
	t.Cleanup(rec.Release)
	return rec
}

func TestAvroDataRoundTrip(t *testing.T) {
	rec := richRecord(t)
	var buf bytes.Buffer
	blk := logfile.NewAvroDataBlock("20250101000000000", richSchema, rec, rec.NewSlice(1, 3))
	n, err := logfile.WriteBlock(&buf, blk)
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), n)
	data := buf.Bytes()

	// Framing per §5.
	assert.Equal(t, "#HUDI#", string(data[:6]))
	blockSize := int64(binary.BigEndian.Uint64(data[6:]))
	assert.Equal(t, int64(len(data))-14, blockSize)
	assert.Equal(t, uint32(1), binary.BigEndian.Uint32(data[14:]))
	assert.Equal(t, uint32(logfile.AvroDataBlock), binary.BigEndian.Uint32(data[18:]))
	assert.Equal(t, uint64(6+blockSize), binary.BigEndian.Uint64(data[len(data)-8:]))
	assert.Equal(t, []byte{0, 0, 0, 0}, data[len(data)-12:len(data)-8], "empty footer")

	blocks := readAll(t, data)
	require.Len(t, blocks, 1)
	got := blocks[0]
	assert.Equal(t, logfile.AvroDataBlock, got.Type)
	assert.Equal(t, blk.Header, got.Header)
	require.Len(t, got.Records, 1)
	require.Equal(t, int64(5), got.Records[0].NumRows())

	// Content: version 3, record count 5, then length-prefixed datums that
	// hamba/avro decodes with the header schema.
	c := got.Content
	assert.Equal(t, uint32(3), binary.BigEndian.Uint32(c))
	assert.Equal(t, uint32(5), binary.BigEndian.Uint32(c[4:]))
	as, err := avro.Parse(richSchema)
	require.NoError(t, err)
	c = c[8:]
	var keys []any
	for range 5 {
		l := binary.BigEndian.Uint32(c)
		var m map[string]any
		require.NoError(t, avro.Unmarshal(as, c[4:4+l], &m))
		keys = append(keys, m["_hoodie_record_key"])
		c = c[4+l:]
	}
	assert.Empty(t, c)
	assert.Equal(t, []any{"1", "2", nil, "2", nil}, keys)

	want := []arrow.RecordBatch{rec, rec.NewSlice(1, 3)}
	defer want[1].Release()
	row := 0
	for _, w := range want {
		part := got.Records[0].NewSlice(int64(row), int64(row)+w.NumRows())
		assert.True(t, array.RecordEqual(w, part), "rows %d..: got %v want %v", row, part, w)
		part.Release()
		row += int(w.NumRows())
	}

	// Re-writing what was read gives the same bytes.
	var again bytes.Buffer
	_, err = logfile.WriteBlock(&again, got)
	require.NoError(t, err)
	assert.Equal(t, data, again.Bytes())
}

func TestAvroDataWriteErrors(t *testing.T) {
	rec := richRecord(t)
	_, err := logfile.WriteBlock(&bytes.Buffer{}, logfile.Block{Type: logfile.AvroDataBlock, Records: []arrow.RecordBatch{rec}})
	assert.ErrorIs(t, err, logfile.ErrInvalidBlock, "no SCHEMA header")

	// A record lacking a schema column.
	narrow := rec.NewSlice(0, 1)
	defer narrow.Release()
	cols := narrow.Columns()[:5]
	sub := array.NewRecordBatch(arrow.NewSchema(narrow.Schema().Fields()[:5], nil), cols, 1)
	defer sub.Release()
	_, err = logfile.WriteBlock(&bytes.Buffer{}, logfile.NewAvroDataBlock("1", richSchema, sub))
	assert.ErrorIs(t, err, logfile.ErrInvalidBlock)

	// Unions with null second and enums are refused rather than mis-coded.
	_, err = logfile.WriteBlock(&bytes.Buffer{}, logfile.NewAvroDataBlock("1",
		`{"type":"record","name":"r","fields":[{"name":"a","type":["int","null"]}]}`))
	assert.ErrorIs(t, err, logfile.ErrUnsupported)
	_, err = logfile.WriteBlock(&bytes.Buffer{}, logfile.NewAvroDataBlock("1",
		`{"type":"record","name":"r","fields":[{"name":"a","type":{"type":"enum","name":"e","symbols":["A"]}}]}`))
	assert.ErrorIs(t, err, logfile.ErrUnsupported)
}

// tripsSchema is the 829-byte record schema of the quickstart trips table,
// as Spark wrote it in the header of the Avro sample's data block.
const tripsSchema = `{"type":"record","name":"v6_trips_8i1u_record","namespace":"hoodie.v6_trips_8i1u","fields":[` +
	`{"name":"_hoodie_commit_time","type":["null","string"],"doc":"","default":null},` +
	`{"name":"_hoodie_commit_seqno","type":["null","string"],"doc":"","default":null},` +
	`{"name":"_hoodie_record_key","type":["null","string"],"doc":"","default":null},` +
	`{"name":"_hoodie_partition_path","type":["null","string"],"doc":"","default":null},` +
	`{"name":"_hoodie_file_name","type":["null","string"],"doc":"","default":null},` +
	`{"name":"ts","type":["null","long"],"default":null},{"name":"uuid","type":["null","string"],"default":null},` +
	`{"name":"rider","type":["null","string"],"default":null},{"name":"driver","type":["null","string"],"default":null},` +
	`{"name":"fare","type":["null","double"],"default":null},{"name":"city","type":["null","string"],"default":null}]}`

// TestSparkDeleteBlockLayout rebuilds the 1098-byte Spark delete block of
// hudi-format.md §5 (SQL DELETE of three trips) and checks it byte by byte.
func TestSparkDeleteBlockLayout(t *testing.T) {
	require.Len(t, tripsSchema, 829)
	keys := []string{"334e26e9-8355-45cc-97c6-c31daf0df330", "e96c4396-3fad-413a-a942-4cb36106d721", "1dced545-862b-4ceb-8b43-d2a568f6616b"}
	var dels []logfile.DeleteRecord
	for _, k := range keys {
		dels = append(dels, logfile.DeleteRecord{RecordKey: k, PartitionPath: "city=san_francisco"})
	}
	blk := logfile.Block{Type: logfile.DeleteBlock, Deletes: dels,
		Header: logfile.Headers{{Key: logfile.SchemaHeader, Value: tripsSchema}, {Key: logfile.InstantTime, Value: "20250618054714114"}}}
	var buf bytes.Buffer
	n, err := logfile.WriteBlock(&buf, blk)
	require.NoError(t, err)
	b := buf.Bytes()
	require.Equal(t, int64(1098), n)
	require.Len(t, b, 1098)

	var want bytes.Buffer
	want.WriteString("#HUDI#")
	want.Write([]byte{0, 0, 0, 0, 0, 0, 0x04, 0x3C, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0x03, 0x3D})
	want.WriteString(tripsSchema)
	want.Write([]byte{0, 0, 0, 0, 0, 0, 0, 0x11})
	want.WriteString("20250618054714114")
	want.Write([]byte{0, 0, 0, 0, 0, 0, 0, 0xBE, 0, 0, 0, 3, 0, 0, 0, 0xB6, 0x06})
	for _, k := range keys {
		want.Write([]byte{0x02, 0x48})
		want.WriteString(k)
		want.Write([]byte{0x02, 0x24})
		want.WriteString("city=san_francisco")
		want.Write([]byte{0x04, 0x00})
	}
	want.Write([]byte{0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x04, 0x42})
	assert.Equal(t, want.Bytes(), b)

	got := readAll(t, b)
	require.Len(t, got, 1)
	assert.Equal(t, logfile.DeleteBlock, got[0].Type)
	assert.Equal(t, "20250618054714114", got[0].Header.Value(logfile.InstantTime))
	require.Len(t, got[0].Deletes, 3)
	for i, d := range got[0].Deletes {
		assert.Equal(t, logfile.DeleteRecord{RecordKey: keys[i], PartitionPath: "city=san_francisco", OrderingVal: int32(0)}, d)
	}
}

func TestDeleteRoundTrip(t *testing.T) {
	dels := []logfile.DeleteRecord{
		{RecordKey: "k0", PartitionPath: "", OrderingVal: logfile.NullOrdering},
		{RecordKey: "k1", PartitionPath: "p", OrderingVal: true},
		{RecordKey: "k2", PartitionPath: "p", OrderingVal: int32(-7)},
		{RecordKey: "k3", PartitionPath: "p", OrderingVal: int64(1 << 40)},
		{RecordKey: "k4", PartitionPath: "p", OrderingVal: float32(1.5)},
		{RecordKey: "k5", PartitionPath: "p", OrderingVal: -2.25},
		{RecordKey: "k6", PartitionPath: "p", OrderingVal: []byte{1, 2, 3}},
		{RecordKey: "k7", PartitionPath: "p", OrderingVal: "zz"},
		{RecordKey: "k8", PartitionPath: "p", OrderingVal: logfile.Date(19448)},
		{RecordKey: "k9", PartitionPath: "p", OrderingVal: logfile.Decimal{Unscaled: big.NewInt(-123456789012345)}},
		{RecordKey: "k10", PartitionPath: "p", OrderingVal: logfile.TimeMicros(3600e6)},
		{RecordKey: "k11", PartitionPath: "p", OrderingVal: logfile.TimestampMicros(1680350460123456)},
		{RecordKey: "k12", PartitionPath: "p/q", OrderingVal: nil},
	}
	var buf bytes.Buffer
	_, err := logfile.WriteBlock(&buf, logfile.NewDeleteBlock("20250101000000001", "", dels))
	require.NoError(t, err)
	got := readAll(t, buf.Bytes())
	require.Len(t, got, 1)
	want := append([]logfile.DeleteRecord(nil), dels...)
	want[0].OrderingVal = nil
	want[12].OrderingVal = int32(0) // nil is written as IntWrapper 0
	assert.Equal(t, want, got[0].Deletes)
	assert.Equal(t, logfile.Headers{{Key: logfile.InstantTime, Value: "20250101000000001"}}, got[0].Header)

	// hamba/avro reads the list with the Hudi schema.
	as, err := avro.Parse(logfile.DeleteRecordListSchema)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, avro.Unmarshal(as, got[0].Content[8:], &m))
	list := m["deleteRecordList"].([]any)
	require.Len(t, list, len(dels))
	assert.Equal(t, "k3", list[3].(map[string]any)["recordKey"])

	_, err = logfile.WriteBlock(&bytes.Buffer{}, logfile.NewDeleteBlock("1", "", []logfile.DeleteRecord{{RecordKey: "k", OrderingVal: 3}}))
	assert.ErrorIs(t, err, logfile.ErrInvalidBlock, "Go int has no Avro branch")

	// An empty delete block holds an empty array.
	buf.Reset()
	_, err = logfile.WriteBlock(&buf, logfile.NewDeleteBlock("2", "", nil))
	require.NoError(t, err)
	got = readAll(t, buf.Bytes())
	require.Len(t, got, 1)
	assert.Empty(t, got[0].Deletes)
	assert.Equal(t, []byte{0, 0, 0, 3, 0, 0, 0, 1, 0}, got[0].Content)
}

func TestRollbackBlock(t *testing.T) {
	var buf bytes.Buffer
	n, err := logfile.WriteBlock(&buf, logfile.NewRollbackBlock("20250126040936578", "20250126040826878"))
	require.NoError(t, err)
	assert.Equal(t, int64(105), n)
	b := buf.Bytes()
	assert.Equal(t, uint64(91), binary.BigEndian.Uint64(b[6:]))
	assert.Equal(t, uint64(97), binary.BigEndian.Uint64(b[97:]))
	assert.Equal(t, uint32(logfile.CommandBlock), binary.BigEndian.Uint32(b[18:]))

	got := readAll(t, b)
	require.Len(t, got, 1)
	assert.Equal(t, logfile.CommandBlock, got[0].Type)
	assert.Equal(t, "20250126040826878", got[0].Header.Value(logfile.TargetInstantTime))
	assert.Equal(t, "0", got[0].Header.Value(logfile.CommandBlockType))
	assert.Empty(t, got[0].Content)

	_, err = logfile.WriteBlock(&bytes.Buffer{}, logfile.Block{Type: logfile.CommandBlock, Content: []byte{1}})
	assert.ErrorIs(t, err, logfile.ErrInvalidBlock)
	_, err = logfile.WriteBlock(&bytes.Buffer{}, logfile.Block{Type: logfile.CorruptBlock})
	assert.ErrorIs(t, err, logfile.ErrInvalidBlock)
}

func TestReadFirstHeader(t *testing.T) {
	var buf bytes.Buffer
	_, err := logfile.WriteBlock(&buf, logfile.NewRollbackBlock("20250101000000000", "20241231000000000"))
	require.NoError(t, err)
	_, err = logfile.WriteBlock(&buf, logfile.NewDeleteBlock("20250102000000000", "", []logfile.DeleteRecord{{RecordKey: "k"}}))
	require.NoError(t, err)
	typ, h, err := logfile.ReadFirstHeader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	require.Equal(t, logfile.CommandBlock, typ)
	require.Equal(t, "20250101000000000", h.Value(logfile.InstantTime))
	require.Equal(t, "20241231000000000", h.Value(logfile.TargetInstantTime))

	_, _, err = logfile.ReadFirstHeader(bytes.NewReader([]byte("#HUDI#xx")), 8)
	require.ErrorIs(t, err, logfile.ErrCorrupt)
	_, _, err = logfile.ReadFirstHeader(bytes.NewReader(buf.Bytes()[:30]), 30)
	require.ErrorIs(t, err, logfile.ErrCorrupt)
}
