package index_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hoodie-lake/hoodie/index"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLookupRecordKeys finds keys without their partition: every
// partition holding a key (scoped), the one entry (global), nothing for
// unknown keys or untrusted instants.
func TestLookupRecordKeys(t *testing.T) {
	ctx := context.Background()
	for _, global := range []bool{false, true} {
		t.Run(fmt.Sprintf("global=%v", global), func(t *testing.T) {
			x := open(t, t.TempDir(), global, 0)
			defer x.Close()
			require.NoError(t, x.Put(ctx, "20250101000000000", []index.Entry{
				entry("b", "k1", "f2", "20250101000000000"),
				entry("a", "k1", "f1", "20250101000000000"),
				entry("a", "k2", "f1", "20250101000000000"),
			}))
			require.NoError(t, x.Put(ctx, "20250102000000000", []index.Entry{entry("c", "k3", "f3", "20250102000000000")}))
			got, err := x.LookupRecordKeys(ctx, []string{"k1", "nope", "k2", "k3"}, index.LookupOptions{
				Trust: func(instant string) bool { return instant != "20250102000000000" },
			})
			require.NoError(t, err)
			require.Len(t, got, 4)
			if global {
				// The later write of k1 (partition a) replaced the first.
				require.Len(t, got[0], 1)
				assert.Equal(t, "a", got[0][0].PartitionPath)
			} else {
				require.Len(t, got[0], 2)
				assert.Equal(t, index.Location{PartitionPath: "a", FileID: "f1", Instant: "20250101000000000"}, got[0][0])
				assert.Equal(t, "b", got[0][1].PartitionPath)
			}
			assert.Empty(t, got[1])
			require.Len(t, got[2], 1)
			assert.Equal(t, "a", got[2][0].PartitionPath)
			assert.Empty(t, got[3], "untrusted instant")

			none, err := x.LookupRecordKeys(ctx, nil, index.LookupOptions{})
			require.NoError(t, err)
			assert.Empty(t, none)
		})
	}
}
