package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/ingest"
	"github.com/hoodie-lake/hoodie/internal/keygen"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// IngestOptions configure Ingest. The zero value of every field but
// Inputs is a usable default.
type IngestOptions struct {
	// Location is the table's location as the caller knows it (a path,
	// file:// or s3:// URI). It names the table in results and errors, and
	// keys the default record-key index directory when
	// Writer.IndexLocation is empty (tables outside the local filesystem
	// need one of Writer.IndexDir, Writer.IndexLocation or Location).
	Location string
	// Inputs are the files, directories (walked in name order) and "-"
	// (Stdin) to read, in order. Required.
	Inputs []string
	// Format reads every input as one format. Default FormatAuto: each
	// file's format from its extension, JSON for standard input.
	Format Format
	// Stdin is what the input "-" reads. Default os.Stdin.
	Stdin io.Reader
	// Op is the write operation: writer.OpUpsert (default), OpInsert,
	// OpBulkInsert or OpDelete (by key: the input needs the record key
	// fields; on a partitioned table an input file without the partition
	// fields has each key's partitions looked up in the record-key index).
	Op writer.Operation
	// CommitEvery commits after every CommitEvery records (exactly, so a
	// commit may end inside a batch of the reader). Default 0: one commit
	// for the whole run.
	CommitEvery int
	// Strict fails the run on the first rejected row instead of writing it
	// to Rejects; nothing since the last commit is written.
	Strict bool
	// InferDates infers new string columns whose values are all ISO-8601
	// dates as date, and all dates or timestamps as timestamp (UTC, µs).
	InferDates bool
	// SourceID names standard input in checkpoints (a replayable stream),
	// so that a later run skips the lines committed. Default "": standard
	// input is not checkpointed.
	SourceID string
	// NoResume reads every input from its first line, whatever the
	// table's checkpoint says (the checkpoint keeps the other inputs).
	NoResume bool
	// Create creates the table when the location holds none; nil: the
	// table must exist. A run that creates the table and commits nothing
	// removes it again. Ignored for OpDelete.
	Create *table.CreateOptions
	// Writer configures the table's writer (index, file sizes,
	// concurrency). IndexLocation defaults to Location.
	Writer writer.Options
	// Rejects receives the rejected rows as JSON Lines, one RejectedRow a
	// line, as they are found; nil drops them (they are still counted, and
	// reported to Events.Rejected).
	Rejects io.Writer
	// Archive runs after each commit: once the active timeline holds more
	// than Archive.MaxToKeep completed commits, the oldest move to the
	// archived timeline (Hudi's hoodie.archive.automatic, on by default),
	// so the timeline every commit lists stays bounded however long the
	// run. Defaults are cleaner.ArchiveOptions'. A failed archival is a
	// warning (Events.Note): the commit stands. NoArchive turns it off.
	Archive   cleaner.ArchiveOptions
	NoArchive bool
	// Events receives the run's progress.
	Events EventListener
}

// EnsureDefaults fills the zero fields that have defaults.
func (o *IngestOptions) EnsureDefaults() {
	c := o.common()
	c.defaults()
	o.Stdin, o.Writer, o.Archive = c.stdin, c.wopts, c.archive
}

// Validate checks the options.
func (o *IngestOptions) Validate() error {
	if err := o.common().validate(); err != nil {
		return fmt.Errorf("pipeline: ingest: %w", err)
	}
	if _, err := o.Format.parse(); err != nil {
		return fmt.Errorf("pipeline: ingest: Format: %w", err)
	}
	switch o.Op {
	case writer.OpUpsert, writer.OpInsert, writer.OpBulkInsert, writer.OpDelete:
	default:
		return fmt.Errorf("pipeline: ingest: Op %d: want upsert, insert, bulk_insert or delete", o.Op)
	}
	if o.CommitEvery < 0 {
		return fmt.Errorf("pipeline: ingest: CommitEvery %d must not be negative", o.CommitEvery)
	}
	return nil
}

func (o *IngestOptions) common() *common {
	return &common{location: o.Location, inputs: o.Inputs, stdin: o.Stdin, sourceID: o.SourceID, noResume: o.NoResume,
		strict: o.Strict, create: o.Create, wopts: o.Writer, rejects: o.Rejects, ev: o.Events,
		archive: o.Archive, noArchive: o.NoArchive}
}

