package bench

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestScalingSmall runs the partition-scaling benchmark on small tables:
// the code works and its numbers are sane (not a speed assertion).
func TestScalingSmall(t *testing.T) {
	res, err := RunScaling(context.Background(), ScalingConfig{Dir: t.TempDir(), Partitions: []int{10, 100},
		RowsPerPartition: 20, Records: 1_000, Commits: 3}, os.Stderr)
	require.NoError(t, err)
	require.Len(t, res, 4)
	for i, r := range res {
		require.Equal(t, []string{"cow", "mor"}[i/2], r.TableType)
		require.Equal(t, []int{10, 100}[i%2], r.Partitions)
		require.Equal(t, 20*r.Partitions, r.TableRows)
		require.Len(t, r.CommitSeconds, 3)
		require.Positive(t, r.MedianSeconds)
		require.Positive(t, r.VsSmallest)
		require.Contains(t, r.Note, "into 5 partitions")
	}
	require.Equal(t, 1.0, res[0].VsSmallest)
	// Merge-on-read updates went to log files.
	require.NotContains(t, res[2].Note, "(0 log files)")
}
