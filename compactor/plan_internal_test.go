package compactor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// timelineOf loads a timeline holding the given instant files (names under
// .hoodie/, e.g. "20240101000000000.deltacommit"), so a completed
// compaction (T.compaction.requested + T.commit) is recognised as Load
// recognises it.
func timelineOf(t *testing.T, files ...string) *timeline.Timeline {
	t.Helper()
	ctx := context.Background()
	st := storage.NewMem()
	for _, f := range files {
		require.NoError(t, storage.WriteFile(ctx, st, timeline.MetaFolder+"/"+f, nil, storage.CreateOptions{}))
	}
	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	return tl
}

// at is the instant time of base + d.
func at(d time.Duration) string { return timeline.FormatInstantTime(base0.Add(d)) }

var base0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func deltas(from time.Duration, n int) []string {
	var out []string
	for i := range n {
		out = append(out, at(from+time.Duration(i)*time.Minute)+".deltacommit")
	}
	return out
}

// completedCompaction is the timeline files of a compaction completed at d.
func completedCompaction(d time.Duration) []string {
	return []string{at(d) + ".compaction.requested", at(d) + ".compaction.inflight", at(d) + ".commit"}
}

func logOf(part, fid, baseInstant string, version int, size int64) filegroup.LogFileInfo {
	lf := filegroup.LogFile{FileID: fid, BaseInstant: baseInstant, Version: version,
		WriteToken: filegroup.WriteToken{TaskPartitionID: 1, StageID: 0, TaskAttemptID: 1}, Ext: filegroup.ExtLog}
	name := lf.String()
	return filegroup.LogFileInfo{DataFile: filegroup.DataFile{Path: filegroup.DataPath(part, name), Name: name, Size: size}, LogFile: lf}
}

func sliceWith(part, fid, baseInstant string, withBase bool, logs ...filegroup.LogFileInfo) *filegroup.FileSlice {
	s := &filegroup.FileSlice{FileGroupID: filegroup.FileGroupID{PartitionPath: part, FileID: fid}, BaseInstant: baseInstant, Logs: logs}
	if withBase {
		bf := filegroup.BaseFile{FileID: fid, WriteToken: filegroup.WriteToken{TaskPartitionID: 0, StageID: 0, TaskAttemptID: 0},
			InstantTime: baseInstant, Ext: filegroup.ExtParquet}
		name := bf.String()
		s.Base = &filegroup.BaseFileInfo{DataFile: filegroup.DataFile{Path: filegroup.DataPath(part, name), Name: name, Size: 4 << 20}, BaseFile: bf}
	}
	return s
}

// allCompleted marks every log of slices written by a completed instant.
func allCompleted(slices ...*filegroup.FileSlice) map[string]bool {
	m := map[string]bool{}
	for _, s := range slices {
		for _, l := range s.Logs {
			m[l.Path] = true
		}
	}
	return m
}

// wantOp is an expected plan operation.
type wantOp struct {
	fid      string
	base     string // base instant
	withBase bool
	logs     []string
}

