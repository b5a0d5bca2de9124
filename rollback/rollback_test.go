package rollback_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/internal/testutil/model"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/rollback"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
)

// heartbeatChildEnv makes the test binary a writer process that runs the
// heartbeat of one instant ("<table dir>|<instant>") until it is killed.
const heartbeatChildEnv = "HOODIE_ROLLBACK_TEST_HEARTBEAT"

func TestMain(m *testing.M) {
	if arg := os.Getenv(heartbeatChildEnv); arg != "" {
		os.Exit(runHeartbeatChild(arg))
	}
	os.Exit(m.Run())
}

func runHeartbeatChild(arg string) int {
	dir, ts, _ := strings.Cut(arg, "|")
	st, err := storage.NewLocal(dir)
	if err != nil {
		return 1
	}
	if _, err := timeline.StartHeartbeat(context.Background(), st, ts, time.Hour); err != nil {
		return 1
	}
	os.Stdout.WriteString("ready\n")
	select {}
}

// fixture is a table under a temp dir and the index dir of its writers.
type fixture struct {
	t     *testing.T
	dir   string
	tbl   *table.Table
	st    storage.Storage
	index string
}

func newFixture(t *testing.T, typ table.TableType) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := storage.NewLocal(dir + "/tbl")
	require.NoError(t, err)
	tbl, err := table.Create(context.Background(), st, model.CreateOptions("rb", typ))
	require.NoError(t, err)
	return &fixture{t: t, dir: dir + "/tbl", tbl: tbl, st: st, index: dir + "/index"}
}

// commit upserts recs (insert: inserts them) through a writer on tbl and
// returns the commit's result or error.
func (f *fixture) commit(tbl *table.Table, insert bool, recs ...model.Rec) (*writer.CommitResult, error) {
	ctx := context.Background()
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: f.index})
	if err != nil {
		return nil, err
	}
	defer w.Close()
	b := model.Batch(recs)
	defer b.Release()
	if insert {
		err = w.Insert(b)
	} else {
		err = w.Upsert(b)
	}
	if err != nil {
		return nil, err
	}
	return w.Commit(ctx)
}

// committed commits recs and returns the instant.
func (f *fixture) committed(recs ...model.Rec) string {
	f.t.Helper()
	res, err := f.commit(f.tbl, false, recs...)
	require.NoError(f.t, err)
	return res.Instant
}

// crashed runs a write of recs that crashes at the first publish of a path
// matching pattern (every operation fails from then on, as if the process
// died), and returns the write's pending instant.
func (f *fixture) crashed(pattern string, insert bool, recs ...model.Rec) timeline.Instant {
	f.t.Helper()
	_, err := f.commit(crashingTable(f.t, f.st, pattern), insert, recs...)
	require.ErrorIs(f.t, err, storagefault.ErrCrashed)
	tl, err := timeline.Load(context.Background(), f.st)
	require.NoError(f.t, err)
	require.Len(f.t, tl.Pending(), 1, "the crashed write is pending")
	return tl.Pending()[0]
}

// crashingTable opens the table in st through a store that crashes at the
// first publish of a path matching pattern.
func crashingTable(t *testing.T, st storage.Storage, pattern string) *table.Table {
	t.Helper()
	f := storagefault.NewFaulty(st, storagefault.OnIndex(0, storagefault.ModeCrash,
		storagefault.Match{Kinds: []storagefault.OpKind{storagefault.OpClose}, Path: pattern}))
	tbl, err := table.Open(context.Background(), f)
	require.NoError(t, err)
	return tbl
}

func (f *fixture) read() model.Model {
	f.t.Helper()
	return model.Read(f.t, model.Open(f.t, f.st), reader.Options{})
}

// rollbacks returns the table's rollback instants and their metadata.
func (f *fixture) rollbacks() ([]timeline.Instant, []avroplan.HoodieRollbackMetadata) {
	f.t.Helper()
	ctx := context.Background()
	tl, err := timeline.Load(ctx, f.st)
	require.NoError(f.t, err)
	rbs := tl.Filter(func(i timeline.Instant) bool { return i.Action == timeline.Rollback })
	var mds []avroplan.HoodieRollbackMetadata
	for _, r := range rbs {
		require.Equal(f.t, timeline.Completed, r.State, "%s", r)
		raw, err := timeline.ReadInstant(ctx, f.st, r)
		require.NoError(f.t, err)
		var md avroplan.HoodieRollbackMetadata
		require.NoError(f.t, avroplan.Decode(bytes.NewReader(raw), &md))
		mds = append(mds, md)
	}
	return rbs, mds
}

