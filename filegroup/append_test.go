package filegroup_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const base = "20240101000000100"

var group = filegroup.FileGroupID{PartitionPath: "p=1", FileID: "f1-0"}

func begin(t *testing.T, st storage.Storage) *timeline.Txn {
	t.Helper()
	tx, err := timeline.Begin(context.Background(), st, timeline.DeltaCommit, nil, timeline.BeginOptions{})
	require.NoError(t, err)
	return tx
}

func markerPaths(t *testing.T, tx *timeline.Txn) []string {
	t.Helper()
	ms, err := tx.Markers(context.Background())
	require.NoError(t, err)
	var out []string
	for _, m := range ms {
		require.Equal(t, timeline.MarkerAppend, m.Type)
		out = append(out, m.DataPath)
	}
	sort.Strings(out)
	return out
}

func TestAppendLog(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	tx := begin(t, st)
	token := filegroup.WriteToken{TaskPartitionID: 3, StageID: 1, TaskAttemptID: 3}
	a := filegroup.LogAppend{FileGroupID: group, BaseInstant: base, WriteToken: token, Taken: map[int]bool{1: true, 2: true}}
	f, err := filegroup.AppendLog(ctx, st, tx, a, []byte("one"))
	require.NoError(t, err)
	assert.Equal(t, 3, f.Version, "after the newest version taken")
	assert.Equal(t, ".f1-0_"+base+".log.3_3-1-3", f.Name)
	assert.Equal(t, "p=1/"+f.Name, f.Path)
	assert.Equal(t, int64(3), f.Size)
	assert.Equal(t, filegroup.ExtLog, f.Ext)
	g, err := filegroup.AppendLog(ctx, st, tx, a, []byte("two"))
	require.NoError(t, err)
	assert.Equal(t, 4, g.Version, "Taken is shared by appends to one slice")
	assert.True(t, a.Taken[3] && a.Taken[4])
	got, err := storage.ReadFile(ctx, st, g.Path)
	require.NoError(t, err)
	assert.Equal(t, "two", string(got))
	assert.Equal(t, []string{f.Path, g.Path}, markerPaths(t, tx))

	// A non-partitioned table's log files sit at the root.
	root := filegroup.LogAppend{FileGroupID: filegroup.FileGroupID{FileID: "f2-0"}, BaseInstant: base, WriteToken: token}
	h, err := filegroup.AppendLog(ctx, st, tx, root, []byte("x"))
	require.NoError(t, err)
	assert.Equal(t, 1, h.Version)
	assert.Equal(t, h.Name, h.Path)

	bad := filegroup.LogAppend{FileGroupID: filegroup.FileGroupID{FileID: "a_b"}, BaseInstant: base}
	_, err = filegroup.AppendLog(ctx, st, tx, bad, nil)
	require.ErrorIs(t, err, filegroup.ErrInvalidFileName)
}

// TestAppendLogVersionTaken: a version another appender created meanwhile
// is skipped, its file kept, and this appender's marker for it removed.
func TestAppendLogVersionTaken(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	token := filegroup.WriteToken{StageID: 1}
	theirs := filegroup.LogFile{FileID: group.FileID, BaseInstant: base, Version: 1, WriteToken: token, Ext: filegroup.ExtLog}
	require.NoError(t, storage.WriteFile(ctx, st, "p=1/"+theirs.String(), []byte("theirs"), storage.CreateOptions{}))

	tx := begin(t, st)
	f, err := filegroup.AppendLog(ctx, st, tx, filegroup.LogAppend{FileGroupID: group, BaseInstant: base, WriteToken: token}, []byte("mine"))
	require.NoError(t, err)
	assert.Equal(t, 2, f.Version)
	got, err := storage.ReadFile(ctx, st, "p=1/"+theirs.String())
	require.NoError(t, err)
	assert.Equal(t, "theirs", string(got), "nothing overwritten")
	assert.Equal(t, []string{f.Path}, markerPaths(t, tx), "no marker for the other appender's file")

	taken, err := filegroup.LogVersions(ctx, st, group, base)
	require.NoError(t, err)
	assert.Equal(t, map[int]bool{1: true, 2: true}, taken)
	other, err := filegroup.LogVersions(ctx, st, group, "20240101000000200")
	require.NoError(t, err)
	assert.Empty(t, other)
}

// TestAppendLogRace: appenders racing on one slice with the same write
// token (task 0 of concurrent writer processes), each knowing none of the
// others' versions, all succeed with distinct versions; every file holds
// what its appender wrote, and each appender's markers name exactly its own
// files.
func TestAppendLogRace(t *testing.T) {
	for _, backend := range []string{"mem", "local"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			var st storage.Storage = storage.NewMem()
			if backend == "local" {
				l, err := storage.NewLocal(t.TempDir())
				require.NoError(t, err)
				st = l
			}
			const appenders, each = 4, 8
			txs := make([]*timeline.Txn, appenders)
			for i := range txs {
				txs[i] = begin(t, st)
			}
			files := make([][]filegroup.LogFileInfo, appenders)
			var wg sync.WaitGroup
			errs := make([]error, appenders)
			for i := range appenders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					a := filegroup.LogAppend{FileGroupID: group, BaseInstant: base, WriteToken: filegroup.WriteToken{StageID: 1}, Taken: map[int]bool{}}
					for j := range each {
						f, err := filegroup.AppendLog(ctx, st, txs[i], a, fmt.Appendf(nil, "%d/%d", i, j))
						if err != nil {
							errs[i] = err
							return
						}
						files[i] = append(files[i], f)
					}
				}()
			}
			wg.Wait()
			seen := map[int]bool{}
			for i := range appenders {
				require.NoError(t, errs[i])
				var paths []string
				for j, f := range files[i] {
					require.False(t, seen[f.Version], "version %d taken twice", f.Version)
					seen[f.Version] = true
					if j > 0 {
						require.Greater(t, f.Version, files[i][j-1].Version, "an appender's versions increase")
					}
					got, err := storage.ReadFile(ctx, st, f.Path)
					require.NoError(t, err)
					require.Equal(t, fmt.Sprintf("%d/%d", i, j), string(got))
					paths = append(paths, f.Path)
				}
				sort.Strings(paths)
				require.Equal(t, paths, markerPaths(t, txs[i]))
			}
			taken, err := filegroup.LogVersions(ctx, st, group, base)
			require.NoError(t, err)
			require.Len(t, taken, appenders*each)
		})
	}
}
