package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/spf13/cobra"
)

// timelineRow is one instant of timeline --output json (an array of
// them, oldest first). Counts are those of the instant's commit metadata:
// 0, and operation null, for instants that are not completed writes.
type timelineRow struct {
	Instant   string  `json:"instant"`   // Hudi's instant time, yyyyMMddHHmmssSSS
	Time      *string `json:"time"`      // the instant time as RFC 3339 (UTC)
	Action    string  `json:"action"`    // commit, deltacommit, replacecommit, compaction, clean, rollback, ...
	State     string  `json:"state"`     // requested, inflight or completed
	Operation *string `json:"operation"` // the write operation, lowercase (upsert, insert, bulk_insert, delete, compact, insert_overwrite_table, ...)
	Writes    int64   `json:"writes"`    // rows in the files written
	Inserts   int64   `json:"inserts"`
	Updates   int64   `json:"updates"`
	Deletes   int64   `json:"deletes"`
	Files     int     `json:"files"` // files written
	Bytes     int64   `json:"bytes"` // bytes written
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
				r := timelineRow{Instant: inst.Timestamp, Time: instantTime(inst.Timestamp), Action: string(inst.Action),
					State: strings.ToLower(inst.State.String())}
				if inst.State == timeline.Completed && inst.IsWriteAction() {
					md, err := timeline.ReadCommitMetadata(ctx, st, inst)
					if err != nil {
						return err
					}
					r.Writes, r.Inserts, r.Updates, r.Deletes, r.Bytes, r.Files = md.Totals()
					r.Operation = enum(md.OperationType)
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
				when := ""
				if t, err := timeline.ParseInstantTime(r.Instant); err == nil {
					when = t.Format("2006-01-02 15:04:05.000Z")
				}
				op := ""
				if r.Operation != nil {
					op = strings.ToUpper(*r.Operation)
				}
				tr = append(tr, []string{r.Instant, r.Action, strings.ToUpper(r.State), when, op,
					itoa(r.Writes), itoa(r.Inserts), itoa(r.Updates), itoa(r.Deletes), strconv.Itoa(r.Files), itoa(r.Bytes)})
			}
			return printTable(out, []string{"INSTANT", "ACTION", "STATE", "TIME", "OPERATION", "WRITES", "INSERTS", "UPDATES", "DELETES", "FILES", "BYTES"}, tr)
		},
	}
	cmd.Flags().StringVar(&location, "table", "", "table location: a path, file:// or s3://bucket/prefix")
	return cmd
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
