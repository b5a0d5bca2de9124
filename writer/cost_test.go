package writer

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/internal/testutil/model"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The cost of a commit follows its batch: a long-lived writer committing
// small batches into a few partitions of a table that keeps growing (more
// commits, more partitions it does not touch), with the table services
// run as a user runs them (compaction, cleaning, archival every few
// commits, from another table handle), sends no more storage operations
// per commit at the end than near the start, lists the timeline folder
// only (as large as archival keeps the active timeline), lists only the
// partitions it touches, and sends the same operations whatever the
// partitions it does not touch. Operations are counted, never timed.

// opCount is the storage operations of one commit.
type opCount struct {
	// meta: under .hoodie/, except the listings of the timeline folder
	// itself, which are timelineLists (timelineListed entries).
	meta, data                    kindCount
	timelineLists, timelineListed int
	activeFiles                   int // entries of the timeline folder before the commit
}

// kindCount counts operations by kind; listed is the number of entries
// the listings returned (a LIST request per 1,000 on S3). read counts the
// objects read; ranges the ranged reads, whose number per object is the
// Parquet codec's business (it grows with a file's row groups and pages).
type kindCount struct {
	list, read, ranges, stat, put, delete, listed int
}

func (k kindCount) get(kind string) int {
	switch kind {
	case "list":
		return k.list
	case "read":
		return k.read
	case "stat":
		return k.stat
	case "put":
		return k.put
	case "delete":
		return k.delete
	case "listed":
		return k.listed
	case "ranges":
		return k.ranges
	}
	return 0
}

func (k kindCount) String() string {
	return fmt.Sprintf("list %d (%d entries), read %d (%d ranges), stat %d, put %d, delete %d", k.list, k.listed, k.read, k.ranges, k.stat, k.put, k.delete)
}

// costKinds are the kinds compared; ranged reads are not (see kindCount).
var costKinds = []string{"list", "read", "stat", "put", "delete", "listed"}

// timelineFolder is the prefix of a listing of the timeline folder.
const timelineFolder = timeline.MetaFolder + "/"

// opMeter counts the operations of a store between start and stop: the
// kinds through storagefault's injector hook, the entries listings return
// through meteredStore. ops lists them for failure messages.
type opMeter struct {
	mu    sync.Mutex
	on    bool
	cur   opCount
	ops   []string
	reads map[string]bool
}

func isMeta(p string) bool { return strings.HasPrefix(p, timeline.MetaFolder) }

// MaybeError implements storagefault.Injector: it fails nothing.
func (m *opMeter) MaybeError(op storagefault.Op) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.on {
		return nil
	}
	k := &m.cur.data
	if isMeta(op.Path) {
		k = &m.cur.meta
	}
	switch op.Kind {
	case storagefault.OpList:
		if op.Path == timelineFolder {
			m.cur.timelineLists++
		} else {
			k.list++
		}
	case storagefault.OpRead:
		k.ranges++
		if !m.reads[op.Path] {
			m.reads[op.Path] = true
			k.read++
		}
	case storagefault.OpStat:
		k.stat++
	case storagefault.OpClose:
		k.put++
	case storagefault.OpDelete:
		k.delete++
	default:
		return nil
	}
	m.ops = append(m.ops, op.String())
	return nil
}

func (m *opMeter) start(activeFiles int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.on, m.cur, m.ops, m.reads = true, opCount{activeFiles: activeFiles}, nil, map[string]bool{}
}

func (m *opMeter) stop() (opCount, []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.on = false
	return m.cur, m.ops
}

// listed counts n entries of a listing of prefix.
func (m *opMeter) listed(prefix string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.on {
		return
	}
	switch {
	case prefix == timelineFolder:
		m.cur.timelineListed += n
	case isMeta(prefix):
		m.cur.meta.listed += n
	default:
		m.cur.data.listed += n
	}
	m.ops = append(m.ops, fmt.Sprintf("  (%d entries)", n))
}

// meteredStore is the Faulty store with listings' entries counted.
type meteredStore struct {
	storage.Storage
	m *opMeter
}

func (s meteredStore) List(ctx context.Context, prefix, delim string) iter.Seq2[storage.ObjectInfo, error] {
	return func(yield func(storage.ObjectInfo, error) bool) {
		n := 0
		defer func() { s.m.listed(prefix, n) }()
		for o, err := range s.Storage.List(ctx, prefix, delim) {
			if err == nil {
				n++
			}
			if !yield(o, err) {
				return
			}
		}
	}
}

// costRun is one stream of commits against one table.
type costRun struct {
	typ table.TableType
	// partitions in the table (seeded by a first bulk insert); commits
	// touch one or two of the first touched of them.
	partitions, touched int
	commits             int
	rows                int // per commit
	services            int // compaction, clean, archival every this many commits
	concurrency         Concurrency
	// pendingCompaction: compaction plans are scheduled at one round of
	// services and executed at the next, so commits write to groups of a
	// pending compaction.
	pendingCompaction bool
}

