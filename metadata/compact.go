package metadata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/internal/mdtrecord"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// maybeCompact runs the metadata table's table services before deltacommit
// T is written, as Hudi does when a write starts: a pending compaction
// that was abandoned (see stale) is finished, one still running is left
// alone; otherwise, once MaxDeltaCommits deltacommits followed the
// latest base file and no data instant at or before the latest of them is
// pending (other than T itself), the files partition is compacted at
// "<latest deltacommit>001". It reports whether it compacted.
func (m *Table) maybeCompact(ctx context.Context, s *state, data *timeline.Timeline, T string, dead map[string]bool) (bool, error) {
	if pend := s.pendingCompactions(); len(pend) > 0 {
		// One another process runs now is left to it; one abandoned
		// (pending past staleCompaction) is finished here.
		done := false
		for _, c := range pend {
			stale, err := m.stale(ctx, c, dead)
			if err != nil {
				return false, err
			}
			if !stale {
				continue
			}
			if err := m.resumeCompaction(ctx, s, c); err != nil {
				return false, err
			}
			done = true
		}
		return done, nil
	}
	n, latest := s.deltaCommitsSinceBase()
	if n < MaxDeltaCommits {
		return false, nil
	}
	for _, p := range data.Pending() {
		if p.Timestamp <= latest && p.Timestamp != T {
			m.log.Info("metadata: compaction waits for a pending data instant", "pending", p.String(), "latest", latest)
			return false, nil
		}
	}
	C := latest + compactionSuffix
	if _, ok := s.tl.Find(C); ok {
		return false, nil
	}
	done, err := m.compact(ctx, s, C, T)
	if err != nil || !done {
		return done, err
	}
	// Table services after a compaction: old slices go.
	s, err = m.load(ctx)
	if err != nil {
		return true, err
	}
	return true, m.clean(ctx, s, latest)
}

// compact schedules and executes compaction C of the files partition,
// merging the latest slice.
func (m *Table) compact(ctx context.Context, s *state, C, owner string) (bool, error) {
	sl := s.latestBase()
	if sl == nil {
		return false, fmt.Errorf("%w: the files partition has no base file", ErrCorrupt)
	}
	plan := compactionPlan(sl)
	plan.ExtraMetadata = &map[string]string{OwnerKey: owner}
	var pb bytes.Buffer
	if err := avroplan.Encode(&pb, plan); err != nil {
		return false, fmt.Errorf("metadata: compaction plan: %w", err)
	}
	tx, err := timeline.Request(ctx, m.st, C, timeline.Compaction, pb.Bytes())
	if errors.Is(err, timeline.ErrInstantExists) {
		return false, nil // another writer scheduled it
	}
	if err != nil {
		return false, fmt.Errorf("metadata: %w", err)
	}
	// A log file written into the slice while the plan was made would be
	// left behind by the new base file: give up the plan then.
	now, err := m.load(ctx)
	if err != nil {
		return false, err
	}
	if cur := now.slices[sl.baseInstant]; cur == nil || !sameLogs(cur.logs, sl.logs) {
		if err := tx.Abort(ctx); err != nil {
			return false, fmt.Errorf("metadata: withdraw compaction %s: %w", C, err)
		}
		return false, nil
	}
	// The data timeline as of after that listing: every data instant whose
	// block is in a listed log file is on it (its requested file came
	// first), pending or completed.
	data, err := timeline.Load(ctx, m.data)
	if err != nil {
		return false, fmt.Errorf("metadata: %w", err)
	}
	if err := m.executeCompaction(ctx, now, data, tx, plan); err != nil {
		return false, err
	}
	return true, nil
}

// resumeCompaction finishes compaction instant c that an earlier process
// scheduled (and may have started).
func (m *Table) resumeCompaction(ctx context.Context, s *state, c timeline.Instant) error {
	b, err := timeline.ReadInstant(ctx, m.st, c.WithState(timeline.Requested))
	if err != nil {
		return fmt.Errorf("metadata: compaction %s: %w", c.Timestamp, err)
	}
	var plan avroplan.HoodieCompactionPlan
	if err := avroplan.Decode(bytes.NewReader(b), &plan); err != nil {
		return fmt.Errorf("metadata: compaction %s plan: %w", c.Timestamp, err)
	}
	tx, err := timeline.Resume(m.st, c)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	// As in compact: the data timeline after the listing of the logs.
	data, err := timeline.Load(ctx, m.data)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	return m.executeCompaction(ctx, s, data, tx, &plan)
}

// OwnerKey is the compaction plan's extraMetadata entry naming the data
// instant whose metadata write ran the compaction: while that instant is
// pending the compaction is live; once it completed or was rolled back, a
// compaction still pending was abandoned, and the next writer finishes it.
const OwnerKey = "hoodie.metadata.compaction.owner"

// compactionPlan is Hudi's plan for compacting slice sl of the files
// file group (version 2, one operation).
func compactionPlan(sl *slice) *avroplan.HoodieCompactionPlan {
	base, fid, part := sl.baseInstant, FilesFileID, FilesPartition
	data := sl.base
	logs := make([]string, 0, len(sl.logs))
	var size int64
	for _, l := range sl.logs {
		logs = append(logs, l.name)
		size += l.size
	}
	metrics := map[string]float64{
		"TOTAL_IO_MB": 0, "TOTAL_IO_READ_MB": 0, "TOTAL_IO_WRITE_MB": 0,
		"TOTAL_LOG_FILES": float64(len(logs)), "TOTAL_LOG_FILES_SIZE": float64(size),
	}
	two := int32(2)
	return &avroplan.HoodieCompactionPlan{
		Operations: []avroplan.HoodieCompactionOperation{{
			BaseInstantTime: &base, DeltaFilePaths: logs, DataFilePath: &data,
			FileID: &fid, PartitionPath: &part, Metrics: &metrics,
		}},
		Version: &two,
	}
}

