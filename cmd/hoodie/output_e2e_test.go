package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoodie-lake/hoodie/table"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hoodieUTC runs the binary with TZ=UTC (DuckDB prints TIMESTAMP WITH TIME
// ZONE in the local time zone) and fails the test on error.
func hoodieUTC(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, _, err := hoodieCLIEnv(t, []string{"TZ=UTC"}, args...)
	require.NoError(t, err, "hoodie %s\n%s", strings.Join(args, " "), stderr)
	return out
}

// typedTable writes a copy-on-write table with a DATE and a TIMESTAMP
// WITH TIME ZONE column (--infer-dates), a double, strings (one empty) and
// a row of nulls.
func typedTable(t *testing.T) string {
	dir := t.TempDir()
	loc := filepath.Join(dir, "typed")
	in := writeFile(t, dir, "in.jsonl", lines(
		`{"id":1,"ts":1,"d":"2013-01-01","t":"2024-01-01T12:00:00Z","s":"hello","e":"","amt":123.45}`,
		`{"id":2,"ts":1,"d":null,"t":null,"s":null,"e":"x,y","amt":null}`,
	))
	must(t, "ingest", "--table", loc, "--key", "id", "--precombine", "ts", "--index-dir", filepath.Join(dir, "idx"), "--infer-dates", in)
	return loc
}

const typedSQL = `SELECT s AS z, id AS a, d AS m, t, timezone('UTC', t) AS naive, CAST(amt AS DECIMAL(12,3)) AS dec, e,
  [1, 2] AS l, {'k': id, 'w': 'v'} AS st, '\xAA'::BLOB AS b FROM t ORDER BY id;`

