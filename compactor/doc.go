// Package compactor schedules and executes Hudi compactions of
// merge-on-read tables (table version 6), as a table service that may run
// in another process, or on another machine, than ingestion.
//
// Run is the service loop's one call: it executes every pending plan
// (requested or inflight), then schedules a new plan when the trigger
// strategy says so and executes it. Options.Mode restricts it to one half
// (ScheduleOnly next to ingestion, RunOnly elsewhere):
//
//	scheduled, results, err := compactor.Run(ctx, tbl, compactor.Options{
//		Strategy: compactor.NumCommits, DeltaCommits: 5,
//	})
//
// # Scheduling
//
// Schedule gathers its inputs (the table's refreshed timeline and view, the
// file groups of pending compaction plans, and which log files completed
// instants wrote: one header read per candidate log file), decides on them
// with a pure planner, and writes the plan through timeline.Begin as
// `<T>.compaction.requested`, a HoodieCompactionPlan (Avro, Hudi 0.15's
// schema, version 2: file names relative to the partition). The planner
// takes the latest file slices that have log files and writes a plan when
// the strategy (or Options.Force) says so: enough delta commits since the
// last compaction (default 5), enough time elapsed, or enough log bytes.
// Only log files whose writing instant is completed go into a plan, so a
// plan never references a file that a writer's rollback may delete; log
// files folded in from a pending compaction's slice stay out, and so do
// file groups already in a pending plan.
//
// # Execution
//
// Execute moves the plan to inflight (timeline.Resume of the requested
// instant), merges each operation's slice (base file + planned logs,
// blocks of completed instants before T) into `<fileId>_<token>_T.parquet`
// behind a CREATE marker of T, keeping each record's meta values, and
// completes `T.commit` with `compacted: true`. Output names are a function
// of (T, operation index), so a crashed or killed execution is re-run to the
// same result; two executors racing on one plan both succeed and produce
// one commit.
//
// # Running alongside ingestion
//
// While T is pending, writers send new log files of the planned groups to
// the slice of T (the view folds them into the previous slice for readers
// until T completes). A writer that began before the plan appeared moves
// its new logs there itself before its commit point; and Execute, before
// completing, carries over into the new slice every log file of a planned
// group's old slice that the plan does not list (written by such a writer
// after the plan was made), so no log block is left behind in a superseded
// slice. Each copy is made by filegroup.AppendLog on behalf of the instant
// that wrote the log: while that instant is pending, its marker goes into
// the writer's instant (a timeline.Txn resumed on it), so the writer's
// rollback removes the copy too.
//
// A plan never blocks future plans forever: Run executes every pending
// plan before it schedules a new one.
package compactor
