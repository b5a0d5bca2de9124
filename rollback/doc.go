// Package rollback is Hudi's rollback as a table service beside the write
// protocol (timeline.Txn): it undoes write instants (commit, deltacommit,
// replacecommit) that will never complete, and on request the latest
// completed write.
//
// A rollback of instant F is an instant R of its own, as Hudi writes it:
//
//	R.rollback.requested   HoodieRollbackPlan: one request per file-group slice
//	                       F wrote into (found through F's markers, and base
//	                       files named with F as a safety net)
//	R.rollback.inflight    then F's base files are deleted; F's log files are
//	                       deleted too and each slice they sat in gets a log
//	                       file with a rollback command block (filegroup.AppendLog,
//	                       a marker of R), so F's blocks stay dead for readers
//	                       even once F has left the active timeline
//	R.rollback             HoodieRollbackMetadata; R's markers go
//
// and last F is withdrawn: its markers, its inflight and requested files
// (timeline.Txn.Abort), its heartbeat and its recorded new keys. A crash
// anywhere leaves F pending, or R pending with its plan; the next rollback
// (Pending, Instant) first executes pending rollback plans again and
// withdraws the instants they name, then rolls back what is still failed.
//
// Which pending writes have failed is the heartbeats' business (package
// timeline: every writer keeps .hoodie/.heartbeat/<instant> fresh while it
// writes, naming its process). Pending takes one of two concurrency modes,
// those of the writers of the table:
//
//   - single writer (the default): at most one writer at a time, so a
//     pending write whose heartbeat is missing, expired, or names a process
//     of this machine that ended has failed; a pending write whose writer is
//     alive is another writer, and Pending refuses with ErrLiveWriter before
//     rolling anything back;
//   - optimistic (PendingOptions.Optimistic): writers run concurrently, so a
//     pending write whose writer is alive is left alone, and one without a
//     heartbeat counts as failed only once its instant file is older than
//     the heartbeat timeout (Hudi's rule).
//
// Failed rolls back one pending write its caller knows to have failed (a
// writer's own commit that did not reach its commit point), and Instant
// rolls back one instant named by the user: a pending write whose writer is
// gone, or the latest completed write (the CLI's "hoodie rollback"), after
// which a record-key index of the table is stale.
//
// rollback builds on table, filegroup, timeline and storage (and the Avro
// plan and log-block codecs); it never imports writer, reader, index, the
// other table services or the CLI.
package rollback
