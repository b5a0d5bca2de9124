package rollback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// ErrLiveWriter reports, in single-writer mode, a pending write whose writer
// is alive: another writer of the table. Nothing was rolled back.
var ErrLiveWriter = errors.New("rollback: pending write of a live writer")

// PendingOptions are the options of Pending.
type PendingOptions struct {
	// Optimistic: the table's writers run concurrently (optimistic
	// concurrency control), so a pending write whose writer is alive is
	// left alone, and one without a heartbeat has failed only once its
	// instant file is older than HeartbeatTimeout. Otherwise (single
	// writer) a pending write without a heartbeat has failed, and one whose
	// writer is alive fails Pending with ErrLiveWriter.
	Optimistic bool
	// HeartbeatTimeout: a pending write whose heartbeat is older has
	// failed (a heartbeat naming a process of this machine that ended
	// counts as failed at once). Default timeline.DefaultHeartbeatTimeout.
	HeartbeatTimeout time.Duration
}

// EnsureDefaults fills the zero values with defaults.
func (o *PendingOptions) EnsureDefaults() {
	if o.HeartbeatTimeout == 0 {
		o.HeartbeatTimeout = timeline.DefaultHeartbeatTimeout
	}
}

// Validate checks the options.
func (o *PendingOptions) Validate() error {
	if o.HeartbeatTimeout < 0 {
		return fmt.Errorf("rollback: negative heartbeat timeout %s", o.HeartbeatTimeout)
	}
	return nil
}

// Result is what Pending rolled back.
type Result struct {
	// RolledBack lists the failed writes rolled back, in instant order.
	RolledBack []timeline.Instant
	// InsertRolledBack: one of them was an insert or bulk insert that got as
	// far as writing data. Such a write indexes its keys before its commit
	// point, possibly over the entries of keys that were already stored,
	// so a caller keeping a record-key index rebuilds it.
	InsertRolledBack bool
}

// Pending rolls back every pending commit, deltacommit and replacecommit of
// the table whose writer is gone (the writes of crashed writers; see
// PendingOptions for how the two concurrency modes tell), after finishing
// the rollbacks a crash interrupted, and deletes heartbeat files left
// behind. A writer calls it when it opens a table: readers that do not
// check completion (hudi-rs reads every base file at or before the latest
// completed instant) must not see a failed write's files once the next
// commit completes.
//
// It reads the timeline afresh; tbl's loaded timeline and view predate the
// rollback when Result.RolledBack is not empty (Refresh it to read on).
func Pending(ctx context.Context, tbl *table.Table, opts PendingOptions) (Result, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return Result{}, err
	}
	if err := tbl.Writable(); err != nil {
		return Result{}, fmt.Errorf("rollback: %w", err)
	}
	st := tbl.Storage()
	tl, err := timeline.Load(ctx, st)
	if err != nil {
		return Result{}, fmt.Errorf("rollback: %w", err)
	}
	failed, err := failedWrites(ctx, tbl, tl, opts)
	if err != nil {
		return Result{}, err
	}
	var res Result
	for _, inst := range failed {
		if inst.State == timeline.Inflight {
			// The inflight file holds the write's profile.
			if md, err := timeline.ReadCommitMetadata(ctx, st, inst); err == nil {
				switch md.OperationType {
				case timeline.OpInsert, timeline.OpBulkInsert:
					res.InsertRolledBack = true
				}
			}
		}
	}
	finished, err := finishPendingRollbacks(ctx, tbl, tl)
	if err != nil {
		return Result{}, err
	}
	for _, inst := range failed {
		if !finished[inst.Timestamp] {
			if err := rollbackInstant(ctx, tbl, inst); err != nil {
				return res, err
			}
		}
		res.RolledBack = append(res.RolledBack, inst)
	}
	if err := timeline.PruneHeartbeats(ctx, st, opts.HeartbeatTimeout); err != nil {
		return res, fmt.Errorf("rollback: %w", err)
	}
	return res, nil
}

// failedWrites lists the pending writes of tl whose writer is gone; in
// single-writer mode, a live one is an ErrLiveWriter (checked for every
// pending write before anything is rolled back).
func failedWrites(ctx context.Context, tbl *table.Table, tl *timeline.Timeline, opts PendingOptions) ([]timeline.Instant, error) {
	var failed []timeline.Instant
	for _, inst := range tl.Pending() {
		if !tl.IsWriterInstant(inst) {
			continue
		}
		ws, err := timeline.ProbeWriter(ctx, tbl.Storage(), inst, opts.HeartbeatTimeout, !opts.Optimistic)
		if err != nil {
			return nil, fmt.Errorf("rollback: %w", err)
		}
		switch {
		case !ws.Live:
			failed = append(failed, inst)
		case !opts.Optimistic:
			return nil, fmt.Errorf("%w (%s); if it crashed, its write is rolled back once its heartbeat is %s old",
				ErrLiveWriter, ws, opts.HeartbeatTimeout)
		}
	}
	return failed, nil
}

// finishPendingRollbacks completes the rollback instants of tl a crash
// interrupted: their plans are executed again (deleting what is left) and
// completed, and the instants they roll back are withdrawn if still
// pending (so they are not rolled back a second time). It returns the
// times of those instants.
func finishPendingRollbacks(ctx context.Context, tbl *table.Table, tl *timeline.Timeline) (map[string]bool, error) {
	st := tbl.Storage()
	finished := map[string]bool{}
	for _, r := range tl.Pending() {
		if r.Action != timeline.Rollback {
			continue
		}
		b, err := timeline.ReadInstant(ctx, st, r.WithState(timeline.Requested))
		if err != nil {
			return nil, fmt.Errorf("rollback: pending rollback %s: %w", r, err)
		}
		plan := &avroplan.HoodieRollbackPlan{}
		if err := avroplan.Decode(bytes.NewReader(b), plan); err != nil {
			return nil, fmt.Errorf("rollback: pending rollback %s: %w", r, err)
		}
		if plan.InstantToRollback == nil {
			return nil, fmt.Errorf("rollback: pending rollback %s: its plan names no instant", r)
		}
		rtx, err := timeline.Resume(st, r)
		if err != nil {
			return nil, fmt.Errorf("rollback: pending rollback %s: %w", r, err)
		}
		if r.State == timeline.Requested {
			if err := rtx.Inflight(ctx, nil); err != nil {
				return nil, fmt.Errorf("rollback: pending rollback %s: %w", r, err)
			}
		}
		mdt, err := metadata.For(ctx, tbl, metadata.Options{})
		if err != nil {
			return nil, fmt.Errorf("rollback: %w", err)
		}
		if err := execute(ctx, st, mdt, rtx, plan, time.Now()); err != nil {
			return nil, err
		}
		target := plan.InstantToRollback.CommitTime
		if inst, ok := tl.Find(target); ok && inst.State != timeline.Completed {
			if err := withdraw(ctx, st, inst); err != nil {
				return nil, err
			}
		}
		finished[target] = true
	}
	return finished, nil
}
