package compactor_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/storagefault"
	testmodel "github.com/hoodie-lake/hoodie/internal/testutil/model"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
)

// The shared test harness: schema (id, ts, part, val), batches, the model.
type (
	key   = testmodel.Key
	row   = testmodel.Row
	event = testmodel.Rec
)

var (
	batch   = testmodel.Batch
	deletes = testmodel.Deletes
)

func newTable(t *testing.T, st storage.Storage) *table.Table {
	t.Helper()
	tbl, err := table.Create(context.Background(), st, testmodel.CreateOptions("events", table.MergeOnRead))
	require.NoError(t, err)
	return tbl
}

// read reads the snapshot (commit times left out), failing on duplicates.
func read(t *testing.T, tbl *table.Table) map[key]row {
	t.Helper()
	return testmodel.Read(t, tbl, reader.Options{}).WithoutCT()
}

// model applies events with Hudi's DefaultHoodieRecordPayload rule.
type model map[key]row

func (m model) upsert(evs []event) { testmodel.Model(m).Upsert(evs, "") }

func randomEvents(rng *rand.Rand, clock *int64, n, keySpace int) []event {
	parts := []string{"a", "b"}
	evs := make([]event, n)
	for i := range evs {
		*clock++
		ts := *clock
		if rng.IntN(5) == 0 {
			ts -= int64(rng.IntN(300)) // late
		}
		evs[i] = event{Key: key{Part: parts[rng.IntN(2)], ID: fmt.Sprintf("k%03d", rng.IntN(keySpace))}, TS: ts, Val: rng.Int64N(1 << 30)}
	}
	return evs
}

func logsInLatest(t *testing.T, tbl *table.Table) int {
	t.Helper()
	ctx := context.Background()
	tl, err := timeline.Load(ctx, tbl.Storage())
	require.NoError(t, err)
	v, err := filegroup.BuildView(ctx, tbl.Storage(), tl, filegroup.ViewOptions{})
	require.NoError(t, err)
	n := 0
	for _, s := range v.LatestSlices() {
		n += len(s.Logs)
	}
	return n
}

// TestModelWithCompaction interleaves ingestion (upserts with late events,
// deletes), scheduling, execution and cleaning at random — including commits while a
// plan is pending — and checks the snapshot against the model after every
// step.
func TestModelWithCompaction(t *testing.T) {
	ctx := context.Background()
	seeds := 8
	if testing.Short() {
		seeds = 3
	}
	var executed, carried, pendingWrites, cleaned int
	for seed := 0; seed < seeds; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			st, err := storage.NewLocal(t.TempDir())
			require.NoError(t, err)
			tbl := newTable(t, st)
			w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: t.TempDir()})
			require.NoError(t, err)
			defer w.Close()
			m := model{}
			clock := int64(1000)
			var pending []string
			for step := 0; step < 30; step++ {
				switch r := rng.IntN(10); {
				case r < 6:
					evs := randomEvents(rng, &clock, 1+rng.IntN(60), 80)
					rec := batch(evs)
					require.NoError(t, w.Upsert(rec))
					rec.Release()
					_, err := w.Commit(ctx)
					require.NoError(t, err)
					m.upsert(evs)
					if len(pending) > 0 {
						pendingWrites++
					}
				case r < 7 && len(m) > 0:
					var ks []key
					for k := range m {
						if rng.IntN(5) == 0 {
							ks = append(ks, k)
						}
					}
					if len(ks) == 0 {
						continue
					}
					rec := deletes(ks)
					require.NoError(t, w.Delete(rec))
					rec.Release()
					_, err := w.Commit(ctx)
					require.NoError(t, err)
					for _, k := range ks {
						delete(m, k)
					}
				case r < 8 && rng.IntN(2) == 0:
					opts := cleaner.Options{Policy: cleaner.KeepLatestFileVersions, FileVersionsRetained: 1}
					if rng.IntN(2) == 0 {
						opts = cleaner.Options{CommitsRetained: 1 + rng.IntN(3)}
					}
					res, err := cleaner.Clean(ctx, tbl, opts)
					require.NoError(t, err)
					cleaned += len(res.Deleted)
				case r < 9:
					sc, err := compactor.Schedule(ctx, tbl, compactor.Options{Force: rng.IntN(2) == 0})
					require.NoError(t, err)
					if sc != nil {
						pending = append(pending, sc.Instant)
					}
				default:
					if len(pending) == 0 {
						continue
					}
					res, err := compactor.Execute(ctx, tbl, pending[0], compactor.Options{})
					require.NoError(t, err)
					require.False(t, res.AlreadyDone)
					executed++
					carried += res.CarriedLogs
					pending = pending[1:]
				}
				require.Equal(t, map[key]row(m), read(t, tbl), "step %d", step)
			}
			for _, p := range pending {
				_, err := compactor.Execute(ctx, tbl, p, compactor.Options{})
				require.NoError(t, err)
				executed++
			}
			require.Equal(t, map[key]row(m), read(t, tbl))
			// A forced compaction of everything leaves no log in the latest
			// slices, and the same rows.
			_, res, err := compactor.Run(ctx, tbl, compactor.Options{Force: true})
			require.NoError(t, err)
			executed += len(res)
			require.Zero(t, logsInLatest(t, tbl))
			require.Equal(t, map[key]row(m), read(t, tbl))
		})
	}
	t.Logf("executed %d compactions, %d commits while a plan was pending, %d carried logs, %d files cleaned", executed, pendingWrites, carried, cleaned)
	require.Positive(t, cleaned)
	require.Greater(t, executed, seeds)
	require.Positive(t, pendingWrites)
}

