package writer

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// writerPair is a table seeded with keys k00..k19 (partitions a and b) and
// two writers on it as two processes would open them: separate storage
// handles and separate index directories. Small-file packing is off, so
// new keys go to new file groups (as in a large ingest), where Hudi's file
// group check cannot see two writers inserting the same key.
func writerPair(t *testing.T, typ table.TableType, mode Concurrency, retries int) (a, b *Writer, tbl *table.Table) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := storage.NewLocal(dir + "/tbl")
	require.NoError(t, err)
	tbl, err = table.Create(ctx, st, table.CreateOptions{Name: "conc", Type: typ, RecordKeyFields: []string{"id"},
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
		w, err := Open(ctx, tb, Options{IndexDir: dir + "/" + name, Concurrency: mode, ConflictRetries: retries, SmallFileLimit: -1})
		require.NoError(t, err)
		t.Cleanup(func() { w.Close() })
		return w
	}
	return open("a"), open("b"), tbl
}

// rowsPerKey counts the stored rows of each key (readTable would hide a
// duplicate).
func rowsPerKey(t *testing.T, tbl *table.Table) map[modelKey]int {
	t.Helper()
	recs, err := reader.ReadAll(context.Background(), tbl, reader.Options{})
	require.NoError(t, err)
	out := map[modelKey]int{}
	for _, rec := range recs {
		rk := rec.Column(2).(*array.String)
		pp := rec.Column(3).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			out[modelKey{pp.Value(i), rk.Value(i)}]++
		}
		rec.Release()
	}
	return out
}

func requireNoDuplicates(t *testing.T, tbl *table.Table, keys int) {
	t.Helper()
	got := rowsPerKey(t, tbl)
	for k, n := range got {
		require.Equal(t, 1, n, "key %v stored %d times", k, n)
	}
	require.Len(t, got, keys)
}

// overlapping are the batches of the two writers: both upsert the same 10
// new keys (n00..n09) and one seed key each.
func overlapping(ts int64) (ra, rb []modelRec) {
	for i := 0; i < 10; i++ {
		k := fmt.Sprintf("n%02d", i)
		ra = append(ra, modelRec{key: k, part: "a", ts: ts, val: 100 + int64(i)})
		rb = append(rb, modelRec{key: k, part: "a", ts: ts, val: 200 + int64(i)})
	}
	ra = append(ra, modelRec{key: "k00", part: "a", ts: ts, val: 1})
	rb = append(rb, modelRec{key: "k01", part: "b", ts: ts, val: 2})
	return ra, rb
}

func buffer(t *testing.T, w *Writer, recs []modelRec) {
	t.Helper()
	b := buildBatch(recs)
	defer b.Release()
	require.NoError(t, w.Upsert(b))
}

func requireConcurrentWriterError(t *testing.T, err error, want ...string) {
	t.Helper()
	require.ErrorIs(t, err, ErrConcurrentWriter)
	require.Contains(t, err.Error(), "allows one writer at a time: stop it, or run every writer with --concurrency optimistic")
	for _, s := range want {
		require.Contains(t, err.Error(), s)
	}
}

