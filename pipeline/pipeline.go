// Package pipeline runs hoodie's two ingestion pipelines as library calls:
// Ingest writes JSON (JSON Lines or a JSON array), CSV and Parquet files
// into a table, and CDC applies Debezium change events (JSON Lines) to one.
// The hoodie command's ingest and cdc verbs are thin layers over them: flags
// become IngestOptions and CDCOptions, and the results are what they print.
//
//	st, err := storage.Open(ctx, "/data/events", storage.Options{})
//	res, err := pipeline.Ingest(ctx, st, pipeline.IngestOptions{
//		Location: "/data/events",
//		Inputs:   []string{"events.jsonl", "more/"},
//		Create:   &table.CreateOptions{Name: "events", RecordKeyFields: []string{"id"}, PrecombineField: "ts"},
//		Rejects:  errorsFile, // JSON Lines, one RejectedRow per line
//	})
//	fmt.Println(res.Records, res.Rejected, len(res.Commits))
//
// What a run shares between the two pipelines:
//
//   - Inputs: files, directories (walked in name order; hidden files and
//     files that are not an input format are skipped and reported through
//     EventListener.InputSkipped) and "-" for the options' Stdin. gzip
//     and zstd input is read as it is.
//   - The table: opened, or created from the options' Create when the
//     location holds none. A run that created the table and commits
//     nothing removes it again, so a failed first run leaves no table.
//   - Rejected rows: a row (event) that cannot be written goes, with its
//     input, line, field and reason, to the options' Rejects as a line of
//     JSON (RejectedRow) and to EventListener.Rejected, and is counted in
//     the result; with the options' Strict the first one fails the run
//     instead, and nothing since the last commit is written. How many
//     rejected rows are too many is the caller's decision (the hoodie
//     command's --max-errors).
//   - Resumption: each commit records, in the commit metadata under the
//     streamer's checkpoint key (writer.CheckpointKey, as CheckpointPrefix
//     plus JSON), per input file the last line it covers with the identity
//     of what was read (size, modification time, SHA-256 of the bytes up to
//     that line). A later run of the same inputs skips what was committed:
//     an unchanged file read to its end is skipped, a file that only grew
//     resumes after the verified part, and a file whose content changed is
//     read again from its first line. The options' SourceID names standard
//     input (a replayable stream) for the same purpose.
//   - Progress: nothing is printed. EventListener's callbacks receive the
//     run's notes and warnings, inputs as they are read, rows buffered and
//     rejected, and commits.
//
// Messages of notes and errors name the settings as the hoodie command's
// flags spell them (Strict is --strict, Op is --op, OnTruncate is
// --on-truncate, NoResume is --no-resume).
//
// Errors are prefixed "pipeline: ingest: " or "pipeline: cdc: " and wrap
// their cause: errors.Is finds ErrNoTable, table.ErrNotHudiTable, the
// writer's and the storage's sentinels, and context.Canceled.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/internal/ingest"
	"github.com/hoodie-lake/hoodie/rollback"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
)

// ErrNoTable reports a location that holds no table while the options
// give nothing to create it from (the options' Create is nil), or the location
// of a delete-only ingest (nothing to delete). It wraps
// table.ErrNotHudiTable too.
var ErrNoTable = errors.New("pipeline: no table at the location")

// Severity ranks a Note.
type Severity int

// Severities.
const (
	// Info reports what the run does (committing on interruption,
	// applying a truncate).
	Info Severity = iota
	// Notice reports something about an input worth knowing (skipped as
	// unchanged, resumed, empty, holding no records).
	Notice
	// Warning reports something that may not be what the caller meant
	// (an input read again because it changed, rows going to the default
	// partition, a table whose ordering defeats CDC replays).
	Warning
)

// Note is a message of a run, one line of text without its line end.
type Note struct {
	Severity Severity
	Text     string
}

// RejectedRow is one input row (or change event) that was not written:
// where it came from and why. Its JSON form is a line of the options' Rejects.
type RejectedRow struct {
	Source string `json:"source"` // the input file, or "-" for standard input
	Line   int64  `json:"line"`   // 1-based line (JSON, CSV) or row (Parquet)
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
	Raw    string `json:"raw,omitempty"` // the line as read (truncated), when there is one
}

