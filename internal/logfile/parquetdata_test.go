package logfile_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/internal/schema"
)

// moreSchema adds the types richSchema leaves out: non-null fields of every
// primitive, bytes decimals, fixed, millisecond and local timestamps, and a
// non-null list and map.
const moreSchema = `{"type":"record","name":"u_record","namespace":"hoodie.u","fields":[
{"name":"_hoodie_commit_time","type":["null","string"],"doc":"","default":null},
{"name":"_hoodie_commit_seqno","type":["null","string"],"doc":"","default":null},
{"name":"_hoodie_record_key","type":["null","string"],"doc":"","default":null},
{"name":"_hoodie_partition_path","type":["null","string"],"doc":"","default":null},
{"name":"_hoodie_file_name","type":["null","string"],"doc":"","default":null},
{"name":"l","type":"long"},
{"name":"b","type":"boolean"},
{"name":"f","type":"float"},
{"name":"d","type":"double"},
{"name":"s","type":"string"},
{"name":"bin","type":"bytes"},
{"name":"fx","type":["null",{"type":"fixed","name":"fx","size":3}],"default":null},
{"name":"bdec","type":["null",{"type":"bytes","logicalType":"decimal","precision":20,"scale":2}],"default":null},
{"name":"tsm","type":["null",{"type":"long","logicalType":"timestamp-millis"}],"default":null},
{"name":"lts","type":["null",{"type":"long","logicalType":"local-timestamp-micros"}],"default":null},
{"name":"ltm","type":["null",{"type":"long","logicalType":"local-timestamp-millis"}],"default":null},
{"name":"ints","type":{"type":"array","items":"int"}},
{"name":"sm","type":{"type":"map","values":"string"}}
]}`

const moreRows = `[
{"_hoodie_commit_time":"20250101000000000","_hoodie_commit_seqno":"s1","_hoodie_record_key":"a","_hoodie_partition_path":"","_hoodie_file_name":"f-0",
 "l":1,"b":true,"f":-0.5,"d":1e300,"s":"x","bin":"AQ==","fx":"AAEC","bdec":"-123456789012345.67","tsm":1680350460123,"lts":-5,"ltm":7,
 "ints":[1,2,3],"sm":[{"key":"k","value":"v"}]},
{"_hoodie_commit_time":"20250101000000000","_hoodie_commit_seqno":"s2","_hoodie_record_key":"b","_hoodie_partition_path":"","_hoodie_file_name":"f-0",
 "l":-1,"b":false,"f":0,"d":0,"s":"","bin":"","fx":null,"bdec":null,"tsm":null,"lts":null,"ltm":null,"ints":[],"sm":[]}
]`

var parquetRichRows = strings.NewReplacer(`"_hoodie_record_key":null`, `"_hoodie_record_key":"3"`,
	`{"a1":"red","a2":100},null,`, `{"a1":"red","a2":100},`).Replace(richRows)

func recordOf(t *testing.T, js, rows string) arrow.RecordBatch {
	t.Helper()
	s, err := schema.ParseAvro([]byte(js))
	require.NoError(t, err)
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, s.ToArrowWithMeta(), strings.NewReader(rows))
	require.NoError(t, err)
	t.Cleanup(rec.Release)
	return rec
}

// concatRecords returns the rows of a block as one batch.
func concatRecords(t *testing.T, b logfile.Block) arrow.RecordBatch {
	t.Helper()
	require.NotEmpty(t, b.Records)
	if len(b.Records) == 1 {
		return b.Records[0]
	}
	tbl := array.NewTableFromRecords(b.Records[0].Schema(), b.Records)
	defer tbl.Release()
	rd := array.NewTableReader(tbl, tbl.NumRows())
	defer rd.Release()
	require.True(t, rd.Next())
	rec := rd.RecordBatch()
	rec.Retain()
	t.Cleanup(rec.Release)
	return rec
}

