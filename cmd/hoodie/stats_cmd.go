package main

import (
	"encoding/csv"
	"fmt"
	"github.com/hoodie-lake/hoodie/filegroup"
	"sort"
	"strconv"
	"strings"

	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/spf13/cobra"
)

// instantCount is the number of instants of one action in one state.
type instantCount struct {
	Action string `json:"action"`
	State  string `json:"state"` // requested, inflight or completed
	Count  int    `json:"count"`
}

// fileCounts counts the base and log files of a set of slices.
type fileCounts struct {
	Slices    int   `json:"slices"`
	BaseFiles int   `json:"base_files"`
	BaseBytes int64 `json:"base_bytes"`
	LogFiles  int   `json:"log_files"`
	LogBytes  int64 `json:"log_bytes"`
}

func (c *fileCounts) add(s *filegroup.FileSlice) {
	c.Slices++
	if s.Base != nil {
		c.BaseFiles++
		c.BaseBytes += s.Base.Size
	}
	for _, l := range s.Logs {
		c.LogFiles++
		c.LogBytes += l.Size
	}
}

// tableStats is what stats reports; its JSON is stats --output json.
type tableStats struct {
	Table              string         `json:"table"` // the location given
	Name               string         `json:"name"`
	Database           *string        `json:"database"`
	Type               string         `json:"type"` // copy_on_write or merge_on_read
	Version            int            `json:"version"`
	RecordKeyFields    []string       `json:"record_key_fields"`
	PrecombineField    *string        `json:"precombine_field"`
	PartitionFields    []string       `json:"partition_fields"`
	HiveStyle          bool           `json:"hive_style_partitioning"`
	KeyGenerator       string         `json:"key_generator"`
	PayloadClass       *string        `json:"payload_class"`
	MetadataTable      bool           `json:"metadata_table"`      // the table keeps a Hudi metadata table that hoodie maintains (the files partition alone)
	MetadataPartitions []string       `json:"metadata_partitions"` // Hudi metadata table partitions, completed and inflight
	Instants           []instantCount `json:"instants"`            // by action, then state
	LastCommit         *string        `json:"last_commit"`         // the last completed write's instant
	LastCommitTime     *string        `json:"last_commit_time"`    // as RFC 3339
	Partitions         int            `json:"partitions"`
	FileGroups         int            `json:"file_groups"`
	Visible            fileCounts     `json:"visible"` // every visible slice
	Latest             fileCounts     `json:"latest"`  // the latest slice of each file group
	Records            int64          `json:"records"` // rows in the latest base files (commit metadata)
	LogRecords         int64          `json:"log_records"`
	RecordsKnown       bool           `json:"records_known"` // every latest file has a write stat in the active timeline
	Commits            int            `json:"commits"`       // completed writes in the active timeline
	Inserts            int64          `json:"inserts"`
	Updates            int64          `json:"updates"`
	Deletes            int64          `json:"deletes"`
	BytesWritten       int64          `json:"bytes_written"`
	PendingCompactions []instantJSON  `json:"pending_compactions"`
	PendingInstants    []instantJSON  `json:"pending_instants"` // other pending instants
}