// TestStrategy schedules only after DeltaCommits delta commits.
func TestStrategy(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	tbl := newTable(t, st)
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: t.TempDir()})
	require.NoError(t, err)
	defer w.Close()
	clock := int64(0)
	rng := rand.New(rand.NewPCG(1, 1))
	commit := func() {
		rec := batch(randomEvents(rng, &clock, 20, 10))
		require.NoError(t, w.Upsert(rec))
		rec.Release()
		_, err := w.Commit(ctx)
		require.NoError(t, err)
	}
	for i := 1; i < 4; i++ {
		commit()
		sc, err := compactor.Schedule(ctx, tbl, compactor.Options{DeltaCommits: 4})
		require.NoError(t, err)
		require.Nil(t, sc, "after %d delta commits", i)
	}
	commit()
	sc, err := compactor.Schedule(ctx, tbl, compactor.Options{DeltaCommits: 4})
	require.NoError(t, err)
	require.NotNil(t, sc)
	require.Contains(t, sc.Reason, "4 delta commits")
	// The pending plan's groups are not planned again.
	sc2, err := compactor.Schedule(ctx, tbl, compactor.Options{Force: true})
	require.NoError(t, err)
	require.Nil(t, sc2)
	// Log size strategy.
	_, err = compactor.Execute(ctx, tbl, sc.Instant, compactor.Options{})
	require.NoError(t, err)
	commit()
	sc3, err := compactor.Schedule(ctx, tbl, compactor.Options{Strategy: compactor.LogSize, LogBytes: 1 << 40})
	require.NoError(t, err)
	require.Nil(t, sc3)
	sc3, err = compactor.Schedule(ctx, tbl, compactor.Options{Strategy: compactor.LogSize, LogBytes: 1})
	require.NoError(t, err)
	require.NotNil(t, sc3)
}

