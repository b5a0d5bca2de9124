package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hoodie-lake/hoodie/internal/ingest"
	"github.com/hoodie-lake/hoodie/internal/testutil/s3server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests in the *_e2e_test.go files drive the built binary
// (hoodieBinary builds it once per test run) as a user would.

// e2eEnv is where a test's tables live: a local directory or the S3
// server, with the flags each command needs to reach it.
type e2eEnv struct {
	name  string
	dir   string // local scratch directory (inputs, index, errors)
	flags []string
	loc   func(name string) string
}

// e2eEnvs returns a local and an S3 environment.
func e2eEnvs(t *testing.T) []e2eEnv {
	local := func(t *testing.T) e2eEnv {
		dir := t.TempDir()
		return e2eEnv{name: "local", dir: dir, loc: func(n string) string { return filepath.Join(dir, n) }}
	}
	s3 := func(t *testing.T) e2eEnv {
		srv := s3server.Start(t)
		bucket := srv.NewBucket(t)
		return e2eEnv{name: "s3", dir: t.TempDir(), flags: []string{"--s3-endpoint", srv.Endpoint, "--s3-path-style"},
			loc: func(n string) string { return "s3://" + bucket + "/" + n }}
	}
	return []e2eEnv{local(t), s3(t)}
}

// hoodieCLI runs the binary with stdin and returns stdout and stderr.
func hoodieCLI(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(hoodieBinary(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("hoodie %s: %w\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), errb.String(), err
}

// (e *e2eEnv) run runs hoodie with the environment's flags and fails the
// test on error.
func (e *e2eEnv) run(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, _, err := hoodieCLI(t, stdin, append(args, e.flags...)...)
	require.NoError(t, err)
	return out
}

func (e *e2eEnv) query(t *testing.T, loc, sql string) string {
	t.Helper()
	return e.run(t, "", "query", "--table", loc, "--output", "csv", sql)
}

// pgEvent is a Debezium PostgreSQL change event (no schema envelope).
func pgEvent(op string, lsn int64, before, after map[string]any) string {
	ev := map[string]any{"before": before, "after": after, "op": op, "ts_ms": 1764578400000 + lsn,
		"source": map[string]any{"version": "2.7.0.Final", "connector": "postgresql", "name": "pg", "db": "shop",
			"schema": "public", "table": "users", "lsn": lsn, "txId": 700 + lsn, "ts_ms": 1764578300000 + lsn}}
	b, _ := json.Marshal(ev)
	return string(b)
}

func user(id int, name, region string, score int) map[string]any {
	return map[string]any{"id": id, "name": name, "region": region, "score": score}
}

func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// TestCDCE2EReplayAndReorder applies PostgreSQL-style events with updates
// out of order, deletes and replays of old events, in commits of one
// event each, and queries the table through DuckDB: with --soft-deletes no
// replay or reordering ever brings back an old value or a deleted row;
// with hard deletes reordering is handled and the documented caveat (a
// replay after a committed delete re-inserts the row) holds.
func TestCDCE2EReplayAndReorder(t *testing.T) {
	for _, e := range e2eEnvs(t) {
		t.Run(e.name, func(t *testing.T) {
			first := writeFile(t, e.dir, "first.jsonl", lines(
				pgEvent("r", 100, nil, user(1, "ann", "eu", 1)), // snapshot
				pgEvent("c", 110, nil, user(2, "bob", "us", 1)),
				pgEvent("c", 120, nil, user(3, "cid", "eu", 1)),
				pgEvent("u", 140, user(1, "ann", "eu", 1), user(1, "ann", "eu", 3)), // newer first
				pgEvent("u", 130, user(1, "ann", "eu", 1), user(1, "ann", "eu", 2)), // older, late
				"null", // Kafka tombstone after the delete
				pgEvent("d", 150, user(2, "bob", "us", 1), nil),
				pgEvent("u", 160, user(3, "cid", "eu", 1), user(3, "cid", "eu", 5)),
			))
			// Everything again, shuffled, plus an update of 3 older than
			// the stored one.
			replay := writeFile(t, e.dir, "replay.jsonl", lines(
				pgEvent("u", 130, user(1, "ann", "eu", 1), user(1, "ann", "eu", 2)),
				pgEvent("c", 110, nil, user(2, "bob", "us", 1)),
				pgEvent("u", 155, user(3, "cid", "eu", 1), user(3, "cid", "eu", 4)),
				pgEvent("r", 100, nil, user(1, "ann", "eu", 1)),
				pgEvent("u", 140, user(1, "ann", "eu", 1), user(1, "ann", "eu", 3)),
			))
			for _, soft := range []bool{true, false} {
				mode := map[bool]string{true: "soft", false: "hard"}[soft]
				loc := e.loc("users_" + mode)
				args := []string{"cdc", "--table", loc, "--key", "id", "--partition", "region", "--hive-style",
					"--commit-every", "1", "--index-dir", filepath.Join(e.dir, "idx_"+mode), "--output", "json"}
				if soft {
					args = append(args, "--soft-deletes")
				}
				out := e.run(t, "", append(args, first)...)
				var sum cdcOutput
				require.NoError(t, json.Unmarshal([]byte(out), &sum))
				assert.True(t, sum.Created)
				assert.Equal(t, int64(7), sum.Events)
				assert.Equal(t, int64(1), sum.TombstonesSkipped)
				assert.Equal(t, optString("lsn"), sum.Ordering)
				assert.Equal(t, int64(1), sum.LateIgnored, "the late update of 1 is ignored")
				require.Len(t, sum.Commits, 7)

				want := "id,name,score,__op,_source_pos\n1,ann,3,u,00000000000000000140\n3,cid,5,u,00000000000000000160\n"
				q := "SELECT id, name, score, __op, _source_pos FROM t ORDER BY id"
				if soft {
					q = "SELECT id, name, score, __op, _source_pos FROM t WHERE NOT __deleted ORDER BY id"
					assert.Equal(t, "id,__deleted,__op\n2,true,d\n", e.query(t, loc, "SELECT id, __deleted, __op FROM t WHERE __deleted ORDER BY id"))
				}
				assert.Equal(t, want, e.query(t, loc, q), "after the first run")

				out = e.run(t, "", append(args, replay)...)
				sum = cdcOutput{}
				require.NoError(t, json.Unmarshal([]byte(out), &sum))
				require.Len(t, sum.Commits, 5)
				if soft {
					assert.Equal(t, want, e.query(t, loc, q), "replays never resurrect or roll back")
					assert.Equal(t, "n\n3\n", e.query(t, loc, "SELECT count(*) AS n FROM t"))
				} else {
					// The caveat --help documents: the deleted row 2 is back,
					// with its old values; rows 1 and 3 kept their newest.
					assert.Equal(t, "id,name,score,__op,_source_pos\n1,ann,3,u,00000000000000000140\n2,bob,1,c,00000000000000000110\n3,cid,5,u,00000000000000000160\n",
						e.query(t, loc, q))
				}
			}
		})
	}
}

// mysqlEnvelope is a Debezium MySQL change event inside Kafka Connect's
// JSON schema envelope; price is a Connect decimal (base64 unscaled).
func mysqlEnvelope(op, file string, pos, row int, before, after map[string]any) string {
	rowSchema := func(name string) map[string]any {
		return map[string]any{"type": "struct", "optional": true, "field": name, "name": "mysql.shop.orders.Value", "fields": []any{
			map[string]any{"type": "int64", "optional": false, "field": "order_id"},
			map[string]any{"type": "string", "optional": true, "field": "status"},
			map[string]any{"type": "bytes", "optional": true, "name": "org.apache.kafka.connect.data.Decimal",
				"parameters": map[string]any{"scale": "2", "connect.decimal.precision": "10"}, "field": "price"},
			map[string]any{"type": "int32", "optional": true, "field": "qty"},
		}}
	}
	ev := map[string]any{
		"schema": map[string]any{"type": "struct", "name": "mysql.shop.orders.Envelope", "fields": []any{
			rowSchema("before"), rowSchema("after"),
			map[string]any{"type": "struct", "field": "source", "fields": []any{}},
			map[string]any{"type": "string", "field": "op"},
		}},
		"payload": map[string]any{"before": before, "after": after, "op": op, "ts_ms": 1764578400000,
			"source": map[string]any{"connector": "mysql", "name": "mysql", "db": "shop", "table": "orders",
				"file": file, "pos": pos, "row": row, "ts_ms": 1764578300000, "server_id": 1}},
	}
	b, _ := json.Marshal(ev)
	return string(b)
}

func order(id int, status, price string, qty int) map[string]any {
	return map[string]any{"order_id": id, "status": status, "price": price, "qty": qty}
}

// TestCDCE2EMySQLEnvelopeStdin feeds MySQL-style events with the schema
// envelope on standard input, ordered by binlog file, position and row
// across a binlog rotation, with envelope tombstones, and checks the
// Connect types (decimal decoded, int32) and the rows.
func TestCDCE2EMySQLEnvelopeStdin(t *testing.T) {
	for _, e := range e2eEnvs(t) {
		t.Run(e.name, func(t *testing.T) {
			loc := e.loc("orders")
			// 0x2710 = 10000 -> 100.00; 0x01f4 = 500 -> 5.00; 0x03e8 = 1000 -> 10.00
			in := lines(
				mysqlEnvelope("c", "mysql-bin.000009", 4000, 0, nil, order(1, "new", "JxA=", 1)),
				mysqlEnvelope("c", "mysql-bin.000009", 4000, 1, nil, order(2, "new", "AfQ=", 2)),
				mysqlEnvelope("u", "mysql-bin.000010", 200, 0, order(1, "new", "JxA=", 1), order(1, "shipped", "JxA=", 1)),
				// An older event of order 1 read after the rotation.
				mysqlEnvelope("u", "mysql-bin.000009", 9000, 0, order(1, "new", "JxA=", 1), order(1, "paid", "JxA=", 1)),
				mysqlEnvelope("u", "mysql-bin.000010", 300, 0, order(2, "new", "AfQ=", 2), order(2, "new", "A+g=", 3)),
				mysqlEnvelope("d", "mysql-bin.000010", 400, 0, order(2, "new", "A+g=", 3), nil),
				`{"schema":null,"payload":null}`,
			)
			out := e.run(t, in, "cdc", "--table", loc, "--key", "order_id", "--index-dir", filepath.Join(e.dir, "idx"), "--output", "json", "-")
			var sum cdcOutput
			require.NoError(t, json.Unmarshal([]byte(out), &sum))
			assert.Equal(t, optString("binlog"), sum.Ordering)
			assert.Equal(t, int64(1), sum.TombstonesSkipped)
			assert.Equal(t, int64(1), sum.DeleteEvents)
			assert.Equal(t, "order_id,status,price,qty,_source_pos\n1,shipped,100.00,1,0000000010.00000000000000000200.0000000000\n",
				e.query(t, loc, "SELECT order_id, status, price, qty, _source_pos FROM t ORDER BY order_id"))
			assert.Equal(t, "qty,order_id\nINTEGER,BIGINT\n",
				e.query(t, loc, "SELECT typeof(qty) AS qty, typeof(order_id) AS order_id FROM t"))

			// A later run with an update of order 1 older than the stored
			// version: it loses.
			e.run(t, lines(mysqlEnvelope("u", "mysql-bin.000009", 9500, 0, nil, order(1, "paid", "JxA=", 1))),
				"cdc", "--table", loc, "--index-dir", filepath.Join(e.dir, "idx"), "-")
			assert.Equal(t, "status\nshipped\n", e.query(t, loc, "SELECT status FROM t"))
		})
	}
}

// TestCDCE2EErrors checks the error output of bad events (file, line,
// field, reason and the raw line) and --strict.
func TestCDCE2EErrors(t *testing.T) {
	dir := t.TempDir()
	loc := filepath.Join(dir, "users")
	in := writeFile(t, dir, "events.jsonl", lines(
		pgEvent("c", 10, nil, user(1, "ann", "eu", 1)),
		`{"before":null,"after":{"id":2}`, // truncated
		pgEvent("c", 11, nil, map[string]any{"name": "nokey", "region": "eu"}),
		`{"before":null,"after":{"id":3},"source":{"lsn":12},"op":"x"}`,
		pgEvent("d", 13, nil, nil),
		`{"after":{"id":4,"region":"eu"},"op":"c","source":{"file":"mysql-bin.000001","pos":5,"ts_ms":1}}`,
		`{"after":{"id":5,"region":"eu"},"op":"c","source":{}}`,
		pgEvent("d", 14, map[string]any{"id": 1}, nil), // partition unknown
		"",
		pgEvent("u", 15, nil, user(1, "ann", "eu", 2)),
	))
	errFile := filepath.Join(dir, "bad.jsonl")
	out, _, code := exitCode(t, "", "cdc", "--table", loc, "--key", "id", "--partition", "region",
		"--index-dir", filepath.Join(dir, "idx"), "--errors", errFile, "--output", "json", in)
	require.Equal(t, exitRejected, code, "rejected events: exit status 2, the good ones applied")
	var sum cdcOutput
	require.NoError(t, json.Unmarshal([]byte(out), &sum))
	assert.Equal(t, int64(7), sum.BadEvents)
	assert.Equal(t, &errFile, sum.ErrorsFile)
	assert.Equal(t, int64(2), sum.Events)

	f, err := os.Open(errFile)
	require.NoError(t, err)
	defer f.Close()
	got := map[int64]ingest.BadRow{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var b ingest.BadRow
		require.NoError(t, json.Unmarshal(sc.Bytes(), &b))
		assert.Equal(t, in, b.Source)
		assert.NotEmpty(t, b.Raw)
		got[b.Line] = b
	}
	require.Len(t, got, 7)
	assert.Contains(t, got[2].Reason, "not a JSON object")
	assert.Equal(t, "id", got[3].Field)
	assert.Contains(t, got[3].Reason, "null")
	assert.Equal(t, "op", got[4].Field)
	assert.Contains(t, got[4].Reason, `unknown operation "x"`)
	assert.Equal(t, "before", got[5].Field)
	assert.Equal(t, "_source_pos", got[6].Field, "a binlog position among LSNs")
	assert.Contains(t, got[6].Reason, "--order ts_ms")
	assert.Equal(t, "source.ts_ms", got[7].Field)
	assert.Equal(t, "region", got[8].Field)
	assert.Contains(t, got[8].Reason, "partition")
	assert.Equal(t, "id,score\n1,2\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT id, score FROM t"))

	// --strict: the first bad event fails the run, naming file and line.
	_, _, err = hoodieCLI(t, "", "cdc", "--table", filepath.Join(dir, "strict"), "--key", "id", "--partition", "region",
		"--index-dir", filepath.Join(dir, "idx2"), "--strict", in)
	require.Error(t, err)
	assert.Contains(t, err.Error(), in+" line 2: not a JSON object")
}

func must(t *testing.T, args ...string) string {
	t.Helper()
	out, _, err := hoodieCLI(t, "", args...)
	require.NoError(t, err)
	return out
}

// TestCDCE2EMetrics runs cdc on standard input with --metrics-addr and
// scrapes /metrics over HTTP while it runs: counters move as events are
// committed; closing stdin ends the run.
func TestCDCE2EMetrics(t *testing.T) {
	dir := t.TempDir()
	loc := filepath.Join(dir, "users")
	cmd := exec.Command(hoodieBinary(t), "cdc", "--table", loc, "--key", "id", "--index-dir", filepath.Join(dir, "idx"),
		"--commit-every", "2", "--metrics-addr", "127.0.0.1:0", "--errors", filepath.Join(dir, "bad.jsonl"), "--max-errors", "1", "-")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	// The endpoint's address is logged first.
	urlRe := regexp.MustCompile(`metrics on (http://\S+/metrics)`)
	sc := bufio.NewScanner(stderr)
	var url string
	for url == "" && sc.Scan() {
		if m := urlRe.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
	}
	require.NotEmpty(t, url, "no metrics address logged")
	go func() { _, _ = io.Copy(io.Discard, stderr) }()

	scrape := func() string {
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("Content-Type"), "version=0.0.4")
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	waitFor := func(want string) string {
		deadline := time.Now().Add(60 * time.Second)
		for {
			body := scrape()
			if strings.Contains(body, want) {
				return body
			}
			require.True(t, time.Now().Before(deadline), "metrics never showed %q:\n%s", want, body)
			time.Sleep(50 * time.Millisecond)
		}
	}
	body := scrape()
	assert.Contains(t, body, `hoodie_commits_total{verb="cdc"} 0`)
	assert.Contains(t, body, "# TYPE hoodie_commit_duration_seconds histogram")

	_, err = io.WriteString(stdin, lines(pgEvent("c", 1, nil, user(1, "a", "eu", 1)), pgEvent("c", 2, nil, user(2, "b", "eu", 1))))
	require.NoError(t, err)
	body = waitFor(`hoodie_commits_total{verb="cdc"} 1`)
	assert.Contains(t, body, `hoodie_records_read_total{verb="cdc",kind="upsert"} 2`)
	assert.Contains(t, body, `hoodie_records_written_total{verb="cdc",outcome="insert"} 2`)
	assert.Contains(t, body, `hoodie_commit_duration_seconds_count{verb="cdc"} 1`)
	assert.Regexp(t, `hoodie_bytes_written_total\{verb="cdc"\} [1-9]`, body)
	assert.NotContains(t, body, `hoodie_last_commit_timestamp_seconds{verb="cdc"} 0`)

	_, err = io.WriteString(stdin, lines("{bad", pgEvent("u", 3, nil, user(1, "a", "eu", 2)), pgEvent("d", 4, user(2, "b", "eu", 1), nil)))
	require.NoError(t, err)
	body = waitFor(`hoodie_commits_total{verb="cdc"} 2`)
	assert.Contains(t, body, `hoodie_errors_total{verb="cdc",kind="bad_record"} 1`)
	assert.Contains(t, body, `hoodie_records_read_total{verb="cdc",kind="delete"} 1`)
	assert.Contains(t, body, `hoodie_records_written_total{verb="cdc",outcome="delete"} 1`)
	assert.Regexp(t, `hoodie_index_hits_total\{verb="cdc",source="index"\} [1-9]`, body)

	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait())
	assert.Equal(t, "id,score\n1,2\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT id, score FROM t"))
}
