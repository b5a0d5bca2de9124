package bench

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRunSmall runs every phase on a small workload: the bench code works
// and its numbers are sane (not a speed assertion).
func TestRunSmall(t *testing.T) {
	res, err := Run(context.Background(), Config{Dir: t.TempDir(), Records: 20_000, TableRows: 60_000, Days: 3, Batch: 5_000}, os.Stderr)
	require.NoError(t, err)
	require.Len(t, res, 5)
	require.Equal(t, "index_lookup", res[4].Phase)
	for _, r := range res[:4] {
		require.Positive(t, r.Records, r.Phase)
		require.Positive(t, r.Bytes, r.Phase)
		require.Positive(t, r.RecordsPerSec, r.Phase)
	}
	require.Equal(t, int64(20_000), res[4].Records)
	require.Positive(t, res[4].RecordsPerSec)
	require.Contains(t, res[4].Note, "of 20000 keys found")
	require.Equal(t, 1.0, res[0].VsRaw)
	// In-batch duplicates are combined: fewer rows than events.
	require.Less(t, res[1].Records, int64(20_000))
}

// BenchmarkWrites runs the phases at the size given by HOODIE_BENCH_RECORDS
// (default 200k; the full comparison is `hoodie bench`) and reports each
// phase's records/s and its ratio to the raw write.
func BenchmarkWrites(b *testing.B) {
	n := 200_000
	for b.Loop() {
		res, err := Run(context.Background(), Config{Dir: b.TempDir(), Records: n, TableRows: 5 * n, Days: 5}, os.Stderr)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			b.ReportMetric(r.RecordsPerSec, r.Phase+"-rec/s")
			b.ReportMetric(r.VsRaw, r.Phase+"-x-raw")
		}
	}
}
