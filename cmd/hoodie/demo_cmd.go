package main

import (
	"context"
	"fmt"
	"github.com/hoodie-lake/hoodie/filegroup"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/hoodie-lake/hoodie/bench"
	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
	"github.com/spf13/cobra"
)

func newDemoCmd(g *globalFlags) *cobra.Command {
	var location, typ string
	var events, commits int
	cmd := &cobra.Command{
		Use:   "demo [--table LOCATION]",
		Short: "Run the main job on a local table: ingest game events with duplicates and late arrivals, then query",
		Long: `demo creates a merge-on-read table of game events (record key uuid, precombine time,
partitioned by dt/game_id/region, hive-style) and upserts generated events in several
commits: every commit carries retries of its own events, late versions of earlier events
(older event time: ignored, the stored version is newer) and newer versions (updates),
which go to Avro log files. Each commit reports its inserts (new keys), updates (newer
versions that replace the stored one), late events ignored (an older event time than the
stored version, which stays; counted alike on both table types, although a merge-on-read
commit writes them to the log, where readers drop them) and retries combined within the
commit. It then compacts the table (merging the logs into new base files), cleans the
superseded file slices, prints the timeline and the first file groups, asks DuckDB over the
merged snapshot for the row count and the distinct keys (one row per key), and ends with a
summary: where the table is, the counters, the snapshot, and commands to run next.
Without --table it uses a new directory under the system temp dir. --type cow writes a
copy-on-write table instead.`,
		Example: `  go run ./cmd/hoodie demo
  hoodie demo --table /tmp/game_events --events 200000 --commits 5`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			if events < commits || commits < 1 {
				return fmt.Errorf("--events must be at least --commits, and --commits at least 1")
			}
			if location == "" {
				location = filepath.Join(os.TempDir(), "hoodie-demo-"+time.Now().UTC().Format("20060102-150405"), "game_events")
			}
			st, err := g.openStorage(ctx, location)
			if err != nil {
				return err
			}
			tbl, err := table.Create(ctx, st, table.CreateOptions{
				Name:                  "game_events",
				Type:                  table.TableType(typeName(typ)),
				RecordKeyFields:       []string{"uuid"},
				PrecombineField:       "time",
				PartitionFields:       []string{"dt", "game_id", "region"},
				HiveStylePartitioning: true,
			})
			if err != nil {
				return err
			}
			if err := printConfig(cmd, g, location, tbl.Config()); err != nil {
				return err
			}
			opts := writer.Options{IndexLocation: location}
			if tbl.Config().Type == table.MergeOnRead {
				// New events make new file groups, so updates show up as
				// log files (with small-file handling they would be merged
				// into the small base files, as Hudi does).
				opts.SmallFileLimit = -1
			}
			if _, ok := st.(*storage.Local); ok {
				opts.IndexDir = filepath.Join(filepath.Dir(location), "index")
			}
			tot, err := demoIngest(ctx, out, tbl, opts, events, commits)
			if err != nil {
				return err
			}
			if tbl.Config().Type == table.MergeOnRead {
				if _, err := demoQuery(ctx, out, tbl, "before compaction"); err != nil {
					return err
				}
				fmt.Fprintf(out, "\n$ hoodie compact --table %s --force\n", location)
				sc, res, err := compactor.Run(ctx, tbl, compactor.Options{Force: true})
				if err != nil {
					return err
				}
				if sc != nil {
					fmt.Fprintf(out, "scheduled %s: %d file groups, %d log files\n", sc.Instant, sc.FileGroups, sc.LogFiles)
				}
				for _, r := range res {
					fmt.Fprintf(out, "compacted %s: %d log records merged into %d records, %.1f MB in %s\n",
						r.Instant, r.LogRecords, r.Records, float64(r.BytesWritten)/(1<<20), r.Duration.Round(time.Millisecond))
				}
				fmt.Fprintf(out, "\n$ hoodie clean --table %s --policy KEEP_LATEST_FILE_VERSIONS --file-versions-retained 1\n", location)
				cr, err := cleaner.Clean(ctx, tbl, cleaner.Options{Policy: cleaner.KeepLatestFileVersions, FileVersionsRetained: 1})
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "clean %s: deleted %d superseded files (%.1f MB)\n", orDash(cr.Instant.Timestamp), len(cr.Deleted), float64(cr.Bytes)/(1<<20))
			}
			fmt.Fprintf(out, "\n$ hoodie timeline --table %s\n", location)
			tlCmd := newTimelineCmd(g)
			tlCmd.SetOut(out)
			tlCmd.SetArgs([]string{"--table", location})
			if err := tlCmd.ExecuteContext(ctx); err != nil {
				return err
			}
			fmt.Fprintf(out, "\n$ hoodie files --table %s\n", location)
			tl, err := timeline.Load(ctx, st)
			if err != nil {
				return err
			}
			view, err := filegroup.BuildView(ctx, st, tl, filegroup.ViewOptions{})
			if err != nil {
				return err
			}
			slices := sliceRows(view, false)
			if err := printSlices(out, view, slices, demoFilesShown, " (hoodie files lists them all)"); err != nil {
				return err
			}
			rows, err := demoQuery(ctx, out, tbl, "")
			if err != nil {
				return err
			}
			var baseFiles, logFiles int
			var bytes int64
			for _, r := range slices {
				if r.BaseFile != nil {
					baseFiles++
				}
				logFiles += len(r.LogFiles)
				bytes += r.TotalBytes
			}
			cfg := tbl.Config()
			fmt.Fprintf(out, "\nSummary\n")
			fmt.Fprintf(out, "  table     %s: %s, %s table, partitioned %s\n", location, cfg.Name, demoTypeName(cfg.Type), strings.Join(cfg.PartitionFields, "/"))
			fmt.Fprintf(out, "  ingested  %d events in %d commits: %d inserts, %d updates, %d late ignored, %d retries combined\n",
				tot.events, commits, tot.inserts, tot.updates, tot.late, tot.retries)
			fmt.Fprintf(out, "  snapshot  %d rows, one per key, in %d partitions: %d file groups, %d base files, %d log files, %.1f MB\n",
				rows, len(view.Partitions()), len(view.FileGroups()), baseFiles, logFiles, float64(bytes)/(1<<20))
			loc := shellQuote(location)
			fmt.Fprintf(out, "  next      hoodie query --table %s \"SELECT game_id, count(*) AS events FROM t GROUP BY game_id ORDER BY game_id\"\n", loc)
			fmt.Fprintf(out, "            hoodie stats --table %s\n", loc)
			fmt.Fprintf(out, "            hoodie files --table %s\n", loc)
			return nil
		},
	}
	cmd.Flags().StringVar(&location, "table", "", "table location (default: a new directory under the temp dir)")
	cmd.Flags().IntVar(&events, "events", 100_000, "events to generate")
	cmd.Flags().IntVar(&commits, "commits", 4, "commits to spread them over")
	cmd.Flags().StringVar(&typ, "type", "mor", "table type: mor or cow")
	return cmd
}