// EventListener receives what a run does as it happens; every field is
// optional. The callbacks run on the goroutine that called Ingest or CDC,
// one at a time, except InputRead, which runs on the goroutine reading the
// input (for CDC a goroutine of its own).
type EventListener struct {
	// TableCreated: the location held no table, and the run created one
	// from the options' Create, named name.
	TableCreated func(name string)
	// TableRemoved: the run created the table, committed nothing to it, and
	// removed it again.
	TableRemoved func()
	// InputSkipped: a file (or a directory, ending in the path separator)
	// found in an input directory is not read, and why.
	InputSkipped func(path, reason string)
	// InputStarted: reading a streamed input begins: its name ("standard
	// input" for Stdin) and size in bytes (-1 when unknown). Parquet files
	// are read by offset and are not reported.
	InputStarted func(name string, size int64)
	// InputRead: n more bytes of the current input were read, as stored
	// (compressed bytes of a compressed input).
	InputRead func(n int)
	// InputsDone: reading the inputs ended (every input was read; for
	// CDC also when reading stopped early); the last commit follows.
	InputsDone func()
	// Note: a note or warning about the inputs or the table.
	Note func(Note)
	// Buffered: rows were buffered for the next commit, deletes of them
	// deletes.
	Buffered func(rows, deletes int64)
	// Rejected: rows were rejected (with Strict, the run fails next).
	Rejected func(rows []RejectedRow)
	// TombstoneSkipped (CDC): a tombstone line was skipped.
	TombstoneSkipped func()
	// Committed: a commit completed.
	Committed func(res *writer.CommitResult)
	// CommitFailed: a commit failed; the run fails with err.
	CommitFailed func(err error)
}

func (e *EventListener) note(sev Severity, format string, args ...any) {
	if e.Note != nil {
		e.Note(Note{Severity: sev, Text: fmt.Sprintf(format, args...)})
	}
}

func (e *EventListener) buffered(rows, deletes int64) {
	if e.Buffered != nil {
		e.Buffered(rows, deletes)
	}
}

// CommitTally sums the commits of a run.
type CommitTally struct {
	// Commits are the run's commits, in order.
	Commits []*writer.CommitResult
	// Inserts, Updates, Deletes, LateIgnored (records older than the
	// stored version, not applied) and Combined (records of one key
	// combined within a commit) add up the commits' stats.
	Inserts, Updates, Deletes, LateIgnored, Combined int64
}

func (t *CommitTally) add(res *writer.CommitResult) {
	s := res.Stats
	t.Commits = append(t.Commits, res)
	t.Inserts += s.Inserts
	t.Updates += s.Updates
	t.Deletes += s.Deletes
	t.LateIgnored += s.LateDropped
	t.Combined += s.Duplicates
}

// common are the options Ingest and CDC share, checked and defaulted by
// both.
type common struct {
	location string
	inputs   []string
	stdin    io.Reader
	sourceID string
	noResume bool
	strict   bool
	create   *table.CreateOptions
	wopts    writer.Options
	rejects  io.Writer
	ev       EventListener
	// archive runs after each commit unless noArchive.
	archive   cleaner.ArchiveOptions
	noArchive bool
}

// run is the state ingest and cdc share: the table, its writer, the
// checkpoint and the reporting of rejected rows and commits.
type run struct {
	common
	verb     string // "ingest" or "cdc"
	tbl      *table.Table
	cfg      *table.Config
	w        *writer.Writer
	rs       *resumeState
	enc      *json.Encoder
	tally    *CommitTally
	rejected int64 // rows rejected
	created  bool
}

// openOrCreate opens the table of st or, when there is none, creates it
// from r.create (not for deletes).
func (r *run) openOrCreate(ctx context.Context, st storage.Storage, forDelete bool) error {
	tbl, err := table.Open(ctx, st)
	if errors.Is(err, table.ErrNotHudiTable) {
		if forDelete {
			return fmt.Errorf("%w: %w: nothing to delete", ErrNoTable, err)
		}
		if r.create == nil {
			return fmt.Errorf("%w: %w (no create options)", ErrNoTable, err)
		}
		if tbl, err = table.Create(ctx, st, *r.create); err != nil {
			return err
		}
		r.created = true
		if r.ev.TableCreated != nil {
			r.ev.TableCreated(r.create.Name)
		}
	} else if err != nil {
		return err
	}
	r.tbl, r.cfg = tbl, tbl.Config()
	return nil
}

