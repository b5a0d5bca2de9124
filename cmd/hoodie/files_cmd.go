package main

import (
	"fmt"
	"strconv"

	"github.com/hoodie-lake/hoodie/table"
	"github.com/spf13/cobra"
)

type sliceRow struct {
	Partition   string   `json:"partition"`
	FileID      string   `json:"fileId"`
	BaseInstant string   `json:"baseInstant"`
	BaseFile    string   `json:"baseFile,omitempty"`
	BaseSize    int64    `json:"baseSize"`
	LogFiles    []string `json:"logFiles,omitempty"`
	TotalSize   int64    `json:"totalSize"`
	Latest      bool     `json:"latest"`
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
			view, err := table.BuildView(ctx, st, tl, table.ViewOptions{AsOf: asOf})
			if err != nil {
				return err
			}
			var rows []sliceRow
			for _, fg := range view.FileGroups() {
				latest := fg.Latest()
				for _, s := range fg.Slices {
					if !all && s != latest {
						continue
					}
					r := sliceRow{Partition: s.PartitionPath, FileID: s.FileID, BaseInstant: s.BaseInstant, TotalSize: s.Size(), Latest: s == latest}
					if s.Base != nil {
						r.BaseFile, r.BaseSize = s.Base.Name, s.Base.Size
					}
					for _, l := range s.Logs {
						r.LogFiles = append(r.LogFiles, l.Name)
					}
					rows = append(rows, r)
				}
			}
			out := cmd.OutOrStdout()
			if g.output == "json" {
				return printJSON(out, map[string]any{"asOf": view.AsOf, "partitions": view.Partitions(), "slices": nonNil(rows)})
			}
			fmt.Fprintf(out, "as of %s: %d partitions, %d file groups\n", orNone(view.AsOf), len(view.Partitions()), len(view.FileGroups()))
			var tr [][]string
			for _, r := range rows {
				part := r.Partition
				if part == "" {
					part = "(none)"
				}
				tr = append(tr, []string{part, r.FileID, r.BaseInstant, r.BaseFile, strconv.Itoa(len(r.LogFiles)), itoa(r.TotalSize)})
			}
			return printTable(out, []string{"PARTITION", "FILE GROUP", "BASE INSTANT", "BASE FILE", "LOGS", "BYTES"}, tr)
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
