// Package reader reads Hudi tables written by hoodie or by Hudi itself into
// Arrow record batches: the snapshot of the latest file slices, the
// read-optimized view (base files only), time travel (as of an instant) and
// incremental reads (records changed in an instant range).
//
// Every batch has the table's latest schema with the five Hudi meta
// columns first; rows of older files get nulls for columns added since.
// Merge-on-read snapshot reads need the log reader and are refused with
// ErrUnsupported; their read-optimized view works.
package reader

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/internal/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// ErrUnsupported reports a read this package cannot do yet.
var ErrUnsupported = errors.New("reader: unsupported")

// Options select what to read.
type Options struct {
	// AsOf reads the table as of this completed instant (time travel).
	// Default: the latest completed commit.
	AsOf string
	// ReadOptimized reads only base files (the _ro view of MOR tables).
	ReadOptimized bool
	// BeginExclusive, when set, makes the read incremental: only records
	// whose _hoodie_commit_time is after it (and at or before AsOf).
	BeginExclusive string
	// BatchRows bounds rows per batch. Default: the base file reader's.
	BatchRows int
}

// Snapshot is a planned read: the files to read and the schema of the
// batches.
type Snapshot struct {
	st     storage.Storage
	opts   Options
	View   *table.View
	Files  []table.BaseFileInfo
	Schema *arrow.Schema // with meta columns
}

// Plan builds the file-system view and picks the files of the read.
func Plan(ctx context.Context, tbl *table.Table, opts Options) (*Snapshot, error) {
	st := tbl.Storage()
	cfg := tbl.Config()
	tl, err := timeline.Load(ctx, st)
	if err != nil {
		return nil, err
	}
	view, err := table.BuildView(ctx, st, tl, table.ViewOptions{AsOf: opts.AsOf})
	if err != nil {
		return nil, err
	}
	if cfg.Type == table.MergeOnRead && !opts.ReadOptimized {
		for _, s := range view.LatestSlices() {
			if len(s.Logs) > 0 {
				return nil, fmt.Errorf("%w: snapshot read of merge-on-read file group %s with log files (use the read-optimized view)", ErrUnsupported, s.FileGroupID)
			}
		}
	}
	js, err := table.SchemaAsOf(ctx, st, tl, view.AsOf, cfg)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{st: st, opts: opts, View: view, Files: view.LatestBaseFiles()}
	if js != "" {
		sch, err := schema.ParseAvro([]byte(js))
		if err != nil {
			return nil, fmt.Errorf("reader: table schema: %w", err)
		}
		s.Schema = sch.ToArrowWithMeta()
	}
	return s, nil
}

// Records yields the planned read's batches. Each must be released.
func (s *Snapshot) Records(ctx context.Context) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for _, f := range s.Files {
			ra, err := storage.NewReaderAt(ctx, s.st, f.Path)
			if err != nil {
				yield(nil, err)
				return
			}
			rd, err := basefile.Open(ra, ra.Size())
			if err != nil {
				yield(nil, fmt.Errorf("reader: %s: %w", f.Path, err))
				return
			}
			target := s.Schema
			if target == nil {
				target = rd.Schema()
			}
			for rec, err := range rd.Records(ctx, s.opts.BatchRows, nil) {
				if err != nil {
					yield(nil, fmt.Errorf("reader: %s: %w", f.Path, err))
					return
				}
				out, err := s.shape(ctx, rec, target)
				rec.Release()
				if err != nil {
					yield(nil, fmt.Errorf("reader: %s: %w", f.Path, err))
					return
				}
				if out.NumRows() == 0 {
					out.Release()
					continue
				}
				if !yield(out, nil) {
					out.Release()
					return
				}
			}
		}
	}
}

// shape conforms a batch to the read schema and applies the incremental
// filter.
func (s *Snapshot) shape(ctx context.Context, rec arrow.RecordBatch, target *arrow.Schema) (arrow.RecordBatch, error) {
	out, err := arrowutil.Conform(rec, target)
	if err != nil {
		return nil, err
	}
	if s.opts.BeginExclusive == "" {
		return out, nil
	}
	ct, ok := arrowutil.Column(out, schema.CommitTimeField).(*array.String)
	if !ok {
		out.Release()
		return nil, fmt.Errorf("reader: incremental read needs %s", schema.CommitTimeField)
	}
	var rows []int64
	for i := 0; i < ct.Len(); i++ {
		if v := ct.Value(i); ct.IsValid(i) && v > s.opts.BeginExclusive && v <= s.View.AsOf {
			rows = append(rows, int64(i))
		}
	}
	sel, err := arrowutil.Take(ctx, out, rows)
	out.Release()
	return sel, err
}

// ReadAll plans and reads a whole table into memory.
func ReadAll(ctx context.Context, tbl *table.Table, opts Options) ([]arrow.RecordBatch, error) {
	s, err := Plan(ctx, tbl, opts)
	if err != nil {
		return nil, err
	}
	var out []arrow.RecordBatch
	for rec, err := range s.Records(ctx) {
		if err != nil {
			for _, r := range out {
				r.Release()
			}
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}
