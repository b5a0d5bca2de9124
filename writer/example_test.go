package writer_test

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

// Example creates a copy-on-write table, upserts events twice — the
// second batch carries a retry and a late event — and reads back one row
// per key with the winning version.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "hoodie-example-")
	defer os.RemoveAll(dir)

	tbl, err := table.CreateLocation(ctx, filepath.Join(dir, "events"), storage.Options{}, table.CreateOptions{
		Name: "events", Type: table.CopyOnWrite,
		RecordKeyFields: []string{"uuid"}, PrecombineField: "time",
		PartitionFields: []string{"dt"}, HiveStylePartitioning: true,
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

	sch := arrow.NewSchema([]arrow.Field{
		{Name: "uuid", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "time", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "dt", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "score", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	batch := func(uuids []string, times []int64, scores []int64) arrow.RecordBatch {
		b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
		defer b.Release()
		b.Field(0).(*array.StringBuilder).AppendValues(uuids, nil)
		b.Field(1).(*array.Int64Builder).AppendValues(times, nil)
		for range uuids {
			b.Field(2).(*array.StringBuilder).Append("2026-11-22")
		}
		b.Field(3).(*array.Int64Builder).AppendValues(scores, nil)
		return b.NewRecordBatch()
	}

	first := batch([]string{"a", "b"}, []int64{100, 100}, []int64{1, 1})
	defer first.Release()
	if err := w.Upsert(first); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := w.Commit(ctx); err != nil {
		fmt.Println(err)
		return
	}
	// "a" is updated (twice in one batch: the later time wins); the update
	// of "b" is a late event (time 50 < 100) and is ignored.
	second := batch([]string{"a", "a", "b"}, []int64{200, 300, 50}, []int64{2, 3, 9})
	defer second.Release()
	if err := w.Upsert(second); err != nil {
		fmt.Println(err)
		return
	}
	res, err := w.Commit(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("updates=%d late=%d duplicates=%d\n", res.Stats.Updates, res.Stats.LateDropped, res.Stats.Duplicates)

	recs, err := reader.ReadAll(ctx, tbl, reader.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range recs {
		ids := r.Column(r.Schema().FieldIndices("uuid")[0]).(*array.String)
		scores := r.Column(r.Schema().FieldIndices("score")[0]).(*array.Int64)
		for i := 0; i < int(r.NumRows()); i++ {
			fmt.Printf("%s score=%d\n", ids.Value(i), scores.Value(i))
		}
		r.Release()
	}
	// Output:
	// updates=1 late=1 duplicates=1
	// b score=1
	// a score=3
}
