package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/rollback"
	"github.com/hoodie-lake/hoodie/writer"
	"github.com/spf13/cobra"
)

func newCompactCmd(g *globalFlags) *cobra.Command {
	var location, strategy string
	var scheduleOnly, runOnly, force bool
	var deltaCommits, parallelism int
	var elapsed time.Duration
	var logBytes int64
	cmd := &cobra.Command{
		Use:   "compact --table LOCATION",
		Short: "Schedule and run compactions of a merge-on-read table",
		Long: `compact first runs every pending compaction plan (requested or inflight: a crashed run is
re-run to the same result), then schedules a new plan when the strategy says so (default:
5 delta commits since the last compaction) and runs it. Plans are Hudi 0.15 Avro
HoodieCompactionPlans in <instant>.compaction.requested; execution merges each file slice
(base file + log files, Hudi's ordering and delete rules) into a new base file and completes
<instant>.commit. It is safe while ingestion runs in another process: new log files of the
planned file groups go to the new slice. --schedule-only and --run-only split the two halves
(e.g. schedule next to ingestion, execute elsewhere).`,
		Example: `  hoodie compact --table /tmp/events
  hoodie compact --table /tmp/events --force
  hoodie compact --table s3://bucket/events --s3-path-style --schedule-only --strategy LOG_SIZE --log-bytes 268435456
  hoodie compact --table s3://bucket/events --run-only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if scheduleOnly && runOnly {
				return fmt.Errorf("--schedule-only and --run-only exclude each other")
			}
			ctx := cmd.Context()
			tbl, _, err := g.openTable(ctx, location)
			if err != nil {
				return err
			}
			opts := compactor.Options{Strategy: compactor.Strategy(strategy), DeltaCommits: deltaCommits, Elapsed: elapsed,
				LogBytes: logBytes, Force: force, Parallelism: parallelism}
			switch {
			case scheduleOnly:
				opts.Mode = compactor.ScheduleOnly
			case runOnly:
				opts.Mode = compactor.RunOnly
			}
			if isTTY(cmd.ErrOrStderr()) {
				opts.Progress = func(step string, done, total int64) {
					fmt.Fprintf(cmd.ErrOrStderr(), "\r%s: %d/%d file groups", step, done, total)
					if done == total {
						fmt.Fprintln(cmd.ErrOrStderr())
					}
				}
			}
			sc, results, err := compactor.Run(ctx, tbl, opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.output == "json" {
				return printJSON(out, newCompactOutput(sc, results))
			}
			if sc != nil {
				fmt.Fprintf(out, "scheduled %s: %d file groups, %d log files (%d bytes) — %s\n", sc.Instant, sc.FileGroups, sc.LogFiles, sc.LogBytes, sc.Reason)
			} else if !runOnly {
				fmt.Fprintln(out, "nothing scheduled (the strategy does not fire, or no file slice has log files)")
			}
			var rows [][]string
			for _, r := range results {
				state := "completed"
				if r.AlreadyDone {
					state = "already completed"
				}
				rows = append(rows, []string{r.Instant, state, strconv.Itoa(r.FileGroups), itoa(r.LogFiles), itoa(r.LogRecords), itoa(r.Records),
					itoa(r.BytesWritten), strconv.Itoa(r.CarriedLogs), r.Duration.Round(time.Millisecond).String()})
			}
			if len(rows) > 0 {
				return printTable(out, []string{"INSTANT", "STATE", "GROUPS", "LOG_FILES", "LOG_RECORDS", "RECORDS", "BYTES", "CARRIED", "TIME"}, rows)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&location, "table", "", "table location: a path, file:// or s3://bucket/prefix")
	f.BoolVar(&scheduleOnly, "schedule-only", false, "only schedule a plan (when the strategy says so)")
	f.BoolVar(&runOnly, "run-only", false, "only run pending plans")
	f.BoolVar(&force, "force", false, "schedule regardless of the strategy")
	f.StringVar(&strategy, "strategy", string(compactor.NumCommits), "trigger: NUM_COMMITS, TIME_ELAPSED, NUM_OR_TIME, NUM_AND_TIME or LOG_SIZE")
	f.IntVar(&deltaCommits, "delta-commits", compactor.DefaultDeltaCommits, "NUM_COMMITS threshold")
	f.DurationVar(&elapsed, "elapsed", compactor.DefaultElapsed, "TIME_ELAPSED threshold")
	f.Int64Var(&logBytes, "log-bytes", compactor.DefaultLogBytes, "LOG_SIZE threshold")
	f.IntVar(&parallelism, "parallelism", 0, "file groups merged at once (default: CPUs)")
	return cmd
}

func newRollbackCmd(g *globalFlags) *cobra.Command {
	var location string
	cmd := &cobra.Command{
		Use:   "rollback --table LOCATION INSTANT",
		Short: "Roll back a pending write or the latest completed commit/deltacommit",
		Long: `rollback undoes the write at INSTANT the way Hudi does: a rollback instant with its Avro plan
and metadata, the instant's base files deleted and its log blocks rolled back by command
blocks in their file slices. INSTANT must be a pending (failed) write or the latest completed
write; rolling back a completed write also drops the default record index directory, which
the next writer rebuilds from the table. A pending write whose writer is alive (its heartbeat
is fresh and, on the same machine, its process runs) is refused: stop that writer first.`,
		Example: `  hoodie rollback --table /tmp/events 20261122120000000
  hoodie timeline --table /tmp/events   # find the instant first`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			tbl, tl, err := g.openTable(ctx, location)
			if err != nil {
				return err
			}
			completed := tl.IsCompleted(args[0])
			if err := rollback.Instant(ctx, tbl, args[0]); err != nil {
				return err
			}
			indexRemoved := ""
			if completed {
				if dir, err := writer.DefaultIndexDir(location); err == nil {
					if err := os.RemoveAll(dir); err != nil {
						return fmt.Errorf("rollback: dropping the index at %s: %w", dir, err)
					}
					indexRemoved = dir
				}
			}
			if g.output == "json" {
				return printRollback(ctx, cmd.OutOrStdout(), tbl, tl, args[0], indexRemoved)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rolled back %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&location, "table", "", "table location: a path, file:// or s3://bucket/prefix")
	return cmd
}

// isTTY reports whether w is a character device (a terminal).
func isTTY(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newCleanCmd(g *globalFlags) *cobra.Command {
	var location, policy string
	var commits, versions, minKeep, maxKeep int
	var dryRun, archive bool
	cmd := &cobra.Command{
		Use:   "clean --table LOCATION",
		Short: "Delete file slices the retention policy no longer needs, and archive old instants",
		Long: `clean plans and runs a Hudi clean: <instant>.clean.requested holds the Avro HoodieCleanerPlan,
then the files are deleted and <instant>.clean completes with HoodieCleanMetadata. It never
deletes the latest slice of a file group, a slice a pending compaction needs, files of writes
in flight, or what readers of the retained commits (time travel, incremental) need.
KEEP_LATEST_COMMITS (default) keeps what the last --commits-retained commits read;
KEEP_LATEST_FILE_VERSIONS keeps --file-versions-retained slices per file group. An
interrupted clean is finished first. Then, unless --archive=false, instants beyond
--max-keep completed commits are moved to .hoodie/archived down to --min-keep.
--dry-run prints the plan and touches nothing.`,
		Example: `  hoodie clean --table /tmp/events
  hoodie clean --table /tmp/events --dry-run --output json
  hoodie clean --table s3://bucket/events --s3-path-style --policy KEEP_LATEST_FILE_VERSIONS --file-versions-retained 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			tbl, _, err := g.openTable(ctx, location)
			if err != nil {
				return err
			}
			p, err := cleaner.ParsePolicy(policy)
			if err != nil {
				return fmt.Errorf("--policy: %w", err)
			}
			opts := cleaner.Options{Policy: p, CommitsRetained: commits, FileVersionsRetained: versions, DryRun: dryRun}
			res, err := cleaner.Clean(ctx, tbl, opts)
			if err != nil {
				return err
			}
			var ar *cleaner.ArchiveResult
			if archive && !dryRun {
				if ar, err = cleaner.Archive(ctx, tbl, cleaner.ArchiveOptions{MinToKeep: minKeep, MaxToKeep: maxKeep}); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if g.output == "json" {
				return printJSON(out, newCleanOutput(res, policy, dryRun, ar))
			}
			switch {
			case dryRun:
				fmt.Fprintf(out, "dry run: would delete %d files (%d bytes), earliest commit to retain %s\n", len(res.Deleted), res.Bytes, orDash(res.EarliestCommitToRetain))
				for _, d := range res.Deleted {
					fmt.Fprintln(out, "  "+d)
				}
			case res.Instant.Timestamp != "":
				fmt.Fprintf(out, "clean %s: deleted %d files (%d bytes), earliest commit to retain %s\n", res.Instant.Timestamp, len(res.Deleted), res.Bytes, orDash(res.EarliestCommitToRetain))
			default:
				fmt.Fprintln(out, "nothing to clean")
			}
			if ar != nil && len(ar.Archived) > 0 {
				fmt.Fprintf(out, "archived %d instants into %s\n", len(ar.Archived), ar.File)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&location, "table", "", "table location: a path, file:// or s3://bucket/prefix")
	f.StringVar(&policy, "policy", "KEEP_LATEST_COMMITS", "KEEP_LATEST_COMMITS or KEEP_LATEST_FILE_VERSIONS")
	f.IntVar(&commits, "commits-retained", cleaner.DefaultCommitsRetained, "KEEP_LATEST_COMMITS: commits whose readers are served")
	f.IntVar(&versions, "file-versions-retained", cleaner.DefaultFileVersionsRetained, "KEEP_LATEST_FILE_VERSIONS: slices kept per file group")
	f.BoolVar(&dryRun, "dry-run", false, "print the plan; delete nothing")
	f.BoolVar(&archive, "archive", true, "also archive old instants")
	f.IntVar(&minKeep, "min-keep", cleaner.DefaultMinToKeep, "archival: completed commits kept active")
	f.IntVar(&maxKeep, "max-keep", cleaner.DefaultMaxToKeep, "archival: archive when more completed commits are active")
	return cmd
}
