package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/cdc"
	"github.com/hoodie-lake/hoodie/internal/ingest"
	"github.com/hoodie-lake/hoodie/internal/keygen"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/table"
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
	metricsAddr    string
	maxErrors      errorBudget
	onTruncate     string
	onMessage      string
	create         createArgs
	concurrency    concurrencyValue
}

// cdcSummary is what cdc counts; --output json prints it as cdcOutput.
type cdcSummary struct {
	Table      string
	Created    bool
	Inputs     int
	Ordering   string // lsn, binlog or ts_ms; "" before any event
	Events     int64  // change events buffered for writing
	Upserts    int64  // c, r, u (and soft deletes)
	DelEvents  int64
	Tombstones int64
	Skipped    int64 // lines already committed by earlier runs
	Bad        int64
	Errors     string // the errors file; "" when no event was rejected
	commitTally
	Truncates int64 // applied with --on-truncate=delete-all
	Messages  int64 // --on-message=skip
	Unchanged int
	Seconds   float64
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
defaults to ` + cdc.PosField + `).

Columns: the row image's fields, plus
  ` + fmt.Sprintf("%-16s", cdc.PosField) + `the event's source position (the ordering column, see below)
  ` + fmt.Sprintf("%-16s", cdc.OpField) + `c, r, u or d
  ` + fmt.Sprintf("%-16s", cdc.TsField) + `source.ts_ms: the database's commit time (ms)
  ` + fmt.Sprintf("%-16s", cdc.DeletedField) + `with --soft-deletes: true on rows whose last event is a delete
With a schema envelope, Connect types give the column types (decimals are decoded into their
decimal text); without one they are inferred as ingest infers them.

