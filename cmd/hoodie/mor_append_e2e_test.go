package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// morSlices returns the latest file slices of the table at loc by file
// group.
func morSlices(t *testing.T, loc string) map[filegroup.FileGroupID]*filegroup.FileSlice {
	t.Helper()
	ctx := context.Background()
	st, err := storage.NewLocal(loc)
	require.NoError(t, err)
	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	view, err := filegroup.BuildView(ctx, st, tl, filegroup.ViewOptions{})
	require.NoError(t, err)
	out := map[filegroup.FileGroupID]*filegroup.FileSlice{}
	for _, s := range view.LatestSlices() {
		out[s.FileGroupID] = s
	}
	return out
}

// readerCount reads the table at loc with package reader and returns its
// row count and distinct record keys.
func readerCount(t *testing.T, loc string) (rows int64, keys int) {
	t.Helper()
	ctx := context.Background()
	st, err := storage.NewLocal(loc)
	require.NoError(t, err)
	tbl, err := table.Open(ctx, st)
	require.NoError(t, err)
	recs, err := reader.ReadAll(ctx, tbl, reader.Options{})
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, r := range recs {
		rows += r.NumRows()
		col := r.Column(int(r.Schema().FieldIndices("_hoodie_record_key")[0]))
		for i := 0; i < col.Len(); i++ {
			seen[col.ValueStr(i)] = true
		}
		r.Release()
	}
	return rows, len(seen)
}

// TestMORIngestAppendsE2E is issue 14's check: `hoodie ingest` of five
// 10 k-event batches (new keys and updates) into a merge-on-read table
// writes log files and leaves every base file untouched — the same names,
// so the same instants — until `hoodie compact`, which merges the logs into
// new base files. The reader and DuckDB (`hoodie query`) agree on the rows
// after every batch and after the compaction.
func TestMORIngestAppendsE2E(t *testing.T) {
	dir := t.TempDir()
	loc := filepath.Join(dir, "events")
	idx := filepath.Join(dir, "idx")
	const batches, perBatch, updates = 5, 10_000, 2_000
	ids := 0
	var bases map[filegroup.FileGroupID]string
	for b := 1; b <= batches; b++ {
		var sb strings.Builder
		for i := 0; i < perBatch-updates; i++ { // new keys
			fmt.Fprintf(&sb, `{"id":%d,"ts":%d,"region":"r%d","v":"new-%d"}`+"\n", ids, b, ids%2, b)
			ids++
		}
		for i := 0; i < updates; i++ { // updates of keys of earlier batches (or new in the first)
			id := (i * 7919) % ids
			fmt.Fprintf(&sb, `{"id":%d,"ts":%d,"region":"r%d","v":"upd-%d"}`+"\n", id, b, id%2, b)
		}
		in := filepath.Join(dir, fmt.Sprintf("batch%d.jsonl", b))
		require.NoError(t, os.WriteFile(in, []byte(sb.String()), 0o644))
		out := must(t, "ingest", "--table", loc, "--type", "mor", "--key", "id", "--precombine", "ts",
			"--partition", "region", "--index-dir", idx, "--output", "json", in)
		var sum ingestOutput
		require.NoError(t, json.Unmarshal([]byte(out), &sum), out)
		require.Len(t, sum.Commits, 1)

		slices := morSlices(t, loc)
		now := map[filegroup.FileGroupID]string{}
		logs := 0
		for id, s := range slices {
			if s.Base != nil {
				now[id] = s.Base.Name
			}
			logs += len(s.Logs)
		}
		for id, name := range bases {
			assert.Equal(t, name, now[id], "batch %d rewrote the base file of %s", b, id)
		}
		if b > 1 {
			assert.Positive(t, logs, "batch %d: log files", b)
			assert.Equal(t, len(bases), len(now), "batch %d: inserts appended to the small groups' logs, no new base file", b)
		}
		bases = now

		rows, keys := readerCount(t, loc)
		assert.Equal(t, int64(ids), rows, "batch %d: reader rows", b)
		assert.Equal(t, ids, keys, "batch %d: one row per key", b)
		q := must(t, "query", "--table", loc, "--output", "csv",
			"SELECT count(*) AS n, count(DISTINCT id) AS k, sum(CASE WHEN v LIKE 'upd-%' THEN 1 ELSE 0 END) > 0 AS upd FROM t")
		assert.Equal(t, fmt.Sprintf("n,k,upd\n%d,%d,true\n", ids, ids), q, "batch %d: DuckDB", b)
	}

	// Compaction (five deltacommits: the default trigger) merges every
	// group's logs into a new base file.
	must(t, "compact", "--table", loc, "--output", "json")
	for id, s := range morSlices(t, loc) {
		require.NotNil(t, s.Base, "%s", id)
		assert.Empty(t, s.Logs, "%s compacted", id)
		assert.NotEqual(t, bases[id], s.Base.Name, "%s has a new base file", id)
	}
	rows, keys := readerCount(t, loc)
	assert.Equal(t, int64(ids), rows)
	assert.Equal(t, ids, keys)
	q := must(t, "query", "--table", loc, "--output", "csv", "SELECT count(*) AS n, count(DISTINCT id) AS k FROM t")
	assert.Equal(t, fmt.Sprintf("n,k\n%d,%d\n", ids, ids), q)
	ro := must(t, "query", "--table", loc, "--read-optimized", "--output", "csv", "SELECT count(*) AS n FROM t")
	assert.Equal(t, fmt.Sprintf("n\n%d\n", ids), ro, "the read-optimized view sees every row once compacted")
}

