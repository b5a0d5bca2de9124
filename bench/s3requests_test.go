package bench

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/testutil/s3server"
)

func TestMain(m *testing.M) { s3server.Main(m) }

// TestS3RequestsDoNotGrowWithTable guards a behavioural property against a
// real S3 server (versitygw): one upsert commit into a few partitions sends
// the same requests, kind by kind, to a table of 10 partitions as to one of
// 100. The writer lists only the partitions the commit touches, so nothing
// it does is proportional to the table.
func TestS3RequestsDoNotGrowWithTable(t *testing.T) {
	srv := s3server.Start(t)
	loc, opts := srv.NewLocation(t)
	res, err := RunS3Requests(context.Background(), S3RequestsConfig{Location: loc, Options: opts, Dir: t.TempDir(),
		Partitions: []int{10, 100}, RowsPerPartition: 5, Records: 200}, os.Stderr)
	require.NoError(t, err)
	require.Len(t, res, 4)
	for i := 0; i < len(res); i += 2 {
		small, big := res[i], res[i+1]
		require.Equal(t, small.TableType, big.TableType)
		require.Equal(t, []int{10, 100}, []int{small.Partitions, big.Partitions})
		t.Logf("%s: %d partitions: ops %s, requests %s, GET bytes %d", small.TableType, small.Partitions, FormatCounts(small.Ops), FormatCounts(small.Requests), small.GetBytes)
		t.Logf("%s: %d partitions: ops %s, requests %s, GET bytes %d", big.TableType, big.Partitions, FormatCounts(big.Ops), FormatCounts(big.Requests), big.GetBytes)
		// The commit did something: it listed its partitions, wrote data
		// files and completed an instant.
		require.Positive(t, small.Ops[ReqList], small.TableType)
		require.GreaterOrEqual(t, small.Ops[ReqPut], 5, small.TableType)
		require.Positive(t, small.Requests[ReqPut], small.TableType)
		for _, k := range RequestKinds {
			require.InDelta(t, small.Ops[k], big.Ops[k], 1, "%s storage ops %s: %d partitions %d, %d partitions %d",
				small.TableType, k, small.Partitions, small.Ops[k], big.Partitions, big.Ops[k])
			require.InDelta(t, small.Requests[k], big.Requests[k], 1, "%s HTTP requests %s: %d partitions %d, %d partitions %d",
				small.TableType, k, small.Partitions, small.Requests[k], big.Partitions, big.Requests[k])
		}
	}
}