// TestSingleWriterRefusesConcurrentWriter interleaves two single-writer
// writers (separate index directories) over overlapping new keys in each
// order that matters; every time exactly one commits, the other refuses
// with ErrConcurrentWriter and leaves nothing behind, and no key is stored
// twice.
func TestSingleWriterRefusesConcurrentWriter(t *testing.T) {
	ctx := context.Background()
	for _, typ := range []table.TableType{table.CopyOnWrite, table.MergeOnRead} {
		t.Run(string(typ)+"/committed-while-open", func(t *testing.T) {
			// A commits while B is open: B's index never saw A's keys.
			a, b, tbl := writerPair(t, typ, SingleWriter, 0)
			ra, rb := overlapping(5)
			buffer(t, a, ra)
			buffer(t, b, rb)
			resA, err := a.Commit(ctx)
			require.NoError(t, err)
			_, err = b.Commit(ctx)
			requireConcurrentWriterError(t, err, resA.Instant, "was committed by another writer after this writer opened the table")
			b.Abort()
			requireNoDuplicates(t, tbl, 30)
			noGarbage(t, tbl)
		})
		t.Run(string(typ)+"/pending-at-begin", func(t *testing.T) {
			// B starts its commit while A's is being written: B refuses
			// before writing anything; A commits.
			a, b, tbl := writerPair(t, typ, SingleWriter, 0)
			ra, rb := overlapping(5)
			buffer(t, a, ra)
			buffer(t, b, rb)
			var errB error
			a.setHook(func(stage string) {
				if stage == "before-check" {
					_, errB = b.Commit(ctx)
				}
			})
			_, err := a.Commit(ctx)
			require.NoError(t, err)
			requireConcurrentWriterError(t, errB, "heartbeat", "pid ")
			requireNoDuplicates(t, tbl, 30)
			noGarbage(t, tbl)
		})
		t.Run(string(typ)+"/completed-before-commit-point", func(t *testing.T) {
			// A runs its whole commit after B planned its own: B's last
			// check finds A's commit and rolls its own files back.
			a, b, tbl := writerPair(t, typ, SingleWriter, 0)
			ra, rb := overlapping(5)
			buffer(t, a, ra)
			buffer(t, b, rb)
			var errA error
			b.setHook(func(stage string) {
				if stage == "begun" {
					_, errA = a.Commit(ctx)
				}
			})
			_, err := b.Commit(ctx)
			require.NoError(t, errA)
			requireConcurrentWriterError(t, err, "was committed by another writer")
			requireNoDuplicates(t, tbl, 30)
			noGarbage(t, tbl)
		})
		t.Run(string(typ)+"/pending-before-commit-point", func(t *testing.T) {
			// Both planned before either claimed its instant. B reaches its
			// commit point while A's instant is pending with a live
			// heartbeat: B refuses; then A commits.
			a, b, tbl := writerPair(t, typ, SingleWriter, 0)
			ra, rb := overlapping(5)
			buffer(t, a, ra)
			buffer(t, b, rb)
			aChecking := make(chan struct{})
			release := make(chan struct{})
			var errA error
			var wg sync.WaitGroup
			a.setHook(func(stage string) {
				if stage == "before-check" {
					close(aChecking)
					<-release
				}
			})
			b.setHook(func(stage string) {
				if stage == "begun" {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, errA = a.Commit(ctx)
					}()
					<-aChecking
				}
			})
			_, err := b.Commit(ctx)
			close(release)
			wg.Wait()
			requireConcurrentWriterError(t, err, "heartbeat")
			require.NoError(t, errA)
			requireNoDuplicates(t, tbl, 30)
			noGarbage(t, tbl)
		})
	}
}

// TestSingleWriterOpenRefusesLiveWriter: Open neither rolls back nor
// writes alongside a pending write whose writer is alive.
func TestSingleWriterOpenRefusesLiveWriter(t *testing.T) {
	ctx := context.Background()
	a, _, tbl := writerPair(t, table.CopyOnWrite, SingleWriter, 0)
	ra, _ := overlapping(5)
	buffer(t, a, ra)
	var openErr error
	a.setHook(func(stage string) {
		if stage == "before-check" {
			_, openErr = Open(ctx, tbl, Options{IndexDir: t.TempDir()})
		}
	})
	_, err := a.Commit(ctx)
	require.NoError(t, err, "the live writer's instant was left alone")
	requireConcurrentWriterError(t, openErr, "heartbeat")
	requireNoDuplicates(t, tbl, 30)
}

