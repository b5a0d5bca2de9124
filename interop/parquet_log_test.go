package interop_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/bench"
	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
)

// logDataBlocks counts the data blocks, by type, of the latest slices' log
// files.
func logDataBlocks(t *testing.T, tbl *table.Table) map[logfile.BlockType]int {
	t.Helper()
	ctx := context.Background()
	tl, err := timeline.Load(ctx, tbl.Storage())
	require.NoError(t, err)
	v, err := filegroup.BuildView(ctx, tbl.Storage(), tl, filegroup.ViewOptions{})
	require.NoError(t, err)
	out := map[logfile.BlockType]int{}
	for _, s := range v.LatestSlices() {
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

// TestForeignReadersReadParquetLogBlocks: a merge-on-read table written
// with writer.LogBlockParquet (hoodie.logfile.data.block.format=parquet:
// inserts into logs, updates, late events, deletes) is read by Hudi 0.15 on
// Spark (every query type, default vectorized reader, plus Hudi's Java
// validation) and by hudi-rs exactly as hoodie's reader merges it, and as
// the model of the writes says; again after a compaction with new Parquet
// log blocks on top.
func TestForeignReadersReadParquetLogBlocks(t *testing.T) {
	ctx := context.Background()
	tbl, base := newTable(t, table.CreateOptions{Name: "parquet_logs", Type: table.MergeOnRead, RecordKeyFields: []string{"uuid"},
		PrecombineField: "time", PartitionFields: []string{"dt", "region"}, HiveStylePartitioning: true})
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: t.TempDir(), LogBlockFormat: writer.LogBlockParquet})
	require.NoError(t, err)
	defer w.Close()
	gen := bench.NewGenerator(bench.WorkloadConfig{Seed: 21, DupShare: 0.05})
	m := newEventModel(tbl.Config().PayloadClass)
	var all []bench.Event
	for c := 0; c < 4; c++ {
		evs := gen.Next(600)
		if len(all) > 0 {
			late := gen.Updates(all, 50)
			for i := range late {
				late[i].Time -= 10_000_000
			}
			evs = append(append(evs, gen.Updates(all, 200)...), late...)
		}
		commitEvents(t, w, opUpsert, evs)
		m.upsert(evs)
		all = append(all, evs...)
	}
	commitEvents(t, w, opDelete, all[:30])
	m.delete(all[:30])

	blocks := logDataBlocks(t, tbl)
	require.Positive(t, blocks[logfile.ParquetDataBlock], "log blocks %v", blocks)
	require.Zero(t, blocks[logfile.AvroDataBlock], "log blocks %v", blocks)
	m.check(t, threeReaders(t, tbl, base))

	sc, res, err := compactor.Run(ctx, tbl, compactor.Options{Force: true})
	require.NoError(t, err)
	require.NotNil(t, sc)
	require.NotEmpty(t, res)
	upd := gen.Updates(all[30:], 300)
	commitEvents(t, w, opUpsert, upd)
	m.upsert(upd)
	require.Positive(t, logDataBlocks(t, tbl)[logfile.ParquetDataBlock])
	m.check(t, threeReaders(t, tbl, base))
}
