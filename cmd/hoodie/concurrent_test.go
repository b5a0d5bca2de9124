package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
)

// TestConcurrentProcesses runs `hoodie ingest`, `hoodie compact` and
// `hoodie clean` as separate processes in loops at the same time for a
// bounded time, while readers query the table. Every ingest run upserts
// every key with the run's number as ts, in one commit, so a consistent
// snapshot has one ts on every row: any read that mixes versions, misses a
// key or repeats one fails the test.
func TestConcurrentProcesses(t *testing.T) {
	bin := hoodieBinary(t)
	ctx := context.Background()
	dir := t.TempDir()
	loc := filepath.Join(dir, "events")
	const keys = 1500
	input := func(run int) string {
		var sb strings.Builder
		for i := 0; i < keys; i++ {
			fmt.Fprintf(&sb, "{\"id\":\"k%04d\",\"ts\":%d,\"part\":\"p%d\",\"val\":%d}\n", i, run, i%4, run*100000+i)
		}
		p := filepath.Join(dir, fmt.Sprintf("run%03d.jsonl", run))
		require.NoError(t, os.WriteFile(p, []byte(sb.String()), 0o644))
		return p
	}
	hoodie := func(args ...string) error {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("hoodie %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	create := []string{"--key", "id", "--precombine", "ts", "--partition", "part", "--type", "mor"}
	require.NoError(t, hoodie(append([]string{"ingest", "--table", loc, "--index-dir", filepath.Join(dir, "idx"), input(1)}, create...)...))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
	}
	var runs, compactions, cleans, reads atomic.Int64
	runs.Store(1)
	loop := func(counter *atomic.Int64, step func() error) {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := step(); err != nil {
				fail(err)
				return
			}
			counter.Add(1)
		}
	}
	wg.Add(4)
	go loop(&runs, func() error {
		return hoodie("ingest", "--table", loc, "--index-dir", filepath.Join(dir, "idx"), input(int(runs.Load())+1))
	})
	go loop(&compactions, func() error { return hoodie("compact", "--table", loc, "--force") })
	go loop(&cleans, func() error {
		return hoodie("clean", "--table", loc, "--commits-retained", "2", "--min-keep", "4", "--max-keep", "6")
	})
	go loop(&reads, func() error {
		st, err := storage.NewLocal(loc)
		if err != nil {
			return err
		}
		tbl, err := table.Open(ctx, st)
		if err != nil {
			return err
		}
		recs, err := reader.ReadAll(ctx, tbl, reader.Options{})
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		seen := map[string]bool{}
		tsSeen := map[int64]int{}
		for _, r := range recs {
			id := r.Column(r.Schema().FieldIndices("id")[0]).(*array.String)
			ts := r.Column(r.Schema().FieldIndices("ts")[0]).(*array.Int64)
			val := r.Column(r.Schema().FieldIndices("val")[0]).(*array.Int64)
			for i := 0; i < id.Len(); i++ {
				if seen[id.Value(i)] {
					err = fmt.Errorf("duplicate key %s", id.Value(i))
				}
				seen[id.Value(i)] = true
				tsSeen[ts.Value(i)]++
				var n int64
				fmt.Sscanf(id.Value(i)[1:], "%d", &n)
				if val.Value(i) != ts.Value(i)*100000+n {
					err = fmt.Errorf("key %s: value %d is not of version %d", id.Value(i), val.Value(i), ts.Value(i))
				}
			}
			r.Release()
		}
		if err == nil && (len(seen) != keys || len(tsSeen) != 1) {
			err = fmt.Errorf("inconsistent snapshot: %d keys, versions %v", len(seen), tsSeen)
		}
		return err
	})
	time.Sleep(25 * time.Second)
	close(stop)
	wg.Wait()
	require.NoError(t, firstErr)
	t.Logf("in 25 s: %d ingest runs, %d compaction runs, %d clean runs, %d consistent reads", runs.Load(), compactions.Load(), cleans.Load(), reads.Load())
	require.Greater(t, runs.Load(), int64(3))
	require.Positive(t, compactions.Load())
	require.Positive(t, cleans.Load())
	require.Positive(t, reads.Load())
}
