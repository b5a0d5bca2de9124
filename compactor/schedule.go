package compactor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// Scheduled describes a written plan.
type Scheduled struct {
	Instant    string
	FileGroups int
	LogFiles   int
	LogBytes   int64
	Reason     string // why the strategy scheduled it
}

// Schedule writes a compaction plan when the strategy (or Force) says so,
// and returns nil when it does not or when no slice has log files to
// compact. It refreshes tbl's timeline and view first.
func Schedule(ctx context.Context, tbl *table.Table, opts Options) (*Scheduled, error) {
	opts, err := opts.prepare()
	if err != nil {
		return nil, err
	}
	if tbl.Config().Type != table.MergeOnRead {
		return nil, ErrNotMergeOnRead
	}
	in, err := gather(ctx, tbl)
	if err != nil {
		return nil, err
	}
	in.now = time.Now()
	p, sc := plan(in, opts)
	if p == nil {
		return nil, nil
	}
	if sc.Instant, err = writePlan(ctx, tbl.Storage(), p); err != nil {
		return nil, err
	}
	return sc, nil
}

// gather reads what the planner decides on: tbl's refreshed timeline and
// view, the file groups of pending plans, and, for each candidate log file
// (candidateLogs), whether a completed instant wrote it.
func gather(ctx context.Context, tbl *table.Table) (planInput, error) {
	if err := tbl.Refresh(ctx); err != nil {
		return planInput{}, err
	}
	view, err := tbl.View(ctx)
	if err != nil {
		return planInput{}, err
	}
	tl := view.Timeline() // the timeline the view was built against
	st := tbl.Storage()
	pending, err := filegroup.PendingCompactionGroups(ctx, st, tl)
	if err != nil {
		return planInput{}, err
	}
	in := planInput{timeline: tl, slices: view.LatestSlices(), pending: pending, completed: map[string]bool{}}
	visible := tl.Visible("")
	for _, s := range in.slices {
		for _, l := range candidateLogs(s, pending) {
			ok, err := logCompleted(ctx, st, l, visible)
			if err != nil {
				return planInput{}, err
			}
			in.completed[l.Path] = ok
		}
	}
	return in, nil
}

// logCompleted reports whether the instant that wrote log file l (its first
// block's INSTANT_TIME; for a file opened by a rollback command block, the
// file counts) is visible. A file deleted meanwhile (rolled back) or torn
// is not.
func logCompleted(ctx context.Context, st storage.Storage, l filegroup.LogFileInfo, visible func(string) bool) (bool, error) {
	ra, err := storage.NewReaderAt(ctx, st, l.Path)
	if errors.Is(err, storage.ErrNotExist) {
		return false, nil // rolled back meanwhile
	}
	if err != nil {
		return false, fmt.Errorf("compactor: %w", err)
	}
	typ, h, err := logfile.ReadFirstHeader(ra, ra.Size())
	if errors.Is(err, logfile.ErrCorrupt) {
		return false, nil // torn: never planned
	}
	if err != nil {
		return false, fmt.Errorf("compactor: %s: %w", l.Path, err)
	}
	if typ == logfile.CommandBlock {
		return true, nil
	}
	return visible(h.Value(logfile.InstantTime)), nil
}

// writePlan writes plan p as a new requested compaction instant and
// returns its time.
func writePlan(ctx context.Context, st storage.Storage, p *avroplan.HoodieCompactionPlan) (string, error) {
	var buf bytes.Buffer
	if err := avroplan.Encode(&buf, p); err != nil {
		return "", fmt.Errorf("compactor: plan: %w", err)
	}
	tx, err := timeline.Begin(ctx, st, timeline.Compaction, buf.Bytes(), timeline.BeginOptions{})
	if err != nil {
		return "", fmt.Errorf("compactor: schedule: %w", err)
	}
	return tx.InstantTime(), nil
}