func TestPlan(t *testing.T) {
	b1 := at(0)
	f1 := sliceWith("a", "f1", b1, true, logOf("a", "f1", b1, 1, 100), logOf("a", "f1", b1, 2, 200))
	f2 := sliceWith("b", "f2", b1, true, logOf("b", "f2", b1, 1, 1000))
	noLogs := sliceWith("b", "f3", b1, true)
	logOnly := sliceWith("a", "f4", b1, false, logOf("a", "f4", b1, 1, 50))
	// f5's latest slice has a planned compaction at c's time; the view folds
	// logs sent to that slice into the previous one.
	c := at(10 * time.Minute)
	folded := sliceWith("a", "f5", b1, true, logOf("a", "f5", b1, 1, 10), logOf("a", "f5", c, 1, 20))
	f1log1, f1log2 := f1.Logs[0].Name, f1.Logs[1].Name

	five := deltas(time.Minute, 5)
	four := deltas(time.Minute, 4)
	cases := []struct {
		name      string
		files     []string // timeline
		slices    []*filegroup.FileSlice
		pending   map[filegroup.FileGroupID]string
		completed map[string]bool // nil: every log completed
		now       time.Duration   // after base0
		opts      Options
		want      []wantOp // nil: nothing scheduled
		reason    string
		logBytes  int64
	}{
		{name: "num commits below threshold", files: four, slices: []*filegroup.FileSlice{f1}},
		{name: "num commits fires", files: five, slices: []*filegroup.FileSlice{f1, noLogs, f2},
			want:   []wantOp{{"f1", b1, true, []string{f1log1, f1log2}}, {"f2", b1, true, []string{f2.Logs[0].Name}}},
			reason: "5 delta commits since the last compaction (threshold 5)", logBytes: 1300},
		{name: "num commits counts since the last compaction",
			files:  append(append(deltas(time.Minute, 4), completedCompaction(10*time.Minute)...), deltas(20*time.Minute, 2)...),
			slices: []*filegroup.FileSlice{f1}, opts: Options{DeltaCommits: 3}},
		{name: "num commits since the last compaction fire",
			files:  append(append(deltas(time.Minute, 4), completedCompaction(10*time.Minute)...), deltas(20*time.Minute, 2)...),
			slices: []*filegroup.FileSlice{f1}, opts: Options{DeltaCommits: 2},
			want: []wantOp{{"f1", b1, true, []string{f1log1, f1log2}}}, reason: "2 delta commits", logBytes: 300},
		{name: "time elapsed since the last compaction",
			files: append(completedCompaction(10*time.Minute), deltas(20*time.Minute, 1)...), slices: []*filegroup.FileSlice{f1},
			now: 10*time.Minute + 2*time.Hour, opts: Options{Strategy: TimeElapsed},
			want: []wantOp{{"f1", b1, true, []string{f1log1, f1log2}}}, reason: "2h0m0s since the last compaction (threshold 1h0m0s)", logBytes: 300},
		{name: "time not elapsed since the last compaction",
			files: append(completedCompaction(10*time.Minute), deltas(20*time.Minute, 9)...), slices: []*filegroup.FileSlice{f1},
			now: 50 * time.Minute, opts: Options{Strategy: TimeElapsed}},
		{name: "time elapsed counts from the first deltacommit without a compaction",
			files: deltas(time.Minute, 1), slices: []*filegroup.FileSlice{f1}, now: time.Minute + 30*time.Minute,
			opts: Options{Strategy: TimeElapsed, Elapsed: 30 * time.Minute},
			want: []wantOp{{"f1", b1, true, []string{f1log1, f1log2}}}, reason: "30m0s since", logBytes: 300},
		{name: "time elapsed on an empty timeline never fires", slices: []*filegroup.FileSlice{f1}, now: 1000 * time.Hour,
			opts: Options{Strategy: TimeElapsed}},
		{name: "num or time: time", files: deltas(time.Minute, 1), slices: []*filegroup.FileSlice{f1}, now: 3 * time.Hour,
			opts: Options{Strategy: NumOrTime},
			want: []wantOp{{"f1", b1, true, []string{f1log1, f1log2}}}, reason: "1 delta commits, 2h59m0s elapsed", logBytes: 300},
		{name: "num and time: only num", files: five, slices: []*filegroup.FileSlice{f1}, now: 10 * time.Minute,
			opts: Options{Strategy: NumAndTime}},
		{name: "num and time: both", files: five, slices: []*filegroup.FileSlice{f1}, now: 2 * time.Hour,
			opts: Options{Strategy: NumAndTime},
			want: []wantOp{{"f1", b1, true, []string{f1log1, f1log2}}}, reason: "5 delta commits, 1h59m0s elapsed", logBytes: 300},
		{name: "log bytes below threshold", slices: []*filegroup.FileSlice{f1, f2}, opts: Options{Strategy: LogSize, LogBytes: 1301}},
		{name: "log bytes count folded and uncompleted logs", slices: []*filegroup.FileSlice{f1, folded},
			completed: map[string]bool{f1.Logs[0].Path: true}, opts: Options{Strategy: LogSize, LogBytes: 330},
			want:   []wantOp{{"f1", b1, true, []string{f1log1}}},
			reason: "330 log bytes (threshold 330)", logBytes: 100},
		{name: "log bytes of pending groups do not count", slices: []*filegroup.FileSlice{f1, f2},
			pending: map[filegroup.FileGroupID]string{f2.FileGroupID: c}, opts: Options{Strategy: LogSize, LogBytes: 301}},
		{name: "force", slices: []*filegroup.FileSlice{f1}, opts: Options{Force: true},
			want: []wantOp{{"f1", b1, true, []string{f1log1, f1log2}}}, reason: "forced", logBytes: 300},
		{name: "force without completed logs", slices: []*filegroup.FileSlice{f1}, completed: map[string]bool{}, opts: Options{Force: true}},
		{name: "force without logs", slices: []*filegroup.FileSlice{noLogs}, opts: Options{Force: true}},
		{name: "pending compaction groups are excluded", files: five, slices: []*filegroup.FileSlice{f1, f2},
			pending: map[filegroup.FileGroupID]string{f1.FileGroupID: c},
			want:    []wantOp{{"f2", b1, true, []string{f2.Logs[0].Name}}}, reason: "5 delta commits", logBytes: 1000},
		{name: "only pending compaction groups", slices: []*filegroup.FileSlice{f1}, opts: Options{Force: true},
			pending: map[filegroup.FileGroupID]string{f1.FileGroupID: c}},
		{name: "log-only slice", slices: []*filegroup.FileSlice{logOnly}, opts: Options{Force: true},
			want: []wantOp{{"f4", b1, false, []string{logOnly.Logs[0].Name}}}, reason: "forced", logBytes: 50},
		{name: "folded logs stay out", slices: []*filegroup.FileSlice{folded}, opts: Options{Force: true},
			want: []wantOp{{"f5", b1, true, []string{folded.Logs[0].Name}}}, reason: "forced", logBytes: 10},
		{name: "logs of pending writers stay out", slices: []*filegroup.FileSlice{f1}, opts: Options{Force: true},
			completed: map[string]bool{f1.Logs[1].Path: true},
			want:      []wantOp{{"f1", b1, true, []string{f1log2}}}, reason: "forced", logBytes: 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := planInput{timeline: timelineOf(t, tc.files...), slices: tc.slices, pending: tc.pending,
				completed: tc.completed, now: base0.Add(tc.now)}
			if in.completed == nil {
				in.completed = allCompleted(tc.slices...)
			}
			opts := tc.opts
			opts.EnsureDefaults()
			require.NoError(t, opts.Validate())
			p, sc := plan(in, opts)
			if tc.want == nil {
				require.Nil(t, p)
				require.Nil(t, sc)
				return
			}
			require.NotNil(t, p)
			require.Equal(t, int32(2), *p.Version)
			require.True(t, *p.PreserveHoodieMetadata)
			require.Len(t, p.Operations, len(tc.want))
			nlogs := 0
			for i, w := range tc.want {
				op := p.Operations[i]
				require.Equal(t, w.fid, *op.FileID, "op %d", i)
				require.Equal(t, w.base, *op.BaseInstantTime, "op %d", i)
				require.Equal(t, w.logs, op.DeltaFilePaths, "op %d", i)
				require.Equal(t, w.withBase, op.DataFilePath != nil, "op %d", i)
				require.Equal(t, float64(len(w.logs)), (*op.Metrics)["TOTAL_LOG_FILES"], "op %d", i)
				nlogs += len(w.logs)
			}
			require.Equal(t, &Scheduled{FileGroups: len(tc.want), LogFiles: nlogs, LogBytes: tc.logBytes, Reason: sc.Reason}, sc)
			require.Contains(t, sc.Reason, tc.reason)
		})
	}
}