// executeCompaction merges the plan's base file and the valid blocks of
// its log files into a new base file at the compaction's instant and
// completes it as a commit. A block of a data instant still pending (a
// concurrent writer's) withdraws the plan instead.
func (m *Table) executeCompaction(ctx context.Context, s *state, data *timeline.Timeline, tx *timeline.Txn, plan *avroplan.HoodieCompactionPlan) error {
	C := tx.InstantTime()
	if len(plan.Operations) != 1 {
		return fmt.Errorf("%w: metadata compaction %s has %d operations", ErrUnsupported, C, len(plan.Operations))
	}
	op := plan.Operations[0]
	if tx.Instant().State == timeline.Requested {
		if err := tx.Inflight(ctx, nil); err != nil && !errors.Is(err, timeline.ErrInstantExists) {
			return fmt.Errorf("metadata: %w", err)
		}
	}
	sl := &slice{baseInstant: deref(op.BaseInstantTime), base: deref(op.DataFilePath)}
	var logSize int64
	for _, name := range op.DeltaFilePaths {
		lg, ok := parseLog(name)
		if !ok {
			return fmt.Errorf("%w: compaction %s: log file name %q", ErrCorrupt, C, name)
		}
		if cur := s.slices[lg.baseInstant]; cur != nil {
			for _, l := range cur.logs {
				if l.name == name {
					lg.size = l.size
				}
			}
		}
		logSize += lg.size
		sl.logs = append(sl.logs, lg)
	}
	sort.Slice(sl.logs, func(i, j int) bool { return lessLog(sl.logs[i], sl.logs[j]) })
	merged := map[string]mdtrecord.Record{}
	var baseCount int
	if sl.base != "" {
		recs, err := m.readBase(ctx, sl)
		if err != nil {
			return err
		}
		baseCount = len(recs)
		for _, r := range recs {
			merged[r.Key] = r
		}
	}
	before := len(merged)
	if err := m.mergeLogs(ctx, sl, validity{st: s, data: data}, true, merged); err != nil {
		if errors.Is(err, errPendingBlock) {
			// A concurrent writer's block: withdraw the plan, compact later.
			m.log.Info("metadata: compaction withdrawn", "instant", C, "reason", err.Error())
			if aerr := tx.Abort(ctx); aerr != nil {
				return fmt.Errorf("metadata: withdraw compaction %s: %w", C, aerr)
			}
			return nil
		}
		return err
	}
	recs := make([]mdtrecord.Record, 0, len(merged))
	for _, r := range merged {
		recs = append(recs, compactRecord(r))
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Key < recs[j].Key })
	var buf bytes.Buffer
	if err := mdtrecord.WriteBaseFile(&buf, recs); err != nil {
		return fmt.Errorf("metadata: compaction %s: %w", C, err)
	}
	name := baseFileName(C)
	p := FilesPartition + "/" + name
	if err := tx.Marker(ctx, p, timeline.MarkerCreate); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if err := storage.WriteFile(ctx, m.st, p, buf.Bytes(), storage.CreateOptions{}); err != nil {
		return fmt.Errorf("metadata: write %s: %w", p, err)
	}
	size := int64(buf.Len())
	inserts := int64(len(recs) - before)
	md := &timeline.CommitMetadata{
		Compacted:     true,
		OperationType: opCompact,
		ExtraMetadata: map[string]string{timeline.SchemaKey: mdtrecord.RecordSchema},
	}
	md.AddStat(timeline.WriteStat{
		FileID: FilesFileID, Path: p, PrevCommit: sl.baseInstant,
		NumWrites: int64(len(recs)), NumUpdateWrites: int64(len(recs)) - inserts, NumInserts: inserts,
		TotalWriteBytes: size, PartitionPath: FilesPartition,
		TotalLogFilesCompacted: int64(len(sl.logs)), TotalLogSizeCompacted: logSize,
		TotalUpdatedRecordsCompacted: int64(min(baseCount, len(recs))), TotalLogBlocks: int64(len(sl.logs)),
		FileSizeInBytes: size, RuntimeStats: &timeline.RuntimeStats{},
	})
	b, err := md.Marshal()
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if err := tx.Complete(ctx, b); err != nil {
		if errors.Is(err, timeline.ErrAlreadyCompleted) {
			return nil
		}
		return fmt.Errorf("metadata: %w", err)
	}
	if err := tx.Finish(ctx); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	m.log.Info("metadata: compacted", "instant", C, "records", len(recs), "logs", len(sl.logs))
	return nil
}

// compactRecord drops the deleted entries of a files or partition list
// record, as the base file of a compaction keeps live entries only.
func compactRecord(r mdtrecord.Record) mdtrecord.Record {
	if r.Type != mdtrecord.TypeFiles && r.Type != mdtrecord.TypePartitionList {
		return r
	}
	out := r
	out.Files = map[string]mdtrecord.FileInfo{}
	for f, size := range mdtrecord.Live(r) {
		out.Files[f] = mdtrecord.FileInfo{Size: size}
	}
	return out
}

// sameLogs reports whether two sorted log lists name the same files.
func sameLogs(a, b []logName) bool {
	return slices.EqualFunc(a, b, func(x, y logName) bool { return x.name == y.name })
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
