package writer

import (
	"context"
	"fmt"
	"github.com/hoodie-lake/hoodie/filegroup"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// occPair opens two optimistic writers on one table through separate
// storage handles and index directories, as two processes would, with a
// barrier that makes both reach their commit slot after both built their
// views.
func occPair(t *testing.T, typ table.TableType, retries int) (*Writer, *Writer, *table.Table, func()) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := storage.NewLocal(dir + "/tbl")
	require.NoError(t, err)
	tbl, err := table.Create(ctx, st, table.CreateOptions{Name: "occ", Type: typ, RecordKeyFields: []string{"id"},
		PartitionFields: []string{"part"}, PrecombineField: "ts"})
	require.NoError(t, err)
	seed, err := Open(ctx, tbl, Options{IndexDir: dir + "/seed"})
	require.NoError(t, err)
	var recs []modelRec
	for i := 0; i < 20; i++ {
		recs = append(recs, modelRec{key: fmt.Sprintf("k%02d", i), part: []string{"a", "b"}[i%2], ts: 1, val: int64(i)})
	}
	upsertCommit(t, seed, recs)
	require.NoError(t, seed.Close())
	open := func(name string) *Writer {
		s, err := storage.NewLocal(dir + "/tbl")
		require.NoError(t, err)
		tb, err := table.Open(ctx, s)
		require.NoError(t, err)
		w, err := Open(ctx, tb, Options{IndexDir: dir + "/" + name, Concurrency: Optimistic, ConflictRetries: retries})
		require.NoError(t, err)
		return w
	}
	a, b := open("a"), open("b")
	arm := func() {
		// Each side waits (bounded) until the other reached its slot too.
		arrived := make(chan struct{}, 2)
		wait := func() {
			arrived <- struct{}{}
			deadline := time.After(10 * time.Second)
			for len(arrived) < 2 {
				select {
				case <-deadline:
					return
				case <-time.After(time.Millisecond):
				}
			}
		}
		var once [2]sync.Once
		a.setBeforeSlot(func() { once[0].Do(wait) })
		b.setBeforeSlot(func() { once[1].Do(wait) })
	}
	return a, b, tbl, arm
}

func both(t *testing.T, a, b *Writer, ra, rb []modelRec) (errA, errB error) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(2)
	run := func(w *Writer, recs []modelRec, out *error) {
		defer wg.Done()
		bt := buildBatch(recs)
		defer bt.Release()
		if err := w.Upsert(bt); err != nil {
			*out = err
			return
		}
		_, *out = w.Commit(context.Background())
		if *out != nil {
			w.Abort()
		}
	}
	go run(a, ra, &errA)
	go run(b, rb, &errB)
	wg.Wait()
	return errA, errB
}

// noGarbage checks that no instant is left pending and every data file
// belongs to a completed instant (or is a rollback command log).
func noGarbage(t *testing.T, tbl *table.Table) {
	t.Helper()
	ctx := context.Background()
	tl, err := timeline.Load(ctx, tbl.Storage())
	require.NoError(t, err)
	require.Empty(t, tl.Filter(func(i timeline.Instant) bool { return i.State != timeline.Completed }), "pending instants")
	v, err := filegroup.BuildView(ctx, tbl.Storage(), tl, filegroup.ViewOptions{})
	require.NoError(t, err)
	for _, h := range v.Hidden {
		_, logErr := filegroup.ParseLogFileName(h.Name)
		require.NoError(t, logErr, "stray data file %s", h.Path)
	}
}

func TestOptimisticConcurrency(t *testing.T) {
	for _, typ := range []table.TableType{table.CopyOnWrite, table.MergeOnRead} {
		t.Run(string(typ), func(t *testing.T) {
			// Disjoint file groups: both commit.
			a, b, tbl, arm := occPair(t, typ, 0)
			defer a.Close()
			defer b.Close()
			for round := 0; round < 3; round++ {
				arm()
				ts := int64(10 + round)
				errA, errB := both(t, a, b,
					[]modelRec{{key: "k00", part: "a", ts: ts, val: 100 + ts}},
					[]modelRec{{key: "k01", part: "b", ts: ts, val: 200 + ts}})
				require.NoError(t, errA)
				require.NoError(t, errB)
			}
			got := readTable(t, tbl)
			require.Equal(t, int64(112), got[modelKey{"a", "k00"}].val)
			require.Equal(t, int64(212), got[modelKey{"b", "k01"}].val)
			require.Len(t, got, 20)

			// Overlapping: exactly one commits, the other gets ErrConflict
			// and leaves nothing behind.
			wins := 0
			for round := 0; round < 3; round++ {
				arm()
				ts := int64(50 + round)
				errA, errB := both(t, a, b,
					[]modelRec{{key: "k02", part: "a", ts: ts, val: 1000 + ts}},
					[]modelRec{{key: "k04", part: "a", ts: ts, val: 2000 + ts}})
				require.True(t, (errA == nil) != (errB == nil), "exactly one commits: %v / %v", errA, errB)
				loser := errA
				if loser == nil {
					loser = errB
				}
				require.ErrorIs(t, loser, ErrConflict)
				require.Contains(t, loser.Error(), "both write file group a/")
				wins++
				noGarbage(t, tbl)
			}
			require.Equal(t, 3, wins)
			require.Len(t, readTable(t, tbl), 20)
		})
	}
}

// TestOptimisticConflictRetry: with retries, both overlapping commits land.
func TestOptimisticConflictRetry(t *testing.T) {
	a, b, tbl, arm := occPair(t, table.CopyOnWrite, 2)
	defer a.Close()
	defer b.Close()
	arm()
	errA, errB := both(t, a, b,
		[]modelRec{{key: "k02", part: "a", ts: 7, val: 7}},
		[]modelRec{{key: "k04", part: "a", ts: 8, val: 8}})
	require.NoError(t, errA)
	require.NoError(t, errB)
	got := readTable(t, tbl)
	require.Equal(t, int64(7), got[modelKey{"a", "k02"}].val)
	require.Equal(t, int64(8), got[modelKey{"a", "k04"}].val)
	noGarbage(t, tbl)
}

// TestOptimisticLeavesLiveInstants: an optimistic writer's Open does not
// roll back another writer's pending instant while its heartbeat is fresh,
// and does once it expired.
func TestOptimisticLeavesLiveInstants(t *testing.T) {
	ctx := context.Background()
	tbl, dir := seededTable(t)
	st := tbl.Storage()
	tx, err := timeline.Begin(ctx, st, timeline.Commit, nil, timeline.BeginOptions{})
	require.NoError(t, err)
	inst := tx.Instant()
	require.NoError(t, storage.WriteFile(ctx, st, timeline.HeartbeatPath(inst.Timestamp), nil, storage.CreateOptions{}))
	w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index", Concurrency: Optimistic, HeartbeatTimeout: time.Hour})
	require.NoError(t, err)
	require.NoError(t, w.Close())
	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	require.Len(t, tl.Pending(), 1, "a live writer's instant stays")
	time.Sleep(20 * time.Millisecond)
	w, err = Open(ctx, tbl, Options{IndexDir: dir + "/index", Concurrency: Optimistic, HeartbeatTimeout: 10 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, w.Close())
	tl, err = timeline.Load(ctx, st)
	require.NoError(t, err)
	require.Empty(t, tl.Pending(), "an expired instant is rolled back")

}