// TestOptimisticConcurrentNewKeys: two optimistic writers insert the same
// new keys into new file groups of their own at the same time (both reach
// their commit slot after both planned). Without retries one fails with
// ErrConflict; with retries both commit, the second as updates. Never is a
// key stored twice.
func TestOptimisticConcurrentNewKeys(t *testing.T) {
	for _, typ := range []table.TableType{table.CopyOnWrite, table.MergeOnRead} {
		for _, retries := range []int{0, 2} {
			t.Run(fmt.Sprintf("%s/retries=%d", typ, retries), func(t *testing.T) {
				a, b, tbl := writerPair(t, typ, Optimistic, retries)
				armBarrier(a, b)
				ra, rb := overlapping(5)
				errA, errB := both(t, a, b, ra, rb)
				if retries == 0 {
					require.True(t, (errA == nil) != (errB == nil), "exactly one commits: %v / %v", errA, errB)
					loser := errA
					if loser == nil {
						loser = errB
					}
					require.ErrorIs(t, loser, ErrConflict)
					require.Contains(t, loser.Error(), "both insert new key \"n0")
				} else {
					require.NoError(t, errA)
					require.NoError(t, errB)
				}
				requireNoDuplicates(t, tbl, 30)
				noGarbage(t, tbl)
			})
		}
	}
}

// TestOptimisticCoarseNewKeys: a commit with more new keys than are
// recorded records its partitions; a concurrent commit inserting new keys
// there conflicts.
func TestOptimisticCoarseNewKeys(t *testing.T) {
	old := maxRecordedKeys
	maxRecordedKeys = 3
	defer func() { maxRecordedKeys = old }()
	a, b, tbl := writerPair(t, table.CopyOnWrite, Optimistic, 0)
	armBarrier(a, b)
	ra, rb := overlapping(5)
	errA, errB := both(t, a, b, ra, rb)
	require.True(t, (errA == nil) != (errB == nil), "exactly one commits: %v / %v", errA, errB)
	loser := errA
	if loser == nil {
		loser = errB
	}
	require.ErrorIs(t, loser, ErrConflict)
	require.Contains(t, loser.Error(), `new keys in partition "a"`)
	requireNoDuplicates(t, tbl, 30)
}

