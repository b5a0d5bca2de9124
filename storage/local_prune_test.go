package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/storage"
)

// pruneRace is the workload of the pruning tests, run by each of several
// goroutines or processes on one store: create a key below a directory
// chain shared by all of them (as writers create markers under
// .hoodie/.temp/<instant>/<partition>/), then delete it, which prunes the
// chain when it is the last key in it. Creators therefore keep meeting
// directories that vanish while they make or use them.
func pruneRace(ctx context.Context, st storage.Storage, worker, rounds int) error {
	for i := range rounds {
		key := fmt.Sprintf(".hoodie/.temp/%03d/part%d/deep/w%d-%d.marker", i%3, i%2, worker, i)
		if err := storage.WriteFile(ctx, st, key, []byte("x"), storage.CreateOptions{IfAbsent: true}); err != nil {
			return fmt.Errorf("worker %d round %d: %w", worker, i, err)
		}
		if err := st.Delete(ctx, key); err != nil {
			return fmt.Errorf("worker %d round %d: %w", worker, i, err)
		}
	}
	return nil
}

// TestLocalCreateRacesPruning: Delete removes the directories it leaves
// empty; a Create of a key below one of them at the same moment (a writer
// making its marker directory while another deletes its last marker) must
// still succeed.
func TestLocalCreateRacesPruning(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := storage.NewLocal(dir)
	require.NoError(t, err)
	const workers, rounds = 8, 500
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() { errs[w] = pruneRace(ctx, st, w, rounds) })
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	requireNoDirs(t, dir)
}

// TestLocalCreateRacesPruningProcesses is the race of TestConcurrentProcesses
// (cmd/hoodie): writer, compactor and cleaner processes on one table, one
// creating its marker directory while another prunes the directory it
// emptied. Processes share no lock, so only the way Create makes its
// directory can win the race.
func TestLocalCreateRacesPruningProcesses(t *testing.T) {
	dir := t.TempDir()
	const procs, rounds = 4, 300
	var wg sync.WaitGroup
	outs := make([][]byte, procs)
	errs := make([]error, procs)
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLocalPruneHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "HOODIE_PRUNE_HELPER="+dir, "HOODIE_PRUNE_WORKER="+strconv.Itoa(p),
			"HOODIE_PRUNE_ROUNDS="+strconv.Itoa(rounds))
		wg.Go(func() { outs[p], errs[p] = cmd.CombinedOutput() })
	}
	wg.Wait()
	for p := range procs {
		require.NoError(t, errs[p], "process %d:\n%s", p, outs[p])
	}
	requireNoDirs(t, dir)
}

// TestLocalPruneHelperProcess is the child of
// TestLocalCreateRacesPruningProcesses; without its environment it has
// nothing to do and passes.
func TestLocalPruneHelperProcess(t *testing.T) {
	dir := os.Getenv("HOODIE_PRUNE_HELPER")
	if dir == "" {
		return
	}
	worker, err := strconv.Atoi(os.Getenv("HOODIE_PRUNE_WORKER"))
	require.NoError(t, err)
	rounds, err := strconv.Atoi(os.Getenv("HOODIE_PRUNE_ROUNDS"))
	require.NoError(t, err)
	st, err := storage.NewLocal(dir)
	require.NoError(t, err)
	require.NoError(t, pruneRace(context.Background(), st, 100+worker, rounds))
}

// requireNoDirs checks that the races left nothing behind: every key was
// deleted, so every directory below the root was pruned.
func requireNoDirs(t *testing.T, root string) {
	t.Helper()
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, filepath.Join(root, e.Name()))
	}
	require.Empty(t, names, "left behind")
}
