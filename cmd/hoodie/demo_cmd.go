package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/hoodie-lake/hoodie/bench"
	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/internal/storage"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/table"
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
which go to Avro log files. It then compacts the table (merging the logs into new base
files), cleans the superseded file slices, prints the timeline and file groups, and asks DuckDB over the merged snapshot for
the row count and the distinct keys: one row per key.
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
			if err := demoIngest(ctx, out, tbl, opts, events, commits); err != nil {
				return err
			}
			if tbl.Config().Type == table.MergeOnRead {
				if err := demoQuery(ctx, out, tbl, "before compaction"); err != nil {
					return err
				}
				fmt.Fprintf(out, "\n$ hoodie compact --table %s --force\n", location)
				sc, res, err := compactor.Run(ctx, tbl, compactor.Options{Force: true}, false, false)
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
			for _, sub := range []*cobra.Command{newTimelineCmd(g), newFilesCmd(g)} {
				fmt.Fprintf(out, "\n$ hoodie %s --table %s\n", sub.Name(), location)
				sub.SetOut(out)
				sub.SetArgs([]string{"--table", location})
				if err := sub.ExecuteContext(ctx); err != nil {
					return err
				}
			}
			return demoQuery(ctx, out, tbl, "")
		},
	}
	cmd.Flags().StringVar(&location, "table", "", "table location (default: a new directory under the temp dir)")
	cmd.Flags().IntVar(&events, "events", 100_000, "events to generate")
	cmd.Flags().IntVar(&commits, "commits", 4, "commits to spread them over")
	cmd.Flags().StringVar(&typ, "type", "mor", "table type: mor or cow")
	return cmd
}

// demoIngest upserts generated events in commits; each commit after the
// first also replays part of the previous one: late versions (older time)
// and updates (newer time).
func demoIngest(ctx context.Context, out io.Writer, tbl *table.Table, opts writer.Options, events, commits int) error {
	w, err := writer.Open(ctx, tbl, opts)
	if err != nil {
		return err
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
			return err
		}
		res, err := w.Commit(ctx)
		if err != nil {
			return err
		}
		s := res.Stats
		fmt.Fprintf(out, "  commit %s: %d events -> %d inserts, %d updates, %d late ignored, %d retries combined; %d files, %.1f MB in %s\n",
			res.Instant, len(evs), s.Inserts, s.Updates, s.LateDropped, s.Duplicates, s.FilesWritten, float64(s.BytesWritten)/(1<<20), s.Duration.Round(time.Millisecond))
	}
	return nil
}

// demoQuery asks DuckDB, over the snapshot (merged for MOR), for rows and
// distinct keys.
func demoQuery(ctx context.Context, out io.Writer, tbl *table.Table, when string) error {
	db, closeDB, err := openDuckDB(ctx, tbl, reader.Options{})
	if err != nil {
		return err
	}
	defer closeDB()
	q := "SELECT count(*) AS rows, count(DISTINCT _hoodie_record_key) AS keys, count(DISTINCT _hoodie_partition_path) AS partitions FROM t"
	var rows, keys, parts int64
	if err := db.QueryRowContext(ctx, q).Scan(&rows, &keys, &parts); err != nil {
		return fmt.Errorf("duckdb: %w", err)
	}
	if when != "" {
		when = " (" + when + ")"
	}
	fmt.Fprintf(out, "\nDuckDB over the snapshot%s: %d rows, %d distinct keys, %d partitions", when, rows, keys, parts)
	if rows == keys {
		fmt.Fprintln(out, " — one row per key.")
	} else {
		fmt.Fprintln(out, " — DUPLICATES.")
		return fmt.Errorf("demo: %d rows but %d keys", rows, keys)
	}
	return nil
}

// typeName maps the --type flag to a table type name.
func typeName(s string) string {
	switch s {
	case "mor", "MERGE_ON_READ":
		return string(table.MergeOnRead)
	}
	return string(table.CopyOnWrite)
}