// TestParquetDataRoundTrip writes every type the Avro data block supports,
// nulls included, as a Parquet data block and reads back what the same rows
// read back from an Avro data block.
func TestParquetDataRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name, schema string
		rec          arrow.RecordBatch
	}{
		// A Parquet data block needs every record key (Hudi writes them
		// as the file's key range; the other meta fields may be null) and,
		// like a base file (parquet-avro's 2-level lists), cannot hold a
		// null list element.
		{"rich", richSchema, recordOf(t, richSchema, parquetRichRows)},
		{"more", moreSchema, recordOf(t, moreSchema, moreRows)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, codec := range []basefile.Compression{basefile.Snappy, basefile.Gzip, basefile.Zstd, basefile.Uncompressed} {
				rec := tc.rec
				tail := rec.NewSlice(1, rec.NumRows())
				defer tail.Release()

				var buf bytes.Buffer
				blk := logfile.NewParquetDataBlock("20250101000000000", tc.schema, codec, rec, tail)
				n, err := logfile.WriteBlock(&buf, blk)
				require.NoError(t, err)
				require.Equal(t, int64(buf.Len()), n)
				data := buf.Bytes()
				assert.Equal(t, uint32(logfile.ParquetDataBlock), binary.BigEndian.Uint32(data[18:]))
				assert.Equal(t, []byte{0, 0, 0, 0}, data[len(data)-12:len(data)-8], "empty footer")

				blocks := readAll(t, data)
				require.Len(t, blocks, 1)
				got := blocks[0]
				assert.Equal(t, logfile.ParquetDataBlock, got.Type)
				assert.Equal(t, blk.Header, got.Header)
				// The content is a whole Parquet file.
				assert.Equal(t, "PAR1", string(got.Content[:4]))
				assert.Equal(t, "PAR1", string(got.Content[len(got.Content)-4:]))
				f, err := basefile.Open(bytes.NewReader(got.Content), int64(len(got.Content)))
				require.NoError(t, err)
				assert.Equal(t, rec.NumRows()+tail.NumRows(), f.NumRows())

				// The same rows through an Avro data block.
				var abuf bytes.Buffer
				_, err = logfile.WriteBlock(&abuf, logfile.NewAvroDataBlock("20250101000000000", tc.schema, rec, tail))
				require.NoError(t, err)
				ablocks := readAll(t, abuf.Bytes())
				require.Len(t, ablocks, 1)
				want := concatRecords(t, ablocks[0])
				have := concatRecords(t, got)
				assert.True(t, want.Schema().Equal(have.Schema()), "schema %v, want %v", have.Schema(), want.Schema())
				assert.True(t, array.RecordEqual(want, have), "codec %d: got %v want %v", codec, have, want)

				// Re-framing what was read gives the same bytes.
				var again bytes.Buffer
				_, err = logfile.WriteBlock(&again, logfile.Block{Type: got.Type, Header: got.Header, Content: got.Content})
				require.NoError(t, err)
				assert.Equal(t, data, again.Bytes())
			}
		})
	}
}

func TestParquetDataBlockEdges(t *testing.T) {
	rec := richRecord(t)
	// No records: empty content, read back as no records.
	var buf bytes.Buffer
	_, err := logfile.WriteBlock(&buf, logfile.NewParquetDataBlock("1", richSchema, basefile.Snappy, rec.NewSlice(0, 0)))
	require.NoError(t, err)
	blocks := readAll(t, buf.Bytes())
	require.Len(t, blocks, 1)
	assert.Empty(t, blocks[0].Content)
	assert.Empty(t, blocks[0].Records)

	// No SCHEMA header, a batch without meta columns, a batch not of the schema.
	_, err = logfile.WriteBlock(&bytes.Buffer{}, logfile.Block{Type: logfile.ParquetDataBlock, Records: []arrow.RecordBatch{rec}})
	assert.ErrorIs(t, err, logfile.ErrInvalidBlock)
	data := array.NewRecordBatch(arrow.NewSchema(rec.Schema().Fields()[5:], nil), rec.Columns()[5:], rec.NumRows())
	defer data.Release()
	_, err = logfile.WriteBlock(&bytes.Buffer{}, logfile.NewParquetDataBlock("1", richSchema, basefile.Snappy, data))
	assert.ErrorIs(t, err, logfile.ErrInvalidBlock)
	_, err = logfile.WriteBlock(&bytes.Buffer{}, logfile.NewParquetDataBlock("1", moreSchema, basefile.Snappy, rec))
	assert.ErrorIs(t, err, logfile.ErrInvalidBlock)
	_, err = logfile.WriteBlock(&bytes.Buffer{}, logfile.NewParquetDataBlock("1", richSchema, basefile.Snappy, rec.NewSlice(2, 3))) // a null key
	assert.ErrorIs(t, err, logfile.ErrInvalidBlock)
	_, err = logfile.WriteBlock(&bytes.Buffer{}, logfile.NewParquetDataBlock("1", richSchema, basefile.Snappy, rec.NewSlice(0, 1))) // a null list element
	assert.ErrorIs(t, err, logfile.ErrInvalidBlock)

	// Content that is not Parquet comes back corrupt.
	buf.Reset()
	_, err = logfile.WriteBlock(&buf, logfile.Block{Type: logfile.ParquetDataBlock, Header: logfile.Headers{{Key: logfile.SchemaHeader, Value: richSchema}}, Content: []byte("not parquet")})
	require.NoError(t, err)
	_, err = logfile.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len())).Next()
	assert.ErrorIs(t, err, logfile.ErrCorrupt)
}
