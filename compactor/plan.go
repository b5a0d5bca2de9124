package compactor

import (
	"fmt"
	"time"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/timeline"
)

// planInput is everything the planner decides on, gathered by Schedule.
type planInput struct {
	// timeline holds the last compaction and the deltacommits since.
	timeline *timeline.Timeline
	// slices are the latest file slices of the table's view.
	slices []*filegroup.FileSlice
	// pending maps the file groups of pending compaction plans to their
	// compaction instant; they are left out.
	pending map[filegroup.FileGroupID]string
	// completed holds the paths of the candidate log files (candidateLogs)
	// written by a completed instant, or opened by a rollback command
	// block; the others (a writer in flight, a torn or vanished file) stay
	// for a later plan.
	completed map[string]bool
	// now is the time the TimeElapsed strategies measure to.
	now time.Time
}

// candidateLogs are the log files of slice s a plan may take, subject to
// their writing instant having completed: none for a file group of a
// pending plan, and none folded into s from a pending compaction's slice.
// Schedule reads the first header of exactly these.
func candidateLogs(s *filegroup.FileSlice, pending map[filegroup.FileGroupID]string) []filegroup.LogFileInfo {
	if _, ok := pending[s.FileGroupID]; ok {
		return nil
	}
	var out []filegroup.LogFileInfo
	for _, l := range s.Logs {
		if l.BaseInstant == s.BaseInstant {
			out = append(out, l)
		}
	}
	return out
}

// plan decides whether to compact, and what: one operation per latest
// slice with completed candidate logs, when the strategy (or opts.Force)
// fires. It returns nil when there is nothing to schedule; the Scheduled
// has no Instant yet. It does no I/O: in is all it reads.
func plan(in planInput, opts Options) (*avroplan.HoodieCompactionPlan, *Scheduled) {
	p := newPlan()
	sc := &Scheduled{}
	var totalLogBytes int64
	for _, s := range in.slices {
		if _, ok := in.pending[s.FileGroupID]; ok {
			continue
		}
		for _, l := range s.Logs {
			totalLogBytes += l.Size
		}
		var logs []filegroup.LogFileInfo
		for _, l := range candidateLogs(s, in.pending) {
			if in.completed[l.Path] {
				logs = append(logs, l)
			}
		}
		if len(logs) == 0 {
			continue
		}
		op, size := operation(s, logs)
		p.Operations = append(p.Operations, op)
		sc.FileGroups++
		sc.LogFiles += len(logs)
		sc.LogBytes += size
	}
	if len(p.Operations) == 0 {
		return nil, nil
	}
	sc.Reason = "forced"
	if !opts.Force {
		reason, ok := strategyFires(in.timeline, opts, totalLogBytes, in.now)
		if !ok {
			return nil, nil
		}
		sc.Reason = reason
	}
	return p, sc
}

// newPlan is an empty plan as Hudi 0.15 writes it: version 2 (file names
// relative to the partition), meta fields preserved.
func newPlan() *avroplan.HoodieCompactionPlan {
	two := int32(2)
	preserve := true
	extra := map[string]string{}
	return &avroplan.HoodieCompactionPlan{Version: &two, PreserveHoodieMetadata: &preserve, ExtraMetadata: &extra}
}

// operation is the plan operation compacting logs of slice s (with Hudi's
// metrics), and the logs' total size.
func operation(s *filegroup.FileSlice, logs []filegroup.LogFileInfo) (avroplan.HoodieCompactionOperation, int64) {
	names := make([]string, len(logs))
	var size int64
	for i, l := range logs {
		names[i] = l.Name
		size += l.Size
	}
	base, fid, part := s.BaseInstant, s.FileID, s.PartitionPath
	op := avroplan.HoodieCompactionOperation{
		BaseInstantTime: &base,
		DeltaFilePaths:  names,
		FileID:          &fid,
		PartitionPath:   &part,
	}
	var baseSize int64
	if s.Base != nil {
		n := s.Base.Name
		op.DataFilePath = &n
		baseSize = s.Base.Size
	}
	m := map[string]float64{
		"TOTAL_LOG_FILES":      float64(len(names)),
		"TOTAL_LOG_FILES_SIZE": float64(size),
		"TOTAL_IO_READ_MB":     float64(baseSize+size) / (1 << 20),
		"TOTAL_IO_WRITE_MB":    float64(baseSize) / (1 << 20),
		"TOTAL_IO_MB":          float64(2*baseSize+size) / (1 << 20),
	}
	op.Metrics = &m
	return op, size
}

// strategyFires applies the trigger strategy to the timeline at time now,
// with logBytes in the log files of the latest slices outside pending
// plans, and says why.
func strategyFires(tl *timeline.Timeline, opts Options, logBytes int64, now time.Time) (string, bool) {
	n, since := deltaCommitsSinceCompaction(tl)
	elapsed := time.Duration(0)
	if since != "" {
		if t, err := timeline.ParseInstantTime(since); err == nil {
			elapsed = now.Sub(t)
		}
	}
	num := n >= opts.DeltaCommits
	tim := since != "" && elapsed >= opts.Elapsed
	switch opts.Strategy {
	case NumCommits:
		return fmt.Sprintf("%d delta commits since the last compaction (threshold %d)", n, opts.DeltaCommits), num
	case TimeElapsed:
		return fmt.Sprintf("%s since the last compaction (threshold %s)", elapsed.Round(time.Second), opts.Elapsed), tim
	case NumOrTime:
		return fmt.Sprintf("%d delta commits, %s elapsed", n, elapsed.Round(time.Second)), num || tim
	case NumAndTime:
		return fmt.Sprintf("%d delta commits, %s elapsed", n, elapsed.Round(time.Second)), num && tim
	case LogSize:
		return fmt.Sprintf("%d log bytes (threshold %d)", logBytes, opts.LogBytes), logBytes >= opts.LogBytes
	}
	return "", false
}

// deltaCommitsSinceCompaction counts the completed deltacommits after the
// last compaction and returns the time elapsed time counts from: the last
// compaction, else the first of those deltacommits ("" when neither
// exists).
func deltaCommitsSinceCompaction(tl *timeline.Timeline) (n int, since string) {
	last := ""
	for _, c := range tl.Compactions() {
		last = max(last, c)
	}
	first := ""
	for _, i := range tl.CompletedCommits() {
		if i.Action == timeline.DeltaCommit && i.Timestamp > last {
			n++
			if first == "" {
				first = i.Timestamp
			}
		}
	}
	if last != "" {
		return n, last
	}
	return n, first
}
