package timeline_test

import (
	"context"
	"errors"
	"path"
	"sort"
	"testing"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keys lists every key under prefix, sorted.
func keys(t *testing.T, st storage.Storage, prefix string) []string {
	t.Helper()
	var out []string
	for obj, err := range st.List(context.Background(), prefix, "") {
		require.NoError(t, err)
		out = append(out, obj.Path)
	}
	sort.Strings(out)
	return out
}

// metaFiles lists the instant files under .hoodie/ (no sub-folders).
func metaFiles(t *testing.T, st storage.Storage) []string {
	t.Helper()
	var out []string
	for obj, err := range st.List(context.Background(), timeline.MetaFolder+"/", "/") {
		require.NoError(t, err)
		if !obj.IsDir {
			out = append(out, path.Base(obj.Path))
		}
	}
	sort.Strings(out)
	return out
}

func TestMarkerPath(t *testing.T) {
	assert.Equal(t, ".hoodie/.temp/20240101000000100/p=1/f_0-1-0_20240101000000100.parquet.marker.CREATE",
		timeline.MarkerPath("20240101000000100", "p=1/f_0-1-0_20240101000000100.parquet", timeline.MarkerCreate))
	assert.Equal(t, ".hoodie/.temp/20240101000000100/.f_20240101000000100.log.1_0-1-0.marker.APPEND",
		timeline.MarkerPath("20240101000000100", ".f_20240101000000100.log.1_0-1-0", timeline.MarkerAppend))
}

// TestTxnCommit walks a write through the protocol and checks the files
// each step leaves.
func TestTxnCommit(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	tx, err := timeline.Begin(ctx, st, timeline.DeltaCommit, nil, timeline.BeginOptions{})
	require.NoError(t, err)
	T := tx.InstantTime()
	assert.Equal(t, timeline.Instant{Timestamp: T, Action: timeline.DeltaCommit, State: timeline.Requested}, tx.Instant())
	assert.Equal(t, []string{T + ".deltacommit.requested"}, metaFiles(t, st))

	require.NoError(t, tx.Inflight(ctx, []byte(`{"profile":1}`)))
	assert.Equal(t, timeline.Inflight, tx.Instant().State)
	b, err := timeline.ReadInstant(ctx, st, tx.Instant())
	require.NoError(t, err)
	assert.Equal(t, `{"profile":1}`, string(b))

	require.NoError(t, tx.Marker(ctx, "p/b.parquet", timeline.MarkerCreate))
	require.NoError(t, tx.Marker(ctx, "p/.a_1.log.1_0-1-0", timeline.MarkerAppend))
	require.NoError(t, tx.Marker(ctx, "c.parquet", timeline.MarkerMerge))
	require.NoError(t, storage.WriteFile(ctx, st, timeline.MarkerFolder+"/"+T+"/stray", nil, storage.CreateOptions{}))
	ms, err := tx.Markers(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []timeline.Marker{
		{DataPath: "p/b.parquet", Type: timeline.MarkerCreate},
		{DataPath: "p/.a_1.log.1_0-1-0", Type: timeline.MarkerAppend},
		{DataPath: "c.parquet", Type: timeline.MarkerMerge},
	}, ms, "the stray key is no marker")
	require.NoError(t, tx.DeleteMarker(ctx, "c.parquet", timeline.MarkerMerge))
	ms, err = tx.Markers(ctx)
	require.NoError(t, err)
	assert.Len(t, ms, 2)

	require.ErrorIs(t, tx.Finish(ctx), timeline.ErrBadTransition, "markers stay until the commit point")
	require.NoError(t, tx.Complete(ctx, []byte("{}")))
	assert.Equal(t, timeline.Completed, tx.Instant().State)
	assert.Equal(t, []string{T + ".deltacommit", T + ".deltacommit.inflight", T + ".deltacommit.requested"}, metaFiles(t, st))
	require.NoError(t, tx.Finish(ctx))
	assert.Empty(t, keys(t, st, timeline.MarkerFolder+"/"))
	require.ErrorIs(t, tx.Abort(ctx), timeline.ErrBadTransition, "a completed instant is not withdrawn")
}

// TestTxnAbort: a withdrawn instant leaves neither markers nor timeline
// files, and the next Begin still gets a later time.
func TestTxnAbort(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	tx, err := timeline.Begin(ctx, st, timeline.Commit, nil, timeline.BeginOptions{})
	require.NoError(t, err)
	require.NoError(t, tx.Inflight(ctx, nil))
	require.NoError(t, tx.Marker(ctx, "p/f.parquet", timeline.MarkerCreate))
	require.NoError(t, tx.Abort(ctx))
	assert.Empty(t, metaFiles(t, st))
	assert.Empty(t, keys(t, st, timeline.MarkerFolder+"/"))

	// A requested-only plan is withdrawn the same way.
	c, err := timeline.Begin(ctx, st, timeline.Clean, []byte("plan"), timeline.BeginOptions{})
	require.NoError(t, err)
	require.Greater(t, c.InstantTime(), tx.InstantTime())
	require.NoError(t, c.Abort(ctx))
	assert.Empty(t, metaFiles(t, st))
}

// TestTxnResumeAddsToPendingInstant: a second process opens a Txn on a
// writer's pending instant and adds a marker for a file it wrote on the
// writer's behalf; the writer's rollback (Markers) finds it.
func TestTxnResumeAddsToPendingInstant(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	w, err := timeline.Begin(ctx, st, timeline.DeltaCommit, nil, timeline.BeginOptions{})
	require.NoError(t, err)
	require.NoError(t, w.Inflight(ctx, nil))
	require.NoError(t, w.Marker(ctx, "p/.f_1.log.1_0-1-0", timeline.MarkerAppend))

	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	inst, ok := tl.Find(w.InstantTime())
	require.True(t, ok)
	other, err := timeline.Resume(st, inst)
	require.NoError(t, err)
	assert.Equal(t, inst, other.Instant())
	require.NoError(t, other.Marker(ctx, "p/.f_2.log.1_0-1-0", timeline.MarkerAppend))

	ms, err := w.Markers(ctx)
	require.NoError(t, err)
	assert.Equal(t, []timeline.Marker{
		{DataPath: "p/.f_1.log.1_0-1-0", Type: timeline.MarkerAppend},
		{DataPath: "p/.f_2.log.1_0-1-0", Type: timeline.MarkerAppend},
	}, ms)

	_, err = timeline.Resume(st, timeline.Instant{Timestamp: "x"})
	require.ErrorIs(t, err, timeline.ErrInvalidInstant)
}

// TestTxnInflightTwice: two executors of one plan both move it to
// inflight; the second sees the first's file.
func TestTxnInflightTwice(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	c, err := timeline.Begin(ctx, st, timeline.Compaction, []byte("plan"), timeline.BeginOptions{})
	require.NoError(t, err)
	req := c.Instant()
	a, err := timeline.Resume(st, req)
	require.NoError(t, err)
	b, err := timeline.Resume(st, req)
	require.NoError(t, err)
	require.NoError(t, a.Inflight(ctx, nil))
	require.NoError(t, b.Inflight(ctx, nil), "same content: the same transition")
	d, err := timeline.Resume(st, req)
	require.NoError(t, err)
	require.ErrorIs(t, d.Inflight(ctx, []byte("other")), timeline.ErrInstantExists)
	assert.Equal(t, timeline.Inflight, d.Instant().State, "inflight all the same")
	require.NoError(t, d.Complete(ctx, []byte("{}")))
	require.ErrorIs(t, a.Complete(ctx, []byte(`{"x":1}`)), timeline.ErrAlreadyCompleted)
	assert.Equal(t, timeline.Commit, d.Instant().Action, "a compaction completes as a commit")
}

func TestTxnRevertToInflight(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	tx, err := timeline.Begin(ctx, st, timeline.Commit, nil, timeline.BeginOptions{})
	require.NoError(t, err)
	require.ErrorIs(t, tx.RevertToInflight(ctx), timeline.ErrBadTransition)
	require.NoError(t, tx.Inflight(ctx, nil))
	require.NoError(t, tx.Complete(ctx, []byte("{}")))
	require.NoError(t, tx.RevertToInflight(ctx))
	assert.Equal(t, timeline.Inflight, tx.Instant().State)
	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	inst, ok := tl.Find(tx.InstantTime())
	require.True(t, ok)
	assert.Equal(t, timeline.Inflight, inst.State)
	require.NoError(t, tx.Abort(ctx))
	assert.Empty(t, metaFiles(t, st))
}

// TestTxnBeforeRequested: the hook runs after the claim and before any
// timeline file; its error abandons the instant.
func TestTxnBeforeRequested(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	boom := errors.New("no heartbeat")
	var claimed string
	_, err := timeline.Begin(ctx, st, timeline.Commit, nil, timeline.BeginOptions{BeforeRequested: func(ts string) error {
		claimed = ts
		assert.Empty(t, metaFiles(t, st))
		return boom
	}})
	require.ErrorIs(t, err, boom)
	require.NotEmpty(t, claimed)
	assert.Empty(t, metaFiles(t, st))
	tx, err := timeline.Begin(ctx, st, timeline.Commit, nil, timeline.BeginOptions{})
	require.NoError(t, err)
	assert.Greater(t, tx.InstantTime(), claimed, "a claimed time is never reused")
}

func TestTxnSavepointBeginsInflight(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	tx, err := timeline.Begin(ctx, st, timeline.Savepoint, nil, timeline.BeginOptions{})
	require.NoError(t, err)
	assert.Equal(t, timeline.Inflight, tx.Instant().State)
	assert.Equal(t, []string{tx.InstantTime() + ".savepoint.inflight"}, metaFiles(t, st))
}
