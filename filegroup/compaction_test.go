package filegroup_test

import (
	"bytes"
	"context"
	"io"
	"sync/atomic"
	"testing"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type readCounter struct {
	storage.Storage
	reads atomic.Int64
}

func (r *readCounter) OpenRange(ctx context.Context, p string, off, n int64) (io.ReadCloser, error) {
	r.reads.Add(1)
	return r.Storage.OpenRange(ctx, p, off, n)
}

// TestPlanCache: a pending compaction's plan is read once; a compaction
// no longer pending is forgotten.
func TestPlanCache(t *testing.T) {
	ctx := context.Background()
	st := &readCounter{Storage: storage.NewMem()}
	part, fid := "p=1", "f1-0"
	v := avroplan.CompactionPlanVersion
	plan := &avroplan.HoodieCompactionPlan{Version: &v, Operations: []avroplan.HoodieCompactionOperation{{FileID: &fid, PartitionPath: &part}}}
	var buf bytes.Buffer
	require.NoError(t, avroplan.Encode(&buf, plan))
	tx, err := timeline.Begin(ctx, st, timeline.Compaction, buf.Bytes(), timeline.BeginOptions{})
	require.NoError(t, err)
	want := map[filegroup.FileGroupID]string{{PartitionPath: part, FileID: fid}: tx.InstantTime()}

	var c filegroup.PlanCache
	for range 3 {
		tl, err := timeline.Load(ctx, st)
		require.NoError(t, err)
		got, err := c.PendingGroups(ctx, st, tl)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	assert.EqualValues(t, 1, st.reads.Load(), "the plan is read once")
	got, err := filegroup.PendingCompactionGroups(ctx, st, timeline.FromInstants([]timeline.Instant{tx.Instant()}))
	require.NoError(t, err)
	assert.Equal(t, want, got)

	require.NoError(t, tx.Inflight(ctx, nil))
	require.NoError(t, tx.Complete(ctx, []byte("{}")))
	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	got, err = c.PendingGroups(ctx, st, tl)
	require.NoError(t, err)
	assert.Empty(t, got, "completed: no longer pending")
}
