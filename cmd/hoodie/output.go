package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"strings"
	"time"

	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/pipeline"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
)

// printJSON writes v as indented JSON (two spaces).
//
// # JSON output
//
// Every verb's --output json writes one JSON document to stdout, built from
// explicit output structs (never a library's own types) in one convention:
//
//   - Keys are snake_case (^[a-z0-9_]+$). Every documented key is always
//     present: a value that does not apply or is not known is null (the
//     operation of a clean instant, the last commit of an empty table, the
//     archive of clean --dry-run), never a missing key. Counts are numbers,
//     0 when nothing was counted; lists are arrays, [] when empty.
//   - Instants keep Hudi's form, "instant": "20261122120000000" (likewise
//     base_instant, last_commit, as_of, rollback_instant), and the time
//     they stand for sits next to them as an RFC 3339 string in UTC:
//     "time": "2026-11-22T12:00:00Z" (likewise base_instant_time,
//     last_commit_time, as_of_time, rollback_time). hoodie reads instant
//     times as UTC.
//   - Durations are seconds, as JSON numbers with fractions, in keys ending
//     in _seconds ("duration_seconds": 1.674).
//   - Enumerations are lowercase strings: instant states ("requested",
//     "inflight", "completed"), actions ("commit", "deltacommit", "clean",
//     ...), table types ("copy_on_write", "merge_on_read"), write
//     operations ("upsert", "bulk_insert", "compact",
//     "insert_overwrite_table", ...) and clean policies
//     ("keep_latest_commits", "keep_latest_file_versions").
//   - Sizes are bytes, in keys named bytes or ending in _bytes.
//
// The documents, by verb (each struct documents its keys):
//
//   - timeline: an array of instants, oldest first (timelineRow).
//   - files: an object with as_of, as_of_time, partitions, file_groups and
//     slices (filesOutput, sliceRow).
//   - stats: an object (tableStats, fileCounts, instantCount).
//   - compact: an object with scheduled (null if no plan was scheduled) and
//     executed (compactOutput).
//   - clean: an object with clean and archive (cleanOutput).
//   - rollback: an object (rollbackOutput).
//   - ingest: an object with the run's counters and commits, one object
//     per commit (ingestOutput, commitJSON).
//   - cdc: an object with the run's counters and commits (cdcOutput,
//     commitJSON).
//   - athena-ddl: an object with database, tables, partitions and
//     statements (athenaOutput).
//   - create: an object with location and properties, hoodie.properties as
//     written (its keys are Hudi's property names).
//   - query: an array with one object per row, keys in SELECT order, values
//     as DuckDB renders them (see printQuery): NULL is null, numbers are
//     numbers (DECIMAL with its exact digits), timestamps are RFC 3339.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// rfc3339 formats t in UTC as RFC 3339, with as many fractional digits
// as it needs.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// instantTime is the RFC 3339 time of a Hudi instant time, or nil when ts
// is empty or not an instant time.
func instantTime(ts string) *string {
	if ts == "" {
		return nil
	}
	t, err := timeline.ParseInstantTime(ts)
	if err != nil {
		return nil
	}
	s := rfc3339(t)
	return &s
}

// seconds is d in seconds, rounded to microseconds.
func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1e6) / 1e6 }

// optString is s, or nil when s is empty (null in JSON).
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// enum is a lowercase enumeration value, or nil when s is empty.
func enum(s string) *string { return optString(strings.ToLower(s)) }

// instantJSON is an instant: its time in Hudi's form and as RFC 3339, its
// action and state.
type instantJSON struct {
	Instant string  `json:"instant"`
	Time    *string `json:"time"`
	Action  string  `json:"action"`
	State   string  `json:"state"` // requested, inflight or completed
}

func newInstantJSON(i timeline.Instant) instantJSON {
	return instantJSON{Instant: i.Timestamp, Time: instantTime(i.Timestamp), Action: string(i.Action), State: strings.ToLower(i.State.String())}
}

func instantsJSON(is []timeline.Instant) []instantJSON {
	out := []instantJSON{}
	for _, i := range is {
		out = append(out, newInstantJSON(i))
	}
	return out
}

// field is one member of a JSON object written in order: its key and its
// encoded value.
type field struct {
	key   string
	value json.RawMessage
}

// appendObject appends the compact JSON object of fields, in their order.
func appendObject(b []byte, fields []field) []byte {
	b = append(b, '{')
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(f.key)
		b = append(b, k...)
		b = append(b, ':')
		b = append(b, f.value...)
	}
	return append(b, '}')
}