func (f *fixture) requirePendingNone() {
	f.t.Helper()
	tl, err := timeline.Load(context.Background(), f.st)
	require.NoError(f.t, err)
	require.Empty(f.t, tl.Pending())
}

// files lists the data files of the table (keys relative to its base).
func (f *fixture) files(ext string) []string {
	f.t.Helper()
	var out []string
	for obj, err := range f.st.List(context.Background(), "", "") {
		require.NoError(f.t, err)
		if !strings.HasPrefix(obj.Path, timeline.MetaFolder+"/") && strings.Contains(path.Base(obj.Path), "."+ext) {
			out = append(out, obj.Path)
		}
	}
	return out
}

func rec(part, id string, ts, val int64) model.Rec {
	return model.Rec{Key: model.Key{Part: part, ID: id}, TS: ts, Val: val}
}

// TestPendingRollsBackCrashedWrite: a write that crashed at its commit point
// is rolled back as Hudi does it (a completed rollback instant with its
// plan and metadata), its files, markers and heartbeat go, and readers see
// the table as before.
func TestPendingRollsBackCrashedWrite(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, table.CopyOnWrite)
	t1 := f.committed(rec("p", "a", 1, 1))
	crashed := f.crashed("*.commit", false, rec("p", "a", 9, 9), rec("p", "z", 9, 9))
	require.Len(t, f.files("parquet"), 2)

	res, err := rollback.Pending(ctx, f.tbl, rollback.PendingOptions{})
	require.NoError(t, err)
	require.Equal(t, []timeline.Instant{crashed}, res.RolledBack)
	assert.False(t, res.InsertRolledBack, "an upsert")
	f.requirePendingNone()
	rbs, mds := f.rollbacks()
	require.Len(t, rbs, 1)
	assert.Equal(t, []string{crashed.Timestamp}, mds[0].CommitsRollback)
	assert.Equal(t, int32(1), mds[0].TotalFilesDeleted)
	require.Len(t, mds[0].PartitionMetadata["p"].SuccessDeleteFiles, 1)
	ok, err := storage.Exists(ctx, f.st, timeline.MetaFolder+"/"+rbs[0].Timestamp+".rollback.requested")
	require.NoError(t, err)
	assert.True(t, ok, "the plan stays on the timeline")
	assert.Len(t, f.files("parquet"), 1, "the crashed write's file was deleted")
	for _, p := range []string{timeline.HeartbeatPath(crashed.Timestamp), timeline.MarkerFolder + "/" + crashed.Timestamp + "/"} {
		for obj, err := range f.st.List(ctx, p, "") {
			require.NoError(t, err)
			t.Errorf("left behind: %s", obj.Path)
		}
	}
	assert.Equal(t, model.Model{{Part: "p", ID: "a"}: {TS: 1, Val: 1, CT: t1}}, f.read())

	res, err = rollback.Pending(ctx, f.tbl, rollback.PendingOptions{})
	require.NoError(t, err)
	assert.Empty(t, res.RolledBack, "nothing left to roll back")
}

// TestPendingReportsInsert: a failed insert is reported, so the writer
// rebuilds an index the insert may have written over.
func TestPendingReportsInsert(t *testing.T) {
	f := newFixture(t, table.CopyOnWrite)
	f.committed(rec("p", "a", 1, 1))
	f.crashed("*.commit", true, rec("p", "a", 5, 5))
	res, err := rollback.Pending(context.Background(), f.tbl, rollback.PendingOptions{})
	require.NoError(t, err)
	require.Len(t, res.RolledBack, 1)
	assert.True(t, res.InsertRolledBack)
}

// TestCrashDuringRollback: the process rolling back a failed write dies
// before the rollback completes; the next Pending finishes the pending
// rollback from its plan and the table ends clean.
func TestCrashDuringRollback(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, table.CopyOnWrite)
	t1 := f.committed(rec("p", "a", 1, 1))
	f.crashed("*.commit", false, rec("p", "b", 1, 1))
	_, err := rollback.Pending(ctx, crashingTable(t, f.st, "*.rollback"), rollback.PendingOptions{})
	require.ErrorIs(t, err, storagefault.ErrCrashed)
	tl, err := timeline.Load(ctx, f.st)
	require.NoError(t, err)
	require.Len(t, tl.Filter(func(i timeline.Instant) bool { return i.Action == timeline.Rollback && i.State == timeline.Inflight }), 1)

	_, err = rollback.Pending(ctx, f.tbl, rollback.PendingOptions{})
	require.NoError(t, err)
	f.requirePendingNone()
	rbs, _ := f.rollbacks()
	require.Len(t, rbs, 1, "the interrupted rollback was finished, not repeated")
	assert.Equal(t, model.Model{{Part: "p", ID: "a"}: {TS: 1, Val: 1, CT: t1}}, f.read())
	t3 := f.committed(rec("p", "b", 2, 2))
	assert.Len(t, f.read(), 2)
	assert.Equal(t, t3, f.read()[model.Key{Part: "p", ID: "b"}].CT)
}

