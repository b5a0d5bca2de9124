package writer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/internal/testutil/model"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/stretchr/testify/require"
)

// spillCommits are the buffered calls of a few commits: upserts with
// in-batch duplicates, late events and _hoodie_is_deleted rows, and deletes
// by key; built fresh for each writer.
func spillCommits(seed uint64) [][]func(w *Writer) error {
	rng := rand.New(rand.NewPCG(seed, 7))
	parts := []string{"a", "b", "c"}
	clock := int64(1000)
	var commits [][]func(w *Writer) error
	for c := 0; c < 4; c++ {
		var calls []func(w *Writer) error
		for b := 0; b < 5; b++ {
			if c > 0 && b == 4 {
				keys := []modelKey{{parts[0], "k0001"}, {parts[1], "k0002"}, {parts[2], "missing"}}
				calls = append(calls, func(w *Writer) error {
					rec := buildDeletes(keys)
					defer rec.Release()
					return w.Delete(rec)
				})
				continue
			}
			var recs []modelRec
			for i := 0; i < 50+rng.IntN(100); i++ {
				clock++
				ts := clock
				if rng.IntN(6) == 0 {
					ts -= int64(rng.IntN(400))
				}
				recs = append(recs, modelRec{key: fmt.Sprintf("k%04d", rng.IntN(300)), part: parts[rng.IntN(3)],
					ts: ts, val: rng.Int64N(1 << 40), deleted: rng.IntN(15) == 0})
			}
			calls = append(calls, func(w *Writer) error {
				rec := buildBatch(recs)
				defer rec.Release()
				return w.Upsert(rec)
			})
		}
		commits = append(commits, calls)
	}
	return commits
}

// withoutCT drops the commit times (the two tables' instants differ).
func withoutCT(m map[modelKey]modelRow) map[modelKey]modelRow {
	out := make(map[modelKey]modelRow, len(m))
	for k, r := range m {
		r.ct = ""
		out[k] = r
	}
	return out
}

func spillFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "hoodie-spill-*", "*"))
	require.NoError(t, err)
	return files
}

// TestSpilledBufferWritesTheSameTable commits the same batches through a
// writer without a buffer bound and through writers whose BufferBytes
// spills some or every batch: the tables read back the same, and the spill
// files are gone after each commit and the spill directory after Close.
func TestSpilledBufferWritesTheSameTable(t *testing.T) {
	for _, typ := range []table.TableType{table.CopyOnWrite, table.MergeOnRead} {
		t.Run(string(typ), func(t *testing.T) {
			ctx := context.Background()
			run := func(bufferBytes int64) (map[modelKey]modelRow, int) {
				tbl, dir := newModelTable(t, "", typ)
				spillDir := filepath.Join(dir, "spill")
				w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index", BufferBytes: bufferBytes, SpillDir: spillDir})
				require.NoError(t, err)
				for _, calls := range spillCommits(5) {
					for _, call := range calls {
						require.NoError(t, call(w))
					}
					if bufferBytes > 0 {
						require.NotEmpty(t, spillFiles(t, spillDir), "spilled before the commit")
					}
					_, err := w.Commit(ctx)
					require.NoError(t, err)
					require.Empty(t, spillFiles(t, spillDir), "spill files removed by Commit")
				}
				spills := w.mu.spills
				require.NoError(t, w.Close())
				if bufferBytes > 0 {
					_, err = os.Stat(spillDir)
					require.NoError(t, err, "the spill directory's parent stays")
				}
				left, err := filepath.Glob(filepath.Join(spillDir, "hoodie-spill-*"))
				require.NoError(t, err)
				require.Empty(t, left, "Close removes the spill directory")
				return withoutCT(readTable(t, tbl)), spills
			}
			want, spills := run(-1)
			require.Zero(t, spills)
			require.NotEmpty(t, want)
			for _, bound := range []int64{1, 6 << 10} {
				got, spills := run(bound)
				require.Positive(t, spills, "BufferBytes %d", bound)
				require.Equal(t, want, got, "BufferBytes %d", bound)
			}
		})
	}
}

// TestSpillRemovedByAbortAndCrashHarmless: Abort removes the spill files;
// a writer that dies with a spilled buffer (never closed) leaves its spill
// directory, outside the table, and the table as it was: the next writer
// reads and commits normally.
func TestSpillRemovedByAbortAndCrashHarmless(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newModelTable(t, "", table.CopyOnWrite)
	spillDir := filepath.Join(dir, "spill")
	w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index", BufferBytes: 1, SpillDir: spillDir})
	require.NoError(t, err)
	commits := spillCommits(9)
	for _, call := range commits[0] {
		require.NoError(t, call(w))
	}
	_, err = w.Commit(ctx)
	require.NoError(t, err)
	before := readTable(t, tbl)
	for _, call := range commits[1] {
		require.NoError(t, call(w))
	}
	require.NotEmpty(t, spillFiles(t, spillDir))
	w.Abort()
	require.Empty(t, spillFiles(t, spillDir), "Abort removes the spill files")
	require.Equal(t, before, readTable(t, tbl))

	// A crash: the buffer spilled, the writer never committed nor closed
	// (its index is closed only so that the next writer can open it).
	for _, call := range commits[1] {
		require.NoError(t, call(w))
	}
	require.NotEmpty(t, spillFiles(t, spillDir))
	require.NoError(t, w.idx.Close())
	require.Equal(t, before, readTable(t, tbl))
	w2, err := Open(ctx, tbl, Options{IndexDir: dir + "/index", BufferBytes: 1, SpillDir: spillDir})
	require.NoError(t, err)
	defer w2.Close()
	rec := buildBatch([]modelRec{{key: "k9999", part: "a", ts: 1, val: 7}})
	require.NoError(t, w2.Upsert(rec))
	rec.Release()
	_, err = w2.Commit(ctx)
	require.NoError(t, err)
	got := readTable(t, tbl)
	require.Len(t, got, len(before)+1)
	require.NotEmpty(t, model.Read(t, tbl, reader.Options{}))
}

// TestRecordBytesCountsBuffers pins what a batch counts against
// BufferBytes: its buffers, each once.
func TestRecordBytesCountsBuffers(t *testing.T) {
	rec := buildBatch([]modelRec{{key: "k1", part: "a", ts: 1, val: 2}, {key: "k2", part: "b", ts: 3, val: 4}})
	defer rec.Release()
	n := recordBytes(rec)
	require.Positive(t, n)
	sl := rec.NewSlice(0, 1)
	defer sl.Release()
	require.Equal(t, n, recordBytes(sl), "a slice holds its parent's buffers")
	var _ arrow.RecordBatch = sl
}
