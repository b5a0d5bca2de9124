package compactor

import (
	"context"

	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// Pending returns the instants of pending (requested or inflight)
// compactions, oldest first, on tbl's refreshed timeline.
func Pending(ctx context.Context, tbl *table.Table) ([]timeline.Instant, error) {
	if err := tbl.Refresh(ctx); err != nil {
		return nil, err
	}
	tl, err := tbl.Timeline(ctx)
	if err != nil {
		return nil, err
	}
	return tl.PendingCompactions(), nil
}

// Run is one round of the compaction service: it executes every pending
// compaction, then schedules one if the strategy says so and executes it.
// opts.Mode restricts it to one half: ScheduleOnly returns the plan it
// wrote (or nil) and executes nothing; RunOnly executes the pending plans
// and schedules nothing. The results are those of every execution, in
// order, also when an error stops the round.
func Run(ctx context.Context, tbl *table.Table, opts Options) (*Scheduled, []*Result, error) {
	opts, err := opts.prepare()
	if err != nil {
		return nil, nil, err
	}
	var results []*Result
	if opts.Mode != ScheduleOnly {
		if results, err = executePending(ctx, tbl, opts); err != nil {
			return nil, results, err
		}
	}
	if opts.Mode == RunOnly {
		return nil, results, nil
	}
	sc, err := Schedule(ctx, tbl, opts)
	if err != nil || sc == nil || opts.Mode == ScheduleOnly {
		return sc, results, err
	}
	r, err := Execute(ctx, tbl, sc.Instant, opts)
	if err != nil {
		return sc, results, err
	}
	return sc, append(results, r), nil
}

// executePending executes every pending compaction, oldest first.
func executePending(ctx context.Context, tbl *table.Table, opts Options) ([]*Result, error) {
	pend, err := Pending(ctx, tbl)
	if err != nil {
		return nil, err
	}
	var results []*Result
	for _, p := range pend {
		r, err := Execute(ctx, tbl, p.Timestamp, opts)
		if err != nil {
			return results, err
		}
		results = append(results, r)
	}
	return results, nil
}
