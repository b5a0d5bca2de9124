package avroplan_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/avroplan"
)

func TestArchivedEntryRoundTrip(t *testing.T) {
	js, err := avroplan.ArchivedEntrySchemaJSON()
	require.NoError(t, err)
	assert.Contains(t, js, `"name":"HoodieArchivedMetaEntry"`)
	stats := map[string][]avroplan.HoodieWriteStat{"p": {{FileID: ptr("f-0"), Path: ptr("p/f-0_0-1-0_1.parquet"), NumWrites: ptr(int64(3))}}}
	extra := map[string]string{"schema": "{}", "ROLLING_STAT": ""}
	in := &avroplan.HoodieArchivedMetaEntry{
		CommitTime: ptr("20240101000000000"), ActionType: ptr("commit"), ActionState: ptr("COMPLETED"),
		Version: ptr(avroplan.ArchivedMetaEntryVersion),
		HoodieCommitMetadata: &avroplan.HoodieCommitMetadata{
			PartitionToWriteStats: &stats, ExtraMetadata: &extra, Version: ptr(int32(1)), OperationType: ptr("UPSERT"),
		},
	}
	b, err := avroplan.MarshalArchivedEntry(in)
	require.NoError(t, err)
	out, err := avroplan.UnmarshalArchivedEntry(b, js)
	require.NoError(t, err)
	assert.Equal(t, in, out)

	clean := &avroplan.HoodieArchivedMetaEntry{
		CommitTime: ptr("20240101000000001"), ActionType: ptr("clean"), ActionState: ptr("REQUESTED"),
		HoodieCleanerPlan: &avroplan.HoodieCleanerPlan{Policy: "KEEP_LATEST_COMMITS", Version: ptr(avroplan.CleanerPlanVersion)},
	}
	b, err = avroplan.MarshalArchivedEntry(clean)
	require.NoError(t, err)
	out, err = avroplan.UnmarshalArchivedEntry(b, "")
	require.NoError(t, err)
	assert.Equal(t, "KEEP_LATEST_COMMITS", out.HoodieCleanerPlan.Policy)
	assert.Nil(t, out.Version, "a nil version encodes as null")
}
