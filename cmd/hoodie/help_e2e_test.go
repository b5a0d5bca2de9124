package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHelpE2EExamples checks that every verb's --help shows examples.
func TestHelpE2EExamples(t *testing.T) {
	root := newRootCmd(io.Discard, io.Discard)
	verbs := 0
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		verbs++
		out, _, err := hoodieCLI(t, "", c.Name(), "--help")
		require.NoError(t, err)
		assert.Regexp(t, `Examples:\n  (go run ./cmd/)?hoodie `+c.Name(), out, "hoodie %s --help", c.Name())
	}
	assert.GreaterOrEqual(t, verbs, 13)
}

// TestIngestE2EMetricsAndLog runs `ingest -` with --metrics-addr: without a
// terminal it logs plain progress lines, and its metrics endpoint serves
// the ingest counters while it runs. (The JSON Lines reader parses stdin
// in batches of 65,536 rows, so a stream commits at batch boundaries.)
func TestIngestE2EMetricsAndLog(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(hoodieBinary(t), "ingest", "--table", filepath.Join(dir, "t"), "--key", "id", "--precombine", "ts",
		"--index-dir", filepath.Join(dir, "idx"), "--commit-every", "65536", "--metrics-addr", "127.0.0.1:0", "-")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	urlRe := regexp.MustCompile(`metrics on (http://\S+/metrics)`)
	var url string
	var log []string
	next := func() string {
		require.True(t, sc.Scan(), "stderr ended; so far:\n%s", strings.Join(log, "\n"))
		log = append(log, sc.Text())
		return sc.Text()
	}
	for url == "" {
		if m := urlRe.FindStringSubmatch(next()); m != nil {
			url = m[1]
		}
	}
	var in strings.Builder
	for i := range 65536 {
		fmt.Fprintf(&in, "{\"id\":\"k%d\",\"ts\":1}\n", i)
	}
	go func() { _, _ = io.WriteString(stdin, in.String()) }()
	for !strings.HasPrefix(next(), "hoodie: committed ") {
	}
	resp, err := http.Get(url)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, string(body), `hoodie_commits_total{verb="ingest"} 1`)
	assert.Contains(t, string(body), `hoodie_records_read_total{verb="ingest",kind="upsert"} 65536`)
	require.NoError(t, stdin.Close())
	rest, _ := io.ReadAll(stderr)
	require.NoError(t, cmd.Wait())
	all := strings.Join(log, "\n") + "\n" + string(rest)
	assert.Contains(t, all, "hoodie: reading standard input\n")
	assert.Contains(t, all, fmt.Sprintf("hoodie: read standard input: %d bytes in ", in.Len()))
}