// IngestResult is what an Ingest run did.
type IngestResult struct {
	Location string
	// Created: the run created the table (and committed to it).
	Created bool
	// Inputs is the number of input files read or skipped as Unchanged or
	// Empty; FilesSkipped counts the files of directories not read (hidden,
	// or not an input format).
	Inputs       int
	Unchanged    int // read to their end by earlier runs: skipped
	Empty        int
	FilesSkipped int
	// Records are the good records read (buffered for writing); Rejected
	// the rows rejected.
	Records  int64
	Rejected int64
	// KeysNotFound counts keys to delete (OpDelete of inputs without the
	// partition fields) that the table does not hold.
	KeysNotFound int64
	CommitTally
	Duration time.Duration
}

// Ingest reads opts.Inputs and writes them to the table of st with
// opts.Op, creating the table from opts.Create if st holds none. It
// commits every opts.CommitEvery records and at the end, each commit with
// the checkpoint of the inputs read so far, so that a later run of the
// same inputs resumes after what was committed. Rejected rows go to
// opts.Rejects and are counted in the result; deciding whether they are
// too many is the caller's. On error, nothing since the last commit is
// written and the result is nil.
func Ingest(ctx context.Context, st storage.Storage, opts IngestOptions) (*IngestResult, error) {
	start := time.Now()
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	res, err := ingestRunOf(&opts).do(ctx, st)
	if err != nil {
		return nil, wrapErr("ingest", err)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// wrapErr prefixes err with "pipeline: <verb>: " (only "pipeline: " when
// err already names the verb, as the input readers' errors do; nothing
// when it is one of this package's sentinels).
func wrapErr(verb string, err error) error {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "pipeline: "):
		return err
	case strings.HasPrefix(msg, verb+": "):
		return fmt.Errorf("pipeline: %w", err)
	}
	return fmt.Errorf("pipeline: %s: %w", verb, err)
}

// ingestRun is the state of one Ingest call.
type ingestRun struct {
	run
	op          writer.Operation
	format      ingest.Format
	commitEvery int64
	inferDates  bool
	kind        keygen.Kind
	res         *IngestResult
	resolver    *partitionResolver
	pending     int64 // records buffered since the last commit
}

func ingestRunOf(o *IngestOptions) *ingestRun {
	f, _ := o.Format.parse() // validated
	res := &IngestResult{Location: o.Location}
	return &ingestRun{run: run{common: *o.common(), verb: "ingest", tally: &res.CommitTally},
		op: o.Op, format: f, commitEvery: int64(o.CommitEvery), inferDates: o.InferDates, res: res}
}

// do runs the ingest: inputs, table, writer, every input, the last commit;
// a table the run created and did not commit to is removed.
func (r *ingestRun) do(ctx context.Context, st storage.Storage) (*IngestResult, error) {
	sources, skipped, err := r.listInputs(r.format)
	if err != nil {
		return nil, err
	}
	r.res.Inputs, r.res.FilesSkipped = len(sources), skipped
	if err := r.openOrCreate(ctx, st, r.op == writer.OpDelete); err != nil {
		return nil, err
	}
	err = r.ingestAll(ctx, sources)
	r.close()
	if err = r.finishCreated(ctx, err); err != nil {
		return nil, err
	}
	r.res.Created, r.res.Rejected = r.created, r.rejected
	return r.res, nil
}

// ingestAll reads every source and commits.
func (r *ingestRun) ingestAll(ctx context.Context, sources []source) error {
	var err error
	if r.kind, err = keygen.KindFromClass(r.cfg.KeyGeneratorClass()); err != nil {
		return err
	}
	if r.op == writer.OpDelete && r.cfg.IsPartitioned() {
		if r.resolver, err = r.newPartitionResolver(ctx, sources); err != nil {
			return err
		}
	}
	insertOp := ""
	switch r.op {
	case writer.OpInsert:
		insertOp = "insert"
	case writer.OpBulkInsert:
		insertOp = "bulk_insert"
	}
	if err := r.openWriter(ctx, insertOp); err != nil {
		return err
	}
	for _, src := range sources {
		if err := r.source(ctx, src); err != nil {
			return err
		}
	}
	if r.ev.InputsDone != nil {
		r.ev.InputsDone()
	}
	return r.commitNow(ctx)
}

// readerOptions are the input readers' options: the writer's schema as
// the hint of the columns' types, when there is a writer.
func (r *ingestRun) readerOptions() ingest.Options {
	opts := ingest.Options{InferDates: r.inferDates}
	if r.w != nil {
		if s := r.w.Schema(); s != nil {
			opts.Hint = s
		}
	}
	return opts
}

// commitNow commits the buffered records with the checkpoint of the
// inputs read.
func (r *ingestRun) commitNow(ctx context.Context) error {
	r.pending = 0
	return r.commit(ctx)
}

