package cleaner

import (
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/timeline"
)

// The pure planners, table-driven: a timeline and file groups in a short
// notation in, the planned files (or archived instants) out.

// ts is instant time number n.
func ts(n int) string { return fmt.Sprintf("2024010100000%04d", n) }

func done(a timeline.Action, n int) timeline.Instant {
	return timeline.Instant{Timestamp: ts(n), Action: a, State: timeline.Completed}
}

func pending(a timeline.Action, n int) timeline.Instant {
	return timeline.Instant{Timestamp: ts(n), Action: a, State: timeline.Inflight}
}

// commits are completed commits at the given instant numbers.
func commits(ns ...int) []timeline.Instant {
	var out []timeline.Instant
	for _, n := range ns {
		out = append(out, done(timeline.Commit, n))
	}
	return out
}

var token = filegroup.WriteToken{TaskPartitionID: 1, StageID: 0, TaskAttemptID: 1}

func baseFile(part, id string, n int) filegroup.DataFile {
	name := filegroup.BaseFile{FileID: id, WriteToken: token, InstantTime: ts(n), Ext: filegroup.ExtParquet}.String()
	return filegroup.DataFile{Path: filegroup.DataPath(part, name), Name: name, Size: 100}
}

func logFile(part, id string, n, version int) filegroup.DataFile {
	name := filegroup.LogFile{FileID: id, BaseInstant: ts(n), Version: version, WriteToken: token, Ext: filegroup.ExtLog}.String()
	return filegroup.DataFile{Path: filegroup.DataPath(part, name), Name: name, Size: 10}
}

// group builds a file group of "part/id" from slice specs "N" (base file at
// instant N), "N+L" (base file and L log files), "-N+L" (L log files, no
// base file), oldest first.
func group(fg string, specs ...string) *filegroup.FileGroup {
	part, id := path.Split(fg)
	part = strings.TrimSuffix(part, "/")
	g := &filegroup.FileGroup{FileGroupID: filegroup.FileGroupID{PartitionPath: part, FileID: id}}
	for _, spec := range specs {
		var n, logs int
		noBase := strings.HasPrefix(spec, "-")
		n, logs = sliceSpec(strings.TrimPrefix(spec, "-"))
		s := &filegroup.FileSlice{FileGroupID: g.FileGroupID, BaseInstant: ts(n)}
		if !noBase {
			df := baseFile(part, id, n)
			bf, _ := filegroup.ParseBaseFileName(df.Name)
			s.Base = &filegroup.BaseFileInfo{DataFile: df, BaseFile: bf}
		}
		for v := 1; v <= logs; v++ {
			df := logFile(part, id, n, v)
			lf, _ := filegroup.ParseLogFileName(df.Name)
			s.Logs = append(s.Logs, filegroup.LogFileInfo{DataFile: df, LogFile: lf})
		}
		g.Slices = append(g.Slices, s)
	}
	return g
}

// sliceSpec parses "N" or "N+L".
func sliceSpec(spec string) (n, logs int) {
	base, l, _ := strings.Cut(spec, "+")
	fmt.Sscan(base, &n)
	if l != "" {
		fmt.Sscan(l, &logs)
	}
	return n, logs
}

// short names a planned key "part/id@N" (base file) or "part/id@N.log.V".
func short(t *testing.T, key string) string {
	dir, name := path.Split(key)
	if bf, err := filegroup.ParseBaseFileName(name); err == nil {
		return fmt.Sprintf("%s%s@%s", dir, bf.FileID, strings.TrimLeft(bf.InstantTime[13:], "0"))
	}
	lf, err := filegroup.ParseLogFileName(name)
	require.NoError(t, err, key)
	return fmt.Sprintf("%s%s@%s.log.%d", dir, lf.FileID, strings.TrimLeft(lf.BaseInstant[13:], "0"), lf.Version)
}

func compactionPlan(n int, ops ...avroplan.HoodieCompactionOperation) pendingCompaction {
	return pendingCompaction{instant: ts(n), plan: &avroplan.HoodieCompactionPlan{Operations: ops}}
}

