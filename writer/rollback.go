package writer

import (
	"bytes"
	"context"
	"errors"
	"sort"
	"time"

	"fmt"
	"path"
	"strings"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/logfile"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// rollbackPending rolls back every pending commit, deltacommit and
// replacecommit whose writer is gone: the writes of crashed writers. A
// write whose writer is alive (see probeWriter) is left alone in
// optimistic mode and, in single-writer mode, refused with
// ErrConcurrentWriter before anything is rolled back. (hudi-rs reads every
// base file at or before the latest completed instant without checking
// completion, so failed files must be gone before the next commit
// completes.)
//
// It reports whether a rolled-back instant was an insert or bulk insert
// that got as far as writing data: such a write indexes its keys before
// its commit point, possibly over entries of keys that were already
// stored, so the caller rebuilds the index.
func rollbackPending(ctx context.Context, st storage.Storage, mode Concurrency, timeout time.Duration) (indexDirty bool, err error) {
	tl, err := timeline.Load(ctx, st)
	if err != nil {
		return false, err
	}
	var failed []timeline.Instant
	for _, inst := range tl.Pending() {
		if !isWriterInstant(tl, inst) {
			continue
		}
		ws, err := probeWriter(ctx, st, inst, timeout, mode == SingleWriter)
		if err != nil {
			return false, err
		}
		switch {
		case !ws.live:
			failed = append(failed, inst)
		case mode == SingleWriter:
			return false, liveWriterError(ws, timeout)
		}
	}
	if err := finishPendingRollbacks(ctx, st, tl); err != nil {
		return false, err
	}
	for _, inst := range failed {
		if inst.State == timeline.Inflight {
			if md, err := timeline.ReadCommitMetadata(ctx, st, inst); err == nil {
				switch md.OperationType {
				case timeline.OpInsert, timeline.OpBulkInsert:
					indexDirty = true
				}
			}
		}
		if err := rollbackInstant(ctx, st, inst); err != nil {
			return indexDirty, err
		}
	}
	if err := pruneHeartbeats(ctx, st, timeout); err != nil {
		return indexDirty, err
	}
	return indexDirty, nil
}

// pruneHeartbeats deletes heartbeat files left behind (a writer that could
// not delete its own): those of instants that are not pending, once they
// are older than timeout (a writer writes its heartbeat just before its
// instant appears).
func pruneHeartbeats(ctx context.Context, st storage.Storage, timeout time.Duration) error {
	var stale []string
	for obj, err := range st.List(ctx, heartbeatFolder, "/") {
		if err != nil {
			return fmt.Errorf("writer: heartbeats: %w", err)
		}
		if !obj.IsDir && time.Since(obj.ModTime) > timeout {
			stale = append(stale, obj.Path)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	tl, err := timeline.Load(ctx, st)
	if err != nil {
		return err
	}
	for _, p := range stale {
		if inst, ok := tl.Find(path.Base(p)); ok && inst.State != timeline.Completed {
			continue // its instant's fate is the rollback's business
		}
		if _, ok := activeBeats.Load(path.Base(p)); ok {
			continue
		}
		if err := st.Delete(ctx, p); err != nil && !errors.Is(err, storage.ErrNotExist) {
			return fmt.Errorf("writer: heartbeats: %w", err)
		}
	}
	return nil
}

// rollbackInstant undoes a failed instant F the way Hudi does: a rollback
// instant R whose requested file holds the HoodieRollbackPlan (F's data
// files, found through its markers — each written before its data file —
// and, as a safety net, by listing base files named with F), then the
// deletes, R.rollback with the HoodieRollbackMetadata, and finally F's
// markers and pending timeline files. A crash anywhere leaves F pending (or
// R pending with F already gone), and the next writer finishes the job.
func rollbackInstant(ctx context.Context, st storage.Storage, inst timeline.Instant) error {
	F := inst.Timestamp
	// Never roll back a completed instant (e.g. a commit whose completion
	// succeeded although the request reported an error).
	done, err := timeline.InstantPath(inst.WithState(timeline.Completed))
	if err != nil {
		return err
	}
	if ok, err := storage.Exists(ctx, st, done); err != nil || ok {
		return err
	}
	ftx, err := timeline.Resume(st, inst)
	if err != nil {
		return fmt.Errorf("writer: rollback %s: %w", inst, err)
	}
	markers, err := ftx.Markers(ctx)
	if err != nil {
		return fmt.Errorf("writer: rollback %s: %w", inst, err)
	}
	victims := map[string]bool{}
	for _, m := range markers {
		victims[m.DataPath] = true
	}
	// Base files named with F that have no marker (written by another tool).
	for obj, err := range st.List(ctx, "", "") {
		if err != nil {
			return fmt.Errorf("writer: rollback %s: %w", inst, err)
		}
		if strings.HasPrefix(obj.Path, timeline.MetaFolder+"/") {
			continue
		}
		if bf, err := table.ParseBaseFileName(path.Base(obj.Path)); err == nil && bf.InstantTime == F {
			victims[obj.Path] = true
		}
	}
	paths := make([]string, 0, len(victims))
	for p := range victims {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	// The plan: one request per file group.
	type group struct{ part, fileID string }
	reqs := map[group]*avroplan.HoodieRollbackRequest{}
	var order []group
	for _, p := range paths {
		g := group{part: pathDir(p)}
		lf, logErr := table.ParseLogFileName(path.Base(p))
		if bf, err := table.ParseBaseFileName(path.Base(p)); err == nil {
			g.fileID = bf.FileID
		} else if logErr == nil {
			g.fileID = lf.FileID
		}
		r, ok := reqs[g]
		if !ok {
			fid, empty := g.fileID, map[string]int64{}
			r = &avroplan.HoodieRollbackRequest{PartitionPath: g.part, FileID: &fid, LatestBaseInstant: &F, LogBlocksToBeDeleted: &empty}
			reqs[g] = r
			order = append(order, g)
		}
		if logErr == nil {
			// A log file F wrote: its blocks are rolled back by a command
			// block in the same slice (as Hudi does, so they stay dead even
			// once F leaves the active timeline), and the file, which holds
			// only F's blocks (hoodie never appends), is deleted.
			info, err := st.Stat(ctx, p)
			if errors.Is(err, storage.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("writer: rollback %s: %w", inst, err)
			}
			base := lf.BaseInstant
			r.LatestBaseInstant = &base
			(*r.LogBlocksToBeDeleted)[storage.FullPath(st, p)] = info.Size
		}
		r.FilesToBeDeleted = append(r.FilesToBeDeleted, storage.FullPath(st, p))
	}
	one := int32(1)
	plan := &avroplan.HoodieRollbackPlan{InstantToRollback: &avroplan.HoodieInstantInfo{CommitTime: F, Action: string(inst.Action)}, Version: &one}
	for _, g := range order {
		plan.RollbackRequests = append(plan.RollbackRequests, *reqs[g])
	}
	var pb bytes.Buffer
	if err := avroplan.Encode(&pb, plan); err != nil {
		return fmt.Errorf("writer: rollback %s: %w", inst, err)
	}
	start := time.Now()
	rtx, err := timeline.Begin(ctx, st, timeline.Rollback, pb.Bytes(), timeline.BeginOptions{})
	if err != nil {
		return fmt.Errorf("writer: rollback %s: %w", inst, err)
	}
	if err := rtx.Inflight(ctx, nil); err != nil {
		return fmt.Errorf("writer: rollback %s: %w", inst, err)
	}
	if err := executeRollback(ctx, st, rtx, plan, start); err != nil {
		return err
	}
	// F's markers, then its pending timeline files.
	if err := ftx.Abort(ctx); err != nil {
		return fmt.Errorf("writer: rollback %s: %w", inst, err)
	}
	// Its heartbeat and new keys no longer matter to other writers.
	for _, p := range []string{heartbeatFolder + F, keysPath(F)} {
		if err := st.Delete(ctx, p); err != nil && !errors.Is(err, storage.ErrNotExist) {
			return fmt.Errorf("writer: rollback %s: %w", inst, err)
		}
	}
	return nil
}

// executeRollback deletes the files of a rollback plan, completes the
// rollback instant of rtx with Hudi's HoodieRollbackMetadata and deletes
// its markers (those of its rollback command blocks).
func executeRollback(ctx context.Context, st storage.Storage, rtx *timeline.Txn, plan *avroplan.HoodieRollbackPlan, start time.Time) error {
	parts := map[string]*avroplan.HoodieRollbackPartitionMetadata{}
	total := int32(0)
	for _, req := range plan.RollbackRequests {
		pm := parts[req.PartitionPath]
		if pm == nil {
			empty1, empty2 := map[string]int64{}, map[string]int64{}
			pm = &avroplan.HoodieRollbackPartitionMetadata{PartitionPath: req.PartitionPath, SuccessDeleteFiles: []string{}, FailedDeleteFiles: []string{},
				RollbackLogFiles: &empty1, LogFilesFromFailedCommit: &empty2}
			parts[req.PartitionPath] = pm
		}
		if req.LogBlocksToBeDeleted != nil && len(*req.LogBlocksToBeDeleted) > 0 {
			p, size, err := writeRollbackBlock(ctx, st, rtx, plan.InstantToRollback.CommitTime, req)
			if err != nil {
				return fmt.Errorf("writer: rollback: %w", err)
			}
			(*pm.RollbackLogFiles)[storage.FullPath(st, p)] = size
			for lp, sz := range *req.LogBlocksToBeDeleted {
				(*pm.LogFilesFromFailedCommit)[lp] = sz
			}
		}
		for _, full := range req.FilesToBeDeleted {
			key, ok := storage.KeyOf(st, full)
			if !ok {
				pm.FailedDeleteFiles = append(pm.FailedDeleteFiles, full)
				continue
			}
			if err := st.Delete(ctx, key); err != nil {
				return fmt.Errorf("writer: rollback: %w", err)
			}
			pm.SuccessDeleteFiles = append(pm.SuccessDeleteFiles, full)
			total++
		}
	}
	target := plan.InstantToRollback
	one := int32(1)
	md := &avroplan.HoodieRollbackMetadata{
		StartRollbackTime: rtx.InstantTime(),
		TimeTakenInMillis: time.Since(start).Milliseconds(),
		TotalFilesDeleted: total,
		CommitsRollback:   []string{target.CommitTime},
		PartitionMetadata: map[string]avroplan.HoodieRollbackPartitionMetadata{},
		Version:           &one,
		InstantsRollback:  []avroplan.HoodieInstantInfo{*target},
	}
	for p, pm := range parts {
		md.PartitionMetadata[p] = *pm
	}
	var mb bytes.Buffer
	if err := avroplan.Encode(&mb, md); err != nil {
		return fmt.Errorf("writer: rollback: %w", err)
	}
	if err := rtx.Complete(ctx, mb.Bytes()); err != nil {
		return fmt.Errorf("writer: rollback: %w", err)
	}
	if err := rtx.Finish(ctx); err != nil {
		return fmt.Errorf("writer: rollback: %w", err)
	}
	return nil
}

// finishPendingRollbacks completes rollback instants a crash interrupted:
// their plans are executed again (deleting what is left) and completed.
func finishPendingRollbacks(ctx context.Context, st storage.Storage, tl *timeline.Timeline) error {
	for _, r := range tl.Pending() {
		if r.Action != timeline.Rollback {
			continue
		}
		req := r
		req.State = timeline.Requested
		b, err := timeline.ReadInstant(ctx, st, req)
		if err != nil {
			return fmt.Errorf("writer: pending rollback %s: %w", r, err)
		}
		plan := &avroplan.HoodieRollbackPlan{}
		if err := avroplan.Decode(bytes.NewReader(b), plan); err != nil {
			return fmt.Errorf("writer: pending rollback %s: %w", r, err)
		}
		rtx, err := timeline.Resume(st, r)
		if err != nil {
			return fmt.Errorf("writer: pending rollback %s: %w", r, err)
		}
		if r.State == timeline.Requested {
			if err := rtx.Inflight(ctx, nil); err != nil {
				return fmt.Errorf("writer: pending rollback %s: %w", r, err)
			}
		}
		if err := executeRollback(ctx, st, rtx, plan, time.Now()); err != nil {
			return err
		}
	}
	return nil
}

// writeRollbackBlock adds a log file holding a rollback command block (by
// the rollback instant of rtx, targeting F) to the slice of the request's
// log files (filegroup.AppendLog: the next free version, a marker of the
// rollback instant), with write token 1-0-1 as Hudi's rollback writes it.
func writeRollbackBlock(ctx context.Context, st storage.Storage, rtx *timeline.Txn, F string, req avroplan.HoodieRollbackRequest) (string, int64, error) {
	var base string
	for lp := range *req.LogBlocksToBeDeleted {
		if key, ok := storage.KeyOf(st, lp); ok {
			if lf, err := filegroup.ParseLogFileName(path.Base(key)); err == nil {
				base = lf.BaseInstant
				break
			}
		}
	}
	id := filegroup.FileGroupID{PartitionPath: req.PartitionPath}
	if req.FileID != nil {
		id.FileID = *req.FileID
	}
	taken, err := filegroup.LogVersions(ctx, st, id, base)
	if err != nil {
		return "", 0, err
	}
	var buf bytes.Buffer
	if _, err := logfile.WriteBlock(&buf, logfile.NewRollbackBlock(rtx.InstantTime(), F)); err != nil {
		return "", 0, err
	}
	a := filegroup.LogAppend{FileGroupID: id, BaseInstant: base, WriteToken: filegroup.WriteToken{TaskPartitionID: 1, StageID: 0, TaskAttemptID: 1}, Taken: taken}
	f, err := filegroup.AppendLog(ctx, st, rtx, a, buf.Bytes())
	if err != nil {
		return "", 0, err
	}
	return f.Path, f.Size, nil
}

// ErrRollbackRefused reports an instant Rollback will not roll back.
var ErrRollbackRefused = errors.New("writer: rollback refused")

// Rollback rolls back instant ts of the table: a pending write (as Open
// does for crashed writers), or the latest completed commit or deltacommit,
// Hudi-style: a rollback instant with its plan and metadata, the instant's
// base files deleted and its log blocks rolled back by command blocks.
// Rolling back a completed instant restores the table to the previous
// instant; the caller must rebuild its record index afterwards (the CLI
// removes the default index directory). Compactions, cleans and instants
// with later completed writes are refused.
func Rollback(ctx context.Context, tbl *table.Table, ts string) error {
	st := tbl.Storage()
	tl, err := timeline.Load(ctx, st)
	if err != nil {
		return err
	}
	inst, ok := tl.Find(ts)
	if !ok {
		return fmt.Errorf("%w: no instant %s on the active timeline", ErrRollbackRefused, ts)
	}
	if tl.IsCompaction(ts) {
		return fmt.Errorf("%w: %s is a compaction (re-run it with compact --run-only instead)", ErrRollbackRefused, ts)
	}
	switch inst.Action {
	case timeline.Commit, timeline.DeltaCommit, timeline.ReplaceCommit:
	default:
		return fmt.Errorf("%w: %s is a %s, not a write", ErrRollbackRefused, ts, inst.Action)
	}
	if inst.State != timeline.Completed {
		ws, err := probeWriter(ctx, st, inst, DefaultHeartbeatTimeout, true)
		if err != nil {
			return err
		}
		if ws.live {
			return fmt.Errorf("%w: %s is being written by a live writer (%s): stop it first (its instant counts as failed once its heartbeat is %s old)",
				ErrRollbackRefused, ts, ws.describe(), DefaultHeartbeatTimeout)
		}
	}
	if err := finishPendingRollbacks(ctx, st, tl); err != nil {
		return err
	}
	if inst.State != timeline.Completed {
		return rollbackInstant(ctx, st, inst)
	}
	for _, later := range tl.Instants() {
		if later.Timestamp <= ts {
			continue
		}
		if later.IsWriteAction() || tl.IsCompaction(later.Timestamp) {
			return fmt.Errorf("%w: %s is not the latest write (%s came after it)", ErrRollbackRefused, ts, later)
		}
	}
	md, err := timeline.ReadCommitMetadata(ctx, st, inst)
	if err != nil {
		return err
	}
	// Markers for every file the instant wrote, so the rollback finds them
	// (and a crash after the completed file is gone is finished by the next
	// writer's Open like any failed write).
	tx, err := timeline.Resume(st, inst)
	if err != nil {
		return fmt.Errorf("writer: rollback %s: %w", ts, err)
	}
	for _, s := range md.Stats() {
		var names []string
		if s.IsLog() {
			names = s.LogFiles
			if len(names) == 0 && s.Path != "" {
				names = []string{path.Base(s.Path)}
			}
		} else if s.Path != "" {
			names = []string{path.Base(s.Path)}
		}
		for _, n := range names {
			kind := timeline.MarkerCreate
			if s.IsLog() {
				kind = timeline.MarkerAppend
			}
			if err := tx.Marker(ctx, filegroup.DataPath(s.PartitionPath, n), kind); err != nil {
				return fmt.Errorf("writer: rollback %s: %w", ts, err)
			}
		}
	}
	if err := tx.RevertToInflight(ctx); err != nil {
		return fmt.Errorf("writer: rollback %s: %w", ts, err)
	}
	return rollbackInstant(ctx, st, tx.Instant())
}
