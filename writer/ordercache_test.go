package writer

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/table"
)

// TestOrderingCacheAcrossCommits: a long-lived merge-on-read writer reads
// a file group's merged slice for its late-event checks once, then keeps
// the stored orderings across its own commits (no read while nothing else
// changed the group); a commit of another writer into the group makes it
// read the group again, so a late event against that writer's newer value
// is still dropped; and the table equals the model throughout.
func TestOrderingCacheAcrossCommits(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newModelTable(t, "", table.MergeOnRead)
	opts := Options{IndexDir: dir + "/index", Concurrency: Optimistic}
	a, err := Open(ctx, tbl, opts)
	require.NoError(t, err)
	defer a.Close()
	reads := a.countOrderingReads()
	want := map[modelKey]modelRow{}
	var recs []modelRec
	for i := 0; i < 200; i++ {
		recs = append(recs, modelRec{key: fmt.Sprintf("k%04d", i), part: "a", ts: 10, val: int64(i)})
	}
	upsertCommit(t, a, recs)
	applyModel(want, recs)

	// Updates, late events, soft deletes and inserts into the one group,
	// commit after commit: one read of the slice, at the first update.
	for c := 1; c <= 6; c++ {
		recs = nil
		for i := 0; i < 20; i++ {
			recs = append(recs, modelRec{key: fmt.Sprintf("k%04d", 10*c+i), part: "a", ts: int64(10 + c), val: int64(100*c + i)})
		}
		late := modelRec{key: fmt.Sprintf("k%04d", 10*c), part: "a", ts: 1, val: -1}
		gone := modelRec{key: fmt.Sprintf("k%04d", 150+c), part: "a", ts: 100, deleted: true}
		fresh := modelRec{key: fmt.Sprintf("n%04d", c), part: "a", ts: 5, val: int64(c)}
		res := upsertCommit(t, a, append(recs, late, gone, fresh))
		assert.EqualValues(t, 0, res.Stats.LateDropped, "commit %d: the late event loses against its own batch's newer record", c)
		applyModel(want, recs)
		applyModel(want, []modelRec{fresh})
		delete(want, modelKey{"a", gone.key})
		// A late event alone: dropped against the stored (cached) value.
		res = upsertCommit(t, a, []modelRec{{key: fmt.Sprintf("k%04d", 10*c+1), part: "a", ts: 2, val: -2}})
		assert.EqualValues(t, 1, res.Stats.LateDropped, "commit %d", c)
	}
	assert.EqualValues(t, 1, reads.Load(), "merged slice reads for orderings")
	assertModel(t, tbl, want)

	// Another writer updates k0100 to ts 500; a's next late update (ts 300)
	// must lose against it, which takes a fresh read of the group.
	b, err := Open(ctx, tbl, Options{IndexDir: dir + "/index-b", Concurrency: Optimistic})
	require.NoError(t, err)
	upd := modelRec{key: "k0100", part: "a", ts: 500, val: 5000}
	upsertCommit(t, b, []modelRec{upd})
	require.NoError(t, b.Close())
	applyModel(want, []modelRec{upd})
	res := upsertCommit(t, a, []modelRec{{key: "k0100", part: "a", ts: 300, val: 3000}})
	assert.EqualValues(t, 1, res.Stats.LateDropped)
	assert.EqualValues(t, 2, reads.Load(), "the group changed: read again")
	assertModel(t, tbl, want)
}

// TestOrderingCacheBudget: a cache too small for a group's keys keeps
// nothing, and every check reads the slice (correct, only slower).
func TestOrderingCacheBudget(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newModelTable(t, "", table.MergeOnRead)
	w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index", OrderingCacheBytes: 1024})
	require.NoError(t, err)
	defer w.Close()
	reads := w.countOrderingReads()
	var recs []modelRec
	for i := 0; i < 100; i++ {
		recs = append(recs, modelRec{key: fmt.Sprintf("k%04d", i), part: "a", ts: 10, val: int64(i)})
	}
	upsertCommit(t, w, recs)
	for c := 1; c <= 3; c++ {
		res := upsertCommit(t, w, []modelRec{{key: "k0001", part: "a", ts: int64(10 + c), val: int64(c)}, {key: "k0002", part: "a", ts: 1, val: -1}})
		assert.EqualValues(t, 1, res.Stats.LateDropped)
	}
	assert.EqualValues(t, 3, reads.Load())
}

func assertModel(t *testing.T, tbl *table.Table, want map[modelKey]modelRow) {
	t.Helper()
	got := readTable(t, tbl)
	require.Equal(t, len(want), len(got))
	for k, r := range want {
		g, ok := got[k]
		require.True(t, ok, "missing %v", k)
		assert.Equal(t, r.ts, g.ts, "%v", k)
		assert.Equal(t, r.val, g.val, "%v", k)
	}
}
