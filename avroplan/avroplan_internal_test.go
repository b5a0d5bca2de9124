package avroplan

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ptrTo[T any](v T) *T { return &v }

// encodeVariant writes v as a container whose writer schema is js.
func encodeVariant(t *testing.T, js string, v any) []byte {
	t.Helper()
	s, err := parseSchema(js)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, encodeWithSchema(&buf, js, s, v))
	return buf.Bytes()
}

// Hudi 0.14.1 wrote cleaner plans and clean metadata without extraMetadata
// (testdata/hudi-0.14.1, from hudi-common-0.14.1.jar): the field takes the
// 0.15.0 default, null.
func TestDecodeHudi0141Variants(t *testing.T) {
	js, err := os.ReadFile("testdata/hudi-0.14.1/HoodieCleanerPlan.avsc")
	require.NoError(t, err)
	require.NotContains(t, string(js), "extraMetadata")
	plan := &HoodieCleanerPlan{
		EarliestInstantToRetain:      &HoodieActionInstant{Timestamp: "1", Action: "commit", State: "COMPLETED"},
		LastCompletedCommitTimestamp: "2",
		Policy:                       "KEEP_LATEST_COMMITS",
		Version:                      ptrTo(CleanerPlanVersion),
		FilePathsToBeDeletedPerPartition: &map[string][]HoodieCleanFileInfo{
			"p": {{FilePath: ptrTo("file:/t/p/a.parquet"), IsBootstrapBaseFile: ptrTo(false)}},
		},
		ExtraMetadata: &map[string]string{"dropped": "by the 0.14.1 schema"},
	}
	var got HoodieCleanerPlan
	require.NoError(t, Decode(bytes.NewReader(encodeVariant(t, strings.TrimSpace(string(js)), plan)), &got))
	want := *plan
	want.ExtraMetadata = nil
	assert.Equal(t, want, got)

	js, err = os.ReadFile("testdata/hudi-0.14.1/HoodieCleanMetadata.avsc")
	require.NoError(t, err)
	md := &HoodieCleanMetadata{
		StartCleanTime: "3", TimeTakenInMillis: 5, TotalFilesDeleted: 1, EarliestCommitToRetain: "1",
		PartitionMetadata: map[string]HoodieCleanPartitionMetadata{"p": {PartitionPath: "p", Policy: "KEEP_LATEST_COMMITS", DeletePathPatterns: []string{"a"}, SuccessDeleteFiles: []string{"a"}, FailedDeleteFiles: []string{}}},
		Version:           ptrTo(CleanMetadataVersion),
	}
	var gotMD HoodieCleanMetadata
	require.NoError(t, Decode(bytes.NewReader(encodeVariant(t, strings.TrimSpace(string(js)), md)), &gotMD))
	assert.Equal(t, "3", gotMD.StartCleanTime)
	assert.Equal(t, []string{"a"}, gotMD.PartitionMetadata["p"].SuccessDeleteFiles)
	assert.Nil(t, gotMD.ExtraMetadata)
}

// A handcrafted older rollback metadata schema without the optional
// logFilesFromFailedCommit and instantsRollback (array default []) and a
// version field missing entirely (default 1).
func TestDecodeOlderVariantTakesDefaults(t *testing.T) {
	e, err := schemaFor("HoodieRollbackMetadata")
	require.NoError(t, err)
	js := e.json
	for _, cut := range []string{
		`,{"name":"logFilesFromFailedCommit","type":["null",{"type":"map","values":"long","avro.java.string":"String"}],"default":null}`,
		`,{"name":"version","type":["int","null"],"default":1}`,
		`,{"name":"instantsRollback","type":{"type":"array","items":{"type":"record","name":"HoodieInstantInfo","fields":[{"name":"commitTime","type":{"type":"string","avro.java.string":"String"}},{"name":"action","type":{"type":"string","avro.java.string":"String"}}]},"default":[]},"default":[]}`,
	} {
		require.Contains(t, js, cut)
		js = strings.Replace(js, cut, "", 1)
	}
	in := &HoodieRollbackMetadata{
		StartRollbackTime: "9", TimeTakenInMillis: 1, TotalFilesDeleted: 1, CommitsRollback: []string{"8"},
		PartitionMetadata: map[string]HoodieRollbackPartitionMetadata{"": {PartitionPath: "", SuccessDeleteFiles: []string{"f"}, FailedDeleteFiles: []string{}, RollbackLogFiles: &map[string]int64{"l": 10}}},
	}
	var got HoodieRollbackMetadata
	require.NoError(t, Decode(bytes.NewReader(encodeVariant(t, js, in)), &got))
	assert.Equal(t, ptrTo(int32(1)), got.Version, "version default")
	assert.Empty(t, got.InstantsRollback)
	assert.Equal(t, []string{"8"}, got.CommitsRollback)
	pm := got.PartitionMetadata[""]
	assert.Equal(t, &map[string]int64{"l": 10}, pm.RollbackLogFiles)
	assert.Nil(t, pm.LogFilesFromFailedCommit)
}