func partName(i int) string { return fmt.Sprintf("p%03d", i) }

// touchedParts are the partitions commit n (from 0) writes: the pattern
// repeats every c.touched commits.
func (c costRun) touchedParts(n int) []string {
	parts := []string{partName(n % c.touched)}
	if n%c.touched != 0 {
		parts = append(parts, partName((n+1)%c.touched))
	}
	return parts
}

// run streams the commits and returns the counted operations of each
// (index 0 is commit 1); it checks the table's content at the end.
func (c costRun) run(t *testing.T) ([]opCount, [][]string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	m := &opMeter{}
	st := meteredStore{Storage: storagefault.NewFaulty(storage.NewMem(), m), m: m}
	tbl, err := table.Create(ctx, st, model.CreateOptions("cost", c.typ))
	require.NoError(t, err)
	w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index", HeartbeatTimeout: time.Hour, Parallelism: 1, Concurrency: c.concurrency})
	require.NoError(t, err)
	defer w.Close()

	want := model.Model{}
	byPart := map[string][]string{}
	var seed []model.Rec
	for p := range c.partitions {
		for i := range 20 {
			r := model.Rec{Key: model.Key{Part: partName(p), ID: fmt.Sprintf("s%03d-%02d", p, i)}, TS: 1, Val: int64(i)}
			seed = append(seed, r)
			byPart[r.Key.Part] = append(byPart[r.Key.Part], r.Key.ID)
		}
	}
	b := model.BatchDeleted(seed)
	require.NoError(t, w.BulkInsert(b))
	b.Release()
	res, err := w.Commit(ctx)
	require.NoError(t, err)
	want.Upsert(seed, res.Instant)

	svc, err := table.Open(ctx, st)
	require.NoError(t, err)
	counts := make([]opCount, c.commits)
	ops := make([][]string, c.commits)
	for n := range c.commits {
		parts := c.touchedParts(n)
		var recs []model.Rec
		for i := range c.rows { // 10 % updates
			part := parts[i%len(parts)]
			id := fmt.Sprintf("c%03d-%04d", n, i)
			if i%10 == 0 {
				ids := byPart[part]
				id = ids[(n*31+i)%len(ids)]
			} else {
				byPart[part] = append(byPart[part], id)
			}
			recs = append(recs, model.Rec{Key: model.Key{Part: part, ID: id}, TS: int64(n + 2), Val: int64(n*1000 + i)})
		}
		b := model.BatchDeleted(recs)
		require.NoError(t, w.Upsert(b))
		b.Release()
		active := 0
		for _, err := range st.List(ctx, timelineFolder, "/") {
			require.NoError(t, err)
			active++
		}
		m.start(active)
		res, err := w.Commit(ctx)
		counts[n], ops[n] = m.stop()
		require.NoError(t, err, "commit %d", n+1)
		want.Upsert(recs, res.Instant)
		if (n+1)%c.services == 0 {
			c.runServices(t, svc)
		}
	}
	got := model.Read(t, tbl, reader.Options{})
	require.Equal(t, len(want), len(got), "rows in the table")
	assert.Equal(t, want.WithoutCT(), got.WithoutCT(), "table content after %d commits", c.commits)
	return counts, ops
}

// runServices runs compaction (merge-on-read), cleaning and archival as a
// user's service process does, through its own table handle.
func (c costRun) runServices(t *testing.T, tbl *table.Table) {
	t.Helper()
	ctx := context.Background()
	if c.typ == table.MergeOnRead {
		modes := []compactor.Mode{compactor.ScheduleAndRun}
		if c.pendingCompaction {
			modes = []compactor.Mode{compactor.RunOnly, compactor.ScheduleOnly}
		}
		for _, mode := range modes {
			_, _, err := compactor.Run(ctx, tbl, compactor.Options{Mode: mode})
			require.NoError(t, err)
		}
	}
	_, err := cleaner.Clean(ctx, tbl, cleaner.Options{CommitsRetained: 4})
	require.NoError(t, err)
	_, err = cleaner.Archive(ctx, tbl, cleaner.ArchiveOptions{MinToKeep: 8, MaxToKeep: 12})
	require.NoError(t, err)
}

// window is the largest value of f over commits [from, to] (1-based).
func window(counts []opCount, from, to int, f func(opCount) int) int {
	out := 0
	for _, c := range counts[from-1 : to] {
		out = max(out, f(c))
	}
	return out
}

func logCost(t *testing.T, name string, counts []opCount, at ...int) {
	t.Helper()
	for _, n := range at {
		if n <= len(counts) {
			c := counts[n-1]
			t.Logf("%s commit %d: timeline folder: list %d (%d entries; %d files before the commit); other timeline: %v; data: %v",
				name, n, c.timelineLists, c.timelineListed, c.activeFiles, c.meta, c.data)
		}
	}
}

// Steady state: the services have run a few times and archival bounds the
// active timeline. Windows of equal phase (the workload and the services
// repeat every 5 commits) are compared.
const (
	earlyFrom, earlyTo = 16, 30
	lateFrom, lateTo   = 46, 60
)

func TestCommitCostFollowsTheBatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		typ     table.TableType
		cc      Concurrency
		pending bool
	}{
		{"mor", table.MergeOnRead, SingleWriter, false},
		{"cow", table.CopyOnWrite, SingleWriter, false},
		{"mor-optimistic", table.MergeOnRead, Optimistic, false},
		{"mor-pending-compaction", table.MergeOnRead, SingleWriter, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := costRun{typ: tc.typ, partitions: 24, touched: 5, commits: lateTo, rows: 200, services: 5,
				concurrency: tc.cc, pendingCompaction: tc.pending}
			counts, ops := run.run(t)
			logCost(t, tc.name, counts, 10, 60)
			checkSteady(t, counts, ops, "timeline folder lists", func(c opCount) int { return c.timelineLists })
			for _, kind := range costKinds {
				checkSteady(t, counts, ops, "timeline "+kind, func(c opCount) int { return c.meta.get(kind) })
			}
			for n, c := range counts {
				// The timeline folder is listed, never more than archival
				// keeps in it (plus the commit's own files).
				assert.LessOrEqual(t, c.timelineListed, c.timelineLists*(c.activeFiles+3), "commit %d: timeline folder entries listed", n+1)
				// Each touched partition is listed once, no other.
				assert.Equal(t, len(run.touchedParts(n)), c.data.list, "commit %d: data listings", n+1)
			}
			if tc.pending {
				// Inserts avoid the groups of a pending compaction: new
				// file groups, whose number grows with the rounds (the
				// insert policy, not the commit's reads).
				return
			}
			for _, kind := range costKinds {
				checkSteady(t, counts, ops, "data "+kind, func(c opCount) int { return c.data.get(kind) })
			}
		})
	}
}

// checkSteady asserts that f of the late commits is at most f of the early
// ones.
func checkSteady(t *testing.T, counts []opCount, ops [][]string, what string, f func(opCount) int) {
	t.Helper()
	early, late := window(counts, earlyFrom, earlyTo, f), window(counts, lateFrom, lateTo, f)
	if !assert.LessOrEqual(t, late, early, "%s per commit grew: commits %d-%d at most %d, commits %d-%d up to %d",
		what, earlyFrom, earlyTo, early, lateFrom, lateTo, late) {
		var series []int
		for _, c := range counts {
			series = append(series, f(c))
		}
		t.Logf("%s per commit: %v", what, series)
		t.Logf("commit %d's operations:\n%s", lateTo, strings.Join(ops[lateTo-1], "\n"))
	}
}

func TestCommitCostIgnoresUntouchedPartitions(t *testing.T) {
	for _, typ := range []table.TableType{table.MergeOnRead, table.CopyOnWrite} {
		t.Run(string(typ), func(t *testing.T) {
			small := costRun{typ: typ, partitions: 5, touched: 5, commits: 12, rows: 200, services: 5}
			large := small
			large.partitions = 64
			few, _ := small.run(t)
			many, ops := large.run(t)
			for n := range few {
				assert.Equal(t, few[n].timelineLists, many[n].timelineLists, "commit %d: timeline folder listings", n+1)
				for _, kind := range []string{"list", "read", "stat", "listed"} {
					assert.Equal(t, few[n].meta.get(kind), many[n].meta.get(kind), "commit %d: timeline %s operations with 5 and 64 partitions", n+1, kind)
					if !assert.Equal(t, few[n].data.get(kind), many[n].data.get(kind), "commit %d: data %s operations with 5 and 64 partitions", n+1, kind) {
						t.Logf("commit %d's operations:\n%s", n+1, strings.Join(ops[n], "\n"))
					}
				}
			}
		})
	}
}

// TestOptimisticSlotsListedIncrementally: a writer lists only the commit
// slots taken since its last listing, across blocks of slot names, keeps
// only the slots of instants not settled, and still sees the slot of a
// concurrent overlapping commit.
func TestOptimisticSlotsListedIncrementally(t *testing.T) {
	a, b, tbl, arm := occPair(t, table.MergeOnRead, 0)
	defer a.Close()
	defer b.Close()
	for round := range 13 { // 26 slots: past two block boundaries
		arm()
		ts := int64(10 + round)
		errA, errB := both(t, a, b,
			[]modelRec{{key: "k00", part: "a", ts: ts, val: 100 + ts}},
			[]modelRec{{key: "k01", part: "b", ts: ts, val: 200 + ts}})
		require.NoError(t, errA)
		require.NoError(t, errB)
	}
	require.EqualValues(t, 25, max(a.state.slotTop, b.state.slotTop), "highest slot")
	require.LessOrEqual(t, len(a.slots), 2, "settled slots are forgotten")
	for round := range 2 {
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
	}
	got := readTable(t, tbl)
	require.Equal(t, int64(122), got[modelKey{"a", "k00"}].val)
	require.Equal(t, int64(222), got[modelKey{"b", "k01"}].val)
	noGarbage(t, tbl)
}
