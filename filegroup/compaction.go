package filegroup

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// ReadCompactionPlan reads the HoodieCompactionPlan of compaction instant
// ts from its requested file.
func ReadCompactionPlan(ctx context.Context, st storage.Storage, ts string) (*avroplan.HoodieCompactionPlan, error) {
	inst := timeline.Instant{Timestamp: ts, Action: timeline.Compaction, State: timeline.Requested}
	b, err := timeline.ReadInstant(ctx, st, inst)
	if err != nil {
		return nil, fmt.Errorf("filegroup: compaction plan %s: %w", ts, err)
	}
	plan := &avroplan.HoodieCompactionPlan{}
	if err := avroplan.Decode(bytes.NewReader(b), plan); err != nil {
		return nil, fmt.Errorf("filegroup: compaction plan %s: %w", ts, err)
	}
	return plan, nil
}

// PendingCompactionGroups maps every file group of a pending (requested or
// inflight) compaction plan to the compaction instant: the base instant of
// the group's new slice, where writers send new log files while the
// compaction is pending. It reads every pending plan; a long-lived process
// keeps a PlanCache instead.
func PendingCompactionGroups(ctx context.Context, st storage.Storage, tl *timeline.Timeline) (map[FileGroupID]string, error) {
	return new(PlanCache).PendingGroups(ctx, st, tl)
}

// PlanCache keeps the compaction plans read before, by instant, so that a
// long-lived process (a streaming writer) reads each plan once rather than
// at every commit: a plan never changes once requested (its requested file
// is written once, and an instant time is never reused). The zero value is
// ready to use; it is safe for concurrent use.
type PlanCache struct {
	mu    sync.Mutex
	plans map[string]*avroplan.HoodieCompactionPlan
}

// Plan returns the plan of compaction instant ts, reading it (as
// ReadCompactionPlan) only when it is not cached. Callers must not modify
// it: it is shared.
func (c *PlanCache) Plan(ctx context.Context, st storage.Storage, ts string) (*avroplan.HoodieCompactionPlan, error) {
	c.mu.Lock()
	plan, ok := c.plans[ts]
	c.mu.Unlock()
	if ok {
		return plan, nil
	}
	plan, err := ReadCompactionPlan(ctx, st, ts)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.plans == nil {
		c.plans = map[string]*avroplan.HoodieCompactionPlan{}
	}
	c.plans[ts] = plan
	return plan, nil
}

// PendingGroups is PendingCompactionGroups reading only the plans not
// cached; it forgets the plans of compactions no longer pending on tl
// (completed, or rolled back), so the cache holds the pending ones only.
func (c *PlanCache) PendingGroups(ctx context.Context, st storage.Storage, tl *timeline.Timeline) (map[FileGroupID]string, error) {
	pending := tl.PendingCompactions()
	c.forget(pending)
	out := map[FileGroupID]string{}
	for _, inst := range pending {
		plan, err := c.Plan(ctx, st, inst.Timestamp)
		if err != nil {
			return nil, err
		}
		for _, op := range plan.Operations {
			if op.FileID == nil {
				continue
			}
			part := ""
			if op.PartitionPath != nil {
				part = *op.PartitionPath
			}
			out[FileGroupID{PartitionPath: part, FileID: *op.FileID}] = inst.Timestamp
		}
	}
	return out, nil
}

// forget drops the plans of instants not in keep.
func (c *PlanCache) forget(keep []timeline.Instant) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ts := range c.plans {
		if !slices.ContainsFunc(keep, func(i timeline.Instant) bool { return i.Timestamp == ts }) {
			delete(c.plans, ts)
		}
	}
}
