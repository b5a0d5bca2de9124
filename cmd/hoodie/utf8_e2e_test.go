package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/hoodie-lake/hoodie/internal/ingest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readBadRows reads an error file into line -> bad row.
func readBadRows(t *testing.T, path string) map[int64]ingest.BadRow {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[int64]ingest.BadRow{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var b ingest.BadRow
		require.NoError(t, json.Unmarshal(sc.Bytes(), &b))
		out[b.Line] = b
	}
	require.NoError(t, sc.Err())
	return out
}

// TestIngestE2EInvalidUTF8 feeds the binary CSV, JSON Lines and Parquet
// input with strings that are not valid UTF-8 (and JSON escapes of
// unpaired surrogates, which decoding would turn into U+FFFD): those rows
// go to the error output naming line, field and bytes, the others commit,
// the exit status is 2 (rows rejected; --strict: an error, nothing
// committed, no table left), and the table reads back with only the valid
// strings.
func TestIngestE2EInvalidUTF8(t *testing.T) {
	dir := t.TempDir()
	csvIn := writeFile(t, dir, "in.csv", "id,ts,name\na,1,ok\nb,2,x\xff\xfey\nc,3,Zürich\n")
	jsonIn := writeFile(t, dir, "in.jsonl", "{\"id\":\"d\",\"ts\":4,\"name\":\"fine\"}\n"+
		"{\"id\":\"e\",\"ts\":5,\"name\":\"x\xff\xfey\"}\n"+
		`{"id":"f","ts":6,"name":"x\ud800y"}`+"\n"+
		`{"id":"g","ts":7,"name":"\ud83d\ude00"}`+"\n"+
		"{\"id\":\"h\",\"ts\":8,\"na\xffme\":\"z\"}\n")
	pqIn := filepath.Join(dir, "in.parquet")
	writeStringParquet(t, pqIn, []string{"i", "j\xc3", "k"}, []string{"ok", "ok", "\xfe"})

	loc := filepath.Join(dir, "t")
	errFile := filepath.Join(dir, "bad.jsonl")
	out, _, code := exitCode(t, "", "ingest", "--table", loc, "--key", "id", "--precombine", "ts",
		"--index-dir", filepath.Join(dir, "idx"), "--errors", errFile, "--output", "json", csvIn, jsonIn, pqIn)
	require.Equal(t, exitRejected, code, "bad rows do not fail the run: the good ones commit, the exit status says rows were rejected")
	var sum ingestOutput
	require.NoError(t, json.Unmarshal([]byte(out), &sum))
	assert.Equal(t, int64(5), sum.Records)
	assert.Equal(t, int64(6), sum.BadRecords)
	require.Len(t, sum.Commits, 1)

	f, err := os.Open(errFile)
	require.NoError(t, err)
	var bad []ingest.BadRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var b ingest.BadRow
		require.NoError(t, json.Unmarshal(sc.Bytes(), &b))
		bad = append(bad, b)
	}
	f.Close()
	type where struct {
		src   string
		line  int64
		field string
	}
	got := map[where]string{}
	for _, b := range bad {
		got[where{b.Source, b.Line, b.Field}] = b.Reason
	}
	assert.Len(t, got, 6)
	assert.Contains(t, got[where{csvIn, 3, "name"}], `not valid UTF-8: "\xff\xfe" at byte 1 of "x\xff\xfey"`)
	assert.Contains(t, got[where{jsonIn, 2, "name"}], `"\xff\xfe" at byte 1`)
	assert.Contains(t, got[where{jsonIn, 3, "name"}], `unpaired UTF-16 surrogate escape \ud800`)
	assert.Contains(t, got[where{jsonIn, 5, ""}], "field name")
	assert.Contains(t, got[where{pqIn, 2, "id"}], `"\xc3"`, "Parquet rows are numbered from 1")
	assert.Contains(t, got[where{pqIn, 3, "name"}], `"\xfe"`)

	q := must(t, "query", "--table", loc, "--output", "csv", "SELECT id, name FROM t ORDER BY id")
	assert.Equal(t, "id,name\na,ok\nc,Zürich\nd,fine\ng,😀\ni,ok\n", q)

	// --strict: the first such row fails the run; nothing is committed.
	strict := filepath.Join(dir, "strict")
	_, _, err = hoodieCLI(t, "", "ingest", "--table", strict, "--key", "id", "--precombine", "ts",
		"--index-dir", filepath.Join(dir, "idx2"), "--strict", csvIn)
	require.Error(t, err)
	assert.Contains(t, err.Error(), csvIn+` line 3: field name: string is not valid UTF-8: "\xff\xfe"`)
	_, _, code = exitCode(t, "", "timeline", "--table", strict)
	assert.NotEqual(t, 0, code, "nothing committed: no table left")
}

func writeStringParquet(t *testing.T, path string, ids, names []string) {
	t.Helper()
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ts", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	for i := range ids {
		b.Field(0).(*array.StringBuilder).Append(ids[i])
		b.Field(1).(*array.Int64Builder).Append(int64(100 + i))
		b.Field(2).(*array.StringBuilder).Append(names[i])
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(sch, &buf, nil, pqarrow.DefaultWriterProps())
	require.NoError(t, err)
	require.NoError(t, w.Write(rec))
	require.NoError(t, w.Close())
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

// TestCDCE2EInvalidUTF8: change events with strings that are not UTF-8,
// in a value or in a field name (which would become a garbled column), go
// to the error output; the other events apply.
func TestCDCE2EInvalidUTF8(t *testing.T) {
	dir := t.TempDir()
	loc := filepath.Join(dir, "users")
	in := writeFile(t, dir, "events.jsonl", lines(
		pgEvent("c", 10, nil, user(1, "ann", "eu", 1)),
		`{"before":null,"after":{"id":2,"name":"x`+"\xff\xfe"+`y","region":"eu","score":1},"source":{"lsn":11},"op":"c"}`,
		`{"before":null,"after":{"id":3,"na`+"\xff"+`me":"z","region":"eu","score":1},"source":{"lsn":12},"op":"c"}`,
		`{"before":null,"after":{"id":4,"name":"\udc00","region":"eu","score":1},"source":{"lsn":13},"op":"c"}`,
		pgEvent("c", 14, nil, user(5, "Jürgen", "eu", 1)),
	))
	errFile := filepath.Join(dir, "bad.jsonl")
	out, _, code := exitCode(t, "", "cdc", "--table", loc, "--key", "id", "--partition", "region",
		"--index-dir", filepath.Join(dir, "idx"), "--errors", errFile, "--output", "json", in)
	require.Equal(t, exitRejected, code)
	var sum cdcOutput
	require.NoError(t, json.Unmarshal([]byte(out), &sum))
	assert.Equal(t, int64(3), sum.BadEvents)
	assert.Equal(t, int64(2), sum.Events)

	got := readBadRows(t, errFile)
	require.Len(t, got, 3)
	assert.Equal(t, "name", got[2].Field)
	assert.Contains(t, got[2].Reason, `not valid UTF-8: "\xff\xfe" at byte 1`)
	assert.Equal(t, "after", got[3].Field)
	assert.Contains(t, got[3].Reason, "field name")
	assert.Equal(t, "name", got[4].Field)
	assert.Contains(t, got[4].Reason, `\udc00`)

	assert.Equal(t, "id,name\n1,ann\n5,Jürgen\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT id, name FROM t ORDER BY id"))
	cols := must(t, "query", "--table", loc, "--output", "csv", "SELECT count(*) AS n FROM (DESCRIBE t) WHERE column_name LIKE 'na%'")
	assert.Equal(t, "n\n1\n", cols, "no garbled column")
}
