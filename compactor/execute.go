package compactor

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/merge"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/metadata"
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

// add counts the write stat of one compacted file group.
func (r *Result) add(s timeline.WriteStat) {
	r.FileGroups++
	r.LogFiles += s.TotalLogFilesCompacted
	r.LogBlocks += s.TotalLogBlocks
	r.LogRecords += s.TotalLogRecords
	r.Records += s.NumWrites
	r.BytesWritten += s.TotalWriteBytes
}

// execution is one run of a pending compaction plan: the instant's Txn,
// its plan, and what merging a slice needs.
type execution struct {
	tbl        *table.Table
	st         storage.Storage
	tx         *timeline.Txn
	plan       *avroplan.HoodieCompactionPlan
	avroSchema string         // the table schema (Avro JSON), recorded in the commit
	schema     *schema.Schema // the same, parsed
	merge      merge.Options
	opts       Options
}

// Execute runs the pending compaction instant and completes it: inflight,
// one new base file per plan operation, the carry-over of logs written to
// the old slices since the plan, and the commit. A completed instant
// returns AlreadyDone. It refreshes tbl's timeline first.
func Execute(ctx context.Context, tbl *table.Table, instant string, opts Options) (*Result, error) {
	opts, err := opts.prepare()
	if err != nil {
		return nil, err
	}
	if tbl.Config().Type != table.MergeOnRead {
		return nil, ErrNotMergeOnRead
	}
	start := time.Now()
	res := &Result{Instant: instant}
	ex, err := begin(ctx, tbl, instant, opts)
	if err != nil {
		return nil, err
	}
	if ex == nil {
		res.AlreadyDone = true
		return res, nil
	}
	stats, err := ex.compactAll(ctx)
	if err != nil {
		return nil, err
	}
	// Logs written to the planned groups' old slices after the plan was
	// made move into the new slices before T completes.
	for _, op := range ex.plan.Operations {
		n, err := ex.carryOver(ctx, op)
		if err != nil {
			return nil, err
		}
		res.CarriedLogs += n
	}
	for _, s := range stats {
		res.add(s)
	}
	if res.AlreadyDone, err = ex.complete(ctx, stats); err != nil {
		return nil, err
	}
	if !res.AlreadyDone {
		res.Duration = time.Since(start)
	}
	return res, nil
}

// begin loads the compaction instant from tbl's refreshed timeline, moves
// it to inflight and prepares its execution. It returns nil for a
// completed instant.
func begin(ctx context.Context, tbl *table.Table, instant string, opts Options) (*execution, error) {
	if err := tbl.Refresh(ctx); err != nil {
		return nil, err
	}
	tl, err := tbl.Timeline(ctx)
	if err != nil {
		return nil, err
	}
	inst, ok := tl.Find(instant)
	if !ok || !tl.IsCompaction(instant) {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchPlan, instant)
	}
	if inst.State == timeline.Completed {
		return nil, nil
	}
	ex := &execution{tbl: tbl, st: tbl.Storage(), opts: opts}
	if ex.plan, err = filegroup.ReadCompactionPlan(ctx, ex.st, instant); err != nil {
		return nil, err
	}
	if ex.tx, err = timeline.Resume(ex.st, inst); err != nil {
		return nil, fmt.Errorf("compactor: %w", err)
	}
	if inst.State == timeline.Requested {
		// ErrInstantExists: another executor got there; inflight all the same.
		if err := ex.tx.Inflight(ctx, nil); err != nil && !errors.Is(err, timeline.ErrInstantExists) {
			return nil, fmt.Errorf("compactor: %w", err)
		}
	}
	if err := ex.loadSchema(ctx, tl); err != nil {
		return nil, err
	}
	return ex, nil
}

// loadSchema reads the table schema as of tl's latest commit and sets the
// merge options: blocks of completed instants before T.
func (ex *execution) loadSchema(ctx context.Context, tl *timeline.Timeline) error {
	cfg := ex.tbl.Config()
	js, err := table.SchemaAsOf(ctx, ex.st, tl, "", cfg)
	if err != nil {
		return err
	}
	if js == "" {
		return fmt.Errorf("compactor: table %s has no schema", cfg.Name)
	}
	sch, err := schema.ParseAvro([]byte(js))
	if err != nil {
		return fmt.Errorf("compactor: table schema: %w", err)
	}
	T := ex.tx.InstantTime()
	visible := tl.Visible("")
	ex.avroSchema, ex.schema = js, sch
	ex.merge = merge.Options{
		Include:         func(ts string) bool { return ts < T && visible(ts) },
		PrecombineField: cfg.PrecombineField,
		PayloadDefault:  cfg.PayloadClass == table.PayloadDefault,
		Target:          sch.ToArrowWithMeta(),
	}
	return nil
}

// compactAll compacts every operation of the plan, opts.Parallelism at a
// time, and returns their write stats in plan order.
func (ex *execution) compactAll(ctx context.Context) ([]timeline.WriteStat, error) {
	T := ex.tx.InstantTime()
	ops := ex.plan.Operations
	stats := make([]timeline.WriteStat, len(ops))
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(ex.opts.Parallelism)
	for i, op := range ops {
		g.Go(func() error {
			s, err := ex.compactOne(gctx, i, op)
			if err != nil {
				return fmt.Errorf("compactor: %s file group %s/%s: %w", T, deref(op.PartitionPath), deref(op.FileID), err)
			}
			stats[i] = *s
			if ex.opts.Progress != nil {
				ex.opts.Progress("compaction "+T, done.Add(1), int64(len(ops)))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return stats, nil
}

// complete writes T's commit (compacted: true, the table schema, stats) and
// deletes its markers. It reports true when a racing executor completed T
// first: the same files, one commit.
func (ex *execution) complete(ctx context.Context, stats []timeline.WriteStat) (already bool, err error) {
	T := ex.tx.InstantTime()
	md := &timeline.CommitMetadata{Compacted: true, OperationType: timeline.OpCompact,
		ExtraMetadata: map[string]string{timeline.SchemaKey: ex.avroSchema}}
	for _, s := range stats {
		md.AddStat(s)
	}
	b, err := md.Marshal()
	if err != nil {
		return false, err
	}
	// Hudi's metadata table records the new base files first.
	mdt, err := metadata.For(ctx, ex.tbl, metadata.Options{})
	if err != nil {
		return false, fmt.Errorf("compactor: %w", err)
	}
	if mdt != nil {
		if err := mdt.Commit(ctx, T, md); err != nil {
			return false, fmt.Errorf("compactor: %s: %w", T, err)
		}
	}
	if err := ex.tx.Complete(ctx, b); err != nil {
		if ex.tbl.Refresh(ctx) == nil {
			if tl, lerr := ex.tbl.Timeline(ctx); lerr == nil && tl.IsCompleted(T) {
				return true, nil
			}
		}
		return false, fmt.Errorf("compactor: complete %s: %w", T, err)
	}
	_ = ex.tx.Finish(ctx) // leftovers are harmless; the cleaner's concern
	return false, nil
}
