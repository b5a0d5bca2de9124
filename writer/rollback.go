package writer

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/hoodie-lake/hoodie/internal/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// rollbackPending rolls back every pending commit, deltacommit and
// replacecommit: the writes of crashed writers. hoodie tables have one
// writer at a time, so a pending write instant at Open is always a failed
// one. (hudi-rs reads every base file at or before the latest completed
// instant without checking completion, so failed files must be gone before
// the next commit completes.)
//
// It reports whether a rolled-back instant was an insert or bulk insert
// that got as far as writing data: such a write indexes its keys before
// its commit point, possibly over entries of keys that were already
// stored, so the caller rebuilds the index.
func rollbackPending(ctx context.Context, st storage.Storage) (indexDirty bool, err error) {
	tl, err := timeline.Load(ctx, st)
	if err != nil {
		return false, err
	}
	for _, inst := range tl.Pending() {
		switch inst.Action {
		case timeline.Commit, timeline.DeltaCommit, timeline.ReplaceCommit:
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
	}
	return indexDirty, nil
}

// rollbackInstant deletes the data files a failed instant wrote, found
// through its markers (each written before its data file) and, as a
// safety net, by listing base files named with the instant, then its
// markers and its pending timeline files.
func rollbackInstant(ctx context.Context, st storage.Storage, inst timeline.Instant) error {
	T := inst.Timestamp
	// Never roll back a completed instant (e.g. a commit whose completion
	// succeeded although the request reported an error).
	done, err := timeline.InstantPath(inst.WithState(timeline.Completed))
	if err != nil {
		return err
	}
	if ok, err := storage.Exists(ctx, st, done); err != nil || ok {
		return err
	}
	markerDir := timeline.MetaFolder + "/.temp/" + T + "/"
	var markers []string
	for obj, err := range st.List(ctx, markerDir, "") {
		if err != nil {
			return fmt.Errorf("writer: rollback %s: %w", inst, err)
		}
		markers = append(markers, obj.Path)
	}
	victims := map[string]bool{}
	for _, m := range markers {
		rel := strings.TrimPrefix(m, markerDir)
		if i := strings.LastIndex(rel, ".marker."); i > 0 {
			victims[rel[:i]] = true
		}
	}
	// Base files named with T that have no marker (written by another tool).
	for obj, err := range st.List(ctx, "", "") {
		if err != nil {
			return fmt.Errorf("writer: rollback %s: %w", inst, err)
		}
		if strings.HasPrefix(obj.Path, timeline.MetaFolder+"/") {
			continue
		}
		if bf, err := table.ParseBaseFileName(path.Base(obj.Path)); err == nil && bf.InstantTime == T {
			victims[obj.Path] = true
		}
	}
	for p := range victims {
		if err := st.Delete(ctx, p); err != nil {
			return fmt.Errorf("writer: rollback %s: %w", inst, err)
		}
	}
	for _, m := range markers {
		if err := st.Delete(ctx, m); err != nil {
			return fmt.Errorf("writer: rollback %s: %w", inst, err)
		}
	}
	if err := timeline.DeletePending(ctx, st, inst); err != nil {
		return fmt.Errorf("writer: rollback %s: %w", inst, err)
	}
	return nil
}

// deleteMarkers removes .hoodie/.temp/T after T completed, as Hudi does.
func deleteMarkers(ctx context.Context, st storage.Storage, instant string) error {
	dir := timeline.MetaFolder + "/.temp/" + instant + "/"
	var keys []string
	for obj, err := range st.List(ctx, dir, "") {
		if err != nil {
			return fmt.Errorf("writer: delete markers of %s: %w", instant, err)
		}
		keys = append(keys, obj.Path)
	}
	for _, k := range keys {
		if err := st.Delete(ctx, k); err != nil {
			return fmt.Errorf("writer: delete markers of %s: %w", instant, err)
		}
	}
	return nil
}
