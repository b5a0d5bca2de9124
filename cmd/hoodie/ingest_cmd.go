package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hoodie-lake/hoodie/pipeline"
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
	noArchive   bool
	metricsAddr string
	create      createArgs
	timestamp   timestampArgs
	concurrency concurrencyValue
	formats     writeFlags
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
commits, commit latency, bytes written, errors and index hits.

` + timestampFlagsHelp,
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
	f.BoolVar(&a.noArchive, "no-archive", false, "do not archive the timeline after each commit (by default, past 30 completed commits the oldest are archived down to 20, as Hudi's automatic archival)")
	f.StringVar(&a.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on HOST:PORT at /metrics (port 0: any free port, logged)")
	a.create.bind(cmd)
	a.timestamp.bind(cmd)
	addConcurrencyFlag(cmd, &a.concurrency)
	a.formats.bind(cmd)
	return cmd
}

// ingestOp parses --op.
func ingestOp(s string) (writer.Operation, error) {
	switch s {
	case "upsert":
		return writer.OpUpsert, nil
	case "insert":
		return writer.OpInsert, nil
	case "bulk_insert":
		return writer.OpBulkInsert, nil
	case "delete":
		return writer.OpDelete, nil
	}
	return 0, fmt.Errorf("--op %q: want upsert, insert, bulk_insert or delete", s)
}

// options turns the flags into the pipeline's options; createErr is why
// the create flags do not make a table (reported only when the table
// does not exist).
func (a *ingestArgs) options(inputs []string) (opts pipeline.IngestOptions, createErr error, err error) {
	op, err := ingestOp(a.op)
	if err != nil {
		return opts, nil, err
	}
	if a.commitEvery < 0 {
		return opts, nil, fmt.Errorf("--commit-every must not be negative")
	}
	opts = pipeline.IngestOptions{Location: a.location, Inputs: inputs, Format: pipeline.Format(a.format), Op: op,
		CommitEvery: a.commitEvery, Strict: a.strict, InferDates: a.inferDates, SourceID: a.sourceID, NoResume: a.noResume, NoArchive: a.noArchive,
		Writer: a.formats.apply(a.concurrency.apply(writer.Options{IndexDir: a.indexDir}))}
	create, createErr := a.create.options(a.location)
	if _, err := a.timestamp.options(); err != nil {
		return opts, nil, err
	}
	if createErr == nil {
		createErr = a.timestamp.apply(&create)
	}
	if createErr == nil {
		opts.Create = &create
	}
	return opts, createErr, opts.Validate()
}

func runIngest(cmd *cobra.Command, g *globalFlags, a *ingestArgs, inputs []string) error {
	ctx := cmd.Context()
	stderr := cmd.ErrOrStderr()
	opts, createErr, err := a.options(inputs)
	if err != nil {
		return err
	}
	st, err := g.openStorage(ctx, a.location)
	if err != nil {
		return err
	}
	if err := a.timestamp.reconcile(ctx, st); err != nil {
		return err
	}
	m, stopMetrics, err := startMetrics(a.metricsAddr, "ingest", stderr)
	if err != nil {
		return err
	}
	defer stopMetrics()
	errOut := &errorFile{path: a.errorsPath}
	defer errOut.close()
	opts.Rejects, opts.Events = errOut, pipelineEvents(newProgress(stderr), m, a.location)
	res, err := pipeline.Ingest(ctx, st, opts)
	if errors.Is(err, pipeline.ErrNoTable) && createErr != nil && opts.Op != writer.OpDelete {
		return fmt.Errorf("%w (the table does not exist; give the create flags to create it)", createErr)
	}
	if err != nil {
		return err
	}
	if err := printIngest(cmd, g, res, errOut.written()); err != nil {
		return err
	}
	if !a.maxErrors.allows(res.Rejected, res.Records) {
		return &exitError{code: exitRejected, err: fmt.Errorf("ingest: %d of %d rows rejected (written to %s), more than --max-errors %s allows; the %d good rows were committed",
			res.Rejected, res.Rejected+res.Records, errOut.written(), a.maxErrors.String(), res.Records)}
	}
	return nil
}

// printIngest writes the run's summary: --output json, or text.
func printIngest(cmd *cobra.Command, g *globalFlags, res *pipeline.IngestResult, errorsFile string) error {
	out := cmd.OutOrStdout()
	if g.output == "json" {
		return printJSON(out, newIngestOutput(res, errorsFile))
	}
	fmt.Fprintf(out, "ingested %d records from %d inputs into %s in %d commits (%.1fs): %d inserts, %d updates, %d deletes, %d late ignored, %d duplicates combined\n",
		res.Records, res.Inputs, res.Location, len(res.Commits), res.Duration.Seconds(), res.Inserts, res.Updates, res.Deletes, res.LateIgnored, res.Combined)
	if n := res.Unchanged + res.Empty + res.FilesSkipped; n > 0 {
		fmt.Fprintf(out, "%d inputs not read: %d unchanged since ingested, %d empty, %d files skipped in directories\n", n, res.Unchanged, res.Empty, res.FilesSkipped)
	}
	if res.KeysNotFound > 0 {
		fmt.Fprintf(out, "%d keys to delete were not in the table\n", res.KeysNotFound)
	}
	if res.Rejected > 0 {
		fmt.Fprintf(out, "%d rows rejected, written to %s\n", res.Rejected, errorsFile)
	}
	return nil
}

// errorFile is the error output of ingest and cdc (--errors): JSON Lines,
// created on the first rejected row.
type errorFile struct {
	path string
	f    *os.File
}

func (e *errorFile) Write(p []byte) (int, error) {
	if e.f == nil {
		if e.path == "" {
			e.path = "hoodie-ingest-" + time.Now().UTC().Format("20060102-150405") + ".errors.jsonl"
		}
		f, err := os.OpenFile(e.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return 0, err
		}
		e.f = f
	}
	return e.f.Write(p)
}

// written is the file's path once a row was written to it, else "".
func (e *errorFile) written() string {
	if e.f == nil {
		return ""
	}
	return e.path
}

func (e *errorFile) close() {
	if e.f != nil {
		e.f.Close()
	}
}
