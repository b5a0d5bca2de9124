package rollback

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// ErrRefused reports an instant Instant will not roll back.
var ErrRefused = errors.New("rollback: refused")

// Failed rolls back pending write instant inst, which the caller knows to
// have failed: a writer's own commit that did not reach its commit point
// (its heartbeat may still run; no heartbeat is consulted). A completed
// instant is left alone. If Failed fails too, the instant stays pending
// and the next Pending rolls it back.
func Failed(ctx context.Context, tbl *table.Table, inst timeline.Instant) error {
	if err := tbl.Writable(); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	return rollbackInstant(ctx, tbl, inst)
}

// Instant rolls back instant ts of the table: a pending write whose writer
// is gone (as Pending does for crashed writers; a live writer is refused,
// ErrRefused wrapping ErrLiveWriter, until its heartbeat is
// timeline.DefaultHeartbeatTimeout old), or the latest completed commit,
// deltacommit or replacecommit. Rolling back a completed instant restores
// the table to the previous instant: markers are written for every file
// its commit metadata names, its completed file is removed
// (timeline.Txn.RevertToInflight), and it is rolled back like a failed
// write. A record-key index of the table is stale afterwards (the CLI
// removes the default index directory), as are tbl's loaded timeline and
// view (Refresh it to read on). Compactions, cleans and other table
// services, and writes followed by a later completed write or compaction,
// are refused with ErrRefused.
func Instant(ctx context.Context, tbl *table.Table, ts string) error {
	if err := tbl.Writable(); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	st := tbl.Storage()
	tl, err := timeline.Load(ctx, st)
	if err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	inst, err := target(ctx, tbl, tl, ts)
	if err != nil {
		return err
	}
	finished, err := finishPendingRollbacks(ctx, tbl, tl)
	if err != nil {
		return err
	}
	if finished[ts] && inst.State != timeline.Completed {
		return nil // an interrupted rollback of it was just finished
	}
	if inst.State != timeline.Completed {
		return rollbackInstant(ctx, tbl, inst)
	}
	inst, err = revertCompleted(ctx, tbl, inst)
	if err != nil {
		return err
	}
	return rollbackInstant(ctx, tbl, inst)
}

// target finds instant ts on tl and checks that Instant may roll it back.
func target(ctx context.Context, tbl *table.Table, tl *timeline.Timeline, ts string) (timeline.Instant, error) {
	inst, ok := tl.Find(ts)
	if !ok {
		return inst, fmt.Errorf("%w: no instant %s on the active timeline", ErrRefused, ts)
	}
	if tl.IsCompaction(ts) {
		return inst, fmt.Errorf("%w: %s is a compaction (re-run it with compact --run-only instead)", ErrRefused, ts)
	}
	switch inst.Action {
	case timeline.Commit, timeline.DeltaCommit, timeline.ReplaceCommit:
	default:
		return inst, fmt.Errorf("%w: %s is a %s, not a write", ErrRefused, ts, inst.Action)
	}
	if inst.State != timeline.Completed {
		timeout := timeline.DefaultHeartbeatTimeout
		ws, err := timeline.ProbeWriter(ctx, tbl.Storage(), inst, timeout, true)
		if err != nil {
			return inst, fmt.Errorf("rollback: %w", err)
		}
		if ws.Live {
			return inst, fmt.Errorf("%w: %w (%s): stop it first (its instant counts as failed once its heartbeat is %s old)",
				ErrRefused, ErrLiveWriter, ws, timeout)
		}
		return inst, nil
	}
	for _, later := range tl.Instants() {
		if later.Timestamp <= ts {
			continue
		}
		if later.IsWriteAction() || tl.IsCompaction(later.Timestamp) {
			return inst, fmt.Errorf("%w: %s is not the latest write (%s came after it)", ErrRefused, ts, later)
		}
	}
	return inst, nil
}

// revertCompleted turns completed write inst back into an inflight one that
// rollbackInstant can roll back: a marker for every file its commit
// metadata names (so the rollback finds them), then its completed file
// removed. A crash after that leaves an inflight write whose writer is
// gone, which the next Pending rolls back like any failed write. It
// returns the inflight instant.
func revertCompleted(ctx context.Context, tbl *table.Table, inst timeline.Instant) (timeline.Instant, error) {
	st := tbl.Storage()
	md, err := timeline.ReadCommitMetadata(ctx, st, inst)
	if err != nil {
		return inst, fmt.Errorf("rollback: %s: %w", inst, err)
	}
	tx, err := timeline.Resume(st, inst)
	if err != nil {
		return inst, fmt.Errorf("rollback: %s: %w", inst, err)
	}
	for _, s := range md.Stats() {
		var names []string
		kind := timeline.MarkerCreate
		if s.IsLog() {
			kind = timeline.MarkerAppend
			names = s.LogFiles
		}
		if len(names) == 0 && s.Path != "" {
			names = []string{path.Base(s.Path)}
		}
		for _, n := range names {
			if err := tx.Marker(ctx, filegroup.DataPath(s.PartitionPath, n), kind); err != nil {
				return inst, fmt.Errorf("rollback: %s: %w", inst, err)
			}
		}
	}
	if err := tx.RevertToInflight(ctx); err != nil {
		return inst, fmt.Errorf("rollback: %s: %w", inst, err)
	}
	return tx.Instant(), nil
}
