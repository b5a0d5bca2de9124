package table

import (
	"context"
	"fmt"

	"github.com/hoodie-lake/hoodie/storage"
)

// The one-call way to a table from its location, for programs that do not
// need the store itself: storage.Open, then Open, OpenForRead or Create.
// The location is anything storage.Open accepts — "/data/tables/events",
// "file:///data/tables/events", "s3://bucket/tables/events",
// "mem://name/events" — and opts configure its backend:
//
//	tbl, err := table.OpenLocation(ctx, "s3://bucket/tables/events", storage.Options{
//		S3: storage.S3Options{Region: "eu-west-1"},
//	})
//
// Errors of the store name the location; those of the table are Open's,
// Create's and OpenForRead's (ErrNotHudiTable, ErrTableExists, ...).

// OpenLocation opens the table at location for reading and writing (see
// Open).
func OpenLocation(ctx context.Context, location string, opts storage.Options) (*Table, error) {
	st, err := openStore(ctx, location, opts)
	if err != nil {
		return nil, err
	}
	return Open(ctx, st)
}

// OpenLocationForRead opens the table at location for reading (see
// OpenForRead): tables hoodie reads but does not write, such as those with
// a Hudi metadata table, open read-only.
func OpenLocationForRead(ctx context.Context, location string, opts storage.Options) (*Table, error) {
	st, err := openStore(ctx, location, opts)
	if err != nil {
		return nil, err
	}
	return OpenForRead(ctx, st)
}

// CreateLocation creates a table at location (see Create). For an S3
// location, storage.S3Options.CreateBucket in opts creates the bucket
// first if it does not exist.
func CreateLocation(ctx context.Context, location string, opts storage.Options, create CreateOptions) (*Table, error) {
	st, err := openStore(ctx, location, opts)
	if err != nil {
		return nil, err
	}
	return Create(ctx, st, create)
}

// openStore opens the store at location; its errors name the location
// (as parsed: credentials pasted into a URL are refused, never repeated).
func openStore(ctx context.Context, location string, opts storage.Options) (storage.Storage, error) {
	l, err := storage.ParseLocation(location)
	if err != nil {
		return nil, fmt.Errorf("table: %w", err)
	}
	st, err := storage.Open(ctx, location, opts)
	if err != nil {
		return nil, fmt.Errorf("table: location %q: %w", l.String(), err)
	}
	return st, nil
}
