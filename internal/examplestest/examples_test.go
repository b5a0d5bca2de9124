// Package examplestest builds and runs the programs under examples/ — each
// its own module, importing hoodie through a replace directive as a program
// outside this repository would — and checks that none of them reaches
// into an internal/ package.
package examplestest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/testbroker"
	"github.com/hoodie-lake/hoodie/internal/testutil/s3server"
	"github.com/hoodie-lake/hoodie/storage"
)

// TestMain stops the servers the tests started: the S3 server and the
// Kafka broker (kafka-service).
func TestMain(m *testing.M) {
	code := m.Run()
	testbroker.Shutdown(code != 0)
	if err := s3server.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "s3server: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

const module = "github.com/hoodie-lake/hoodie"

// goTimeout bounds one go command: a first build compiles hoodie and its
// dependencies.
const goTimeout = 10 * time.Minute

// examplesDir is the examples/ directory of the repository.
func examplesDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../examples")
	require.NoError(t, err)
	return dir
}

// exampleNames are the example modules: the directories of examples/
// holding a go.mod.
func exampleNames(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(examplesDir(t))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(examplesDir(t), e.Name(), "go.mod")); e.IsDir() && err == nil {
			names = append(names, e.Name())
		}
	}
	return names
}

// goEnv is the environment of the go commands: the module mode a program
// outside this repository gets (no workspace, go.mod and go.sum as
// committed, which must be complete), the local toolchain, no VCS stamping
// (the examples sit inside this repository's checkout), and no network:
// everything comes from the module cache the main module's build filled.
func goEnv(extra ...string) []string {
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false", "GOTOOLCHAIN=local", "GOPROXY=off")
	return append(env, extra...)
}

// staleHint is appended to failures of go commands: the usual cause after
// a dependency of hoodie changed.
const staleHint = "(after a change of hoodie's dependencies: cd examples/<name> && go mod tidy)"

// goCmd runs the go tool in an example's directory.
func goCmd(t *testing.T, ctx context.Context, example string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = filepath.Join(examplesDir(t), example)
	cmd.Env = env
	return cmd
}

// build compiles an example into a binary in a temporary directory.
func build(t *testing.T, example string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), goTimeout)
	defer cancel()
	bin := filepath.Join(t.TempDir(), example)
	out, err := goCmd(t, ctx, example, goEnv(), "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build in examples/%s %s:\n%s", example, staleHint, out)
	return bin
}

// goRun runs `go run . args...` in an example's directory and returns its
// standard output; it fails the test, with both outputs, if the program
// fails.
func goRun(t *testing.T, example string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), goTimeout)
	defer cancel()
	cmd := goCmd(t, ctx, example, env, append([]string{"run", "."}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "go run . %s in examples/%s %s:\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), example, staleHint, &stdout, &stderr)
	return stdout.String()
}

func TestExamplesAreModules(t *testing.T) {
	names := exampleNames(t)
	require.Subset(t, names, []string{"quickstart", "mor-service", "s3", "kafka-service"})
	for _, name := range names {
		gomod, err := os.ReadFile(filepath.Join(examplesDir(t), name, "go.mod"))
		require.NoError(t, err)
		s := string(gomod)
		assert.NotRegexp(t, `(?m)^module `+regexp.QuoteMeta(module)+`\b`, s, "%s: a module of its own, not a package of hoodie", name)
		assert.Regexp(t, `(?m)^(require)?\s*`+regexp.QuoteMeta(module)+` v`, s, "%s: requires hoodie", name)
		assert.Regexp(t, `(?m)^replace `+regexp.QuoteMeta(module)+` => \.\./\.\.\s*$`, s, "%s: replaces hoodie with the repository root", name)
		_, err = os.Stat(filepath.Join(examplesDir(t), name, "go.sum"))
		assert.NoError(t, err, "%s: go.sum is committed", name)
	}
}

// TestExamplesVet builds every example module and runs go vet on it.
func TestExamplesVet(t *testing.T) {
	for _, name := range exampleNames(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), goTimeout)
			defer cancel()
			out, err := goCmd(t, ctx, name, goEnv(), "vet", "./...").CombinedOutput()
			require.NoError(t, err, "go vet in examples/%s %s:\n%s", name, staleHint, out)
		})
	}
}