// jsonArrayWriter streams a JSON array of objects, indented as printJSON
// indents.
type jsonArrayWriter struct {
	w   io.Writer
	n   int
	buf []byte
	ind bytes.Buffer
}

func (a *jsonArrayWriter) write(fields []field) error {
	a.buf = appendObject(a.buf[:0], fields)
	a.ind.Reset()
	if a.n == 0 {
		a.ind.WriteString("[\n  ")
	} else {
		a.ind.WriteString(",\n  ")
	}
	a.n++
	if err := json.Indent(&a.ind, a.buf, "  ", "  "); err != nil {
		return err
	}
	_, err := a.w.Write(a.ind.Bytes())
	return err
}

func (a *jsonArrayWriter) close() error {
	end := "\n]\n"
	if a.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(a.w, end)
	return err
}

// csvWriter writes CSV records whose fields may be null: a null is an
// empty field, an empty string a quoted empty field (""), as DuckDB's
// COPY ... TO writes them. Fields are quoted as encoding/csv quotes them.
type csvWriter struct {
	w   io.Writer
	buf []byte
}

func (c *csvWriter) write(fields []*string) error {
	b := c.buf[:0]
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		if f == nil {
			continue
		}
		s := *f
		if !csvNeedsQuotes(s) {
			b = append(b, s...)
			continue
		}
		b = append(b, '"')
		b = append(b, strings.ReplaceAll(s, `"`, `""`)...)
		b = append(b, '"')
	}
	b = append(b, '\n')
	c.buf = b
	_, err := c.w.Write(b)
	return err
}

// csvNeedsQuotes is encoding/csv's rule (a comma, quote, CR or LF, a
// leading space or tab, or `\.`), plus the empty string.
func csvNeedsQuotes(s string) bool {
	if s == "" || s == `\.` {
		return true
	}
	if strings.ContainsAny(s, ",\"\r\n") {
		return true
	}
	return s[0] == ' ' || s[0] == '\t'
}

// compactOutput is compact --output json.
type compactOutput struct {
	Scheduled *compactScheduled `json:"scheduled"` // the plan this run scheduled; null if none
	Executed  []compactExecuted `json:"executed"`  // the plans this run executed (pending ones first)
}

// compactScheduled is a compaction plan scheduled.
type compactScheduled struct {
	Instant    string  `json:"instant"`
	Time       *string `json:"time"`
	FileGroups int     `json:"file_groups"`
	LogFiles   int     `json:"log_files"`
	LogBytes   int64   `json:"log_bytes"`
	Reason     string  `json:"reason"` // why the strategy scheduled it
}

// compactExecuted is a compaction executed.
type compactExecuted struct {
	Instant          string  `json:"instant"`
	Time             *string `json:"time"`
	AlreadyCompleted bool    `json:"already_completed"` // another run had completed it
	FileGroups       int     `json:"file_groups"`
	LogFiles         int64   `json:"log_files"`
	LogBlocks        int64   `json:"log_blocks"`
	LogRecords       int64   `json:"log_records"` // log records merged
	Records          int64   `json:"records"`     // records in the new base files
	BytesWritten     int64   `json:"bytes_written"`
	CarriedLogs      int     `json:"carried_logs"` // log files written during the compaction, moved into the new slices
	DurationSeconds  float64 `json:"duration_seconds"`
}

func newCompactOutput(sc *compactor.Scheduled, results []*compactor.Result) compactOutput {
	out := compactOutput{Executed: []compactExecuted{}}
	if sc != nil {
		out.Scheduled = &compactScheduled{Instant: sc.Instant, Time: instantTime(sc.Instant), FileGroups: sc.FileGroups,
			LogFiles: sc.LogFiles, LogBytes: sc.LogBytes, Reason: sc.Reason}
	}
	for _, r := range results {
		out.Executed = append(out.Executed, compactExecuted{Instant: r.Instant, Time: instantTime(r.Instant), AlreadyCompleted: r.AlreadyDone,
			FileGroups: r.FileGroups, LogFiles: r.LogFiles, LogBlocks: r.LogBlocks, LogRecords: r.LogRecords, Records: r.Records,
			BytesWritten: r.BytesWritten, CarriedLogs: r.CarriedLogs, DurationSeconds: seconds(r.Duration)})
	}
	return out
}

// cleanOutput is clean --output json.
type cleanOutput struct {
	Clean   cleanJSON    `json:"clean"`
	Archive *archiveJSON `json:"archive"` // null with --dry-run or --archive=false
}

