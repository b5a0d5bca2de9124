package main

import (
	"fmt"
	"strconv"

	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/spf13/cobra"
)

type timelineRow struct {
	Instant   string `json:"instant"`
	Action    string `json:"action"`
	State     string `json:"state"`
	Time      string `json:"time"`
	Writes    int64  `json:"writes,omitempty"`
	Inserts   int64  `json:"inserts,omitempty"`
	Updates   int64  `json:"updates,omitempty"`
	Deletes   int64  `json:"deletes,omitempty"`
	Files     int    `json:"files,omitempty"`
	Bytes     int64  `json:"bytes,omitempty"`
	Operation string `json:"operation,omitempty"`
}

func newTimelineCmd(g *globalFlags) *cobra.Command {
	var location string
	cmd := &cobra.Command{
		Use:   "timeline --table LOCATION",
		Short: "List the table's active timeline: instants with action, state, time and write counts",
		Example: `  hoodie timeline --table /tmp/events
  hoodie timeline --table s3://bucket/events --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			tbl, tl, err := g.openTableForRead(ctx, location)
			if err != nil {
				return err
			}
			st := tbl.Storage()
			var rows []timelineRow
			for _, inst := range tl.Instants() {
				r := timelineRow{Instant: inst.Timestamp, Action: string(inst.Action), State: inst.State.String()}
				if t, err := timeline.ParseInstantTime(inst.Timestamp); err == nil {
					r.Time = t.Format("2006-01-02 15:04:05.000Z")
				}
				if inst.State == timeline.Completed && inst.IsWriteAction() {
					md, err := timeline.ReadCommitMetadata(ctx, st, inst)
					if err != nil {
						return err
					}
					r.Writes, r.Inserts, r.Updates, r.Deletes, r.Bytes, r.Files = md.Totals()
					r.Operation = md.OperationType
				}
				rows = append(rows, r)
			}
			out := cmd.OutOrStdout()
			if g.output == "json" {
				if rows == nil {
					rows = []timelineRow{}
				}
				return printJSON(out, rows)
			}
			if len(rows) == 0 {
				_, err := fmt.Fprintln(out, "(no instants)")
				return err
			}
			var tr [][]string
			for _, r := range rows {
				tr = append(tr, []string{r.Instant, r.Action, r.State, r.Time, r.Operation,
					itoa(r.Writes), itoa(r.Inserts), itoa(r.Updates), itoa(r.Deletes), strconv.Itoa(r.Files), itoa(r.Bytes)})
			}
			return printTable(out, []string{"INSTANT", "ACTION", "STATE", "TIME", "OPERATION", "WRITES", "INSERTS", "UPDATES", "DELETES", "FILES", "BYTES"}, tr)
		},
	}
	cmd.Flags().StringVar(&location, "table", "", "table location: a path, file:// or s3://bucket/prefix")
	return cmd
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