// TestMORRollbackWritesCommandBlock: a failed deltacommit's log file is
// deleted and a rollback command block takes the slice's next version.
func TestMORRollbackWritesCommandBlock(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, table.MergeOnRead)
	t1 := f.committed(rec("p", "a", 1, 1))
	crashed := f.crashed("*.deltacommit", false, rec("p", "a", 2, 2))
	logs := f.files("log")
	require.Len(t, logs, 1)

	require.NoError(t, rollback.Instant(ctx, f.tbl, crashed.Timestamp))
	f.requirePendingNone()
	_, mds := f.rollbacks()
	require.Len(t, mds, 1)
	pm := mds[0].PartitionMetadata["p"]
	require.Len(t, *pm.RollbackLogFiles, 1)
	require.Len(t, *pm.LogFilesFromFailedCommit, 1)
	after := f.files("log")
	require.Len(t, after, 1)
	lf, err := filegroup.ParseLogFileName(path.Base(after[0]))
	require.NoError(t, err)
	failed, err := filegroup.ParseLogFileName(path.Base(logs[0]))
	require.NoError(t, err)
	assert.Equal(t, failed.Version+1, lf.Version, "the next version of the slice")
	assert.Equal(t, "1-0-1", lf.WriteToken.String())
	assert.Equal(t, model.Model{{Part: "p", ID: "a"}: {TS: 1, Val: 1, CT: t1}}, f.read())
}

// TestRollbackBlockPerSlice: a failed deltacommit whose log files sit in
// two slices of one file group (a writer's log and a compaction's
// carry-over copy) gets one request and one rollback command block per
// slice, each in its own slice, whether hoodie planned the rollback or a
// plan listing both slices in one request is finished.
func TestRollbackBlockPerSlice(t *testing.T) {
	const b1, b2 = "20240101000000000", "20240102000000000"
	ctx := context.Background()
	for _, finish := range []bool{false, true} {
		t.Run("finish="+strconv.FormatBool(finish), func(t *testing.T) {
			f := newFixture(t, table.MergeOnRead)
			id := filegroup.FileGroupID{PartitionPath: "p", FileID: filegroup.NewFileID()}
			tx, err := timeline.Begin(ctx, f.st, timeline.DeltaCommit, nil, timeline.BeginOptions{})
			require.NoError(t, err)
			require.NoError(t, tx.Inflight(ctx, nil))
			var logs []string
			for _, base := range []string{b1, b2} {
				lf, err := filegroup.AppendLog(ctx, f.st, tx, filegroup.LogAppend{FileGroupID: id, BaseInstant: base,
					WriteToken: filegroup.WriteToken{TaskPartitionID: 0, StageID: 1, TaskAttemptID: 0}}, []byte("blocks"))
				require.NoError(t, err)
				logs = append(logs, lf.Path)
			}
			if finish {
				pendingRollbackOfBoth(t, f, tx.Instant(), id, logs)
			}
			_, err = rollback.Pending(ctx, f.tbl, rollback.PendingOptions{})
			require.NoError(t, err)
			f.requirePendingNone()
			rbs, mds := f.rollbacks()
			require.Len(t, mds, 1)
			var bases []string
			for full := range *mds[0].PartitionMetadata["p"].RollbackLogFiles {
				lf, err := filegroup.ParseLogFileName(path.Base(full))
				require.NoError(t, err)
				require.Equal(t, id.FileID, lf.FileID)
				bases = append(bases, lf.BaseInstant)
			}
			sort.Strings(bases)
			assert.Equal(t, []string{b1, b2}, bases, "a command block in each slice")
			assert.Len(t, f.files("log"), 2, "the failed logs are gone, the two blocks stay")
			if !finish {
				raw, err := timeline.ReadInstant(ctx, f.st, rbs[0].WithState(timeline.Requested))
				require.NoError(t, err)
				var plan avroplan.HoodieRollbackPlan
				require.NoError(t, avroplan.Decode(bytes.NewReader(raw), &plan))
				require.Len(t, plan.RollbackRequests, 2)
				assert.Equal(t, b1, *plan.RollbackRequests[0].LatestBaseInstant)
				assert.Equal(t, b2, *plan.RollbackRequests[1].LatestBaseInstant)
			}
		})
	}
}

