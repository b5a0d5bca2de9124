package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRunCaseSmall runs the hoodie cases in this process at a tiny size:
// each reports its rows, time and RSS; the stream its latencies and bytes,
// the index its throughput (sanity, not speed).
func TestRunCaseSmall(t *testing.T) {
	ctx := context.Background()
	base := CaseConfig{Records: 4_000, Batch: 1_000, TableRows: 9_000, Days: 3, StreamCommits: 3, StreamRows: 1_000, IndexKeys: 30_000}
	run := func(name, dir string) CaseResult {
		c := base
		c.Case, c.Dir = name, dir
		r, err := RunCase(ctx, c)
		require.NoError(t, err, name)
		return r
	}
	ins := run(CaseInsert, t.TempDir())
	require.Equal(t, int64(4_000), ins.Rows)
	require.Positive(t, ins.RowsPerSec)
	require.Positive(t, ins.Bytes)
	require.Len(t, ins.Stages, 3)
	require.Len(t, ins.CommitHeap, 3)
	require.Positive(t, ins.CommitHeap[1].PeakHeapMB)

	dir := t.TempDir()
	run(prepareCase+CaseUpsertMOR, filepath.Join(dir, "base"))
	require.NoError(t, copyDir(filepath.Join(dir, "base"), filepath.Join(dir, "run")))
	up := run(CaseUpsertMOR, filepath.Join(dir, "run"))
	require.Regexp(t, `index hits [1-9]`, up.Note)
	require.Positive(t, up.RowsPerSec)

	st := run(CaseStream, t.TempDir())
	require.NotNil(t, st.Stream)
	require.Len(t, st.Stream.CommitSeconds, 3)
	require.Positive(t, st.Stream.EncodedBytes)
	require.Positive(t, st.Stream.BytesVsEncoded)
	require.Positive(t, st.Stream.TableBytes)
	require.Equal(t, int64(3_000), st.Rows)

	ix := run(CaseIndex, t.TempDir())
	require.NotNil(t, ix.Index)
	require.Equal(t, int64(30_000), ix.Index.Keys)
	require.Equal(t, int64(4_000), ix.Index.Lookups)
	require.Positive(t, ix.Index.LookupsPerSec)
	require.Positive(t, ix.Index.InsertsPerSec)

	_, err := RunCase(ctx, CaseConfig{Case: "nope", Dir: t.TempDir()})
	require.ErrorContains(t, err, "unknown case")
}

// TestSummaryAndTargets: medians over rounds, ratios against the same
// round's iceberg-go append, and targets met or not.
func TestSummaryAndTargets(t *testing.T) {
	runs := []CaseResult{
		{Case: CaseIceberg, Round: 1, Rows: 10, RowsPerSec: 100, PeakRSSAddedMB: 50},
		{Case: CaseIceberg, Round: 2, Rows: 10, RowsPerSec: 200, PeakRSSAddedMB: 70},
		{Case: CaseInsert, Round: 1, Rows: 10, RowsPerSec: 150, PeakRSSAddedMB: 40},
		{Case: CaseInsert, Round: 2, Rows: 10, RowsPerSec: 180, PeakRSSAddedMB: 60},
		{Case: CaseStream, Round: 1, Rows: 10, RowsPerSec: 5, Stream: &StreamResult{Commits: 20, RowsPerCommit: 10,
			MedianSeconds: 0.1, P99Seconds: 0.5, LastVsFirst: 1.1, BytesVsEncoded: 2}},
		{Case: CaseIndex, Round: 1, Rows: 10, RowsPerSec: 1e6, Index: &IndexResult{Keys: 10_000_000, InsertsPerSec: 2e6, LookupsPerSec: 0.5e6}},
	}
	sum := summarize([]string{CaseIceberg, CaseInsert, CaseStream, CaseIndex, CaseUpsertMOR}, runs)
	require.Len(t, sum, 4)
	require.Equal(t, 1.0, sum[0].VsIceberg)
	require.InDelta(t, (1.5+0.9)/2, sum[1].VsIceberg, 1e-9)
	require.Equal(t, 165.0, sum[1].RowsPerSec)
	require.Equal(t, 50.0, sum[1].PeakRSSAddedMB)
	require.Zero(t, sum[3].VsIceberg)
	met := map[string]Target{}
	for _, tg := range targets(sum, CaseConfig{}) {
		met[tg.Name] = tg
	}
	require.True(t, met["insert rows/s vs iceberg-go append"].Met)
	require.False(t, met["MOR upsert rows/s vs iceberg-go append"].Measured)
	require.True(t, met["stream commit latency, median (20 × 10 rows)"].Met)
	require.False(t, met["stream commit latency, p99"].Met)
	require.True(t, met["stream last-10 ÷ first-10 median"].Met)
	require.False(t, met["stream bytes written ÷ batches' encoded size"].Met)
	require.True(t, met["index inserts/s at 10 M keys"].Met)
	require.False(t, met["index lookups/s (10 % hits) at 10 M keys"].Met)

	require.Equal(t, 3.0, percentile([]float64{5, 1, 3, 2, 4}, 0.5))
	require.Equal(t, 2.5, percentile([]float64{4, 1, 3, 2}, 0.5))
	require.Equal(t, 9.0, percentile([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.9))
	require.Equal(t, 10.0, percentile([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.99))
}

// TestFindPeersDir finds bench/peers from inside the repository and
// refuses a directory that is not the peer module.
func TestFindPeersDir(t *testing.T) {
	d, err := FindPeersDir(context.Background(), "")
	require.NoError(t, err)
	require.NoError(t, checkModule(d, PeersModule))
	_, err = FindPeersDir(context.Background(), t.TempDir())
	require.Error(t, err)
	wd, err := os.Getwd()
	require.NoError(t, err)
	_, err = FindPeersDir(context.Background(), filepath.Join(wd, ".."))
	require.ErrorContains(t, err, "not "+PeersModule)
}