// TestQueryRenderingE2E: query prints values as DuckDB renders them (DATE,
// TIMESTAMP with and without time zone, DECIMAL with its scale, BLOB,
// lists and structs), NULL as NULL in the table, an empty field in CSV
// (an empty string as "") and null in JSON, and columns in SELECT order
// in every format.
func TestQueryRenderingE2E(t *testing.T) {
	loc := typedTable(t)

	csv := hoodieUTC(t, "query", "--table", loc, "--output", "csv", typedSQL)
	assert.Equal(t, "z,a,m,t,naive,dec,e,l,st,b\n"+
		`hello,1,2013-01-01,2024-01-01 12:00:00+00,2024-01-01 12:00:00,123.450,"","[1, 2]","{'k': 1, 'w': v}",\xAA`+"\n"+
		`,2,,,,,"x,y","[1, 2]","{'k': 2, 'w': v}",\xAA`+"\n", csv)

	tab := hoodieUTC(t, "query", "--table", loc, typedSQL)
	ls := strings.Split(strings.TrimSpace(tab), "\n")
	require.Len(t, ls, 3, tab)
	assert.Equal(t, []string{"z", "a", "m", "t", "naive", "dec", "e", "l", "st", "b"}, strings.Fields(ls[0]))
	for _, want := range []string{"hello", "2013-01-01", "2024-01-01 12:00:00+00", "123.450", "[1, 2]", "{'k': 1, 'w': v}", `\xAA`} {
		assert.Contains(t, ls[1], want)
	}
	assert.True(t, strings.HasPrefix(ls[2], "NULL "), "NULL prints as NULL in the table: %q", ls[2])
	assert.NotContains(t, tab, "+0000 UTC")
	assert.NotContains(t, tab, "Width")

	js := hoodieUTC(t, "query", "--table", loc, "--output", "json", typedSQL)
	assert.Equal(t, [][]string{
		{"z", "a", "m", "t", "naive", "dec", "e", "l", "st", "b"},
		{"z", "a", "m", "t", "naive", "dec", "e", "l", "st", "b"},
	}, objectKeys(t, js), "JSON keys in SELECT order")
	assert.Equal(t, [][]string{{"k", "w"}, {"k", "w"}}, nestedKeys(t, js, "st"), "struct fields in order")
	var rows []map[string]any
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&rows))
	require.Len(t, rows, 2)
	assert.Equal(t, map[string]any{
		"z": "hello", "a": json.Number("1"), "m": "2013-01-01", "t": "2024-01-01T12:00:00Z", "naive": "2024-01-01T12:00:00",
		"dec": json.Number("123.450"), "e": "", "l": []any{json.Number("1"), json.Number("2")},
		"st": map[string]any{"k": json.Number("1"), "w": "v"}, "b": `\xAA`,
	}, rows[0])
	assert.Equal(t, map[string]any{
		"z": nil, "a": json.Number("2"), "m": nil, "t": nil, "naive": nil, "dec": nil, "e": "x,y",
		"l": []any{json.Number("1"), json.Number("2")}, "st": map[string]any{"k": json.Number("2"), "w": "v"}, "b": `\xAA`,
	}, rows[1])
	assert.Contains(t, js, `"dec": 123.450`, "the decimal's exact digits")

	// The time zone is DuckDB's: the text follows TZ, JSON is UTC.
	out, stderr, _, err := hoodieCLIEnv(t, []string{"TZ=Asia/Kolkata"}, "query", "--table", loc, "--output", "csv", "SELECT t FROM t WHERE id = 1")
	require.NoError(t, err, stderr)
	assert.Equal(t, "t\n2024-01-01 17:30:00+05:30\n", out)
	out, stderr, _, err = hoodieCLIEnv(t, []string{"TZ=Asia/Kolkata"}, "query", "--table", loc, "--output", "json", "SELECT t FROM t WHERE id = 1")
	require.NoError(t, err, stderr)
	assert.JSONEq(t, `[{"t":"2024-01-01T12:00:00Z"}]`, out)

	// SELECT order, not sorted, in JSON and CSV; numbers stay numbers;
	// special doubles are strings; empty results.
	assert.Equal(t, "z,a,m\n3,1,2\n", hoodieUTC(t, "query", "--table", loc, "--output", "csv", "SELECT 3 AS z, 1 AS a, 2 AS m"))
	js = hoodieUTC(t, "query", "--table", loc, "--output", "json", "SELECT 3 AS z, 1.5::DOUBLE AS a, 'nan'::DOUBLE AS m, true AS b, 12345678901234567890::HUGEINT AS h")
	assert.Equal(t, [][]string{{"z", "a", "m", "b", "h"}}, objectKeys(t, js))
	assert.JSONEq(t, `[{"z":3,"a":1.5,"m":"nan","b":true,"h":12345678901234567890}]`, js)
	assert.Equal(t, "[]\n", hoodieUTC(t, "query", "--table", loc, "--output", "json", "SELECT * FROM t WHERE false"))
	assert.Equal(t, "id\n", hoodieUTC(t, "query", "--table", loc, "--output", "csv", "SELECT id FROM t WHERE false"))

	// Statements DuckDB takes no subquery of still run.
	assert.Contains(t, hoodieUTC(t, "query", "--table", loc, "EXPLAIN SELECT * FROM t"), "physical_plan")
	js = hoodieUTC(t, "query", "--table", loc, "--output", "json", "PRAGMA version")
	assert.Equal(t, "library_version", objectKeys(t, js)[0][0])
	// Errors are DuckDB's, for the query as written.
	_, stderr, _, err = hoodieCLIEnv(t, nil, "query", "--table", loc, "SELECT nope FROM t")
	require.Error(t, err)
	assert.Contains(t, stderr, `"nope" not found`)
	assert.NotContains(t, stderr, "__hoodie_q")
}

// objectKeys returns the keys of each object of a JSON array of objects,
// in document order.
func objectKeys(t *testing.T, js string) [][]string {
	t.Helper()
	var raw []json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(js), &raw), js)
	var out [][]string
	for _, r := range raw {
		out = append(out, keysInOrder(t, r))
	}
	return out
}

// nestedKeys returns, for each row, the keys of the object under key k.
func nestedKeys(t *testing.T, js, k string) [][]string {
	t.Helper()
	var rows []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(js), &rows))
	var out [][]string
	for _, r := range rows {
		out = append(out, keysInOrder(t, r[k]))
	}
	return out
}