// pendingRollbackOfBoth leaves a requested rollback of inst whose plan has
// one request listing the logs of both slices (as an older hoodie planned
// it), then rolls back nothing else: Pending finishes it.
func pendingRollbackOfBoth(t *testing.T, f *fixture, inst timeline.Instant, id filegroup.FileGroupID, logs []string) {
	ctx := context.Background()
	fid, base, blocks := id.FileID, "20240101000000000", map[string]int64{}
	req := avroplan.HoodieRollbackRequest{PartitionPath: id.PartitionPath, FileID: &fid, LatestBaseInstant: &base, LogBlocksToBeDeleted: &blocks}
	for _, p := range logs {
		blocks[storage.FullPath(f.st, p)] = 6
		req.FilesToBeDeleted = append(req.FilesToBeDeleted, storage.FullPath(f.st, p))
	}
	one := int32(1)
	plan := &avroplan.HoodieRollbackPlan{InstantToRollback: &avroplan.HoodieInstantInfo{CommitTime: inst.Timestamp, Action: string(inst.Action)},
		Version: &one, RollbackRequests: []avroplan.HoodieRollbackRequest{req}}
	var pb bytes.Buffer
	require.NoError(t, avroplan.Encode(&pb, plan))
	_, err := timeline.Begin(ctx, f.st, timeline.Rollback, pb.Bytes(), timeline.BeginOptions{})
	require.NoError(t, err)
	// The failed write is withdrawn as the interrupted rollback would have.
	ftx, err := timeline.Resume(f.st, inst)
	require.NoError(t, err)
	require.NoError(t, ftx.Abort(ctx))
}

// TestInstantCompleted rolls back the latest completed write: the table is
// as before it, and only the latest write may be rolled back.
func TestInstantCompleted(t *testing.T) {
	ctx := context.Background()
	for _, typ := range []table.TableType{table.CopyOnWrite, table.MergeOnRead} {
		t.Run(string(typ), func(t *testing.T) {
			f := newFixture(t, typ)
			t1 := f.committed(rec("p", "a", 1, 1))
			t2 := f.committed(rec("p", "a", 2, 2), rec("q", "b", 2, 2))
			before := f.read()

			err := rollback.Instant(ctx, f.tbl, t1)
			require.ErrorIs(t, err, rollback.ErrRefused)
			require.Contains(t, err.Error(), "not the latest write")
			require.ErrorIs(t, rollback.Instant(ctx, f.tbl, "20200101000000000"), rollback.ErrRefused)
			require.Equal(t, before, f.read(), "refusals change nothing")

			require.NoError(t, rollback.Instant(ctx, f.tbl, t2))
			f.requirePendingNone()
			tl, err := timeline.Load(ctx, f.st)
			require.NoError(t, err)
			_, ok := tl.Find(t2)
			require.False(t, ok, "the rolled-back instant left the timeline")
			_, mds := f.rollbacks()
			require.Len(t, mds, 1)
			assert.Equal(t, []string{t2}, mds[0].CommitsRollback)
			assert.Equal(t, model.Model{{Part: "p", ID: "a"}: {TS: 1, Val: 1, CT: t1}}, f.read())

			// The rollback instant is not a write: t1 is the latest write again.
			require.NoError(t, rollback.Instant(ctx, f.tbl, t1))
			assert.Empty(t, f.files("parquet"))
			for _, p := range f.files("log") {
				assert.True(t, strings.HasSuffix(p, "_1-0-1"), "only rollback command blocks stay: %s", p)
			}
			rbs, _ := f.rollbacks()
			err = rollback.Instant(ctx, f.tbl, rbs[0].Timestamp)
			require.ErrorIs(t, err, rollback.ErrRefused)
			require.Contains(t, err.Error(), "not a write")
		})
	}
}

// TestFailedIgnoresHeartbeat: a writer rolls back its own failed write
// while its heartbeat still runs; Pending would take that write for a live
// writer's.
func TestFailedIgnoresHeartbeat(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, table.CopyOnWrite)
	f.committed(rec("p", "a", 1, 1))
	var hb *timeline.Heartbeat
	tx, err := timeline.Begin(ctx, f.st, timeline.Commit, nil, timeline.BeginOptions{BeforeRequested: func(ts string) error {
		var err error
		hb, err = timeline.StartHeartbeat(ctx, f.st, ts, time.Hour)
		return err
	}})
	require.NoError(t, err)
	defer hb.Stop(ctx)
	_, err = rollback.Pending(ctx, f.tbl, rollback.PendingOptions{})
	require.ErrorIs(t, err, rollback.ErrLiveWriter)
	require.NoError(t, rollback.Failed(ctx, f.tbl, tx.Instant()))
	f.requirePendingNone()
}

