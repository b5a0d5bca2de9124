package cleaner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// Result reports a Clean.
type Result struct {
	// Instant is the completed clean instant; zero when nothing was to be
	// cleaned or on a dry run.
	Instant timeline.Instant
	// EarliestCommitToRetain is the plan's ECTR ("" under
	// KeepLatestFileVersions or when there was nothing to plan).
	EarliestCommitToRetain string
	// Plan is the new clean's plan (on a dry run: the plan that would be
	// written); nil when there was nothing to clean.
	Plan *avroplan.HoodieCleanerPlan
	// Deleted are the keys (relative to the table base) deleted, including
	// those of resumed cleans; on a dry run the keys that would be.
	Deleted []string
	// Bytes is the total size of Deleted.
	Bytes int64
	// Failed are planned files that were already gone or lie outside the
	// table (Hudi's failedDeleteFiles), as full paths.
	Failed []string
	// Resumed are interrupted cleans that were finished first.
	Resumed []timeline.Instant
}

// planAttempts bounds the re-planning when other processes keep scheduling
// work between our planning and our claim.
const planAttempts = 5

// Clean finishes any interrupted clean, then plans and runs a new one
// under opts. See the package documentation for what is kept.
//
// Clean refreshes tbl first (it must see every other process's pending
// instants), and plans against the handle's timeline and view.
func Clean(ctx context.Context, tbl *table.Table, opts Options) (*Result, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := tbl.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("cleaner: %w", err)
	}
	res := &Result{}
	if !opts.DryRun {
		if err := resumeAll(ctx, tbl, res); err != nil {
			return res, err
		}
	}
	for range planAttempts {
		done, err := cleanOnce(ctx, tbl, opts, res)
		if err != nil || done {
			return res, err
		}
	}
	return res, errors.New("cleaner: pending instants kept changing while planning; try again")
}

// cleanOnce gathers, plans and (unless a dry run) runs one clean: it claims
// the clean instant with the plan as its requested file, re-checks the plan
// (stillSafe) and executes it. done is false when the plan was withdrawn
// and planning must start over.
func cleanOnce(ctx context.Context, tbl *table.Table, opts Options, res *Result) (done bool, err error) {
	in, err := gatherClean(ctx, tbl, opts)
	if err != nil {
		return true, err
	}
	p := planClean(in, opts)
	if p.empty() {
		return true, nil
	}
	res.Plan, res.EarliestCommitToRetain = p.plan, p.ectr
	if opts.DryRun {
		res.Deleted = append(res.Deleted, p.keys...)
		for _, k := range p.keys {
			res.Bytes += p.sizes[k]
		}
		return true, nil
	}
	var buf bytes.Buffer
	if err := avroplan.Encode(&buf, p.plan); err != nil {
		return true, fmt.Errorf("cleaner: %w", err)
	}
	st := tbl.Storage()
	tx, err := timeline.Begin(ctx, st, timeline.Clean, buf.Bytes(), timeline.BeginOptions{})
	if err != nil {
		return true, fmt.Errorf("cleaner: schedule clean: %w", err)
	}
	inst := tx.Instant()
	ok, err := stillSafe(ctx, tbl, in.tl, inst, p, opts)
	if err != nil {
		return true, err
	}
	if !ok {
		// Another process scheduled work our plan could hurt: withdraw
		// the plan (nothing was deleted yet) and plan again.
		if err := tx.Abort(ctx); err != nil {
			return true, fmt.Errorf("cleaner: withdraw %s: %w", inst, err)
		}
		return false, nil
	}
	mdt, err := metadata.For(ctx, tbl, metadata.Options{})
	if err != nil {
		return true, fmt.Errorf("cleaner: %w", err)
	}
	if err := execute(ctx, tx, st, mdt, p.plan, buf.Bytes(), time.Now(), res); err != nil {
		return true, err
	}
	res.Instant = inst.WithState(timeline.Completed)
	return true, nil
}