func keysInOrder(t *testing.T, obj json.RawMessage) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(obj))
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok, "an object: %s", obj)
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		require.NoError(t, err)
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
	return keys
}

var (
	snakeKey   = regexp.MustCompile(`^[a-z0-9_]+$`)
	instantRe  = regexp.MustCompile(`^[0-9]{17}$`)
	instantKey = regexp.MustCompile(`^(instant|.*_instant|last_commit|as_of)$`)
)

// checkConvention walks decoded JSON (UseNumber) and checks output.go's
// convention: snake_case keys; *_seconds are numbers; time and *_time
// are RFC 3339 in UTC or null; instants are 17 digits or null; state is
// lowercase. Keys in skip hold data (property names, column names) and
// are not descended into.
func checkConvention(t *testing.T, path string, v any, skip map[string]bool) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			p := path + "." + k
			assert.Regexp(t, snakeKey, k, "%s: snake_case key", p)
			switch {
			case strings.HasSuffix(k, "_seconds"):
				n, ok := x.(json.Number)
				if assert.True(t, ok, "%s: seconds are a number: %v", p, x) {
					_, err := n.Float64()
					assert.NoError(t, err)
				}
			case k == "time" || strings.HasSuffix(k, "_time"):
				if x != nil {
					s, _ := x.(string)
					tm, err := time.Parse(time.RFC3339Nano, s)
					if assert.NoError(t, err, "%s: RFC 3339: %v", p, x) {
						assert.Equal(t, time.UTC, tm.Location(), "%s: UTC", p)
					}
				}
			case instantKey.MatchString(k):
				if x != nil {
					s, _ := x.(string)
					assert.Regexp(t, instantRe, s, "%s: an instant", p)
				}
			case k == "state":
				assert.Contains(t, []any{"requested", "inflight", "completed"}, x, "%s: a lowercase state", p)
			}
			if !skip[k] {
				checkConvention(t, p, x, skip)
			}
		}
	case []any:
		for i, x := range v {
			checkConvention(t, fmt.Sprintf("%s[%d]", path, i), x, skip)
		}
	}
}

// decodeJSON decodes a verb's JSON output with numbers kept as
// json.Number and checks it against the convention.
func decodeJSON(t *testing.T, verb, out string, skip ...string) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&v), "%s: %s", verb, out)
	sk := map[string]bool{}
	for _, k := range skip {
		sk[k] = true
	}
	checkConvention(t, verb, v, sk)
	assert.NotContains(t, out, `"State"`)
	return v
}

// jsonKeys are the JSON keys of a struct type's fields, in order.
func jsonKeys(typ reflect.Type) []string {
	var out []string
	for i := 0; i < typ.NumField(); i++ {
		tag := typ.Field(i).Tag.Get("json")
		out = append(out, strings.Split(tag, ",")[0])
	}
	return out
}

// assertKeys checks that the JSON object has exactly the keys of the
// output struct, in its order: none omitted.
func assertKeys(t *testing.T, what string, obj json.RawMessage, typ any) {
	t.Helper()
	assert.Equal(t, jsonKeys(reflect.TypeOf(typ)), keysInOrder(t, obj), "%s: every documented key, in order", what)
}