func newStatsCmd(g *globalFlags) *cobra.Command {
	var location string
	cmd := &cobra.Command{
		Use:   "stats --table LOCATION",
		Short: "Summarise a table: config, instants by action and state, partitions, file groups, files, records",
		Long: `stats reads hoodie.properties, the active timeline and the file-system view (as of the latest
completed commit) and reports: the table type and key, precombine and partition fields; the
Hudi metadata table, if the table keeps one, with its partitions and whether hoodie maintains it
(the files partition alone; reads list storage either way); the
instants by action and state; the last completed commit; partitions and file groups; file
slices with their base and log files and bytes (every visible slice, and the latest slice of
each file group); records, from the commit metadata: the rows of the latest base files and the
records written to the latest slices' log files (updates and deletes included, so base + log
is an upper bound on merge-on-read tables); insert, update and delete totals of the completed
writes in the active timeline; pending compactions and other pending instants.
Records are "known" when every latest file's writing commit is still in the active timeline
(archived commits' stats are not read).`,
		Example: `  hoodie stats --table /tmp/events
  hoodie stats --table s3://bucket/events --s3-path-style --output json | jq .records
  hoodie stats --table /tmp/events --output csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			tbl, tl, err := g.openTableForRead(ctx, location)
			if err != nil {
				return err
			}
			st := tbl.Storage()
			cfg := tbl.Config()
			s := &tableStats{Table: location, Name: cfg.Name, Database: optString(cfg.Database), Type: strings.ToLower(string(cfg.Type)), Version: cfg.Version,
				RecordKeyFields: nonNil(cfg.RecordKeyFields), PrecombineField: optString(cfg.PrecombineField), PartitionFields: nonNil(cfg.PartitionFields),
				HiveStyle: cfg.HiveStylePartitioning, KeyGenerator: cfg.KeyGeneratorClass(), PayloadClass: optString(cfg.PayloadClass),
				MetadataTable:      metadata.Enabled(cfg) && metadata.Supported(cfg) == nil,
				MetadataPartitions: append(append([]string{}, cfg.MetadataPartitions...), cfg.MetadataPartitionsInflight...),
				Instants:           []instantCount{}, PendingCompactions: []instantJSON{}, PendingInstants: []instantJSON{}}

			counts := map[[2]string]int{}
			lastCommit := ""
			// writes maps the path of every file a completed write wrote to
			// the records it holds (base files) or got (log files).
			writes := map[string]int64{}
			for _, inst := range tl.Instants() {
				counts[[2]string{string(inst.Action), strings.ToLower(inst.State.String())}]++
				if inst.State != timeline.Completed {
					if tl.IsCompaction(inst.Timestamp) {
						s.PendingCompactions = append(s.PendingCompactions, newInstantJSON(inst))
					} else {
						s.PendingInstants = append(s.PendingInstants, newInstantJSON(inst))
					}
					continue
				}
				if !inst.IsWriteAction() {
					continue
				}
				md, err := timeline.ReadCommitMetadata(ctx, st, inst)
				if err != nil {
					return fmt.Errorf("stats: %s: %w", inst, err)
				}
				_, ins, upd, del, bytes, _ := md.Totals()
				s.Commits++
				s.Inserts += ins
				s.Updates += upd
				s.Deletes += del
				s.BytesWritten += bytes
				lastCommit = inst.Timestamp
				for _, ws := range md.Stats() {
					writes[ws.Path] = ws.NumWrites
				}
			}
			for k, n := range counts {
				s.Instants = append(s.Instants, instantCount{Action: k[0], State: k[1], Count: n})
			}
			sort.Slice(s.Instants, func(i, j int) bool {
				a, b := s.Instants[i], s.Instants[j]
				if a.Action != b.Action {
					return a.Action < b.Action
				}
				return a.State < b.State
			})
			s.LastCommit, s.LastCommitTime = optString(lastCommit), instantTime(lastCommit)
			view, err := filegroup.BuildView(ctx, st, tl, filegroup.ViewOptions{})
			if err != nil {
				return err
			}
			s.Partitions = len(view.Partitions())
			s.FileGroups = len(view.FileGroups())
			s.RecordsKnown = true
			for _, fg := range view.FileGroups() {
				for _, sl := range fg.Slices {
					s.Visible.add(sl)
				}
				latest := fg.Latest()
				if latest == nil {
					continue
				}
				s.Latest.add(latest)
				if latest.Base != nil {
					n, ok := writes[latest.Base.Path]
					s.Records += n
					s.RecordsKnown = s.RecordsKnown && ok
				}
				for _, l := range latest.Logs {
					n, ok := writes[l.Path]
					s.LogRecords += n
					s.RecordsKnown = s.RecordsKnown && ok
				}
			}
			return printStats(cmd, g.output, s)
		},
	}
	cmd.Flags().StringVar(&location, "table", "", "table location: a path, file:// or s3://bucket/prefix")
	return cmd
}

// statsPairs flattens s into name/value pairs (csv output); null is
// empty.
func statsPairs(s *tableStats) [][2]string {
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	var pc, pi []string
	for _, x := range s.PendingCompactions {
		pc = append(pc, x.Instant)
	}
	for _, x := range s.PendingInstants {
		pi = append(pi, x.Instant+" "+x.Action+" "+x.State)
	}
	p := [][2]string{
		{"table", s.Table}, {"name", s.Name}, {"database", deref(s.Database)}, {"type", s.Type}, {"version", strconv.Itoa(s.Version)},
		{"record_key_fields", strings.Join(s.RecordKeyFields, ",")}, {"precombine_field", deref(s.PrecombineField)},
		{"partition_fields", strings.Join(s.PartitionFields, ",")}, {"hive_style_partitioning", strconv.FormatBool(s.HiveStyle)},
		{"key_generator", s.KeyGenerator}, {"payload_class", deref(s.PayloadClass)},
		{"metadata_table", strconv.FormatBool(s.MetadataTable)}, {"metadata_partitions", strings.Join(s.MetadataPartitions, ",")},
		{"last_commit", deref(s.LastCommit)}, {"last_commit_time", deref(s.LastCommitTime)},
		{"partitions", strconv.Itoa(s.Partitions)}, {"file_groups", strconv.Itoa(s.FileGroups)},
		{"slices", strconv.Itoa(s.Visible.Slices)},
		{"base_files", strconv.Itoa(s.Visible.BaseFiles)}, {"base_bytes", i(s.Visible.BaseBytes)},
		{"log_files", strconv.Itoa(s.Visible.LogFiles)}, {"log_bytes", i(s.Visible.LogBytes)},
		{"latest_slices", strconv.Itoa(s.Latest.Slices)},
		{"latest_base_files", strconv.Itoa(s.Latest.BaseFiles)}, {"latest_base_bytes", i(s.Latest.BaseBytes)},
		{"latest_log_files", strconv.Itoa(s.Latest.LogFiles)}, {"latest_log_bytes", i(s.Latest.LogBytes)},
		{"records", i(s.Records)}, {"log_records", i(s.LogRecords)}, {"records_known", strconv.FormatBool(s.RecordsKnown)},
		{"commits", strconv.Itoa(s.Commits)}, {"inserts", i(s.Inserts)}, {"updates", i(s.Updates)}, {"deletes", i(s.Deletes)},
		{"bytes_written", i(s.BytesWritten)},
		{"pending_compactions", strings.Join(pc, " ")},
		{"pending_instants", strings.Join(pi, "; ")},
	}
	for _, c := range s.Instants {
		p = append(p, [2]string{"instants." + c.Action + "." + c.State, strconv.Itoa(c.Count)})
	}
	return p
}

// deref is *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func printStats(cmd *cobra.Command, output string, s *tableStats) error {
	out := cmd.OutOrStdout()
	switch output {
	case "json":
		return printJSON(out, s)
	case "csv":
		cw := csv.NewWriter(out)
		_ = cw.Write([]string{"stat", "value"})
		for _, kv := range statsPairs(s) {
			_ = cw.Write(kv[:])
		}
		cw.Flush()
		return cw.Error()
	}
	fmt.Fprintf(out, "table %s (%s) at %s\n", s.Name, strings.ToUpper(s.Type), s.Table)
	part := strings.Join(s.PartitionFields, ",")
	if part == "" {
		part = "(none)"
	} else if s.HiveStyle {
		part += " (hive-style)"
	}
	fmt.Fprintf(out, "  record key %s, precombine %s, partitions %s\n", strings.Join(s.RecordKeyFields, ","), orDash(deref(s.PrecombineField)), part)
	fmt.Fprintf(out, "  key generator %s, payload %s\n", s.KeyGenerator, orDash(deref(s.PayloadClass)))
	switch {
	case s.MetadataTable:
		fmt.Fprintf(out, "  Hudi metadata table: %s (maintained by hoodie's writes; hoodie metadata validate checks it)\n", strings.Join(s.MetadataPartitions, ","))
	case len(s.MetadataPartitions) > 0:
		fmt.Fprintf(out, "  Hudi metadata table: %s (hoodie reads this table but does not write it: it maintains the files partition alone, none being built)\n",
			strings.Join(s.MetadataPartitions, ","))
	default:
		fmt.Fprintln(out, "  Hudi metadata table: none (hoodie metadata enable creates one)")
	}
	if s.LastCommit != nil {
		fmt.Fprintf(out, "  last commit %s (%s)\n", *s.LastCommit, deref(s.LastCommitTime))
	} else {
		fmt.Fprintln(out, "  no completed commit")
	}
	fmt.Fprintf(out, "files: %d partitions, %d file groups, %d slices (%d latest)\n", s.Partitions, s.FileGroups, s.Visible.Slices, s.Latest.Slices)
	fmt.Fprintf(out, "  all slices:    %d base files (%d bytes), %d log files (%d bytes)\n", s.Visible.BaseFiles, s.Visible.BaseBytes, s.Visible.LogFiles, s.Visible.LogBytes)
	fmt.Fprintf(out, "  latest slices: %d base files (%d bytes), %d log files (%d bytes)\n", s.Latest.BaseFiles, s.Latest.BaseBytes, s.Latest.LogFiles, s.Latest.LogBytes)
	known := ""
	if !s.RecordsKnown {
		known = " (some files' commits are archived: counts are partial)"
	}
	fmt.Fprintf(out, "records: %d in latest base files, %d written to their log files%s\n", s.Records, s.LogRecords, known)
	fmt.Fprintf(out, "writes: %d completed commits in the active timeline: %d inserts, %d updates, %d deletes, %d bytes\n",
		s.Commits, s.Inserts, s.Updates, s.Deletes, s.BytesWritten)
	var pc, pi []string
	for _, x := range s.PendingCompactions {
		pc = append(pc, x.Instant)
	}
	for _, x := range s.PendingInstants {
		pi = append(pi, x.Instant+" "+x.Action+" "+strings.ToUpper(x.State))
	}
	fmt.Fprintf(out, "pending compactions: %s\n", orDash(strings.Join(pc, ", ")))
	if len(pi) > 0 {
		fmt.Fprintf(out, "pending instants: %s\n", strings.Join(pi, ", "))
	}
	var rows [][]string
	for _, c := range s.Instants {
		rows = append(rows, []string{c.Action, strings.ToUpper(c.State), strconv.Itoa(c.Count)})
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(out, "instants:")
	return printTable(out, []string{"ACTION", "STATE", "COUNT"}, rows)
}