Ordering. ` + cdc.PosField + ` is a string of zero-padded decimal groups, so string order is
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
--soft-deletes keeps a tombstone row instead (the before image with ` + cdc.DeletedField + `=true, as
Debezium's ExtractNewRecordState rewrite mode does): it takes part in ordering like any row, so
neither replays nor reordering ever resurrect a deleted row; readers filter
"WHERE NOT ` + cdc.DeletedField + `". On partitioned tables a delete's before image must hold the partition
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
	f.BoolVar(&a.softDeletes, "soft-deletes", false, "keep deleted rows as tombstones with "+cdc.DeletedField+"=true (replay-safe) instead of hard deletes")
	f.IntVar(&a.commitEvery, "commit-every", 0, "commit every N events (default: only at the end of the input and on --commit-interval)")
	f.DurationVar(&a.commitInterval, "commit-interval", 0, "also commit buffered events this often (for streams on stdin, e.g. 30s)")
	f.StringVar(&a.errorsPath, "errors", "", "error output file (default: hoodie-ingest-<time>.errors.jsonl, created only if needed)")
	f.BoolVar(&a.strict, "strict", false, "fail on the first bad event instead of writing it to the error output")
	f.StringVar(&a.indexDir, "index-dir", "", "record-key index directory (default: under the user cache dir)")
	f.StringVar(&a.sourceID, "source-id", "", "name standard input for exactly-once resumption (a replayable stream); without it stdin is not checkpointed")
	f.BoolVar(&a.noResume, "no-resume", false, "ignore the table's checkpoint: read every input from its first line")
	f.StringVar(&a.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on HOST:PORT at /metrics (port 0: any free port, logged)")
	bindMaxErrors(cmd, &a.maxErrors, "events")
	f.StringVar(&a.onTruncate, "on-truncate", "fail", "truncate events: fail (stop before applying it, after committing the events before it) or delete-all (delete every row of the table)")
	f.StringVar(&a.onMessage, "on-message", "skip", "logical decoding message events: skip (counted in the summary) or fail (stop as at a truncate)")
	a.create.bind(cmd)
	addConcurrencyFlag(cmd, &a.concurrency)
	f.Lookup("precombine").Usage = "ordering field when creating the table (default " + cdc.PosField + ", the source position; keep it)"
	return cmd
}

// cdcRow is one event turned into a table row, waiting for the next flush.
type cdcRow struct {
	src  string
	line int64
	raw  string
	js   []byte
	del  bool // hard delete
}

// cdcRun is the state of one cdc invocation.
type cdcRun struct {
	ctx     context.Context
	a       *cdcArgs
	tbl     *table.Table
	cfg     *table.Config
	w       *writer.Writer
	kind    keygen.Kind
	errOut  *errorSink
	sum     *cdcSummary
	m       *metrics
	prog    *progress
	stderr  io.Writer
	rows    []cdcRow
	types   map[string]arrow.DataType // from schema envelopes, first seen wins
	columns []string                  // row image fields, in first-seen order
	seen    map[string]bool
	posKind cdc.Kind
	rs      *resumeState
	cur     *inputTracker // the input being read
	curEnd  int64         // the byte offset past the line being applied
}

func runCDC(cmd *cobra.Command, g *globalFlags, a *cdcArgs, inputs []string) error {
	ctx := cmd.Context()
	start := time.Now()
	stderr := cmd.ErrOrStderr()
	ord, err := cdc.ParseOrdering(a.order)
	if err != nil {
		return fmt.Errorf("--order: %w", err)
	}
	if a.commitEvery < 0 || a.commitInterval < 0 {
		return fmt.Errorf("--commit-every and --commit-interval must not be negative")
	}
	switch a.onTruncate {
	case "fail", "delete-all":
	default:
		return fmt.Errorf("--on-truncate %q: want fail or delete-all", a.onTruncate)
	}
	switch a.onMessage {
	case "skip", "fail":
	default:
		return fmt.Errorf("--on-message %q: want skip or fail", a.onMessage)
	}
	if a.create.precombine == "" {
		a.create.precombine = cdc.PosField
	}
	if a.create.payload == "latest" {
		return fmt.Errorf("--payload latest: cdc needs event-time ordering across commits (the default payload), or replayed events would overwrite newer rows")
	}
	sources, skipped, err := expandInputs(inputs, "jsonl")
	if err != nil {
		return err
	}
	for _, s := range skipped {
		fmt.Fprintf(stderr, "hoodie: skipped %s: %s\n", s.path, s.reason)
	}
	if len(sources) == 0 {
		return fmt.Errorf("cdc: no input files (%d skipped)", len(skipped))
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
	sum := &cdcSummary{Table: a.location, Inputs: len(sources), commitTally: commitTally{Commits: []commitJSON{}}}
	tbl, created, err := openOrCreateTable(ctx, st, &a.create, a.location, "cdc", false, stderr)
	if err != nil {
		return err
	}
	sum.Created = created
	r := &cdcRun{ctx: ctx, a: a, tbl: tbl, cfg: tbl.Config(), sum: sum, m: m, prog: newProgress(stderr), stderr: stderr,
		errOut: &errorSink{path: a.errorsPath}, types: map[string]arrow.DataType{}, seen: map[string]bool{}}
	defer r.errOut.close()
	interrupted, err := r.run(sources, ord)
	err = finishCreated(ctx, &sum.Created, len(sum.Commits), tbl, a.location, "cdc", stderr, err)
	if err != nil {
		return err
	}
	if r.errOut.n > 0 {
		sum.Errors = r.errOut.path
	}
	sum.Ordering = string(r.posKind)
	sum.Seconds = time.Since(start).Seconds()
	out := cmd.OutOrStdout()
	if g.output == "json" {
		if err := printJSON(out, newCDCOutput(sum)); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "applied %d change events (%d upserts, %d deletes; %d tombstones skipped) from %d inputs to %s in %d commits (%.1fs): %d inserts, %d updates, %d deletes, %d late ignored, %d duplicates combined\n",
			sum.Events, sum.Upserts, sum.DelEvents, sum.Tombstones, sum.Inputs, sum.Table, len(sum.Commits), sum.Seconds,
			sum.Inserts, sum.Updates, sum.Deletes, sum.Late, sum.Combined)
		if sum.Truncates > 0 || sum.Messages > 0 {
			fmt.Fprintf(out, "%d truncates applied (every row deleted), %d message events skipped\n", sum.Truncates, sum.Messages)
		}
		if sum.Unchanged > 0 {
			fmt.Fprintf(out, "%d inputs unchanged since applied: skipped\n", sum.Unchanged)
		}
		if sum.Bad > 0 {
			fmt.Fprintf(out, "%d events rejected, written to %s\n", sum.Bad, sum.Errors)
		}
	}
	if interrupted {
		return ctx.Err()
	}
	if !a.maxErrors.allows(sum.Bad, sum.Events) {
		return &exitError{code: exitRejected, err: fmt.Errorf("cdc: %d of %d events rejected (written to %s), more than --max-errors %s allows; the %d good events were applied",
			sum.Bad, sum.Bad+sum.Events, sum.Errors, a.maxErrors.String(), sum.Events)}
	}
	return nil
}

// run reads every source and commits; the writer is closed on return.
func (r *cdcRun) run(sources []source, ord cdc.Ordering) (interrupted bool, err error) {
	cfg := r.cfg
	if cfg.PrecombineField != cdc.PosField {
		fmt.Fprintf(r.stderr, "hoodie: warning: the table orders by %s, not %s: events are ordered by the row's %s, not by their source position\n",
			orDash(cfg.PrecombineField), cdc.PosField, orDash(cfg.PrecombineField))
	}
	if cfg.PayloadClass != table.PayloadDefault {
		fmt.Fprintf(r.stderr, "hoodie: warning: the table's payload class is %s: across commits the last write wins whatever its position, so replayed events can overwrite newer rows\n",
			orDash(cfg.PayloadClass))
	}
	if r.kind, err = keygen.KindFromClass(cfg.KeyGeneratorClass()); err != nil {
		return false, fmt.Errorf("cdc: %w", err)
	}
	if r.w, err = writer.Open(r.ctx, r.tbl, r.a.concurrency.apply(writer.Options{IndexDir: r.a.indexDir, IndexLocation: r.a.location})); err != nil {
		return false, err
	}
	defer r.w.Close()
	cp, err := loadIngestCheckpoint(r.ctx, r.w)
	if err != nil {
		return false, err
	}
	r.rs = newResumeState(cp, r.a.noResume, "", "cdc", r.stderr)
	defer r.rs.close()
	for _, src := range sources {
		if interrupted, err = r.readSource(src, ord); err != nil || interrupted {
			break
		}
	}
	r.prog.done()
	if err != nil {
		return false, err
	}
	if interrupted {
		// Commit what was read (a SIGINT/SIGTERM ends a stream on stdin).
		fmt.Fprintln(r.stderr, "hoodie: interrupted: committing the buffered events")
		r.ctx = context.WithoutCancel(r.ctx)
	}
	return interrupted, r.flush()
}

type lineMsg struct {
	b   []byte
	n   int64
	end int64 // byte offset just past the line
	err error
}

// scanLines sends the lines of rd, decompressed if it is gzip or zstd, to
// ch until EOF, an error or stop. (Detecting the compression waits for the
// first bytes: it runs here, so that an idle stream can be interrupted.)
func scanLines(rd io.Reader, ch chan<- lineMsg, stop <-chan struct{}) {
	defer close(ch)
	dec, _, err := ingest.Decompress(rd)
	if err != nil {
		select {
		case ch <- lineMsg{n: 1, err: err}:
		case <-stop:
		}
		return
	}
	defer dec.Close()
	sc := bufio.NewScanner(dec)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var off int64
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		adv, tok, err := bufio.ScanLines(data, atEOF)
		off += int64(adv)
		return adv, tok, err
	})
	var n int64
	for sc.Scan() {
		n++
		select {
		case ch <- lineMsg{b: append([]byte(nil), sc.Bytes()...), n: n, end: off}:
		case <-stop:
			return
		}
	}
	msg := lineMsg{n: n, end: off, err: io.EOF}
	if err := sc.Err(); err != nil {
		msg = lineMsg{n: n + 1, err: err}
	}
	select {
	case ch <- msg:
	case <-stop:
	}
}

