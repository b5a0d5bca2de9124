package interop_test

import (
	"context"
	"github.com/hoodie-lake/hoodie/filegroup"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/bench"
	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
)

// TestHudiRSReadsMOR: a merge-on-read table whose updates, late events and
// deletes sit in Avro log blocks (data and delete blocks) is read by
// hudi-rs exactly as hoodie's reader merges it; then again after a
// compaction folded some logs into base files, with new logs on top, and
// after a rolled-back write left rollback command blocks.
func TestHudiRSReadsMOR(t *testing.T) {
	ctx := context.Background()
	tbl, base := newTable(t, table.CreateOptions{Name: "game_events_mor", Type: table.MergeOnRead, RecordKeyFields: []string{"uuid"},
		PrecombineField: "time", PartitionFields: []string{"dt", "game_id", "region"}, HiveStylePartitioning: true})
	// No small-file absorption: new events make new file groups and
	// updates land in log files.
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: t.TempDir(), SmallFileLimit: -1})
	require.NoError(t, err)
	defer w.Close()
	gen := bench.NewGenerator(bench.WorkloadConfig{Seed: 5, DupShare: 0.05})
	var all []bench.Event
	keys := map[string]bool{}
	commit := func(evs []bench.Event) {
		b := bench.ToArrow(evs)
		require.NoError(t, w.Upsert(b))
		b.Release()
		_, err := w.Commit(ctx)
		require.NoError(t, err)
		for _, e := range evs {
			keys[e.UUID] = true
		}
		all = append(all, evs...)
	}
	for c := 0; c < 3; c++ {
		evs := gen.Next(1500)
		if len(all) > 0 {
			late := gen.Updates(all, 100)
			for i := range late {
				late[i].Time -= 10_000_000 // older than the stored version: merged away
			}
			evs = append(append(evs, gen.Updates(all, 300)...), late...)
		}
		commit(evs)
	}
	del := bench.ToArrow(all[:40])
	require.NoError(t, w.Delete(del))
	del.Release()
	_, err = w.Commit(ctx)
	require.NoError(t, err)
	for _, e := range all[:40] {
		delete(keys, e.UUID)
	}
	require.Positive(t, logFiles(t, tbl))
	compare(t, tbl, base, len(keys))

	// Compact, then more updates on top of the compacted slices.
	sc, res, err := compactor.Run(ctx, tbl, compactor.Options{Force: true})
	require.NoError(t, err)
	require.NotNil(t, sc)
	require.Len(t, res, 1)
	commit(gen.Updates(all, 400))
	compare(t, tbl, base, len(keys))

	// A write that fails after writing its log files, rolled back on the
	// next open: rollback command blocks in the slices.
	fw, err := writer.Open(ctx, crashAtCommitPoint(t, tbl, "*.deltacommit"), writer.Options{IndexDir: t.TempDir(), SmallFileLimit: -1})
	require.NoError(t, err)
	b := bench.ToArrow(gen.Updates(all, 200))
	require.NoError(t, fw.Upsert(b))
	b.Release()
	_, err = fw.Commit(ctx)
	require.Error(t, err)
	fw.Close()
	w2, err := writer.Open(ctx, tbl, writer.Options{IndexDir: t.TempDir()})
	require.NoError(t, err)
	require.NoError(t, w2.Close())
	compare(t, tbl, base, len(keys))
}

// crashAtCommitPoint is tbl on a store that crashes when the completed
// instant file matching pattern is closed.
func crashAtCommitPoint(t *testing.T, tbl *table.Table, pattern string) *table.Table {
	t.Helper()
	f := storagefault.NewFaulty(tbl.Storage(), storagefault.OnIndex(0, storagefault.ModeCrash,
		storagefault.Match{Kinds: []storagefault.OpKind{storagefault.OpClose}, Path: pattern}))
	ft, err := table.Open(context.Background(), f)
	require.NoError(t, err)
	return ft
}

// logFiles counts the log files of the latest file slices.
func logFiles(t *testing.T, tbl *table.Table) int {
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
