package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/testutil/s3server"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// hoodieBinary builds the command once per test run.
func hoodieBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hoodie-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "hoodie")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, binErr)
	return binPath
}

// TestKillIngest runs `hoodie ingest --op insert` of numbered records into
// a table on the S3 server and kills it with SIGKILL at random moments,
// then restarts it, many times. After every kill the table reads (through
// hoodie's reader) with no duplicate key, only input values, and exactly
// the records up to the last committed checkpoint: inserts are not
// deduplicated against the table, so a record committed twice would show.
// HOODIE_KILL_RUNS sets the number of kills (default 50).
func TestKillIngest(t *testing.T) {
	kills := 50
	if v, err := strconv.Atoi(os.Getenv("HOODIE_KILL_RUNS")); err == nil && v > 0 {
		kills = v
	}
	bin := hoodieBinary(t)
	srv := s3server.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	const lines = 40000
	var sb strings.Builder
	for i := 1; i <= lines; i++ {
		fmt.Fprintf(&sb, "{\"id\":\"k%05d\",\"ts\":%d,\"part\":\"p%d\",\"val\":%d}\n", i, i, i%7, i*3)
	}
	input := filepath.Join(dir, "events.jsonl")
	require.NoError(t, os.WriteFile(input, []byte(sb.String()), 0o644))
	rng := rand.New(rand.NewPCG(11, 12))

	check := func(loc string) int64 {
		t.Helper()
		st, err := storage.Open(ctx, loc, srv.Options())
		require.NoError(t, err)
		tbl, err := table.Open(ctx, st)
		if err != nil {
			return 0 // killed before the table was created
		}
		cp, _, err := writer.LastCheckpoint(ctx, tbl)
		require.NoError(t, err)
		var done int64
		if rest, ok := strings.CutPrefix(cp, ingestCheckpointPrefix); ok {
			fmt.Sscanf(rest[strings.LastIndexByte(rest, ':')+1:], "%d", &done)
		}
		recs, err := reader.ReadAll(ctx, tbl, reader.Options{})
		require.NoError(t, err)
		seen := map[string]bool{}
		for _, r := range recs {
			id := r.Column(r.Schema().FieldIndices("id")[0]).(*array.String)
			val := r.Column(r.Schema().FieldIndices("val")[0]).(*array.Int64)
			for i := 0; i < id.Len(); i++ {
				k := id.Value(i)
				require.False(t, seen[k], "record %s committed twice", k)
				seen[k] = true
				n, _ := strconv.Atoi(k[1:])
				require.Equal(t, int64(n*3), val.Value(i), k)
				require.LessOrEqual(t, int64(n), done, "record %s beyond the checkpoint %d", k, done)
			}
			r.Release()
		}
		require.Equal(t, done, int64(len(seen)), "records committed vs checkpoint")
		return done
	}

	killed, tables := 0, 0
	var loc, idx string
	newTable := func() {
		loc, _ = srv.NewLocation(t)
		idx = filepath.Join(dir, fmt.Sprintf("idx%d", tables))
		tables++
	}
	newTable()
	for killed < kills {
		cmd := exec.Command(bin, "ingest", "--table", loc, "--s3-endpoint", srv.Endpoint, "--s3-path-style",
			"--key", "id", "--precombine", "ts", "--partition", "part", "--type", "mor", "--op", "insert",
			"--commit-every", "500", "--index-dir", idx, input)
		// The child's output is kept for the failure message.
		var output bytes.Buffer
		cmd.Stdout, cmd.Stderr = &output, &output
		require.NoError(t, cmd.Start())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			require.NoError(t, err, "an uninterrupted run finishes cleanly; its output:\n%s", output.String())
			require.Equal(t, int64(lines), check(loc), "a finished run committed every record once")
			newTable()
		case <-time.After(time.Duration(50+rng.IntN(700)) * time.Millisecond):
			require.NoError(t, cmd.Process.Kill())
			<-done
			killed++
			check(loc)
		}
	}
	// The last table, run to the end.
	for {
		out, err := exec.Command(bin, "ingest", "--table", loc, "--s3-endpoint", srv.Endpoint, "--s3-path-style",
			"--key", "id", "--precombine", "ts", "--partition", "part", "--type", "mor", "--op", "insert",
			"--commit-every", "500", "--index-dir", idx, input).CombinedOutput()
		require.NoError(t, err, "%s", out)
		break
	}
	require.Equal(t, int64(lines), check(loc))
	t.Logf("killed hoodie ingest %d times over %d tables", killed, tables)
}
