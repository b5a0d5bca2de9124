// Package compactor schedules and executes Hudi compactions of
// merge-on-read tables, as a separate process from ingestion.
//
// Schedule picks the latest file slices that have log files and writes
// `<T>.compaction.requested` holding a HoodieCompactionPlan (Avro, Hudi
// 0.15's schema, version 2: file names relative to the partition) when the
// strategy says so: enough delta commits since the last compaction (default
// 5), enough time elapsed, or enough log bytes. Only log files whose
// writing instant is completed go into a plan, so a plan never references a
// file that a writer's rollback may delete. File groups already in a pending
// plan are left out.
//
// Execute (possibly in another process, on another machine) moves the plan
// to inflight, merges each operation's slice (base file + planned logs,
// blocks of completed instants before T) into `<fileId>_<token>_T.parquet`,
// keeping each record's meta values, and completes `T.commit` with
// `compacted: true`. Output names are deterministic, so a crashed or killed
// execution is re-run to the same result; two executors racing on one plan
// both succeed and produce one commit.
//
// Running alongside ingestion: while T is pending, writers send new log
// files of the planned groups to the slice of T (the view folds them into
// the previous slice for readers until T completes). A writer that began
// before the plan appeared moves its new logs there itself before its
// commit point; and Execute, before completing, copies into the new slice
// every log file of a planned group's old slice that the plan does not list
// (written by such a writer after the plan was made), so no log block is
// left behind in a superseded slice.
//
// A plan never blocks future plans forever: Run executes every pending
// plan (requested or inflight) before it schedules a new one.
package compactor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"runtime"
	"sort"
	"time"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// Errors returned by this package; test with errors.Is.
var (
	ErrNotMergeOnRead = errors.New("compactor: not a merge-on-read table")
	ErrNoSuchPlan     = errors.New("compactor: no such compaction")
)

// Strategy decides when Schedule writes a plan (Hudi's
// hoodie.compact.inline.trigger.strategy).
type Strategy string

// Strategies.
const (
	NumCommits  Strategy = "NUM_COMMITS"  // DeltaCommits completed deltacommits since the last compaction
	TimeElapsed Strategy = "TIME_ELAPSED" // Elapsed since the last compaction (or the first deltacommit)
	NumOrTime   Strategy = "NUM_OR_TIME"  // either of the above
	NumAndTime  Strategy = "NUM_AND_TIME" // both of the above
	LogSize     Strategy = "LOG_SIZE"     // LogBytes of log files in the latest slices
)

// Defaults, as Hudi's.
const (
	DefaultDeltaCommits = 5
	DefaultElapsed      = time.Hour
	DefaultLogBytes     = 512 << 20
)

// Options configure scheduling and execution.
type Options struct {
	Strategy     Strategy      // default NumCommits
	DeltaCommits int           // default DefaultDeltaCommits
	Elapsed      time.Duration // default DefaultElapsed
	LogBytes     int64         // default DefaultLogBytes
	// Force schedules whenever some slice has log files, whatever the
	// strategy says.
	Force bool
	// Parallelism bounds file groups merged at once. Default GOMAXPROCS.
	Parallelism int
	// Compression of the new base files. Default Snappy.
	Compression table.Compression
	// Progress, if set, receives the operations done per execution.
	Progress func(step string, done, total int64)

	now func() time.Time // tests
}

func (o *Options) defaults() error {
	if o.Strategy == "" {
		o.Strategy = NumCommits
	}
	switch o.Strategy {
	case NumCommits, TimeElapsed, NumOrTime, NumAndTime, LogSize:
	default:
		return fmt.Errorf("compactor: unknown strategy %q", o.Strategy)
	}
	if o.DeltaCommits <= 0 {
		o.DeltaCommits = DefaultDeltaCommits
	}
	if o.Elapsed <= 0 {
		o.Elapsed = DefaultElapsed
	}
	if o.LogBytes <= 0 {
		o.LogBytes = DefaultLogBytes
	}
	if o.Parallelism <= 0 {
		o.Parallelism = runtime.GOMAXPROCS(0)
	}
	if o.now == nil {
		o.now = time.Now
	}
	return nil
}

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
// compact.
func Schedule(ctx context.Context, tbl *table.Table, opts Options) (*Scheduled, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if tbl.Config().Type != table.MergeOnRead {
		return nil, ErrNotMergeOnRead
	}
	st := tbl.Storage()
	if err := tbl.Refresh(ctx); err != nil {
		return nil, err
	}
	tl, err := tbl.Timeline(ctx)
	if err != nil {
		return nil, err
	}
	view, err := tbl.View(ctx)
	if err != nil {
		return nil, err
	}
	pending, err := table.PendingCompactionGroups(ctx, st, tl)
	if err != nil {
		return nil, err
	}
	visible := tl.Visible("")

	plan := &avroplan.HoodieCompactionPlan{}
	two := int32(2)
	plan.Version = &two
	preserve := true
	plan.PreserveHoodieMetadata = &preserve
	extra := map[string]string{}
	plan.ExtraMetadata = &extra
	sc := &Scheduled{}
	var totalLogBytes int64
	for _, s := range view.LatestSlices() {
		if len(s.Logs) == 0 {
			continue
		}
		if _, ok := pending[s.FileGroupID]; ok {
			continue
		}
		var names []string
		var size int64
		for _, l := range s.Logs {
			totalLogBytes += l.Size
			if l.BaseInstant != s.BaseInstant {
				continue // folded from a pending compaction's slice
			}
			ok, err := logCompleted(ctx, st, l, visible)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue // a writer in flight: its log stays for the next plan
			}
			names = append(names, l.Name)
			size += l.Size
		}
		if len(names) == 0 {
			continue
		}
		base := s.BaseInstant
		fid, part := s.FileID, s.PartitionPath
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
		plan.Operations = append(plan.Operations, op)
		sc.FileGroups++
		sc.LogFiles += len(names)
		sc.LogBytes += size
	}
	if len(plan.Operations) == 0 {
		return nil, nil
	}
	if !opts.Force {
		reason, ok := strategyFires(tl, opts, totalLogBytes)
		if !ok {
			return nil, nil
		}
		sc.Reason = reason
	} else {
		sc.Reason = "forced"
	}
	var buf bytes.Buffer
	if err := avroplan.Encode(&buf, plan); err != nil {
		return nil, fmt.Errorf("compactor: plan: %w", err)
	}
	tx, err := timeline.Begin(ctx, st, timeline.Compaction, buf.Bytes(), timeline.BeginOptions{})
	if err != nil {
		return nil, fmt.Errorf("compactor: schedule: %w", err)
	}
	sc.Instant = tx.InstantTime()
	return sc, nil
}

