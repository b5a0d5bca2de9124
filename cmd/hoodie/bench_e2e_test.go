package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hoodie-lake/hoodie/bench"
	"github.com/stretchr/testify/require"
)

// TestBenchE2ESuiteWithPeers runs `hoodie bench` end to end at a tiny size:
// it builds the peer module (bench/peers, parquet-go and iceberg-go), runs
// every case once in its own process and reports every case, the stream's
// latencies, the index figures and every target, with ratios against
// iceberg-go. It checks the wiring, never the speed.
func TestBenchE2ESuiteWithPeers(t *testing.T) {
	cmd := exec.Command(hoodieBinary(t), "bench", "--output", "json", "--rounds", "1", "--records", "20000", "--table-rows", "30000",
		"--batch", "5000", "--stream-commits", "5", "--stream-rows", "2000", "--index-keys", "100000",
		"--peers-dir", filepath.Join("..", "..", "bench", "peers"), "--dir", t.TempDir())
	out, err := cmd.Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	require.NoError(t, err, stderr)
	var res bench.SuiteResult
	require.NoError(t, json.Unmarshal(out, &res), string(out))
	require.True(t, res.Peers)
	cases := map[string]bench.CaseSummary{}
	for _, s := range res.Summary {
		cases[s.Case] = s
		require.Positive(t, s.RowsPerSec, s.Case)
		require.Positive(t, s.Rows, s.Case)
	}
	for _, c := range append(append([]string{}, bench.PeerCases...), bench.HoodieCases...) {
		require.Contains(t, cases, c)
	}
	require.Equal(t, int64(20_000), cases[bench.CaseParquet].Rows)
	require.InDelta(t, 1.0, cases[bench.CaseIceberg].VsIceberg, 1e-9)
	require.Positive(t, cases[bench.CaseInsert].VsIceberg)
	require.Len(t, cases[bench.CaseInsert].Stages, 3)
	require.Len(t, cases[bench.CaseInsert].CommitHeap, 3)
	st := cases[bench.CaseStream].Stream
	require.NotNil(t, st)
	require.Equal(t, 5, st.Commits)
	require.Positive(t, st.MedianSeconds)
	require.Positive(t, st.BytesVsEncoded)
	x := cases[bench.CaseIndex].Index
	require.NotNil(t, x)
	require.Equal(t, int64(100_000), x.Keys)
	require.Positive(t, x.LookupsPerSec)
	require.Len(t, res.Targets, 12) // 8, and the stream targets again for stream_parquet
	for _, tg := range res.Targets {
		require.True(t, tg.Measured, tg.Name)
	}
}

// TestBenchE2ENoPeers: --no-peers runs the hoodie cases alone and says the
// ratios are absent; a --peers-dir that holds no peer module fails naming
// the flag.
func TestBenchE2ENoPeers(t *testing.T) {
	out, err := exec.Command(hoodieBinary(t), "bench", "--no-peers", "--rounds", "1", "--cases", "insert", "--records", "5000",
		"--batch", "1000", "--dir", t.TempDir()).Output()
	require.NoError(t, err)
	require.Contains(t, string(out), "ratios against iceberg-go append are absent")
	require.Contains(t, string(out), "insert")

	out, err = exec.Command(hoodieBinary(t), "bench", "--rounds", "1", "--cases", "insert", "--records", "5000",
		"--peers-dir", t.TempDir()).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "--peers-dir")
}
