package compactor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sort"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// carryOver copies every log file of the operation's old slice that the plan
// does not list (a writer added it after the plan was made) into the new
// slice of the execution's instant T, and returns how many it copied. Each
// copy is appended through filegroup.AppendLog with the marker of its owner
// (see carryOwner), after the versions T's slice already has.
func (ex *execution) carryOver(ctx context.Context, op avroplan.HoodieCompactionOperation) (int, error) {
	T := ex.tx.InstantTime()
	id := filegroup.FileGroupID{PartitionPath: deref(op.PartitionPath), FileID: deref(op.FileID)}
	stale, taken, err := lateLogs(ctx, ex.st, id, op, T)
	if err != nil || len(stale) == 0 {
		return 0, err
	}
	// Whose pending instant each copy belongs to is read from a timeline
	// loaded after the listing.
	if err := ex.tbl.Refresh(ctx); err != nil {
		return 0, err
	}
	tl, err := ex.tbl.Timeline(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range stale {
		copied, err := ex.carryLog(ctx, tl, l, filegroup.LogAppend{FileGroupID: id, BaseInstant: T, WriteToken: l.WriteToken, Taken: taken})
		if err != nil {
			return n, fmt.Errorf("compactor: carry over %s: %w", l.Path, err)
		}
		if copied {
			n++
		}
	}
	return n, nil
}

// lateLogs lists file group id's log files (one delimited LIST) and returns
// those of the operation's old slice that the plan does not list, in log
// order, and the versions taken in T's slice.
func lateLogs(ctx context.Context, st storage.Storage, id filegroup.FileGroupID, op avroplan.HoodieCompactionOperation, T string) (
	[]filegroup.LogFileInfo, map[int]bool, error) {
	base := deref(op.BaseInstantTime)
	planned := map[string]bool{}
	for _, d := range op.DeltaFilePaths {
		planned[path.Base(d)] = true
	}
	var stale []filegroup.LogFileInfo
	taken := map[int]bool{}
	for obj, err := range st.List(ctx, filegroup.DataPath(id.PartitionPath, "."+id.FileID+"_"), "/") {
		if err != nil {
			return nil, nil, fmt.Errorf("compactor: %w", err)
		}
		name := path.Base(obj.Path)
		lf, err := filegroup.ParseLogFileName(name)
		if err != nil || lf.FileID != id.FileID || lf.CDC {
			continue
		}
		switch lf.BaseInstant {
		case base:
			if !planned[name] {
				stale = append(stale, filegroup.LogFileInfo{DataFile: filegroup.DataFile{Path: obj.Path, Name: name, Size: obj.Size}, LogFile: lf})
			}
		case T:
			taken[lf.Version] = true
		}
	}
	sort.Slice(stale, func(a, b int) bool { return filegroup.CompareLogFiles(stale[a].LogFile, stale[b].LogFile) < 0 })
	return stale, taken, nil
}

// carryLog copies log file l into T's slice as a; it reports false for a
// file that is gone (its writer moved it, or its rollback removed it) or
// whose writer was rolled back since the listing.
func (ex *execution) carryLog(ctx context.Context, tl *timeline.Timeline, l filegroup.LogFileInfo, a filegroup.LogAppend) (bool, error) {
	data, err := storage.ReadFile(ctx, ex.st, l.Path)
	if errors.Is(err, storage.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	owner, err := carryOwner(ex.st, ex.tx, tl, data)
	if err != nil || owner == nil {
		return false, err // nil owner: nothing of the rolled-back write is ever visible
	}
	if _, err := filegroup.AppendLog(ctx, ex.st, owner, a, data); err != nil {
		return false, err
	}
	return true, nil
}

// carryOwner is the Txn whose marker the carried-over copy of a log file
// (content data) gets: that of the instant that wrote it (its first block's
// INSTANT_TIME) while the instant is pending, resumed from tl, so the
// instant's rollback removes the copy too; else (completed, archived, or a
// header that does not say) the compaction's own tx. It is nil for a log
// whose instant is neither visible nor on tl: a write rolled back since the
// listing.
func carryOwner(st storage.Storage, tx *timeline.Txn, tl *timeline.Timeline, data []byte) (*timeline.Txn, error) {
	_, h, err := logfile.ReadFirstHeader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return tx, nil
	}
	w := h.Value(logfile.InstantTime)
	if w == "" {
		return tx, nil
	}
	inst, ok := tl.Find(w)
	switch {
	case ok && inst.State != timeline.Completed:
		return timeline.Resume(st, inst)
	case ok || tl.Visible("")(w):
		return tx, nil
	}
	return nil, nil
}
