package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// ingestProc is a running `hoodie ingest ... -` fed through its stdin.
type ingestProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr bytes.Buffer
	done   chan error
}

// startIngest starts `hoodie ingest --table loc args... -` and returns once
// it opened its writer (it logs that it reads standard input).
func startIngest(t *testing.T, bin, loc string, args ...string) *ingestProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	p := &ingestProc{done: make(chan error, 1)}
	p.cmd = exec.CommandContext(ctx, bin, append(append([]string{"ingest", "--table", loc}, args...), "-")...)
	var err error
	p.stdin, err = p.cmd.StdinPipe()
	require.NoError(t, err)
	errPipe, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() { _ = p.stdin.Close(); _ = p.cmd.Process.Kill(); <-p.done })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(errPipe)
		signalled := false
		for sc.Scan() {
			p.stderr.WriteString(sc.Text() + "\n")
			if !signalled && strings.HasPrefix(sc.Text(), "hoodie: reading standard input") {
				signalled = true
				close(ready)
			}
		}
		if !signalled {
			close(ready)
		}
		p.done <- p.cmd.Wait()
		close(p.done)
	}()
	<-ready
	return p
}

// finish writes input to the process, closes its stdin and waits for it.
func (p *ingestProc) finish(input []byte) (stderr string, err error) {
	_, _ = p.stdin.Write(input)
	_ = p.stdin.Close()
	err = <-p.done
	return p.stderr.String(), err
}

// keyRange is JSON Lines of keys k<from>..k<to-1> with ordering value ts.
func keyRange(from, to int, ts int) []byte {
	var b bytes.Buffer
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "{\"id\":\"k%05d\",\"ts\":%d,\"part\":\"p%d\",\"val\":%d}\n", i, ts, i%4, ts*1000000+i)
	}
	return b.Bytes()
}

// seedTable creates a table with keys k00000..k00099 through `hoodie
// ingest`.
func seedTable(t *testing.T, bin, dir string) string {
	t.Helper()
	loc := filepath.Join(dir, "events")
	seed := filepath.Join(dir, "seed.jsonl")
	require.NoError(t, os.WriteFile(seed, keyRange(0, 100, 1), 0o644))
	out, err := exec.Command(bin, "ingest", "--table", loc, "--key", "id", "--precombine", "ts", "--partition", "part",
		"--index-dir", filepath.Join(dir, "idx-seed"), seed).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return loc
}

// storedKeys reads the table with hoodie's reader: rows per key.
func storedKeys(t *testing.T, loc string) map[string]int {
	t.Helper()
	ctx := context.Background()
	st, err := storage.NewLocal(loc)
	require.NoError(t, err)
	tbl, err := table.Open(ctx, st)
	require.NoError(t, err)
	recs, err := reader.ReadAll(ctx, tbl, reader.Options{})
	require.NoError(t, err)
	out := map[string]int{}
	for _, r := range recs {
		id := r.Column(r.Schema().FieldIndices("id")[0]).(*array.String)
		for i := 0; i < id.Len(); i++ {
			out[id.Value(i)]++
		}
		r.Release()
	}
	return out
}

// requireEachKeyOnce checks that every key is stored once and that the
// table holds exactly the keys k<0>..k<n-1>.
func requireEachKeyOnce(t *testing.T, loc string, n int) {
	t.Helper()
	got := storedKeys(t, loc)
	dups := 0
	for k, c := range got {
		if c != 1 {
			dups++
			if dups < 5 {
				t.Errorf("key %s stored %d times", k, c)
			}
		}
	}
	require.Zero(t, dups, "keys stored more than once")
	require.Len(t, got, n)
	st, err := storage.NewLocal(loc)
	require.NoError(t, err)
	tl, err := timeline.Load(context.Background(), st)
	require.NoError(t, err)
	require.Empty(t, tl.Pending(), "a refused run leaves nothing pending")
}

const refusal = "another writer is writing this table"