// A newer compaction plan with an extra field (Hudi 1.x's
// missingSchedulePartitions) decodes; the field is skipped.
func TestDecodeNewerVariantSkipsFields(t *testing.T) {
	e, err := schemaFor("HoodieCompactionPlan")
	require.NoError(t, err)
	extra := `,{"name":"missingSchedulePartitions","type":["null",{"type":"array","items":"string"}],"default":null}]}`
	require.True(t, strings.HasSuffix(e.json, "]}"))
	js := strings.TrimSuffix(e.json, "]}") + extra
	type newerPlan struct {
		HoodieCompactionPlan
		MissingSchedulePartitions []string `avro:"missingSchedulePartitions"`
	}
	in := newerPlan{
		HoodieCompactionPlan: HoodieCompactionPlan{
			Operations: []HoodieCompactionOperation{{BaseInstantTime: ptrTo("1"), FileID: ptrTo("f")}},
			Version:    ptrTo(CompactionPlanVersion),
		},
		MissingSchedulePartitions: []string{"p9"},
	}
	var got HoodieCompactionPlan
	require.NoError(t, Decode(bytes.NewReader(encodeVariant(t, js, &in)), &got))
	assert.Equal(t, in.HoodieCompactionPlan.Operations, got.Operations)
	assert.Equal(t, ptrTo(CompactionPlanVersion), got.Version)
}

// An incompatible writer schema (a required field the reader lacks a type
// match for) is ErrSchemaMismatch.
func TestDecodeIncompatibleWriter(t *testing.T) {
	e, err := schemaFor("HoodieSavepointMetadata")
	require.NoError(t, err)
	js := strings.Replace(e.json, `{"name":"savepointedAt","type":"long"}`, `{"name":"savepointedAt","type":"boolean"}`, 1)
	require.NotEqual(t, e.json, js)
	type bad struct {
		SavepointedBy     string                                      `avro:"savepointedBy"`
		SavepointedAt     bool                                        `avro:"savepointedAt"`
		Comments          string                                      `avro:"comments"`
		PartitionMetadata map[string]HoodieSavepointPartitionMetadata `avro:"partitionMetadata"`
		Version           *int32                                      `avro:"version"`
	}
	b := encodeVariant(t, js, &bad{SavepointedBy: "x", SavepointedAt: true, PartitionMetadata: map[string]HoodieSavepointPartitionMetadata{}})
	err = Decode(bytes.NewReader(b), &HoodieSavepointMetadata{})
	assert.ErrorIs(t, err, ErrSchemaMismatch)
}

// Decode accepts the deflate codec (Encode never writes it).
func TestDecodeDeflate(t *testing.T) {
	h := &header{codec: "deflate"}
	var raw bytes.Buffer
	raw.Write(appendLong(nil, 1))
	// Stored (uncompressed) deflate block holding the 3-byte datum.
	writeBytes(&raw, []byte{0x01, 0x03, 0x00, 0xfc, 0xff, 'a', 'b', 'c'})
	raw.Write(h.sync[:])
	got, err := readFirstDatum(bufioReader(&raw), h)
	require.NoError(t, err)
	assert.Equal(t, []byte("abc"), got)
}

func bufioReader(r *bytes.Buffer) *bufio.Reader { return bufio.NewReader(r) }