// cleanJSON is a clean.
type cleanJSON struct {
	Instant                *string       `json:"instant"` // the completed clean; null when nothing was cleaned, and on a dry run
	Time                   *string       `json:"time"`
	DryRun                 bool          `json:"dry_run"`
	Policy                 string        `json:"policy"`                    // keep_latest_commits or keep_latest_file_versions
	EarliestCommitToRetain *string       `json:"earliest_commit_to_retain"` // null under keep_latest_file_versions or with nothing to plan
	Deleted                []string      `json:"deleted"`                   // files deleted (on a dry run: that would be), relative to the table
	DeletedFiles           int           `json:"deleted_files"`
	DeletedBytes           int64         `json:"deleted_bytes"`
	Failed                 []string      `json:"failed"`  // planned files already gone or outside the table
	Resumed                []instantJSON `json:"resumed"` // interrupted cleans finished first
}

// archiveJSON is an archival.
type archiveJSON struct {
	Archived     []instantJSON `json:"archived"` // instants moved to the archived timeline, oldest first
	File         *string       `json:"file"`     // the archive log file written, relative to the table; null if none
	Entries      int           `json:"entries"`
	PrunedClaims int           `json:"pruned_claims"`
}

func newCleanOutput(res *cleaner.Result, policy string, dryRun bool, ar *cleaner.ArchiveResult) cleanOutput {
	c := cleanJSON{Instant: optString(res.Instant.Timestamp), Time: instantTime(res.Instant.Timestamp), DryRun: dryRun,
		Policy: strings.ToLower(policy), EarliestCommitToRetain: optString(res.EarliestCommitToRetain),
		Deleted: nonNil(res.Deleted), DeletedFiles: len(res.Deleted), DeletedBytes: res.Bytes,
		Failed: nonNil(res.Failed), Resumed: instantsJSON(res.Resumed)}
	out := cleanOutput{Clean: c}
	if ar != nil {
		out.Archive = &archiveJSON{Archived: instantsJSON(ar.Archived), File: optString(ar.File), Entries: ar.Entries, PrunedClaims: ar.PrunedClaims}
	}
	return out
}

// rollbackOutput is rollback --output json.
type rollbackOutput struct {
	Instant         string  `json:"instant"` // the instant rolled back
	Time            *string `json:"time"`
	Action          string  `json:"action"`
	State           string  `json:"state"`            // its state before the rollback: requested, inflight or completed
	RollbackInstant *string `json:"rollback_instant"` // the rollback instant written; null if none was found
	RollbackTime    *string `json:"rollback_time"`
	IndexRemoved    *string `json:"index_removed"` // the default record index directory removed (a completed write was rolled back); else null
}

// printRollback writes rollback --output json for instant ts, rolled back
// from before (the timeline loaded before the rollback); the rollback
// instant is the completed rollback that is new since.
func printRollback(ctx context.Context, w io.Writer, tbl *table.Table, before *timeline.Timeline, ts, indexRemoved string) error {
	out := rollbackOutput{Instant: ts, Time: instantTime(ts), IndexRemoved: optString(indexRemoved)}
	if inst, ok := before.Find(ts); ok {
		out.Action, out.State = string(inst.Action), strings.ToLower(inst.State.String())
	}
	after, err := timeline.Load(ctx, tbl.Storage())
	if err != nil {
		return err
	}
	for _, inst := range after.Completed() {
		if inst.Action != timeline.Rollback {
			continue
		}
		if old, ok := before.Find(inst.Timestamp); ok && old.State == timeline.Completed {
			continue
		}
		out.RollbackInstant, out.RollbackTime = optString(inst.Timestamp), instantTime(inst.Timestamp)
	}
	return printJSON(w, out)
}

// commitJSON is one commit (or deltacommit) of ingest or cdc: its instant
// and what it wrote.
type commitJSON struct {
	Instant            string  `json:"instant"`
	Time               *string `json:"time"`
	Inserts            int64   `json:"inserts"`
	Updates            int64   `json:"updates"`
	Deletes            int64   `json:"deletes"`
	LateIgnored        int64   `json:"late_ignored"`        // older than the stored version (event-time ordering): not applied
	DuplicatesCombined int64   `json:"duplicates_combined"` // records of one key combined within the commit
	DurationSeconds    float64 `json:"duration_seconds"`
}

func newCommitJSON(res *writer.CommitResult) commitJSON {
	s := res.Stats
	return commitJSON{Instant: res.Instant, Time: instantTime(res.Instant), Inserts: s.Inserts, Updates: s.Updates, Deletes: s.Deletes,
		LateIgnored: s.LateDropped, DuplicatesCombined: s.Duplicates, DurationSeconds: seconds(s.Duration)}
}

