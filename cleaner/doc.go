// Package cleaner owns Hudi's two housekeeping services for a table
// version 6 table: cleaning (deleting file slices no reader needs any more)
// and timeline archival (moving old instants from .hoodie/ into the
// archived timeline under .hoodie/archived/).
//
//	res, err := cleaner.Clean(ctx, tbl, cleaner.Options{CommitsRetained: 10})
//	ar, err := cleaner.Archive(ctx, tbl, cleaner.ArchiveOptions{MinToKeep: 20, MaxToKeep: 30})
//
// Both refresh the table handle first (table.Table.Refresh) and work on its
// timeline and file-system view.
//
// # Cleaning
//
// Clean runs Hudi's clean action in three stages: gather the inputs (the
// handle's timeline and view, the pending compaction plans, the savepoints,
// the file groups completed replacecommits replaced), plan (a pure function
// of those inputs: the policy, the earliest commit to retain and the files
// per partition, as an avroplan.HoodieCleanerPlan), and execute through the
// instant's timeline.Txn:
//
//	T.clean.requested   HoodieCleanerPlan (version 2: full paths per partition)
//	T.clean.inflight    the same plan
//	                    delete the planned files (per slice: log files, then the base file)
//	T.clean             HoodieCleanMetadata (file names deleted per partition)
//
// An interrupted clean (requested or inflight left behind) is finished by
// the next Clean from its stored plan before a new one is planned; deletes
// are idempotent, so a crash anywhere only delays the clean. When nothing is
// to be deleted no instant is written.
//
// Which files go depends on the policy. KeepLatestCommits (Hudi's
// KEEP_LATEST_COMMITS, default, 10 commits) computes earliestCommitToRetain
// (ECTR), the CommitsRetained-th newest completed commit, deltacommit or
// replacecommit, and keeps in every file group each slice whose base
// instant is at or after ECTR plus the newest slice before it (what a
// reader as of ECTR sees): time travel and incremental reads of any
// instant at or after ECTR keep working. KeepLatestFileVersions
// (KEEP_LATEST_FILE_VERSIONS, 3) keeps the newest FileVersionsRetained
// slices of each group, whatever their age. File groups replaced by a
// completed replacecommit before ECTR (any replacecommit under
// KeepLatestFileVersions) are deleted whole.
//
// Safety rules, each of which holds whatever the policy:
//
//   - The latest slice of every file group is never deleted.
//   - Files of uncompleted instants are never touched: the plan is made
//     from the file-system view of completed instants only (filegroup.View
//     hides pending files), so a writer in flight in another process never
//     loses a file it wrote. Its rollback is the writer's job.
//   - ECTR is never later than the last completed commit before the
//     earliest pending write (commit, deltacommit, replacecommit,
//     compaction), as Hudi does: the slices an in-flight writer or
//     compactor started from stay.
//   - Slices referenced by a pending (requested or inflight) compaction
//     plan — its base file, its deltaFilePaths and the slice they belong
//     to — are never deleted, nor are files of a completed savepoint.
//   - A plan only grows stale in the safe direction: later commits add
//     newer slices and never make an older slice needed again, so resuming
//     an old plan is safe. A compaction scheduled by another process
//     between our planning and our requested file is caught by a re-check
//     after the clean instant is claimed: if the pending instants changed,
//     the plan is recomputed and, should the new plan no longer delete a
//     planned file, the requested file is withdrawn and planning repeats.
//
// DryRun plans (reading only) and reports the plan; it neither writes nor
// deletes anything.
//
// # Archival
//
// Archive keeps the active timeline short. When it holds more than
// MaxToKeep completed commit-type instants (commit, deltacommit,
// replacecommit), the oldest instants are moved down to MinToKeep: each of
// their instant files (requested, inflight, completed) becomes a
// HoodieArchivedMetaEntry in Avro data blocks of a new log file
// .hoodie/archived/.commits_.archive.<N>_1-0-1, as Hudi 0.15's archiver
// writes them. Completed clean and rollback instants older than the oldest
// kept commit go with them.
//
// The archived instants are always a prefix of the active timeline, and
// never reach the earliest pending instant of any action, the earliest
// instant a pending compaction needs (the compaction and the base instants
// of its plan), the earliestCommitToRetain of the latest completed clean,
// or a savepoint (or any instant of an action Archive does not archive).
// That matters because readers treat instants before the first active
// instant as archived and completed (timeline.Timeline.Visible): a hole
// would hide data, and an archived pending instant would expose a failed
// write. Which instants go is, like a clean plan, a pure function of the
// timeline, the pending compaction plans and the latest clean.
//
// Crash order: the archive file is written whole (visible only when
// complete) first; then the requested and inflight files of the archived
// instants are deleted; then their completed files, oldest first, so that
// at every point the deleted completed instants are a prefix of the
// timeline. A re-run after a crash skips entries already present in the
// newest archive file. Finally instant-time claims older than the oldest
// kept instant are pruned (timeline.PruneClaims).
package cleaner
