package timeline_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"
	"github.com/hoodie-lake/hoodie/storage"
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
// The tables are generated from their SQL, so instant times differ per
// generation: the SQL fixes the actions, their order and states; the times
// must be valid instant times in increasing order.
func TestSampleTimelines(t *testing.T) {
	ctx := context.Background()
	byName := map[string]fixtures.Fixture{}
	for _, fx := range fixtures.All(t) {
		byName[fx.Name] = fx
	}
	cases := map[string][]timeline.Action{
		// Two INSERTs and an INSERT OVERWRITE TABLE.
		"cow/v6_simplekeygen_nonhivestyle_overwritetable": {timeline.Commit, timeline.Commit, timeline.ReplaceCommit},
		// INSERT, INSERT (rolled back: its instant files are gone), the
		// rollback, INSERT.
		"mor/parquet/v6_nonpartitioned_rollback": {timeline.DeltaCommit, timeline.Rollback, timeline.DeltaCommit},
		"cow/v6_empty":                           nil,
	}
	for name, want := range cases {
		fx, ok := byName[name]
		require.True(t, ok, name)
		st, err := storage.NewLocal(fixtures.Unzip(t, fx.Zip))
		require.NoError(t, err)
		tl, err := timeline.Load(ctx, st)
		require.NoError(t, err)
		got := tl.Instants()
		require.Len(t, got, len(want), "%s: %v", name, got)
		for i, inst := range got {
			assert.Equal(t, want[i], inst.Action, "%s: %s", name, inst)
			assert.Equal(t, timeline.Completed, inst.State, "%s: %s", name, inst)
			assert.NoError(t, timeline.ValidateInstantTime(inst.Timestamp), "%s: %s", name, inst)
			if i > 0 {
				assert.Less(t, got[i-1].Timestamp, inst.Timestamp, name)
			}
		}
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
	// INSERT OVERWRITE TABLE replaces every file group the two INSERTs
	// wrote: one in each of the partitions 10, 20 and 30.
	written := map[timeline.FileGroupID]bool{}
	for _, inst := range tl.CompletedCommits()[:2] {
		md, err := timeline.ReadCommitMetadata(ctx, st, inst)
		require.NoError(t, err)
		for _, s := range md.Stats() {
			written[timeline.FileGroupID{PartitionPath: s.PartitionPath, FileID: s.FileID}] = true
		}
	}
	assert.Len(t, written, 3)
	assert.Equal(t, written, md.ReplacedFileIDs())
}