// compactionOp compacts slice base of group "part/id" with its files.
func compactionOp(fg string, base int, logs int) avroplan.HoodieCompactionOperation {
	part, id := path.Split(fg)
	part = strings.TrimSuffix(part, "/")
	b, data := ts(base), path.Base(baseFile(part, id, base).Path)
	op := avroplan.HoodieCompactionOperation{FileID: &id, PartitionPath: &part, BaseInstantTime: &b, DataFilePath: &data}
	for v := 1; v <= logs; v++ {
		op.DeltaFilePaths = append(op.DeltaFilePaths, path.Base(logFile(part, id, base, v).Path))
	}
	return op
}

func savepoint(files ...filegroup.DataFile) *avroplan.HoodieSavepointMetadata {
	md := &avroplan.HoodieSavepointMetadata{PartitionMetadata: map[string]avroplan.HoodieSavepointPartitionMetadata{}}
	for _, f := range files {
		dir, name := path.Split(f.Path)
		part := strings.TrimSuffix(dir, "/")
		pm := md.PartitionMetadata[part]
		pm.PartitionPath = part
		pm.SavepointDataFile = append(pm.SavepointDataFile, "/base/"+dir+name)
		md.PartitionMetadata[part] = pm
	}
	return md
}

func TestPlanClean(t *testing.T) {
	klc := func(n int) Options { return Options{Policy: KeepLatestCommits, CommitsRetained: n} }
	klfv := func(n int) Options { return Options{Policy: KeepLatestFileVersions, FileVersionsRetained: n} }
	for _, tc := range []struct {
		name     string
		instants []timeline.Instant
		groups   []*filegroup.FileGroup
		hidden   []filegroup.DataFile
		comp     []pendingCompaction
		sp       []*avroplan.HoodieSavepointMetadata
		replaced map[string]int // "part/id" -> replacecommit
		opts     Options
		ectr     int      // 0: none
		want     []string // planned files in order; nil: no plan
	}{{
		name:     "no commits",
		instants: nil,
		opts:     klfv(1),
	}, {
		name:     "commits retained not exceeded",
		instants: commits(1, 2, 3),
		groups:   []*filegroup.FileGroup{group("a/f1", "1", "2", "3")},
		opts:     klc(3),
	}, {
		name:     "keep slices from ECTR and the newest before it",
		instants: commits(1, 2, 3, 4, 5),
		groups:   []*filegroup.FileGroup{group("a/f1", "1", "2", "3", "4", "5"), group("b/f2", "1", "5")},
		opts:     klc(2),
		ectr:     4,
		want:     []string{"a/f1@1", "a/f1@2"},
	}, {
		name:     "the newest slice before ECTR stays",
		instants: commits(1, 2, 3, 4),
		groups:   []*filegroup.FileGroup{group("a/f1", "1", "2", "3", "4")},
		opts:     klc(3),
	}, {
		name:     "latest slice stays even before ECTR",
		instants: commits(1, 2, 3, 4, 5),
		groups:   []*filegroup.FileGroup{group("a/f1", "1", "2", "3")},
		opts:     klc(1),
		ectr:     5,
		want:     []string{"a/f1@1", "a/f1@2"},
	}, {
		name:     "log files go before their base file",
		instants: commits(1, 2, 3, 4),
		groups:   []*filegroup.FileGroup{group("a/f1", "1+2", "2+1", "3", "4+1")},
		opts:     klc(1),
		ectr:     4,
		want:     []string{"a/f1@1.log.1", "a/f1@1.log.2", "a/f1@1", "a/f1@2.log.1", "a/f1@2"},
	}, {
		name:     "log-only slice",
		instants: commits(1, 2, 3),
		groups:   []*filegroup.FileGroup{group("a/f1", "-1+2", "2", "3")},
		opts:     klc(1),
		ectr:     3,
		want:     []string{"a/f1@1.log.1", "a/f1@1.log.2"},
	}, {
		name:     "ECTR stops before the earliest pending write",
		instants: append(commits(1, 2, 3, 5, 6), pending(timeline.Commit, 4)),
		groups:   []*filegroup.FileGroup{group("a/f1", "1", "2", "3", "5", "6")},
		opts:     klc(1),
		ectr:     3,
		want:     []string{"a/f1@1"},
	}, {
		name:     "a pending compaction bounds ECTR too",
		instants: append(commits(1, 2, 3, 5, 6), pending(timeline.Compaction, 4)),
		groups:   []*filegroup.FileGroup{group("a/f1", "1", "2", "3", "5", "6")},
		comp:     []pendingCompaction{compactionPlan(4, compactionOp("a/f9", 1, 0))},
		opts:     klc(1),
		ectr:     3,
		want:     []string{"a/f1@1"},
	}, {
		name:     "pending clean and rollback do not bound ECTR",
		instants: append(commits(1, 3, 5, 6, 7), pending(timeline.Clean, 4), pending(timeline.Rollback, 2)),
		groups:   []*filegroup.FileGroup{group("a/f1", "1", "3", "5", "6", "7")},
		opts:     klc(1),
		ectr:     7,
		want:     []string{"a/f1@1", "a/f1@3", "a/f1@5"},
	}, {
		name:     "pending write before every commit: no plan",
		instants: append(commits(2, 3, 4), pending(timeline.DeltaCommit, 1)),
		groups:   []*filegroup.FileGroup{group("a/f1", "2", "3", "4")},
		opts:     klc(1),
	}, {
		name:     "slices a pending compaction needs stay",
		instants: append(commits(1, 2, 3, 4, 5), pending(timeline.Compaction, 6)),
		groups:   []*filegroup.FileGroup{group("a/f1", "1", "2+2", "3"), group("a/f2", "1", "2", "3")},
		comp:     []pendingCompaction{compactionPlan(6, compactionOp("a/f1", 2, 2))},
		opts:     klc(1),
		ectr:     5,
		want:     []string{"a/f1@1", "a/f2@1", "a/f2@2"},
	}, {
		name:     "savepointed files stay with their slice",
		instants: commits(1, 2, 3, 4, 5),
		groups:   []*filegroup.FileGroup{group("a/f1", "1", "2+1", "3", "4", "5")},
		sp:       []*avroplan.HoodieSavepointMetadata{savepoint(logFile("a", "f1", 2, 1), baseFile("a", "f1", 3))},
		opts:     klc(1),
		ectr:     5,
		want:     []string{"a/f1@1"},
	}, {
		name:     "file versions: the newest N slices stay",
		instants: commits(1, 2, 3, 4),
		groups:   []*filegroup.FileGroup{group("a/f1", "1", "2+1", "3", "4"), group("b/f2", "3", "4")},
		opts:     klfv(2),
		want:     []string{"a/f1@2.log.1", "a/f1@2", "a/f1@1"},
	}, {
		name:     "file versions: a pending compaction's slice counts as kept",
		instants: append(commits(1, 2, 3, 4), pending(timeline.Compaction, 5)),
		groups:   []*filegroup.FileGroup{group("a/f1", "1", "2", "3", "4+1"), group("a/f2", "1", "2", "3", "4")},
		comp:     []pendingCompaction{compactionPlan(5, compactionOp("a/f1", 4, 1))},
		opts:     klfv(3),
		want:     []string{"a/f1@1", "a/f2@1"},
	}, {
		name:     "file versions: savepointed slices are skipped, not counted",
		instants: commits(1, 2, 3, 4),
		groups:   []*filegroup.FileGroup{group("a/f1", "1", "2", "3", "4")},
		sp:       []*avroplan.HoodieSavepointMetadata{savepoint(baseFile("a", "f1", 3))},
		opts:     klfv(2),
		want:     []string{"a/f1@1"},
	}, {
		name:     "replaced file groups before ECTR go whole, logs first",
		instants: append(commits(1, 2, 4, 6, 7), done(timeline.ReplaceCommit, 3), done(timeline.ReplaceCommit, 5)),
		groups:   []*filegroup.FileGroup{group("a/f1", "3", "6")},
		hidden: []filegroup.DataFile{
			baseFile("a", "old", 1), logFile("a", "old", 1, 1), baseFile("a", "old", 2),
			baseFile("a", "late", 1), // replaced at ECTR: stays
			baseFile("a", "old", 8),  // an uncompleted instant's file: stays
			baseFile("a", "f1", 8),   // not replaced: stays
		},
		replaced: map[string]int{"a/old": 3, "a/late": 5},
		opts:     klc(3),
		ectr:     5,
		want:     []string{"a/old@1.log.1", "a/old@1", "a/old@2"},
	}, {
		name:     "file versions: every replaced file group goes",
		instants: append(commits(1, 2), done(timeline.ReplaceCommit, 3)),
		groups:   []*filegroup.FileGroup{group("a/f1", "3")},
		hidden:   []filegroup.DataFile{baseFile("a", "old", 1), baseFile("a", "old", 2)},
		replaced: map[string]int{"a/old": 3},
		opts:     klfv(5),
		want:     []string{"a/old@1", "a/old@2"},
	}, {
		name:     "replaced slices a pending compaction needs stay",
		instants: append(append(commits(1, 2, 4), done(timeline.ReplaceCommit, 3)), pending(timeline.Compaction, 5)),
		groups:   []*filegroup.FileGroup{group("a/f1", "3", "4")},
		hidden:   []filegroup.DataFile{baseFile("a", "old", 1), baseFile("a", "old", 2), logFile("a", "old", 2, 1)},
		replaced: map[string]int{"a/old": 3},
		comp:     []pendingCompaction{compactionPlan(5, compactionOp("a/old", 2, 1))},
		opts:     klc(1),
		ectr:     4,
		want:     []string{"a/old@1"},
	}, {
		name:     "non-partitioned table",
		instants: commits(1, 2, 3),
		groups:   []*filegroup.FileGroup{group("f1", "1+1", "2", "3")},
		opts:     klfv(1),
		want:     []string{"f1@2", "f1@1.log.1", "f1@1"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			in := &cleanInputs{
				tl: timeline.FromInstants(tc.instants), groups: tc.groups, hidden: tc.hidden,
				compactions: tc.comp, savepoints: tc.sp, replaced: map[filegroup.FileGroupID]string{},
				fullPath: func(key string) string { return "/base/" + key },
			}
			for fg, n := range tc.replaced {
				part, id := path.Split(fg)
				in.replaced[filegroup.FileGroupID{PartitionPath: strings.TrimSuffix(part, "/"), FileID: id}] = ts(n)
			}
			opts := tc.opts
			opts.EnsureDefaults()
			require.NoError(t, opts.Validate())
			p := planClean(in, opts)
			if len(tc.want) == 0 {
				assert.True(t, p.empty(), "no plan")
				assert.Nil(t, p)
				return
			}
			require.NotNil(t, p)
			var got []string
			for _, k := range p.keys {
				got = append(got, short(t, k))
			}
			assert.Equal(t, tc.want, got)
			checkPlan(t, p, in, opts, tc.ectr)
		})
	}
}

