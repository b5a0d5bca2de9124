package compactor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/bloom"
	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/internal/merge"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"golang.org/x/sync/errgroup"
)

// Result summarises one executed compaction.
type Result struct {
	Instant      string
	FileGroups   int
	LogFiles     int64
	LogBlocks    int64
	LogRecords   int64 // log records merged
	Records      int64 // records in the new base files
	BytesWritten int64
	CarriedLogs  int // log files moved into the new slices (written during the compaction)
	AlreadyDone  bool
	Duration     time.Duration
}

// Execute runs the pending compaction instant and completes it. A completed
// instant returns AlreadyDone.
func Execute(ctx context.Context, tbl *table.Table, instant string, opts Options) (*Result, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	cfg := tbl.Config()
	if cfg.Type != table.MergeOnRead {
		return nil, ErrNotMergeOnRead
	}
	start := opts.now()
	st := tbl.Storage()
	tl, err := timeline.Load(ctx, st)
	if err != nil {
		return nil, err
	}
	res := &Result{Instant: instant}
	inst, ok := tl.Find(instant)
	if !ok || !tl.IsCompaction(instant) {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchPlan, instant)
	}
	if inst.State == timeline.Completed {
		res.AlreadyDone = true
		return res, nil
	}
	plan, err := table.ReadCompactionPlan(ctx, st, instant)
	if err != nil {
		return nil, err
	}
	tx, err := timeline.Resume(st, inst)
	if err != nil {
		return nil, fmt.Errorf("compactor: %w", err)
	}
	if inst.State == timeline.Requested {
		// ErrInstantExists: another executor got there; inflight all the same.
		if err := tx.Inflight(ctx, nil); err != nil && !errors.Is(err, timeline.ErrInstantExists) {
			return nil, fmt.Errorf("compactor: %w", err)
		}
	}

	js, err := table.SchemaAsOf(ctx, st, tl, "", cfg)
	if err != nil {
		return nil, err
	}
	if js == "" {
		return nil, fmt.Errorf("compactor: table %s has no schema", cfg.Name)
	}
	sch, err := schema.ParseAvro([]byte(js))
	if err != nil {
		return nil, fmt.Errorf("compactor: table schema: %w", err)
	}
	visible := tl.Visible("")
	mo := merge.Options{
		Include:         func(ts string) bool { return ts < instant && visible(ts) },
		PrecombineField: cfg.PrecombineField,
		PayloadDefault:  cfg.PayloadClass == table.PayloadDefault,
		Target:          sch.ToArrowWithMeta(),
	}

	stats := make([]timeline.WriteStat, len(plan.Operations))
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Parallelism)
	for i, op := range plan.Operations {
		g.Go(func() error {
			s, err := compactOne(gctx, st, tx, i, op, sch, mo, opts)
			if err != nil {
				return fmt.Errorf("compactor: %s file group %s/%s: %w", instant, deref(op.PartitionPath), deref(op.FileID), err)
			}
			stats[i] = *s
			if opts.Progress != nil {
				opts.Progress("compaction "+instant, done.Add(1), int64(len(plan.Operations)))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	// Logs written to the planned groups' old slices after the plan was
	// made move into the new slices before T completes.
	for _, op := range plan.Operations {
		n, err := carryOver(ctx, st, tx, op)
		if err != nil {
			return nil, err
		}
		res.CarriedLogs += n
	}

	md := &timeline.CommitMetadata{Compacted: true, OperationType: timeline.OpCompact,
		ExtraMetadata: map[string]string{timeline.SchemaKey: js}}
	for _, s := range stats {
		md.AddStat(s)
		res.FileGroups++
		res.LogFiles += s.TotalLogFilesCompacted
		res.LogBlocks += s.TotalLogBlocks
		res.LogRecords += s.TotalLogRecords
		res.Records += s.NumWrites
		res.BytesWritten += s.TotalWriteBytes
	}
	b, err := md.Marshal()
	if err != nil {
		return nil, err
	}
	if err := tx.Complete(ctx, b); err != nil {
		// A racing executor completed it first: the same files, one commit.
		if tl2, lerr := timeline.Load(ctx, st); lerr == nil && tl2.IsCompleted(instant) {
			res.AlreadyDone = true
			return res, nil
		}
		return nil, fmt.Errorf("compactor: complete %s: %w", instant, err)
	}
	_ = tx.Finish(ctx) // leftovers are harmless; the cleaner's concern
	res.Duration = opts.now().Sub(start)
	return res, nil
}

// compactOne merges one operation's slice into the new base file of the
// group at instant T of tx. The file name is a function of (T, operation
// index), so a re-run overwrites what a crashed run left.
func compactOne(ctx context.Context, st storage.Storage, tx *timeline.Txn, i int, op avroplan.HoodieCompactionOperation,
	sch *schema.Schema, mo merge.Options, opts Options) (*timeline.WriteStat, error) {
	began := time.Now()
	T := tx.InstantTime()
	s, err := sliceOf(ctx, st, op)
	if err != nil {
		return nil, err
	}
	token := table.WriteToken{TaskPartitionID: int64(i), StageID: 0, TaskAttemptID: int64(i)}
	bf := table.BaseFile{FileID: s.FileID, WriteToken: token, InstantTime: T, Ext: table.ExtParquet}
	name := bf.String()
	p := join(s.PartitionPath, name)
	if err := tx.Marker(ctx, p, timeline.MarkerCreate); err != nil {
		return nil, err
	}
	sw, err := st.Create(ctx, p, storage.CreateOptions{})
	if err != nil {
		return nil, err
	}
	defer sw.Abort()
	codec, err := basefile.CompressionNamed(string(opts.Compression))
	if err != nil {
		return nil, fmt.Errorf("compactor: %w", err)
	}
	fw, err := basefile.NewWriter(sw, sch, basefile.WriterOptions{Compression: codec})
	if err != nil {
		return nil, err
	}
	defer fw.Abort()
	filter := bloom.NewDefault()
	dataNames := make([]string, len(sch.Fields))
	for j, f := range sch.Fields {
		dataNames[j] = f.Name
	}
	var ms merge.Stats
	for rec, err := range merge.Slice(ctx, st, s, mo, &ms) {
		if err != nil {
			return nil, err
		}
		err := func() error {
			defer rec.Release()
			keys, ok := arrowutil.Column(rec, schema.RecordKeyField).(*array.String)
			if !ok {
				return fmt.Errorf("merged records without %s", schema.RecordKeyField)
			}
			for j := 0; j < keys.Len(); j++ {
				filter.AddString(keys.Value(j))
			}
			meta := basefile.Meta{
				CommitTime:    metaCol(rec, schema.CommitTimeField),
				SeqNo:         metaCol(rec, schema.CommitSeqNoField),
				RecordKey:     basefile.FromArrow(keys),
				PartitionPath: metaCol(rec, schema.PartitionPathField),
				FileName:      basefile.Const(name),
			}
			data := arrowutil.Project(rec, dataNames)
			defer data.Release()
			return fw.Write(meta, data)
		}()
		if err != nil {
			return nil, err
		}
	}
	if err := fw.SetMetadata(basefile.BloomFilterKey, filter.Base64()); err != nil {
		return nil, err
	}
	if err := fw.SetMetadata(basefile.BloomFilterTypeK, filter.TypeCode()); err != nil {
		return nil, err
	}
	info, err := fw.Close()
	if err != nil {
		return nil, err
	}
	if err := sw.Close(); err != nil {
		return nil, err
	}
	var logSize int64
	for _, l := range s.Logs {
		logSize += l.Size
	}
	stat := &timeline.WriteStat{
		FileID:                       s.FileID,
		Path:                         p,
		PrevCommit:                   s.BaseInstant,
		NumWrites:                    info.Rows,
		NumUpdateWrites:              ms.LogRecords,
		PartitionPath:                s.PartitionPath,
		TotalLogRecords:              ms.LogRecords + ms.LogDeletes,
		TotalLogFilesCompacted:       int64(len(s.Logs)),
		TotalLogSizeCompacted:        logSize,
		TotalUpdatedRecordsCompacted: ms.LogRecords,
		TotalLogBlocks:               ms.LogBlocks,
		TotalCorruptLogBlock:         ms.CorruptBlocks,
		TotalRollbackBlocks:          ms.RolledBackBlocks,
		TotalWriteBytes:              info.Size,
		FileSizeInBytes:              info.Size,
		RuntimeStats:                 &timeline.RuntimeStats{TotalScanTime: time.Since(began).Milliseconds()},
	}
	return stat, nil
}

// metaCol reads a meta column of the merged records.
func metaCol(rec arrow.RecordBatch, name string) basefile.Strings {
	if c, ok := arrowutil.Column(rec, name).(*array.String); ok {
		return basefile.FromArrow(c)
	}
	return basefile.Const("")
}

// carryOver copies every log file of the operation's old slice that the plan
// does not list (a writer added it after the plan was made) into the new
// slice of tx's instant T, and returns how many it copied. Each copy is
// appended through filegroup.AppendLog with the marker of its owner (see
// carryOwner).
func carryOver(ctx context.Context, st storage.Storage, tx *timeline.Txn, op avroplan.HoodieCompactionOperation) (int, error) {
	T := tx.InstantTime()
	part, fid, base := deref(op.PartitionPath), deref(op.FileID), deref(op.BaseInstantTime)
	planned := map[string]bool{}
	for _, d := range op.DeltaFilePaths {
		planned[path.Base(d)] = true
	}
	var stale []filegroup.LogFileInfo
	taken := map[int]bool{} // versions of T's slice
	for obj, err := range st.List(ctx, join(part, "."+fid+"_"), "/") {
		if err != nil {
			return 0, fmt.Errorf("compactor: %w", err)
		}
		name := path.Base(obj.Path)
		lf, err := filegroup.ParseLogFileName(name)
		if err != nil || lf.FileID != fid || lf.CDC {
			continue
		}
		switch lf.BaseInstant {
		case base:
			if !planned[name] {
				stale = append(stale, filegroup.LogFileInfo{DataFile: filegroup.DataFile{Path: obj.Path, Name: name, Size: obj.Size}, LogFile: lf})
			}
		case T:
			taken[lf.Version] = true
		}
	}
	if len(stale) == 0 {
		return 0, nil
	}
	sort.Slice(stale, func(a, b int) bool { return filegroup.CompareLogFiles(stale[a].LogFile, stale[b].LogFile) < 0 })
	fresh, err := timeline.Load(ctx, st)
	if err != nil {
		return 0, err
	}
	id := filegroup.FileGroupID{PartitionPath: part, FileID: fid}
	n := 0
	for _, l := range stale {
		data, err := storage.ReadFile(ctx, st, l.Path)
		if errors.Is(err, storage.ErrNotExist) {
			continue // its writer moved it, or its rollback removed it
		}
		if err != nil {
			return n, fmt.Errorf("compactor: carry over %s: %w", l.Path, err)
		}
		owner, err := carryOwner(st, tx, fresh, data)
		if err != nil {
			return n, fmt.Errorf("compactor: carry over %s: %w", l.Path, err)
		}
		if owner == nil {
			continue // its writer was rolled back since the listing: nothing of it is ever visible
		}
		a := filegroup.LogAppend{FileGroupID: id, BaseInstant: T, WriteToken: l.WriteToken, Taken: taken}
		if _, err := filegroup.AppendLog(ctx, st, owner, a, data); err != nil {
			return n, fmt.Errorf("compactor: carry over %s: %w", l.Path, err)
		}
		n++
	}
	return n, nil
}

// carryOwner is the Txn whose marker the carried-over copy of a log file
// (content data) gets: that of the instant that wrote it (its first block's
// INSTANT_TIME) while the instant is pending, so the instant's rollback
// removes the copy too; else (completed, archived, or a header that does not
// say) the compaction's own tx. It is nil for a log whose instant is neither
// visible nor on tl: a write rolled back since the listing.
func carryOwner(st storage.Storage, tx *timeline.Txn, tl *timeline.Timeline, data []byte) (*timeline.Txn, error) {
	_, h, err := logfile.ReadFirstHeader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return tx, nil
	}
	w := h.Value(logfile.InstantTime)
	if w == "" {
		return tx, nil
	}
	inst, ok := tl.Find(w)
	switch {
	case ok && inst.State != timeline.Completed:
		return timeline.Resume(st, inst)
	case ok || tl.Visible("")(w):
		return tx, nil
	}
	return nil, nil
}
