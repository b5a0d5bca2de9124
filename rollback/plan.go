package rollback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// rollbackInstant undoes failed instant inst (see the package doc): a
// rollback instant R whose requested file holds the plan, its execution,
// then inst withdrawn through its Txn and its heartbeat and recorded new
// keys deleted. A completed instant is left alone (e.g. a commit whose
// completion succeeded although the request reported an error).
func rollbackInstant(ctx context.Context, tbl *table.Table, inst timeline.Instant) error {
	st := tbl.Storage()
	done, err := timeline.InstantPath(inst.WithState(timeline.Completed))
	if err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	if ok, err := storage.Exists(ctx, st, done); err != nil || ok {
		return err
	}
	ftx, err := timeline.Resume(st, inst)
	if err != nil {
		return fmt.Errorf("rollback: %s: %w", inst, err)
	}
	paths, err := writtenFiles(ctx, st, ftx)
	if err != nil {
		return fmt.Errorf("rollback: %s: %w", inst, err)
	}
	plan, err := buildPlan(ctx, st, inst, paths)
	if err != nil {
		return fmt.Errorf("rollback: %s: %w", inst, err)
	}
	var pb bytes.Buffer
	if err := avroplan.Encode(&pb, plan); err != nil {
		return fmt.Errorf("rollback: %s: %w", inst, err)
	}
	start := time.Now()
	rtx, err := timeline.Begin(ctx, st, timeline.Rollback, pb.Bytes(), timeline.BeginOptions{})
	if err != nil {
		return fmt.Errorf("rollback: %s: %w", inst, err)
	}
	if err := rtx.Inflight(ctx, nil); err != nil {
		return fmt.Errorf("rollback: %s: %w", inst, err)
	}
	mdt, err := metadata.For(ctx, tbl, metadata.Options{})
	if err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	if err := execute(ctx, st, mdt, rtx, plan, start); err != nil {
		return err
	}
	return withdraw(ctx, st, inst)
}

// withdraw removes failed instant inst once its rollback completed: its
// markers, then its pending timeline files (timeline.Txn.Abort), then its
// heartbeat and recorded new keys, which no longer matter to other
// writers.
func withdraw(ctx context.Context, st storage.Storage, inst timeline.Instant) error {
	ftx, err := timeline.Resume(st, inst)
	if err != nil {
		return fmt.Errorf("rollback: %s: %w", inst, err)
	}
	if err := ftx.Abort(ctx); err != nil {
		return fmt.Errorf("rollback: %s: %w", inst, err)
	}
	for _, p := range []string{timeline.HeartbeatPath(inst.Timestamp), timeline.CommitKeysPath(inst.Timestamp)} {
		if err := st.Delete(ctx, p); err != nil && !errors.Is(err, storage.ErrNotExist) {
			return fmt.Errorf("rollback: %s: %w", inst, err)
		}
	}
	return nil
}

// writtenFiles lists, sorted, the data files the instant of ftx wrote: those
// its markers name (each marker is written before its data file) and, as a
// safety net, base files named with its instant time that have no marker
// (written by another tool).
func writtenFiles(ctx context.Context, st storage.Storage, ftx *timeline.Txn) ([]string, error) {
	markers, err := ftx.Markers(ctx)
	if err != nil {
		return nil, err
	}
	victims := map[string]bool{}
	for _, m := range markers {
		victims[m.DataPath] = true
	}
	for obj, err := range st.List(ctx, "", "") {
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(obj.Path, timeline.MetaFolder+"/") {
			continue
		}
		if bf, err := filegroup.ParseBaseFileName(path.Base(obj.Path)); err == nil && bf.InstantTime == ftx.InstantTime() {
			victims[obj.Path] = true
		}
	}
	paths := make([]string, 0, len(victims))
	for p := range victims {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths, nil
}

// sliceKey names the file-group slice a data file belongs to: one request
// of a rollback plan each.
type sliceKey struct{ part, fileID, base string }

// buildPlan is the HoodieRollbackPlan of failed instant inst, whose data
// files are paths: one request per file-group slice they sit in, in the
// order of paths. A base file inst wrote starts its own slice (base
// instant inst). A log file it wrote joins the slice of its base instant;
// its request lists it in LogBlocksToBeDeleted, so execution writes a
// rollback command block into that slice, and in FilesToBeDeleted (it
// holds only inst's blocks: hoodie never appends to a log file). Keying
// requests by slice, not by file group, gives every slice that holds a
// log of inst its own command block (a writer's log and a compaction's
// carry-over copy in the next slice each get one) and makes the plan a
// function of paths alone. Log files that are gone already are left out.
func buildPlan(ctx context.Context, st storage.Storage, inst timeline.Instant, paths []string) (*avroplan.HoodieRollbackPlan, error) {
	F := inst.Timestamp
	reqs := map[sliceKey]*avroplan.HoodieRollbackRequest{}
	var order []sliceKey
	for _, p := range paths {
		k := sliceKey{part: partitionOf(p), base: F}
		var size int64
		lf, logErr := filegroup.ParseLogFileName(path.Base(p))
		if bf, err := filegroup.ParseBaseFileName(path.Base(p)); err == nil {
			k.fileID = bf.FileID
		} else if logErr == nil {
			k.fileID, k.base = lf.FileID, lf.BaseInstant
			info, err := st.Stat(ctx, p)
			if errors.Is(err, storage.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			size = info.Size
		}
		r, ok := reqs[k]
		if !ok {
			fid, base, empty := k.fileID, k.base, map[string]int64{}
			r = &avroplan.HoodieRollbackRequest{PartitionPath: k.part, FileID: &fid, LatestBaseInstant: &base, LogBlocksToBeDeleted: &empty}
			reqs[k] = r
			order = append(order, k)
		}
		if logErr == nil {
			(*r.LogBlocksToBeDeleted)[storage.FullPath(st, p)] = size
		}
		r.FilesToBeDeleted = append(r.FilesToBeDeleted, storage.FullPath(st, p))
	}
	one := int32(1)
	plan := &avroplan.HoodieRollbackPlan{InstantToRollback: &avroplan.HoodieInstantInfo{CommitTime: F, Action: string(inst.Action)}, Version: &one}
	for _, k := range order {
		plan.RollbackRequests = append(plan.RollbackRequests, *reqs[k])
	}
	return plan, nil
}

// partitionOf is the partition path of a data file key ("" at the base).
func partitionOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}