// logCompleted reports whether the instant that wrote log file l (its first
// block's INSTANT_TIME; for a file opened by a rollback command block, the
// file counts) is visible.
func logCompleted(ctx context.Context, st storage.Storage, l table.LogFileInfo, visible func(string) bool) (bool, error) {
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

// strategyFires applies the trigger strategy to the timeline.
func strategyFires(tl *timeline.Timeline, opts Options, logBytes int64) (string, bool) {
	last := ""
	for _, c := range tl.Compactions() {
		last = max(last, c)
	}
	n := 0
	first := ""
	for _, i := range tl.CompletedCommits() {
		if i.Action == timeline.DeltaCommit && i.Timestamp > last {
			n++
			if first == "" {
				first = i.Timestamp
			}
		}
	}
	since := last
	if since == "" {
		since = first
	}
	elapsed := time.Duration(0)
	if since != "" {
		if t, err := timeline.ParseInstantTime(since); err == nil {
			elapsed = opts.now().Sub(t)
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

// Pending returns the instants of pending (requested or inflight)
// compactions, oldest first.
func Pending(ctx context.Context, tbl *table.Table) ([]timeline.Instant, error) {
	tl, err := timeline.Load(ctx, tbl.Storage())
	if err != nil {
		return nil, err
	}
	return tl.PendingCompactions(), nil
}

// Run executes every pending compaction, then schedules one if the
// strategy says so and executes it. scheduleOnly/runOnly restrict it to
// one half.
func Run(ctx context.Context, tbl *table.Table, opts Options, scheduleOnly, runOnly bool) (*Scheduled, []*Result, error) {
	var results []*Result
	execAll := func() error {
		pend, err := Pending(ctx, tbl)
		if err != nil {
			return err
		}
		for _, p := range pend {
			r, err := Execute(ctx, tbl, p.Timestamp, opts)
			if err != nil {
				return err
			}
			results = append(results, r)
		}
		return nil
	}
	if !scheduleOnly {
		if err := execAll(); err != nil {
			return nil, results, err
		}
	}
	if runOnly {
		return nil, results, nil
	}
	sc, err := Schedule(ctx, tbl, opts)
	if err != nil || sc == nil || scheduleOnly {
		return sc, results, err
	}
	r, err := Execute(ctx, tbl, sc.Instant, opts)
	if err != nil {
		return sc, results, err
	}
	return sc, append(results, r), nil
}

func join(part, name string) string {
	if part == "" {
		return name
	}
	return part + "/" + name
}

// sliceOf rebuilds the file slice an operation compacts.
func sliceOf(ctx context.Context, st storage.Storage, op avroplan.HoodieCompactionOperation) (*table.FileSlice, error) {
	part := ""
	if op.PartitionPath != nil {
		part = *op.PartitionPath
	}
	s := &table.FileSlice{FileGroupID: table.FileGroupID{PartitionPath: part, FileID: deref(op.FileID)}, BaseInstant: deref(op.BaseInstantTime)}
	if op.DataFilePath != nil && *op.DataFilePath != "" {
		name := path.Base(*op.DataFilePath)
		bf, err := table.ParseBaseFileName(name)
		if err != nil {
			return nil, fmt.Errorf("compactor: plan: %w", err)
		}
		p := join(part, name)
		info, err := st.Stat(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("compactor: base file of the plan: %w", err)
		}
		s.Base = &table.BaseFileInfo{DataFile: table.DataFile{Path: p, Name: name, Size: info.Size}, BaseFile: bf}
	}
	for _, d := range op.DeltaFilePaths {
		name := path.Base(d)
		lf, err := table.ParseLogFileName(name)
		if err != nil {
			return nil, fmt.Errorf("compactor: plan: %w", err)
		}
		p := join(part, name)
		info, err := st.Stat(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("compactor: log file of the plan: %w", err)
		}
		s.Logs = append(s.Logs, table.LogFileInfo{DataFile: table.DataFile{Path: p, Name: name, Size: info.Size}, LogFile: lf})
	}
	sort.Slice(s.Logs, func(i, j int) bool { return table.CompareLogFiles(s.Logs[i].LogFile, s.Logs[j].LogFile) < 0 })
	return s, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