// input is the state of reading one source.
type input struct {
	src    source
	tr     *inputTracker
	gens   map[*arrow.Schema]*keygen.Generator
	warned bool  // the default-partition warning was given
	rows   int64 // rows read (good and bad)
}

// source reads one input: bad rows are rejected, the rest buffered,
// committing after every CommitEvery records.
func (r *ingestRun) source(ctx context.Context, src source) error {
	tr, skip, err := r.rs.start(src, checkpointID(src, r.sourceID))
	if err != nil {
		return err
	}
	if skip {
		r.res.Unchanged++
		return nil
	}
	defer func() {
		if tr != nil && !tr.ended && !tr.moved {
			r.rs.drop(tr)
		}
	}()
	rd, closeFn, err := r.openSource(src, r.readerOptions(), true)
	if errors.Is(err, ingest.ErrEmpty) {
		r.rs.drop(tr)
		r.res.Empty++
		r.ev.note(Notice, "%s is empty: nothing to ingest", displayName(src.path))
		return nil
	}
	if err != nil {
		r.rs.drop(tr)
		return err
	}
	defer closeFn()
	in := &input{src: src, tr: tr, gens: map[*arrow.Schema]*keygen.Generator{}}
	for {
		b, err := rd.Next()
		if errors.Is(err, io.EOF) {
			if in.rows == 0 && (tr == nil || tr.done == 0) {
				r.ev.note(Notice, "%s holds no records", displayName(src.path))
			}
			return r.rs.finish(tr, rd.Position())
		}
		if err != nil {
			return err
		}
		if err := r.batch(ctx, in, b, rd.Position()); err != nil {
			return err
		}
	}
}

// batch takes one batch of an input: the lines earlier runs committed are
// dropped, bad rows rejected, the good ones buffered.
func (r *ingestRun) batch(ctx context.Context, in *input, b *ingest.Batch, pos ingest.Position) error {
	b, bad, err := skipDone(ctx, in.tr, b)
	if err != nil {
		return err
	}
	in.rows += int64(len(b.Lines) + len(bad))
	var keep []int64
	rec, resolve := b.Rec, false
	if rec != nil {
		if rec, resolve, err = r.partitionFields(in, rec); err != nil {
			return err
		}
		defer rec.Release()
		gen, err := r.generator(in, rec.Schema(), resolve)
		if err != nil {
			return err
		}
		var more []ingest.BadRow
		keep, more = r.check(in.src.path, b.Lines, rec, gen)
		bad = append(bad, more...)
	}
	if len(bad) > 0 {
		sort.SliceStable(bad, func(i, j int) bool { return bad[i].Line < bad[j].Line })
		if err := r.reject(bad); err != nil {
			return err
		}
	}
	return r.buffer(ctx, in, b, rec, keep, resolve, pos)
}

// partitionFields handles rows without the partition fields: deletes
// have their partitions looked up (resolve), other rows get null
// partition values (the default partition), with a warning. It returns
// the record to use; on error rec is released.
func (r *ingestRun) partitionFields(in *input, rec arrow.RecordBatch) (arrow.RecordBatch, bool, error) {
	miss := missingFields(rec.Schema(), r.cfg.PartitionFields)
	if len(miss) == 0 {
		return rec, false, nil
	}
	if r.op == writer.OpDelete {
		if r.resolver == nil || !r.resolver.inputs[in.src.path] {
			rec.Release()
			return nil, false, fmt.Errorf("%s: --op delete: the input has no partition field %s, and keys are looked up in the index only for files: give the partition fields",
				displayName(in.src.path), strings.Join(miss, ","))
		}
		return rec, true, nil
	}
	if slices.ContainsFunc(miss, func(n string) bool { return strings.Contains(n, ".") }) {
		return rec, false, nil // the key generator reports the nested field
	}
	if !in.warned {
		in.warned = true
		r.ev.note(Warning, "%s has no partition field %s: its rows go to the default partition %s, as Hudi writes rows without a partition value",
			displayName(in.src.path), strings.Join(miss, ","), keygen.DefaultPartition)
	}
	return withNullColumns(rec, miss, r.w.Schema()), false, nil
}

// generator is the key generator of the input's batches of schema sch
// (without partition fields when they are looked up).
func (r *ingestRun) generator(in *input, sch *arrow.Schema, resolve bool) (*keygen.Generator, error) {
	if gen, ok := in.gens[sch]; ok {
		return gen, nil
	}
	cfg := r.cfg
	kc := keygen.Config{RecordKeyFields: cfg.RecordKeyFields, PartitionFields: cfg.PartitionFields,
		Kind: r.kind, HiveStyle: cfg.HiveStylePartitioning, URLEncode: cfg.URLEncodePartitioning,
		Timestamp: keygen.TimestampOptions(cfg.Timestamp)}
	if resolve {
		kc = keygen.Config{RecordKeyFields: cfg.RecordKeyFields, Kind: keygen.NonPartitioned}
	}
	gen, err := keygen.New(kc, sch)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", displayName(in.src.path), err)
	}
	in.gens[sch] = gen
	return gen, nil
}

