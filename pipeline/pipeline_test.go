package pipeline_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/pipeline"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
)

// recorder is an EventListener that keeps what it heard.
type recorder struct {
	created   []string
	removed   int
	skipped   []string
	started   []string
	bytes     int64
	notes     []pipeline.Note
	buffered  int64
	deletes   int64
	rejected  []pipeline.RejectedRow
	commits   []string
	tombstone int
}

func (r *recorder) listener() pipeline.EventListener {
	return pipeline.EventListener{
		TableCreated:     func(name string) { r.created = append(r.created, name) },
		TableRemoved:     func() { r.removed++ },
		InputSkipped:     func(path, reason string) { r.skipped = append(r.skipped, path+": "+reason) },
		InputStarted:     func(name string, _ int64) { r.started = append(r.started, name) },
		InputRead:        func(n int) { r.bytes += int64(n) },
		Note:             func(n pipeline.Note) { r.notes = append(r.notes, n) },
		Buffered:         func(rows, deletes int64) { r.buffered += rows; r.deletes += deletes },
		Rejected:         func(rows []pipeline.RejectedRow) { r.rejected = append(r.rejected, rows...) },
		TombstoneSkipped: func() { r.tombstone++ },
		Committed:        func(res *writer.CommitResult) { r.commits = append(r.commits, res.Instant) },
	}
}

func (r *recorder) noted(sub string) bool {
	for _, n := range r.notes {
		if strings.Contains(n.Text, sub) {
			return true
		}
	}
	return false
}

// rows reads the table at loc: column col of every row, "key=value"
// sorted by key.
func rows(t *testing.T, loc, key, col string) []string {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, loc, storage.Options{})
	require.NoError(t, err)
	tbl, err := table.Open(ctx, st)
	require.NoError(t, err)
	recs, err := reader.ReadAll(ctx, tbl, reader.Options{})
	require.NoError(t, err)
	var out []string
	for _, rec := range recs {
		k := rec.Column(rec.Schema().FieldIndices(key)[0])
		v := rec.Column(rec.Schema().FieldIndices(col)[0])
		for i := 0; i < int(rec.NumRows()); i++ {
			out = append(out, k.ValueStr(i)+"="+v.ValueStr(i))
		}
		rec.Release()
	}
	sort.Strings(out)
	return out
}

func openStore(t *testing.T, loc string) storage.Storage {
	t.Helper()
	st, err := storage.Open(context.Background(), loc, storage.Options{})
	require.NoError(t, err)
	return st
}

func writeLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
}

