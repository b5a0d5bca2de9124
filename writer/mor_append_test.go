package writer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// latestSlices returns the table's latest file slices by file group.
func latestSlices(t *testing.T, tbl *table.Table) map[filegroup.FileGroupID]*filegroup.FileSlice {
	t.Helper()
	ctx := context.Background()
	tl, err := timeline.Load(ctx, tbl.Storage())
	require.NoError(t, err)
	view, err := filegroup.BuildView(ctx, tbl.Storage(), tl, filegroup.ViewOptions{})
	require.NoError(t, err)
	out := map[filegroup.FileGroupID]*filegroup.FileSlice{}
	for _, s := range view.LatestSlices() {
		out[s.FileGroupID] = s
	}
	return out
}

// baseFiles returns the latest base file name of each file group.
func baseFiles(t *testing.T, tbl *table.Table) map[filegroup.FileGroupID]string {
	t.Helper()
	out := map[filegroup.FileGroupID]string{}
	for id, s := range latestSlices(t, tbl) {
		if s.Base != nil {
			out[id] = s.Base.Name
		}
	}
	return out
}

// applyModel applies upserted records to a model of the snapshot (the
// records carry increasing ordering values).
func applyModel(m map[modelKey]modelRow, recs []modelRec) {
	for _, r := range recs {
		m[modelKey{r.part, r.key}] = modelRow{ts: r.ts, val: r.val}
	}
}

// TestMORInsertsAppendToLogs: on a merge-on-read table, deltacommits after
// the first write inserts, updates and deletes as log files of the small
// file group: no base file is rewritten (names unchanged) until compaction,
// the write stats count inserts and updates of the log files, keys
// inserted into a log are found by the index in the next commit, and the
// compaction merges the log-only inserts into the new base file.
func TestMORInsertsAppendToLogs(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newModelTable(t, "", table.MergeOnRead)
	w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index"})
	require.NoError(t, err)
	defer w.Close()
	want := map[modelKey]modelRow{}
	var first []modelRec
	for i := 0; i < 100; i++ {
		first = append(first, modelRec{key: fmt.Sprintf("k%04d", i), part: "a", ts: 1, val: int64(i)})
	}
	upsertCommit(t, w, first)
	applyModel(want, first)
	bases := baseFiles(t, tbl)
	require.Len(t, bases, 1)
	next := 100
	for c := 2; c <= 5; c++ {
		var recs []modelRec
		for i := 0; i < 50; i++ { // new keys
			recs = append(recs, modelRec{key: fmt.Sprintf("k%04d", next), part: "a", ts: int64(c), val: int64(next)})
			next++
		}
		// updates of a key of the base file and of one inserted into a log
		// by the previous commit.
		recs = append(recs, modelRec{key: "k0000", part: "a", ts: int64(c), val: int64(-c)},
			modelRec{key: fmt.Sprintf("k%04d", next-51), part: "a", ts: int64(c), val: int64(-100 * c)})
		res := upsertCommit(t, w, recs)
		applyModel(want, recs)
		assert.Equal(t, int64(50), res.Stats.Inserts, "commit %d", c)
		assert.Equal(t, int64(2), res.Stats.Updates, "commit %d", c)
		if c > 2 {
			assert.Equal(t, int64(2), res.Stats.IndexHits, "commit %d: a key inserted into a log is indexed", c)
		}
		stats := res.Metadata.Stats()
		require.Len(t, stats, 1, "commit %d: one file group", c)
		s := stats[0]
		assert.True(t, s.IsLog(), "commit %d wrote log files", c)
		assert.Equal(t, int64(50), s.NumInserts)
		assert.Equal(t, int64(2), s.NumUpdateWrites)
		assert.Equal(t, int64(52), s.NumWrites)
		require.NotNil(t, s.BaseFile)
		assert.Equal(t, bases[filegroup.FileGroupID{PartitionPath: "a", FileID: s.FileID}], *s.BaseFile)
		assert.Equal(t, bases, baseFiles(t, tbl), "commit %d rewrote no base file", c)
		assert.Equal(t, want, noCT(readTable(t, tbl)), "commit %d", c)
	}
	d := buildDeletes([]modelKey{{"a", "k0001"}, {"a", "k0120"}})
	require.NoError(t, w.Delete(d))
	d.Release()
	_, err = w.Commit(ctx)
	require.NoError(t, err)
	delete(want, modelKey{"a", "k0001"})
	delete(want, modelKey{"a", "k0120"})
	assert.Equal(t, bases, baseFiles(t, tbl))
	assert.Equal(t, want, noCT(readTable(t, tbl)))

	sc, err := compactor.Schedule(ctx, tbl, compactor.Options{Force: true})
	require.NoError(t, err)
	require.NotNil(t, sc)
	_, err = compactor.Execute(ctx, tbl, sc.Instant, compactor.Options{})
	require.NoError(t, err)
	after := latestSlices(t, tbl)
	require.Len(t, after, 1)
	for id, s := range after {
		require.NotNil(t, s.Base)
		assert.Empty(t, s.Logs)
		assert.NotEqual(t, bases[id], s.Base.Name, "compaction wrote a new base file")
	}
	assert.Equal(t, want, noCT(readTable(t, tbl)), "after compaction")
}

