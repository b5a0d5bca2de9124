package index_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/hoodie-lake/hoodie/index"
	"github.com/stretchr/testify/require"
)

// lockHolderEnv makes TestLockHolderProcess, run as a child process, hold
// the index in that directory until its stdin closes.
const lockHolderEnv = "HOODIE_TEST_INDEX_LOCK_HOLDER"

func TestLockHolderProcess(t *testing.T) {
	dir := os.Getenv(lockHolderEnv)
	if dir == "" {
		return // only a helper process of TestLockedDirectoryNamesHolder
	}
	x, err := index.Open(index.Options{Dir: dir})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = x.Close()
}

// TestLockedDirectoryNamesHolder: opening an index directory that another
// process holds fails with ErrLocked, naming the directory, the holder's
// pid and (Linux) its command line, instead of Badger's raw message.
func TestLockedDirectoryNamesHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "idx")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHolderProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockHolderEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "locked\n", line)

	_, err = index.Open(index.Options{Dir: dir})
	require.ErrorIs(t, err, index.ErrLocked)
	msg := err.Error()
	t.Log(msg)
	require.Contains(t, msg, "index: directory "+dir+" is in use by process "+strconv.Itoa(cmd.Process.Pid))
	require.Contains(t, msg, "; use another index directory (--index-dir) or wait for that process to end")
	if runtime.GOOS == "linux" {
		require.Contains(t, msg, "("+filepath.Base(os.Args[0])+" -test.run=^TestLockHolderProcess$")
	}
	require.NotContains(t, msg, "Cannot acquire directory lock")

	// Once the holder ends, the directory opens.
	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait())
	x, err := index.Open(index.Options{Dir: dir})
	require.NoError(t, err)
	require.NoError(t, x.Close())
}

// TestLockedDirectorySameProcess: a second open in the same process says
// so.
func TestLockedDirectorySameProcess(t *testing.T) {
	dir := t.TempDir()
	x := open(t, dir, false, 0)
	defer x.Close()
	_, err := index.Open(index.Options{Dir: dir})
	require.ErrorIs(t, err, index.ErrLocked)
	require.Contains(t, err.Error(), fmt.Sprintf("in use by process %d (this process: another index is open on it)", os.Getpid()))
}

// TestMarkApplied records instants without entries; OldestApplied is the
// smallest.
func TestMarkApplied(t *testing.T) {
	ctx := context.Background()
	x := open(t, t.TempDir(), false, 0)
	defer x.Close()
	require.Equal(t, "", x.OldestApplied())
	require.NoError(t, x.Put(ctx, "20240102000000000", []index.Entry{entry("p", "a", "f1", "20240102000000000")}))
	require.NoError(t, x.MarkApplied(ctx, []string{"20240101000000000", "20240103000000000", "20240102000000000"}))
	require.True(t, x.IsApplied("20240101000000000"))
	require.True(t, x.IsApplied("20240103000000000"))
	require.Equal(t, "20240101000000000", x.OldestApplied())
	require.Equal(t, "20240103000000000", x.LastApplied())
	require.Error(t, x.MarkApplied(ctx, []string{""}))
}

// TestOpenWithEmptyMemtableFile: a process killed between creating a
// memtable file and writing it leaves it empty; the index still opens
// (Badger alone refuses: dgraph-io/badger#2207) and keeps its entries.
func TestOpenWithEmptyMemtableFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	x := open(t, dir, false, 0)
	require.NoError(t, x.Put(ctx, "20240101000000000", []index.Entry{entry("p", "a", "f1", "20240101000000000")}))
	require.NoError(t, x.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "99999.mem"), nil, 0o644))
	x, err := index.Open(index.Options{Dir: dir})
	require.NoError(t, err)
	defer x.Close()
	_, found, err := x.Lookup(ctx, []index.Key{{PartitionPath: "p", RecordKey: "a"}}, index.LookupOptions{})
	require.NoError(t, err)
	require.Equal(t, []bool{true}, found)
}
