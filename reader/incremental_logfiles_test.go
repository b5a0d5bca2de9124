package reader_test

import (
	"context"
	"encoding/json"
	"path"
	"testing"

	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listEarlierLogs rewrites the write stats of a completed deltacommit as
// Hudi's append handle writes them: logFiles lists every log file of the
// slice (the ones earlier commits wrote first), path only the one this
// commit wrote.
func listEarlierLogs(t *testing.T, st storage.Storage, inst timeline.Instant, earlier map[string][]string) {
	t.Helper()
	ctx := context.Background()
	name, err := inst.FileName()
	require.NoError(t, err)
	key := timeline.MetaFolder + "/" + name
	b, err := storage.ReadFile(ctx, st, key)
	require.NoError(t, err)
	var md map[string]any
	require.NoError(t, json.Unmarshal(b, &md))
	n := 0
	for _, stats := range md["partitionToWriteStats"].(map[string]any) {
		for _, raw := range stats.([]any) {
			ws := raw.(map[string]any)
			prev := earlier[ws["fileId"].(string)]
			if len(prev) == 0 {
				continue
			}
			logs := []any{}
			for _, p := range prev {
				logs = append(logs, p)
			}
			logs = append(logs, ws["logFiles"].([]any)...)
			ws["logFiles"] = logs
			n++
		}
	}
	require.Positive(t, n)
	out, err := json.Marshal(md)
	require.NoError(t, err)
	require.NoError(t, storage.WriteFile(ctx, st, key, out, storage.CreateOptions{}))
}

// TestIncrementalMORLogFilesOfEarlierCommits: an incremental read of a
// merge-on-read table reads the log files the range's commits wrote, not
// the earlier log files Hudi's write stats also list in logFiles. Here
// key b is updated in c2 (ordering 5) and again in c3 with a smaller
// ordering value (3): merged with c2's log, c3's record loses (Hudi's
// precombine between log records), but Hudi's incremental relation
// reads c3's log alone and returns b as of c3.
func TestIncrementalMORLogFilesOfEarlierCommits(t *testing.T) {
	ctx := context.Background()
	st, err := storage.NewLocal(t.TempDir())
	require.NoError(t, err)
	tbl, err := table.Create(ctx, st, table.CreateOptions{Name: "inc", Type: table.MergeOnRead, RecordKeyFields: []string{"id"},
		PartitionFields: []string{"p"}, PrecombineField: "ts", PayloadClass: table.PayloadOverwriteWithLatest})
	require.NoError(t, err)
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: t.TempDir()})
	require.NoError(t, err)
	mdtUpsert(t, w, []string{"a1", "b1"}, 1, 1)
	c2 := mdtUpsert(t, w, []string{"a1", "b1"}, 5, 2)
	c3 := mdtUpsert(t, w, []string{"b1"}, 3, 3)
	require.NoError(t, w.Close())

	// Every log file each commit wrote, by file group.
	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	written := map[string]map[string][]string{} // instant -> file id -> log names
	for _, c := range tl.CompletedCommits() {
		md, err := timeline.ReadCommitMetadata(ctx, st, c)
		require.NoError(t, err)
		written[c.Timestamp] = map[string][]string{}
		for _, ws := range md.Stats() {
			if ws.IsLog() {
				written[c.Timestamp][ws.FileID] = append(written[c.Timestamp][ws.FileID], path.Base(ws.Path))
			}
		}
	}
	require.NotEmpty(t, written[c2], "c2 wrote log files")
	require.NotEmpty(t, written[c3], "c3 wrote log files")
	c3Inst, ok := tl.Find(c3)
	require.True(t, ok)
	listEarlierLogs(t, st, c3Inst, written[c2])

	assert.Equal(t, map[string]int64{"a1": 2, "b1": 2}, rows(t, tbl, reader.Options{}),
		"snapshot: c3's update of b1 has the smaller ordering value")
	assert.Equal(t, map[string]int64{"a1": 2, "b1": 2}, rows(t, tbl, reader.Options{BeginExclusive: firstCommit(t, tl), AsOf: c2}))
	assert.Equal(t, map[string]int64{"b1": 3}, rows(t, tbl, reader.Options{BeginExclusive: c2, AsOf: c3}),
		"(c2, c3]: c3's log alone, as Hudi's incremental relation reads it")
	assert.Equal(t, map[string]int64{"a1": 2, "b1": 2}, rows(t, tbl, reader.Options{BeginExclusive: firstCommit(t, tl), AsOf: c3}),
		"(c1, c3]: both logs, merged")
}

func firstCommit(t *testing.T, tl *timeline.Timeline) string {
	t.Helper()
	cs := tl.CompletedCommits()
	require.NotEmpty(t, cs)
	return cs[0].Timestamp
}
