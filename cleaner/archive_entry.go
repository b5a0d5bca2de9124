package cleaner

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// instantKey is entryKey of a completed instant's entry.
func instantKey(i timeline.Instant) string {
	return i.Timestamp + "/" + string(i.Action) + "/" + i.State.String()
}

func entryKey(e *avroplan.HoodieArchivedMetaEntry) string {
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return s(e.CommitTime) + "/" + s(e.ActionType) + "/" + s(e.ActionState)
}

// archivedEntry reads one instant file and converts it (toArchivedEntry).
func archivedEntry(ctx context.Context, st storage.Storage, f instantFile) (*avroplan.HoodieArchivedMetaEntry, error) {
	b, err := storage.ReadFile(ctx, st, f.obj.Path)
	if err != nil {
		return nil, fmt.Errorf("cleaner: archive: %w", err)
	}
	return toArchivedEntry(f.inst, f.obj.ModTime, b)
}

// toArchivedEntry converts the content of one instant file, last modified
// at modTime, as Hudi's createMetaWrapper does: the instant's time, action
// and state, and the content decoded into the field of its action.
func toArchivedEntry(inst timeline.Instant, modTime time.Time, content []byte) (*avroplan.HoodieArchivedMetaEntry, error) {
	ts, action, state := inst.Timestamp, string(inst.Action), strings.ToUpper(inst.State.String())
	version := avroplan.ArchivedMetaEntryVersion
	e := &avroplan.HoodieArchivedMetaEntry{CommitTime: &ts, ActionType: &action, ActionState: &state, Version: &version}
	if !modTime.IsZero() {
		t := timeline.FormatInstantTime(modTime)
		e.StateTransitionTime = &t
	}
	if timeline.IsEmptyContent(content) && !(inst.Action == timeline.ReplaceCommit && inst.State == timeline.Completed) {
		return e, nil // nothing to decode (a completed replacecommit must parse)
	}
	var err error
	switch inst.Action {
	case timeline.Commit, timeline.DeltaCommit:
		err = commitEntry(e, content)
	case timeline.ReplaceCommit:
		err = replaceEntry(e, inst.State, content)
	case timeline.Clean:
		err = cleanEntry(e, inst.State, content)
	case timeline.Rollback:
		if inst.State == timeline.Completed {
			e.HoodieRollbackMetadata = &avroplan.HoodieRollbackMetadata{}
			err = avroplan.Decode(bytes.NewReader(content), e.HoodieRollbackMetadata)
		}
	case timeline.Compaction:
		if inst.State == timeline.Requested {
			e.HoodieCompactionPlan = &avroplan.HoodieCompactionPlan{}
			err = avroplan.Decode(bytes.NewReader(content), e.HoodieCompactionPlan)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cleaner: archive: %s: %w", inst, err)
	}
	return e, nil
}

// commitEntry sets the commit metadata of a commit or deltacommit (any
// state: the inflight file holds the workload profile).
func commitEntry(e *avroplan.HoodieArchivedMetaEntry, content []byte) error {
	md, err := timeline.ParseCommitMetadata(content)
	if err != nil {
		return err
	}
	e.HoodieCommitMetadata = avroCommitMetadata(md)
	return nil
}

// replaceEntry sets the field of a replacecommit's state: the replace
// metadata when completed, the commit metadata when inflight (skipped if it
// does not parse), the requested replace metadata when requested.
func replaceEntry(e *avroplan.HoodieArchivedMetaEntry, state timeline.State, content []byte) error {
	switch state {
	case timeline.Completed:
		md, err := timeline.ParseCommitMetadata(content)
		if err != nil {
			return err
		}
		c := avroCommitMetadata(md)
		r := map[string][]string{}
		for p, ids := range md.PartitionToReplaceFileIDs {
			r[p] = append([]string{}, ids...)
		}
		e.HoodieReplaceCommitMetadata = &avroplan.HoodieReplaceCommitMetadata{
			PartitionToWriteStats: c.PartitionToWriteStats, ExtraMetadata: c.ExtraMetadata,
			Version: c.Version, OperationType: c.OperationType, PartitionToReplaceFileIds: &r,
		}
	case timeline.Inflight:
		if md, err := timeline.ParseCommitMetadata(content); err == nil {
			e.HoodieInflightReplaceMetadata = avroCommitMetadata(md)
		}
	case timeline.Requested:
		e.HoodieRequestedReplaceMetadata = &avroplan.HoodieRequestedReplaceMetadata{}
		return avroplan.Decode(bytes.NewReader(content), e.HoodieRequestedReplaceMetadata)
	}
	return nil
}

// cleanEntry sets the clean metadata of a completed clean, else its plan.
func cleanEntry(e *avroplan.HoodieArchivedMetaEntry, state timeline.State, content []byte) error {
	if state == timeline.Completed {
		e.HoodieCleanMetadata = &avroplan.HoodieCleanMetadata{}
		return avroplan.Decode(bytes.NewReader(content), e.HoodieCleanMetadata)
	}
	e.HoodieCleanerPlan = &avroplan.HoodieCleanerPlan{}
	return avroplan.Decode(bytes.NewReader(content), e.HoodieCleanerPlan)
}

// avroCommitMetadata is Java's MetadataConversionUtils.convertCommitMetadata:
// the JSON metadata as its Avro record, operation type COMPACT for
// compactions, and an empty ROLLING_STAT in extraMetadata.
func avroCommitMetadata(md *timeline.CommitMetadata) *avroplan.HoodieCommitMetadata {
	stats := map[string][]avroplan.HoodieWriteStat{}
	for p, list := range md.PartitionToWriteStats {
		out := make([]avroplan.HoodieWriteStat, 0, len(list))
		for _, s := range list {
			out = append(out, avroplan.HoodieWriteStat{
				FileID: ptr(s.FileID), Path: ptr(s.Path), PrevCommit: ptr(s.PrevCommit),
				NumWrites: ptr(s.NumWrites), NumDeletes: ptr(s.NumDeletes), NumUpdateWrites: ptr(s.NumUpdateWrites),
				TotalWriteBytes: ptr(s.TotalWriteBytes), TotalWriteErrors: ptr(s.TotalWriteErrors),
				PartitionPath: ptr(s.PartitionPath), TotalLogRecords: ptr(s.TotalLogRecords),
				TotalUpdatedRecordsCompacted: ptr(s.TotalUpdatedRecordsCompacted), NumInserts: ptr(s.NumInserts),
				TotalLogBlocks: ptr(s.TotalLogBlocks), TotalCorruptLogBlock: ptr(s.TotalCorruptLogBlock),
				TotalRollbackBlocks: ptr(s.TotalRollbackBlocks), FileSizeInBytes: ptr(s.FileSizeInBytes),
			})
		}
		stats[p] = out
	}
	extra := map[string]string{}
	for k, v := range md.ExtraMetadata {
		extra[k] = v
	}
	extra["ROLLING_STAT"] = ""
	op := md.OperationType
	if md.Compacted {
		op = timeline.OpCompact
	}
	one := int32(1)
	c := &avroplan.HoodieCommitMetadata{PartitionToWriteStats: &stats, ExtraMetadata: &extra, Version: &one}
	if op != "" {
		c.OperationType = &op
	}
	return c
}

func ptr[T any](v T) *T { return &v }