// TestIngestRejectsAndResumes ingests a JSON Lines file with a bad row
// into a table the run creates, then runs again: the unchanged file is
// skipped; after lines are appended, only they are read.
func TestIngestRejectsAndResumes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	loc := filepath.Join(dir, "events")
	in := filepath.Join(dir, "events.jsonl")
	writeLines(t, in,
		`{"id":"a","ts":1,"v":"x"}`,
		`{"id":"b","ts":1,"v":"y"}`,
		`{"id":"c","v":"no ts"}`,
		`{"id":"a","ts":2,"v":"x2"}`)
	var rejects bytes.Buffer
	rec := &recorder{}
	opts := pipeline.IngestOptions{
		Location: loc,
		Inputs:   []string{in},
		Create:   &table.CreateOptions{Name: "events", RecordKeyFields: []string{"id"}, PrecombineField: "ts"},
		Writer:   writer.Options{IndexDir: filepath.Join(dir, "idx")},
		Rejects:  &rejects,
		Events:   rec.listener(),
	}
	res, err := pipeline.Ingest(ctx, openStore(t, loc), opts)
	require.NoError(t, err)
	assert.True(t, res.Created)
	assert.Equal(t, loc, res.Location)
	assert.Equal(t, 1, res.Inputs)
	assert.Equal(t, int64(3), res.Records)
	assert.Equal(t, int64(1), res.Rejected)
	assert.Equal(t, int64(2), res.Inserts)
	assert.Equal(t, int64(1), res.Combined)
	require.Len(t, res.Commits, 1)
	assert.Equal(t, []string{"events"}, rec.created)
	assert.Equal(t, []string{in}, rec.started)
	assert.Equal(t, int64(3), rec.buffered)
	assert.Equal(t, []string{res.Commits[0].Instant}, rec.commits)

	// The bad row, in Rejects and to the listener alike.
	want := pipeline.RejectedRow{Source: in, Line: 3, Field: "ts", Reason: "precombine field is null"}
	assert.Equal(t, []pipeline.RejectedRow{want}, rec.rejected)
	var got pipeline.RejectedRow
	require.NoError(t, json.Unmarshal(rejects.Bytes(), &got))
	assert.Equal(t, want, got)
	assert.Equal(t, []string{"a=x2", "b=y"}, rows(t, loc, "id", "v"))

	// Unchanged: skipped, nothing committed.
	rec2 := &recorder{}
	opts.Events, opts.Rejects = rec2.listener(), nil
	res, err = pipeline.Ingest(ctx, openStore(t, loc), opts)
	require.NoError(t, err)
	assert.False(t, res.Created)
	assert.Equal(t, 1, res.Unchanged)
	assert.Zero(t, res.Records)
	assert.Empty(t, res.Commits)
	assert.True(t, rec2.noted(in+" is unchanged since it was ingested: skipped"), "%v", rec2.notes)

	// Grown: only the appended lines are read.
	f, err := os.OpenFile(in, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"id":"d","ts":1,"v":"z"}` + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	rec3 := &recorder{}
	opts.Events = rec3.listener()
	res, err = pipeline.Ingest(ctx, openStore(t, loc), opts)
	require.NoError(t, err)
	assert.Equal(t, int64(1), res.Records)
	assert.Zero(t, res.Rejected, "the bad row of line 3 was committed past")
	require.Len(t, res.Commits, 1)
	assert.True(t, rec3.noted(in+" grew since it was ingested: resuming after line 4"), "%v", rec3.notes)
	assert.Equal(t, []string{"a=x2", "b=y", "d=z"}, rows(t, loc, "id", "v"))

	// NoResume reads it all again (upserts: no duplicates).
	opts.NoResume = true
	res, err = pipeline.Ingest(ctx, openStore(t, loc), opts)
	require.NoError(t, err)
	assert.Equal(t, int64(4), res.Records)
	assert.Equal(t, []string{"a=x2", "b=y", "d=z"}, rows(t, loc, "id", "v"))
}

// TestIngestStrict fails on the first bad row; the table the run created
// is removed again, so the next run without Create finds no table.
func TestIngestStrict(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	loc := filepath.Join(dir, "t")
	in := filepath.Join(dir, "a.jsonl")
	writeLines(t, in, `{"id":"a","ts":1}`, `{"id":"b"}`)
	rec := &recorder{}
	opts := pipeline.IngestOptions{Location: loc, Inputs: []string{in}, Strict: true,
		Create: &table.CreateOptions{Name: "t", RecordKeyFields: []string{"id"}, PrecombineField: "ts"},
		Writer: writer.Options{IndexDir: filepath.Join(dir, "idx")}, Events: rec.listener()}
	res, err := pipeline.Ingest(ctx, openStore(t, loc), opts)
	require.Error(t, err)
	assert.Nil(t, res)
	assert.Contains(t, err.Error(), "pipeline: ingest: "+in+" line 2: field ts: precombine field is null")
	assert.Equal(t, 1, rec.removed)

	opts.Create, opts.Strict = nil, false
	_, err = pipeline.Ingest(ctx, openStore(t, loc), opts)
	require.ErrorIs(t, err, pipeline.ErrNoTable)
	require.ErrorIs(t, err, table.ErrNotHudiTable)
}

// TestIngestDirectoryAndStdin reads a directory (a hidden file and a file
// of no input format skipped, an empty file noted) and standard input as
// CSV, and deletes by key.
func TestIngestDirectoryAndStdin(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	loc := filepath.Join(dir, "t")
	data := filepath.Join(dir, "data")
	require.NoError(t, os.MkdirAll(data, 0o755))
	writeLines(t, filepath.Join(data, "a.csv"), "id,ts,v", "1,1,a", "2,1,b")
	writeLines(t, filepath.Join(data, ".hidden.csv"), "id,ts,v", "9,9,hidden")
	writeLines(t, filepath.Join(data, "README.md"), "# not input")
	require.NoError(t, os.WriteFile(filepath.Join(data, "empty.jsonl"), nil, 0o644))
	rec := &recorder{}
	res, err := pipeline.Ingest(ctx, openStore(t, loc), pipeline.IngestOptions{
		Location: loc, Inputs: []string{data, "-"}, Format: pipeline.FormatAuto,
		Stdin:  strings.NewReader(`{"id":3,"ts":1,"v":"c"}` + "\n"),
		Create: &table.CreateOptions{Name: "t", RecordKeyFields: []string{"id"}, PrecombineField: "ts"},
		Writer: writer.Options{IndexDir: filepath.Join(dir, "idx")}, Events: rec.listener()})
	require.NoError(t, err)
	assert.Equal(t, 3, res.Inputs)
	assert.Equal(t, 2, res.FilesSkipped)
	assert.Equal(t, 1, res.Empty)
	assert.Equal(t, int64(3), res.Records)
	assert.Len(t, rec.skipped, 2)
	assert.True(t, rec.noted("empty.jsonl is empty: nothing to ingest"), "%v", rec.notes)
	assert.Equal(t, []string{"1=a", "2=b", "3=c"}, rows(t, loc, "id", "v"))

	res, err = pipeline.Ingest(ctx, openStore(t, loc), pipeline.IngestOptions{
		Location: loc, Inputs: []string{"-"}, Format: pipeline.FormatCSV, Op: writer.OpDelete,
		Stdin: strings.NewReader("id\n2\n"), Writer: writer.Options{IndexDir: filepath.Join(dir, "idx")}})
	require.NoError(t, err)
	assert.Equal(t, int64(1), res.Deletes)
	assert.Equal(t, []string{"1=a", "3=c"}, rows(t, loc, "id", "v"))
}

// pgEvent is a Debezium PostgreSQL change event.
func pgEvent(op string, lsn int64, before, after map[string]any) string {
	b, _ := json.Marshal(map[string]any{"op": op, "before": before, "after": after,
		"source": map[string]any{"connector": "postgresql", "lsn": lsn, "ts_ms": 1764578400000 + lsn, "schema": "public", "table": "users"},
		"ts_ms":  1764578400000 + lsn})
	return string(b)
}

func user(id int, name string) map[string]any { return map[string]any{"id": id, "name": name} }

// TestCDC applies creates, an update, a delete, a tombstone and a bad
// event, then runs again on the unchanged file (skipped) and on a grown
// one with soft deletes.
func TestCDC(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	loc := filepath.Join(dir, "users")
	in := filepath.Join(dir, "users.jsonl")
	writeLines(t, in,
		pgEvent("c", 10, nil, user(1, "ann")),
		pgEvent("c", 11, nil, user(2, "bob")),
		pgEvent("u", 12, user(1, "ann"), user(1, "anne")),
		"null",
		"{broken",
		pgEvent("c", 13, nil, user(3, "cy")),
		pgEvent("d", 14, user(2, "bob"), nil))
	var rejects bytes.Buffer
	rec := &recorder{}
	opts := pipeline.CDCOptions{
		Location: loc, Inputs: []string{in},
		Create:  &table.CreateOptions{Name: "users", RecordKeyFields: []string{"id"}},
		Writer:  writer.Options{IndexDir: filepath.Join(dir, "idx")},
		Rejects: &rejects, Events: rec.listener(),
	}
	res, err := pipeline.CDC(ctx, openStore(t, loc), opts)
	require.NoError(t, err)
	assert.True(t, res.Created)
	assert.Equal(t, "lsn", res.Ordering)
	assert.Equal(t, int64(5), res.Events)
	assert.Equal(t, int64(4), res.Upserts)
	assert.Equal(t, int64(1), res.DeleteEvents)
	assert.Equal(t, int64(1), res.Tombstones)
	assert.Equal(t, int64(1), res.Rejected)
	assert.Equal(t, 1, rec.tombstone)
	require.Len(t, res.Commits, 1)
	sc := bufio.NewScanner(&rejects)
	require.True(t, sc.Scan())
	var bad pipeline.RejectedRow
	require.NoError(t, json.Unmarshal(sc.Bytes(), &bad))
	assert.Equal(t, in, bad.Source)
	assert.Equal(t, int64(5), bad.Line)
	assert.Equal(t, "{broken", bad.Raw)
	assert.Equal(t, []string{"1=anne", "3=cy"}, rows(t, loc, "id", "name"))
	assert.Equal(t, []string{"1=00000000000000000012", "3=00000000000000000013"}, rows(t, loc, "id", pipeline.PosField))

	// Unchanged: skipped.
	opts.Rejects = nil
	res, err = pipeline.CDC(ctx, openStore(t, loc), opts)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Unchanged)
	assert.Empty(t, res.Commits)

	// Grown: a replayed old update (ignored: older than the stored row)
	// and a delete kept as a tombstone row.
	f, err := os.OpenFile(in, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(pgEvent("u", 12, user(1, "ann"), user(1, "anne")) + "\n" + pgEvent("d", 15, user(3, "cy"), nil) + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	opts.SoftDeletes = true
	res, err = pipeline.CDC(ctx, openStore(t, loc), opts)
	require.NoError(t, err)
	assert.Equal(t, int64(7), res.LinesSkipped)
	assert.Equal(t, int64(2), res.Upserts)
	assert.Equal(t, []string{"1=false", "3=true"}, rows(t, loc, "id", pipeline.DeletedField))
}

// TestCDCTruncate stops at a truncate by default (the events before it
// committed), and applies it with TruncateDeleteAll.
func TestCDCTruncate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	loc := filepath.Join(dir, "users")
	in := filepath.Join(dir, "users.jsonl")
	truncate := `{"op":"t","source":{"connector":"postgresql","lsn":20,"ts_ms":1,"schema":"public","table":"users"},"ts_ms":1}`
	writeLines(t, in, pgEvent("c", 10, nil, user(1, "ann")), truncate, pgEvent("c", 21, nil, user(2, "bob")))
	opts := pipeline.CDCOptions{Location: loc, Inputs: []string{in},
		Create: &table.CreateOptions{Name: "users", RecordKeyFields: []string{"id"}},
		Writer: writer.Options{IndexDir: filepath.Join(dir, "idx")}}
	_, err := pipeline.CDC(ctx, openStore(t, loc), opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), in+" line 2: truncate of public.users: stopping")
	assert.Equal(t, []string{"1=ann"}, rows(t, loc, "id", "name"))

	opts.OnTruncate = pipeline.TruncateDeleteAll
	res, err := pipeline.CDC(ctx, openStore(t, loc), opts)
	require.NoError(t, err)
	assert.Equal(t, int64(1), res.Truncates)
	assert.Len(t, res.Commits, 2)
	assert.Equal(t, []string{"2=bob"}, rows(t, loc, "id", "name"))
}

// TestCDCInterrupted ends a stream on Stdin by cancelling the context: the
// events read are committed, and the result comes with the context's
// error.
func TestCDCInterrupted(t *testing.T) {
	dir := t.TempDir()
	loc := filepath.Join(dir, "users")
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	buffered := make(chan struct{}, 1)
	rec := &recorder{}
	ev := rec.listener()
	ev.Buffered = nil
	ev.InputRead = func(int) {
		select {
		case buffered <- struct{}{}:
		default:
		}
	}
	done := make(chan struct{})
	var res *pipeline.CDCResult
	var err error
	go func() {
		defer close(done)
		res, err = pipeline.CDC(ctx, openStore(t, loc), pipeline.CDCOptions{Location: loc, Inputs: []string{"-"}, Stdin: pr,
			SourceID: "users", Create: &table.CreateOptions{Name: "users", RecordKeyFields: []string{"id"}},
			Writer: writer.Options{IndexDir: filepath.Join(dir, "idx")}, Events: ev})
	}()
	_, werr := io.WriteString(pw, pgEvent("c", 10, nil, user(1, "ann"))+"\n"+pgEvent("c", 11, nil, user(2, "bob"))+"\n")
	require.NoError(t, werr)
	<-buffered
	time.Sleep(200 * time.Millisecond) // let the lines reach the pipeline
	cancel()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("CDC did not return after the context ended")
	}
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, res)
	assert.True(t, res.Interrupted)
	assert.Equal(t, int64(2), res.Events)
	require.Len(t, res.Commits, 1)
	assert.True(t, rec.noted("interrupted: committing the buffered events"))
	assert.Equal(t, []string{"1=ann", "2=bob"}, rows(t, loc, "id", "name"))
}

// TestOptionsValidate checks the options' rules and defaults.
func TestOptionsValidate(t *testing.T) {
	for i, o := range []pipeline.IngestOptions{
		{},
		{Inputs: []string{""}},
		{Inputs: []string{"a"}, Format: "xml"},
		{Inputs: []string{"a"}, CommitEvery: -1},
		{Inputs: []string{"a"}, Op: writer.Operation(42)},
	} {
		err := o.Validate()
		require.Error(t, err, "%d", i)
		assert.True(t, strings.HasPrefix(err.Error(), "pipeline: ingest: "), err.Error())
	}
	ok := pipeline.IngestOptions{Inputs: []string{"a"}, Format: "ndjson", Location: "s3://b/t"}
	require.NoError(t, ok.Validate())
	ok.EnsureDefaults()
	assert.Equal(t, os.Stdin, ok.Stdin)
	assert.Equal(t, "s3://b/t", ok.Writer.IndexLocation)

	for i, o := range []pipeline.CDCOptions{
		{},
		{Inputs: []string{"-"}, Order: "binlog"},
		{Inputs: []string{"-"}, CommitInterval: -time.Second},
		{Inputs: []string{"-"}, OnTruncate: "ignore"},
		{Inputs: []string{"-"}, OnMessage: "apply"},
		{Inputs: []string{"-"}, Create: &table.CreateOptions{PayloadClass: table.PayloadOverwriteWithLatest}},
	} {
		err := o.Validate()
		require.Error(t, err, "%d", i)
		assert.True(t, strings.HasPrefix(err.Error(), "pipeline: cdc: "), err.Error())
	}
	create := &table.CreateOptions{Name: "u", RecordKeyFields: []string{"id"}}
	c := pipeline.CDCOptions{Inputs: []string{"-"}, Create: create}
	require.NoError(t, c.Validate())
	c.EnsureDefaults()
	assert.Equal(t, pipeline.OrderAuto, c.Order)
	assert.Equal(t, pipeline.TruncateFail, c.OnTruncate)
	assert.Equal(t, pipeline.MessageSkip, c.OnMessage)
	assert.Equal(t, pipeline.PosField, c.Create.PrecombineField)
	assert.Empty(t, create.PrecombineField, "the caller's CreateOptions are not changed")
}

// TestPositionColumns pins the column names CDC adds (readers filter on
// them).
func TestPositionColumns(t *testing.T) {
	assert.Equal(t, "_source_pos", pipeline.PosField)
	assert.Equal(t, "__op", pipeline.OpField)
	assert.Equal(t, "__source_ts_ms", pipeline.TsField)
	assert.Equal(t, "__deleted", pipeline.DeletedField)
	assert.Equal(t, "hoodie-ingest:", pipeline.CheckpointPrefix)
}

// TestIngestArchivesTheTimeline: a long run of small commits archives the
// oldest instants after each commit (Hudi's automatic archival), so the
// active timeline stays bounded; every row stays readable. NoArchive
// leaves the timeline whole.
func TestIngestArchivesTheTimeline(t *testing.T) {
	for _, noArchive := range []bool{false, true} {
		t.Run(fmt.Sprintf("noArchive=%v", noArchive), func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			loc := filepath.Join(dir, "t")
			in := filepath.Join(dir, "a.jsonl")
			var lines []string
			for i := 0; i < 24; i++ {
				lines = append(lines, fmt.Sprintf(`{"id":"k%02d","ts":1,"v":"x%d"}`, i, i))
			}
			writeLines(t, in, lines...)
			res, err := pipeline.Ingest(ctx, openStore(t, loc), pipeline.IngestOptions{
				Location: loc, Inputs: []string{in}, CommitEvery: 2, NoArchive: noArchive,
				Archive: cleaner.ArchiveOptions{MinToKeep: 4, MaxToKeep: 6},
				Create:  &table.CreateOptions{Name: "t", RecordKeyFields: []string{"id"}, PrecombineField: "ts"},
				Writer:  writer.Options{IndexDir: filepath.Join(dir, "idx")}})
			require.NoError(t, err)
			assert.Len(t, res.Commits, 12)
			tl, err := timeline.Load(ctx, openStore(t, loc))
			require.NoError(t, err)
			if noArchive {
				assert.Len(t, tl.CompletedCommits(), 12)
			} else {
				assert.LessOrEqual(t, len(tl.CompletedCommits()), 6)
			}
			assert.Len(t, rows(t, loc, "id", "v"), 24)
		})
	}
}
