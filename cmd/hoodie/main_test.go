package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"
	"github.com/hoodie-lake/hoodie/internal/testutil/s3server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { s3server.Main(m) }

// run executes the CLI with args and returns stdout.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRootCmd(&out, &errb)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestCreateTimelineFilesLocal(t *testing.T) {
	loc := filepath.Join(t.TempDir(), "events")
	out, err := run(t, "create", "--table", loc, "--type", "mor", "--key", "uuid", "--precombine", "time",
		"--partition", "dt,region", "--hive-style", "--output", "json")
	require.NoError(t, err)
	var created struct {
		Properties map[string]string `json:"properties"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &created))
	assert.Equal(t, "MERGE_ON_READ", created.Properties["hoodie.table.type"])
	assert.Equal(t, "events", created.Properties["hoodie.table.name"])
	assert.Equal(t, "dt,region", created.Properties["hoodie.table.partition.fields"])
	assert.Equal(t, "true", created.Properties["hoodie.datasource.write.hive_style_partitioning"])

	_, err = run(t, "create", "--table", loc, "--key", "uuid", "--precombine", "time")
	require.Error(t, err, "a second create must refuse to overwrite the table")

	out, err = run(t, "timeline", "--table", loc, "--output", "json")
	require.NoError(t, err)
	assert.JSONEq(t, "[]", out)
	out, err = run(t, "files", "--table", loc)
	require.NoError(t, err)
	assert.Contains(t, out, "0 partitions, 0 file groups")
}

func TestCreateValidatesFlags(t *testing.T) {
	loc := filepath.Join(t.TempDir(), "t")
	for _, args := range [][]string{
		{"create", "--table", loc, "--precombine", "ts"},                               // no key
		{"create", "--table", loc, "--key", "id"},                                      // no precombine
		{"create", "--table", loc, "--key", "id", "--precombine", "ts", "--type", "x"}, // bad type
		{"create", "--key", "id", "--precombine", "ts"},                                // no table
		{"timeline", "--table", loc, "--output", "yaml"},                               // bad output
	} {
		_, err := run(t, args...)
		assert.Error(t, err, "%v", args)
	}
	_, err := run(t, "timeline", "--table", loc)
	require.Error(t, err, "not a Hudi table")
}

func TestCreateOnS3(t *testing.T) {
	srv := s3server.Start(t)
	loc, _ := srv.NewLocation(t)
	_, err := run(t, "create", "--table", loc, "--key", "id", "--precombine", "ts", "--s3-endpoint", srv.Endpoint, "--s3-path-style")
	require.NoError(t, err)
	out, err := run(t, "timeline", "--table", loc, "--s3-endpoint", srv.Endpoint, "--s3-path-style")
	require.NoError(t, err)
	assert.Contains(t, out, "(no instants)")
}

func TestSampleTimelineAndFiles(t *testing.T) {
	var fx fixtures.Fixture
	for _, f := range fixtures.All(t) {
		if f.Name == "cow/v6_simplekeygen_nonhivestyle_overwritetable" {
			fx = f
		}
	}
	require.NotEmpty(t, fx.Zip)
	loc := fixtures.Unzip(t, fx.Zip)
	out, err := run(t, "timeline", "--table", loc, "--output", "json")
	require.NoError(t, err)
	var rows []timelineRow
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	require.Len(t, rows, 3)
	assert.Equal(t, "replacecommit", rows[2].Action)
	require.NotNil(t, rows[2].Operation)
	assert.Equal(t, "insert_overwrite_table", *rows[2].Operation)
	assert.Equal(t, int64(1), rows[2].Inserts)

	out, err = run(t, "files", "--table", loc)
	require.NoError(t, err)
	assert.Contains(t, out, "3 partitions, 1 file groups")
	assert.Equal(t, 1, strings.Count(out, ".parquet"))
}

func TestDemo(t *testing.T) {
	loc := filepath.Join(t.TempDir(), "game_events")
	out, err := run(t, "demo", "--table", loc, "--events", "3000", "--commits", "3")
	require.NoError(t, err)
	assert.Contains(t, out, "one row per key")
	assert.Equal(t, 3, strings.Count(out, "\n  commit 2"))
	assert.Contains(t, out, "late ignored")
	out, err = run(t, "timeline", "--table", loc, "--output", "json")
	require.NoError(t, err)
	var rows []timelineRow
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	// Three deltacommits, the compaction (completed as a commit), the clean.
	require.Len(t, rows, 5)
	assert.Positive(t, rows[2].Updates)
	var actions []string
	for _, r := range rows {
		op := ""
		if r.Operation != nil {
			op = *r.Operation
		}
		actions = append(actions, r.Action+"/"+op)
	}
	assert.Equal(t, []string{"deltacommit/upsert", "deltacommit/upsert", "deltacommit/upsert", "commit/compact", "clean/"}, actions)
}