// readSource reads one input to its end (or until the context ends,
// reported as interrupted), flushing on --commit-every and
// --commit-interval.
func (r *cdcRun) readSource(src source, ord cdc.Ordering) (interrupted bool, err error) {
	id := checkpointID(src, r.a.sourceID)
	tr, skip, err := r.rs.start(src, id)
	if err != nil {
		return false, err
	}
	if skip {
		r.sum.Unchanged++
		return false, nil
	}
	defer func() {
		if tr != nil && !tr.ended && !tr.moved {
			r.rs.drop(tr)
		}
	}()
	var rd io.Reader = os.Stdin
	size := int64(-1)
	name := "standard input"
	if src.path != "-" {
		f, err := os.Open(src.path)
		if err != nil {
			return false, err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
		rd, name = f, src.path
	}
	rd = r.prog.input(name, size, rd)
	done := int64(0)
	if tr != nil {
		done = tr.done
	}
	ch := make(chan lineMsg, 256)
	stop := make(chan struct{})
	defer close(stop)
	go scanLines(rd, ch, stop)
	var tick <-chan time.Time
	if r.a.commitInterval > 0 {
		t := time.NewTicker(r.a.commitInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-r.ctx.Done():
			return true, nil
		case <-tick:
			if err := r.flush(); err != nil {
				return false, err
			}
		case msg, ok := <-ch:
			if !ok {
				return false, nil // stopped
			}
			if errors.Is(msg.err, io.EOF) {
				return false, r.rs.finish(tr, ingest.Position{Line: msg.n, Offset: msg.end})
			}
			if msg.err != nil {
				return false, fmt.Errorf("cdc: %s line %d: %w", src.path, msg.n, msg.err)
			}
			if msg.n <= done {
				r.sum.Skipped++
				continue
			}
			r.cur, r.curEnd = tr, msg.end
			if err := r.event(src.path, msg.n, msg.b, ord); err != nil {
				return false, err
			}
			r.rs.advance(tr, msg.n, msg.end)
			if r.a.commitEvery > 0 && len(r.rows) >= r.a.commitEvery {
				if err := r.flush(); err != nil {
					return false, err
				}
			}
		}
	}
}

// event parses one line into a pending row, or reports it as bad. A
// truncate or message event that stops the run (or a truncate applied)
// first commits the events before it.
func (r *cdcRun) event(src string, line int64, b []byte, ord cdc.Ordering) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	ev, err := cdc.Parse(b, ord)
	if err != nil {
		var ce *cdc.Error
		if !errors.As(err, &ce) {
			return fmt.Errorf("%s line %d: %w", src, line, err)
		}
		return r.report([]ingest.BadRow{{Source: src, Line: line, Field: ce.Field, Reason: ce.Reason, Raw: truncRaw(string(b))}})
	}
	if ev == nil {
		r.sum.Tombstones++
		r.m.tombstone()
		return nil
	}
	switch ev.Op {
	case cdc.Message:
		if r.a.onMessage == "skip" {
			r.sum.Messages++
			return nil
		}
		if err := r.flush(); err != nil {
			return err
		}
		return fmt.Errorf("cdc: %s line %d: message event: stopping before applying it or any later event (--on-message=fail); the events before it are committed (--on-message=skip skips such events)",
			src, line)
	case cdc.Truncate:
		what := "truncate"
		if ev.Table != "" {
			what += " of " + ev.Table
		}
		if err := r.flush(); err != nil {
			return err
		}
		if r.a.onTruncate != "delete-all" {
			return fmt.Errorf("cdc: %s line %d: %s: stopping before applying it or any later event (--on-truncate=fail); the events before it are committed; re-run with --on-truncate=delete-all to delete every row of the table and go on",
				src, line, what)
		}
		return r.truncate(src, line, what)
	}
	if r.posKind == "" {
		r.posKind = ev.Kind
	} else if ev.Kind != r.posKind {
		return r.report([]ingest.BadRow{{Source: src, Line: line, Field: cdc.PosField, Raw: truncRaw(string(b)),
			Reason: fmt.Sprintf("the event's position is a %s, earlier events' a %s: positions of different kinds do not order against each other (use --order ts_ms)", ev.Kind, r.posKind)}})
	}
	for _, f := range ev.Fields {
		if !r.seen[f] {
			r.seen[f] = true
			r.columns = append(r.columns, f)
		}
	}
	for k, t := range ev.Types {
		if _, ok := r.types[k]; !ok {
			r.types[k] = t
		}
	}
	del := ev.Op.IsDelete()
	if r.a.softDeletes {
		ev.Row[cdc.DeletedField] = json.RawMessage(fmt.Sprint(del))
		del = false
	}
	js, err := json.Marshal(ev.Row)
	if err != nil {
		return fmt.Errorf("%s line %d: %w", src, line, err)
	}
	r.rows = append(r.rows, cdcRow{src: src, line: line, raw: truncRaw(string(b)), js: js, del: del})
	return nil
}

