// Package reader reads Hudi tables written by hoodie or by Hudi itself into
// Arrow record batches: the snapshot of the latest file slices, the
// read-optimized view (base files only), time travel (as of an instant) and
// incremental reads (records changed in an instant range).
//
// Every batch has the table's latest schema with the five Hudi meta
// columns first; rows of older files get nulls for columns added since.
// Merge-on-read snapshot reads merge each file slice's log blocks into its
// base file as Hudi does (see internal/merge); the read-optimized view reads
// base files only. Incremental reads of merge-on-read tables do what Hudi's
// incremental relation does: only the files written by the commits of the
// range are read (a base file written before the range is not merged with
// the range's log records), and the merged records are filtered to the
// range — so a late log record of the range shows up even where the
// snapshot keeps the newer base record.
//
// Open the table with table.OpenForRead: it also opens tables that keep
// Hudi metadata table partitions hoodie does not write. For a table that
// keeps a metadata table with its files partition (Spark's default), the
// file-system view comes from it, as Spark's reader lists such a table
// (Options.Listing); otherwise from listing storage outside .hoodie/. Either
// way the files are checked against the data table's timeline.
//
//	tbl, err := table.OpenForRead(ctx, st)
//	batches, err := reader.ReadAll(ctx, tbl, reader.Options{})
package reader

import (
	"context"
	"errors"
	"fmt"
	"github.com/hoodie-lake/hoodie/filegroup"
	"iter"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/merge"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// ErrUnsupported reports a read this package cannot do.
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
	// Listing says where the file-system view's files come from.
	// Default (ListingAuto): Hudi's metadata table when the table keeps
	// one (its files partition), as Spark reads by default; storage
	// otherwise.
	Listing Listing
}

// Listing is where a read lists the table's files.
type Listing int

// Listings.
const (
	// ListingAuto lists through the metadata table when the table keeps
	// one, else storage.
	ListingAuto Listing = iota
	// ListingStorage lists storage (one LIST of the table), as hudi-rs
	// and Trino do for v6 tables.
	ListingStorage
	// ListingMetadataTable lists through the metadata table; a table
	// without one is an error.
	ListingMetadataTable
)

// Snapshot is a planned read: the files to read and the schema of the
// batches.
type Snapshot struct {
	st     storage.Storage
	cfg    *table.Config
	tl     *timeline.Timeline
	opts   Options
	View   *filegroup.View
	Files  []filegroup.BaseFileInfo // base files of the read (COW, read-optimized, or MOR slices without logs)
	Merged []*filegroup.FileSlice   // MOR slices with log files, merged on read
	Schema *arrow.Schema            // with meta columns
	// TableSchema is the table schema (data columns), nil before the first
	// commit; AvroSchema is the same as the Avro JSON of the commit metadata.
	TableSchema *arrow.Schema
	AvroSchema  string
}

// NeedsMerge reports whether the read merges log files (a merge-on-read
// snapshot with logs): then Files alone is not the table's content.
func (s *Snapshot) NeedsMerge() bool { return len(s.Merged) > 0 }

// Plan builds the file-system view and picks the files of the read.
func Plan(ctx context.Context, tbl *table.Table, opts Options) (*Snapshot, error) {
	st := tbl.Storage()
	cfg := tbl.Config()
	tl, err := timeline.Load(ctx, st)
	if err != nil {
		return nil, err
	}
	vo := filegroup.ViewOptions{AsOf: opts.AsOf}
	if vo.Files, err = listFiles(ctx, st, cfg, tl, opts.Listing); err != nil {
		return nil, err
	}
	view, err := filegroup.BuildView(ctx, st, tl, vo)
	if err != nil {
		return nil, err
	}
	js, err := table.SchemaAsOf(ctx, st, tl, view.AsOf, cfg)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{st: st, cfg: cfg, tl: tl, opts: opts, View: view}
	slices := view.LatestSlices()
	if opts.BeginExclusive != "" && cfg.Type == table.MergeOnRead && !opts.ReadOptimized {
		if slices, err = affectedSlices(ctx, st, tl, slices, opts.BeginExclusive, view.AsOf); err != nil {
			return nil, err
		}
	}
	for _, sl := range slices {
		switch {
		case cfg.Type == table.MergeOnRead && !opts.ReadOptimized && len(sl.Logs) > 0:
			s.Merged = append(s.Merged, sl)
		case sl.Base != nil:
			s.Files = append(s.Files, *sl.Base)
		}
	}
	if js != "" {
		sch, err := schema.ParseAvro([]byte(js))
		if err != nil {
			return nil, fmt.Errorf("reader: table schema: %w", err)
		}
		s.Schema = sch.ToArrowWithMeta()
		s.TableSchema, s.AvroSchema = sch.ToArrow(), sch.AvroJSON()
	}
	if s.Schema == nil && len(s.Merged) > 0 {
		return nil, fmt.Errorf("%w: merge-on-read snapshot without a table schema", ErrUnsupported)
	}
	return s, nil
}

