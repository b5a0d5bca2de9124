package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/internal/cdc"
	"github.com/hoodie-lake/hoodie/internal/ingest"
	"github.com/hoodie-lake/hoodie/internal/keygen"
	"github.com/hoodie-lake/hoodie/internal/truncate"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// Columns CDC adds to every row.
const (
	// PosField is the ordering column: the event's source position, a
	// string of zero-padded decimal groups, so string order is source
	// order. It is the precombine field of tables CDC creates.
	//
	//	PostgreSQL  source.lsn                       "%020d"
	//	MySQL       binlog file index, pos, row      "%010d.%020d.%010d"
	//	otherwise   source.ts_ms (else ts_ms)        "%020d"
	PosField = cdc.PosField
	// OpField is Debezium's operation: c, r, u or d.
	OpField = cdc.OpField
	// TsField is source.ts_ms: the database's commit time (ms).
	TsField = cdc.TsField
	// DeletedField is true on the tombstone rows of SoftDeletes.
	DeletedField = cdc.DeletedField
)

// Ordering selects how CDC orders events.
type Ordering string

// Orderings.
const (
	// OrderAuto orders by source.lsn (PostgreSQL), else the binlog file,
	// position and row (MySQL), else ts_ms.
	OrderAuto Ordering = "auto"
	// OrderTsMs orders every event by ts_ms (e.g. MySQL after a failover,
	// where binlog positions of the new server do not compare with the
	// old one's; ties go to the event read last).
	OrderTsMs Ordering = "ts_ms"
)

// TruncateAction is what CDC does at a truncate event (PostgreSQL op t).
type TruncateAction string

// Truncate actions.
const (
	// TruncateFail stops the run at a truncate: the events before it are
	// committed, neither it nor any later event is applied, and CDC fails;
	// a later run resumes at the truncate.
	TruncateFail TruncateAction = "fail"
	// TruncateDeleteAll applies it: the events before it are committed,
	// then every row of the table is deleted (a hard delete, also with
	// SoftDeletes) in a commit of its own, and the run goes on.
	TruncateDeleteAll TruncateAction = "delete-all"
)

// MessageAction is what CDC does at a logical decoding message event
// (op m).
type MessageAction string

// Message actions.
const (
	// MessageSkip skips it, counted in CDCResult.MessagesSkipped.
	MessageSkip MessageAction = "skip"
	// MessageFail stops the run as TruncateFail does.
	MessageFail MessageAction = "fail"
)

