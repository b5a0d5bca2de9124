package writer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/internal/testutil/model"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// TestMORCrashSweep crashes a merge-on-read deltacommit (updates to log
// files, a delete, new inserts) at every storage operation in turn. After
// each crash the table reads exactly as before the commit; reopening the
// writer rolls the instant back (rollback command blocks for the logs it
// wrote, as Hudi does) and the same commit then succeeds.
func TestMORCrashSweep(t *testing.T) {
	ctx := context.Background()
	base := storage.NewMem()
	tbl, err := table.Create(ctx, base, table.CreateOptions{Name: "m", Type: table.MergeOnRead,
		RecordKeyFields: []string{"id"}, PartitionFields: []string{"part"}, PrecombineField: "ts"})
	require.NoError(t, err)
	idx := t.TempDir()
	w, err := Open(ctx, tbl, Options{IndexDir: idx + "/seed"})
	require.NoError(t, err)
	var seed []modelRec
	for i := 0; i < 30; i++ {
		seed = append(seed, modelRec{key: fmt.Sprintf("k%02d", i), part: []string{"p", "q"}[i%2], ts: 1, val: int64(i)})
	}
	upsertCommit(t, w, seed)
	var upd []modelRec
	for i := 0; i < 30; i += 3 {
		upd = append(upd, modelRec{key: fmt.Sprintf("k%02d", i), part: []string{"p", "q"}[i%2], ts: 2, val: 100 + int64(i)})
	}
	upsertCommit(t, w, upd) // logs exist before the crashing commit
	require.NoError(t, w.Close())
	before := noCT(readTable(t, tbl))

	commit := func(w *Writer) error {
		recs := []modelRec{{key: "k01", part: "q", ts: 5, val: -1}, {key: "k03", part: "q", ts: 5, val: -3}, {key: "new", part: "p", ts: 5, val: 7}}
		b := buildBatch(recs)
		defer b.Release()
		if err := w.Upsert(b); err != nil {
			return err
		}
		d := buildDeletes([]modelKey{{"p", "k02"}})
		defer d.Release()
		if err := w.Delete(d); err != nil {
			return err
		}
		_, err := w.Commit(ctx)
		return err
	}
	var after map[modelKey]modelRow
	{
		mem := base.Clone()
		tb, err := table.Open(ctx, mem)
		require.NoError(t, err)
		w, err := Open(ctx, tb, Options{IndexDir: idx + "/ref"})
		require.NoError(t, err)
		require.NoError(t, commit(w))
		require.NoError(t, w.Close())
		after = noCT(readTable(t, tb))
		require.Len(t, after, 30)
	}

	logRollbacks := 0
	run := func(p *model.Point) error {
		ft, err := table.Open(ctx, p.Store)
		if err == nil {
			var w *Writer
			if w, err = Open(ctx, ft, Options{IndexDir: fmt.Sprintf("%s/%d", idx, p.N)}); err == nil {
				err = commit(w)
				w.Close()
			}
		}
		return err
	}
	points := model.Sweep(t, base, model.SweepOptions{Mode: storagefault.ModeCrash}, run, func(t *testing.T, p *model.Point) {
		n, mem, err := p.N, p.Mem, p.Err
		dir := fmt.Sprintf("%s/%d", idx, n)
		require.True(t, errors.Is(err, storagefault.ErrCrashed), "op %d: %v", n, err)
		tb, err := table.Open(ctx, mem)
		require.NoError(t, err)
		got := noCT(readTable(t, tb))
		// The crash may come after the commit point (index, markers).
		if len(got) == len(before) && got[modelKey{"q", "k01"}] == before[modelKey{"q", "k01"}] {
			require.Equal(t, before, got, "crash at op %d", n)
		} else {
			require.Equal(t, after, got, "crash at op %d", n)
		}
		w, err := Open(ctx, tb, Options{IndexDir: dir})
		require.NoError(t, err, "reopen after crash at op %d", n)
		tl, err := timeline.Load(ctx, mem)
		require.NoError(t, err)
		require.Empty(t, tl.Filter(func(i timeline.Instant) bool {
			return i.State != timeline.Completed && i.Action == timeline.DeltaCommit
		}))
		for _, r := range tl.Filter(func(i timeline.Instant) bool { return i.Action == timeline.Rollback }) {
			raw, err := timeline.ReadInstant(ctx, mem, r)
			require.NoError(t, err)
			var md avroplan.HoodieRollbackMetadata
			require.NoError(t, avroplan.Decode(bytes.NewReader(raw), &md))
			for _, pm := range md.PartitionMetadata {
				if pm.RollbackLogFiles != nil && len(*pm.RollbackLogFiles) > 0 {
					logRollbacks++
				}
			}
		}
		if len(got) == len(before) && got[modelKey{"q", "k01"}] == before[modelKey{"q", "k01"}] {
			require.NoError(t, commit(w), "retry after crash at op %d", n)
		}
		require.NoError(t, w.Close())
		require.Equal(t, after, noCT(readTable(t, tb)), "after recovery, crash at op %d", n)
	})
	t.Logf("crashed a MOR commit at %d storage operations; %d rollbacks wrote command blocks", points, logRollbacks)
	require.Greater(t, points, 20)
	require.Positive(t, logRollbacks)
}

// noCT drops commit times, which differ between runs of the same commit.
func noCT(m map[modelKey]modelRow) map[modelKey]modelRow {
	out := make(map[modelKey]modelRow, len(m))
	for k, v := range m {
		v.ct = ""
		out[k] = v
	}
	return out
}

