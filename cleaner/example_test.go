package cleaner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// Clean a copy-on-write table: each of four commits rewrote its one file
// group, which holds four base files. Retaining one commit, the clean
// keeps the slice of that commit (the latest) and the one before it (what
// a reader as of it sees, see the package documentation) and deletes the
// other two; a dry run first reports what it would delete.
func ExampleClean() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "hoodie-example-")
	defer os.RemoveAll(dir)
	location := filepath.Join(dir, "scores")
	tbl, err := table.CreateLocation(ctx, location, storage.Options{}, table.CreateOptions{
		Name: "scores", RecordKeyFields: []string{"player"}, PrecombineField: "ts",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: filepath.Join(dir, "index")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	for ts := range int64(4) {
		if err := upsert(ctx, w, []string{"ann", "bob"}, ts); err != nil {
			fmt.Println(err)
			return
		}
	}

	opts := cleaner.Options{Policy: cleaner.KeepLatestCommits, CommitsRetained: 1, DryRun: true}
	plan, err := cleaner.Clean(ctx, tbl, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("would delete:", len(plan.Deleted))
	opts.DryRun = false
	res, err := cleaner.Clean(ctx, tbl, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("deleted:", len(res.Deleted), "clean instant:", res.Instant.Timestamp != "")
	// Output:
	// would delete: 2
	// deleted: 2 clean instant: true
}

// Archive a table's old instants: with six commits on the active timeline
// and at most four allowed, the four oldest go to the archived timeline (an
// Avro log file under .hoodie/archived), down to the two newest.
func ExampleArchive() {
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
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: filepath.Join(dir, "index")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	for ts := range int64(6) {
		if err := upsert(ctx, w, []string{"ann"}, ts); err != nil {
			fmt.Println(err)
			return
		}
	}

	res, err := cleaner.Archive(ctx, tbl, cleaner.ArchiveOptions{MinToKeep: 2, MaxToKeep: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("archived:", len(res.Archived), "entries:", res.Entries)
	fmt.Println("archive file:", filepath.Base(res.File))
	// Output:
	// archived: 4 entries: 12
	// archive file: .commits_.archive.1_1-0-1
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