// TestMORIngestParquetLogBlocksE2E: `--log-block-format parquet
// --compression zstd` writes merge-on-read logs whose data blocks are
// Parquet files (Hudi's HoodieParquetDataBlock), which the reader and
// DuckDB read; a bad value of either flag is refused before anything is
// written.
func TestMORIngestParquetLogBlocksE2E(t *testing.T) {
	dir := t.TempDir()
	loc := filepath.Join(dir, "events")
	idx := filepath.Join(dir, "idx")
	for b := 1; b <= 2; b++ {
		var sb strings.Builder
		for i := 0; i < 500; i++ {
			id := i + (b-1)*250 // half updates in the second batch
			fmt.Fprintf(&sb, `{"id":%d,"ts":%d,"region":"r%d","v":"b%d"}`+"\n", id, b, id%2, b)
		}
		in := filepath.Join(dir, fmt.Sprintf("batch%d.jsonl", b))
		require.NoError(t, os.WriteFile(in, []byte(sb.String()), 0o644))
		must(t, "ingest", "--table", loc, "--type", "mor", "--key", "id", "--precombine", "ts",
			"--partition", "region", "--index-dir", idx, "--log-block-format", "parquet", "--compression", "zstd", in)
	}
	var logs int
	for _, s := range morSlices(t, loc) {
		for _, l := range s.Logs {
			data, err := os.ReadFile(filepath.Join(loc, l.Path))
			require.NoError(t, err)
			assert.Contains(t, string(data), "PAR1", "%s holds a Parquet block", l.Name)
			logs++
		}
	}
	assert.Positive(t, logs)
	rows, keys := readerCount(t, loc)
	assert.EqualValues(t, 750, rows)
	assert.Equal(t, 750, keys)
	q := must(t, "query", "--table", loc, "--output", "csv", "SELECT count(*) AS n, sum(CASE WHEN v = 'b2' THEN 1 ELSE 0 END) AS b2 FROM t")
	assert.Equal(t, "n,b2\n750,500\n", q)

	for _, bad := range [][]string{{"--log-block-format", "orc"}, {"--compression", "lz5"}} {
		in := filepath.Join(dir, "batch1.jsonl")
		args := append([]string{"ingest", "--table", filepath.Join(dir, "other"), "--type", "mor", "--key", "id",
			"--precombine", "ts", "--index-dir", idx + "2"}, append(bad, in)...)
		out, stderr, code := exitCode(t, "", args...)
		assert.NotZero(t, code, "%v: %s", bad, out)
		assert.Contains(t, stderr, bad[1], "%v", bad)
		_, err := os.Stat(filepath.Join(dir, "other", ".hoodie"))
		assert.True(t, os.IsNotExist(err), "%v: nothing created", bad)
	}
}
