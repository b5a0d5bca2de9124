package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/testutil/s3server"
)

// hoodieCLIEnv runs the binary with extra environment variables and returns
// stdout, stderr, the wall time and the error.
func hoodieCLIEnv(t *testing.T, env []string, args ...string) (string, string, time.Duration, error) {
	t.Helper()
	cmd := exec.Command(hoodieBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	return out.String(), errb.String(), time.Since(start), err
}

// notATable are the messages of a location without a table; none may show
// for a location that cannot be read at all.
func assertNotNoTable(t *testing.T, stderr string) {
	t.Helper()
	assert.NotContains(t, stderr, "not a hudi table")
	assert.NotContains(t, stderr, "the table does not exist")
	assert.NotContains(t, stderr, "created table")
}

// TestS3MissingBucketE2E: ingest into a bucket that does not exist fails
// with a message saying so and how to create it, not with "not a hudi
// table" or an invitation to create the table; --create-bucket creates the
// bucket and the ingest succeeds.
func TestS3MissingBucketE2E(t *testing.T) {
	srv := s3server.Start(t)
	dir := t.TempDir()
	bucket := fmt.Sprintf("hoodie-e2e-missing-%d", time.Now().UnixNano())
	loc := "s3://" + bucket + "/t"
	in := writeFile(t, dir, "in.jsonl", "{\"id\":\"a\",\"ts\":1}\n{\"id\":\"b\",\"ts\":2}\n")
	s3 := []string{"--s3-endpoint", srv.Endpoint, "--s3-path-style"}
	ingest := append([]string{"ingest", "--table", loc, "--key", "id", "--precombine", "ts", "--index-dir", filepath.Join(dir, "idx"), in}, s3...)

	for _, args := range [][]string{
		ingest,
		append([]string{"ingest", "--table", loc, in}, s3...), // no create flags
		append([]string{"timeline", "--table", loc}, s3...),
		append([]string{"query", "--table", loc, "SELECT * FROM t"}, s3...),
	} {
		_, stderr, elapsed, err := hoodieCLIEnv(t, nil, args...)
		require.Error(t, err, "%v", args)
		t.Logf("%s (%v): %s", args[0], elapsed.Round(time.Millisecond), stderr)
		assert.Contains(t, stderr, `no such bucket "`+bucket+`"`, "%v", args)
		assert.Contains(t, stderr, "--create-bucket", "%v", args)
		assert.Contains(t, stderr, "aws s3 mb s3://"+bucket, "%v", args)
		assert.Equal(t, 1, strings.Count(stderr, "no such bucket"), "said once: %s", stderr)
		assertNotNoTable(t, stderr)
	}

	out, stderr, _, err := hoodieCLIEnv(t, nil, append(ingest, "--create-bucket")...)
	require.NoError(t, err, stderr)
	assert.Contains(t, stderr, "created table t")
	assert.Contains(t, out, "ingested 2 records")
	out, stderr, _, err = hoodieCLIEnv(t, nil, append([]string{"query", "--table", loc, "--output", "csv", "SELECT id, ts FROM t ORDER BY id"}, s3...)...)
	require.NoError(t, err, stderr)
	assert.Equal(t, "id,ts\na,1\nb,2\n", out)
	// Again with --create-bucket: the bucket and the table are there.
	_, stderr, _, err = hoodieCLIEnv(t, nil, append(ingest, "--create-bucket")...)
	require.NoError(t, err, stderr)
	assert.NotContains(t, stderr, "created table")
}

// TestS3AccessDeniedE2E: refused credentials are reported as such, not as
// a missing table.
func TestS3AccessDeniedE2E(t *testing.T) {
	srv := s3server.Start(t)
	loc, _ := srv.NewLocation(t)
	dir := t.TempDir()
	in := writeFile(t, dir, "in.jsonl", "{\"id\":\"a\",\"ts\":1}\n")
	for _, env := range [][]string{
		{"AWS_SECRET_ACCESS_KEY=wrongsecretwrongsecret"},
		{"AWS_ACCESS_KEY_ID=hoodieunknownkey", "AWS_SECRET_ACCESS_KEY=wrongsecretwrongsecret"},
	} {
		for _, create := range []string{"--create-bucket=false", "--create-bucket"} {
			_, stderr, _, err := hoodieCLIEnv(t, env, "ingest", "--table", loc, "--key", "id", "--precombine", "ts",
				"--index-dir", filepath.Join(dir, "idx"), in, "--s3-endpoint", srv.Endpoint, "--s3-path-style", create)
			require.Error(t, err, "%v %s", env, create)
			t.Logf("%v %s: %s", env, create, stderr)
			assert.Contains(t, stderr, "access denied to bucket", "%v %s", env, create)
			assert.NotContains(t, stderr, "wrongsecret")
			assertNotNoTable(t, stderr)
		}
	}
}

// TestS3UnreachableE2E: a stopped endpoint and a hung one fail within the
// configured timeouts with a message naming the endpoint and the flag.
func TestS3UnreachableE2E(t *testing.T) {
	env := []string{"AWS_ACCESS_KEY_ID=fake", "AWS_SECRET_ACCESS_KEY=fakesecret", "AWS_EC2_METADATA_DISABLED=true"}
	const slack = 4 * time.Second // process start and a loaded machine

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	stopped := l.Addr().String()
	require.NoError(t, l.Close())
	// Defaults: refused at once, 3 attempts at most 1 s apart.
	_, stderr, elapsed, err := hoodieCLIEnv(t, env, "timeline", "--table", "s3://b/t", "--s3-endpoint", "http://"+stopped)
	require.Error(t, err)
	t.Logf("stopped (%v): %s", elapsed.Round(time.Millisecond), stderr)
	assert.Less(t, elapsed, 2*time.Second+slack)
	assert.Contains(t, stderr, "no answer from http://"+stopped)
	assert.Contains(t, stderr, "connection refused")
	assertNotNoTable(t, stderr)

	// A server that accepts and never answers.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { hung.Close() })
	go func() {
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	_, stderr, elapsed, err = hoodieCLIEnv(t, env, "ingest", "--table", "s3://b/t", "--key", "id", "--precombine", "ts",
		"--index-dir", filepath.Join(t.TempDir(), "idx"), writeFile(t, t.TempDir(), "in.jsonl", "{\"id\":\"a\",\"ts\":1}\n"),
		"--s3-endpoint", "http://"+hung.Addr().String(), "--s3-request-timeout", "1s")
	require.Error(t, err)
	t.Logf("hung (%v): %s", elapsed.Round(time.Millisecond), stderr)
	assert.GreaterOrEqual(t, elapsed, time.Second)
	assert.Less(t, elapsed, time.Second+slack, "one request timeout, not retried")
	assert.Contains(t, stderr, "no answer from http://"+hung.Addr().String()+" within 1s (request timeout; --s3-request-timeout)")
	assertNotNoTable(t, stderr)
}