// truncate applies a truncate event (after the events before it were
// committed): every row of the table is deleted by key through the
// writer's delete path, in a commit of its own that also covers the
// event's line.
func (r *cdcRun) truncate(src string, line int64, what string) error {
	snap, err := reader.Plan(r.ctx, r.tbl, reader.Options{})
	if err != nil {
		return fmt.Errorf("cdc: %s line %d: %s: reading the table: %w", src, line, what, err)
	}
	var cols []string
	for _, f := range append(append([]string(nil), r.cfg.RecordKeyFields...), r.cfg.PartitionFields...) {
		if top := strings.SplitN(f, ".", 2)[0]; !slices.Contains(cols, top) {
			cols = append(cols, top)
		}
	}
	n := int64(0)
	for rec, err := range snap.Records(r.ctx) {
		if err != nil {
			r.w.Abort()
			return fmt.Errorf("cdc: %s line %d: %s: reading the table: %w", src, line, what, err)
		}
		keys := arrowutil.Project(rec, cols)
		rec.Release()
		err = r.w.Delete(keys)
		n += keys.NumRows()
		keys.Release()
		if err != nil {
			r.w.Abort()
			return fmt.Errorf("cdc: %s line %d: %s: %w", src, line, what, err)
		}
	}
	r.sum.Truncates++
	r.m.read(n, n)
	r.rs.advance(r.cur, line, r.curEnd)
	fmt.Fprintf(r.stderr, "hoodie: %s line %d: %s: deleting all %d rows of the table (--on-truncate=delete-all)\n", src, line, what, n)
	return r.commit()
}

