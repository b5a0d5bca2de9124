package rollback

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"sort"
	"time"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// execute carries out a rollback plan for the inflight rollback instant of
// rtx: each request's rollback command blocks and deletes, then the
// instant's completion with Hudi's HoodieRollbackMetadata and the deletion
// of its markers (those of its command blocks). Executing a plan again
// after a crash deletes what is left (deleting a missing file is no error)
// and writes its command blocks again, which is harmless: a second block
// rolls back the same instant.
func execute(ctx context.Context, st storage.Storage, mdt *metadata.Table, rtx *timeline.Txn, plan *avroplan.HoodieRollbackPlan, start time.Time) error {
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
		n, err := executeRequest(ctx, st, rtx, plan.InstantToRollback.CommitTime, req, pm)
		if err != nil {
			return fmt.Errorf("rollback: %w", err)
		}
		total += n
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
		return fmt.Errorf("rollback: %w", err)
	}
	// Hudi's metadata table: a deltacommit at the rollback's time, then
	// the rolled-back instant's own metadata deltacommit removed.
	if mdt != nil {
		if err := mdt.Rollback(ctx, rtx.InstantTime(), md); err != nil {
			return fmt.Errorf("rollback: %s: %w", rtx.InstantTime(), err)
		}
	}
	if err := rtx.Complete(ctx, mb.Bytes()); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	if err := rtx.Finish(ctx); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// executeRequest carries out one request of a plan rolling back instant F:
// rollback command blocks for its log files, then its deletes, recorded in
// the partition's metadata pm. It returns the number of files deleted.
func executeRequest(ctx context.Context, st storage.Storage, rtx *timeline.Txn, F string, req avroplan.HoodieRollbackRequest, pm *avroplan.HoodieRollbackPartitionMetadata) (int32, error) {
	if req.LogBlocksToBeDeleted != nil && len(*req.LogBlocksToBeDeleted) > 0 {
		written, err := writeRollbackBlocks(ctx, st, rtx, F, req)
		if err != nil {
			return 0, err
		}
		for _, f := range written {
			(*pm.RollbackLogFiles)[storage.FullPath(st, f.Path)] = f.Size
		}
		for lp, sz := range *req.LogBlocksToBeDeleted {
			(*pm.LogFilesFromFailedCommit)[lp] = sz
		}
	}
	var n int32
	for _, full := range req.FilesToBeDeleted {
		key, ok := storage.KeyOf(st, full)
		if !ok {
			pm.FailedDeleteFiles = append(pm.FailedDeleteFiles, full)
			continue
		}
		if err := st.Delete(ctx, key); err != nil {
			return n, err
		}
		pm.SuccessDeleteFiles = append(pm.SuccessDeleteFiles, full)
		n++
	}
	return n, nil
}

// writeRollbackBlocks adds, to every slice holding log files of the
// request's LogBlocksToBeDeleted, a log file with a rollback command block
// (by the rollback instant of rtx, targeting F): filegroup.AppendLog, so
// the next free version of the slice and a marker of the rollback instant,
// with write token 1-0-1 as Hudi's rollback writes it. hoodie's plans hold
// one slice per request (buildPlan); a plan another engine wrote, or an
// older hoodie, may list logs of two slices of the group in one request,
// and then each slice gets its block, in base-instant order. Log files
// whose names cannot be read join the request's LatestBaseInstant slice.
func writeRollbackBlocks(ctx context.Context, st storage.Storage, rtx *timeline.Txn, F string, req avroplan.HoodieRollbackRequest) ([]filegroup.LogFileInfo, error) {
	id := filegroup.FileGroupID{PartitionPath: req.PartitionPath}
	if req.FileID != nil {
		id.FileID = *req.FileID
	}
	bases := map[string]bool{}
	for lp := range *req.LogBlocksToBeDeleted {
		if key, ok := storage.KeyOf(st, lp); ok {
			if lf, err := filegroup.ParseLogFileName(path.Base(key)); err == nil {
				bases[lf.BaseInstant] = true
				continue
			}
		}
		if req.LatestBaseInstant != nil {
			bases[*req.LatestBaseInstant] = true
		}
	}
	order := make([]string, 0, len(bases))
	for b := range bases {
		order = append(order, b)
	}
	sort.Strings(order)
	var buf bytes.Buffer
	if _, err := logfile.WriteBlock(&buf, logfile.NewRollbackBlock(rtx.InstantTime(), F)); err != nil {
		return nil, err
	}
	var out []filegroup.LogFileInfo
	for _, base := range order {
		taken, err := filegroup.LogVersions(ctx, st, id, base)
		if err != nil {
			return nil, err
		}
		a := filegroup.LogAppend{FileGroupID: id, BaseInstant: base, WriteToken: filegroup.WriteToken{TaskPartitionID: 1, StageID: 0, TaskAttemptID: 1}, Taken: taken}
		f, err := filegroup.AppendLog(ctx, st, rtx, a, buf.Bytes())
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}