// TestMORLogFileGroupSizing: a merge-on-read file group takes inserts into
// its logs while its estimated size — base file plus log files times
// LogToParquetRatio — leaves room under the target size; past it, inserts
// go to new file groups. A group in a pending compaction takes none.
func TestMORLogFileGroupSizing(t *testing.T) {
	s := &filegroup.FileSlice{Base: &filegroup.BaseFileInfo{}}
	s.Base.Size = 1000
	s.Logs = make([]filegroup.LogFileInfo, 2)
	s.Logs[0].Size, s.Logs[1].Size = 2000, 4000
	w := &Writer{opts: Options{}}
	w.opts.EnsureDefaults()
	assert.Equal(t, int64(1000+2100), w.smallFileSize(s))
	w.opts.LogToParquetRatio = 1
	assert.Equal(t, int64(7000), w.smallFileSize(s))
	require.Error(t, Options{LogToParquetRatio: -1}.Validate())
	require.Error(t, Options{LogToParquetRatio: 1.5}.Validate())

	ctx := context.Background()
	tbl, dir := newModelTable(t, "", table.MergeOnRead)
	w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index", TargetFileSize: 1 << 20, SmallFileLimit: 1 << 20, LogToParquetRatio: 1})
	require.NoError(t, err)
	defer w.Close()
	w.setRecordSize(100 << 10) // a handful of records per file group
	recs := func(from, n int) []modelRec {
		var out []modelRec
		for i := from; i < from+n; i++ {
			out = append(out, modelRec{key: fmt.Sprintf("k%04d", i), part: "a", ts: 1, val: int64(i)})
		}
		return out
	}
	upsertCommit(t, w, recs(0, 4))
	bases := baseFiles(t, tbl)
	require.Len(t, bases, 1)
	var room int64
	for _, s := range latestSlices(t, tbl) {
		room = (1<<20 - s.Base.Size) / (100 << 10) // the footer's bloom filter takes a good part
	}
	require.Positive(t, room)
	res := upsertCommit(t, w, recs(4, int(room)+4))
	var logIns, baseIns int64
	for _, st := range res.Metadata.Stats() {
		if st.IsLog() {
			logIns += st.NumInserts
		} else {
			baseIns += st.NumInserts
		}
	}
	assert.Positive(t, logIns, "the small group took inserts into a log")
	assert.Positive(t, baseIns, "the rest went to a new file group")
	assert.Equal(t, room, logIns, "as many as the group has room for")
	assert.Equal(t, int64(4), baseIns)
	for id, name := range bases {
		assert.Equal(t, name, baseFiles(t, tbl)[id], "base file untouched")
	}

	// A pending compaction keeps its groups out of insert packing.
	sc, err := compactor.Schedule(ctx, tbl, compactor.Options{Force: true})
	require.NoError(t, err)
	require.NotNil(t, sc)
	res = upsertCommit(t, w, recs(100, 2))
	for _, st := range res.Metadata.Stats() {
		_, pending := bases[filegroup.FileGroupID{PartitionPath: st.PartitionPath, FileID: st.FileID}]
		assert.False(t, pending, "no inserts into a group pending compaction")
	}
	assert.Len(t, noCT(readTable(t, tbl)), int(room)+10)
	_, err = compactor.Execute(ctx, tbl, sc.Instant, compactor.Options{})
	require.NoError(t, err)
	assert.Len(t, noCT(readTable(t, tbl)), int(room)+10)
}

