package reader_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// Read a snapshot: Plan picks the files of the latest snapshot (or of one
// as of an instant: time travel), Records streams them as Arrow batches
// with the Hudi meta columns first.
func ExamplePlan() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "hoodie-example-")
	defer os.RemoveAll(dir)
	tbl, err := table.CreateLocation(ctx, filepath.Join(dir, "scores"), storage.Options{}, table.CreateOptions{
		Name: "scores", RecordKeyFields: []string{"player"}, PrecombineField: "ts",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	first, err := commit(ctx, tbl, filepath.Join(dir, "index"), []string{"ann", "bob"}, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := commit(ctx, tbl, filepath.Join(dir, "index"), []string{"bob", "cid"}, 2); err != nil {
		fmt.Println(err)
		return
	}

	for _, asOf := range []string{"", first} {
		snap, err := reader.Plan(ctx, tbl, reader.Options{AsOf: asOf})
		if err != nil {
			fmt.Println(err)
			return
		}
		var rows int64
		for rec, err := range snap.Records(ctx) {
			if err != nil {
				fmt.Println(err)
				return
			}
			rows += rec.NumRows()
			rec.Release()
		}
		label := "latest"
		if asOf != "" {
			label = "as of the first commit"
		}
		fmt.Printf("%s: %d rows, columns %v...\n", label, rows, snap.Schema.Field(0).Name)
	}
	// Output:
	// latest: 3 rows, columns _hoodie_commit_time...
	// as of the first commit: 2 rows, columns _hoodie_commit_time...
}

// commit upserts one row per player with score ts and commits it.
func commit(ctx context.Context, tbl *table.Table, indexDir string, players []string, ts int64) (string, error) {
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: indexDir})
	if err != nil {
		return "", err
	}
	defer w.Close()
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
		return "", err
	}
	res, err := w.Commit(ctx)
	if err != nil {
		return "", err
	}
	return res.Instant, w.Close()
}
