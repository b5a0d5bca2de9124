package main

import (
	"fmt"
	"github.com/hoodie-lake/hoodie/filegroup"
	"io"
	"strconv"

	"github.com/spf13/cobra"
)

// filesOutput is files --output json.
type filesOutput struct {
	AsOf       *string    `json:"as_of"`      // the instant the view is as of (null: no completed commit)
	AsOfTime   *string    `json:"as_of_time"` // as RFC 3339
	Partitions []string   `json:"partitions"` // partition paths ("" for a non-partitioned table)
	FileGroups int        `json:"file_groups"`
	Slices     []sliceRow `json:"slices"` // the latest slice of each file group; every visible slice with --all
}

// sliceRow is one file slice.
type sliceRow struct {
	Partition       string   `json:"partition"`
	FileID          string   `json:"file_id"`
	BaseInstant     string   `json:"base_instant"`
	BaseInstantTime *string  `json:"base_instant_time"`
	BaseFile        *string  `json:"base_file"` // file name; null for a slice of log files only
	BaseBytes       int64    `json:"base_bytes"`
	LogFiles        []string `json:"log_files"` // file names, in version order
	LogBytes        int64    `json:"log_bytes"`
	TotalBytes      int64    `json:"total_bytes"`
	Latest          bool     `json:"latest"` // the latest slice of its file group
}

func newFilesCmd(g *globalFlags) *cobra.Command {
	var location, asOf string
	var all bool
	cmd := &cobra.Command{
		Use:   "files --table LOCATION",
		Short: "List partitions, file groups and file slices (latest slices by default)",
		Example: `  hoodie files --table /tmp/events
  hoodie files --table /tmp/events --all            # every visible slice, not just the latest
  hoodie files --table /tmp/events --as-of 20250101120000000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			tbl, tl, err := g.openTableForRead(ctx, location)
			if err != nil {
				return err
			}
			st := tbl.Storage()
			view, err := filegroup.BuildView(ctx, st, tl, filegroup.ViewOptions{AsOf: asOf})
			if err != nil {
				return err
			}
			rows := sliceRows(view, all)
			out := cmd.OutOrStdout()
			if g.output == "json" {
				return printJSON(out, filesOutput{AsOf: optString(view.AsOf), AsOfTime: instantTime(view.AsOf),
					Partitions: nonNil(view.Partitions()), FileGroups: len(view.FileGroups()), Slices: rows})
			}
			return printSlices(out, view, rows, 0, "")
		},
	}
	cmd.Flags().StringVar(&location, "table", "", "table location: a path, file:// or s3://bucket/prefix")
	cmd.Flags().StringVar(&asOf, "as-of", "", "view the table as of this instant (yyyyMMddHHmmssSSS)")
	cmd.Flags().BoolVar(&all, "all", false, "list every visible slice, not only the latest of each file group")
	return cmd
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(no completed commit)"
	}
	return s
}

// sliceRows lists the view's slices: the latest of each file group, or
// with all every visible one.
func sliceRows(view *filegroup.View, all bool) []sliceRow {
	rows := []sliceRow{}
	for _, fg := range view.FileGroups() {
		latest := fg.Latest()
		for _, s := range fg.Slices {
			if !all && s != latest {
				continue
			}
			r := sliceRow{Partition: s.PartitionPath, FileID: s.FileID, BaseInstant: s.BaseInstant, BaseInstantTime: instantTime(s.BaseInstant),
				LogFiles: []string{}, TotalBytes: s.Size(), Latest: s == latest}
			if s.Base != nil {
				r.BaseFile, r.BaseBytes = optString(s.Base.Name), s.Base.Size
			}
			for _, l := range s.Logs {
				r.LogFiles = append(r.LogFiles, l.Name)
				r.LogBytes += l.Size
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// printSlices writes the files text listing. With limit > 0 it lists at
// most limit slices, then says how many it left out and more (how to list
// them all).
func printSlices(out io.Writer, view *filegroup.View, rows []sliceRow, limit int, more string) error {
	fmt.Fprintf(out, "as of %s: %d partitions, %d file groups\n", orNone(view.AsOf), len(view.Partitions()), len(view.FileGroups()))
	left := 0
	if limit > 0 && len(rows) > limit {
		rows, left = rows[:limit], len(rows)-limit
	}
	var tr [][]string
	for _, r := range rows {
		part := r.Partition
		if part == "" {
			part = "(none)"
		}
		base := ""
		if r.BaseFile != nil {
			base = *r.BaseFile
		}
		tr = append(tr, []string{part, r.FileID, r.BaseInstant, base, strconv.Itoa(len(r.LogFiles)), itoa(r.TotalBytes)})
	}
	if err := printTable(out, []string{"PARTITION", "FILE GROUP", "BASE INSTANT", "BASE FILE", "LOGS", "BYTES"}, tr); err != nil {
		return err
	}
	if left > 0 {
		_, err := fmt.Fprintf(out, "... and %d more%s\n", left, more)
		return err
	}
	return nil
}
