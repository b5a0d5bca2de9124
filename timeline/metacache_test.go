package timeline_test

import (
	"context"
	"io"
	"sync/atomic"
	"testing"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readCounter counts the reads of a store.
type readCounter struct {
	storage.Storage
	reads atomic.Int64
}

func (r *readCounter) OpenRange(ctx context.Context, p string, off, n int64) (io.ReadCloser, error) {
	r.reads.Add(1)
	return r.Storage.OpenRange(ctx, p, off, n)
}

// TestMetadataCache: an instant's metadata is read once, until the
// instant leaves the timeline (archived, rolled back) or changes state.
func TestMetadataCache(t *testing.T) {
	ctx := context.Background()
	st := &readCounter{Storage: storage.NewMem()}
	commit := func(op string) timeline.Instant {
		tx, err := timeline.Begin(ctx, st, timeline.Commit, nil, timeline.BeginOptions{})
		require.NoError(t, err)
		require.NoError(t, tx.Inflight(ctx, nil))
		md := &timeline.CommitMetadata{OperationType: op}
		b, err := md.Marshal()
		require.NoError(t, err)
		require.NoError(t, tx.Complete(ctx, b))
		return tx.Instant()
	}
	a, b := commit("UPSERT"), commit("INSERT")
	var c timeline.MetadataCache
	for range 3 {
		md, err := c.CommitMetadata(ctx, st, a)
		require.NoError(t, err)
		assert.Equal(t, "UPSERT", md.OperationType)
	}
	assert.EqualValues(t, 1, st.reads.Load(), "read once")
	c.Put(b, &timeline.CommitMetadata{OperationType: "INSERT"})
	md, err := c.CommitMetadata(ctx, st, b)
	require.NoError(t, err)
	assert.Equal(t, "INSERT", md.OperationType)
	assert.EqualValues(t, 1, st.reads.Load(), "put, not read")

	_, err = c.CommitMetadata(ctx, st, timeline.Instant{Timestamp: "20240101000000000", Action: timeline.Commit, State: timeline.Completed})
	require.ErrorIs(t, err, timeline.ErrNotFound)
	assert.Equal(t, 2, c.Len(), "errors are not cached")

	// a leaves the timeline (archived): Prune forgets it.
	p, err := timeline.InstantPath(a)
	require.NoError(t, err)
	require.NoError(t, st.Delete(ctx, p))
	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	c.Prune(tl)
	assert.Equal(t, 1, c.Len())
	_, err = c.CommitMetadata(ctx, st, a)
	require.Error(t, err, "read again, and gone")
}