// commitsJSON is the commits of a run, [] when none.
func commitsJSON(cs []*writer.CommitResult) []commitJSON {
	out := []commitJSON{}
	for _, c := range cs {
		out = append(out, newCommitJSON(c))
	}
	return out
}

// ingestOutput is ingest --output json. The counters of inserts through
// duplicates_combined add up those of commits.
type ingestOutput struct {
	Table              string       `json:"table"`
	Created            bool         `json:"created"` // the table was created by this run
	Inputs             int          `json:"inputs"`
	InputsUnchanged    int          `json:"inputs_unchanged"` // read to their end by earlier runs: skipped
	InputsEmpty        int          `json:"inputs_empty"`
	FilesSkipped       int          `json:"files_skipped"` // in directories: hidden, or not an input format
	Records            int64        `json:"records"`       // good records read
	BadRecords         int64        `json:"bad_records"`
	ErrorsFile         *string      `json:"errors_file"` // where bad records were written; null if none
	Commits            []commitJSON `json:"commits"`
	Inserts            int64        `json:"inserts"`
	Updates            int64        `json:"updates"`
	Deletes            int64        `json:"deletes"`
	LateIgnored        int64        `json:"late_ignored"`
	DuplicatesCombined int64        `json:"duplicates_combined"`
	KeysNotFound       int64        `json:"keys_not_found"` // --op delete: keys not in the table
	DurationSeconds    float64      `json:"duration_seconds"`
}

func newIngestOutput(r *pipeline.IngestResult, errorsFile string) ingestOutput {
	return ingestOutput{Table: r.Location, Created: r.Created, Inputs: r.Inputs, InputsUnchanged: r.Unchanged, InputsEmpty: r.Empty,
		FilesSkipped: r.FilesSkipped, Records: r.Records, BadRecords: r.Rejected, ErrorsFile: optString(errorsFile),
		Commits: commitsJSON(r.Commits), Inserts: r.Inserts, Updates: r.Updates, Deletes: r.Deletes, LateIgnored: r.LateIgnored,
		DuplicatesCombined: r.Combined, KeysNotFound: r.KeysNotFound, DurationSeconds: seconds(r.Duration)}
}

// cdcOutput is cdc --output json. The counters of inserts through
// duplicates_combined add up those of commits.
type cdcOutput struct {
	Table                 string       `json:"table"`
	Created               bool         `json:"created"` // the table was created by this run
	Inputs                int          `json:"inputs"`
	InputsUnchanged       int          `json:"inputs_unchanged"` // applied to their end by earlier runs: skipped
	Ordering              *string      `json:"ordering"`         // the position ordering events: lsn, binlog or ts_ms; null before any event
	Events                int64        `json:"events"`           // change events applied (buffered for writing)
	UpsertEvents          int64        `json:"upsert_events"`    // c, r, u (and soft deletes)
	DeleteEvents          int64        `json:"delete_events"`
	TombstonesSkipped     int64        `json:"tombstones_skipped"`
	LinesAlreadyCommitted int64        `json:"lines_already_committed"` // skipped: committed by earlier runs
	BadEvents             int64        `json:"bad_events"`
	ErrorsFile            *string      `json:"errors_file"` // where bad events were written; null if none
	Commits               []commitJSON `json:"commits"`
	Inserts               int64        `json:"inserts"`
	Updates               int64        `json:"updates"`
	Deletes               int64        `json:"deletes"`
	LateIgnored           int64        `json:"late_ignored"`
	DuplicatesCombined    int64        `json:"duplicates_combined"`
	Truncates             int64        `json:"truncates"`        // applied with --on-truncate=delete-all
	MessagesSkipped       int64        `json:"messages_skipped"` // --on-message=skip
	DurationSeconds       float64      `json:"duration_seconds"`
}

func newCDCOutput(r *pipeline.CDCResult, errorsFile string) cdcOutput {
	return cdcOutput{Table: r.Location, Created: r.Created, Inputs: r.Inputs, InputsUnchanged: r.Unchanged, Ordering: enum(r.Ordering),
		Events: r.Events, UpsertEvents: r.Upserts, DeleteEvents: r.DeleteEvents, TombstonesSkipped: r.Tombstones,
		LinesAlreadyCommitted: r.LinesSkipped, BadEvents: r.Rejected, ErrorsFile: optString(errorsFile), Commits: commitsJSON(r.Commits),
		Inserts: r.Inserts, Updates: r.Updates, Deletes: r.Deletes, LateIgnored: r.LateIgnored, DuplicatesCombined: r.Combined,
		Truncates: r.Truncates, MessagesSkipped: r.MessagesSkipped, DurationSeconds: seconds(r.Duration)}
}
