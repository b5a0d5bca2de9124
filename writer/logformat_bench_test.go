package writer_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"

	"github.com/hoodie-lake/hoodie/bench"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// BenchmarkStreamLogBlockFormat writes the bench's stream shape (100
// deltacommits of 10 k game events, 10 % updates of earlier events, one
// long-lived writer, MOR, default options but the log block format and
// codec) with Avro and with Parquet data blocks (snappy, zstd, gzip: Hudi
// 0.15's default hoodie.parquet.compression.codec), and reports the bytes written ÷ the
// batches' encoded size (each batch written by parquet-go alone, snappy,
// one file), all bytes and log bytes only:
//
//	go test -run '^$' -bench BenchmarkStreamLogBlockFormat -benchtime 1x ./writer/
func BenchmarkStreamLogBlockFormat(b *testing.B) {
	const commits, rows = 100, 10_000
	gen := bench.NewGenerator(bench.WorkloadConfig{Seed: 7, Days: 1, DupShare: 0.0001})
	var batches [][]bench.Event
	var encoded int64
	var seen []bench.Event
	for i := range commits {
		var evs []bench.Event
		if i > 0 {
			evs = gen.Updates(seen, rows/10)
		}
		evs = append(evs, gen.Next(rows-len(evs))...)
		seen = append(seen, evs...)
		batches = append(batches, evs)
		encoded += encodedSize(b, evs)
	}
	for _, c := range []struct {
		f     writer.LogBlockFormat
		codec table.Compression
	}{
		{writer.LogBlockAvro, table.Snappy},
		{writer.LogBlockParquet, table.Snappy},
		{writer.LogBlockParquet, table.Zstd},
		{writer.LogBlockParquet, table.Gzip},
	} {
		b.Run(string(c.f)+"/"+string(c.codec), func(b *testing.B) {
			for range b.N {
				all, logs := streamBytes(b, c.f, c.codec, batches)
				b.ReportMetric(float64(all)/float64(encoded), "bytes/encoded")
				b.ReportMetric(float64(logs)/float64(encoded), "logbytes/encoded")
				b.ReportMetric(float64(all)/(1<<20), "MB_written")
			}
		})
	}
}

func streamBytes(b *testing.B, f writer.LogBlockFormat, codec table.Compression, batches [][]bench.Event) (all, logs int64) {
	ctx := context.Background()
	dir := b.TempDir()
	st, err := storage.NewLocal(filepath.Join(dir, "table"))
	if err != nil {
		b.Fatal(err)
	}
	tbl, err := table.Create(ctx, st, table.CreateOptions{
		Name: "game_events", Type: table.MergeOnRead, RecordKeyFields: []string{"uuid"}, PrecombineField: "time",
		PartitionFields: []string{"dt", "game_id", "region"}, HiveStylePartitioning: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: filepath.Join(dir, "index"), Compression: codec, LogBlockFormat: f})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	for i, evs := range batches {
		rec := bench.ToArrow(evs)
		err := w.Upsert(rec)
		rec.Release()
		if err != nil {
			b.Fatal(err)
		}
		res, err := w.Commit(ctx)
		if err != nil {
			b.Fatal(fmt.Errorf("commit %d: %w", i+1, err))
		}
		all += res.Stats.BytesWritten
		for _, s := range res.Metadata.Stats() {
			if s.IsLog() {
				logs += s.TotalWriteBytes
			}
		}
	}
	return all, logs
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// encodedSize is the bench's encoded size of a batch.
func encodedSize(b *testing.B, evs []bench.Event) int64 {
	var c countWriter
	w := parquet.NewGenericWriter[bench.Event](io.Writer(&c), parquet.Compression(&snappy.Codec{}))
	if _, err := w.Write(evs); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return c.n
}