// finishCreated removes the table the run created when it committed
// nothing; err is the run's error, joined with the removal's.
func (r *run) finishCreated(ctx context.Context, err error) error {
	if !r.created || len(r.tally.Commits) > 0 {
		return err
	}
	r.created = false
	if derr := dropCreatedTable(context.WithoutCancel(ctx), r.tbl); derr != nil {
		return errors.Join(err, fmt.Errorf("removing the table this run created at %s: %w", r.location, derr))
	}
	if r.ev.TableRemoved != nil {
		r.ev.TableRemoved()
	}
	return err
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
			if err := rollback.Instant(ctx, tbl, inst.Timestamp); err != nil {
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

// openWriter opens the table's writer and the run's resume state from
// the table's last checkpoint. insertOp names an operation that would
// duplicate rows read twice ("" when reading again is safe).
func (r *run) openWriter(ctx context.Context, insertOp string) error {
	w, err := writer.Open(ctx, r.tbl, r.wopts)
	if err != nil {
		return err
	}
	r.w = w
	cp, err := loadCheckpoint(ctx, w)
	if err != nil {
		return err
	}
	r.rs = &resumeState{cp: cp, noResume: r.noResume, insertOp: insertOp, ev: &r.ev}
	return nil
}

// reject reports bad rows: to the listener and Rejects, or, with Strict,
// as the run's error (the writer's buffer is dropped).
func (r *run) reject(bad []ingest.BadRow) error {
	if len(bad) == 0 {
		return nil
	}
	r.rejected += int64(len(bad))
	rows := make([]RejectedRow, len(bad))
	for i, b := range bad {
		rows[i] = RejectedRow(b)
	}
	if r.ev.Rejected != nil {
		r.ev.Rejected(rows)
	}
	if r.strict {
		r.w.Abort()
		bd := rows[0]
		return fmt.Errorf("%s line %d: %s%s (--strict: nothing since the last commit was written)", bd.Source, bd.Line, fieldPrefix(bd.Field), bd.Reason)
	}
	if r.rejects == nil {
		return nil
	}
	if r.enc == nil {
		r.enc = json.NewEncoder(r.rejects)
	}
	for _, row := range rows {
		if err := r.enc.Encode(row); err != nil {
			return fmt.Errorf("error output: %w", err)
		}
	}
	return nil
}

func fieldPrefix(f string) string {
	if f == "" {
		return ""
	}
	return "field " + f + ": "
}

// commit commits the writer's buffered records with the next checkpoint
// and counts the commit. With nothing buffered it commits nothing:
// progress over bad rows or skipped events goes with the next commit.
func (r *run) commit(ctx context.Context) error {
	if r.w.Buffered() == 0 {
		return nil
	}
	next, err := r.rs.next()
	if err != nil {
		return err
	}
	res, err := r.w.CommitWithCheckpoint(ctx, next.String())
	if err != nil {
		if r.ev.CommitFailed != nil {
			r.ev.CommitFailed(err)
		}
		return err
	}
	r.rs.committed(next)
	r.tally.add(res)
	if r.ev.Committed != nil {
		r.ev.Committed(res)
	}
	r.archiveTimeline(ctx)
	return nil
}

// archiveTimeline archives the oldest completed instants past the
// archive options' bound, after a commit. The commit stands whatever
// happens here: a failure is reported as a warning, and the next commit
// tries again.
func (r *run) archiveTimeline(ctx context.Context) {
	if r.noArchive {
		return
	}
	if _, err := cleaner.Archive(ctx, r.tbl, r.archive); err != nil {
		r.ev.note(Warning, "%s: archiving the timeline after the commit failed (the commit stands; the next commit retries): %v", r.verb, err)
	}
}

// close releases the writer and the hashers of the inputs not read to
// their end.
func (r *run) close() {
	if r.rs != nil {
		r.rs.close()
	}
	if r.w != nil {
		_ = r.w.Close()
	}
}

// defaults fills the defaults Ingest and CDC share.
func (c *common) defaults() {
	if c.stdin == nil {
		c.stdin = os.Stdin
	}
	if c.wopts.IndexLocation == "" {
		c.wopts.IndexLocation = c.location
	}
	c.archive.EnsureDefaults()
}

// validate checks the options Ingest and CDC share.
func (c *common) validate() error {
	if len(c.inputs) == 0 {
		return errors.New("no inputs")
	}
	for _, in := range c.inputs {
		if in == "" {
			return errors.New("an input is the empty string (want a file, a directory or \"-\")")
		}
	}
	if err := c.wopts.Validate(); err != nil {
		return fmt.Errorf("writer options: %w", err)
	}
	if !c.noArchive {
		a := c.archive
		a.EnsureDefaults()
		if err := a.Validate(); err != nil {
			return fmt.Errorf("archive options: %w", err)
		}
	}
	return nil
}
