package compactor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// Compact a merge-on-read table: three deltacommits leave one file group
// with a base file and two log files; Run schedules a compaction (the
// strategy fires after DeltaCommits deltacommits) and executes it, merging
// the logs into a new base file. Readers see the same rows before and
// after.
func ExampleRun() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "hoodie-example-")
	defer os.RemoveAll(dir)
	tbl, err := table.CreateLocation(ctx, filepath.Join(dir, "scores"), storage.Options{}, table.CreateOptions{
		Name: "scores", Type: table.MergeOnRead, RecordKeyFields: []string{"player"}, PrecombineField: "ts",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Without small-file packing, updates go to log files.
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: filepath.Join(dir, "index"), SmallFileLimit: -1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	for ts := range int64(3) {
		if err := upsert(ctx, w, []string{"ann", "bob", "cid"}, ts); err != nil {
			fmt.Println(err)
			return
		}
	}

	scheduled, results, err := compactor.Run(ctx, tbl, compactor.Options{
		Strategy: compactor.NumCommits, DeltaCommits: 3,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("scheduled: %d file group, %d log files\n", scheduled.FileGroups, scheduled.LogFiles)
	for _, r := range results {
		fmt.Printf("compacted: %d log records merged, %d records in the new base file\n", r.LogRecords, r.Records)
	}
	recs, err := reader.ReadAll(ctx, tbl, reader.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
		r.Release()
	}
	fmt.Println("rows:", rows)
	// Output:
	// scheduled: 1 file group, 2 log files
	// compacted: 6 log records merged, 3 records in the new base file
	// rows: 3
}

// upsert writes one row per player with score ts and commits it.
func upsert(ctx context.Context, w *writer.Writer, players []string, ts int64) error {
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{
		{Name: "player", Type: arrow.BinaryTypes.String},
		{Name: "ts", Type: arrow.PrimitiveTypes.Int64},
	}, nil))
	defer b.Release()
	for _, p := range players {
		b.Field(0).(*array.StringBuilder).Append(p)
		b.Field(1).(*array.Int64Builder).Append(ts)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	if err := w.Upsert(rec); err != nil {
		return err
	}
	_, err := w.Commit(ctx)
	return err
}