// check returns the rows of rec to keep and the bad ones: a string that
// is not UTF-8, a key that cannot be built, a missing or null precombine
// value (not for deletes).
func (r *ingestRun) check(src string, lines []int64, rec arrow.RecordBatch, gen *keygen.Generator) ([]int64, []ingest.BadRow) {
	var bad []ingest.BadRow
	isBad := map[int]bool{}
	mark := func(i int, field, reason string) {
		if !isBad[i] {
			isBad[i] = true
			bad = append(bad, ingest.BadRow{Source: src, Line: lines[i], Field: field, Reason: reason})
		}
	}
	// Strings are UTF-8 or refused (the readers refuse such CSV and JSON
	// rows; this catches Parquet strings and the rest).
	for _, ue := range arrowutil.InvalidUTF8Rows(rec) {
		isBad[ue.Row] = true
		bad = append(bad, ingest.BadRow{Source: src, Line: lines[ue.Row], Field: ue.Field, Reason: ue.Reason()})
	}
	_, _, rowErrs := gen.KeysLenient(rec)
	for _, re := range rowErrs {
		mark(re.Row, re.Field, re.Reason)
	}
	if r.op != writer.OpDelete {
		pre := r.cfg.PrecombineField
		if col := arrowutil.Column(rec, pre); col == nil {
			for i := range lines {
				mark(i, pre, "precombine field is missing")
			}
		} else {
			for i := 0; i < col.Len(); i++ {
				if col.IsNull(i) {
					mark(i, pre, "precombine field is null")
				}
			}
		}
	}
	var keep []int64
	for i := range lines {
		if !isBad[i] {
			keep = append(keep, int64(i))
		}
	}
	return keep, bad
}

// buffer buffers the rows keep of rec, committing whenever CommitEvery
// records are buffered (so a commit may end inside the batch), and moves
// the input's checkpoint to pos, the end of the batch.
func (r *ingestRun) buffer(ctx context.Context, in *input, b *ingest.Batch, rec arrow.RecordBatch, keep []int64, resolve bool, pos ingest.Position) error {
	every := r.commitEvery
	for start := 0; start < len(keep); {
		n := len(keep) - start
		if every > 0 {
			n = int(min(int64(n), every-r.pending))
		}
		chunk := keep[start : start+n]
		if err := r.bufferRows(ctx, in.src, rec, chunk, resolve); err != nil {
			return err
		}
		start += n
		if every > 0 && r.pending >= every {
			if start < len(keep) {
				last := chunk[n-1]
				r.rs.advance(in.tr, b.Lines[last], b.Ends[last])
			} else {
				r.rs.advance(in.tr, pos.Line, pos.Offset)
			}
			if err := r.commitNow(ctx); err != nil {
				return err
			}
		}
	}
	r.rs.advance(in.tr, pos.Line, pos.Offset)
	return nil
}

// bufferRows buffers the rows of rec with the chosen operation (deletes
// without partition fields get them from the index first).
func (r *ingestRun) bufferRows(ctx context.Context, src source, rec arrow.RecordBatch, rows []int64, resolve bool) error {
	good, err := arrowutil.Take(ctx, rec, rows)
	if err != nil {
		return err
	}
	if resolve {
		var notFound int64
		good, notFound, err = r.resolver.apply(ctx, good)
		if err != nil {
			return fmt.Errorf("%s: %w", displayName(src.path), err)
		}
		r.res.KeysNotFound += notFound
	}
	if good != nil {
		err = bufferOp(r.w, r.op, good)
		good.Release()
		if err != nil {
			return fmt.Errorf("%s: %w", displayName(src.path), err)
		}
	}
	n := int64(len(rows))
	r.res.Records += n
	r.pending += n
	dels := int64(0)
	if r.op == writer.OpDelete {
		dels = n
	}
	r.ev.buffered(n, dels)
	return nil
}

func bufferOp(w *writer.Writer, op writer.Operation, rec arrow.RecordBatch) error {
	switch op {
	case writer.OpInsert:
		return w.Insert(rec)
	case writer.OpBulkInsert:
		return w.BulkInsert(rec)
	case writer.OpDelete:
		return w.Delete(rec)
	}
	return w.Upsert(rec)
}