// TestJSONShapesE2E runs every table verb with --output json on a
// merge-on-read table (two upserts, the second one into a log file; a
// compaction, a dry-run clean, a clean, a third upsert rolled back) and
// checks the convention of output.go on each output and that no
// documented key is left out.
func TestJSONShapesE2E(t *testing.T) {
	dir := t.TempDir()
	loc := filepath.Join(dir, "events")
	idx := filepath.Join(dir, "idx")
	a := writeFile(t, dir, "a.jsonl", lines(
		`{"uuid":"u1","time":1,"dt":"2026-11-01","score":1.5}`,
		`{"uuid":"u2","time":1,"dt":"2026-11-02","score":2.5}`,
	))
	b := writeFile(t, dir, "b.jsonl", lines(
		`{"uuid":"u1","time":2,"dt":"2026-11-01","score":9.5}`,
		`{"uuid":"u2","time":0,"dt":"2026-11-02","score":0.5}`, // late: ignored
	))
	c := writeFile(t, dir, "c.jsonl", lines(`{"uuid":"u3","time":1,"dt":"2026-11-03","score":3.5}`))

	// ingest: counters, errors_file and keys_not_found present (null, 0),
	// one object per commit.
	out := must(t, "ingest", "--table", loc, "--type", "mor", "--key", "uuid", "--precombine", "time", "--partition", "dt", "--hive-style", "--index-dir", idx,
		"--output", "json", a)
	checkIngestJSON(t, out, true)
	out = must(t, "ingest", "--table", loc, "--index-dir", idx, "--output", "json", b)
	ing := checkIngestJSON(t, out, false)
	assert.Equal(t, int64(1), ing.Updates)
	assert.Equal(t, int64(1), ing.LateIgnored, "merge-on-read counts late events")
	assert.Equal(t, int64(1), ing.Commits[0].LateIgnored)

	// files before compaction: a slice with a log file.
	out = must(t, "files", "--table", loc, "--all", "--output", "json")
	decodeJSON(t, "files", out)
	var files struct {
		AsOf       json.RawMessage   `json:"as_of"`
		Slices     []json.RawMessage `json:"slices"`
		FileGroups int               `json:"file_groups"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &files))
	assert.Equal(t, jsonKeys(reflect.TypeOf(filesOutput{})), keysInOrder(t, json.RawMessage(out)))
	assert.Equal(t, 2, files.FileGroups)
	require.NotEmpty(t, files.Slices)
	var sawLog bool
	for _, s := range files.Slices {
		assertKeys(t, "files slice", s, sliceRow{})
		var r sliceRow
		require.NoError(t, json.Unmarshal(s, &r))
		sawLog = sawLog || len(r.LogFiles) > 0
		assert.NotNil(t, r.LogFiles)
		assert.Equal(t, r.BaseBytes+r.LogBytes, r.TotalBytes)
	}
	assert.True(t, sawLog, "the update went to a log file: %s", out)

	// compact
	out = must(t, "compact", "--table", loc, "--force", "--output", "json")
	decodeJSON(t, "compact", out)
	assert.Equal(t, jsonKeys(reflect.TypeOf(compactOutput{})), keysInOrder(t, json.RawMessage(out)))
	var comp struct {
		Scheduled json.RawMessage   `json:"scheduled"`
		Executed  []json.RawMessage `json:"executed"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &comp))
	assertKeys(t, "compact scheduled", comp.Scheduled, compactScheduled{})
	require.Len(t, comp.Executed, 1)
	assertKeys(t, "compact executed", comp.Executed[0], compactExecuted{})
	var ex map[string]any
	require.NoError(t, json.Unmarshal(comp.Executed[0], &ex))
	assert.IsType(t, float64(0), ex["duration_seconds"])
	assert.Less(t, ex["duration_seconds"].(float64), 600.0, "seconds, not nanoseconds")
	assert.Equal(t, false, ex["already_completed"])

	// clean: a dry run, then the clean; archive null on the dry run.
	out = must(t, "clean", "--table", loc, "--policy", "KEEP_LATEST_FILE_VERSIONS", "--file-versions-retained", "1", "--dry-run", "--output", "json")
	decodeJSON(t, "clean --dry-run", out)
	var cl struct {
		Clean   json.RawMessage `json:"clean"`
		Archive json.RawMessage `json:"archive"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &cl))
	assertKeys(t, "clean", cl.Clean, cleanJSON{})
	assert.Equal(t, "null", string(cl.Archive))
	var dry cleanJSON
	require.NoError(t, json.Unmarshal(cl.Clean, &dry))
	assert.True(t, dry.DryRun)
	assert.Nil(t, dry.Instant)
	assert.Equal(t, "keep_latest_file_versions", dry.Policy)
	assert.NotEmpty(t, dry.Deleted)
	assert.Equal(t, len(dry.Deleted), dry.DeletedFiles)

	out = must(t, "clean", "--table", loc, "--policy", "KEEP_LATEST_FILE_VERSIONS", "--file-versions-retained", "1", "--output", "json")
	decodeJSON(t, "clean", out)
	require.NoError(t, json.Unmarshal([]byte(out), &cl))
	assertKeys(t, "clean", cl.Clean, cleanJSON{})
	assertKeys(t, "archive", cl.Archive, archiveJSON{})
	var done cleanJSON
	require.NoError(t, json.Unmarshal(cl.Clean, &done))
	require.NotNil(t, done.Instant)
	assert.Equal(t, dry.Deleted, done.Deleted)

	// rollback of a third write.
	must(t, "ingest", "--table", loc, "--index-dir", idx, c)
	tlOut := must(t, "timeline", "--table", loc, "--output", "json")
	last := lastInstant(t, tlOut)
	out = must(t, "rollback", "--table", loc, last, "--output", "json")
	decodeJSON(t, "rollback", out)
	assertKeys(t, "rollback", json.RawMessage(out), rollbackOutput{})
	var rb rollbackOutput
	require.NoError(t, json.Unmarshal([]byte(out), &rb))
	assert.Equal(t, last, rb.Instant)
	assert.Equal(t, "deltacommit", rb.Action)
	assert.Equal(t, "completed", rb.State)
	require.NotNil(t, rb.RollbackInstant)
	assert.NotNil(t, rb.IndexRemoved)

	// timeline: every instant with every key; the rollback is there.
	out = must(t, "timeline", "--table", loc, "--output", "json")
	decodeJSON(t, "timeline", out)
	var raw []json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(out), &raw))
	var rows []timelineRow
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	var actions []string
	for i, r := range raw {
		assertKeys(t, "timeline", r, timelineRow{})
		op := "-"
		if rows[i].Operation != nil {
			op = *rows[i].Operation
		}
		actions = append(actions, rows[i].Action+"/"+rows[i].State+"/"+op)
		assert.Equal(t, instantTime(rows[i].Instant), rows[i].Time)
	}
	assert.Equal(t, []string{"deltacommit/completed/upsert", "deltacommit/completed/upsert", "commit/completed/compact",
		"clean/completed/-", "rollback/completed/-"}, actions)
	assert.Equal(t, *rb.RollbackInstant, rows[4].Instant)
	assert.Equal(t, int64(1), rows[1].Updates)

	// stats
	out = must(t, "stats", "--table", loc, "--output", "json")
	decodeJSON(t, "stats", out)
	assertKeys(t, "stats", json.RawMessage(out), tableStats{})
	var st map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	assertKeys(t, "stats visible", st["visible"], fileCounts{})
	assert.Equal(t, `"merge_on_read"`, string(st["type"]))
	assert.Equal(t, `"`+table.PayloadDefault+`"`, string(st["payload_class"]))

	// athena-ddl
	out = must(t, "athena-ddl", "--table", loc, "--location", "s3://b/events", "--output", "json")
	decodeJSON(t, "athena-ddl", out)
	assertKeys(t, "athena-ddl", json.RawMessage(out), athenaOutput{})

	// create: properties are hoodie.properties, keyed by Hudi's names.
	out = must(t, "create", "--table", filepath.Join(dir, "new"), "--key", "id", "--precombine", "ts", "--output", "json")
	decodeJSON(t, "create", out, "properties")

	// query: column names are the user's.
	out = must(t, "query", "--table", loc, "--output", "json", "SELECT count(*) AS n FROM t")
	decodeJSON(t, "query", out)
	assert.JSONEq(t, `[{"n":2}]`, out)

	// cdc: every key, ordering lowercase; a rejected event names the
	// errors file.
	users := filepath.Join(dir, "users")
	ev := writeFile(t, dir, "cdc.jsonl", lines(
		pgEvent("c", 10, nil, user(1, "ann", "eu", 1)),
		pgEvent("c", 11, nil, user(2, "bob", "us", 2)),
		pgEvent("u", 12, user(1, "ann", "eu", 1), user(1, "ann", "eu", 3)),
		pgEvent("d", 13, user(2, "bob", "us", 2), nil),
	))
	out = must(t, "cdc", "--table", users, "--type", "mor", "--key", "id", "--partition", "region", "--index-dir", filepath.Join(dir, "uidx"),
		"--commit-every", "2", "--output", "json", ev)
	decodeJSON(t, "cdc", out)
	assertKeys(t, "cdc", json.RawMessage(out), cdcOutput{})
	var cd cdcOutput
	require.NoError(t, json.Unmarshal([]byte(out), &cd))
	assert.Equal(t, optString("lsn"), cd.Ordering)
	assert.Nil(t, cd.ErrorsFile)
	assert.Equal(t, int64(4), cd.Events)
	assert.Equal(t, int64(3), cd.UpsertEvents)
	assert.Equal(t, int64(1), cd.DeleteEvents)
	checkCommitsJSON(t, "cdc", out, len(cd.Commits))
	require.NotEmpty(t, cd.Commits)
	var sum commitJSON
	for _, c := range cd.Commits {
		sum.Inserts += c.Inserts
		sum.Updates += c.Updates
		sum.Deletes += c.Deletes
	}
	assert.Equal(t, [3]int64{cd.Inserts, cd.Updates, cd.Deletes}, [3]int64{sum.Inserts, sum.Updates, sum.Deletes}, "commits add up")

	bad := writeFile(t, dir, "bad.jsonl", lines(`{"op":"x"}`, pgEvent("c", 20, nil, user(3, "cid", "eu", 1))))
	errFile := filepath.Join(dir, "bad.errors.jsonl")
	out, _, code := exitCode(t, "", "cdc", "--table", users, "--index-dir", filepath.Join(dir, "uidx"), "--errors", errFile, "--output", "json", bad)
	require.Equal(t, exitRejected, code)
	decodeJSON(t, "cdc rejected", out)
	assertKeys(t, "cdc rejected", json.RawMessage(out), cdcOutput{})
	cd = cdcOutput{}
	require.NoError(t, json.Unmarshal([]byte(out), &cd))
	assert.Equal(t, int64(1), cd.BadEvents)
	assert.Equal(t, &errFile, cd.ErrorsFile)
}

// checkIngestJSON checks ingest --output json: the convention, every key
// of ingestOutput and of each commit, errors_file null without bad rows,
// and counters that add up over the commits.
func checkIngestJSON(t *testing.T, out string, created bool) ingestOutput {
	t.Helper()
	decodeJSON(t, "ingest", out)
	assertKeys(t, "ingest", json.RawMessage(out), ingestOutput{})
	var s ingestOutput
	require.NoError(t, json.Unmarshal([]byte(out), &s))
	assert.Equal(t, created, s.Created)
	assert.Nil(t, s.ErrorsFile)
	assert.Zero(t, s.KeysNotFound)
	require.Len(t, s.Commits, 1)
	checkCommitsJSON(t, "ingest", out, 1)
	c := s.Commits[0]
	assert.Equal(t, instantTime(c.Instant), c.Time)
	assert.Equal(t, [5]int64{s.Inserts, s.Updates, s.Deletes, s.LateIgnored, s.DuplicatesCombined},
		[5]int64{c.Inserts, c.Updates, c.Deletes, c.LateIgnored, c.DuplicatesCombined}, "commits add up")
	assert.Less(t, s.DurationSeconds, 600.0, "seconds, not nanoseconds")
	return s
}

// checkCommitsJSON checks that the commits of out have every key of
// commitJSON.
func checkCommitsJSON(t *testing.T, what, out string, n int) {
	t.Helper()
	var raw struct {
		Commits []json.RawMessage `json:"commits"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &raw))
	require.Len(t, raw.Commits, n)
	for _, c := range raw.Commits {
		assertKeys(t, what+" commit", c, commitJSON{})
	}
}

