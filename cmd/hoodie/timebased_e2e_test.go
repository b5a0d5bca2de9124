package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
)

// partitionDirs lists the table's partitions: the directories holding a
// .hoodie_partition_metadata file, relative to the base path.
func partitionDirs(t *testing.T, base string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".hoodie" {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == ".hoodie_partition_metadata" {
			rel, err := filepath.Rel(base, filepath.Dir(p))
			require.NoError(t, err)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	}))
	sort.Strings(out)
	return out
}

// TestTimebasedIngestE2E ingests events whose event time is epoch
// milliseconds into a table partitioned by day (dt=yyyy-MM-dd, Asia/Tokyo),
// then updates: the updates land in the rows' partitions, and
// hoodie.properties records the key generator for Spark and Athena.
func TestTimebasedIngestE2E(t *testing.T) {
	dir := t.TempDir()
	loc := filepath.Join(dir, "events")
	day := time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)
	var first, second strings.Builder
	for i := range 6 {
		// 14:30 UTC is 23:30 in Tokyo; 15:30 UTC is the next day there:
		// e0 03-10, e1 03-12, e2 03-12, e3 03-11, e4 03-11, e5 03-13.
		ts := day.Add(time.Duration(i%3)*24*time.Hour + 14*time.Hour + time.Duration(30+60*(i%2))*time.Minute)
		fmt.Fprintf(&first, `{"id":"e%d","ts":%d,"v":1}`+"\n", i, ts.UnixMilli())
		if i%2 == 0 {
			fmt.Fprintf(&second, `{"id":"e%d","ts":%d,"v":2}`+"\n", i, ts.UnixMilli())
		}
	}
	fmt.Fprintf(&first, `{"id":"null-time","ts":null,"v":1}`+"\n")
	in1 := filepath.Join(dir, "first.jsonl")
	in2 := filepath.Join(dir, "second.jsonl")
	require.NoError(t, os.WriteFile(in1, []byte(first.String()), 0o644))
	require.NoError(t, os.WriteFile(in2, []byte(second.String()), 0o644))

	flags := []string{"--key", "id", "--precombine", "v", "--partition", "ts", "--hive-style",
		"--timestamp-type", "epochmilliseconds", "--timezone", "Asia/Tokyo", "--output", "json"}
	s := ingestSum(t, must(t, append([]string{"ingest", "--table", loc, in1}, flags...)...))
	assert.True(t, s.Created)
	assert.EqualValues(t, 7, s.Inserts)
	want := []string{"ts=1970-01-01", "ts=2024-03-10", "ts=2024-03-11", "ts=2024-03-12", "ts=2024-03-13"}
	require.Equal(t, want, partitionDirs(t, loc))

	st, err := storage.NewLocal(loc)
	require.NoError(t, err)
	tbl, err := table.Open(context.Background(), st)
	require.NoError(t, err)
	cfg := tbl.Config()
	assert.Equal(t, table.KeyGenTimestampBased, cfg.KeyGenerator)
	assert.Equal(t, table.TimestampKeyGen{Type: "EPOCHMILLISECONDS", OutputDateFormat: "yyyy-MM-dd", Timezone: "Asia/Tokyo"}, cfg.Timestamp)
	assert.Equal(t, "EPOCHMILLISECONDS", cfg.Props[table.KeyTimestampType])
	assert.Equal(t, "yyyy-MM-dd", cfg.Props[table.KeyTimestampOutputDateFormat])

	// Updates, without the create flags: same partitions, no duplicates.
	s = ingestSum(t, must(t, "ingest", "--table", loc, in2, "--output", "json"))
	assert.EqualValues(t, 3, s.Updates)
	assert.EqualValues(t, 0, s.Inserts)
	assert.Equal(t, want, partitionDirs(t, loc))
	assert.Equal(t, "_hoodie_partition_path,id,v\n"+
		"ts=1970-01-01,null-time,1\n"+
		"ts=2024-03-10,e0,2\n"+
		"ts=2024-03-12,e1,1\nts=2024-03-12,e2,2\n"+
		"ts=2024-03-11,e3,1\nts=2024-03-11,e4,2\n"+
		"ts=2024-03-13,e5,1\n",
		must(t, "query", "--table", loc, "--output", "csv", "SELECT _hoodie_partition_path, id, v FROM t ORDER BY id = 'null-time' DESC, id"))

	// An event time that is not a number is a bad row.
	bad := filepath.Join(dir, "bad.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte(`{"id":"x","ts":"2024-03-10","v":3}`+"\n"), 0o644))
	_, errOut, code := exitCode(t, "", "ingest", "--table", loc, bad, "--strict")
	assert.NotZero(t, code)
	assert.Contains(t, errOut, "field ts")

	// Deletes carry the event time; key-only deletes cannot find the
	// partition (the path does not give the time back) and are refused.
	del := filepath.Join(dir, "del.jsonl")
	require.NoError(t, os.WriteFile(del, []byte(fmt.Sprintf(`{"id":"e5","ts":%d}`+"\n", day.Add(2*24*time.Hour+15*time.Hour+30*time.Minute).UnixMilli())), 0o644))
	s = ingestSum(t, must(t, "ingest", "--table", loc, "--op", "delete", del, "--output", "json"))
	assert.EqualValues(t, 1, s.Deletes)
	keyOnly := filepath.Join(dir, "keyonly.jsonl")
	require.NoError(t, os.WriteFile(keyOnly, []byte(`{"id":"e4"}`+"\n"), 0o644))
	_, errOut, code = exitCode(t, "", "ingest", "--table", loc, "--op", "delete", keyOnly)
	assert.NotZero(t, code)
	assert.Contains(t, errOut, "timestamp-based key generator")
	assert.Equal(t, "n\n6\n", must(t, "query", "--table", loc, "--output", "csv", "SELECT count(*) AS n FROM t"))

	// Flags that contradict the table are refused.
	_, errOut, code = exitCode(t, "", "ingest", "--table", loc, in2, "--timestamp-type", "UNIX_TIMESTAMP")
	assert.NotZero(t, code)
	assert.Contains(t, errOut, "differ from the table's")
}