func TestCandidateLogs(t *testing.T) {
	b1, c := at(0), at(10*time.Minute)
	s := sliceWith("a", "f1", b1, true, logOf("a", "f1", b1, 1, 1), logOf("a", "f1", c, 1, 1), logOf("a", "f1", b1, 2, 1))
	got := candidateLogs(s, nil)
	require.Equal(t, []filegroup.LogFileInfo{s.Logs[0], s.Logs[2]}, got, "folded logs are no candidates")
	require.Empty(t, candidateLogs(s, map[filegroup.FileGroupID]string{s.FileGroupID: c}), "pending groups have none")
}

func TestOperationMetrics(t *testing.T) {
	b1 := at(0)
	s := sliceWith("a", "f1", b1, true, logOf("a", "f1", b1, 1, 1<<20), logOf("a", "f1", b1, 2, 1<<20))
	op, size := operation(s, s.Logs)
	require.Equal(t, int64(2<<20), size)
	require.Equal(t, s.Base.Name, *op.DataFilePath)
	require.Equal(t, "a", *op.PartitionPath)
	require.Equal(t, map[string]float64{
		"TOTAL_LOG_FILES": 2, "TOTAL_LOG_FILES_SIZE": 2 << 20,
		"TOTAL_IO_READ_MB": 6, "TOTAL_IO_WRITE_MB": 4, "TOTAL_IO_MB": 10,
	}, *op.Metrics)
}

func TestOptions(t *testing.T) {
	var o Options
	o.EnsureDefaults()
	require.NoError(t, o.Validate())
	require.Equal(t, ScheduleAndRun, o.Mode)
	require.Equal(t, NumCommits, o.Strategy)
	require.Equal(t, DefaultDeltaCommits, o.DeltaCommits)
	require.Equal(t, DefaultElapsed, o.Elapsed)
	require.Equal(t, int64(DefaultLogBytes), o.LogBytes)
	require.Positive(t, o.Parallelism)
	for _, bad := range []Options{{Mode: Mode(7)}, {Strategy: "SOMETIMES"}, {Compression: "lz5"}} {
		require.ErrorIs(t, bad.Validate(), ErrInvalidOptions)
		_, err := bad.prepare()
		require.ErrorIs(t, err, ErrInvalidOptions)
	}
}