// demoFilesShown is how many file slices the demo lists.
const demoFilesShown = 8

// demoTotals are the demo's counters over all its commits.
type demoTotals struct {
	events, inserts, updates, late, retries int64
}

// demoIngest upserts generated events in commits; each commit after the
// first also replays part of the previous one: late versions (older time)
// and updates (newer time).
//
// The counters mean the same on both table types, and are the writer's: an
// update replaces the stored version; a late event (an older event time
// than the stored version, under DefaultHoodieRecordPayload) leaves it in
// place and is counted in Stats.LateDropped, not in Stats.Updates (the
// copy-on-write merge keeps the stored row; a merge-on-read commit does not
// write it to the log).
func demoIngest(ctx context.Context, out io.Writer, tbl *table.Table, opts writer.Options, events, commits int) (demoTotals, error) {
	var tot demoTotals
	w, err := writer.Open(ctx, tbl, opts)
	if err != nil {
		return tot, err
	}
	defer w.Close()
	gen := bench.NewGenerator(bench.WorkloadConfig{Seed: 7, DupShare: 0.05})
	var prev []bench.Event
	fmt.Fprintf(out, "\ningesting %d events in %d commits (with retries, late events and updates):\n", events, commits)
	for c := 0; c < commits; c++ {
		evs := gen.Next(events / commits)
		if len(prev) > 0 {
			late := gen.Updates(prev, len(prev)/20)
			for i := range late {
				late[i].Time -= 2 * 3_600_000 // older than the stored version: must be ignored
			}
			evs = append(evs, late...)
			evs = append(evs, gen.Updates(prev, len(prev)/10)...)
		}
		prev = evs
		b := bench.ToArrow(evs)
		err := w.Upsert(b)
		b.Release()
		if err != nil {
			return tot, err
		}
		res, err := w.Commit(ctx)
		if err != nil {
			return tot, err
		}
		s := res.Stats
		tot.events += int64(len(evs))
		tot.inserts += s.Inserts
		tot.updates += s.Updates
		tot.late += s.LateDropped
		tot.retries += s.Duplicates
		fmt.Fprintf(out, "  commit %s: %d events -> %d inserts, %d updates, %d late ignored, %d retries combined; %d files, %.1f MB in %s\n",
			res.Instant, len(evs), s.Inserts, s.Updates, s.LateDropped, s.Duplicates, s.FilesWritten, float64(s.BytesWritten)/(1<<20), s.Duration.Round(time.Millisecond))
	}
	return tot, nil
}

// demoQuery asks DuckDB, over the snapshot (merged for MOR), for rows and
// distinct keys.
func demoQuery(ctx context.Context, out io.Writer, tbl *table.Table, when string) (int64, error) {
	db, closeDB, err := openDuckDB(ctx, tbl, reader.Options{})
	if err != nil {
		return 0, err
	}
	defer closeDB()
	q := "SELECT count(*) AS rows, count(DISTINCT _hoodie_record_key) AS keys, count(DISTINCT _hoodie_partition_path) AS partitions FROM t"
	var rows, keys, parts int64
	if err := db.QueryRowContext(ctx, q).Scan(&rows, &keys, &parts); err != nil {
		return 0, fmt.Errorf("duckdb: %w", err)
	}
	if when != "" {
		when = " (" + when + ")"
	}
	fmt.Fprintf(out, "\nDuckDB over the snapshot%s: %d rows, %d distinct keys, %d partitions", when, rows, keys, parts)
	if rows == keys {
		fmt.Fprintln(out, " — one row per key.")
	} else {
		fmt.Fprintln(out, " — DUPLICATES.")
		return rows, fmt.Errorf("demo: %d rows but %d keys", rows, keys)
	}
	return rows, nil
}

// demoTypeName is a table type as the demo's text names it.
func demoTypeName(t table.TableType) string {
	if t == table.MergeOnRead {
		return "merge-on-read"
	}
	return "copy-on-write"
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-:+=@%,", r)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

// typeName maps the --type flag to a table type name.
func typeName(s string) string {
	switch s {
	case "mor", "MERGE_ON_READ":
		return string(table.MergeOnRead)
	}
	return string(table.CopyOnWrite)
}
