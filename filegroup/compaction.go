package filegroup

import (
	"bytes"
	"context"
	"fmt"

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
// compaction is pending.
func PendingCompactionGroups(ctx context.Context, st storage.Storage, tl *timeline.Timeline) (map[FileGroupID]string, error) {
	out := map[FileGroupID]string{}
	for _, inst := range tl.PendingCompactions() {
		plan, err := ReadCompactionPlan(ctx, st, inst.Timestamp)
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