// demoCommit is a commit line of the demo.
type demoCommit struct {
	instant                         string
	inserts, updates, late, retries int64
}

var demoCommitRe = regexp.MustCompile(`(?m)^  commit (\d{17}): \d+ events -> (\d+) inserts, (\d+) updates, (\d+) late ignored, (\d+) retries combined;`)

// TestDemoCountersE2E: the demo's counters mean the same on both table
// types (a late event is counted as late, not as an update, on
// merge-on-read too), agree with the commit metadata, and add up in the
// final summary, which comes last, after a trimmed file listing.
func TestDemoCountersE2E(t *testing.T) {
	type result struct {
		commits []demoCommit
		out     string
	}
	got := map[string]result{}
	for _, typ := range []string{"mor", "cow"} {
		loc := filepath.Join(t.TempDir(), "game_events")
		out := must(t, "demo", "--table", loc, "--type", typ, "--events", "3000", "--commits", "3")
		var commits []demoCommit
		for _, m := range demoCommitRe.FindAllStringSubmatch(out, -1) {
			n := func(i int) int64 {
				v, err := strconv.ParseInt(m[i], 10, 64)
				require.NoError(t, err)
				return v
			}
			commits = append(commits, demoCommit{m[1], n(2), n(3), n(4), n(5)})
		}
		require.Len(t, commits, 3, out)
		got[typ] = result{commits, out}

		var rows []timelineRow
		require.NoError(t, json.Unmarshal([]byte(must(t, "timeline", "--table", loc, "--output", "json")), &rows))
		byInstant := map[string]timelineRow{}
		for _, r := range rows {
			byInstant[r.Instant] = r
		}
		var tot demoCommit
		for i, c := range commits {
			r, ok := byInstant[c.instant]
			require.True(t, ok, c.instant)
			assert.Equal(t, r.Inserts, c.inserts, "%s commit %d inserts", typ, i)
			// Both writers resolve late events against the stored
			// version: the commit's numUpdateWrites excludes them.
			assert.Equal(t, r.Updates, c.updates, "%s commit %d updates", typ, i)
			if i > 0 {
				assert.Positive(t, c.late, "%s commit %d carries late events", typ, i)
				assert.Positive(t, c.updates, "%s commit %d carries updates", typ, i)
			}
			tot.inserts += c.inserts
			tot.updates += c.updates
			tot.late += c.late
			tot.retries += c.retries
		}

		// The summary is last and adds up.
		i := strings.LastIndex(out, "\nSummary\n")
		require.Positive(t, i, out)
		assert.Greater(t, i, strings.LastIndex(out, "one row per key"), "the summary follows the last query")
		assert.Greater(t, i, strings.LastIndex(out, "$ hoodie files"), "the summary follows the file listing")
		sum := out[i:]
		assert.Contains(t, sum, fmt.Sprintf("3 commits: %d inserts, %d updates, %d late ignored, %d retries combined",
			tot.inserts, tot.updates, tot.late, tot.retries))
		assert.Contains(t, sum, fmt.Sprintf("  snapshot  %d rows, one per key", tot.inserts))
		assert.Contains(t, sum, "hoodie query --table "+loc)
		assert.Contains(t, sum, loc)

		// The file listing is trimmed.
		assert.Regexp(t, `\.\.\. and \d+ more \(hoodie files lists them all\)`, out)
		assert.LessOrEqual(t, strings.Count(out, ".parquet"), demoFilesShown)
	}
	// Same events, same counters, whatever the table type.
	assert.Equal(t, len(got["mor"].commits), len(got["cow"].commits))
	for i := range got["mor"].commits {
		m, c := got["mor"].commits[i], got["cow"].commits[i]
		m.instant, c.instant = "", ""
		assert.Equal(t, c, m, "commit %d: mor and cow counters", i)
	}
}