// checkPlan checks the HoodieCleanerPlan of p against its keys.
func checkPlan(t *testing.T, p *planned, in *cleanInputs, opts Options, ectr int) {
	t.Helper()
	plan := p.plan
	assert.Equal(t, opts.Policy.String(), plan.Policy)
	assert.Equal(t, avroplan.CleanerPlanVersion, *plan.Version)
	last, _ := in.tl.LastCompletedCommit()
	assert.Equal(t, last.Timestamp, plan.LastCompletedCommitTimestamp)
	if ectr == 0 {
		assert.Nil(t, plan.EarliestInstantToRetain)
		assert.Empty(t, p.ectr)
	} else {
		require.NotNil(t, plan.EarliestInstantToRetain)
		assert.Equal(t, ts(ectr), plan.EarliestInstantToRetain.Timestamp)
		assert.Equal(t, ts(ectr), p.ectr)
	}
	var keys []string
	for part, files := range *plan.FilePathsToBeDeletedPerPartition {
		for _, f := range files {
			k := strings.TrimPrefix(*f.FilePath, "/base/")
			dir, _ := path.Split(k)
			assert.Equal(t, part, strings.TrimSuffix(dir, "/"), k)
			assert.False(t, *f.IsBootstrapBaseFile)
			keys = append(keys, k)
		}
	}
	assert.ElementsMatch(t, p.keys, keys)
	for _, k := range p.keys {
		assert.Positive(t, p.sizes[k], k)
	}
}

