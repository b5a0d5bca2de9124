package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

func (g *globalFlags) storageOptions() storage.Options {
	return storage.Options{S3: storage.S3Options{Endpoint: g.s3Endpoint, Region: g.s3Region, PathStyle: g.s3PathStyle,
		ConnectTimeout: g.s3ConnectTimeout, RequestTimeout: g.s3RequestTimeout, MaxAttempts: g.s3MaxAttempts,
		CreateBucket: g.createBucket}}
}

// openStorage opens the store rooted at a table location.
func (g *globalFlags) openStorage(ctx context.Context, location string) (storage.Storage, error) {
	if location == "" {
		return nil, fmt.Errorf("--table is required")
	}
	return storage.Open(ctx, location, g.storageOptions())
}

// openTable opens the Hudi table at location for writing (table.Open: a
// table hoodie must not write, e.g. one with a Hudi metadata table, is
// refused) and loads its timeline.
func (g *globalFlags) openTable(ctx context.Context, location string) (*table.Table, *timeline.Timeline, error) {
	return g.openTableWith(ctx, location, table.Open)
}

// openTableForRead opens the Hudi table at location for reading
// (table.OpenForRead: tables with a Hudi metadata table are read by
// listing storage) and loads its timeline.
func (g *globalFlags) openTableForRead(ctx context.Context, location string) (*table.Table, *timeline.Timeline, error) {
	return g.openTableWith(ctx, location, table.OpenForRead)
}

func (g *globalFlags) openTableWith(ctx context.Context, location string,
	open func(context.Context, storage.Storage) (*table.Table, error)) (*table.Table, *timeline.Timeline, error) {
	tbl, err := g.openHandle(ctx, location, open)
	if err != nil {
		return nil, nil, err
	}
	tl, err := timeline.Load(ctx, tbl.Storage())
	if err != nil {
		return nil, nil, err
	}
	return tbl, tl, nil
}

// openHandle opens the Hudi table at location with open (table.Open,
// OpenForRead, OpenForRepair) and nothing more.
func (g *globalFlags) openHandle(ctx context.Context, location string,
	open func(context.Context, storage.Storage) (*table.Table, error)) (*table.Table, error) {
	st, err := g.openStorage(ctx, location)
	if err != nil {
		return nil, err
	}
	return open(ctx, st)
}

// printTable writes rows as aligned columns under a header.
func printTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
