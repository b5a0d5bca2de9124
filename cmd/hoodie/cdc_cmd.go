package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/hoodie-lake/hoodie/pipeline"
	"github.com/hoodie-lake/hoodie/writer"
	"github.com/spf13/cobra"
)

type cdcArgs struct {
	location       string
	order          string
	softDeletes    bool
	commitEvery    int
	commitInterval time.Duration
	errorsPath     string
	strict         bool
	indexDir       string
	sourceID       string
	noResume       bool
	noArchive      bool
	metricsAddr    string
	maxErrors      errorBudget
	onTruncate     string
	onMessage      string
	create         createArgs
	concurrency    concurrencyValue
	formats        writeFlags
}

func newCDCCmd(g *globalFlags) *cobra.Command {
	a := &cdcArgs{}
	cmd := &cobra.Command{
		Use:   "cdc --table LOCATION [create flags] FILE|DIR|- ...",
		Short: "Apply Debezium change events (JSON Lines) to a table: upserts and deletes in source order",
		Long: `cdc reads Debezium change events, one JSON event per line, from files, directories or standard
input ("-"), with or without Kafka Connect's schema envelope ({"schema":..,"payload":..});
tombstone lines (null, or a null payload) are skipped. op c, r (snapshot) and u upsert the
"after" image; op d deletes the row of the "before" image's key. A missing table is created
from the create flags (--key must name the source table's primary key columns; --precombine
defaults to ` + pipeline.PosField + `).

Columns: the row image's fields, plus
  ` + fmt.Sprintf("%-16s", pipeline.PosField) + `the event's source position (the ordering column, see below)
  ` + fmt.Sprintf("%-16s", pipeline.OpField) + `c, r, u or d
  ` + fmt.Sprintf("%-16s", pipeline.TsField) + `source.ts_ms: the database's commit time (ms)
  ` + fmt.Sprintf("%-16s", pipeline.DeletedField) + `with --soft-deletes: true on rows whose last event is a delete
With a schema envelope, Connect types give the column types (decimals are decoded into their
decimal text); without one they are inferred as ingest infers them.

Ordering. ` + pipeline.PosField + ` is a string of zero-padded decimal groups, so string order is
source order, and it is the table's precombine field: of two versions of a row, the one with
the larger position wins, within a commit and (event-time payload, the default) against the
stored row, so replayed or reordered events never bring back old values.
  PostgreSQL  source.lsn                       "%020d"             00000000000024023128
  MySQL       binlog file index, pos, row      "%010d.%020d.%010d" 0000000003.00000000000000000154.0000000000
  otherwise   source.ts_ms (else ts_ms)        "%020d"             00000001764578400123
--order ts_ms orders every event by ts_ms (e.g. MySQL after a failover, where binlog
positions of the new server do not compare with the old one's; ties then go to the event
read last). Events of one run must carry one kind of position.

Deletes. By default a delete is a hard delete (writer.Delete): the row is removed. Caveats:
a hard delete is applied whatever its position against the stored row (a delete that
arrives after a newer re-insert of the key was committed removes the re-inserted row), and
once it is committed nothing of the row remains to order against, so a replayed older event
of the key re-inserts the row. Within one commit events are ordered correctly either way.
--soft-deletes keeps a tombstone row instead (the before image with ` + pipeline.DeletedField + `=true, as
Debezium's ExtractNewRecordState rewrite mode does): it takes part in ordering like any row, so
neither replays nor reordering ever resurrect a deleted row; readers filter
"WHERE NOT ` + pipeline.DeletedField + `". On partitioned tables a delete's before image must hold the partition
fields (PostgreSQL: REPLICA IDENTITY FULL), else the event is reported as bad.

Truncates (PostgreSQL op t) and messages (op m, logical decoding messages). --on-truncate=fail (the
default) stops the run at a truncate: the events before it are committed, neither it nor any
later event is applied, and the exit status is 1; a re-run resumes at the truncate.
--on-truncate=delete-all applies it: the events before it are committed, then every row of the
table is deleted (a hard delete, also with --soft-deletes) in a commit of its own, and the run
goes on. --on-message=skip (the default) skips message events, counted in the summary
(messagesSkipped); --on-message=fail stops at one as a truncate does.

Bad events (unparseable, missing op or key, unknown op, no position, a string that is not valid
UTF-8 or an unpaired \u surrogate escape, which JSON decoding would silently turn into U+FFFD) go
with their file, line and reason to the error file (JSON Lines, --errors, as ingest); the
summary says how many; --strict fails the run on the first one instead. A null partition value
in an upsert goes to Hudi's default partition __HIVE_DEFAULT_PARTITION__, as ingest does.

` + exitStatusHelp + `

Commits happen every --commit-every events, every --commit-interval, at the end of the input,
and when interrupted (SIGINT/SIGTERM). Each commit records the last line read per input file
with the identity of what was read, as ingest does (an unchanged file is skipped, one that grew
resumes, one that changed is read again from its first line, which ordering by source position
makes safe), and per --source-id for stdin, so a re-run skips what was committed. Input files
may be gzip or zstd compressed; in directories, hidden files and files that are not .jsonl or
.json are skipped with a note. --metrics-addr serves Prometheus metrics at /metrics while the
run lasts.`,
		Example: `  hoodie cdc --table /tmp/users --key id --partition region users.cdc.jsonl
  kafka-console-consumer --topic pg.public.users ... | hoodie cdc --table s3://bucket/users --key id \
      --soft-deletes --commit-interval 30s --metrics-addr 127.0.0.1:9464 --source-id pg.public.users -
  hoodie cdc --table /tmp/orders --key order_id --type mor --order ts_ms --errors bad.jsonl dumps/
  hoodie query --table /tmp/users "SELECT * FROM t WHERE NOT __deleted"`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, inputs []string) error {
			return runCDC(cmd, g, a, inputs)
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.location, "table", "", "table location: a path, file:// or s3://bucket/prefix")
	f.StringVar(&a.order, "order", "auto", "ordering: auto (lsn, else binlog file+pos+row, else ts_ms) or ts_ms")
	f.BoolVar(&a.softDeletes, "soft-deletes", false, "keep deleted rows as tombstones with "+pipeline.DeletedField+"=true (replay-safe) instead of hard deletes")
	f.IntVar(&a.commitEvery, "commit-every", 0, "commit every N events (default: only at the end of the input and on --commit-interval)")
	f.DurationVar(&a.commitInterval, "commit-interval", 0, "also commit buffered events this often (for streams on stdin, e.g. 30s)")
	f.StringVar(&a.errorsPath, "errors", "", "error output file (default: hoodie-ingest-<time>.errors.jsonl, created only if needed)")
	f.BoolVar(&a.strict, "strict", false, "fail on the first bad event instead of writing it to the error output")
	f.StringVar(&a.indexDir, "index-dir", "", "record-key index directory (default: under the user cache dir)")
	f.StringVar(&a.sourceID, "source-id", "", "name standard input for exactly-once resumption (a replayable stream); without it stdin is not checkpointed")
	f.BoolVar(&a.noResume, "no-resume", false, "ignore the table's checkpoint: read every input from its first line")
	f.BoolVar(&a.noArchive, "no-archive", false, "do not archive the timeline after each commit (by default, past 30 completed commits the oldest are archived down to 20, as Hudi's automatic archival)")
	f.StringVar(&a.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on HOST:PORT at /metrics (port 0: any free port, logged)")
	bindMaxErrors(cmd, &a.maxErrors, "events")
	f.StringVar(&a.onTruncate, "on-truncate", "fail", "truncate events: fail (stop before applying it, after committing the events before it) or delete-all (delete every row of the table)")
	f.StringVar(&a.onMessage, "on-message", "skip", "logical decoding message events: skip (counted in the summary) or fail (stop as at a truncate)")
	a.create.bind(cmd)
	addConcurrencyFlag(cmd, &a.concurrency)
	a.formats.bind(cmd)
	f.Lookup("precombine").Usage = "ordering field when creating the table (default " + pipeline.PosField + ", the source position; keep it)"
	return cmd
}

// options validates the flags and turns them into the pipeline's options;
// createErr is why the create flags do not make a table (reported only
// when the table does not exist).
func (a *cdcArgs) options(inputs []string) (opts pipeline.CDCOptions, createErr error, err error) {
	switch a.order {
	case "auto", "", "ts_ms", "ts":
	default:
		return opts, nil, fmt.Errorf("--order %q: want auto or ts_ms", a.order)
	}
	if a.commitEvery < 0 || a.commitInterval < 0 {
		return opts, nil, fmt.Errorf("--commit-every and --commit-interval must not be negative")
	}
	switch a.onTruncate {
	case "fail", "delete-all":
	default:
		return opts, nil, fmt.Errorf("--on-truncate %q: want fail or delete-all", a.onTruncate)
	}
	switch a.onMessage {
	case "skip", "fail":
	default:
		return opts, nil, fmt.Errorf("--on-message %q: want skip or fail", a.onMessage)
	}
	if a.create.precombine == "" {
		a.create.precombine = pipeline.PosField
	}
	if a.create.payload == "latest" {
		return opts, nil, fmt.Errorf("--payload latest: cdc needs event-time ordering across commits (the default payload), or replayed events would overwrite newer rows")
	}
	opts = pipeline.CDCOptions{Location: a.location, Inputs: inputs, Order: pipeline.Ordering(a.order), SoftDeletes: a.softDeletes,
		CommitEvery: a.commitEvery, CommitInterval: a.commitInterval, Strict: a.strict, SourceID: a.sourceID, NoResume: a.noResume, NoArchive: a.noArchive,
		OnTruncate: pipeline.TruncateAction(a.onTruncate), OnMessage: pipeline.MessageAction(a.onMessage),
		Writer: a.formats.apply(a.concurrency.apply(writer.Options{IndexDir: a.indexDir}))}
	create, createErr := a.create.options(a.location)
	if createErr == nil {
		opts.Create = &create
	}
	return opts, createErr, opts.Validate()
}

func runCDC(cmd *cobra.Command, g *globalFlags, a *cdcArgs, inputs []string) error {
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
	m, stopMetrics, err := startMetrics(a.metricsAddr, "cdc", stderr)
	if err != nil {
		return err
	}
	defer stopMetrics()
	errOut := &errorFile{path: a.errorsPath}
	defer errOut.close()
	opts.Rejects, opts.Events = errOut, pipelineEvents(newProgress(stderr), m, a.location)
	res, err := pipeline.CDC(ctx, st, opts)
	if errors.Is(err, pipeline.ErrNoTable) && createErr != nil {
		return fmt.Errorf("%w (the table does not exist; give the create flags to create it)", createErr)
	}
	if res == nil || !res.Interrupted {
		if err != nil {
			return err
		}
	}
	if err := printCDC(cmd, g, res, errOut.written()); err != nil {
		return err
	}
	if res.Interrupted {
		// A SIGINT/SIGTERM ended the run after committing what it read.
		return ctx.Err()
	}
	if !a.maxErrors.allows(res.Rejected, res.Events) {
		return &exitError{code: exitRejected, err: fmt.Errorf("cdc: %d of %d events rejected (written to %s), more than --max-errors %s allows; the %d good events were applied",
			res.Rejected, res.Rejected+res.Events, errOut.written(), a.maxErrors.String(), res.Events)}
	}
	return nil
}

// printCDC writes the run's summary: --output json, or text.
func printCDC(cmd *cobra.Command, g *globalFlags, res *pipeline.CDCResult, errorsFile string) error {
	out := cmd.OutOrStdout()
	if g.output == "json" {
		return printJSON(out, newCDCOutput(res, errorsFile))
	}
	fmt.Fprintf(out, "applied %d change events (%d upserts, %d deletes; %d tombstones skipped) from %d inputs to %s in %d commits (%.1fs): %d inserts, %d updates, %d deletes, %d late ignored, %d duplicates combined\n",
		res.Events, res.Upserts, res.DeleteEvents, res.Tombstones, res.Inputs, res.Location, len(res.Commits), res.Duration.Seconds(),
		res.Inserts, res.Updates, res.Deletes, res.LateIgnored, res.Combined)
	if res.Truncates > 0 || res.MessagesSkipped > 0 {
		fmt.Fprintf(out, "%d truncates applied (every row deleted), %d message events skipped\n", res.Truncates, res.MessagesSkipped)
	}
	if res.Unchanged > 0 {
		fmt.Fprintf(out, "%d inputs unchanged since applied: skipped\n", res.Unchanged)
	}
	if res.Rejected > 0 {
		fmt.Fprintf(out, "%d events rejected, written to %s\n", res.Rejected, errorsFile)
	}
	return nil
}