func TestEarliestCommitToRetain(t *testing.T) {
	for _, tc := range []struct {
		name     string
		instants []timeline.Instant
		retained int
		want     int // 0: none
		ok       bool
	}{
		{"empty", nil, 1, 0, false},
		{"fewer commits", commits(1, 2), 2, 0, false},
		{"one more", commits(1, 2, 3), 2, 2, true},
		{"retain one", commits(1, 2, 3), 1, 3, true},
		{"pending after ECTR", append(commits(1, 2, 3), pending(timeline.Commit, 4)), 2, 2, true},
		{"pending before ECTR", append(commits(1, 3, 4), pending(timeline.DeltaCommit, 2)), 1, 1, true},
		{"pending replacecommit", append(commits(1, 3, 4), pending(timeline.ReplaceCommit, 2)), 1, 1, true},
		{"earliest pending write only", append(commits(1, 3, 5, 6), pending(timeline.Commit, 4), pending(timeline.Commit, 2)), 1, 1, true},
		{"deltacommits and replacecommits count", []timeline.Instant{done(timeline.DeltaCommit, 1), done(timeline.ReplaceCommit, 2), done(timeline.Clean, 3)}, 1, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := earliestCommitToRetain(timeline.FromInstants(tc.instants), Options{Policy: KeepLatestCommits, CommitsRetained: tc.retained})
			require.Equal(t, tc.ok, ok)
			if tc.want == 0 {
				assert.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			assert.Equal(t, ts(tc.want), got.Timestamp)
		})
	}
	_, ok := earliestCommitToRetain(timeline.FromInstants(commits(1)), Options{Policy: KeepLatestFileVersions, FileVersionsRetained: 1})
	assert.True(t, ok, "KeepLatestFileVersions plans from the first commit")
}

