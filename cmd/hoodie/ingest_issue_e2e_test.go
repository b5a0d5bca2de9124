package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests of this file reproduce a user's report against ingest and cdc
// (one test per defect) through the built binary.

// exitCode runs the binary and returns stdout, stderr and the exit status.
func exitCode(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	out, errOut, err := hoodieCLI(t, stdin, args...)
	if err == nil {
		return out, errOut, 0
	}
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "%v", err)
	return out, errOut, ee.ExitCode()
}

func ingestSum(t *testing.T, out string) ingestOutput {
	t.Helper()
	var s ingestOutput
	require.NoError(t, json.Unmarshal([]byte(out), &s), out)
	return s
}

func completedInstants(t *testing.T, loc string) int {
	t.Helper()
	var rows []timelineRow
	require.NoError(t, json.Unmarshal([]byte(must(t, "timeline", "--table", loc, "--output", "json")), &rows))
	n := 0
	for _, r := range rows {
		if r.State == "completed" || r.State == "COMPLETED" {
			n++
		}
	}
	return n
}

// TestIngestE2EResumeByIdentity (defect 1): the resume checkpoint knows
// each input by its content, not its path and line count. An input edited
// in place is read again from its first line, loudly; an unchanged input
// that was read to its end is skipped with a note; an input that grew by
// appended lines resumes after the verified prefix; a checkpoint written
// by an earlier version (path and line only) cannot be verified, so the
// input is read from the start, with a message.
func TestIngestE2EResumeByIdentity(t *testing.T) {
	dir := t.TempDir()
	loc := filepath.Join(dir, "t")
	in := filepath.Join(dir, "rows.jsonl")
	base := []string{"--table", loc, "--index-dir", filepath.Join(dir, "idx"), "--output", "json"}
	write := func(rows ...string) {
		require.NoError(t, os.WriteFile(in, []byte(strings.Join(rows, "\n")+"\n"), 0o644))
	}
	write(`{"id":1,"ts":1,"v":"a"}`, `{"id":2,"ts":1,"v":"b"}`, `{"id":3,"ts":1,"v":"c"}`)
	out, _, code := exitCode(t, "", append(append([]string{"ingest", "--key", "id", "--precombine", "ts"}, base...), in)...)
	require.Equal(t, 0, code)
	assert.Equal(t, int64(3), ingestSum(t, out).Records)

	// Rows 1 and 2 edited in place (same number of lines, later mtime).
	write(`{"id":1,"ts":2,"v":"A"}`, `{"id":2,"ts":2,"v":"B"}`, `{"id":3,"ts":1,"v":"c"}`)
	future := time.Now().Add(time.Minute)
	require.NoError(t, os.Chtimes(in, future, future))
	out, stderr, code := exitCode(t, "", append(append([]string{"ingest"}, base...), in)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, in+" changed since it was ingested")
	assert.Contains(t, stderr, "reading it again from the first line")
	assert.Equal(t, int64(3), ingestSum(t, out).Records)
	assert.Equal(t, "id,v\n1,A\n2,B\n3,c\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT id, v FROM t ORDER BY id"))

	// Unchanged: skipped with a note, nothing committed.
	out, stderr, code = exitCode(t, "", append(append([]string{"ingest"}, base...), in)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, in+" is unchanged since it was ingested: skipped")
	assert.Equal(t, int64(0), ingestSum(t, out).Records)
	assert.Empty(t, ingestSum(t, out).Commits)

	// Appended: resumes after the verified prefix.
	f, err := os.OpenFile(in, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"id":4,"ts":1,"v":"d"}` + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	out, stderr, code = exitCode(t, "", append(append([]string{"ingest"}, base...), in)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, in+" grew since it was ingested: resuming after line 3")
	assert.Equal(t, int64(1), ingestSum(t, out).Records)
	assert.Equal(t, "n\n4\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT count(*) AS n FROM t"))

	// A checkpoint of an earlier version: path and line count only.
	old := filepath.Join(dir, "old.jsonl")
	require.NoError(t, os.WriteFile(old, []byte(`{"id":10,"ts":5,"v":"x"}`+"\n"+`{"id":11,"ts":5,"v":"y"}`+"\n"), 0o644))
	commitOldCheckpoint(t, loc, filepath.Join(dir, "idx"), fmt.Sprintf(`hoodie-ingest:{"inputs":{%q:2}}`, old))
	out, stderr, code = exitCode(t, "", append(append([]string{"ingest"}, base...), old)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, old+" was checkpointed by an earlier hoodie without its identity")
	assert.Equal(t, int64(2), ingestSum(t, out).Records, "read from the start")
	assert.Equal(t, "id,v\n10,x\n11,y\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT id, v FROM t WHERE id IN (10, 11) ORDER BY id"))
}

// commitOldCheckpoint commits one row with an ingest checkpoint in the
// format of earlier versions.
func commitOldCheckpoint(t *testing.T, loc, idx, cp string) {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, loc, storage.Options{})
	require.NoError(t, err)
	tbl, err := table.Open(ctx, st)
	require.NoError(t, err)
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: idx, IndexLocation: loc})
	require.NoError(t, err)
	defer w.Close()
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "ts", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "v", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(99)
	b.Field(1).(*array.Int64Builder).Append(1)
	b.Field(2).(*array.StringBuilder).Append("z")
	rec := b.NewRecordBatch()
	defer rec.Release()
	require.NoError(t, w.Upsert(rec))
	_, err = w.CommitWithCheckpoint(ctx, cp)
	require.NoError(t, err)
}

// TestIngestE2ECommitEveryExact (defect 2): --commit-every N commits after
// every N records, whatever the reader's batch size.
func TestIngestE2ECommitEveryExact(t *testing.T) {
	dir := t.TempDir()
	var sb strings.Builder
	for i := range 40000 {
		fmt.Fprintf(&sb, "{\"id\":%d,\"ts\":1}\n", i)
	}
	in := writeFile(t, dir, "rows.jsonl", sb.String())
	loc := filepath.Join(dir, "t")
	out, stderr, code := exitCode(t, "", "ingest", "--table", loc, "--key", "id", "--precombine", "ts", "--op", "insert",
		"--type", "mor", "--index-dir", filepath.Join(dir, "idx"), "--commit-every", "500", "--output", "json", in)
	require.Equal(t, 0, code, stderr)
	assert.Len(t, ingestSum(t, out).Commits, 80)
	// Archival after each commit (Hudi's automatic archival) keeps the
	// active timeline between 20 and 30 completed commits.
	n := completedInstants(t, loc)
	assert.True(t, n >= 20 && n <= 30, "active completed instants: %d", n)
	assert.Equal(t, "n\n40000\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT count(*) AS n FROM t"))
}

// TestIngestE2EMaxErrors (defect 3, ingest): rejected rows make the exit
// status 2 (after the good rows are committed) unless --max-errors allows
// them, as a count or a share of the rows read.
func TestIngestE2EMaxErrors(t *testing.T) {
	dir := t.TempDir()
	allBad := writeFile(t, dir, "bad.jsonl", "{\"id\":1}\n{\"id\":2}\n")
	loc := filepath.Join(dir, "t")
	errFile := filepath.Join(dir, "errors.jsonl")
	out, stderr, code := exitCode(t, "", "ingest", "--table", loc, "--key", "id", "--precombine", "ts",
		"--index-dir", filepath.Join(dir, "idx"), "--errors", errFile, allBad)
	assert.Equal(t, 2, code, "every row rejected")
	assert.Contains(t, out, "2 rows rejected, written to "+errFile)
	assert.Contains(t, stderr, "2 of 2 rows rejected")
	assert.Contains(t, stderr, "--max-errors")

	mixed := writeFile(t, dir, "mixed.jsonl", "{\"id\":1,\"ts\":1}\n{\"id\":2}\n{\"id\":3,\"ts\":1}\n{\"id\":4,\"ts\":1}\n")
	_, stderr, code = exitCode(t, "", "ingest", "--table", loc, "--key", "id", "--precombine", "ts",
		"--index-dir", filepath.Join(dir, "idx"), "--errors", errFile, "--no-resume", mixed)
	assert.Equal(t, 2, code, stderr)
	assert.Equal(t, "n\n3\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT count(*) AS n FROM t"), "good rows committed")

	for _, c := range []struct {
		budget string
		code   int
	}{{"1", 0}, {"25%", 0}, {"24%", 2}, {"0", 2}} {
		_, stderr, code = exitCode(t, "", "ingest", "--table", loc, "--index-dir", filepath.Join(dir, "idx"),
			"--errors", errFile, "--no-resume", "--max-errors", c.budget, mixed)
		assert.Equal(t, c.code, code, "--max-errors %s: %s", c.budget, stderr)
	}
	_, stderr, code = exitCode(t, "", "ingest", "--table", loc, "--max-errors", "x%", mixed)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "--max-errors")
}

// pgTruncate and pgMessage are Debezium PostgreSQL truncate and logical
// decoding message events.
func pgTruncate(lsn int64) string {
	return fmt.Sprintf(`{"before":null,"after":null,"op":"t","ts_ms":%d,"source":{"connector":"postgresql","db":"shop","schema":"public","table":"users","lsn":%d,"ts_ms":%d}}`,
		1764578400000+lsn, lsn, 1764578300000+lsn)
}

func pgMessage(lsn int64) string {
	return fmt.Sprintf(`{"op":"m","ts_ms":%d,"source":{"connector":"postgresql","db":"shop","schema":"","table":"","lsn":%d,"ts_ms":%d},"message":{"prefix":"audit","content":"aGVsbG8="}}`,
		1764578400000+lsn, lsn, 1764578300000+lsn)
}

// TestCDCE2ETruncateMessagesAndTs (defect 3, cdc): a truncate stops the run
// by default (the events before it committed, none after it applied,
// exit status non-zero); --on-truncate=delete-all applies it by deleting
// every row. Message events are skipped and counted (--on-message=fail
// stops). Rejected events make the exit status 2. source.ts_ms of 0 stays 0.
func TestCDCE2ETruncateMessagesAndTs(t *testing.T) {
	dir := t.TempDir()
	loc := filepath.Join(dir, "users")
	in := writeFile(t, dir, "events.jsonl", lines(
		pgEvent("c", 10, nil, user(1, "ann", "eu", 1)),
		pgMessage(11),
		pgEvent("c", 12, nil, user(2, "bob", "us", 1)),
		pgTruncate(13),
		pgEvent("c", 14, nil, user(3, "cid", "eu", 1)),
	))
	args := []string{"cdc", "--table", loc, "--key", "id", "--partition", "region", "--index-dir", filepath.Join(dir, "idx")}
	_, stderr, code := exitCode(t, "", append(args, in)...)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, in+" line 4: truncate of public.users")
	assert.Contains(t, stderr, "--on-truncate")
	assert.Equal(t, "id\n1\n2\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT id FROM t ORDER BY id"),
		"the events before the truncate are committed, none after it")

	out, stderr, code := exitCode(t, "", append(args, "--on-truncate", "delete-all", "--output", "json", in)...)
	require.Equal(t, 0, code, stderr)
	var sum cdcOutput
	require.NoError(t, json.Unmarshal([]byte(out), &sum))
	assert.Equal(t, int64(1), sum.Truncates)
	assert.Equal(t, int64(2), sum.Deletes, "the truncate deleted both rows")
	assert.Equal(t, "id\n3\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT id FROM t ORDER BY id"))

	// Messages: skipped and counted; --on-message=fail stops.
	loc2 := filepath.Join(dir, "users2")
	msgs := writeFile(t, dir, "msgs.jsonl", lines(pgEvent("c", 10, nil, user(1, "ann", "eu", 1)), pgMessage(11)))
	out, stderr, code = exitCode(t, "", "cdc", "--table", loc2, "--key", "id", "--index-dir", filepath.Join(dir, "idx2"), "--output", "json", msgs)
	require.Equal(t, 0, code, stderr)
	sum = cdcOutput{}
	require.NoError(t, json.Unmarshal([]byte(out), &sum))
	assert.Equal(t, int64(1), sum.MessagesSkipped)
	_, stderr, code = exitCode(t, "", "cdc", "--table", loc2, "--index-dir", filepath.Join(dir, "idx2"), "--no-resume", "--on-message", "fail", msgs)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, msgs+" line 2: message event")

	// A rejected event: exit status 2, the good one committed.
	loc3 := filepath.Join(dir, "users3")
	bad := writeFile(t, dir, "bad.jsonl", lines(pgEvent("c", 10, nil, user(1, "ann", "eu", 1)), `{"op":"x"}`))
	out, _, code = exitCode(t, "", "cdc", "--table", loc3, "--key", "id", "--index-dir", filepath.Join(dir, "idx3"),
		"--errors", filepath.Join(dir, "bad-events.jsonl"), bad)
	assert.Equal(t, 2, code)
	assert.Contains(t, out, "1 events rejected, written to "+filepath.Join(dir, "bad-events.jsonl"))
	assert.Equal(t, "id\n1\n", must(t, "query", "--table", loc3, "--output", "csv", "SELECT id FROM t"))

	// source.ts_ms 0 is 0, not NULL.
	loc4 := filepath.Join(dir, "users4")
	zero := writeFile(t, dir, "zero.jsonl", lines(`{"before":null,"after":{"id":1},"op":"c","ts_ms":0,"source":{"lsn":5,"ts_ms":0}}`))
	must(t, "cdc", "--table", loc4, "--key", "id", "--index-dir", filepath.Join(dir, "idx4"), zero)
	assert.Equal(t, "id,__source_ts_ms\n1,0\n", must(t, "query", "--table", loc4, "--output", "csv", "SELECT id, __source_ts_ms FROM t"))
}

func gzipBytes(t *testing.T, s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, err := zw.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return b.Bytes()
}

func zstdBytes(t *testing.T, s string) []byte {
	zw, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	defer zw.Close()
	return zw.EncodeAll([]byte(s), nil)
}

// TestIngestE2EInputKinds (defect 4): empty inputs are a no-op with a
// note, hidden files and files of unknown kinds in a directory are listed
// as skipped with the reason, gzip and zstd inputs are read, JSON array
// files are accepted, and a first ingest that commits nothing leaves no
// table behind.
func TestIngestE2EInputKinds(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	require.NoError(t, os.MkdirAll(data, 0o755))
	writeFile(t, data, "a.jsonl", "{\"id\":1,\"ts\":1}\n")
	writeFile(t, data, ".hidden.jsonl", "")
	writeFile(t, data, "empty.jsonl", "")
	writeFile(t, data, "README.md", "# data\n")
	require.NoError(t, os.WriteFile(filepath.Join(data, "b.jsonl.gz"), gzipBytes(t, "{\"id\":2,\"ts\":1}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(data, "c.csv.zst"), zstdBytes(t, "id,ts\n3,1\n"), 0o644))
	writeFile(t, data, "d.json", "[\n  {\n    \"id\": 4,\n    \"ts\": 1\n  },\n  {\"id\": 5, \"ts\": 1}\n]\n")
	loc := filepath.Join(dir, "t")
	out, stderr, code := exitCode(t, "", "ingest", "--table", loc, "--key", "id", "--precombine", "ts",
		"--index-dir", filepath.Join(dir, "idx"), "--output", "json", data)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, int64(5), ingestSum(t, out).Records)
	assert.Contains(t, stderr, "hoodie: skipped "+filepath.Join(data, ".hidden.jsonl")+": hidden file\n")
	assert.Contains(t, stderr, "hoodie: skipped "+filepath.Join(data, "README.md")+": not a JSON Lines, CSV or Parquet file")
	assert.Contains(t, stderr, "hoodie: note: "+filepath.Join(data, "empty.jsonl")+" is empty: nothing to ingest\n")
	assert.Equal(t, "id\n1\n2\n3\n4\n5\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT id FROM t ORDER BY id"))

	// An empty file alone: a no-op, no table.
	empty := writeFile(t, dir, "empty.csv", "")
	loc2 := filepath.Join(dir, "t2")
	_, stderr, code = exitCode(t, "", "ingest", "--table", loc2, "--key", "id", "--precombine", "ts", "--index-dir", filepath.Join(dir, "idx2"), empty)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "is empty: nothing to ingest")
	_, _, code = exitCode(t, "", "timeline", "--table", loc2)
	assert.NotEqual(t, 0, code, "no table was left behind")

	// A JSON array file on its own, into a new table.
	arr := writeFile(t, dir, "arr.json", `[{"id":1,"ts":1},{"id":2,"ts":1}]`)
	loc3 := filepath.Join(dir, "t3")
	_, stderr, code = exitCode(t, "", "ingest", "--table", loc3, "--key", "id", "--precombine", "ts", "--index-dir", filepath.Join(dir, "idx3"), arr)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "n\n2\n", must(t, "query", "--table", loc3, "--output", "csv", "SELECT count(*) AS n FROM t"))

	// A failed first ingest (a fatal error; every row rejected) leaves no table.
	broken := writeFile(t, dir, "broken.json", "[{\"id\":1,\"ts\":1}, {\"id\":")
	allBad := writeFile(t, dir, "allbad.jsonl", "{\"id\":1}\n")
	for i, in := range []string{broken, allBad} {
		loc := filepath.Join(dir, fmt.Sprintf("failed%d", i))
		_, stderr, code = exitCode(t, "", "ingest", "--table", loc, "--key", "id", "--precombine", "ts",
			"--index-dir", filepath.Join(dir, fmt.Sprintf("idxf%d", i)), "--errors", filepath.Join(dir, "e.jsonl"), in)
		assert.NotEqual(t, 0, code, in)
		_, _, code = exitCode(t, "", "timeline", "--table", loc)
		assert.NotEqual(t, 0, code, "%s: no table left behind: %s", in, stderr)
	}
}

// TestIngestE2EDatesAndTimestamps (defect 5): date and timestamp columns
// declared by --schema are read from CSV and JSON (ISO-8601 dates,
// timestamps with T or a space, with Z, an offset or neither (UTC), epoch
// numbers in the column's unit); --infer-dates infers them from ISO-8601
// strings.
func TestIngestE2EDatesAndTimestamps(t *testing.T) {
	dir := t.TempDir()
	schemaFile := writeFile(t, dir, "schema.json", `{"type":"record","name":"ev","fields":[
		{"name":"id","type":"long"},
		{"name":"ts","type":"long"},
		{"name":"d","type":["null",{"type":"int","logicalType":"date"}],"default":null},
		{"name":"t","type":["null",{"type":"long","logicalType":"timestamp-micros"}],"default":null}]}`)
	csvIn := writeFile(t, dir, "in.csv", "id,ts,d,t\n"+
		"1,1,2024-01-31,2024-01-31T12:34:56Z\n"+
		"2,1,2024-02-29,2024-01-31 12:34:56.5\n"+
		"3,1,,2024-01-31T14:34:56+02:00\n"+
		"4,1,2024-01-31,1706704496000000\n")
	jsonIn := writeFile(t, dir, "in.jsonl", `{"id":5,"ts":1,"d":"2024-03-01","t":"2024-01-31T12:34:56.123456Z"}`+"\n"+
		`{"id":6,"ts":1,"d":19753,"t":1706704496000000}`+"\n"+
		`{"id":7,"ts":1,"d":"2024-13-01","t":null}`+"\n")
	loc := filepath.Join(dir, "t")
	errFile := filepath.Join(dir, "bad.jsonl")
	out, stderr, code := exitCode(t, "", "ingest", "--table", loc, "--key", "id", "--precombine", "ts", "--schema", schemaFile,
		"--index-dir", filepath.Join(dir, "idx"), "--errors", errFile, "--output", "json", csvIn, jsonIn)
	assert.Equal(t, 2, code, "row 7 is rejected: %s", stderr)
	assert.Equal(t, int64(6), ingestSum(t, out).Records)
	bad := readBadRows(t, errFile)
	require.Len(t, bad, 1)
	assert.Equal(t, "d", bad[3].Field)
	assert.Contains(t, bad[3].Reason, "2024-13-01")
	assert.Equal(t, "id,d,t\n"+
		"1,2024-01-31,1706704496000000\n"+
		"2,2024-02-29,1706704496500000\n"+
		"3,,1706704496000000\n"+
		"4,2024-01-31,1706704496000000\n"+
		"5,2024-03-01,1706704496123456\n"+
		"6,2024-01-31,1706704496000000\n",
		must(t, "query", "--table", loc, "--output", "csv", "SELECT id, CAST(d AS VARCHAR) AS d, epoch_us(t) AS t FROM t ORDER BY id"))

	// Inference from ISO-8601 strings, only when asked.
	in := writeFile(t, dir, "infer.jsonl", `{"id":1,"ts":1,"d":"2024-01-31","t":"2024-01-31T12:34:56Z","s":"hello"}`+"\n")
	loc2 := filepath.Join(dir, "t2")
	must(t, "ingest", "--table", loc2, "--key", "id", "--precombine", "ts", "--index-dir", filepath.Join(dir, "idx2"), "--infer-dates", in)
	assert.Equal(t, "d,t,s\nDATE,TIMESTAMP WITH TIME ZONE,VARCHAR\n",
		must(t, "query", "--table", loc2, "--output", "csv", "SELECT typeof(d) AS d, typeof(t) AS t, typeof(s) AS s FROM t"))
	csvInfer := writeFile(t, dir, "infer.csv", "id,ts,d,t\n1,1,2024-01-31,2024-01-31 12:34:56\n")
	loc3 := filepath.Join(dir, "t3")
	must(t, "ingest", "--table", loc3, "--key", "id", "--precombine", "ts", "--index-dir", filepath.Join(dir, "idx3"), "--infer-dates", csvInfer)
	assert.Equal(t, "d,t\nDATE,1706704496000000\n",
		must(t, "query", "--table", loc3, "--output", "csv", "SELECT typeof(d) AS d, epoch_us(t) AS t FROM t"))
	// Without --infer-dates they stay strings.
	loc4 := filepath.Join(dir, "t4")
	must(t, "ingest", "--table", loc4, "--key", "id", "--precombine", "ts", "--index-dir", filepath.Join(dir, "idx4"), in)
	assert.Equal(t, "d\nVARCHAR\n", must(t, "query", "--table", loc4, "--output", "csv", "SELECT typeof(d) AS d FROM t"))
}

// TestIngestE2EDeleteByKeyFile (defect 6): --op delete with a file of keys
// only, on a partitioned table: each key's partition comes from the
// record-key index.
func TestIngestE2EDeleteByKeyFile(t *testing.T) {
	dir := t.TempDir()
	loc := filepath.Join(dir, "flights")
	idx := filepath.Join(dir, "idx")
	in := writeFile(t, dir, "flights.csv", "id,ts,origin\nf1,1,JFK\nf2,1,SFO\nf3,1,JFK\nf4,1,\n")
	must(t, "ingest", "--table", loc, "--key", "id", "--precombine", "ts", "--partition", "origin", "--hive-style", "--index-dir", idx, in)
	keys := writeFile(t, dir, "gone.csv", "id\nf1\nf2\nf4\nnope\n")
	out, stderr, code := exitCode(t, "", "ingest", "--table", loc, "--op", "delete", "--index-dir", idx, "--output", "json", keys)
	require.Equal(t, 0, code, stderr)
	s := ingestSum(t, out)
	assert.Equal(t, int64(3), s.Deletes)
	assert.Equal(t, int64(1), s.KeysNotFound)
	assert.Equal(t, "id\nf3\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT id FROM t ORDER BY id"))
	help := must(t, "ingest", "--help")
	assert.Contains(t, help, "partition is looked up in the record-key index")

	// A key in two partitions (keys are scoped to their partition): both go.
	two := writeFile(t, dir, "two.csv", "id,ts,origin\nf5,1,JFK\nf5,1,SFO\nf6,1,SFO\n")
	must(t, "ingest", "--table", loc, "--index-dir", idx, two)
	assert.Equal(t, "n\n2\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT count(*) AS n FROM t WHERE id = 'f5'"))
	out, stderr, code = exitCode(t, "", "ingest", "--table", loc, "--op", "delete", "--index-dir", idx, "--output", "json",
		writeFile(t, dir, "f5.csv", "id\nf5\n"))
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, int64(2), ingestSum(t, out).Deletes)
	assert.Equal(t, "id\nf3\nf6\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT id FROM t ORDER BY id"))

	// Standard input is read once: keys alone are refused there, with the reason.
	_, stderr, code = exitCode(t, "id\nf6\n", "ingest", "--table", loc, "--op", "delete", "--format", "csv", "--index-dir", idx, keys, "-")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "standard input: --op delete: the input has no partition field origin")
	assert.Equal(t, "id\nf3\nf6\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT id FROM t ORDER BY id"), "nothing applied")
}

// TestIngestE2ENullPartition (defect 7): a null or missing partition value
// is not an error: the row goes to Hudi's default partition
// __HIVE_DEFAULT_PARTITION__, as Hudi writes it; --help says so.
func TestIngestE2ENullPartition(t *testing.T) {
	dir := t.TempDir()
	loc := filepath.Join(dir, "t")
	errFile := filepath.Join(dir, "bad.jsonl")
	in := writeFile(t, dir, "in.jsonl", `{"id":1,"ts":1,"dt":"2024-01-01"}`+"\n"+`{"id":2,"ts":1,"dt":null}`+"\n"+`{"id":3,"ts":1}`+"\n"+`{"id":4,"ts":1,"dt":""}`+"\n")
	_, stderr, code := exitCode(t, "", "ingest", "--table", loc, "--key", "id", "--precombine", "ts", "--partition", "dt", "--hive-style",
		"--index-dir", filepath.Join(dir, "idx"), "--errors", errFile, in)
	require.Equal(t, 0, code, stderr)
	_, err := os.Stat(errFile)
	assert.True(t, os.IsNotExist(err), "no error output")
	assert.Equal(t, "id,p\n1,dt=2024-01-01\n2,dt=__HIVE_DEFAULT_PARTITION__\n3,dt=__HIVE_DEFAULT_PARTITION__\n4,dt=__HIVE_DEFAULT_PARTITION__\n",
		must(t, "query", "--table", loc, "--output", "csv", "SELECT id, _hoodie_partition_path AS p FROM t ORDER BY id"))
	// A file without the partition column at all: the same rule.
	in2 := writeFile(t, dir, "nopart.csv", "id,ts\n5,1\n")
	_, stderr, code = exitCode(t, "", "ingest", "--table", loc, "--index-dir", filepath.Join(dir, "idx"), "--errors", errFile, in2)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "has no partition field dt")
	assert.Equal(t, "p\ndt=__HIVE_DEFAULT_PARTITION__\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT _hoodie_partition_path AS p FROM t WHERE id = 5"))
	help := must(t, "ingest", "--help")
	assert.Contains(t, help, "__HIVE_DEFAULT_PARTITION__")
}

// TestIngestE2EResumeCompressedAndParquet: the identity of a gzip input
// is its decompressed content (a gzip member appended to it resumes after
// the verified lines); a Parquet file's is its whole content. An input
// that changed under --op insert is an error (reading it again would
// duplicate its rows), not a silent re-read.
func TestIngestE2EResumeCompressedAndParquet(t *testing.T) {
	dir := t.TempDir()
	loc := filepath.Join(dir, "t")
	base := []string{"--table", loc, "--index-dir", filepath.Join(dir, "idx"), "--output", "json"}
	gz := filepath.Join(dir, "rows.jsonl.gz")
	require.NoError(t, os.WriteFile(gz, gzipBytes(t, "{\"id\":\"a\",\"ts\":1}\n{\"id\":\"b\",\"ts\":1}\n"), 0o644))
	out, stderr, code := exitCode(t, "", append(append([]string{"ingest", "--key", "id", "--precombine", "ts"}, base...), gz)...)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, int64(2), ingestSum(t, out).Records)
	f, err := os.OpenFile(gz, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(gzipBytes(t, "{\"id\":\"c\",\"ts\":1}\n"))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	out, stderr, code = exitCode(t, "", append(append([]string{"ingest"}, base...), gz)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, gz+" grew since it was ingested: resuming after line 2")
	assert.Equal(t, int64(1), ingestSum(t, out).Records)

	pq := filepath.Join(dir, "rows.parquet")
	writeStringParquet(t, pq, []string{"p1", "p2"}, []string{"x", "y"})
	out, stderr, code = exitCode(t, "", append(append([]string{"ingest"}, base...), pq)...)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, int64(2), ingestSum(t, out).Records)
	_, stderr, code = exitCode(t, "", append(append([]string{"ingest"}, base...), pq)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, pq+" is unchanged since it was ingested: skipped")
	writeStringParquet(t, pq, []string{"p1", "p2"}, []string{"X", "y"})
	out, stderr, code = exitCode(t, "", append(append([]string{"ingest"}, base...), pq)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, pq+" changed since it was ingested")
	assert.Equal(t, int64(2), ingestSum(t, out).Records)
	assert.Equal(t, "name\nX\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT name FROM t WHERE id = 'p1'"))

	// --op insert: a changed input is refused, nothing written.
	writeStringParquet(t, pq, []string{"p1", "p2"}, []string{"Z", "y"})
	_, stderr, code = exitCode(t, "", append(append([]string{"ingest", "--op", "insert"}, base...), pq)...)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "--op insert does not deduplicate against the table")
	assert.Equal(t, "n\n1\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT count(*) AS n FROM t WHERE id = 'p1'"))
}
