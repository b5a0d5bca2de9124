package cleaner_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/hoodie-lake/hoodie/filegroup"
	"path"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/internal/testutil/model"
	"github.com/hoodie-lake/hoodie/internal/testutil/s3server"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
)

func TestMain(m *testing.M) { s3server.Main(m) }

// backends returns a fresh store of each kind.
func backends(t *testing.T) map[string]func(t *testing.T) storage.Storage {
	return map[string]func(t *testing.T) storage.Storage{
		"mem": func(t *testing.T) storage.Storage { return storage.NewMem() },
		"local": func(t *testing.T) storage.Storage {
			st, err := storage.NewLocal(t.TempDir() + "/tbl")
			require.NoError(t, err)
			return st
		},
		"s3": func(t *testing.T) storage.Storage {
			srv := s3server.Start(t)
			loc, opts := srv.NewLocation(t)
			st, err := storage.Open(context.Background(), loc, opts)
			require.NoError(t, err)
			return st
		},
	}
}

// seed creates a COW table with two partitions of three keys each and
// makes n commits, each updating every key, so every file group gains one
// slice per commit. It returns the table and the commit instants.
func seed(t *testing.T, st storage.Storage, n int) (*table.Table, []string) {
	t.Helper()
	ctx := context.Background()
	tbl, err := table.Create(ctx, st, model.CreateOptions("clean", table.CopyOnWrite))
	require.NoError(t, err)
	return tbl, commitN(t, tbl, 0, n)
}

func commitN(t *testing.T, tbl *table.Table, from, n int) []string {
	t.Helper()
	ctx := context.Background()
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: t.TempDir()})
	require.NoError(t, err)
	defer w.Close()
	var out []string
	for i := from; i < from+n; i++ {
		var recs []model.Rec
		for _, p := range []string{"a", "b"} {
			for k := range 3 {
				recs = append(recs, model.Rec{Key: model.Key{Part: p, ID: fmt.Sprintf("%s%d", p, k)}, TS: int64(i), Val: int64(i*10 + k)})
			}
		}
		rec := model.Batch(recs)
		// Instant times are milliseconds: leave room between commits for
		// the tests that place an instant in between.
		time.Sleep(3 * time.Millisecond)
		require.NoError(t, w.Upsert(rec))
		rec.Release()
		res, err := w.Commit(ctx)
		require.NoError(t, err)
		out = append(out, res.Instant)
	}
	return out
}

// rows reads the table (as of asOf) as sorted "key=val@commit" strings.
func rows(t *testing.T, tbl *table.Table, asOf string) []string {
	t.Helper()
	recs, err := reader.ReadAll(context.Background(), tbl, reader.Options{AsOf: asOf})
	require.NoError(t, err)
	var out []string
	for _, r := range recs {
		ct := r.Column(0).(*array.String)
		id := r.Column(r.Schema().FieldIndices("id")[0]).(*array.String)
		val := r.Column(r.Schema().FieldIndices("val")[0]).(*array.Int64)
		for i := range int(r.NumRows()) {
			out = append(out, fmt.Sprintf("%s=%d@%s", id.Value(i), val.Value(i), ct.Value(i)))
		}
		r.Release()
	}
	sort.Strings(out)
	return out
}

// dataFiles lists base and log files (outside .hoodie) as key -> size.
func dataFiles(t *testing.T, st storage.Storage) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for obj, err := range st.List(context.Background(), "", "") {
		require.NoError(t, err)
		name := path.Base(obj.Path)
		if strings.HasPrefix(obj.Path, ".hoodie/") || strings.HasPrefix(name, ".hoodie_partition_metadata") {
			continue
		}
		out[obj.Path] = obj.Size
	}
	return out
}

// allFiles lists every object as key -> size.
func allFiles(t *testing.T, st storage.Storage) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for obj, err := range st.List(context.Background(), "", "") {
		require.NoError(t, err)
		out[obj.Path] = obj.Size
	}
	return out
}