func TestArchiveVictims(t *testing.T) {
	for _, tc := range []struct {
		name     string
		instants []timeline.Instant
		bases    []int // base instants of pending compaction plans
		cleanECT int   // ECTR of the latest clean
		min, max int
		want     []int
	}{
		{"not more than max", commits(1, 2, 3, 4), nil, 0, 2, 4, nil},
		{"down to min", commits(1, 2, 3, 4, 5), nil, 0, 2, 4, []int{1, 2, 3}},
		{"cleans and rollbacks go too", append(commits(1, 3, 5, 6, 7), done(timeline.Clean, 2), done(timeline.Rollback, 4)), nil, 0, 2, 4, []int{1, 2, 3, 4, 5}},
		{"stops at a pending instant", append(commits(1, 3, 4, 5, 6), pending(timeline.Rollback, 2)), nil, 0, 2, 4, []int{1}},
		{"stops at a compaction's base instant", commits(1, 2, 3, 4, 5, 6), []int{2}, 0, 2, 4, []int{1}},
		{"stops at the clean's ECTR", commits(1, 2, 3, 4, 5, 6), nil, 3, 2, 4, []int{1, 2}},
		{"stops at a savepoint", append(commits(1, 3, 4, 5, 6), done(timeline.Savepoint, 2)), nil, 0, 2, 4, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := archiveInputs{tl: timeline.FromInstants(tc.instants)}
			for _, b := range tc.bases {
				in.compactionBases = append(in.compactionBases, ts(b))
			}
			if tc.cleanECT > 0 {
				in.cleanECTR = ts(tc.cleanECT)
			}
			opts := ArchiveOptions{MinToKeep: tc.min, MaxToKeep: tc.max}
			require.NoError(t, opts.Validate())
			var got []int
			for _, i := range archiveVictims(in, opts) {
				for n := 1; n < 100; n++ {
					if ts(n) == i.Timestamp {
						got = append(got, n)
					}
				}
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestOptions(t *testing.T) {
	var o Options
	o.EnsureDefaults()
	assert.Equal(t, Options{Policy: KeepLatestCommits, CommitsRetained: 10, FileVersionsRetained: 3}, o)
	require.NoError(t, o.Validate())
	for _, bad := range []Options{{Policy: 7, CommitsRetained: 1, FileVersionsRetained: 1}, {CommitsRetained: -1, FileVersionsRetained: 1}, {CommitsRetained: 1, FileVersionsRetained: -2}} {
		assert.Error(t, bad.Validate(), "%+v", bad)
	}
	var a ArchiveOptions
	a.EnsureDefaults()
	assert.Equal(t, ArchiveOptions{MinToKeep: 20, MaxToKeep: 30}, a)
	require.NoError(t, a.Validate())
	for _, bad := range []ArchiveOptions{{MinToKeep: 0, MaxToKeep: 3}, {MinToKeep: 3, MaxToKeep: 3}} {
		assert.Error(t, bad.Validate(), "%+v", bad)
	}
	for _, p := range []Policy{KeepLatestCommits, KeepLatestFileVersions} {
		got, err := ParsePolicy(p.String())
		require.NoError(t, err)
		assert.Equal(t, p, got)
	}
	_, err := ParsePolicy("KEEP_LATEST_BY_HOURS")
	assert.Error(t, err)
}
