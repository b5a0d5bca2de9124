package rollback_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/rollback"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// ExampleInstant commits twice and rolls the second commit back: the table
// reads as after the first, and the timeline holds a rollback instant in
// place of the second commit.
func ExampleInstant() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "hoodie-rollback-example-")
	defer os.RemoveAll(dir)
	tbl, err := table.CreateLocation(ctx, filepath.Join(dir, "t"), storage.Options{}, table.CreateOptions{
		Name: "t", Type: table.CopyOnWrite, RecordKeyFields: []string{"id"}, PrecombineField: "ts",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var last string
	for i, keys := range [][]string{{"a", "b"}, {"b", "c", "d"}} {
		w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: filepath.Join(dir, "index")})
		if err != nil {
			fmt.Println(err)
			return
		}
		b := batch(keys, int64(i))
		err = w.Upsert(b)
		b.Release()
		if err != nil {
			fmt.Println(err)
			return
		}
		res, err := w.Commit(ctx)
		w.Close()
		if err != nil {
			fmt.Println(err)
			return
		}
		last = res.Instant
	}

	if err := rollback.Instant(ctx, tbl, last); err != nil {
		fmt.Println(err)
		return
	}
	if err := tbl.Refresh(ctx); err != nil { // the handle's timeline predates the rollback
		fmt.Println(err)
		return
	}
	tl, err := tbl.Timeline(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, inst := range tl.Completed() {
		fmt.Println(inst.Action)
	}
	recs, err := reader.ReadAll(ctx, tbl, reader.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	rows := int64(0)
	for _, r := range recs {
		rows += r.NumRows()
		r.Release()
	}
	fmt.Println("rows:", rows)
	// Output:
	// commit
	// rollback
	// rows: 2
}

// batch is one row (id, ts) per key.
func batch(keys []string, ts int64) arrow.RecordBatch {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ts", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	for _, k := range keys {
		b.Field(0).(*array.StringBuilder).Append(k)
		b.Field(1).(*array.Int64Builder).Append(ts)
	}
	return b.NewRecordBatch()
}