// baseInstants returns the base-file instants per partition.
func baseInstants(t *testing.T, st storage.Storage) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for k := range dataFiles(t, st) {
		dir, name := path.Split(k)
		bf, err := filegroup.ParseBaseFileName(name)
		if err != nil {
			continue
		}
		p := strings.TrimSuffix(dir, "/")
		out[p] = append(out[p], bf.InstantTime)
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

func TestCleanKeepLatestCommits(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := mk(t)
			tbl, commits := seed(t, st, 8)
			before := map[string][]string{}
			for _, c := range commits {
				before[c] = rows(t, tbl, c)
			}

			res, err := cleaner.Clean(ctx, tbl, cleaner.Options{CommitsRetained: 3})
			require.NoError(t, err)
			ectr := commits[len(commits)-3]
			assert.Equal(t, ectr, res.EarliestCommitToRetain)
			require.NotEmpty(t, res.Instant.Timestamp)
			assert.Equal(t, timeline.Clean, res.Instant.Action)
			// Slices at or after ECTR, plus the newest one before it.
			want := commits[len(commits)-4:]
			got := baseInstants(t, st)
			assert.Equal(t, map[string][]string{"part=a": want, "part=b": want}, renameParts(got))
			assert.Len(t, res.Deleted, 2*4)
			for _, k := range res.Deleted {
				assert.True(t, strings.HasSuffix(k, ".parquet"), k)
			}
			assert.Positive(t, res.Bytes)

			// Readers of every retained instant see what they saw before.
			for _, c := range commits[len(commits)-3:] {
				assert.Equal(t, before[c], rows(t, tbl, c), "as of %s", c)
			}
			assert.Equal(t, before[commits[len(commits)-1]], rows(t, tbl, ""))

			// The timeline holds the plan and the metadata Hudi reads.
			checkCleanInstant(t, st, res, len(res.Deleted))

			// Cleaning again has nothing to do.
			res2, err := cleaner.Clean(ctx, tbl, cleaner.Options{CommitsRetained: 3})
			require.NoError(t, err)
			assert.Empty(t, res2.Instant.Timestamp)
			assert.Empty(t, res2.Deleted)
		})
	}
}

// renameParts maps partition dirs "a"/"b" (non-hive-style) to stable names.
func renameParts(m map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range m {
		out["part="+strings.TrimPrefix(k, "part=")] = v
	}
	return out
}

func checkCleanInstant(t *testing.T, st storage.Storage, res *cleaner.Result, deleted int) {
	t.Helper()
	ctx := context.Background()
	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	assert.True(t, tl.IsCompleted(res.Instant.Timestamp))
	req := timeline.Instant{Timestamp: res.Instant.Timestamp, Action: timeline.Clean, State: timeline.Requested}
	b, err := timeline.ReadInstant(ctx, st, req)
	require.NoError(t, err)
	var plan avroplan.HoodieCleanerPlan
	require.NoError(t, avroplan.Decode(bytes.NewReader(b), &plan))
	assert.Equal(t, avroplan.CleanerPlanVersion, *plan.Version)
	n := 0
	for part, files := range *plan.FilePathsToBeDeletedPerPartition {
		for _, f := range files {
			n++
			assert.Equal(t, storage.FullPath(st, part+"/"+path.Base(*f.FilePath)), *f.FilePath, "full paths")
			assert.False(t, *f.IsBootstrapBaseFile)
		}
	}
	assert.Equal(t, deleted, n)
	b, err = timeline.ReadInstant(ctx, st, res.Instant)
	require.NoError(t, err)
	var md avroplan.HoodieCleanMetadata
	require.NoError(t, avroplan.Decode(bytes.NewReader(b), &md))
	assert.Equal(t, int32(deleted), md.TotalFilesDeleted)
	assert.Equal(t, res.EarliestCommitToRetain, md.EarliestCommitToRetain)
	assert.Equal(t, res.Instant.Timestamp, md.StartCleanTime)
	names := 0
	for part, pm := range md.PartitionMetadata {
		assert.Equal(t, part, pm.PartitionPath)
		for _, f := range pm.SuccessDeleteFiles {
			assert.NotContains(t, f, "/", "metadata holds file names")
			names++
		}
	}
	assert.Equal(t, deleted, names)
}

func TestCleanKeepLatestFileVersions(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	tbl, commits := seed(t, st, 6)
	snap := rows(t, tbl, "")
	res, err := cleaner.Clean(ctx, tbl, cleaner.Options{Policy: cleaner.KeepLatestFileVersions, FileVersionsRetained: 2})
	require.NoError(t, err)
	assert.Empty(t, res.EarliestCommitToRetain)
	want := commits[len(commits)-2:]
	assert.Equal(t, map[string][]string{"part=a": want, "part=b": want}, renameParts(baseInstants(t, st)))
	assert.Equal(t, snap, rows(t, tbl, ""))
	checkCleanInstant(t, st, res, 2*4)
	b, err := timeline.ReadInstant(ctx, st, timeline.Instant{Timestamp: res.Instant.Timestamp, Action: timeline.Clean, State: timeline.Requested})
	require.NoError(t, err)
	var plan avroplan.HoodieCleanerPlan
	require.NoError(t, avroplan.Decode(bytes.NewReader(b), &plan))
	assert.Equal(t, "KEEP_LATEST_FILE_VERSIONS", plan.Policy)
	assert.Nil(t, plan.EarliestInstantToRetain)
}

