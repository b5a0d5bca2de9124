package metadata_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/internal/testutil/model"
	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/rollback"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
)

// requireAgrees checks that the metadata table lists exactly the committed
// files of storage, with their sizes.
func requireAgrees(t *testing.T, tbl *table.Table, what string) {
	t.Helper()
	mm, err := metadata.Validate(context.Background(), tbl)
	require.NoError(t, err, what)
	require.Empty(t, mm, "%s: the metadata table disagrees with storage", what)
}

// mdtInstants lists the metadata table's timeline.
func mdtInstants(t *testing.T, base string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(base, ".hoodie", "metadata", ".hoodie"))
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

func countSuffix(names []string, suffix string) int {
	n := 0
	for _, s := range names {
		if strings.HasSuffix(s, suffix) {
			n++
		}
	}
	return n
}

// TestMaintainedThroughEveryAction: a table created with the metadata
// table gets 30 random actions (upserts into old and new partitions,
// deletes, cleans, merge-on-read compactions, a rollback of the latest
// commit); after every one, the metadata table lists exactly the committed
// files, the snapshot equals the model, and by the end the metadata table
// was compacted (every 10 deltacommits) and the data table's archival
// stopped at its latest base file.
func TestMaintainedThroughEveryAction(t *testing.T) {
	for _, typ := range []table.TableType{table.CopyOnWrite, table.MergeOnRead} {
		t.Run(strings.ToLower(string(typ)), func(t *testing.T) {
			ctx := context.Background()
			base := t.TempDir()
			st, err := storage.NewLocal(base)
			require.NoError(t, err)
			tbl, err := table.Create(ctx, st, model.CreateOptions("t", typ))
			require.NoError(t, err)
			w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: t.TempDir(), MetadataTable: true})
			require.NoError(t, err)
			defer w.Close()
			require.NoError(t, tbl.ReloadConfig(ctx)) // writer.Open opened its own handle
			require.Equal(t, []string{"files"}, tbl.Config().MetadataPartitions)
			requireAgrees(t, tbl, "after Enable")

			rng := rand.New(rand.NewPCG(7, uint64(len(typ))))
			m := model.Model{}
			ts := int64(1)
			archived := 0
			for step := 0; step < 45; step++ {
				what := ""
				switch r := rng.IntN(10); {
				case r < 6 || len(m) == 0:
					var recs []model.Rec
					for i := 0; i < 1+rng.IntN(40); i++ {
						ts++
						recs = append(recs, model.Rec{Key: model.Key{Part: fmt.Sprintf("p%d", rng.IntN(3+step/5)), ID: fmt.Sprint(rng.IntN(60))}, TS: ts, Val: ts * 10})
					}
					b := model.Batch(recs)
					require.NoError(t, w.Upsert(b))
					b.Release()
					res, err := w.Commit(ctx)
					require.NoError(t, err)
					m.Upsert(recs, res.Instant)
					what = "upsert " + res.Instant
				case r < 7:
					var keys []model.Key
					for k := range m {
						if rng.IntN(4) == 0 {
							keys = append(keys, k)
						}
					}
					if len(keys) == 0 {
						continue
					}
					b := model.Deletes(keys)
					require.NoError(t, w.Delete(b))
					b.Release()
					res, err := w.Commit(ctx)
					require.NoError(t, err)
					m.Delete(keys)
					what = "delete " + res.Instant
				case r < 8:
					_, err := cleaner.Clean(ctx, tbl, cleaner.Options{Policy: cleaner.KeepLatestFileVersions, FileVersionsRetained: 1})
					require.NoError(t, err)
					what = "clean"
				case r < 9 && typ == table.MergeOnRead:
					_, _, err := compactor.Run(ctx, tbl, compactor.Options{Force: true})
					require.NoError(t, err)
					what = "compaction"
				default:
					mdt, err := metadata.For(ctx, tbl, metadata.Options{})
					require.NoError(t, err)
					lb, err := mdt.LatestBaseInstant(ctx)
					require.NoError(t, err)
					res, err := cleaner.Archive(ctx, tbl, cleaner.ArchiveOptions{MinToKeep: 2, MaxToKeep: 4})
					require.NoError(t, err)
					for _, a := range res.Archived {
						require.Less(t, a.Timestamp, lb, "archival stays before the metadata table's latest base file")
					}
					archived += len(res.Archived)
					what = "archive"
				}
				require.NoError(t, tbl.Refresh(ctx))
				requireAgrees(t, tbl, what)
				got := model.Read(t, tbl, reader.Options{})
				require.Equal(t, m.WithoutCT().String(), got.WithoutCT().String(), what)
			}

			// The latest commit rolled back: its files leave the listing.
			tl, err := tbl.Timeline(ctx)
			require.NoError(t, err)
			last, ok := tl.LastCompletedCommit()
			require.True(t, ok)
			require.NoError(t, w.Close())
			require.NoError(t, rollback.Instant(ctx, tbl, last.Timestamp))
			require.NoError(t, tbl.Refresh(ctx))
			requireAgrees(t, tbl, "rollback of "+last.Timestamp)

			names := mdtInstants(t, base)
			require.Positive(t, countSuffix(names, ".commit"), "the metadata table was compacted: %v", names)
			hfiles, err := filepath.Glob(filepath.Join(base, ".hoodie", "metadata", "files", "*.hfile"))
			require.NoError(t, err)
			require.LessOrEqual(t, len(hfiles), metadata.SlicesRetained, "old slices cleaned: %v", hfiles)
			arch, err := filepath.Glob(filepath.Join(base, ".hoodie", "metadata", ".hoodie", "archived", ".commits_.archive.*"))
			require.NoError(t, err)
			require.NotEmpty(t, arch, "the metadata timeline was archived: %v", names)
			mst, err := storage.NewLocal(filepath.Join(base, ".hoodie", "metadata"))
			require.NoError(t, err)
			mtl, err := timeline.Load(ctx, mst)
			require.NoError(t, err)
			require.Empty(t, mtl.Pending(), "no metadata instant left pending: %v", names)
			require.Positive(t, archived, "the data table was archived")
		})
	}
}