// TestTimebasedIngestFlagErrors checks the flag combinations refused
// before any storage is touched.
func TestTimebasedIngestFlagErrors(t *testing.T) {
	loc := filepath.Join(t.TempDir(), "t")
	in := filepath.Join(t.TempDir(), "in.jsonl")
	require.NoError(t, os.WriteFile(in, []byte(`{"id":"a","ts":1,"v":1}`+"\n"), 0o644))
	base := []string{"ingest", "--table", loc, in, "--key", "id", "--precombine", "v", "--partition", "ts"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--output-dateformat", "yyyy"}, "needs --timestamp-type"},
		{[]string{"--timestamp-type", "EPOCHMILLISECONDS", "--timestamp-unit", "DAYS"}, "--timestamp-unit is for"},
		{[]string{"--timestamp-type", "EPOCHMILLISECONDS", "--timezone", "PST"}, "region id"},
		{[]string{"--timestamp-type", "EPOCHMILLISECONDS", "--output-dateformat", "yyyy-MM-dd z"}, "time zone name"},
		{[]string{"--timestamp-type", "SECONDS"}, "want UNIX_TIMESTAMP"},
		{[]string{"--timestamp-type", "EPOCHMILLISECONDS", "--key-generator", table.KeyGenSimple}, "timestamp-based key generator"},
	} {
		_, errOut, code := exitCode(t, "", append(base, c.args...)...)
		assert.NotZero(t, code, c.args)
		assert.Contains(t, errOut, c.want, c.args)
		_, err := os.Stat(filepath.Join(loc, ".hoodie"))
		assert.True(t, os.IsNotExist(err), "no table created for %v", c.args)
	}
}