// TestConcurrentCompaction runs ingestion and a compaction loop at the same
// time on separate storage handles (as separate processes would), with
// readers checking every snapshot is duplicate-free; at the end the table
// equals the model.
func TestConcurrentCompaction(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func() *table.Table {
		st, err := storage.NewLocal(dir)
		require.NoError(t, err)
		tbl, err := table.Open(ctx, st)
		require.NoError(t, err)
		return tbl
	}
	st, err := storage.NewLocal(dir)
	require.NoError(t, err)
	newTable(t, st)
	wt := open()
	w, err := writer.Open(ctx, wt, writer.Options{IndexDir: t.TempDir()})
	require.NoError(t, err)
	defer w.Close()

	m := model{}
	rng := rand.New(rand.NewPCG(3, 3))
	clock := int64(0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var compactions, reads int
	var bgErr error
	var mu sync.Mutex
	wg.Add(2)
	go func() { // the compactor process
		defer wg.Done()
		ct := open()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, res, err := compactor.Run(ctx, ct, compactor.Options{Force: true})
			mu.Lock()
			compactions += len(res)
			if err != nil && bgErr == nil {
				bgErr = err
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	go func() { // a reader process
		defer wg.Done()
		rt := open()
		for {
			select {
			case <-stop:
				return
			default:
			}
			recs, err := reader.ReadAll(ctx, rt, reader.Options{})
			seen := map[string]bool{}
			for _, r := range recs {
				id := r.Column(r.Schema().FieldIndices("id")[0]).(*array.String)
				part := r.Column(r.Schema().FieldIndices("part")[0]).(*array.String)
				for i := 0; i < id.Len(); i++ {
					k := part.Value(i) + "/" + id.Value(i)
					if seen[k] && err == nil {
						err = fmt.Errorf("duplicate key %s in a snapshot", k)
					}
					seen[k] = true
				}
				r.Release()
			}
			mu.Lock()
			reads++
			if err != nil && bgErr == nil {
				bgErr = err
			}
			mu.Unlock()
		}
	}()
	for c := 0; c < 40; c++ {
		evs := randomEvents(rng, &clock, 1+rng.IntN(100), 150)
		rec := batch(evs)
		require.NoError(t, w.Upsert(rec))
		rec.Release()
		_, err := w.Commit(ctx)
		require.NoError(t, err)
		m.upsert(evs)
	}
	close(stop)
	wg.Wait()
	require.NoError(t, bgErr)
	_, _, err = compactor.Run(ctx, open(), compactor.Options{Mode: compactor.RunOnly})
	require.NoError(t, err)
	require.Equal(t, map[key]row(m), read(t, open()))
	t.Logf("%d compactions and %d reads ran during 40 commits", compactions, reads)
	require.Positive(t, compactions)
}

// TestCrashedExecutionReruns crashes Execute at every storage operation in
// turn; a re-run completes the compaction and the table reads as before.
func TestCrashedExecutionReruns(t *testing.T) {
	ctx := context.Background()
	base := storage.NewMem()
	tbl := newTable(t, base)
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: t.TempDir()})
	require.NoError(t, err)
	m := model{}
	rng := rand.New(rand.NewPCG(5, 5))
	clock := int64(0)
	for c := 0; c < 6; c++ {
		evs := randomEvents(rng, &clock, 40, 50)
		if c == 0 { // every key first, so later commits are updates (logs)
			evs = nil
			for i := 0; i < 50; i++ {
				for _, p := range []string{"a", "b"} {
					clock++
					evs = append(evs, event{Key: key{Part: p, ID: fmt.Sprintf("k%03d", i)}, TS: clock, Val: int64(i)})
				}
			}
		}
		rec := batch(evs)
		require.NoError(t, w.Upsert(rec))
		rec.Release()
		_, err := w.Commit(ctx)
		require.NoError(t, err)
		m.upsert(evs)
	}
	require.NoError(t, w.Close())
	sc, err := compactor.Schedule(ctx, tbl, compactor.Options{Force: true})
	require.NoError(t, err)
	require.NotNil(t, sc)

	run := func(p *testmodel.Point) error {
		ft, err := table.Open(ctx, p.Store)
		if err == nil {
			_, err = compactor.Execute(ctx, ft, sc.Instant, compactor.Options{Parallelism: 1})
		}
		return err
	}
	points := testmodel.Sweep(t, base, testmodel.SweepOptions{Mode: storagefault.ModeCrash}, run, func(t *testing.T, p *testmodel.Point) {
		n, mem := p.N, p.Mem
		require.True(t, errors.Is(p.Err, storagefault.ErrCrashed), "op %d: %v", n, p.Err)
		rt, err := table.Open(ctx, mem)
		require.NoError(t, err)
		// Before the re-run readers see the table as before (pending or
		// completed, never half).
		require.Equal(t, map[key]row(m), read(t, rt), "crash at op %d", n)
		res, err := compactor.Execute(ctx, rt, sc.Instant, compactor.Options{})
		require.NoError(t, err, "re-run after crash at op %d", n)
		_ = res
		require.Equal(t, map[key]row(m), read(t, rt), "after re-run, crash at op %d", n)
		require.Zero(t, logsInLatest(t, rt), "crash at op %d", n)
	})
	t.Logf("crashed the execution at %d storage operations", points)
	require.Greater(t, points, 10)
}

func TestRefusesCOW(t *testing.T) {
	ctx := context.Background()
	tbl, err := table.Create(ctx, storage.NewMem(), table.CreateOptions{Name: "c", Type: table.CopyOnWrite, RecordKeyFields: []string{"id"}, PrecombineField: "ts"})
	require.NoError(t, err)
	_, err = compactor.Schedule(ctx, tbl, compactor.Options{})
	require.ErrorIs(t, err, compactor.ErrNotMergeOnRead)
}

// TestRunModes runs the two halves of Run separately: ScheduleOnly writes a
// plan and executes nothing, RunOnly executes it and schedules nothing.
func TestRunModes(t *testing.T) {
	ctx := context.Background()
	tbl := newTable(t, storage.NewMem())
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: t.TempDir()})
	require.NoError(t, err)
	defer w.Close()
	clock := int64(0)
	rng := rand.New(rand.NewPCG(2, 2))
	for range 3 {
		rec := batch(randomEvents(rng, &clock, 20, 10))
		require.NoError(t, w.Upsert(rec))
		rec.Release()
		_, err := w.Commit(ctx)
		require.NoError(t, err)
	}
	sc, res, err := compactor.Run(ctx, tbl, compactor.Options{Mode: compactor.RunOnly, Force: true})
	require.NoError(t, err)
	require.Nil(t, sc, "RunOnly schedules nothing")
	require.Empty(t, res)
	sc, res, err = compactor.Run(ctx, tbl, compactor.Options{Mode: compactor.ScheduleOnly, Force: true})
	require.NoError(t, err)
	require.NotNil(t, sc)
	require.Empty(t, res, "ScheduleOnly executes nothing")
	pend, err := compactor.Pending(ctx, tbl)
	require.NoError(t, err)
	require.Len(t, pend, 1)
	require.Equal(t, sc.Instant, pend[0].Timestamp)
	sc2, res, err := compactor.Run(ctx, tbl, compactor.Options{Mode: compactor.RunOnly, Force: true})
	require.NoError(t, err)
	require.Nil(t, sc2)
	require.Len(t, res, 1)
	require.Equal(t, sc.Instant, res[0].Instant)
	require.False(t, res[0].AlreadyDone)
	require.Zero(t, logsInLatest(t, tbl))
	_, _, err = compactor.Run(ctx, tbl, compactor.Options{Mode: compactor.Mode(9)})
	require.ErrorIs(t, err, compactor.ErrInvalidOptions)
}
