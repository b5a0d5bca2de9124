package metadata_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/internal/testutil/model"
	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
)

// sweepCommit is write commit c of the swept workload: 30 upserts over 3
// partitions (a fourth one from commit 10 on), some of them updates.
func sweepCommit(c int) []model.Rec {
	var out []model.Rec
	parts := []string{"a", "b", "c"}
	if c >= 10 {
		parts = append(parts, "d")
	}
	for i := 0; i < 30; i++ {
		k := (i*7 + c*11) % 70
		out = append(out, model.Rec{Key: model.Key{Part: parts[k%len(parts)], ID: fmt.Sprintf("k%02d", k)}, TS: int64(100*c + i), Val: int64(c)})
	}
	return out
}

func sweepModelOf(n int) model.Model {
	m := model.Model{}
	for c := 0; c < n; c++ {
		m.Upsert(sweepCommit(c), "")
	}
	return m
}

// sweepCycle writes commits 8..10 with a merge-on-read compaction after
// the second and a clean at the end: the metadata table gets its 10th
// deltacommit (and so its compaction, clean of old slices) inside the
// cycle.
func sweepCycle(ctx context.Context, st storage.Storage, indexDir string) error {
	tbl, err := table.Open(ctx, st)
	if err != nil {
		return err
	}
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: indexDir, SmallFileLimit: -1})
	if err != nil {
		return err
	}
	defer w.Close()
	for c := 8; c < 11; c++ {
		b := model.Batch(sweepCommit(c))
		err := w.Upsert(b)
		b.Release()
		if err != nil {
			return err
		}
		if _, err := w.Commit(ctx); err != nil {
			return err
		}
		if c == 9 {
			if _, _, err := compactor.Run(ctx, tbl, compactor.Options{Force: true, Parallelism: 1}); err != nil {
				return err
			}
		}
	}
	_, err = cleaner.Clean(ctx, tbl, cleaner.Options{Policy: cleaner.KeepLatestFileVersions, FileVersionsRetained: 1})
	return err
}

// TestFaultSweep fails every storage operation of a cycle of commits, a
// compaction and a clean on a table keeping the metadata table — the
// metadata deltacommits, its compaction and clean included — in turn, as an
// error and as a crash. After each, the table is recovered as the next
// processes would (a writer's Open rolls back the failed write and its
// metadata deltacommit, pending compactions and cleans are finished), and
// then: the metadata table lists exactly the committed files (Validate),
// the snapshot equals the model of the commits that completed, and one
// more commit (which also finishes the metadata table's pending services)
// keeps both true. One point in 16 per run (rotating; see
// HOODIE_SWEEP_STRIDE).
func TestFaultSweep(t *testing.T) {
	ctx := context.Background()
	base := storage.NewMem()
	tbl, err := table.Create(ctx, base, model.CreateOptions("sweep", table.MergeOnRead))
	require.NoError(t, err)
	idx := t.TempDir()
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: idx + "/base", SmallFileLimit: -1, MetadataTable: true})
	require.NoError(t, err)
	for c := 0; c < 8; c++ {
		b := model.Batch(sweepCommit(c))
		require.NoError(t, w.Upsert(b))
		b.Release()
		_, err := w.Commit(ctx)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())

	ref := base.Clone()
	require.NoError(t, sweepCycle(ctx, ref, idx+"/ref"))
	rt, err := table.Open(ctx, ref)
	require.NoError(t, err)
	requireAgrees(t, rt, "reference run")
	mst := metadataStore(t, ref)
	mtl, err := timeline.Load(ctx, mst)
	require.NoError(t, err)
	compactions := 0
	for _, i := range mtl.CompletedCommits() {
		if i.Action == timeline.Commit {
			compactions++
		}
	}
	require.Positive(t, compactions, "the cycle compacts the metadata table:\n%s", mtl)

	stride := 16
	if s := os.Getenv("HOODIE_SWEEP_STRIDE"); s != "" {
		stride, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	offset := int(time.Now().UnixNano() % int64(stride))
	if s := os.Getenv("HOODIE_SWEEP_OFFSET"); s != "" {
		offset, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	t.Logf("sweeping one operation in %d from offset %d", stride, offset)
	points := 0
	for _, mode := range []storagefault.Mode{storagefault.ModeError, storagefault.ModeCrash} {
		run := func(p *model.Point) error {
			return sweepCycle(ctx, p.Store, fmt.Sprintf("%s/%d-%d", idx, mode, p.N))
		}
		model.Sweep(t, base, model.SweepOptions{Mode: mode, Stride: stride, Offset: offset}, run, func(t *testing.T, p *model.Point) {
			points++
			what := fmt.Sprintf("mode %d op %d (%v)", mode, p.N, p.Op)
			require.True(t, errors.Is(p.Err, storagefault.ErrInjected) || errors.Is(p.Err, storagefault.ErrCrashed), "%s: %v", what, p.Err)
			dir := fmt.Sprintf("%s/%d-%d", idx, mode, p.N)
			rec, err := table.Open(ctx, p.Mem)
			require.NoError(t, err, what)
			w, err := writer.Open(ctx, rec, writer.Options{IndexDir: dir})
			require.NoError(t, err, what)
			_, _, err = compactor.Run(ctx, rec, compactor.Options{Mode: compactor.RunOnly})
			require.NoError(t, err, what)
			_, err = cleaner.Clean(ctx, rec, cleaner.Options{Policy: cleaner.KeepLatestFileVersions, FileVersionsRetained: 1})
			require.NoError(t, err, what)
			if mm, err := metadata.Validate(ctx, rec); err == nil && len(mm) > 0 {
				mtl, _ := timeline.Load(ctx, metadataStore(t, p.Mem))
				dtl, _ := timeline.Load(ctx, p.Mem)
				t.Logf("%s: data timeline:\n%s\nmetadata timeline:\n%s", what, dtl, mtl)
			}
			requireAgrees(t, rec, what+" after recovery")
			tl, err := rec.Timeline(ctx)
			require.NoError(t, err)
			writes := 0
			for _, c := range tl.CompletedCommits() {
				if c.Action == timeline.DeltaCommit {
					writes++
				}
			}
			want := sweepModelOf(writes)
			require.Equal(t, want.String(), model.Read(t, rec, reader.Options{}).WithoutCT().String(), what)

			// One more commit: the metadata table's pending services run.
			b := model.Batch(sweepCommit(writes))
			require.NoError(t, w.Upsert(b))
			b.Release()
			_, err = w.Commit(ctx)
			require.NoError(t, err, what)
			require.NoError(t, w.Close())
			require.NoError(t, rec.Refresh(ctx))
			requireAgrees(t, rec, what+" after one more commit")
			want.Upsert(sweepCommit(writes), "")
			require.Equal(t, want.String(), model.Read(t, rec, reader.Options{}).WithoutCT().String(), what+" after one more commit")
			m, err := metadata.For(ctx, rec, metadata.Options{})
			require.NoError(t, err)
			require.NotNil(t, m)
		})
	}
	t.Logf("metadata fault sweep: %d fault points", points)
	require.Greater(t, points, 20)
}

// metadataStore is the metadata table of the table in st, as a store.
func metadataStore(t *testing.T, st storage.Storage) storage.Storage {
	t.Helper()
	tbl, err := table.Open(context.Background(), st)
	require.NoError(t, err)
	m, err := metadata.For(context.Background(), tbl, metadata.Options{})
	require.NoError(t, err)
	require.NotNil(t, m)
	return m.Storage()
}