// TestConcurrentIngestE2E runs two `hoodie ingest` processes at the same
// time on one table with separate --index-dir (as two machines would),
// over overlapping keys: A writes k00000..k19999, B k10000..k29999.
// Default mode: when both opened the table before either committed, the
// later one refuses with a clear error (never both commit). Optimistic
// mode: both commit (a conflicting commit is retried). In every case each
// key is stored once.
func TestConcurrentIngestE2E(t *testing.T) {
	bin := hoodieBinary(t)
	inA, inB := keyRange(0, 20000, 2), keyRange(10000, 30000, 3)

	t.Run("single/one-after-the-other", func(t *testing.T) {
		// A commits while B is open: B refuses, naming A's commit.
		dir := t.TempDir()
		loc := seedTable(t, bin, dir)
		a := startIngest(t, bin, loc, "--index-dir", filepath.Join(dir, "idx-a"))
		b := startIngest(t, bin, loc, "--index-dir", filepath.Join(dir, "idx-b"))
		outA, err := a.finish(inA)
		require.NoError(t, err, outA)
		m := regexp.MustCompile(`hoodie: committed (\d+):`).FindStringSubmatch(outA)
		require.NotNil(t, m, outA)
		commit := m[1]
		outB, err := b.finish(inB)
		require.Error(t, err)
		require.Contains(t, outB, refusal)
		require.Contains(t, outB, commit+" was committed by another writer after this writer opened the table")
		require.Contains(t, outB, "run every writer with --concurrency optimistic")
		requireEachKeyOnce(t, loc, 20000)
	})
	for _, mode := range []string{"single", "optimistic"} {
		t.Run(mode+"/at-once", func(t *testing.T) {
			dir := t.TempDir()
			loc := seedTable(t, bin, dir)
			a := startIngest(t, bin, loc, "--index-dir", filepath.Join(dir, "idx-a"), "--concurrency", mode)
			b := startIngest(t, bin, loc, "--index-dir", filepath.Join(dir, "idx-b"), "--concurrency", mode)
			var wg sync.WaitGroup
			var outA, outB string
			var errA, errB error
			wg.Add(2)
			go func() { defer wg.Done(); outA, errA = a.finish(inA) }()
			go func() { defer wg.Done(); outB, errB = b.finish(inB) }()
			wg.Wait()
			t.Logf("A: %v\n%sB: %v\n%s", errA, outA, errB, outB)
			var keys int // stored: the seed's k00000..k00099 and what committed
			switch mode {
			case "single":
				// Both opened the table before either committed: at most
				// one commits, the other refuses.
				require.False(t, errA == nil && errB == nil, "both committed")
				if errA != nil {
					require.Contains(t, outA, refusal)
				}
				if errB != nil {
					require.Contains(t, outB, refusal)
				}
				switch {
				case errA == nil:
					keys = 20000
				case errB == nil:
					keys = 100 + 20000
				default:
					keys = 100
				}
			case "optimistic":
				require.NoError(t, errA, outA)
				require.NoError(t, errB, outB)
				keys = 30000
			}
			requireEachKeyOnce(t, loc, keys)
		})
	}
}

// TestLockedIndexDirE2E: a second ingest on an index directory a running
// ingest holds is refused with a message naming the directory and the
// holding process, not Badger's raw lock error.
func TestLockedIndexDirE2E(t *testing.T) {
	bin := hoodieBinary(t)
	dir := t.TempDir()
	loc := seedTable(t, bin, dir)
	idx := filepath.Join(dir, "idx-shared")
	a := startIngest(t, bin, loc, "--index-dir", idx)
	in := filepath.Join(dir, "b.jsonl")
	require.NoError(t, os.WriteFile(in, keyRange(100, 200, 2), 0o644))
	out, err := exec.Command(bin, "ingest", "--table", loc, "--index-dir", idx, in).CombinedOutput()
	require.Error(t, err)
	msg := string(out)
	t.Log(msg)
	require.Contains(t, msg, "index: directory "+idx+" is in use by process "+strconv.Itoa(a.cmd.Process.Pid))
	require.Contains(t, msg, "(hoodie ingest --table "+loc)
	require.Contains(t, msg, "use another index directory (--index-dir) or wait for that process to end")
	require.NotContains(t, msg, "Cannot acquire directory lock")
	outA, err := a.finish(keyRange(200, 300, 2))
	require.NoError(t, err, outA)
	requireEachKeyOnce(t, loc, 200)
}