func TestCleanNothingToDo(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	tbl, _ := seed(t, st, 3)
	files := allFiles(t, st)
	res, err := cleaner.Clean(ctx, tbl, cleaner.Options{})
	require.NoError(t, err)
	assert.Empty(t, res.Instant.Timestamp, "fewer commits than retained: no clean instant")
	assert.Nil(t, res.Plan)
	assert.Equal(t, files, allFiles(t, st))
}

func TestCleanDryRun(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	tbl, commits := seed(t, st, 6)
	files := allFiles(t, st)
	log := storagefault.NewLogging(st)
	tbl2, err := table.Open(ctx, log)
	require.NoError(t, err)
	log.Reset()
	res, err := cleaner.Clean(ctx, tbl2, cleaner.Options{CommitsRetained: 2, DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, files, allFiles(t, st), "a dry run changes nothing")
	for _, l := range log.Lines() {
		assert.False(t, strings.HasPrefix(l, "create") || strings.HasPrefix(l, "delete"), l)
	}
	assert.Empty(t, res.Instant.Timestamp)
	require.NotNil(t, res.Plan)
	assert.Equal(t, commits[len(commits)-2], res.EarliestCommitToRetain)
	assert.Len(t, res.Deleted, 2*3)
	var sum int64
	for _, k := range res.Deleted {
		sum += files[k]
	}
	assert.Equal(t, sum, res.Bytes)

	// The real run deletes exactly what the dry run announced.
	real, err := cleaner.Clean(ctx, tbl, cleaner.Options{CommitsRetained: 2})
	require.NoError(t, err)
	assert.ElementsMatch(t, res.Deleted, real.Deleted)
	assert.Equal(t, res.Bytes, real.Bytes)
}

// filesAt returns the keys of the base files written at instant.
func filesAt(t *testing.T, st storage.Storage, instant string) []string {
	t.Helper()
	var out []string
	for k := range dataFiles(t, st) {
		if bf, err := filegroup.ParseBaseFileName(path.Base(k)); err == nil && bf.InstantTime == instant {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// TestCleanPendingCompactionProtected: a requested compaction plan (as a
// compactor in another process leaves it) pins the slice it compacts: its
// base file, its log files and the slice, even when the policy would
// delete them; the other group's old slices go.
func TestCleanPendingCompactionProtected(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	tbl, commits := seed(t, st, 6)
	old := filesAt(t, st, commits[1])
	require.Len(t, old, 2)
	pinned := old[0]
	part, name := path.Split(pinned)
	part = strings.TrimSuffix(part, "/")
	bf, err := filegroup.ParseBaseFileName(name)
	require.NoError(t, err)
	// A log file of the pinned slice (its content does not matter here).
	lf := filegroup.LogFile{FileID: bf.FileID, BaseInstant: commits[1], Version: 1, WriteToken: filegroup.WriteToken{StageID: 1}, Ext: filegroup.ExtLog}
	logKey := part + "/" + lf.String()
	require.NoError(t, storage.WriteFile(ctx, st, logKey, []byte("log"), storage.CreateOptions{}))

	v := avroplan.CompactionPlanVersion
	plan := &avroplan.HoodieCompactionPlan{Version: &v, Operations: []avroplan.HoodieCompactionOperation{{
		BaseInstantTime: &commits[1], DeltaFilePaths: []string{lf.String()}, DataFilePath: &name,
		FileID: &bf.FileID, PartitionPath: &part,
	}}}
	var buf bytes.Buffer
	require.NoError(t, avroplan.Encode(&buf, plan))
	_, err = timeline.Begin(ctx, st, timeline.Compaction, buf.Bytes(), timeline.BeginOptions{})
	require.NoError(t, err)

	res, err := cleaner.Clean(ctx, tbl, cleaner.Options{CommitsRetained: 2})
	require.NoError(t, err)
	require.NotEmpty(t, res.Instant.Timestamp)
	files := dataFiles(t, st)
	assert.Contains(t, files, pinned, "base file of the pending compaction's slice")
	assert.Contains(t, files, logKey, "log file of the pending compaction's slice")
	assert.NotContains(t, files, old[1], "the other group's old slice is cleaned")
	assert.NotContains(t, res.Deleted, pinned)

	// Under KeepLatestFileVersions too.
	_, err = cleaner.Clean(ctx, tbl, cleaner.Options{Policy: cleaner.KeepLatestFileVersions, FileVersionsRetained: 1})
	require.NoError(t, err)
	files = dataFiles(t, st)
	assert.Contains(t, files, pinned)
	assert.Contains(t, files, logKey)
	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	assert.Len(t, tl.PendingCompactions(), 1)
}

// TestCleanInflightWriteProtected: a write in flight in another process
// (requested and inflight files, a data file, earlier than ECTR would be)
// keeps its data file, and bounds ECTR to the last completed commit before
// it.
func TestCleanInflightWriteProtected(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	tbl, commits := seed(t, st, 8)
	// An instant between commits[2] and commits[3] that never completed.
	ts, err := timeline.ParseInstantTime(commits[2])
	require.NoError(t, err)
	P := timeline.FormatInstantTime(ts.Add(500_000)) // +0.5ms rounds down: use the next ms
	if P == commits[2] {
		P = timeline.NextInstantTime(ts, commits[2])
	}
	require.Less(t, P, commits[3])
	for _, name := range []string{P + ".commit.requested", P + ".inflight"} {
		require.NoError(t, storage.WriteFile(ctx, st, ".hoodie/"+name, nil, storage.CreateOptions{}))
	}
	anyBase := filesAt(t, st, commits[0])[0]
	bf, _ := filegroup.ParseBaseFileName(path.Base(anyBase))
	bf.InstantTime = P
	inflightFile := path.Dir(anyBase) + "/" + bf.String()
	require.NoError(t, storage.WriteFile(ctx, st, inflightFile, []byte("x"), storage.CreateOptions{}))

	res, err := cleaner.Clean(ctx, tbl, cleaner.Options{CommitsRetained: 2})
	require.NoError(t, err)
	assert.Equal(t, commits[2], res.EarliestCommitToRetain, "ECTR stops before the pending write")
	files := dataFiles(t, st)
	assert.Contains(t, files, inflightFile, "files of an uncompleted instant are never deleted")
	// Slices from commits[1] on stay; commits[0] goes.
	want := commits[1:]
	assert.Equal(t, map[string][]string{"part=a": want, "part=b": want}, renameParts(withoutInstant(baseInstants(t, st), P)))
}

func withoutInstant(m map[string][]string, ts string) map[string][]string {
	for k, v := range m {
		var keep []string
		for _, x := range v {
			if x != ts {
				keep = append(keep, x)
			}
		}
		m[k] = keep
	}
	return m
}

// TestCleanCrash crashes a Clean at every storage operation in turn; the
// next Clean always finishes the job: the same files remain as after an
// uninterrupted clean, no clean is left pending, and the table reads back
// the same rows (also as of every retained instant).
func TestCleanCrash(t *testing.T) {
	ctx := context.Background()
	base := storage.NewMem()
	tbl0, commits := seed(t, base, 6)
	opts := cleaner.Options{CommitsRetained: 2}
	snap := rows(t, tbl0, "")
	retained := map[string][]string{}
	for _, c := range commits[len(commits)-2:] {
		retained[c] = rows(t, tbl0, c)
	}

	ref := base.Clone()
	refTbl, err := table.Open(ctx, ref)
	require.NoError(t, err)
	_, err = cleaner.Clean(ctx, refTbl, opts)
	require.NoError(t, err)
	want := dataFiles(t, ref)

	run := func(p *model.Point) error {
		_, err := cleaner.Clean(ctx, faultyTable(t, p), opts)
		return err
	}
	n := model.Sweep(t, base, model.SweepOptions{Mode: storagefault.ModeCrash, Deferred: true, MustFail: true}, run, func(t *testing.T, p *model.Point) {
		i, mem, op := p.N, p.Mem, p.Op
		tbl, err := table.Open(ctx, mem)
		require.NoError(t, err)
		// Readers are fine even before the clean is finished.
		assert.Equal(t, snap, rows(t, tbl, ""), "crash at %d (%v)", i, op)
		_, err = cleaner.Clean(ctx, tbl, opts)
		require.NoError(t, err, "re-run after crash at %d (%v)", i, op)
		assert.Equal(t, want, dataFiles(t, mem), "crash at %d (%v)", i, op)
		tl, err := timeline.Load(ctx, mem)
		require.NoError(t, err)
		assert.Empty(t, tl.Pending(), "crash at %d (%v)", i, op)
		assert.Equal(t, snap, rows(t, tbl, ""))
		for c, r := range retained {
			assert.Equal(t, r, rows(t, tbl, c), "as of %s after crash at %d", c, i)
		}
	})
	require.Greater(t, n, 5)
}

// faultyTable opens the table of a sweep point and arms its faults: the
// handle's I/O after the open can fail.
func faultyTable(t *testing.T, p *model.Point) *table.Table {
	t.Helper()
	tbl, err := table.Open(context.Background(), p.Store)
	require.NoError(t, err)
	p.Arm()
	return tbl
}
