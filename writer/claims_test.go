package writer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/index"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// commitClaiming upserts recs and commits them claiming units.
func commitClaiming(t *testing.T, w *Writer, recs []modelRec, acc *timeline.Timeline, units ...string) error {
	t.Helper()
	bt := buildBatch(recs)
	defer bt.Release()
	require.NoError(t, w.Upsert(bt))
	_, err := w.CommitWith(context.Background(), CommitOptions{Claims: units, Accounted: acc,
		Extra: map[string]string{"hoodie.stream.positions": `{"t/0":"5"}`}})
	if err != nil {
		w.Abort()
	}
	return err
}

// TestClaimsFenceAZombie: a writer whose positions were read before
// another commit consumed the same unit is refused with ErrClaimed (not
// retried, nothing visible); one claiming other units commits.
func TestClaimsFenceAZombie(t *testing.T) {
	ctx := context.Background()
	a, b, tbl := writerPair(t, table.MergeOnRead, Optimistic, 3)
	acc, err := timeline.Load(ctx, tbl.Storage())
	require.NoError(t, err)
	require.NoError(t, commitClaiming(t, a, []modelRec{{key: "n1", part: "a", ts: 2, val: 1}}, acc, "t/0", "t/2"))
	err = commitClaiming(t, b, []modelRec{{key: "n2", part: "b", ts: 2, val: 2}}, acc, "t/1", "t/2")
	require.ErrorIs(t, err, ErrClaimed)
	require.NotErrorIs(t, err, ErrConflict)
	require.Contains(t, err.Error(), "t/2")
	require.NoError(t, commitClaiming(t, b, []modelRec{{key: "n3", part: "b", ts: 2, val: 3}}, acc, "t/1"))
	// Accounted after a's commit: b may consume t/2 again.
	acc2, err := timeline.Load(ctx, tbl.Storage())
	require.NoError(t, err)
	require.NoError(t, commitClaiming(t, b, []modelRec{{key: "n4", part: "b", ts: 2, val: 4}}, acc2, "t/2"))
	got := rowsPerKey(t, tbl)
	require.Equal(t, 0, got[modelKey{key: "n2", part: "b"}])
	for _, k := range []modelKey{{key: "n1", part: "a"}, {key: "n3", part: "b"}, {key: "n4", part: "b"}} {
		require.Equal(t, 1, got[k], k)
	}
	noGarbage(t, tbl)
	tl, err := timeline.Load(ctx, tbl.Storage())
	require.NoError(t, err)
	cs := tl.CompletedCommits()
	md, err := timeline.ReadCommitMetadata(ctx, tbl.Storage(), cs[len(cs)-1])
	require.NoError(t, err)
	require.Equal(t, "t/2", md.ExtraMetadata[ClaimsKey])
	require.Equal(t, `{"t/0":"5"}`, md.ExtraMetadata["hoodie.stream.positions"])
}

// TestClaimsInFlight: two optimistic commits in flight at once claiming
// one unit: exactly one commits, the other fails with ErrClaimed even with
// conflict retries (a retry would consume the unit twice).
func TestClaimsInFlight(t *testing.T) {
	a, b, tbl := writerPair(t, table.CopyOnWrite, Optimistic, 3)
	armBarrier(a, b)
	var errA, errB error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		errA = commitClaiming(t, a, []modelRec{{key: "x1", part: "a", ts: 2, val: 1}}, nil, "t/0")
	}()
	go func() {
		defer wg.Done()
		errB = commitClaiming(t, b, []modelRec{{key: "y1", part: "b", ts: 2, val: 1}}, nil, "t/0", "t/1")
	}()
	wg.Wait()
	require.True(t, (errA == nil) != (errB == nil), "exactly one commits: %v / %v", errA, errB)
	loser := errA
	if loser == nil {
		loser = errB
	}
	require.ErrorIs(t, loser, ErrClaimed)
	require.Contains(t, loser.Error(), "both consume t/0")
	noGarbage(t, tbl)
}

// TestCommitOptionsValidate refuses hoodie's own keys and bad units.
func TestCommitOptionsValidate(t *testing.T) {
	a, _, _ := writerPair(t, table.CopyOnWrite, Optimistic, 0)
	for _, o := range []CommitOptions{
		{Extra: map[string]string{CheckpointKey: "x"}},
		{Extra: map[string]string{ClaimsKey: "x"}},
		{Claims: []string{"a,b"}},
		{Claims: []string{""}},
	} {
		_, err := a.CommitWith(context.Background(), o)
		require.Error(t, err)
	}
}

// TestVanishedFileIsAConflict: a file of the view that vanished while a
// commit read it (a concurrent rollback) makes the commit a conflict, which
// the writer retries from a fresh view.
func TestVanishedFileIsAConflict(t *testing.T) {
	err := vanished(fmt.Errorf("writer: log keys of g: %w", fs.ErrNotExist))
	require.ErrorIs(t, err, ErrConflict)
	require.ErrorIs(t, err, fs.ErrNotExist)
	other := errors.New("boom")
	require.Equal(t, other, vanished(other))
}

// TestIndexMemory: a writer whose index holds little memory (many open
// tables in one process) writes and finds keys as one with the defaults,
// across more entries than its memory front holds and a reopen.
func TestIndexMemory(t *testing.T) {
	var o index.Options
	indexMemory(&o, 8<<20)
	require.Equal(t, int64(1<<20), o.MemTableSize)
	require.Equal(t, 2, o.NumMemtables)
	require.Equal(t, int64(6<<20), o.FrontSize)
	indexMemory(&o, 1<<30)
	require.Equal(t, int64(16<<20), o.MemTableSize)
	require.Equal(t, int64(1<<30-32<<20), o.FrontSize)
	require.Error(t, (&Options{IndexMemory: 1 << 20}).Validate())

	ctx := context.Background()
	tbl, dir := newModelTable(t, "", table.MergeOnRead)
	opts := Options{IndexDir: dir + "/idx", IndexMemory: minIndexMemory}
	w, err := Open(ctx, tbl, opts)
	require.NoError(t, err)
	// 60,000 keys of 36 bytes each exceed a 2 MiB front: runs are written.
	var recs []modelRec
	for i := 0; i < 60_000; i++ {
		recs = append(recs, modelRec{key: fmt.Sprintf("k%06d", i), part: []string{"a", "b"}[i%2], ts: 1, val: int64(i)})
	}
	upsertCommit(t, w, recs)
	st, err := w.IndexStats()
	require.NoError(t, err)
	require.EqualValues(t, 60_000, st.Entries)
	require.Positive(t, st.Runs)
	require.NoError(t, w.Close())
	w, err = Open(ctx, tbl, opts)
	require.NoError(t, err)
	defer w.Close()
	for i := range recs {
		recs[i].ts, recs[i].val = 2, -recs[i].val
	}
	res := upsertCommit(t, w, recs[:1000])
	require.EqualValues(t, 1000, res.Stats.Updates)
	require.Len(t, readTable(t, tbl), 60_000)
}
