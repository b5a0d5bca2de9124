package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/ingest"
	"github.com/hoodie-lake/hoodie/internal/keygen"
	"github.com/hoodie-lake/hoodie/table"
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
	indexDir    string
	sourceID    string
	noResume    bool
	metricsAddr string
	create      createArgs
}

// ingestSummary is what ingest reports.
type ingestSummary struct {
	Table    string   `json:"table"`
	Created  bool     `json:"created"`
	Inputs   int      `json:"inputs"`
	Records  int64    `json:"records"`
	Bad      int64    `json:"badRecords"`
	Errors   string   `json:"errorsFile,omitempty"`
	Commits  []string `json:"commits"`
	Inserts  int64    `json:"inserts"`
	Updates  int64    `json:"updates"`
	Deletes  int64    `json:"deletes"`
	Late     int64    `json:"lateIgnored"`
	Combined int64    `json:"duplicatesCombined"`
	Seconds  float64  `json:"seconds"`
}

func newIngestCmd(g *globalFlags) *cobra.Command {
	a := &ingestArgs{}
	cmd := &cobra.Command{
		Use:   "ingest --table LOCATION [create flags] FILE|DIR|- ...",
		Short: "Upsert (or insert, bulk insert, delete) JSON Lines, CSV or Parquet files into a table",
		Long: `ingest reads JSON Lines, CSV and Parquet files (format from the extension, or --format), a
directory of them, or standard input ("-", JSON Lines unless --format says otherwise), and
writes them with the chosen operation, one commit per invocation or every --commit-every
records. A missing table is created from the create flags (--key, --precombine, ...).

Schema: the table's columns keep their types; other input fields are inferred (JSON numbers
become bigint or double, strings, booleans; nested objects and arrays are kept as JSON text)
and added to the table as nullable columns.

Bad input: a row that does not parse, lacks its record key, partition or precombine value, or
holds a string that is not valid UTF-8 (JSON text that decoding would silently change to U+FFFD
included), goes with its file, line, field and reason to an error file (JSON Lines, --errors, by default
hoodie-ingest-<time>.errors.jsonl in the current directory); the counts are reported. With
--strict the first bad row fails the run instead; nothing after the last commit is written.

Progress: on a terminal, a progress bar per input (bytes read; a spinner for stdin);
otherwise a log line when each input starts and ends, and one per commit. A long-running
"ingest -" can serve Prometheus metrics with --metrics-addr HOST:PORT (at /metrics): records,
commits, commit latency, bytes written, errors and index hits.`,
		Example: `  hoodie ingest --table /tmp/events --key uuid --precombine time --partition dt events.jsonl
  cat events.jsonl | hoodie ingest --table s3://bucket/events --s3-path-style -
  hoodie ingest --table /tmp/users --op delete deleted-users.csv
  hoodie ingest --table /tmp/events --commit-every 100000 --strict data/
  tail -F events.jsonl | hoodie ingest --table /tmp/events --commit-every 10000 --source-id events --metrics-addr 127.0.0.1:9464 -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, inputs []string) error {
			return runIngest(cmd, g, a, inputs)
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.location, "table", "", "table location: a path, file:// or s3://bucket/prefix")
	f.StringVar(&a.format, "format", "", "input format: jsonl, csv or parquet (default: from the file extension)")
	f.StringVar(&a.op, "op", "upsert", "operation: upsert, insert, bulk_insert or delete")
	f.IntVar(&a.commitEvery, "commit-every", 0, "commit every N records (default: one commit for the whole run)")
	f.StringVar(&a.errorsPath, "errors", "", "error output file (default: hoodie-ingest-<time>.errors.jsonl, created only if needed)")
	f.BoolVar(&a.strict, "strict", false, "fail on the first bad row instead of writing it to the error output")
	f.StringVar(&a.indexDir, "index-dir", "", "record-key index directory (default: under the user cache dir)")
	f.StringVar(&a.sourceID, "source-id", "", "name standard input for exactly-once resumption (a replayable stream); without it stdin is not checkpointed")
	f.BoolVar(&a.noResume, "no-resume", false, "ignore the table's ingest checkpoint: read every input from its first line")
	f.StringVar(&a.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on HOST:PORT at /metrics (port 0: any free port, logged)")
	a.create.bind(cmd)
	return cmd
}

// source is one input to read.
type source struct {
	path   string // "-" for stdin
	format ingest.Format
}

func expandInputs(inputs []string, format string) ([]source, error) {
	var forced ingest.Format
	if format != "" {
		f, err := ingest.ParseFormat(format)
		if err != nil {
			return nil, err
		}
		forced = f
	}
	var out []source
	add := func(p string) error {
		f := forced
		if f == ingest.FormatUnknown {
			var err error
			if f, err = ingest.FormatOf(p); err != nil {
				return err
			}
		}
		out = append(out, source{path: p, format: f})
		return nil
	}
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
			return nil, fmt.Errorf("input %s: %w", in, err)
		}
		if !st.IsDir() {
			if err := add(in); err != nil {
				return nil, err
			}
			continue
		}
		var files []string
		err = filepath.WalkDir(in, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if forced != ingest.FormatUnknown {
				files = append(files, p)
			} else if _, ferr := ingest.FormatOf(p); ferr == nil {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in, err)
		}
		sort.Strings(files)
		for _, p := range files {
			if err := add(p); err != nil {
				return nil, err
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no input files")
	}
	return out, nil
}

func runIngest(cmd *cobra.Command, g *globalFlags, a *ingestArgs, inputs []string) error {
	ctx := cmd.Context()
	start := time.Now()
	var op writer.Operation
	switch a.op {
	case "upsert":
		op = writer.OpUpsert
	case "insert":
		op = writer.OpInsert
	case "bulk_insert":
		op = writer.OpBulkInsert
	case "delete":
		op = writer.OpDelete
	default:
		return fmt.Errorf("--op %q: want upsert, insert, bulk_insert or delete", a.op)
	}
	if a.commitEvery < 0 {
		return fmt.Errorf("--commit-every must not be negative")
	}
	sources, err := expandInputs(inputs, a.format)
	if err != nil {
		return err
	}
	st, err := g.openStorage(ctx, a.location)
	if err != nil {
		return err
	}
	m, stopMetrics, err := startMetrics(a.metricsAddr, "ingest", cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer stopMetrics()
	prog := newProgress(cmd.ErrOrStderr())
	sum := &ingestSummary{Table: a.location, Inputs: len(sources)}
	tbl, err := table.Open(ctx, st)
	if errors.Is(err, table.ErrNotHudiTable) {
		opts, cerr := a.create.options(a.location)
		if cerr != nil {
			return fmt.Errorf("%w (the table does not exist; give the create flags to create it)", cerr)
		}
		if tbl, err = table.Create(ctx, st, opts); err != nil {
			return err
		}
		sum.Created = true
		fmt.Fprintf(cmd.ErrOrStderr(), "hoodie: created table %s at %s\n", opts.Name, a.location)
	} else if err != nil {
		return err
	}
	cfg := tbl.Config()
	wopts := writer.Options{IndexDir: a.indexDir, IndexLocation: a.location}
	w, err := writer.Open(ctx, tbl, wopts)
	if err != nil {
		return err
	}
	defer w.Close()

	errOut := &errorSink{path: a.errorsPath}
	defer errOut.close()
	// Exactly-once: each commit records, per input, the last line it
	// covers; a re-run of the same inputs (after a crash or kill) skips the
	// lines already committed.
	cp := &ingestCheckpoint{Inputs: map[string]int64{}}
	if !a.noResume {
		if cp, err = loadIngestCheckpoint(ctx, w); err != nil {
			return err
		}
	}
	progress := map[string]int64{}
	var pending int64
	commit := func() error {
		if w.Buffered() == 0 {
			return nil // progress (bad rows only) goes with the next commit
		}
		next := cp.merged(progress)
		res, err := w.CommitWithCheckpoint(ctx, next.String())
		if err != nil {
			m.commitFailed()
			return err
		}
		m.committed(res)
		cp, progress = next, map[string]int64{}
		sum.Commits = append(sum.Commits, res.Instant)
		s := res.Stats
		sum.Inserts += s.Inserts
		sum.Updates += s.Updates
		sum.Deletes += s.Deletes
		sum.Late += s.LateDropped
		sum.Combined += s.Duplicates
		prog.logf("hoodie: committed %s: %d inserts, %d updates, %d deletes, %d late ignored, %d duplicates combined (%s)\n",
			res.Instant, s.Inserts, s.Updates, s.Deletes, s.LateDropped, s.Duplicates, s.Duration.Round(time.Millisecond))
		pending = 0
		return nil
	}
	for _, src := range sources {
		r, closeFn, err := openSource(src, w, prog)
		if err != nil {
			return err
		}
		id := checkpointID(src, a.sourceID)
		tr := &lineTracker{id: id, done: cp.Inputs[id], progress: progress}
		if id == "" {
			tr = nil
		}
		err = ingestSource(ctx, r, src, cfg, w, op, a, errOut, sum, &pending, commit, tr, m)
		closeFn()
		if err != nil {
			return err
		}
	}
	prog.done()
	if err := commit(); err != nil {
		return err
	}
	sum.Errors = errOut.path
	if errOut.n == 0 {
		sum.Errors = ""
	}
	sum.Seconds = time.Since(start).Seconds()
	if sum.Commits == nil {
		sum.Commits = []string{}
	}
	out := cmd.OutOrStdout()
	if g.output == "json" {
		return printJSON(out, sum)
	}
	fmt.Fprintf(out, "ingested %d records from %d inputs into %s in %d commits (%.1fs): %d inserts, %d updates, %d deletes, %d late ignored, %d duplicates combined\n",
		sum.Records, sum.Inputs, sum.Table, len(sum.Commits), sum.Seconds, sum.Inserts, sum.Updates, sum.Deletes, sum.Late, sum.Combined)
	if sum.Bad > 0 {
		fmt.Fprintf(out, "%d bad records written to %s\n", sum.Bad, sum.Errors)
	}
	return nil
}

func openSource(src source, w *writer.Writer, prog *progress) (ingest.Reader, func(), error) {
	opts := ingest.Options{}
	if s := w.Schema(); s != nil {
		opts.Hint = s.ToArrow()
	}
	var f *os.File
	var rd io.Reader = os.Stdin
	name := "-"
	if src.path != "-" {
		var err error
		if f, err = os.Open(src.path); err != nil {
			return nil, nil, err
		}
		rd, name = f, src.path
	}
	size := int64(-1)
	if f != nil {
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
	}
	if src.format != ingest.Parquet { // Parquet is read by offset, not streamed
		pname := name
		if name == "-" {
			pname = "standard input"
		}
		rd = prog.input(pname, size, rd)
	}
	closeFile := func() {
		if f != nil {
			f.Close()
		}
	}
	var r ingest.Reader
	var err error
	switch src.format {
	case ingest.JSONL:
		r, err = ingest.NewJSONL(rd, name, opts)
	case ingest.CSV:
		r, err = ingest.NewCSV(rd, name, opts)
	case ingest.Parquet:
		if f == nil {
			err = fmt.Errorf("parquet input needs a file, not standard input")
			break
		}
		var st os.FileInfo
		if st, err = f.Stat(); err == nil {
			r, err = ingest.NewParquet(f, st.Size(), name, opts)
		}
	}
	if err != nil {
		closeFile()
		return nil, nil, err
	}
	return r, func() { r.Close(); closeFile() }, nil
}

// ingestSource reads one input: rows whose key, partition or precombine
// value is missing, or with a string that is not UTF-8, go to the error output (or fail the run with --strict);
// the rest are buffered, committing every --commit-every records.
func ingestSource(ctx context.Context, r ingest.Reader, src source, cfg *table.Config, w *writer.Writer, op writer.Operation,
	a *ingestArgs, errOut *errorSink, sum *ingestSummary, pending *int64, commit func() error, tr *lineTracker, m *metrics) error {
	kind, err := keygen.KindFromClass(cfg.KeyGeneratorClass())
	if err != nil {
		return err
	}
	gens := map[*arrow.Schema]*keygen.Generator{}
	for {
		b, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		bad := b.Bad
		if tr != nil {
			// Lines an earlier run committed are skipped.
			var err error
			if b, bad, err = tr.skipDone(ctx, b); err != nil {
				return err
			}
		}
		if b.Rec != nil {
			gen, ok := gens[b.Rec.Schema()]
			if !ok {
				gen, err = keygen.New(keygen.Config{RecordKeyFields: cfg.RecordKeyFields, PartitionFields: cfg.PartitionFields,
					Kind: kind, HiveStyle: cfg.HiveStylePartitioning, URLEncode: cfg.URLEncodePartitioning}, b.Rec.Schema())
				if err != nil {
					b.Rec.Release()
					return fmt.Errorf("%s: %w", src.path, err)
				}
				gens[b.Rec.Schema()] = gen
			}
			isBad := map[int]bool{}
			// Strings are UTF-8 or refused (the readers refuse such CSV
			// and JSON rows; this catches Parquet strings and the rest).
			for _, ue := range arrowutil.InvalidUTF8Rows(b.Rec) {
				isBad[ue.Row] = true
				bad = append(bad, ingest.BadRow{Source: src.path, Line: b.Lines[ue.Row], Field: ue.Field, Reason: ue.Reason()})
			}
			_, _, rowErrs := gen.KeysLenient(b.Rec)
			for _, re := range rowErrs {
				if !isBad[re.Row] {
					isBad[re.Row] = true
					bad = append(bad, ingest.BadRow{Source: src.path, Line: b.Lines[re.Row], Field: re.Field, Reason: re.Reason})
				}
			}
			if op != writer.OpDelete {
				if col := arrowutil.Column(b.Rec, cfg.PrecombineField); col == nil {
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
			var keep []int64
			for i := range b.Lines {
				if !isBad[i] {
					keep = append(keep, int64(i))
				}
			}
			if len(keep) > 0 {
				good, err := arrowutil.Take(ctx, b.Rec, keep)
				if err != nil {
					b.Rec.Release()
					return err
				}
				err = bufferOp(w, op, good)
				good.Release()
				if err != nil {
					b.Rec.Release()
					return fmt.Errorf("%s: %w", src.path, err)
				}
				sum.Records += int64(len(keep))
				*pending += int64(len(keep))
				dels := int64(0)
				if op == writer.OpDelete {
					dels = int64(len(keep))
				}
				m.read(int64(len(keep)), dels)
			}
			b.Rec.Release()
		}
		if len(bad) > 0 {
			sum.Bad += int64(len(bad))
			m.bad(int64(len(bad)))
			if a.strict {
				w.Abort()
				bd := bad[0]
				return fmt.Errorf("%s line %d: %s%s (--strict: nothing since the last commit was written)", bd.Source, bd.Line, fieldPrefix(bd.Field), bd.Reason)
			}
			if err := errOut.write(bad); err != nil {
				return err
			}
		}
		if a.commitEvery > 0 && *pending >= int64(a.commitEvery) {
			if err := commit(); err != nil {
				return err
			}
		}
	}
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