// CDCOptions configure CDC. The zero value of every field but Inputs is a
// usable default.
type CDCOptions struct {
	// Location is the table's location as the caller knows it; see
	// IngestOptions.Location.
	Location string
	// Inputs are the files, directories and "-" (Stdin) to read: Debezium
	// change events, one JSON event per line (gzip and zstd files are
	// read as they are; in directories, files that are not .jsonl or .json
	// are skipped). Required.
	Inputs []string
	// Stdin is what the input "-" reads. Default os.Stdin.
	Stdin io.Reader
	// Order is the ordering of events. Default OrderAuto.
	Order Ordering
	// SoftDeletes keeps a tombstone row for a delete (the before image
	// with DeletedField true), which takes part in ordering like any row,
	// instead of removing the row: replayed or reordered events never
	// resurrect a deleted row.
	SoftDeletes bool
	// CommitEvery commits every CommitEvery events; CommitInterval also
	// commits this often. Default 0: only at the end of the input (and
	// when ctx ends).
	CommitEvery    int
	CommitInterval time.Duration
	// Strict fails the run on the first bad event instead of writing it to
	// Rejects.
	Strict bool
	// SourceID names standard input in checkpoints; see
	// IngestOptions.SourceID.
	SourceID string
	// NoResume reads every input from its first line.
	NoResume bool
	// OnTruncate and OnMessage choose what truncate and message events do.
	// Defaults TruncateFail and MessageSkip.
	OnTruncate TruncateAction
	OnMessage  MessageAction
	// Create creates the table when the location holds none (its
	// RecordKeyFields must be the source table's primary key columns);
	// PrecombineField defaults to PosField, and PayloadClass must keep
	// event-time ordering (table.PayloadDefault). nil: the table must
	// exist.
	Create *table.CreateOptions
	// Writer configures the table's writer. IndexLocation defaults to
	// Location.
	Writer writer.Options
	// Rejects receives the bad events as JSON Lines (RejectedRow, with the
	// event's text in Raw); nil drops them.
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

// EnsureDefaults fills the zero fields that have defaults. Create is
// copied, not changed, when its PrecombineField is defaulted.
func (o *CDCOptions) EnsureDefaults() {
	c := o.common()
	c.defaults()
	o.Stdin, o.Writer, o.Archive = c.stdin, c.wopts, c.archive
	if o.Order == "" {
		o.Order = OrderAuto
	}
	if o.OnTruncate == "" {
		o.OnTruncate = TruncateFail
	}
	if o.OnMessage == "" {
		o.OnMessage = MessageSkip
	}
	if o.Create != nil && o.Create.PrecombineField == "" {
		c := *o.Create
		c.PrecombineField = PosField
		o.Create = &c
	}
}

// Validate checks the options.
func (o *CDCOptions) Validate() error {
	bad := func(format string, args ...any) error { return fmt.Errorf("pipeline: cdc: "+format, args...) }
	if err := o.common().validate(); err != nil {
		return bad("%w", err)
	}
	switch o.Order {
	case "", OrderAuto, OrderTsMs, "ts":
	default:
		return bad("Order %q: want auto or ts_ms", o.Order)
	}
	if o.CommitEvery < 0 || o.CommitInterval < 0 {
		return bad("CommitEvery and CommitInterval must not be negative")
	}
	switch o.OnTruncate {
	case "", TruncateFail, TruncateDeleteAll:
	default:
		return bad("OnTruncate %q: want fail or delete-all", o.OnTruncate)
	}
	switch o.OnMessage {
	case "", MessageSkip, MessageFail:
	default:
		return bad("OnMessage %q: want skip or fail", o.OnMessage)
	}
	if o.Create != nil && o.Create.PayloadClass == table.PayloadOverwriteWithLatest {
		return bad("Create.PayloadClass %s: cdc needs event-time ordering across commits (the default payload), or replayed events would overwrite newer rows",
			o.Create.PayloadClass)
	}
	return nil
}

func (o *CDCOptions) common() *common {
	return &common{location: o.Location, inputs: o.Inputs, stdin: o.Stdin, sourceID: o.SourceID, noResume: o.NoResume,
		strict: o.Strict, create: o.Create, wopts: o.Writer, rejects: o.Rejects, ev: o.Events,
		archive: o.Archive, noArchive: o.NoArchive}
}

// CDCResult is what a CDC run did.
type CDCResult struct {
	Location string
	// Created: the run created the table (and committed to it).
	Created bool
	// Inputs is the number of input files; Unchanged of them were applied
	// to their end by earlier runs and skipped.
	Inputs    int
	Unchanged int
	// Ordering is the kind of position ordering the events: "lsn",
	// "binlog" or "ts_ms"; "" before any event.
	Ordering string
	// Events are the change events buffered for writing: Upserts (c, r,
	// u, and soft deletes) and DeleteEvents.
	Events       int64
	Upserts      int64
	DeleteEvents int64
	// Tombstones are the tombstone lines skipped; LinesSkipped the lines
	// committed by earlier runs; Rejected the bad events.
	Tombstones   int64
	LinesSkipped int64
	Rejected     int64
	// Truncates applied (TruncateDeleteAll) and messages skipped
	// (MessageSkip).
	Truncates       int64
	MessagesSkipped int64
	CommitTally
	// Interrupted: ctx ended while reading; the events read were
	// committed, and CDC returned this result with ctx's error.
	Interrupted bool
	Duration    time.Duration
}

// CDC applies the Debezium change events of opts.Inputs to the table of
// st, in source order: op c, r and u upsert the after image, op d deletes
// the row of the before image's key (or keeps a tombstone row with
// SoftDeletes). Every row gets PosField, the event's source position, as
// its ordering value, so that of two versions of a row the later one
// wins, within a commit and (with the default payload) against the
// stored row. Commits happen every opts.CommitEvery events, every
// opts.CommitInterval and at the end, each with the checkpoint of the
// lines read, as Ingest's. Bad events go to opts.Rejects.
//
// When ctx ends while CDC reads (a stream on standard input ended by a
// signal), the events read are committed and CDC returns its result, with
// Interrupted set, and an error wrapping ctx.Err(). On any other error
// the result is nil.
func CDC(ctx context.Context, st storage.Storage, opts CDCOptions) (*CDCResult, error) {
	start := time.Now()
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	ord, _ := cdc.ParseOrdering(string(opts.Order)) // validated
	res := &CDCResult{Location: opts.Location}
	r := &cdcRun{run: run{common: *opts.common(), verb: "cdc", tally: &res.CommitTally}, opts: &opts, ord: ord, res: res,
		state: cdc.NewTable()}
	if err := r.do(ctx, st); err != nil {
		return nil, wrapErr("cdc", err)
	}
	res.Duration = time.Since(start)
	if res.Interrupted {
		return res, fmt.Errorf("pipeline: cdc: interrupted: %w", ctx.Err())
	}
	return res, nil
}

// cdcRow is one event turned into a table row, waiting for the next flush.
type cdcRow struct {
	src  string
	line int64
	raw  string
	js   []byte
	del  bool // hard delete
}

// cdcRun is the state of one CDC call.
type cdcRun struct {
	run
	opts   *CDCOptions
	ord    cdc.Ordering
	kind   keygen.Kind
	res    *CDCResult
	rows   []cdcRow
	state  *cdc.Table    // position kind, envelope types, columns seen
	cur    *inputTracker // the input being read
	curEnd int64         // the byte offset past the line being applied
}

// do runs the pipeline: inputs, table, writer, every input, the last
// commit; a table the run created and did not commit to is removed.
func (r *cdcRun) do(ctx context.Context, st storage.Storage) error {
	sources, _, err := r.listInputs(ingest.JSONL)
	if err != nil {
		return err
	}
	r.res.Inputs = len(sources)
	if err := r.openOrCreate(ctx, st, false); err != nil {
		return err
	}
	err = r.applyAll(ctx, sources)
	r.close()
	if err = r.finishCreated(ctx, err); err != nil {
		return err
	}
	r.res.Created, r.res.Rejected, r.res.Ordering = r.created, r.rejected, string(r.state.Kind())
	return nil
}

// applyAll reads every source and commits. When ctx ends, what was read
// is committed (a SIGINT or SIGTERM ends a stream on stdin).
func (r *cdcRun) applyAll(ctx context.Context, sources []source) error {
	cfg := r.cfg
	if cfg.PrecombineField != PosField {
		r.ev.note(Warning, "the table orders by %s, not %s: events are ordered by the row's %s, not by their source position",
			orDash(cfg.PrecombineField), PosField, orDash(cfg.PrecombineField))
	}
	if cfg.PayloadClass != table.PayloadDefault {
		r.ev.note(Warning, "the table's payload class is %s: across commits the last write wins whatever its position, so replayed events can overwrite newer rows",
			orDash(cfg.PayloadClass))
	}
	var err error
	if r.kind, err = keygen.KindFromClass(cfg.KeyGeneratorClass()); err != nil {
		return err
	}
	if err := r.openWriter(ctx, ""); err != nil {
		return err
	}
	interrupted := false
	for _, src := range sources {
		if interrupted, err = r.readSource(ctx, src); err != nil || interrupted {
			break
		}
	}
	if r.ev.InputsDone != nil {
		r.ev.InputsDone()
	}
	if err != nil {
		return err
	}
	if interrupted {
		r.res.Interrupted = true
		r.ev.note(Info, "interrupted: committing the buffered events")
		ctx = context.WithoutCancel(ctx)
	}
	return r.flush(ctx)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
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

// readSource reads one input to its end (or until ctx ends, reported as
// interrupted), flushing every CommitEvery events and CommitInterval.
func (r *cdcRun) readSource(ctx context.Context, src source) (interrupted bool, err error) {
	tr, skip, err := r.rs.start(src, checkpointID(src, r.sourceID))
	if err != nil {
		return false, err
	}
	if skip {
		r.res.Unchanged++
		return false, nil
	}
	defer func() {
		if tr != nil && !tr.ended && !tr.moved {
			r.rs.drop(tr)
		}
	}()
	rd, f, size, err := r.openInput(src.path)
	if err != nil {
		return false, err
	}
	if f != nil {
		defer f.Close()
	}
	ch := make(chan lineMsg, 256)
	stop := make(chan struct{})
	defer close(stop)
	go scanLines(r.started(displayName(src.path), size, rd), ch, stop)
	var tick <-chan time.Time
	if r.opts.CommitInterval > 0 {
		t := time.NewTicker(r.opts.CommitInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return true, nil
		case <-tick:
			if err := r.flush(ctx); err != nil {
				return false, err
			}
		case msg, ok := <-ch:
			if !ok {
				return false, nil // stopped
			}
			if done, err := r.line(ctx, src, tr, msg); done || err != nil {
				return false, err
			}
		}
	}
}

// line takes one message of the scanner: a line to apply (unless an
// earlier run committed it), the end of the input (done), or an error.
func (r *cdcRun) line(ctx context.Context, src source, tr *inputTracker, msg lineMsg) (done bool, err error) {
	if errors.Is(msg.err, io.EOF) {
		return true, r.rs.finish(tr, ingest.Position{Line: msg.n, Offset: msg.end})
	}
	if msg.err != nil {
		return true, fmt.Errorf("%s line %d: %w", src.path, msg.n, msg.err)
	}
	if tr != nil && msg.n <= tr.done {
		r.res.LinesSkipped++
		return false, nil
	}
	r.cur, r.curEnd = tr, msg.end
	if err := r.event(ctx, src.path, msg.n, msg.b); err != nil {
		return true, err
	}
	r.rs.advance(tr, msg.n, msg.end)
	if r.opts.CommitEvery > 0 && len(r.rows) >= r.opts.CommitEvery {
		if err := r.flush(ctx); err != nil {
			return true, err
		}
	}
	return false, nil
}

// event parses one line into a pending row, or rejects it. A truncate or
// message event that stops the run (or a truncate applied) first commits
// the events before it.
func (r *cdcRun) event(ctx context.Context, src string, line int64, b []byte) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	ev, err := cdc.Parse(b, r.ord)
	if err != nil {
		var ce *cdc.Error
		if !errors.As(err, &ce) {
			return fmt.Errorf("%s line %d: %w", src, line, err)
		}
		return r.reject([]ingest.BadRow{{Source: src, Line: line, Field: ce.Field, Reason: ce.Reason, Raw: truncRaw(string(b))}})
	}
	if ev == nil {
		r.res.Tombstones++
		if r.ev.TombstoneSkipped != nil {
			r.ev.TombstoneSkipped()
		}
		return nil
	}
	if !ev.Op.HasRow() {
		return r.control(ctx, ev, src, line)
	}
	js, del, err := r.state.Row(ev, r.opts.SoftDeletes)
	if err != nil {
		var ce *cdc.Error
		if !errors.As(err, &ce) {
			return fmt.Errorf("%s line %d: %w", src, line, err)
		}
		return r.reject([]ingest.BadRow{{Source: src, Line: line, Field: ce.Field, Reason: ce.Reason, Raw: truncRaw(string(b))}})
	}
	r.rows = append(r.rows, cdcRow{src: src, line: line, raw: truncRaw(string(b)), js: js, del: del})
	return nil
}

// control handles a truncate or message event: skipped (messages), or the
// events before it committed, then it stops the run or (a truncate with
// TruncateDeleteAll) is applied.
func (r *cdcRun) control(ctx context.Context, ev *cdc.Event, src string, line int64) error {
	if ev.Op == cdc.Message {
		if r.opts.OnMessage == MessageSkip {
			r.res.MessagesSkipped++
			return nil
		}
		if err := r.flush(ctx); err != nil {
			return err
		}
		return fmt.Errorf("%s line %d: message event: stopping before applying it or any later event (--on-message=fail); the events before it are committed (--on-message=skip skips such events)",
			src, line)
	}
	what := "truncate"
	if ev.Table != "" {
		what += " of " + ev.Table
	}
	if err := r.flush(ctx); err != nil {
		return err
	}
	if r.opts.OnTruncate != TruncateDeleteAll {
		return fmt.Errorf("%s line %d: %s: stopping before applying it or any later event (--on-truncate=fail); the events before it are committed; re-run with --on-truncate=delete-all to delete every row of the table and go on",
			src, line, what)
	}
	return r.truncate(ctx, src, line, what)
}

// truncate applies a truncate event (after the events before it were
// committed): every row of the table is deleted by key through the
// writer's delete path, in a commit of its own that also covers the
// event's line.
func (r *cdcRun) truncate(ctx context.Context, src string, line int64, what string) error {
	n, err := truncate.DeleteAll(ctx, r.tbl, r.w)
	if err != nil {
		return fmt.Errorf("%s line %d: %s: %w", src, line, what, err)
	}
	r.res.Truncates++
	r.ev.buffered(n, n)
	r.rs.advance(r.cur, line, r.curEnd)
	r.ev.note(Info, "%s line %d: %s: deleting all %d rows of the table (--on-truncate=delete-all)", src, line, what, n)
	return r.commit(ctx)
}

func truncRaw(s string) string {
	const maxRaw = 512
	if len(s) <= maxRaw {
		return s
	}
	return s[:maxRaw] + "…"
}