// TestExamplesImportNoInternal: the examples use hoodie as any other
// program must, through its public packages.
func TestExamplesImportNoInternal(t *testing.T) {
	files := 0
	err := filepath.WalkDir(examplesDir(t), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == module+"/internal" || strings.HasPrefix(p, module+"/internal/") || strings.Contains(p, "/internal/") {
				t.Errorf("%s imports %s", strings.TrimPrefix(path, examplesDir(t)+"/"), p)
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, files, 3, "example files checked")
}

// TestQuickstart runs `go run . DIR` as the README says, twice on one
// directory: the second run upserts into the table the first created.
func TestQuickstart(t *testing.T) {
	dir := t.TempDir()
	out := goRun(t, "quickstart", goEnv(), dir)
	t.Logf("quickstart:\n%s", out)
	assert.Contains(t, out, "Created the copy-on-write table "+filepath.Join(dir, "trips"))
	assert.Regexp(t, `Committed \d{17}: 4 rows in, 4 inserted, 0 updated, 0 duplicates combined, 0 late events ignored`, out)
	assert.Regexp(t, `Committed \d{17}: 4 rows in, 1 inserted, 1 updated, 1 duplicates combined, 1 late events ignored`, out)
	wantRows := []string{
		"t1  paris   ts=300  fare=14.00", // the later of two versions in one batch
		"t2  paris   ts=100  fare=8.00",  // the late event (ts 50) did not overwrite it
		"t3  berlin  ts=100  fare=20.00",
		"t4  berlin  ts=100  fare=5.50",
		"t5  rome    ts=300  fare=30.00",
	}
	for _, r := range wantRows {
		assert.Contains(t, out, r)
	}
	assert.True(t, strings.HasSuffix(out, "row count: 5\n"), "last line: %q", out)

	again := goRun(t, "quickstart", goEnv(), dir)
	assert.Contains(t, again, "Opened the existing table")
	assert.True(t, strings.HasSuffix(again, "row count: 5\n"), "last line: %q", again)
	_, err := os.Stat(filepath.Join(dir, "trips", ".hoodie", "hoodie.properties"))
	require.NoError(t, err)
}

// stoppedRE matches mor-service's last line.
var stoppedRE = regexp.MustCompile(`stopped: (\d+) commits, (\d+) compactions, (\d+) files cleaned; the table holds (\d+) rows for (\d+) keys inserted\n$`)

// morStopped checks mor-service's output and returns its counts.
func morStopped(t *testing.T, out string) (commits, compactions, cleaned int) {
	t.Helper()
	m := stoppedRE.FindStringSubmatch(out)
	require.NotNil(t, m, "no final line:\n%s", out)
	n := make([]int, len(m))
	for i := 1; i < len(m); i++ {
		n[i], _ = strconv.Atoi(m[i])
	}
	assert.Equal(t, n[5], n[4], "one row per key inserted")
	return n[1], n[2], n[3]
}

// TestMORService runs the service for a few seconds, then stops one with
// SIGTERM and one with SIGINT: every stop is clean (exit 0, the summary
// printed, every key once in the table).
func TestMORService(t *testing.T) {
	bin := build(t, "mor-service")
	t.Run("duration", func(t *testing.T) {
		out, err := exec.Command(bin, "--dir", t.TempDir(), "--duration", "4s",
			"--commit-every", "100ms", "--services-every", "500ms").CombinedOutput()
		require.NoError(t, err, "%s", out)
		t.Logf("mor-service:\n%s", out)
		commits, compactions, cleaned := morStopped(t, string(out))
		assert.Greater(t, commits, 10)
		assert.Positive(t, compactions, "compactions")
		assert.Positive(t, cleaned, "files cleaned")
		assert.Contains(t, string(out), "Created the merge-on-read table")
	})
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, "--dir", t.TempDir(), "--duration", "0",
				"--commit-every", "100ms", "--services-every", "300ms")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			require.NoError(t, cmd.Start())
			time.Sleep(2 * time.Second)
			require.NoError(t, cmd.Process.Signal(sig))
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				require.NoError(t, err, "%s", &out)
			case <-time.After(time.Minute):
				_ = cmd.Process.Kill()
				t.Fatalf("still running a minute after %v:\n%s", sig, &out)
			}
			commits, _, _ := morStopped(t, out.String())
			assert.Positive(t, commits)
		})
	}
}

// TestS3Example runs the S3 quickstart against the test suite's S3 server,
// configured through the environment only, into a bucket it creates.
func TestS3Example(t *testing.T) {
	srv := s3server.Start(t)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	bucket := "hoodie-example-" + hex.EncodeToString(rnd[:])
	location := "s3://" + bucket + "/tables/trips"
	env := goEnv(
		"HOODIE_S3_LOCATION="+location,
		"HOODIE_S3_ENDPOINT="+srv.Endpoint,
		"AWS_ACCESS_KEY_ID="+srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY="+srv.SecretKey,
		"AWS_SESSION_TOKEN=",
		"AWS_REGION="+srv.Region,
		// Only the example's own settings lead to the server.
		"AWS_ENDPOINT_URL_S3=",
		"AWS_ENDPOINT_URL=",
	)
	out := goRun(t, "s3", env)
	t.Logf("s3:\n%s", out)
	assert.Contains(t, out, "Created the copy-on-write table "+location)
	assert.Contains(t, out, "t1  paris   ts=300  fare=14.00")
	assert.True(t, strings.HasSuffix(out, "row count: 5\n"), "last line: %q", out)

	// The table is in the bucket the example created.
	st, err := storage.Open(t.Context(), location, srv.Options())
	require.NoError(t, err)
	ok, err := storage.Exists(t.Context(), st, ".hoodie/hoodie.properties")
	require.NoError(t, err)
	assert.True(t, ok, "hoodie.properties at %s", location)
	var commits int
	for o, err := range st.List(t.Context(), ".hoodie/", "/") {
		require.NoError(t, err)
		if strings.HasSuffix(o.Path, ".commit") {
			commits++
		}
	}
	assert.Equal(t, 2, commits, "completed commits")
}
