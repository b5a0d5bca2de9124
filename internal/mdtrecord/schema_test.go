package mdtrecord

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/logfile"
)

// avscSHA256 pins the embedded HoodieMetadata.avsc (22202 bytes), so that an
// accidental edit shows.
const avscSHA256 = "25d85f24349cca7cd3303c5bba8d90c2fae8dc59eac63d5848f6bb2c43f9f4d0"

// TestRecordSchemaMatchesSamples checks RecordSchema against the
// extraMetadata "schema" of the Spark-written metadata table commits.
func TestRecordSchemaMatchesSamples(t *testing.T) {
	paths, err := filepath.Glob("testdata/t_*/*.deltacommit")
	require.NoError(t, err)
	require.Len(t, paths, 2)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		var c struct {
			ExtraMetadata map[string]string `json:"extraMetadata"`
		}
		require.NoError(t, json.Unmarshal(b, &c), p)
		require.Equal(t, RecordSchema, c.ExtraMetadata["schema"], p)
	}
}

// TestWriterSchemaMatchesSamples checks WriterSchema against the SCHEMA
// header of every HFILE_DATA_BLOCK of the samples and against the "schema"
// file info of their HFiles.
func TestWriterSchemaMatchesSamples(t *testing.T) {
	blocks := 0
	for _, lf := range sampleLogFiles(t) {
		for _, b := range readLogBlocks(t, lf) {
			if b.Type != logfile.HFileDataBlock {
				continue
			}
			blocks++
			require.Equal(t, WriterSchema, b.Header.Value(logfile.SchemaHeader), lf)
			hr := openHFile(t, b.Content)
			require.Equal(t, WriterSchema, string(hr.FileInfo()[schemaKey]), lf)
		}
	}
	require.Equal(t, 21, blocks)
	for _, p := range sampleBaseFiles(t) {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		require.Equal(t, WriterSchema, string(openHFile(t, b).FileInfo()[schemaKey]), p)
	}

	// WriterSchema is RecordSchema behind Hudi's five meta fields.
	var ws, rs map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(WriterSchema), &ws))
	require.NoError(t, json.Unmarshal([]byte(RecordSchema), &rs))
	var wf, rf []map[string]any
	require.NoError(t, json.Unmarshal(ws["fields"], &wf))
	require.NoError(t, json.Unmarshal(rs["fields"], &rf))
	require.Len(t, wf, len(rf)+numMetaFields)
	for i, name := range []string{"_hoodie_commit_time", "_hoodie_commit_seqno", "_hoodie_record_key", "_hoodie_partition_path", "_hoodie_file_name"} {
		require.Equal(t, name, wf[i]["name"])
	}
	require.Equal(t, rf, wf[numMetaFields:])
}

// TestAVSC checks the embedded .avsc: pinned bytes, and that it parses to
// the schema Hudi 0.15's generated class carries (RecordSchema), docs and
// defaults included.
func TestAVSC(t *testing.T) {
	sum := sha256.Sum256(AVSC)
	require.Equal(t, avscSHA256, hex.EncodeToString(sum[:]))
	require.Len(t, AVSC, 22202)

	// Java's Avro parser accepts comments; hamba's does not.
	src := regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAll(AVSC, nil)
	src = regexp.MustCompile(`//[^\n]*`).ReplaceAll(src, nil)
	fromAVSC, err := avro.ParseBytesWithCache(src, "", &avro.SchemaCache{})
	require.NoError(t, err)
	fromJava, err := avro.ParseWithCache(RecordSchema, "", &avro.SchemaCache{})
	require.NoError(t, err)
	require.Equal(t, fromJava.Fingerprint(), fromAVSC.Fingerprint())
	requireSameDocs(t, fromJava, fromAVSC, "HoodieMetadataRecord")

	// The writer schema parses too, and is the record schema plus the meta
	// fields.
	_, err = avro.ParseWithCache(WriterSchema, "", &avro.SchemaCache{})
	require.NoError(t, err)
}

// requireSameDocs walks two schemas of one canonical form and compares
// what the canonical form leaves out: docs, defaults and logical types.
func requireSameDocs(t *testing.T, want, got avro.Schema, path string) {
	t.Helper()
	switch w := want.(type) {
	case *avro.RecordSchema:
		g := got.(*avro.RecordSchema)
		require.Equal(t, w.Doc(), g.Doc(), path)
		for i, wf := range w.Fields() {
			gf := g.Fields()[i]
			p := path + "." + wf.Name()
			require.Equal(t, wf.Doc(), gf.Doc(), p)
			require.Equal(t, wf.HasDefault(), gf.HasDefault(), p)
			if wf.HasDefault() {
				require.Equal(t, wf.Default(), gf.Default(), p)
			}
			requireSameDocs(t, wf.Type(), gf.Type(), p)
		}
	case *avro.UnionSchema:
		for i, ws := range w.Types() {
			requireSameDocs(t, ws, got.(*avro.UnionSchema).Types()[i], path)
		}
	case *avro.MapSchema:
		requireSameDocs(t, w.Values(), got.(*avro.MapSchema).Values(), path)
	case *avro.RefSchema:
		require.Equal(t, w.Schema().FullName(), got.(*avro.RefSchema).Schema().FullName(), path)
	case avro.LogicalTypeSchema:
		wl, gl := w.Logical(), got.(avro.LogicalTypeSchema).Logical()
		require.Equal(t, wl == nil, gl == nil, path)
		if wl != nil {
			require.Equal(t, wl.String(), gl.String(), path)
		}
	}
}