// stillSafe re-checks a plan after its instant was claimed: it refreshes
// tbl, and if the pending instants other than cleans changed since tl (a
// compaction or write scheduled by another process meanwhile), the plan is
// recomputed and must still delete every planned file.
func stillSafe(ctx context.Context, tbl *table.Table, tl *timeline.Timeline, inst timeline.Instant, p *planned, opts Options) (bool, error) {
	if err := tbl.Refresh(ctx); err != nil {
		return false, fmt.Errorf("cleaner: %w", err)
	}
	tl2, err := tbl.Timeline(ctx)
	if err != nil {
		return false, fmt.Errorf("cleaner: %w", err)
	}
	if samePending(tl, tl2, inst) {
		return true, nil
	}
	// Plan again against the new timeline (our own pending clean plays no
	// part in planning).
	in, err := gatherClean(ctx, tbl, opts)
	if err != nil {
		return false, err
	}
	still := map[string]bool{}
	if p2 := planClean(in, opts); p2 != nil {
		for _, k := range p2.keys {
			still[k] = true
		}
	}
	for _, k := range p.keys {
		if !still[k] {
			return false, nil
		}
	}
	return true, nil
}

// samePending reports whether a and b have the same pending instants,
// leaving out cleans and inst.
func samePending(a, b *timeline.Timeline, inst timeline.Instant) bool {
	pending := func(t *timeline.Timeline) map[string]bool {
		m := map[string]bool{}
		for _, i := range t.Pending() {
			if i.Timestamp != inst.Timestamp && i.Action != timeline.Clean {
				m[i.Timestamp] = true
			}
		}
		return m
	}
	before, after := pending(a), pending(b)
	if len(before) != len(after) {
		return false
	}
	for ts := range after {
		if !before[ts] {
			return false
		}
	}
	return true
}

// resumeAll finishes every interrupted clean of the handle's timeline, and
// refreshes tbl when there was one.
func resumeAll(ctx context.Context, tbl *table.Table, res *Result) error {
	tl, err := tbl.Timeline(ctx)
	if err != nil {
		return fmt.Errorf("cleaner: %w", err)
	}
	for _, inst := range tl.Pending() {
		if inst.Action != timeline.Clean {
			continue
		}
		mdt, err := metadata.For(ctx, tbl, metadata.Options{})
		if err != nil {
			return fmt.Errorf("cleaner: %w", err)
		}
		if err := resume(ctx, tbl.Storage(), mdt, inst, res); err != nil {
			return err
		}
		res.Resumed = append(res.Resumed, inst)
	}
	if len(res.Resumed) == 0 {
		return nil
	}
	if err := tbl.Refresh(ctx); err != nil {
		return fmt.Errorf("cleaner: %w", err)
	}
	return nil
}

// resume finishes an interrupted clean from its stored plan.
func resume(ctx context.Context, st storage.Storage, mdt *metadata.Table, inst timeline.Instant, res *Result) error {
	req := inst
	req.State = timeline.Requested
	b, err := timeline.ReadInstant(ctx, st, req)
	if errors.Is(err, timeline.ErrNotFound) && inst.State == timeline.Inflight {
		b, err = timeline.ReadInstant(ctx, st, inst)
	}
	if err != nil {
		return fmt.Errorf("cleaner: resume %s: %w", inst, err)
	}
	plan := &avroplan.HoodieCleanerPlan{}
	if err := avroplan.Decode(bytes.NewReader(b), plan); err != nil {
		return fmt.Errorf("cleaner: resume %s: %w", inst, err)
	}
	start := time.Now()
	if t, err := timeline.ParseInstantTime(inst.Timestamp); err == nil {
		start = t
	}
	tx, err := timeline.Resume(st, inst)
	if err != nil {
		return fmt.Errorf("cleaner: resume %s: %w", inst, err)
	}
	return execute(ctx, tx, st, mdt, plan, b, start, res)
}