// TestEnableOnExistingTable: a table written without the metadata table
// gets one from a listing of its committed files; a failed write pending
// on it makes Enable refuse until it is rolled back.
func TestEnableOnExistingTable(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	st, err := storage.NewLocal(base)
	require.NoError(t, err)
	tbl, err := table.Create(ctx, st, model.CreateOptions("t", table.MergeOnRead))
	require.NoError(t, err)
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: t.TempDir()})
	require.NoError(t, err)
	for i := 0; i < 4; i++ {
		b := model.Batch([]model.Rec{{Key: model.Key{Part: fmt.Sprintf("p%d", i%2), ID: fmt.Sprint(i)}, TS: int64(i), Val: 1}})
		require.NoError(t, w.Upsert(b))
		b.Release()
		_, err := w.Commit(ctx)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())

	// A pending write.
	tx, err := timeline.Begin(ctx, st, timeline.DeltaCommit, nil, timeline.BeginOptions{})
	require.NoError(t, err)
	require.ErrorIs(t, metadata.Enable(ctx, tbl, metadata.Options{}), metadata.ErrPendingInstants)
	require.NoError(t, tx.Abort(ctx))

	require.NoError(t, metadata.Enable(ctx, tbl, metadata.Options{}))
	require.Equal(t, []string{"files"}, tbl.Config().MetadataPartitions)
	requireAgrees(t, tbl, "after Enable")
	mdt, err := metadata.For(ctx, tbl, metadata.Options{})
	require.NoError(t, err)
	lb, err := mdt.LatestBaseInstant(ctx)
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(lb, "010"), "initialised at <latest instant>010: %s", lb)

	// Disable removes it, and hoodie.properties stops naming it.
	require.NoError(t, metadata.Disable(ctx, tbl))
	require.Empty(t, tbl.Config().MetadataPartitions)
	_, err = os.Stat(filepath.Join(base, ".hoodie", "metadata"))
	require.True(t, os.IsNotExist(err) || dirEmpty(t, filepath.Join(base, ".hoodie", "metadata")))
}

func dirEmpty(t *testing.T, dir string) bool {
	t.Helper()
	n := 0
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	}))
	return n == 0
}

// TestConcurrentWriters: three writers with optimistic concurrency commit
// into their own partitions at the same time (30 commits each, so the
// metadata table is compacted and cleaned while the others write); the
// metadata table lists exactly the committed files and the snapshot holds
// every commit.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	st, err := storage.NewLocal(base)
	require.NoError(t, err)
	tbl, err := table.Create(ctx, st, model.CreateOptions("t", table.MergeOnRead))
	require.NoError(t, err)
	require.NoError(t, metadata.Enable(ctx, tbl, metadata.Options{}))
	const writers, commits = 3, 30
	errs := make(chan error, writers)
	for wi := 0; wi < writers; wi++ {
		go func() {
			errs <- func() error {
				wt, err := table.Open(ctx, st)
				if err != nil {
					return err
				}
				w, err := writer.Open(ctx, wt, writer.Options{IndexDir: t.TempDir(), Concurrency: writer.Optimistic})
				if err != nil {
					return err
				}
				defer w.Close()
				for c := 0; c < commits; c++ {
					recs := []model.Rec{{Key: model.Key{Part: fmt.Sprintf("w%d", wi), ID: fmt.Sprintf("%d-%d", wi, c%7)}, TS: int64(c), Val: int64(c)}}
					for attempt := 0; ; attempt++ {
						b := model.Batch(recs)
						err := w.Upsert(b)
						b.Release()
						if err != nil {
							return err
						}
						if _, err = w.Commit(ctx); err == nil {
							break
						}
						if !errors.Is(err, writer.ErrConflict) || attempt > 20 {
							return fmt.Errorf("writer %d commit %d: %w", wi, c, err)
						}
					}
				}
				return nil
			}()
		}()
	}
	for i := 0; i < writers; i++ {
		require.NoError(t, <-errs)
	}
	require.NoError(t, tbl.Refresh(ctx))
	requireAgrees(t, tbl, "after concurrent writers")
	got := model.Read(t, tbl, reader.Options{})
	require.Len(t, got, writers*7)
	names := mdtInstants(t, base)
	require.Positive(t, countSuffix(names, ".commit"), "compacted while writers ran: %v", names)
}
