// Command quickstart writes and reads a Hudi table with the hoodie library:
// it creates a copy-on-write table, upserts two Arrow batches — the second
// with a duplicate key and a late event — commits each, reads the table
// back and prints its rows.
//
//	go run . [DIR]
//
// The table is DIR/trips (DIR defaults to a new temporary directory); its
// record-key index is DIR/trips-index. Run it again on the same DIR and it
// upserts into the existing table.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

func main() {
	dir := ""
	if len(os.Args) > 1 {
		dir = os.Args[1]
	} else {
		d, err := os.MkdirTemp("", "hoodie-quickstart-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "quickstart:", err)
			os.Exit(1)
		}
		dir = d
	}
	if err := run(context.Background(), dir, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// trip is one row of the example's data.
type trip struct {
	id   string
	ts   int64 // event time: of two versions of a trip, the larger ts wins
	city string
	fare float64
}

func run(ctx context.Context, dir string, out io.Writer) error {
	location := filepath.Join(dir, "trips")
	tbl, err := table.CreateLocation(ctx, location, storage.Options{}, table.CreateOptions{
		Name:                  "trips",
		Type:                  table.CopyOnWrite,
		RecordKeyFields:       []string{"trip_id"},
		PrecombineField:       "ts",
		PartitionFields:       []string{"city"},
		HiveStylePartitioning: true,
	})
	switch {
	case errors.Is(err, table.ErrTableExists):
		if tbl, err = table.OpenLocation(ctx, location, storage.Options{}); err != nil {
			return err
		}
		fmt.Fprintf(out, "Opened the existing table %s\n", location)
	case err != nil:
		return err
	default:
		fmt.Fprintf(out, "Created the copy-on-write table %s\n", location)
	}

	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: filepath.Join(dir, "trips-index")})
	if err != nil {
		return err
	}
	defer w.Close()

	// The first batch: four trips.
	if err := upsert(ctx, w, out, []trip{
		{"t1", 100, "paris", 12.5},
		{"t2", 100, "paris", 8.0},
		{"t3", 100, "berlin", 20.0},
		{"t4", 100, "berlin", 5.5},
	}); err != nil {
		return err
	}
	// The second batch: t1 twice in one batch (the larger ts, 300, wins),
	// a late event for t2 (ts 50 is older than the stored 100: ignored),
	// and a new trip t5.
	if err := upsert(ctx, w, out, []trip{
		{"t1", 200, "paris", 13.0},
		{"t1", 300, "paris", 14.0},
		{"t2", 50, "paris", 99.0},
		{"t5", 300, "rome", 30.0},
	}); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}

	rows, err := readTrips(ctx, tbl)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "The table holds %d rows:\n", len(rows))
	for _, r := range rows {
		fmt.Fprintf(out, "  %s  %-6s  ts=%d  fare=%.2f\n", r.id, r.city, r.ts, r.fare)
	}
	fmt.Fprintf(out, "row count: %d\n", len(rows))
	return nil
}

// schema is the Arrow schema of the batches: the table's data columns.
var schema = arrow.NewSchema([]arrow.Field{
	{Name: "trip_id", Type: arrow.BinaryTypes.String},
	{Name: "ts", Type: arrow.PrimitiveTypes.Int64},
	{Name: "city", Type: arrow.BinaryTypes.String},
	{Name: "fare", Type: arrow.PrimitiveTypes.Float64},
}, nil)

// upsert writes trips as one batch and commits it: one instant on the
// table's timeline.
func upsert(ctx context.Context, w *writer.Writer, out io.Writer, trips []trip) error {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, t := range trips {
		b.Field(0).(*array.StringBuilder).Append(t.id)
		b.Field(1).(*array.Int64Builder).Append(t.ts)
		b.Field(2).(*array.StringBuilder).Append(t.city)
		b.Field(3).(*array.Float64Builder).Append(t.fare)
	}
	batch := b.NewRecordBatch()
	defer batch.Release()
	if err := w.Upsert(batch); err != nil {
		return err
	}
	res, err := w.Commit(ctx)
	if err != nil {
		return err
	}
	s := res.Stats
	fmt.Fprintf(out, "Committed %s: %d rows in, %d inserted, %d updated, %d duplicates combined, %d late events ignored\n",
		res.Instant, len(trips), s.Inserts, s.Updates, s.Duplicates, s.LateDropped)
	return nil
}

// readTrips reads the latest snapshot of the table, sorted by trip.
func readTrips(ctx context.Context, tbl *table.Table) ([]trip, error) {
	batches, err := reader.ReadAll(ctx, tbl, reader.Options{})
	if err != nil {
		return nil, err
	}
	var rows []trip
	for _, rec := range batches {
		col := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
		ids, ts := col("trip_id").(*array.String), col("ts").(*array.Int64)
		cities, fares := col("city").(*array.String), col("fare").(*array.Float64)
		for i := range int(rec.NumRows()) {
			rows = append(rows, trip{ids.Value(i), ts.Value(i), cities.Value(i), fares.Value(i)})
		}
		rec.Release()
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].id < rows[j].id })
	return rows, nil
}
