package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoodie-lake/hoodie/internal/ingest"
	"github.com/hoodie-lake/hoodie/internal/testutil/s3server"
	"github.com/hoodie-lake/hoodie/pipeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ingestCheckpointPrefix marks the checkpoints ingest and cdc record.
const ingestCheckpointPrefix = pipeline.CheckpointPrefix

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// TestIngestAndQuery creates a table on first ingest, upserts JSON Lines
// and CSV with duplicates, a late event and bad rows, and queries the
// result with DuckDB.
func TestIngestAndQuery(t *testing.T) {
	dir := t.TempDir()
	loc := filepath.Join(dir, "events")
	errFile := filepath.Join(dir, "bad.jsonl")
	j := writeFile(t, dir, "a.jsonl", `{"uuid":"u1","time":10,"dt":"2026-11-01","score":1,"meta":{"k":"v"}}
{"uuid":"u2","time":10,"dt":"2026-11-01","score":2}
{"uuid":"u1","time":12,"dt":"2026-11-01","score":3}
{"uuid":null,"time":10,"dt":"2026-11-01","score":4}
{"uuid":"u3","dt":"2026-11-02","score":5}
{broken
`)
	out, err := run(t, "ingest", "--table", loc, "--key", "uuid", "--precombine", "time", "--partition", "dt", "--hive-style",
		"--errors", errFile, "--max-errors", "3", "--output", "json", j)
	require.NoError(t, err)
	var sum ingestOutput
	require.NoError(t, json.Unmarshal([]byte(out), &sum))
	assert.True(t, sum.Created)
	assert.Equal(t, int64(3), sum.Records)
	assert.Equal(t, int64(3), sum.BadRecords)
	assert.Equal(t, int64(2), sum.Inserts)
	assert.Equal(t, int64(1), sum.DuplicatesCombined)
	require.Len(t, sum.Commits, 1)

	// The bad rows, with their lines and reasons.
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
	require.Len(t, bad, 3)
	lines := map[int64]string{}
	for _, b := range bad {
		assert.Equal(t, j, b.Source)
		lines[b.Line] = b.Field + ": " + b.Reason
	}
	assert.Contains(t, lines[4], "uuid")
	assert.Contains(t, lines[5], "time")
	assert.Contains(t, lines[6], "not a JSON object")

	// CSV: an update of u2, a late version of u1 (ignored) and a new key.
	c := writeFile(t, dir, "b.csv", "uuid,time,dt,score\nu2,20,2026-11-01,22\nu1,5,2026-11-01,99\nu4,1,2026-11-02,4\n")
	out, err = run(t, "ingest", "--table", loc, "--output", "json", c)
	require.NoError(t, err)
	sum = ingestOutput{}
	require.NoError(t, json.Unmarshal([]byte(out), &sum))
	assert.False(t, sum.Created)
	assert.Equal(t, int64(1), sum.Updates)
	assert.Equal(t, int64(1), sum.LateIgnored)
	assert.Equal(t, int64(1), sum.Inserts)

	out, err = run(t, "query", "--table", loc, "--output", "csv", "SELECT uuid, score, dt, meta FROM t ORDER BY uuid")
	require.NoError(t, err)
	// u1's winning version (time 12) has no meta: Hudi upserts whole
	// records, so the older version's meta is gone.
	assert.Equal(t, "uuid,score,dt,meta\nu1,3,2026-11-01,\nu2,22,2026-11-01,\nu4,4,2026-11-02,\n", out)

	out, err = run(t, "query", "--table", loc, "--output", "json", "SELECT count(*) AS n, count(DISTINCT _hoodie_record_key) AS k FROM t")
	require.NoError(t, err)
	assert.JSONEq(t, `[{"n":3,"k":3}]`, out)

	// Time travel to the first commit.
	out, err = run(t, "query", "--table", loc, "--as-of", firstCommit(t, loc), "--output", "csv", "SELECT uuid, score FROM t ORDER BY uuid")
	require.NoError(t, err)
	assert.Equal(t, "uuid,score\nu1,3\nu2,2\n", out)

	// Deletes by key.
	d := writeFile(t, dir, "del.csv", "uuid,dt\nu2,2026-11-01\n")
	_, err = run(t, "ingest", "--table", loc, "--op", "delete", d)
	require.NoError(t, err)
	out, err = run(t, "query", "--table", loc, "--output", "csv", "SELECT uuid FROM t ORDER BY uuid")
	require.NoError(t, err)
	assert.Equal(t, "uuid\nu1\nu4\n", out)
}

func firstCommit(t *testing.T, loc string) string {
	t.Helper()
	out, err := run(t, "timeline", "--table", loc, "--output", "json")
	require.NoError(t, err)
	var rows []timelineRow
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	require.NotEmpty(t, rows)
	return rows[0].Instant
}

func TestIngestStrict(t *testing.T) {
	dir := t.TempDir()
	loc := filepath.Join(dir, "t")
	j := writeFile(t, dir, "a.jsonl", "{\"id\":\"a\",\"ts\":1}\n{\"id\":\"b\"}\n")
	_, err := run(t, "ingest", "--table", loc, "--key", "id", "--precombine", "ts", "--strict", j)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 2")
	assert.Contains(t, err.Error(), "ts")
	_, err = run(t, "timeline", "--table", loc)
	require.Error(t, err, "nothing committed: the table the run created is removed")
}

func TestIngestQueryS3(t *testing.T) {
	srv := s3server.Start(t)
	loc, _ := srv.NewLocation(t)
	dir := t.TempDir()
	j := writeFile(t, dir, "a.jsonl", "{\"id\":\"a\",\"ts\":1,\"p\":\"x\"}\n{\"id\":\"b\",\"ts\":1,\"p\":\"y\"}\n{\"id\":\"a\",\"ts\":2,\"p\":\"x\"}\n")
	s3 := []string{"--s3-endpoint", srv.Endpoint, "--s3-path-style"}
	_, err := run(t, append([]string{"ingest", "--table", loc, "--key", "id", "--precombine", "ts", "--partition", "p",
		"--index-dir", filepath.Join(dir, "idx"), j}, s3...)...)
	require.NoError(t, err)
	out, err := run(t, append([]string{"query", "--table", loc, "--output", "csv", "SELECT id, ts, p FROM t ORDER BY id"}, s3...)...)
	require.NoError(t, err)
	assert.Equal(t, "id,ts,p\na,2,x\nb,1,y\n", out)
	assert.True(t, strings.HasPrefix(loc, "s3://"))
}
