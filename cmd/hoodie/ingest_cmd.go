package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hoodie-lake/hoodie/index"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/ingest"
	"github.com/hoodie-lake/hoodie/internal/keygen"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
	"github.com/spf13/cobra"
)

type ingestArgs struct {
	location    string
	format      string
	op          string
	commitEvery int
	errorsPath  string
	strict      bool
	maxErrors   errorBudget
	inferDates  bool
	indexDir    string
	sourceID    string
	noResume    bool
	metricsAddr string
	create      createArgs
	concurrency concurrencyValue
}

// ingestSummary is what ingest counts; --output json prints it as
// ingestOutput.
type ingestSummary struct {
	Table        string
	Created      bool
	Inputs       int
	Unchanged    int // skipped: read to their end by earlier runs
	Empty        int
	SkippedFiles int // in directories: hidden, or not an input format
	Records      int64
	Bad          int64
	Errors       string // the errors file; "" when no row was rejected
	commitTally
	KeysNotFound int64 // --op delete of keys without partition fields
	Seconds      float64
}

func newIngestCmd(g *globalFlags) *cobra.Command {
	a := &ingestArgs{}
	cmd := &cobra.Command{
		Use:   "ingest --table LOCATION [create flags] FILE|DIR|- ...",
		Short: "Upsert (or insert, bulk insert, delete) JSON Lines, JSON arrays, CSV or Parquet files into a table",
		Long: `ingest reads JSON (JSON Lines, or one JSON array of objects, possibly pretty-printed), CSV and
Parquet files (format from the extension, or --format), directories of them, or standard input
("-", JSON unless --format says otherwise), and writes them with the chosen operation, one commit
per invocation or one after every --commit-every records (exactly: 40,000 records with
--commit-every 500 make 80 commits). A missing table is created from the create flags (--key,
--precombine, ...) when the run commits something: a run that commits nothing (a failure, empty
input, every row rejected) leaves no table behind.

Inputs: gzip and zstd files are read as they are (detected by their first bytes; events.jsonl.gz
and events.csv.zst take the format of their inner extension). In a directory, hidden files and
directories (names starting with "." or "_", as Hadoop and Spark hide them) and files that are not
JSON, CSV or Parquet by their extension are skipped, each listed on stderr with the reason. An
empty input (no byte, only white space, a CSV file without a header) is skipped with a note.

Schema: the table's columns keep their types; other input fields are inferred (JSON numbers
become bigint or double, strings, booleans; nested objects and arrays are kept as JSON text)
and added to the table as nullable columns. Date and timestamp columns (e.g. of an Avro schema
given with --schema when the table is created: {"type":"int","logicalType":"date"},
{"type":"long","logicalType":"timestamp-micros"}) are read from CSV and JSON text: dates as
YYYY-MM-DD (or an integer number of days since 1970-01-01), timestamps as ISO-8601 with a T or a
space (2024-01-31T12:34:56.5Z, 2024-01-31 12:34:56+02:00), where no Z or offset means UTC, or as
an integer counted in the column's unit (microseconds for timestamp-micros, milliseconds for
timestamp-millis) since the epoch. --infer-dates also infers new string columns whose values are
all ISO-8601 dates as date, and all dates or timestamps as timestamp (UTC, microseconds).

Partitions: a row whose partition value is null, empty or missing (an input without the
partition column included) goes to Hudi's default partition __HIVE_DEFAULT_PARTITION__
(hive style: field=__HIVE_DEFAULT_PARTITION__), as Hudi writes such rows; it is not an error.

Deletes (--op delete): the input needs the record key fields; other fields are ignored. On a
partitioned table the input may hold the keys only: for a file without the partition fields, each
key's partition is looked up in the record-key index (every partition holding the key loses it;
keys not in the table are counted as keysNotFound); standard input must carry the partition
fields.

Bad input: a row that does not parse, lacks its record key or precombine value, holds a date or
timestamp that does not parse, or a string that is not valid UTF-8 (JSON text that decoding
would silently change to U+FFFD included), goes with its file, line, field and reason to an error
file (JSON Lines, --errors, by default hoodie-ingest-<time>.errors.jsonl in the current
directory); the summary says how many. With --strict the first bad row fails the run instead;
nothing after the last commit is written.

` + exitStatusHelp + `

Resuming: each commit records, per input file, the last line it covers with the identity of what
was read (size, modification time and the SHA-256 of the bytes up to that line). Re-running the
same inputs after a crash or a kill skips what was committed: an unchanged file read to its end is
skipped with a note, a file that only grew resumes after the verified part, and a file whose
content changed (or that an earlier hoodie recorded without its identity) is read again from its
first line, with a warning (upserts by key make that safe; with --op insert or bulk_insert, which
would duplicate rows, it is an error). --no-resume reads every input from its first line; stdin
is checkpointed (by line) when named with --source-id.

Progress: on a terminal, a progress bar per input (bytes read; a spinner for stdin);
otherwise a log line when each input starts and ends, and one per commit. A long-running
"ingest -" can serve Prometheus metrics with --metrics-addr HOST:PORT (at /metrics): records,
commits, commit latency, bytes written, errors and index hits.`,
		Example: `  hoodie ingest --table /tmp/events --key uuid --precombine time --partition dt events.jsonl
  cat events.jsonl | hoodie ingest --table s3://bucket/events --s3-path-style -
  hoodie ingest --table /tmp/users --op delete deleted-user-ids.csv
  hoodie ingest --table /tmp/events --commit-every 100000 --strict data/
  hoodie ingest --table /tmp/events --key id --precombine ts --schema events.avsc --max-errors 1% events.csv.gz
  tail -F events.jsonl | hoodie ingest --table /tmp/events --commit-every 10000 --source-id events --metrics-addr 127.0.0.1:9464 -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, inputs []string) error {
			return runIngest(cmd, g, a, inputs)
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.location, "table", "", "table location: a path, file:// or s3://bucket/prefix")
	f.StringVar(&a.format, "format", "", "input format: jsonl (JSON Lines or a JSON array), csv or parquet (default: from the file extension)")
	f.StringVar(&a.op, "op", "upsert", "operation: upsert, insert, bulk_insert or delete (by key; see Deletes)")
	f.IntVar(&a.commitEvery, "commit-every", 0, "commit after every N records (default: one commit for the whole run)")
	f.StringVar(&a.errorsPath, "errors", "", "error output file (default: hoodie-ingest-<time>.errors.jsonl, created only if needed)")
	f.BoolVar(&a.strict, "strict", false, "fail on the first bad row instead of writing it to the error output")
	bindMaxErrors(cmd, &a.maxErrors, "rows")
	f.BoolVar(&a.inferDates, "infer-dates", false, "infer new string columns of ISO-8601 dates as date and of timestamps as timestamp (UTC)")
	f.StringVar(&a.indexDir, "index-dir", "", "record-key index directory (default: under the user cache dir)")
	f.StringVar(&a.sourceID, "source-id", "", "name standard input for exactly-once resumption (a replayable stream); without it stdin is not checkpointed")
	f.BoolVar(&a.noResume, "no-resume", false, "ignore the table's ingest checkpoint: read every input from its first line")
	f.StringVar(&a.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on HOST:PORT at /metrics (port 0: any free port, logged)")
	a.create.bind(cmd)
	addConcurrencyFlag(cmd, &a.concurrency)
	return cmd
}

// source is one input to read.
type source struct {
	path   string // "-" for stdin
	format ingest.Format
}

// skippedInput is a file of a directory that is not read, and why.
type skippedInput struct{ path, reason string }

// hiddenName reports names Hadoop and Spark treat as hidden.
func hiddenName(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// compressedExt reports a compression extension (.gz, .zst, .zstd).
func compressedExt(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".gz", ".zst", ".zstd":
		return true
	}
	return false
}

const compressedParquet = "a compressed Parquet file (Parquet compresses its own pages; decompress it to ingest it)"

// expandInputs lists the inputs: files as given, directories walked (in
// name order) for their input files; the files of directories that are
// not read come back as skipped, with the reason.
func expandInputs(inputs []string, format string) ([]source, []skippedInput, error) {
	var forced ingest.Format
	if format != "" {
		f, err := ingest.ParseFormat(format)
		if err != nil {
			return nil, nil, err
		}
		forced = f
	}
	var out []source
	var skipped []skippedInput
	for _, in := range inputs {
		if in == "-" {
			f := forced
			if f == ingest.FormatUnknown {
				f = ingest.JSONL
			}
			out = append(out, source{path: "-", format: f})
			continue
		}
		st, err := os.Stat(in)
		if err != nil {
			return nil, nil, fmt.Errorf("input %s: %w", in, err)
		}
		if !st.IsDir() {
			f := forced
			if f == ingest.FormatUnknown {
				if f, err = ingest.FormatOf(in); err != nil {
					return nil, nil, err
				}
			}
			if f == ingest.Parquet && compressedExt(in) {
				return nil, nil, fmt.Errorf("input %s: %s", in, compressedParquet)
			}
			out = append(out, source{path: in, format: f})
			continue
		}
		var files []source
		err = filepath.WalkDir(in, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != in && hiddenName(d.Name()) {
					skipped = append(skipped, skippedInput{p + string(filepath.Separator), "hidden directory"})
					return filepath.SkipDir
				}
				return nil
			}
			if hiddenName(d.Name()) {
				skipped = append(skipped, skippedInput{p, "hidden file"})
				return nil
			}
			f := forced
			if f == ingest.FormatUnknown {
				var ferr error
				if f, ferr = ingest.FormatOf(p); ferr != nil {
					skipped = append(skipped, skippedInput{p, ingest.ErrUnknownFormat.Error() + " (by its extension; --format reads every file as one format)"})
					return nil
				}
			}
			if f == ingest.Parquet && compressedExt(p) {
				skipped = append(skipped, skippedInput{p, compressedParquet})
				return nil
			}
			files = append(files, source{path: p, format: f})
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("input %s: %w", in, err)
		}
		sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
		out = append(out, files...)
	}
	return out, skipped, nil
}

// openOrCreateTable opens the table at location or, when there is none,
// creates it from the create flags (not for deletes).
func openOrCreateTable(ctx context.Context, st storage.Storage, c *createArgs, location, verb string, forDelete bool, stderr io.Writer) (*table.Table, bool, error) {
	tbl, err := table.Open(ctx, st)
	if errors.Is(err, table.ErrNotHudiTable) {
		if forDelete {
			return nil, false, fmt.Errorf("%s: %w: nothing to delete", verb, err)
		}
		opts, cerr := c.options(location)
		if cerr != nil {
			return nil, false, fmt.Errorf("%w (the table does not exist; give the create flags to create it)", cerr)
		}
		if tbl, err = table.Create(ctx, st, opts); err != nil {
			return nil, false, err
		}
		fmt.Fprintf(stderr, "hoodie: created table %s at %s\n", opts.Name, location)
		return tbl, true, nil
	}
	return tbl, false, err
}

// dropCreatedTable removes a table this run created when nothing was
// committed to it: the failed write's files (rolled back as Hudi does),
// then everything under .hoodie/, hoodie.properties last.
func dropCreatedTable(ctx context.Context, tbl *table.Table) error {
	st := tbl.Storage()
	tl, err := timeline.Load(ctx, st)
	if err != nil {
		return err
	}
	if len(tl.CompletedCommits()) > 0 {
		return nil // another writer committed to it meanwhile
	}
	for _, inst := range tl.Pending() {
		if inst.IsWriteAction() {
			if err := writer.Rollback(ctx, tbl, inst.Timestamp); err != nil {
				return err
			}
		}
	}
	var paths []string
	for obj, err := range st.List(ctx, table.MetaFolder+"/", "") {
		if err != nil {
			return err
		}
		paths = append(paths, obj.Path)
	}
	last := func(p string) bool { return p == table.PropertiesFile }
	slices.SortStableFunc(paths, func(a, b string) int {
		switch {
		case last(a) == last(b):
			return strings.Compare(a, b)
		case last(a):
			return 1
		}
		return -1
	})
	for _, p := range paths {
		if err := st.Delete(ctx, p); err != nil && !errors.Is(err, storage.ErrNotExist) {
			return err
		}
	}
	return nil
}

// finishCreated drops the table a run created when it committed nothing,
// reporting it; err is the run's error.
func finishCreated(ctx context.Context, created *bool, commits int, tbl *table.Table, location, verb string, stderr io.Writer, err error) error {
	if !*created || commits > 0 {
		return err
	}
	*created = false
	if derr := dropCreatedTable(context.WithoutCancel(ctx), tbl); derr != nil {
		return errors.Join(err, fmt.Errorf("%s: removing the table this run created at %s: %w", verb, location, derr))
	}
	fmt.Fprintf(stderr, "hoodie: nothing was committed: removed the table this run created at %s\n", location)
	return err
}

// ingestRun is the state of one ingest invocation.
type ingestRun struct {
	ctx      context.Context
	a        *ingestArgs
	op       writer.Operation
	cfg      *table.Config
	kind     keygen.Kind
	w        *writer.Writer
	errOut   *errorSink
	sum      *ingestSummary
	m        *metrics
	prog     *progress
	rs       *resumeState
	stderr   io.Writer
	resolver *partitionResolver
	pending  int64 // records buffered since the last commit
}

func runIngest(cmd *cobra.Command, g *globalFlags, a *ingestArgs, inputs []string) error {
	ctx := cmd.Context()
	start := time.Now()
	stderr := cmd.ErrOrStderr()
	var op writer.Operation
	insertOp := ""
	switch a.op {
	case "upsert":
		op = writer.OpUpsert
	case "insert":
		op, insertOp = writer.OpInsert, a.op
	case "bulk_insert":
		op, insertOp = writer.OpBulkInsert, a.op
	case "delete":
		op = writer.OpDelete
	default:
		return fmt.Errorf("--op %q: want upsert, insert, bulk_insert or delete", a.op)
	}
	if a.commitEvery < 0 {
		return fmt.Errorf("--commit-every must not be negative")
	}
	sources, skipped, err := expandInputs(inputs, a.format)
	if err != nil {
		return err
	}
	for _, s := range skipped {
		fmt.Fprintf(stderr, "hoodie: skipped %s: %s\n", s.path, s.reason)
	}
	if len(sources) == 0 {
		return fmt.Errorf("ingest: no input files (%d skipped)", len(skipped))
	}
	st, err := g.openStorage(ctx, a.location)
	if err != nil {
		return err
	}
	m, stopMetrics, err := startMetrics(a.metricsAddr, "ingest", stderr)
	if err != nil {
		return err
	}
	defer stopMetrics()
	sum := &ingestSummary{Table: a.location, Inputs: len(sources), SkippedFiles: len(skipped), commitTally: commitTally{Commits: []commitJSON{}}}
	tbl, created, err := openOrCreateTable(ctx, st, &a.create, a.location, "ingest", op == writer.OpDelete, stderr)
	if err != nil {
		return err
	}
	sum.Created = created
	r := &ingestRun{ctx: ctx, a: a, op: op, cfg: tbl.Config(), sum: sum, m: m, prog: newProgress(stderr), stderr: stderr,
		errOut: &errorSink{path: a.errorsPath}}
	defer r.errOut.close()
	err = r.run(tbl, sources, insertOp)
	err = finishCreated(ctx, &sum.Created, len(sum.Commits), tbl, a.location, "ingest", stderr, err)
	if err != nil {
		return err
	}
	if r.errOut.n > 0 {
		sum.Errors = r.errOut.path
	}
	sum.Seconds = time.Since(start).Seconds()
	out := cmd.OutOrStdout()
	if g.output == "json" {
		if err := printJSON(out, newIngestOutput(sum)); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "ingested %d records from %d inputs into %s in %d commits (%.1fs): %d inserts, %d updates, %d deletes, %d late ignored, %d duplicates combined\n",
			sum.Records, sum.Inputs, sum.Table, len(sum.Commits), sum.Seconds, sum.Inserts, sum.Updates, sum.Deletes, sum.Late, sum.Combined)
		if n := sum.Unchanged + sum.Empty + sum.SkippedFiles; n > 0 {
			fmt.Fprintf(out, "%d inputs not read: %d unchanged since ingested, %d empty, %d files skipped in directories\n", n, sum.Unchanged, sum.Empty, sum.SkippedFiles)
		}
		if sum.KeysNotFound > 0 {
			fmt.Fprintf(out, "%d keys to delete were not in the table\n", sum.KeysNotFound)
		}
		if sum.Bad > 0 {
			fmt.Fprintf(out, "%d rows rejected, written to %s\n", sum.Bad, sum.Errors)
		}
	}
	if !a.maxErrors.allows(sum.Bad, sum.Records) {
		return &exitError{code: exitRejected, err: fmt.Errorf("ingest: %d of %d rows rejected (written to %s), more than --max-errors %s allows; the %d good rows were committed",
			sum.Bad, sum.Bad+sum.Records, sum.Errors, a.maxErrors.String(), sum.Records)}
	}
	return nil
}

// run reads every source and commits; the writer is closed on return.
func (r *ingestRun) run(tbl *table.Table, sources []source, insertOp string) error {
	var err error
	if r.kind, err = keygen.KindFromClass(r.cfg.KeyGeneratorClass()); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	wopts := r.a.concurrency.apply(writer.Options{IndexDir: r.a.indexDir, IndexLocation: r.a.location})
	if r.op == writer.OpDelete && r.cfg.IsPartitioned() {
		if r.resolver, err = newPartitionResolver(r.ctx, tbl, wopts, sources, r.ingestOptions(nil)); err != nil {
			return err
		}
	}
	if r.w, err = writer.Open(r.ctx, tbl, wopts); err != nil {
		return err
	}
	defer r.w.Close()
	cp, err := loadIngestCheckpoint(r.ctx, r.w)
	if err != nil {
		return err
	}
	r.rs = newResumeState(cp, r.a.noResume, insertOp, "ingest", r.stderr)
	defer r.rs.close()
	for _, src := range sources {
		if err := r.source(src); err != nil {
			return err
		}
	}
	r.prog.done()
	return r.commit()
}

func (r *ingestRun) ingestOptions(w *writer.Writer) ingest.Options {
	opts := ingest.Options{InferDates: r.a.inferDates}
	if w != nil {
		if s := w.Schema(); s != nil {
			opts.Hint = s
		}
	}
	return opts
}

// commit commits the buffered records with the checkpoint of the inputs
// read.
func (r *ingestRun) commit() error {
	r.pending = 0
	return commitBuffered(r.ctx, r.w, r.rs, r.m, &r.sum.commitTally, r.prog)
}

// displayName is how messages name an input.
func displayName(path string) string {
	if path == "-" {
		return "standard input"
	}
	return path
}

// openSource opens an input: decompressed (gzip, zstd) unless Parquet,
// counted by the progress reporter (when prog is set).
func openSource(src source, opts ingest.Options, prog *progress) (ingest.Reader, func(), error) {
	var f *os.File
	var raw io.Reader = os.Stdin
	name := "-"
	if src.path != "-" {
		var err error
		if f, err = os.Open(src.path); err != nil {
			return nil, nil, err
		}
		raw, name = f, src.path
	}
	size := int64(-1)
	if f != nil {
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
	}
	closeFile := func() {
		if f != nil {
			f.Close()
		}
	}
	if src.format == ingest.Parquet { // read by offset, not streamed
		var r ingest.Reader
		var err error
		head := make([]byte, 4)
		switch {
		case f == nil:
			err = fmt.Errorf("ingest: parquet input needs a file, not standard input")
		case size == 0:
			err = fmt.Errorf("%w: %s is 0 bytes", ingest.ErrEmpty, name)
		default:
			n, _ := f.ReadAt(head, 0)
			if ingest.IsCompressed(head[:n]) {
				err = fmt.Errorf("ingest: %s: %s", name, compressedParquet)
			} else {
				r, err = ingest.NewParquet(f, size, name, opts)
			}
		}
		if err != nil {
			closeFile()
			return nil, nil, err
		}
		return r, func() { r.Close(); closeFile() }, nil
	}
	if prog != nil {
		raw = prog.input(displayName(name), size, raw)
	}
	dec, _, err := ingest.Decompress(raw)
	if err != nil {
		closeFile()
		return nil, nil, fmt.Errorf("ingest: %s: %w", displayName(name), err)
	}
	var r ingest.Reader
	switch src.format {
	case ingest.CSV:
		r, err = ingest.NewCSV(dec, name, opts)
	default:
		r, err = ingest.NewJSONL(dec, name, opts)
	}
	if err != nil {
		dec.Close()
		closeFile()
		return nil, nil, err
	}
	return r, func() { r.Close(); dec.Close(); closeFile() }, nil
}

// missingFields returns the top-level fields of names that sch lacks.
func missingFields(sch *arrow.Schema, names []string) []string {
	var out []string
	for _, n := range names {
		if len(sch.FieldIndices(strings.SplitN(n, ".", 2)[0])) == 0 {
			out = append(out, n)
		}
	}
	return out
}

// withNullColumns appends all-null columns named names to rec (typed as
// the table's columns, else string). It releases rec.
func withNullColumns(rec arrow.RecordBatch, names []string, tableSchema *arrow.Schema) arrow.RecordBatch {
	fields := append([]arrow.Field(nil), rec.Schema().Fields()...)
	cols := append([]arrow.Array(nil), rec.Columns()...)
	var added []arrow.Array
	for _, n := range names {
		var t arrow.DataType = arrow.BinaryTypes.String
		if tableSchema != nil {
			if idx := tableSchema.FieldIndices(n); len(idx) > 0 {
				t = tableSchema.Field(idx[0]).Type
			}
		}
		col := array.MakeArrayOfNull(memory.DefaultAllocator, t, int(rec.NumRows()))
		added = append(added, col)
		fields = append(fields, arrow.Field{Name: n, Type: t, Nullable: true})
		cols = append(cols, col)
	}
	out := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
	for _, c := range added {
		c.Release()
	}
	rec.Release()
	return out
}

// source reads one input: rows whose key or precombine value is missing,
// or with a string that is not UTF-8, go to the error output (or fail the
// run with --strict); the rest are buffered, committing after every
// --commit-every records.
func (r *ingestRun) source(src source) error {
	id := checkpointID(src, r.a.sourceID)
	tr, skip, err := r.rs.start(src, id)
	if err != nil {
		return err
	}
	if skip {
		r.sum.Unchanged++
		return nil
	}
	defer func() {
		if tr != nil && !tr.ended && !tr.moved {
			r.rs.drop(tr)
		}
	}()
	rd, closeFn, err := openSource(src, r.ingestOptions(r.w), r.prog)
	if errors.Is(err, ingest.ErrEmpty) {
		r.rs.drop(tr)
		r.sum.Empty++
		r.prog.logf("hoodie: note: %s is empty: nothing to ingest\n", displayName(src.path))
		return nil
	}
	if err != nil {
		r.rs.drop(tr)
		return err
	}
	defer closeFn()
	cfg := r.cfg
	gens := map[*arrow.Schema]*keygen.Generator{}
	warned := false
	rows := int64(0)
	for {
		b, err := rd.Next()
		if errors.Is(err, io.EOF) {
			if rows == 0 && (tr == nil || tr.done == 0) {
				r.prog.logf("hoodie: note: %s holds no records\n", displayName(src.path))
			}
			return r.rs.finish(tr, rd.Position())
		}
		if err != nil {
			return err
		}
		b, bad, err := skipDone(r.ctx, tr, b)
		if err != nil {
			return err
		}
		rows += int64(len(b.Lines) + len(bad))
		var keep []int64
		rec := b.Rec
		resolve := false
		if rec != nil {
			if miss := missingFields(rec.Schema(), cfg.PartitionFields); len(miss) > 0 {
				if r.op == writer.OpDelete {
					if r.resolver == nil || !r.resolver.inputs[src.path] {
						rec.Release()
						return fmt.Errorf("ingest: %s: --op delete: the input has no partition field %s, and keys are looked up in the index only for files: give the partition fields",
							displayName(src.path), strings.Join(miss, ","))
					}
					resolve = true
				} else if !slices.ContainsFunc(miss, func(n string) bool { return strings.Contains(n, ".") }) {
					if !warned {
						warned = true
						r.prog.logf("hoodie: warning: %s has no partition field %s: its rows go to the default partition %s, as Hudi writes rows without a partition value\n",
							displayName(src.path), strings.Join(miss, ","), keygen.DefaultPartition)
					}
					var ts *arrow.Schema
					if s := r.w.Schema(); s != nil {
						ts = s
					}
					rec = withNullColumns(rec, miss, ts)
				}
			}
			gen, ok := gens[rec.Schema()]
			if !ok {
				kc := keygen.Config{RecordKeyFields: cfg.RecordKeyFields, PartitionFields: cfg.PartitionFields,
					Kind: r.kind, HiveStyle: cfg.HiveStylePartitioning, URLEncode: cfg.URLEncodePartitioning}
				if resolve {
					kc = keygen.Config{RecordKeyFields: cfg.RecordKeyFields, Kind: keygen.NonPartitioned}
				}
				if gen, err = keygen.New(kc, rec.Schema()); err != nil {
					rec.Release()
					return fmt.Errorf("ingest: %s: %w", displayName(src.path), err)
				}
				gens[rec.Schema()] = gen
			}
			isBad := map[int]bool{}
			// Strings are UTF-8 or refused (the readers refuse such CSV
			// and JSON rows; this catches Parquet strings and the rest).
			for _, ue := range arrowutil.InvalidUTF8Rows(rec) {
				isBad[ue.Row] = true
				bad = append(bad, ingest.BadRow{Source: src.path, Line: b.Lines[ue.Row], Field: ue.Field, Reason: ue.Reason()})
			}
			_, _, rowErrs := gen.KeysLenient(rec)
			for _, re := range rowErrs {
				if !isBad[re.Row] {
					isBad[re.Row] = true
					bad = append(bad, ingest.BadRow{Source: src.path, Line: b.Lines[re.Row], Field: re.Field, Reason: re.Reason})
				}
			}
			if r.op != writer.OpDelete {
				if col := arrowutil.Column(rec, cfg.PrecombineField); col == nil {
					for i := range b.Lines {
						if !isBad[i] {
							isBad[i] = true
							bad = append(bad, ingest.BadRow{Source: src.path, Line: b.Lines[i], Field: cfg.PrecombineField, Reason: "precombine field is missing"})
						}
					}
				} else {
					for i := 0; i < col.Len(); i++ {
						if col.IsNull(i) && !isBad[i] {
							isBad[i] = true
							bad = append(bad, ingest.BadRow{Source: src.path, Line: b.Lines[i], Field: cfg.PrecombineField, Reason: "precombine field is null"})
						}
					}
				}
			}
			for i := range b.Lines {
				if !isBad[i] {
					keep = append(keep, int64(i))
				}
			}
		}
		if len(bad) > 0 {
			sort.SliceStable(bad, func(i, j int) bool { return bad[i].Line < bad[j].Line })
			r.sum.Bad += int64(len(bad))
			r.m.bad(int64(len(bad)))
			if r.a.strict {
				if rec != nil {
					rec.Release()
				}
				r.w.Abort()
				bd := bad[0]
				return fmt.Errorf("%s line %d: %s%s (--strict: nothing since the last commit was written)", bd.Source, bd.Line, fieldPrefix(bd.Field), bd.Reason)
			}
			if err := r.errOut.write(bad); err != nil {
				if rec != nil {
					rec.Release()
				}
				return err
			}
		}
		err = r.buffer(src, tr, b, rec, keep, resolve, rd.Position())
		if rec != nil {
			rec.Release()
		}
		if err != nil {
			return err
		}
	}
}

// buffer buffers the rows keep of rec, committing whenever --commit-every
// records are buffered (so a commit may end inside the batch), and moves
// the input's checkpoint to pos, the end of the batch.
func (r *ingestRun) buffer(src source, tr *inputTracker, b *ingest.Batch, rec arrow.RecordBatch, keep []int64, resolve bool, pos ingest.Position) error {
	every := int64(r.a.commitEvery)
	for start := 0; start < len(keep); {
		n := len(keep) - start
		if every > 0 {
			n = int(min(int64(n), every-r.pending))
		}
		chunk := keep[start : start+n]
		good, err := arrowutil.Take(r.ctx, rec, chunk)
		if err != nil {
			return err
		}
		if resolve {
			var notFound int64
			good, notFound, err = r.resolver.apply(r.ctx, good)
			if err != nil {
				return fmt.Errorf("ingest: %s: %w", displayName(src.path), err)
			}
			r.sum.KeysNotFound += notFound
		}
		if good != nil {
			err = bufferOp(r.w, r.op, good)
			good.Release()
			if err != nil {
				return fmt.Errorf("ingest: %s: %w", displayName(src.path), err)
			}
		}
		r.sum.Records += int64(n)
		r.pending += int64(n)
		dels := int64(0)
		if r.op == writer.OpDelete {
			dels = int64(n)
		}
		r.m.read(int64(n), dels)
		start += n
		if every > 0 && r.pending >= every {
			if start < len(keep) {
				last := chunk[n-1]
				r.rs.advance(tr, b.Lines[last], b.Ends[last])
			} else {
				r.rs.advance(tr, pos.Line, pos.Offset)
			}
			if err := r.commit(); err != nil {
				return err
			}
		}
	}
	r.rs.advance(tr, pos.Line, pos.Offset)
	return nil
}

// partitionResolver finds the partitions of keys to delete that come
// without their partition fields, in the record-key index.
type partitionResolver struct {
	cfg    *table.Config
	inputs map[string]bool     // the input files whose keys were looked up
	paths  map[string][]string // record key -> partition paths
}

// newPartitionResolver reads the record keys of the input files that lack
// partition fields and looks them up in the table's record-key index
// (brought level with the timeline first). nil when no file needs it.
func newPartitionResolver(ctx context.Context, tbl *table.Table, wopts writer.Options, sources []source, opts ingest.Options) (*partitionResolver, error) {
	cfg := tbl.Config()
	keySet := map[string]bool{}
	inputs := map[string]bool{}
	for _, src := range sources {
		if src.path == "-" {
			continue // checked when read: stdin cannot be read twice
		}
		rd, closeFn, err := openSource(src, opts, nil)
		if errors.Is(err, ingest.ErrEmpty) {
			continue
		}
		if err != nil {
			return nil, err
		}
		err = func() error {
			defer closeFn()
			if len(missingFields(rd.Schema(), cfg.PartitionFields)) == 0 {
				return nil
			}
			inputs[src.path] = true
			gen, err := keygen.New(keygen.Config{RecordKeyFields: cfg.RecordKeyFields, Kind: keygen.NonPartitioned}, rd.Schema())
			if err != nil {
				return fmt.Errorf("ingest: %s: --op delete: %w", src.path, err)
			}
			for {
				b, err := rd.Next()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
				if b.Rec == nil {
					continue
				}
				keys, _, bad := gen.KeysLenient(b.Rec)
				isBad := map[int]bool{}
				for _, e := range bad {
					isBad[e.Row] = true
				}
				for i, k := range keys {
					if !isBad[i] && k != "" {
						keySet[k] = true
					}
				}
				b.Rec.Release()
			}
		}()
		if err != nil {
			return nil, err
		}
	}
	if len(inputs) == 0 {
		return nil, nil
	}
	// Bring the index level with the timeline (the writer does at Open),
	// then read it: the writer holds the index while it is open.
	w, err := writer.Open(ctx, tbl, wopts)
	if err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	dir := wopts.IndexDir
	if dir == "" {
		if dir, err = writer.DefaultIndexDir(wopts.IndexLocation); err != nil {
			return nil, err
		}
	}
	idx, err := index.Open(index.Options{Dir: dir, Global: wopts.GlobalIndex, TTL: wopts.IndexTTL})
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	defer idx.Close()
	tl, err := timeline.Load(ctx, tbl.Storage())
	if err != nil {
		return nil, err
	}
	first := tl.FirstInstantTime()
	trust := func(instant string) bool { return tl.IsCompleted(instant) || (first != "" && instant < first) }
	keys := make([]string, 0, len(keySet))
	for k := range keySet {
		keys = append(keys, k)
	}
	locs, err := idx.LookupRecordKeys(ctx, keys, index.LookupOptions{Trust: trust})
	if err != nil {
		return nil, fmt.Errorf("ingest: looking up the keys to delete: %w", err)
	}
	p := &partitionResolver{cfg: cfg, inputs: inputs, paths: map[string][]string{}}
	for i, k := range keys {
		for _, l := range locs[i] {
			if !slices.Contains(p.paths[k], l.PartitionPath) {
				p.paths[k] = append(p.paths[k], l.PartitionPath)
			}
		}
	}
	return p, nil
}

// values returns the partition field values a partition path was built
// from (nil: null, which the key generator writes as the default
// partition).
func (p *partitionResolver) values(path string) ([]*string, error) {
	segs := strings.Split(path, "/")
	if len(segs) != len(p.cfg.PartitionFields) {
		return nil, fmt.Errorf("partition path %q does not match the partition fields %s", path, strings.Join(p.cfg.PartitionFields, ","))
	}
	out := make([]*string, len(segs))
	for i, seg := range segs {
		if p.cfg.HiveStylePartitioning {
			v, ok := strings.CutPrefix(seg, p.cfg.PartitionFields[i]+"=")
			if !ok {
				return nil, fmt.Errorf("partition path %q does not match the partition fields %s", path, strings.Join(p.cfg.PartitionFields, ","))
			}
			seg = v
		}
		if seg == keygen.DefaultPartition {
			continue
		}
		if p.cfg.URLEncodePartitioning {
			seg = keygen.UnescapePathName(seg)
		}
		out[i] = &seg
	}
	return out, nil
}

// apply turns rows of record keys into deletes with their partition
// fields: one row per partition the index holds the key in; keys not in
// the index are counted and dropped. It releases rec; the result is nil
// when no key was found.
func (p *partitionResolver) apply(ctx context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, int64, error) {
	defer rec.Release()
	gen, err := keygen.New(keygen.Config{RecordKeyFields: p.cfg.RecordKeyFields, Kind: keygen.NonPartitioned}, rec.Schema())
	if err != nil {
		return nil, 0, err
	}
	keys, _, err := gen.Keys(rec)
	if err != nil {
		return nil, 0, err
	}
	var rows []int64
	vals := make([]*array.StringBuilder, len(p.cfg.PartitionFields))
	for i := range vals {
		vals[i] = array.NewStringBuilder(memory.DefaultAllocator)
		defer vals[i].Release()
	}
	notFound := int64(0)
	for i, k := range keys {
		paths := p.paths[k]
		if len(paths) == 0 {
			notFound++
			continue
		}
		for _, path := range paths {
			vs, err := p.values(path)
			if err != nil {
				return nil, 0, fmt.Errorf("key %q: %w", k, err)
			}
			rows = append(rows, int64(i))
			for j, v := range vs {
				if v == nil {
					vals[j].AppendNull()
				} else {
					vals[j].Append(*v)
				}
			}
		}
	}
	if len(rows) == 0 {
		return nil, notFound, nil
	}
	var keyCols []string
	for _, f := range p.cfg.RecordKeyFields {
		if top := strings.SplitN(f, ".", 2)[0]; !slices.Contains(keyCols, top) {
			keyCols = append(keyCols, top)
		}
	}
	proj := arrowutil.Project(rec, keyCols)
	defer proj.Release()
	taken, err := arrowutil.Take(ctx, proj, rows)
	if err != nil {
		return nil, 0, err
	}
	defer taken.Release()
	fields := append([]arrow.Field(nil), taken.Schema().Fields()...)
	cols := append([]arrow.Array(nil), taken.Columns()...)
	for j, f := range p.cfg.PartitionFields {
		col := vals[j].NewArray()
		defer col.Release()
		fields = append(fields, arrow.Field{Name: f, Type: arrow.BinaryTypes.String, Nullable: true})
		cols = append(cols, col)
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(len(rows))), notFound, nil
}

func fieldPrefix(f string) string {
	if f == "" {
		return ""
	}
	return "field " + f + ": "
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

// errorSink writes bad rows as JSON Lines, creating the file on first use.
type errorSink struct {
	path string
	f    *os.File
	enc  *json.Encoder
	n    int64
}

func (e *errorSink) write(rows []ingest.BadRow) error {
	if e.f == nil {
		if e.path == "" {
			e.path = "hoodie-ingest-" + time.Now().UTC().Format("20060102-150405") + ".errors.jsonl"
		}
		f, err := os.OpenFile(e.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("error output: %w", err)
		}
		e.f, e.enc = f, json.NewEncoder(f)
	}
	for _, r := range rows {
		if err := e.enc.Encode(r); err != nil {
			return fmt.Errorf("error output: %w", err)
		}
		e.n++
	}
	return nil
}

func (e *errorSink) close() {
	if e.f != nil {
		e.f.Close()
	}
}
