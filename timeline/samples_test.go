package timeline_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/hoodie-lake/hoodie/internal/storage"
	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSampleCommitMetadataRoundTrip decodes every completed commit,
// deltacommit and replacecommit file of the Spark-written samples and
// re-encodes it: the result must mean exactly the same JSON.
func TestSampleCommitMetadataRoundTrip(t *testing.T) {
	ctx := context.Background()
	files := 0
	for _, fx := range fixtures.All(t) {
		t.Run(fx.Name, func(t *testing.T) {
			st, err := storage.NewLocal(fixtures.Unzip(t, fx.Zip))
			require.NoError(t, err)
			tl, err := timeline.Load(ctx, st)
			require.NoError(t, err)
			for _, inst := range tl.CompletedCommits() {
				raw, err := timeline.ReadInstant(ctx, st, inst)
				require.NoError(t, err)
				md, err := timeline.ParseCommitMetadata(raw)
				require.NoError(t, err)
				out, err := md.Marshal()
				require.NoError(t, err)
				var want, got any
				require.NoError(t, json.Unmarshal(raw, &want))
				require.NoError(t, json.Unmarshal(out, &got))
				assert.Equal(t, want, got, "%s", inst)
				assert.NotEmpty(t, md.PartitionToWriteStats, "%s", inst)
				for _, s := range md.Stats() {
					assert.NotEmpty(t, s.FileID)
					assert.NotEmpty(t, s.Path)
				}
				files++
			}
		})
	}
	assert.Greater(t, files, 20)
}

// TestSampleTimelines checks the loaded timelines of a few samples in detail.
func TestSampleTimelines(t *testing.T) {
	ctx := context.Background()
	byName := map[string]fixtures.Fixture{}
	for _, fx := range fixtures.All(t) {
		byName[fx.Name] = fx
	}
	cases := map[string][]timeline.Instant{
		"cow/v6_simplekeygen_nonhivestyle_overwritetable": {
			{Timestamp: "20240707001301554", Action: timeline.Commit, State: timeline.Completed},
			{Timestamp: "20240707001302376", Action: timeline.Commit, State: timeline.Completed},
			{Timestamp: "20240707001303088", Action: timeline.ReplaceCommit, State: timeline.Completed},
		},
		"mor/parquet/v6_nonpartitioned_rollback": {
			{Timestamp: "20250126040823628", Action: timeline.DeltaCommit, State: timeline.Completed},
			{Timestamp: "20250126040936578", Action: timeline.Rollback, State: timeline.Completed},
			{Timestamp: "20250126060846931", Action: timeline.DeltaCommit, State: timeline.Completed},
		},
		"cow/v6_empty": nil,
	}
	for name, want := range cases {
		fx, ok := byName[name]
		require.True(t, ok, name)
		st, err := storage.NewLocal(fixtures.Unzip(t, fx.Zip))
		require.NoError(t, err)
		tl, err := timeline.Load(ctx, st)
		require.NoError(t, err)
		assert.Equal(t, want, tl.Instants(), name)
	}
	fx := byName["cow/v6_simplekeygen_nonhivestyle_overwritetable"]
	st, err := storage.NewLocal(fixtures.Unzip(t, fx.Zip))
	require.NoError(t, err)
	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	last, ok := tl.LastCompletedCommit()
	require.True(t, ok)
	md, err := timeline.ReadCommitMetadata(ctx, st, last)
	require.NoError(t, err)
	assert.Equal(t, timeline.OpInsertOverwriteTbl, md.OperationType)
	assert.Len(t, md.ReplacedFileIDs(), 3)
	assert.True(t, md.ReplacedFileIDs()[timeline.FileGroupID{PartitionPath: "10", FileID: "4f2685a3-614f-49ca-9b2b-e1cb9fb61f27-0"}])
}