// TestMORExpiredKeyInsertedViaLog: with an index TTL shorter than the gap
// between commits, a key that was inserted into a log file (no base file
// footer knows it) is still found by the lookup — which reads the keys of
// candidate slices' log blocks — so its update replaces it in place: one
// row, not two.
func TestMORExpiredKeyInsertedViaLog(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newModelTable(t, "", table.MergeOnRead)
	w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index", IndexTTL: time.Second})
	require.NoError(t, err)
	defer w.Close()
	var recs []modelRec
	for i := 0; i < 20; i++ {
		recs = append(recs, modelRec{key: fmt.Sprintf("k%02d", i), part: "p", ts: 1, val: int64(i)})
	}
	upsertCommit(t, w, recs)
	res := upsertCommit(t, w, []modelRec{{key: "zz", part: "p", ts: 1, val: 1}, {key: "k00", part: "p", ts: 1, val: 2}})
	require.Len(t, res.Metadata.Stats(), 1)
	require.True(t, res.Metadata.Stats()[0].IsLog(), "the insert went to a log file")
	bases := baseFiles(t, tbl)
	time.Sleep(2100 * time.Millisecond) // entries expire
	res = upsertCommit(t, w, []modelRec{{key: "zz", part: "p", ts: 2, val: 42}, {key: "k05", part: "p", ts: 2, val: 43}})
	assert.Zero(t, res.Stats.IndexHits, "entries expired")
	assert.Equal(t, int64(2), res.Stats.FooterHits, "found in the log and in the base file")
	assert.Equal(t, int64(2), res.Stats.Updates)
	assert.Zero(t, res.Stats.Inserts)
	got := noCT(readTable(t, tbl))
	assert.Len(t, got, 21)
	assert.Equal(t, modelRow{ts: 2, val: 42}, got[modelKey{"p", "zz"}])
	assert.Equal(t, modelRow{ts: 2, val: 43}, got[modelKey{"p", "k05"}])
	assert.Equal(t, bases, baseFiles(t, tbl))
}

// TestMORReinsertAfterDelete: a key deleted by a log file of its group and
// inserted again with a lower ordering value than the base file's record
// must not go into that group's logs (a reader would compare it with the
// base record, as Hudi's merge does, and bring the deleted record back): it
// is inserted into another group, and reads as the new record, before and
// after compaction.
func TestMORReinsertAfterDelete(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newModelTable(t, "", table.MergeOnRead)
	w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index"})
	require.NoError(t, err)
	defer w.Close()
	want := map[modelKey]modelRow{}
	var recs []modelRec
	for i := 0; i < 20; i++ {
		recs = append(recs, modelRec{key: fmt.Sprintf("k%02d", i), part: "p", ts: 100, val: int64(i)})
	}
	upsertCommit(t, w, recs)
	applyModel(want, recs)
	d := buildDeletes([]modelKey{{"p", "k03"}})
	require.NoError(t, w.Delete(d))
	d.Release()
	_, err = w.Commit(ctx)
	require.NoError(t, err)
	delete(want, modelKey{"p", "k03"})
	again := []modelRec{{key: "k03", part: "p", ts: 5, val: -3}, {key: "new", part: "p", ts: 5, val: 7}}
	res := upsertCommit(t, w, again)
	applyModel(want, again)
	assert.Equal(t, int64(2), res.Stats.Inserts)
	assert.Equal(t, want, noCT(readTable(t, tbl)))
	sc, err := compactor.Schedule(ctx, tbl, compactor.Options{Force: true})
	require.NoError(t, err)
	require.NotNil(t, sc)
	_, err = compactor.Execute(ctx, tbl, sc.Instant, compactor.Options{})
	require.NoError(t, err)
	assert.Equal(t, want, noCT(readTable(t, tbl)), "after compaction")
}

// TestMORInsertsToBaseFiles: with Options.InsertsToBaseFiles (a table
// another engine upserts into with a bloom index), merge-on-read inserts go
// to base files as Hudi's bloom-index path puts them: merged into a small
// base file without logs, or into a new file group once the small one has
// logs; updates still go to log files.
func TestMORInsertsToBaseFiles(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newModelTable(t, "", table.MergeOnRead)
	w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index", InsertsToBaseFiles: true})
	require.NoError(t, err)
	defer w.Close()
	want := map[modelKey]modelRow{}
	step := func(recs ...modelRec) *CommitResult {
		res := upsertCommit(t, w, recs)
		applyModel(want, recs)
		require.Equal(t, want, noCT(readTable(t, tbl)))
		return res
	}
	step(modelRec{key: "a", part: "p", ts: 1, val: 1})
	first := baseFiles(t, tbl)
	res := step(modelRec{key: "b", part: "p", ts: 1, val: 2}) // merged into the small base file
	require.Len(t, res.Metadata.Stats(), 1)
	assert.False(t, res.Metadata.Stats()[0].IsLog())
	assert.NotEqual(t, first, baseFiles(t, tbl), "the base file was rewritten")
	res = step(modelRec{key: "a", part: "p", ts: 2, val: 3}) // an update: a log
	require.Len(t, res.Metadata.Stats(), 1)
	assert.True(t, res.Metadata.Stats()[0].IsLog())
	res = step(modelRec{key: "c", part: "p", ts: 1, val: 4}) // the group has logs: a new group
	require.Len(t, res.Metadata.Stats(), 1)
	assert.False(t, res.Metadata.Stats()[0].IsLog())
	assert.Len(t, baseFiles(t, tbl), 2)
}