// listFiles is the file list of the view, nil to list storage.
func listFiles(ctx context.Context, st storage.Storage, cfg *table.Config, tl *timeline.Timeline, l Listing) (map[string]map[string]int64, error) {
	if l == ListingStorage {
		return nil, nil
	}
	m, err := metadata.OpenForRead(st, cfg)
	if errors.Is(err, metadata.ErrNotEnabled) && l == ListingAuto {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reader: %w", err)
	}
	lst, err := m.Listing(ctx, tl)
	if err != nil {
		return nil, fmt.Errorf("reader: list through the metadata table (Options.Listing = ListingStorage lists storage instead): %w", err)
	}
	return lst.Files, nil
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
		for _, sl := range s.Merged {
			for rec, err := range s.MergedSlice(ctx, sl) {
				if err != nil {
					yield(nil, fmt.Errorf("reader: file group %s: %w", sl.FileGroupID, err))
					return
				}
				out, err := s.shape(ctx, rec, s.Schema)
				rec.Release()
				if err != nil {
					yield(nil, fmt.Errorf("reader: file group %s: %w", sl.FileGroupID, err))
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

// affectedSlices restricts the latest slices to the files written by the
// commits in (begin, end], as Hudi's incremental relation on merge-on-read
// tables builds its file-system view from those commits' write stats: a
// base file written before the range is not read (its slice's logs of the
// range are merged on their own), nor are logs written before the range.
//
// A write stat's path is the file it wrote. Its logFiles list is not only
// new files: Hudi's append handle lists every log file of the slice, the
// earlier ones included, while hoodie lists the log versions it wrote
// (several when a write rolls over to a new version). So a logFiles entry
// counts as written in the range unless a commit at or before begin lists
// it too.
func affectedSlices(ctx context.Context, st storage.Storage, tl *timeline.Timeline, slices []*filegroup.FileSlice, begin, end string) ([]*filegroup.FileSlice, error) {
	withDir := func(ws timeline.WriteStat, name string) string {
		if ws.PartitionPath != "" {
			return ws.PartitionPath + "/" + name
		}
		return name
	}
	affected := map[string]bool{}
	candidates := map[string]bool{} // logFiles entries other than a stat's path
	oldest := ""                    // smallest base instant among the candidates
	for _, c := range tl.CompletedCommits() {
		if c.Timestamp <= begin || c.Timestamp > end {
			continue
		}
		md, err := timeline.ReadCommitMetadata(ctx, st, c)
		if err != nil {
			return nil, fmt.Errorf("reader: incremental: %w", err)
		}
		for _, ws := range md.Stats() {
			if ws.Path != "" {
				affected[ws.Path] = true
			}
			for _, n := range ws.LogFiles {
				p := withDir(ws, n)
				if p == ws.Path {
					continue
				}
				candidates[p] = true
				if lf, err := filegroup.ParseLogFileName(n); err == nil && (oldest == "" || lf.BaseInstant < oldest) {
					oldest = lf.BaseInstant
				}
			}
		}
	}
	if len(candidates) > 0 {
		// Logs listed by commits up to begin were written before the range
		// (a log is written at or after its slice's base instant).
		for _, c := range tl.CompletedCommits() {
			if c.Timestamp > begin || (oldest != "" && c.Timestamp < oldest) {
				continue
			}
			md, err := timeline.ReadCommitMetadata(ctx, st, c)
			if err != nil {
				return nil, fmt.Errorf("reader: incremental: %w", err)
			}
			for _, ws := range md.Stats() {
				delete(candidates, ws.Path)
				for _, n := range ws.LogFiles {
					delete(candidates, withDir(ws, n))
				}
			}
		}
		for p := range candidates {
			affected[p] = true
		}
	}
	var out []*filegroup.FileSlice
	for _, sl := range slices {
		r := &filegroup.FileSlice{FileGroupID: sl.FileGroupID, BaseInstant: sl.BaseInstant}
		if sl.Base != nil && affected[sl.Base.Path] {
			r.Base = sl.Base
		}
		for _, l := range sl.Logs {
			if affected[l.Path] {
				r.Logs = append(r.Logs, l)
			}
		}
		if r.Base != nil || len(r.Logs) > 0 {
			out = append(out, r)
		}
	}
	return out, nil
}

// MergedSlice yields the merged records of one of the snapshot's Merged
// slices (base file with its log files applied), unfiltered.
func (s *Snapshot) MergedSlice(ctx context.Context, sl *filegroup.FileSlice) iter.Seq2[arrow.RecordBatch, error] {
	mo := merge.Options{
		Include:         s.tl.Visible(s.View.AsOf),
		PrecombineField: s.cfg.PrecombineField,
		PayloadDefault:  s.cfg.PayloadClass == table.PayloadDefault,
		Target:          s.Schema,
		BatchRows:       s.opts.BatchRows,
	}
	return merge.Slice(ctx, s.st, sl, mo, nil)
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

// ReadAll plans and reads a whole table into memory. A file that vanishes
// during the read (a concurrent rollback of a failed write, or a cleaner
// removing a superseded slice) makes it plan and read again, up to three
// times.
func ReadAll(ctx context.Context, tbl *table.Table, opts Options) ([]arrow.RecordBatch, error) {
	for attempt := 0; ; attempt++ {
		out, err := readAll(ctx, tbl, opts)
		if err != nil && errors.Is(err, storage.ErrNotExist) && attempt < 3 {
			continue
		}
		return out, err
	}
}

func readAll(ctx context.Context, tbl *table.Table, opts Options) ([]arrow.RecordBatch, error) {
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
