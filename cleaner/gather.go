package cleaner

import (
	"bytes"
	"context"
	"fmt"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// cleanInputs is everything a clean plan is computed from: what gatherClean
// reads from storage, so that planClean does no I/O.
type cleanInputs struct {
	// tl is the active timeline the view was built against.
	tl *timeline.Timeline
	// groups are the file groups of the view as of the latest commit, each
	// with its visible slices oldest first.
	groups []*filegroup.FileGroup
	// hidden are the data files the view hides (of pending or rolled-back
	// instants, of replaced file groups).
	hidden []filegroup.DataFile
	// compactions are the plans of the pending compactions.
	compactions []pendingCompaction
	// savepoints are the metadata of the completed savepoints.
	savepoints []*avroplan.HoodieSavepointMetadata
	// replaced maps each file group a completed replacecommit replaced to
	// the earliest such replacecommit's time. gatherClean reads only the
	// replacecommits before the earliest commit to retain.
	replaced map[filegroup.FileGroupID]string
	// fullPath turns a key relative to the table base into the full path
	// a plan names (storage.FullPath).
	fullPath func(key string) string
}

// pendingCompaction is a requested or inflight compaction and its plan.
type pendingCompaction struct {
	instant string
	plan    *avroplan.HoodieCompactionPlan
}

// gatherClean reads the inputs of a clean plan through the table handle:
// its timeline (as last refreshed), the file-system view, the pending
// compaction plans, the savepoints and the file groups replaced before the
// earliest commit to retain. It returns nil, without listing the table, when
// the timeline alone shows there is nothing to clean.
func gatherClean(ctx context.Context, tbl *table.Table, opts Options) (*cleanInputs, error) {
	tl, err := tbl.Timeline(ctx)
	if err != nil {
		return nil, fmt.Errorf("cleaner: %w", err)
	}
	if _, ok := earliestCommitToRetain(tl, opts); !ok {
		return nil, nil
	}
	view, err := tbl.View(ctx)
	if err != nil {
		return nil, fmt.Errorf("cleaner: plan: %w", err)
	}
	st := tbl.Storage()
	in := &cleanInputs{
		tl:       view.Timeline(), // the same tl unless the handle was refreshed meanwhile
		groups:   view.FileGroups(),
		hidden:   view.Hidden,
		replaced: map[filegroup.FileGroupID]string{},
		fullPath: func(key string) string { return storage.FullPath(st, key) },
	}
	ectr, ok := earliestCommitToRetain(in.tl, opts)
	if !ok {
		return nil, nil
	}
	if err := in.readCompactions(ctx, st); err != nil {
		return nil, err
	}
	if err := in.readSavepoints(ctx, st); err != nil {
		return nil, err
	}
	if err := in.readReplaced(ctx, st, ectr); err != nil {
		return nil, err
	}
	return in, nil
}

// readCompactions reads the plans of the pending compactions.
func (in *cleanInputs) readCompactions(ctx context.Context, st storage.Storage) error {
	for _, inst := range in.tl.PendingCompactions() {
		plan, err := filegroup.ReadCompactionPlan(ctx, st, inst.Timestamp)
		if err != nil {
			return fmt.Errorf("cleaner: %w", err)
		}
		in.compactions = append(in.compactions, pendingCompaction{instant: inst.Timestamp, plan: plan})
	}
	return nil
}

// readSavepoints reads the metadata of the completed savepoints.
func (in *cleanInputs) readSavepoints(ctx context.Context, st storage.Storage) error {
	for _, inst := range in.tl.Completed() {
		if inst.Action != timeline.Savepoint {
			continue
		}
		b, err := timeline.ReadInstant(ctx, st, inst)
		if err != nil {
			return fmt.Errorf("cleaner: %w", err)
		}
		md := &avroplan.HoodieSavepointMetadata{}
		if err := avroplan.Decode(bytes.NewReader(b), md); err != nil {
			return fmt.Errorf("cleaner: savepoint %s: %w", inst.Timestamp, err)
		}
		in.savepoints = append(in.savepoints, md)
	}
	return nil
}

// readReplaced reads the file groups replaced by the completed
// replacecommits before ectr (every replacecommit when ectr is nil).
func (in *cleanInputs) readReplaced(ctx context.Context, st storage.Storage, ectr *timeline.Instant) error {
	for _, inst := range in.tl.CompletedCommits() {
		if inst.Action != timeline.ReplaceCommit || (ectr != nil && inst.Timestamp >= ectr.Timestamp) {
			continue
		}
		md, err := timeline.ReadCommitMetadata(ctx, st, inst)
		if err != nil {
			return fmt.Errorf("cleaner: plan: %w", err)
		}
		for id := range md.ReplacedFileIDs() {
			if _, seen := in.replaced[id]; !seen {
				in.replaced[id] = inst.Timestamp // oldest first: the earliest replacement
			}
		}
	}
	return nil
}
