package table_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
)

// Create a merge-on-read table at a location in one call, then open it
// again from the location. An S3 location works the same way, with the
// endpoint and credentials in storage.Options.
func ExampleCreateLocation() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "hoodie-example-")
	defer os.RemoveAll(dir)
	location := filepath.Join(dir, "trips")

	_, err := table.CreateLocation(ctx, location, storage.Options{}, table.CreateOptions{
		Name:            "trips",
		Type:            table.MergeOnRead,
		RecordKeyFields: []string{"uuid"},
		PartitionFields: []string{"city"},
		PrecombineField: "ts",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = table.CreateLocation(ctx, location, storage.Options{}, table.CreateOptions{Name: "trips", RecordKeyFields: []string{"uuid"}})
	fmt.Println("again:", errors.Is(err, table.ErrTableExists))

	tbl, err := table.OpenLocation(ctx, location, storage.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := tbl.Config()
	fmt.Println(cfg.Name, cfg.Type, cfg.RecordKeyFields, cfg.PrecombineField)
	// Output:
	// again: true
	// trips MERGE_ON_READ [uuid] ts
}

// A location without a table.
func ExampleOpenLocation() {
	dir, _ := os.MkdirTemp("", "hoodie-example-")
	defer os.RemoveAll(dir)
	_, err := table.OpenLocation(context.Background(), dir, storage.Options{})
	fmt.Println(errors.Is(err, table.ErrNotHudiTable))
	// Output:
	// true
}
