package bench

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
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

// TestRunMORSmall runs the upsert into a copy-on-write and a merge-on-read
// table in one run, then compacts the merge-on-read one: updates became
// log blocks, and the compaction merged them.
func TestRunMORSmall(t *testing.T) {
	res, err := Run(context.Background(), Config{Dir: t.TempDir(), Records: 10_000, TableRows: 30_000, Days: 3, Batch: 5_000,
		Phases: []string{"raw", "upsert_cow", "upsert_mor", "compact"}}, os.Stderr)
	require.NoError(t, err)
	phases := map[string]Result{}
	for _, r := range res {
		phases[r.Phase] = r
	}
	require.Len(t, phases, 6) // plus index_lookup_cow, index_lookup_mor
	cow, mor, compact := phases["upsert_cow"], phases["upsert_mor"], phases["compact"]
	require.Equal(t, "cow", cow.TableType)
	require.Equal(t, "mor", mor.TableType)
	require.Equal(t, int64(10_000), mor.Records)
	require.Positive(t, mor.VsRaw)
	// About 1,000 updates (the picks repeat a few keys, combined in the
	// batch) became log blocks.
	m := regexp.MustCompile(`(\d+) updates \(log blocks\).*\((\d+) log files\)`).FindStringSubmatch(mor.Note)
	require.NotNil(t, m, mor.Note)
	updates, _ := strconv.Atoi(m[1])
	require.InDelta(t, 1_000, updates, 100)
	require.NotEqual(t, "0", m[2])
	// The compaction merged exactly those log records into the last day's
	// file groups (about 10,000 rows) and wrote them as new base files.
	require.Equal(t, "mor", compact.TableType)
	require.Contains(t, compact.Note, fmt.Sprintf(" %d log records merged", updates))
	require.InDelta(t, 10_000, compact.Records, 10)
	require.Positive(t, compact.Bytes)
	require.Positive(t, compact.MergedPerSec)
	require.Contains(t, phases, "index_lookup_mor")
}