// TestHeartbeatOfGoneProcess: a pending write whose heartbeat is fresh but
// names a process of this machine that ended is rolled back at once; one
// whose process runs is refused in single-writer mode (by Pending and by
// Instant), and left alone in optimistic mode.
func TestHeartbeatOfGoneProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("process lookup by pid needs Linux's /proc")
	}
	ctx := context.Background()
	f := newFixture(t, table.CopyOnWrite)
	f.committed(rec("p", "a", 1, 1))
	exe, err := os.Executable()
	require.NoError(t, err)
	var cmd *exec.Cmd
	tx, err := timeline.Begin(ctx, f.st, timeline.Commit, nil, timeline.BeginOptions{BeforeRequested: func(ts string) error {
		cmd = exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), heartbeatChildEnv+"="+f.dir+"|"+ts)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if line != "ready\n" {
			return errors.Join(errors.New("heartbeat child did not start: "+line), err)
		}
		return nil
	}})
	if cmd != nil && cmd.Process != nil {
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
	require.NoError(t, err)
	inst := tx.Instant()

	_, err = rollback.Pending(ctx, f.tbl, rollback.PendingOptions{})
	require.ErrorIs(t, err, rollback.ErrLiveWriter)
	require.Contains(t, err.Error(), "instant "+inst.Timestamp+", pid "+strconv.Itoa(cmd.Process.Pid))
	err = rollback.Instant(ctx, f.tbl, inst.Timestamp)
	require.ErrorIs(t, err, rollback.ErrRefused)
	require.ErrorIs(t, err, rollback.ErrLiveWriter)
	res, err := rollback.Pending(ctx, f.tbl, rollback.PendingOptions{Optimistic: true})
	require.NoError(t, err)
	require.Empty(t, res.RolledBack, "a live writer's instant stays")

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	res, err = rollback.Pending(ctx, f.tbl, rollback.PendingOptions{})
	require.NoError(t, err, "the writer's process is gone: its instant is rolled back without waiting")
	require.Len(t, res.RolledBack, 1)
	f.requirePendingNone()
	_, err = f.st.Stat(ctx, timeline.HeartbeatPath(inst.Timestamp))
	require.ErrorIs(t, err, storage.ErrNotExist, "its heartbeat went with it")
}

// TestPendingWithoutHeartbeat: a pending write without a heartbeat is a
// failed one in single-writer mode; in optimistic mode only once its
// instant file is older than the heartbeat timeout.
func TestPendingWithoutHeartbeat(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, table.CopyOnWrite)
	f.committed(rec("p", "a", 1, 1))
	_, err := timeline.Begin(ctx, f.st, timeline.Commit, nil, timeline.BeginOptions{})
	require.NoError(t, err)
	res, err := rollback.Pending(ctx, f.tbl, rollback.PendingOptions{Optimistic: true, HeartbeatTimeout: time.Hour})
	require.NoError(t, err)
	require.Empty(t, res.RolledBack)
	time.Sleep(20 * time.Millisecond)
	res, err = rollback.Pending(ctx, f.tbl, rollback.PendingOptions{Optimistic: true, HeartbeatTimeout: 10 * time.Millisecond})
	require.NoError(t, err)
	require.Len(t, res.RolledBack, 1)

	_, err = timeline.Begin(ctx, f.st, timeline.DeltaCommit, nil, timeline.BeginOptions{})
	require.NoError(t, err)
	res, err = rollback.Pending(ctx, f.tbl, rollback.PendingOptions{HeartbeatTimeout: time.Hour})
	require.NoError(t, err)
	require.Len(t, res.RolledBack, 1)
	f.requirePendingNone()
}

func TestPendingOptions(t *testing.T) {
	var o rollback.PendingOptions
	o.EnsureDefaults()
	require.Equal(t, timeline.DefaultHeartbeatTimeout, o.HeartbeatTimeout)
	require.NoError(t, o.Validate())
	o.HeartbeatTimeout = -time.Second
	require.Error(t, o.Validate())
	f := newFixture(t, table.CopyOnWrite)
	_, err := rollback.Pending(context.Background(), f.tbl, o)
	require.Error(t, err)
}