// report sends bad rows to the error output, or fails with --strict.
func (r *cdcRun) report(bad []ingest.BadRow) error {
	if len(bad) == 0 {
		return nil
	}
	r.sum.Bad += int64(len(bad))
	r.m.bad(int64(len(bad)))
	if r.a.strict {
		r.w.Abort()
		bd := bad[0]
		return fmt.Errorf("%s line %d: %s%s (--strict: nothing since the last commit was written)", bd.Source, bd.Line, fieldPrefix(bd.Field), bd.Reason)
	}
	return r.errOut.write(bad)
}

// flush buffers the pending rows (upserts and hard deletes, in one commit
// so the writer orders them against each other) and commits.
func (r *cdcRun) flush() error {
	if len(r.rows) > 0 {
		var ups, dels []cdcRow
		for _, row := range r.rows {
			if row.del {
				dels = append(dels, row)
			} else {
				ups = append(ups, row)
			}
		}
		r.rows = r.rows[:0]
		if err := r.buffer(ups, false); err != nil {
			return err
		}
		if err := r.buffer(dels, true); err != nil {
			return err
		}
	}
	return r.commit()
}

// hint is the table's schema with the envelope types of other fields.
func (r *cdcRun) hint() *arrow.Schema {
	var fs []arrow.Field
	seen := map[string]bool{}
	if s := r.w.Schema(); s != nil {
		for _, f := range s.Fields() {
			fs = append(fs, f)
			seen[f.Name] = true
		}
	}
	for k, t := range r.types {
		if !seen[k] {
			fs = append(fs, arrow.Field{Name: k, Type: t, Nullable: true})
		}
	}
	fs = append(fs, arrow.Field{Name: cdc.PosField, Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: cdc.OpField, Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: cdc.TsField, Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		arrow.Field{Name: cdc.DeletedField, Type: arrow.FixedWidthTypes.Boolean, Nullable: true})
	return arrow.NewSchema(fs, nil)
}

// ordered returns the fields of inferred in column order.
func (r *cdcRun) ordered(inferred *arrow.Schema) *arrow.Schema {
	var names []string
	if s := r.w.Schema(); s != nil {
		for _, f := range s.Fields() {
			names = append(names, f.Name)
		}
	}
	names = append(names, r.columns...)
	names = append(names, cdc.PosField, cdc.OpField, cdc.TsField, cdc.DeletedField)
	var fs []arrow.Field
	done := map[string]bool{}
	for _, n := range names {
		if idx := inferred.FieldIndices(n); len(idx) > 0 && !done[n] {
			done[n] = true
			fs = append(fs, inferred.Field(idx[0]))
		}
	}
	for _, f := range inferred.Fields() {
		if !done[f.Name] {
			fs = append(fs, f)
		}
	}
	return arrow.NewSchema(fs, nil)
}

// buffer turns rows into Arrow batches (as ingest parses JSON Lines),
// checks keys, partitions and ordering values, and buffers the good rows.
func (r *cdcRun) buffer(rows []cdcRow, del bool) error {
	if len(rows) == 0 {
		return nil
	}
	var buf bytes.Buffer
	for _, row := range rows {
		buf.Write(row.js)
		buf.WriteByte('\n')
	}
	// Infer the types (the table's and the envelopes' where known), then
	// parse with the columns in a stable order: the table's, the row
	// images' as they come, then the added ones.
	rd, err := ingest.NewJSONL(bytes.NewReader(buf.Bytes()), "cdc", ingest.Options{Hint: r.hint(), SampleRows: len(rows)})
	if err != nil {
		return err
	}
	sch := r.ordered(rd.Schema())
	rd.Close()
	if rd, err = ingest.NewJSONL(bytes.NewReader(buf.Bytes()), "cdc", ingest.Options{Schema: sch}); err != nil {
		return err
	}
	defer rd.Close()
	for {
		b, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var bad []ingest.BadRow
		at := func(line int64, field, reason string) ingest.BadRow {
			row := rows[line-1]
			return ingest.BadRow{Source: row.src, Line: row.line, Field: field, Reason: reason, Raw: row.raw}
		}
		for _, bd := range b.Bad {
			bad = append(bad, at(bd.Line, bd.Field, bd.Reason))
		}
		if b.Rec != nil {
			keep, more, err := r.check(b, del, at)
			bad = append(bad, more...)
			if err == nil && len(keep) > 0 {
				var good arrow.RecordBatch
				if good, err = arrowutil.Take(r.ctx, b.Rec, keep); err == nil {
					if del {
						err = r.w.Delete(good)
					} else {
						err = r.w.Upsert(good)
					}
					good.Release()
				}
				if err == nil {
					n := int64(len(keep))
					r.sum.Events += n
					if del {
						r.sum.DelEvents += n
						r.m.read(n, n)
					} else {
						r.sum.Upserts += n
						r.m.read(n, 0)
					}
				}
			}
			b.Rec.Release()
			if err != nil {
				return err
			}
		}
		if err := r.report(bad); err != nil {
			return err
		}
	}
}

const partitionUnknown = "delete: the partition field is missing or null in before, so the row's partition is unknown (PostgreSQL: REPLICA IDENTITY FULL)"

// check returns the rows of b to keep and the bad ones: a string that is
// not UTF-8, a missing key, a null ordering value (upserts), or a delete
// whose partition is unknown.
func (r *cdcRun) check(b *ingest.Batch, del bool, at func(line int64, field, reason string) ingest.BadRow) ([]int64, []ingest.BadRow, error) {
	cfg := r.cfg
	var bad []ingest.BadRow
	isBad := map[int]bool{}
	mark := func(i int, field, reason string) {
		if !isBad[i] {
			isBad[i] = true
			bad = append(bad, at(b.Lines[i], field, reason))
		}
	}
	// Upserts without a partition field: the default partition, as a
	// null value (and as ingest does).
	if miss := missingFields(b.Rec.Schema(), cfg.PartitionFields); !del && len(miss) > 0 &&
		!slices.ContainsFunc(miss, func(n string) bool { return strings.Contains(n, ".") }) {
		var ts *arrow.Schema
		if s := r.w.Schema(); s != nil {
			ts = s
		}
		b.Rec = withNullColumns(b.Rec, miss, ts)
	}
	// A key or partition field no row of the batch has: every row is bad.
	for _, f := range append(append([]string(nil), cfg.RecordKeyFields...), cfg.PartitionFields...) {
		if arrowutil.Column(b.Rec, f) != nil {
			continue
		}
		reason := "record key field is missing"
		if del && slices.Contains(cfg.PartitionFields, f) {
			reason = partitionUnknown
		} else if slices.Contains(cfg.PartitionFields, f) {
			reason = "partition field is missing"
		}
		for i := range b.Lines {
			mark(i, f, reason)
		}
		return nil, bad, nil
	}
	gen, err := keygen.New(keygen.Config{RecordKeyFields: cfg.RecordKeyFields, PartitionFields: cfg.PartitionFields,
		Kind: r.kind, HiveStyle: cfg.HiveStylePartitioning, URLEncode: cfg.URLEncodePartitioning}, b.Rec.Schema())
	if err != nil {
		return nil, nil, fmt.Errorf("cdc: %w", err)
	}
	// Strings are UTF-8 or refused (cdc.Parse refuses such events; this
	// is the backstop before the writer).
	for _, ue := range arrowutil.InvalidUTF8Rows(b.Rec) {
		mark(ue.Row, ue.Field, ue.Reason())
	}
	_, _, rowErrs := gen.KeysLenient(b.Rec)
	for _, re := range rowErrs {
		mark(re.Row, re.Field, re.Reason)
	}
	nullable := func(field, what string) {
		col := arrowutil.Column(b.Rec, field)
		for i := range b.Lines {
			if col == nil || col.IsNull(i) {
				mark(i, field, what)
			}
		}
	}
	if del {
		for _, p := range cfg.PartitionFields {
			nullable(p, partitionUnknown)
		}
	} else if cfg.PrecombineField != "" {
		nullable(cfg.PrecombineField, "precombine field is missing or null")
	}
	var keep []int64
	for i := range b.Lines {
		if !isBad[i] {
			keep = append(keep, int64(i))
		}
	}
	return keep, bad, nil
}

// commit commits the buffered rows with the checkpoint of the lines read.
func (r *cdcRun) commit() error {
	return commitBuffered(r.ctx, r.w, r.rs, r.m, &r.sum.commitTally, r.prog)
}

func truncRaw(s string) string {
	const maxRaw = 512
	if len(s) <= maxRaw {
		return s
	}
	return s[:maxRaw] + "…"
}