// armBarrier makes both writers wait (bounded) at their commit slot until
// the other got there too.
func armBarrier(a, b *Writer) {
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

// TestOutOfOrderCompletionCaughtUp: an instant claimed earlier can complete
// later (optimistic writers). The other writer's index, already past it,
// must still take in its keys, or it would insert them again.
func TestOutOfOrderCompletionCaughtUp(t *testing.T) {
	ctx := context.Background()
	a, b, tbl := writerPair(t, table.CopyOnWrite, Optimistic, 0)
	buffer(t, a, []modelRec{{key: "x1", part: "a", ts: 2, val: 1}})
	buffer(t, b, []modelRec{{key: "y1", part: "b", ts: 2, val: 1}})
	var resB *CommitResult
	var errB error
	a.setBeforeSlot(func() { resB, errB = b.Commit(ctx) }) // A claimed first; B completes first
	resA, err := a.Commit(ctx)
	require.NoError(t, err)
	require.NoError(t, errB)
	require.Less(t, resA.Instant, resB.Instant)
	// B's index applied B's instant, newer than A's: A's key is still an
	// update for B.
	res := upsertCommit(t, b, []modelRec{{key: "x1", part: "a", ts: 3, val: 2}})
	require.Equal(t, int64(1), res.Stats.Updates)
	require.Zero(t, res.Stats.Inserts)
	requireNoDuplicates(t, tbl, 22)
}

// TestHeartbeatOfOtherHost: a heartbeat from another machine counts while
// it is younger than HeartbeatTimeout.
func TestHeartbeatOfOtherHost(t *testing.T) {
	ctx := context.Background()
	tbl, dir := seededTable(t)
	st := tbl.Storage()
	tx, err := timeline.Begin(ctx, st, timeline.DeltaCommit, nil, timeline.BeginOptions{BeforeRequested: func(ts string) error {
		js, _ := json.Marshal(map[string]any{"host": "elsewhere", "pid": 4242, "time": time.Now().UTC().Format(time.RFC3339Nano)})
		return storage.WriteFile(ctx, st, timeline.HeartbeatPath(ts), js, storage.CreateOptions{})
	}})
	require.NoError(t, err)
	inst := tx.Instant()
	_, err = Open(ctx, tbl, Options{IndexDir: dir + "/index", HeartbeatTimeout: time.Hour})
	requireConcurrentWriterError(t, err, "instant "+inst.Timestamp+", pid 4242 on host elsewhere, heartbeat ")
	time.Sleep(20 * time.Millisecond)
	w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index", HeartbeatTimeout: 10 * time.Millisecond})
	require.NoError(t, err, "an expired heartbeat is a failed write")
	require.NoError(t, w.Close())
	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	require.Empty(t, tl.Pending())
}

// TestEveryWriterHeartbeats: a single-writer commit keeps a heartbeat
// while it is pending and removes it after.
func TestEveryWriterHeartbeats(t *testing.T) {
	ctx := context.Background()
	tbl, dir := seededTable(t)
	w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index"})
	require.NoError(t, err)
	defer w.Close()
	var seen []string
	w.setHook(func(stage string) {
		if stage != "before-check" {
			return
		}
		for obj, err := range tbl.Storage().List(ctx, timeline.HeartbeatFolder+"/", "/") {
			require.NoError(t, err)
			seen = append(seen, obj.Path)
		}
	})
	res := upsertCommit(t, w, []modelRec{{key: "b", part: "p", ts: 1, val: 1}})
	require.Equal(t, []string{timeline.HeartbeatPath(res.Instant)}, seen)
	for obj, err := range tbl.Storage().List(ctx, timeline.HeartbeatFolder+"/", "/") {
		require.NoError(t, err)
		t.Fatalf("heartbeat left: %s", obj.Path)
	}
}

func TestKeyHashesRoundTrip(t *testing.T) {
	hs := []uint64{0, 1, 5, 1 << 40, 1<<48 - 1}
	got, err := decodeKeyHashes(encodeKeyHashes(hs))
	require.NoError(t, err)
	require.Equal(t, hs, got)
	_, err = decodeKeyHashes([]byte{5, 1})
	require.Error(t, err)
}

// TestCompactionCompletedLateIsNotReplayed: a compaction completes after
// later deltacommits (its instant is older). Its base file is a snapshot
// as of its plan; catching the index up from it would bring back the
// entry of a key deleted after the plan and inserted elsewhere since, and
// the next delete of that key would miss.
func TestCompactionCompletedLateIsNotReplayed(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newModelTable(t, "", table.MergeOnRead)
	w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index"})
	require.NoError(t, err)
	defer w.Close()
	upsertCommit(t, w, []modelRec{{key: "k", part: "a", ts: 1, val: 1}, {key: "j", part: "a", ts: 1, val: 1}})
	upsertCommit(t, w, []modelRec{{key: "j", part: "a", ts: 2, val: 2}}) // a log to compact
	sc, err := compactor.Schedule(ctx, tbl, compactor.Options{Force: true})
	require.NoError(t, err)
	require.NotNil(t, sc)
	deleteCommit(t, w, []modelRec{{key: "k", part: "a"}})
	res := upsertCommit(t, w, []modelRec{{key: "k", part: "a", ts: 3, val: 3}}) // a new file group: k's is being compacted
	require.Equal(t, int64(1), res.Stats.Inserts)
	_, err = compactor.Execute(ctx, tbl, sc.Instant, compactor.Options{})
	require.NoError(t, err)
	deleteCommit(t, w, []modelRec{{key: "k", part: "a"}})
	got := rowsPerKey(t, tbl)
	require.Equal(t, map[modelKey]int{{"a", "j"}: 1}, got)
}

func deleteCommit(t *testing.T, w *Writer, recs []modelRec) {
	t.Helper()
	b := buildBatch(recs)
	defer b.Release()
	require.NoError(t, w.Delete(b))
	_, err := w.Commit(context.Background())
	require.NoError(t, err)
}