// TestMORLogRollsAtMaxSize: a deltacommit whose log blocks exceed
// LogFileMaxSize spreads them over consecutive log versions of the slice
// (each block whole), and the snapshot reads every update.
func TestMORLogRollsAtMaxSize(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newModelTable(t, "", table.MergeOnRead)
	w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index", LogFileMaxSize: 1})
	require.NoError(t, err)
	defer w.Close()
	var recs []modelRec
	for i := 0; i < 120_000; i++ {
		recs = append(recs, modelRec{key: fmt.Sprintf("k%06d", i), part: "a", ts: 1, val: int64(i)})
	}
	upsertCommit(t, w, recs)
	for i := range recs {
		recs[i].ts, recs[i].val = 2, -recs[i].val
	}
	res := upsertCommit(t, w, recs)
	require.Equal(t, int64(len(recs)), res.Stats.Updates)
	var logs []string
	for _, ws := range res.Metadata.Stats() {
		logs = append(logs, ws.LogFiles...)
	}
	require.Greater(t, len(logs), 1, "blocks rolled over log versions: %v", logs)
	got := readTable(t, tbl)
	require.Len(t, got, len(recs))
	for i := 0; i < len(recs); i += 997 {
		require.Equal(t, int64(-i), got[modelKey{"a", fmt.Sprintf("k%06d", i)}].val)
	}
}

// TestLateEventsCountedAlike: under DefaultHoodieRecordPayload a late event
// (an ordering value below the stored record's) is counted in
// Stats.LateDropped and not in Stats.Updates or the commit metadata's
// numUpdateWrites, on merge-on-read as on copy-on-write, whether the stored
// record is in the base file or in a log file; the snapshot keeps the
// stored version. A merge-on-read commit of late events only writes no log
// file. Both table types report the same counters for the same input.
func TestLateEventsCountedAlike(t *testing.T) {
	type counters struct{ inserts, updates, deletes, late, dups, metaUpdates int64 }
	commits := [][]modelRec{
		{ // stored: k1..k4 at ts 100, in the base file
			{key: "k1", part: "a", ts: 100, val: 1}, {key: "k2", part: "a", ts: 100, val: 2},
			{key: "k3", part: "a", ts: 100, val: 3}, {key: "k4", part: "a", ts: 100, val: 4},
		},
		{
			{key: "k1", part: "a", ts: 200, val: 11},               // update
			{key: "k2", part: "a", ts: 50, val: 12},                // late
			{key: "k3", part: "a", ts: 50, val: 13, deleted: true}, // late soft delete
			{key: "k4", part: "a", ts: 100, val: 14},               // a tie updates
			{key: "k5", part: "a", ts: 100, val: 15},               // insert
			{key: "k2", part: "a", ts: 40, val: 16},                // a duplicate, also late
		},
		{ // late only; on MOR k1's stored version (ts 200) is in a log file
			{key: "k1", part: "a", ts: 150, val: 21}, {key: "k4", part: "a", ts: 99, val: 22},
		},
		{
			{key: "k1", part: "a", ts: 150, val: 31}, // late against the log record
			{key: "k2", part: "a", ts: 300, val: 32}, // update
		},
	}
	want := []counters{
		{inserts: 4},
		{inserts: 1, updates: 2, late: 2, dups: 1, metaUpdates: 2},
		{late: 2},
		{updates: 1, late: 1, metaUpdates: 1},
	}
	got := map[table.TableType][]counters{}
	snap := map[table.TableType]map[modelKey]modelRow{}
	for _, typ := range []table.TableType{table.CopyOnWrite, table.MergeOnRead} {
		t.Run(string(typ), func(t *testing.T) {
			tbl, dir := newModelTable(t, table.PayloadDefault, typ)
			w, err := Open(context.Background(), tbl, Options{IndexDir: dir + "/index"})
			require.NoError(t, err)
			defer func() { require.NoError(t, w.Close()) }()
			var before map[modelKey]modelRow
			for i, recs := range commits {
				logsBefore := logFileCount(t, tbl)
				res := upsertCommit(t, w, recs)
				s := res.Stats
				_, _, metaUpdates, _, _, _ := res.Metadata.Totals()
				c := counters{s.Inserts, s.Updates, s.Deletes, s.LateDropped, s.Duplicates, metaUpdates}
				got[typ] = append(got[typ], c)
				assert.Equal(t, want[i], c, "commit %d", i)
				after := readTable(t, tbl)
				switch i {
				case 1:
					assert.Equal(t, before[modelKey{"a", "k2"}], after[modelKey{"a", "k2"}], "late update ignored")
					assert.Equal(t, before[modelKey{"a", "k3"}], after[modelKey{"a", "k3"}], "late soft delete ignored")
					assert.Equal(t, int64(11), after[modelKey{"a", "k1"}].val)
					assert.Equal(t, int64(14), after[modelKey{"a", "k4"}].val)
					assert.Len(t, after, 5)
				case 2:
					assert.Equal(t, before, after, "late events change nothing")
					if typ == table.MergeOnRead {
						assert.Equal(t, logsBefore, logFileCount(t, tbl), "no log file for late events only")
						assert.Empty(t, res.Metadata.Stats())
					}
				case 3:
					assert.Equal(t, before[modelKey{"a", "k1"}], after[modelKey{"a", "k1"}], "late against the log record")
					assert.Equal(t, int64(32), after[modelKey{"a", "k2"}].val)
				}
				before = after
			}
			snap[typ] = noCT(before)
		})
	}
	assert.Equal(t, got[table.CopyOnWrite], got[table.MergeOnRead], "the same counters on both table types")
	assert.Equal(t, snap[table.CopyOnWrite], snap[table.MergeOnRead], "the same snapshot on both table types")
}
