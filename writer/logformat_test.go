package writer

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
)

func TestLogBlockFormatOptions(t *testing.T) {
	var o Options
	o.EnsureDefaults()
	assert.Equal(t, LogBlockAvro, o.LogBlockFormat)
	require.NoError(t, Options{LogBlockFormat: LogBlockParquet}.Validate())
	require.NoError(t, Options{}.Validate())
	assert.ErrorContains(t, Options{LogBlockFormat: "orc"}.Validate(), "LogBlockFormat")
}

// logBlockTypes returns the data block types of the latest slices' logs.
func logBlockTypes(t *testing.T, tbl *table.Table) map[logfile.BlockType]int {
	t.Helper()
	ctx := context.Background()
	out := map[logfile.BlockType]int{}
	for _, s := range latestSlices(t, tbl) {
		for _, l := range s.Logs {
			data, err := storage.ReadFile(ctx, tbl.Storage(), l.Path)
			require.NoError(t, err)
			for b, err := range logfile.NewReader(bytes.NewReader(data), int64(len(data))).All() {
				require.NoError(t, err, l.Path)
				out[b.Type]++
				b.Release()
			}
		}
	}
	return out
}

// TestMORParquetLogBlocks: a merge-on-read table written with Parquet data
// blocks (inserts into logs, updates, deletes by key and by
// _hoodie_is_deleted) reads back, after every commit and after
// compaction, exactly as the same table written with Avro data blocks,
// and its logs hold Parquet data blocks only, smaller than the Avro ones.
func TestMORParquetLogBlocks(t *testing.T) {
	ctx := context.Background()
	type run struct {
		tbl   *table.Table
		w     *Writer
		bytes int64
	}
	runs := map[LogBlockFormat]*run{}
	for _, f := range []LogBlockFormat{LogBlockAvro, LogBlockParquet} {
		tbl, dir := newModelTable(t, "", table.MergeOnRead)
		w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index", LogBlockFormat: f})
		require.NoError(t, err)
		t.Cleanup(func() { _ = w.Close() })
		runs[f] = &run{tbl: tbl, w: w}
	}
	want := map[modelKey]modelRow{}
	commit := func(recs []modelRec, deletes []modelKey) {
		for _, r := range runs {
			if len(recs) > 0 {
				b := buildBatch(recs)
				require.NoError(t, r.w.Upsert(b))
				b.Release()
			}
			if len(deletes) > 0 {
				d := buildDeletes(deletes)
				require.NoError(t, r.w.Delete(d))
				d.Release()
			}
			res, err := r.w.Commit(ctx)
			require.NoError(t, err)
			for _, s := range res.Metadata.Stats() {
				if s.IsLog() {
					r.bytes += s.TotalWriteBytes
				}
			}
		}
		for _, r := range recs {
			if r.deleted {
				delete(want, modelKey{r.part, r.key})
				continue
			}
			want[modelKey{r.part, r.key}] = modelRow{ts: r.ts, val: r.val}
		}
		for _, k := range deletes {
			delete(want, k)
		}
	}
	check := func(what string) {
		a, p := readTable(t, runs[LogBlockAvro].tbl), readTable(t, runs[LogBlockParquet].tbl)
		assert.Equal(t, want, noCT(a), "%s: avro", what)
		assert.Equal(t, noCT(a), noCT(p), "%s: parquet reads as avro", what)
	}
	var first []modelRec
	for i := range 300 {
		first = append(first, modelRec{key: fmt.Sprintf("k%04d", i), part: []string{"a", "b"}[i%2], ts: 1, val: int64(i)})
	}
	commit(first, nil)
	check("first commit")
	next := 300
	for c := 2; c <= 5; c++ {
		var recs []modelRec
		for range 60 {
			recs = append(recs, modelRec{key: fmt.Sprintf("k%04d", next), part: []string{"a", "b"}[next%2], ts: int64(c), val: int64(next)})
			next++
		}
		for i := c; i < 300; i += 7 {
			recs = append(recs, modelRec{key: fmt.Sprintf("k%04d", i), part: []string{"a", "b"}[i%2], ts: int64(c), val: int64(-c * i), deleted: i%5 == 0})
		}
		var dels []modelKey
		if c == 4 {
			dels = []modelKey{{"b", "k0001"}, {"a", "k0302"}}
		}
		commit(recs, dels)
		check(fmt.Sprintf("commit %d", c))
	}
	types := logBlockTypes(t, runs[LogBlockParquet].tbl)
	assert.Positive(t, types[logfile.ParquetDataBlock], "parquet table blocks %v", types)
	assert.Zero(t, types[logfile.AvroDataBlock], "parquet table blocks %v", types)
	types = logBlockTypes(t, runs[LogBlockAvro].tbl)
	assert.Positive(t, types[logfile.AvroDataBlock], "avro table blocks %v", types)
	assert.Zero(t, types[logfile.ParquetDataBlock], "avro table blocks %v", types)
	assert.Less(t, runs[LogBlockParquet].bytes, runs[LogBlockAvro].bytes, "log bytes written")

	for _, r := range runs {
		sc, err := compactor.Schedule(ctx, r.tbl, compactor.Options{Force: true})
		require.NoError(t, err)
		require.NotNil(t, sc)
		_, err = compactor.Execute(ctx, r.tbl, sc.Instant, compactor.Options{})
		require.NoError(t, err)
		for _, s := range latestSlices(t, r.tbl) {
			assert.Empty(t, s.Logs, "compacted")
		}
	}
	check("after compaction")
}
