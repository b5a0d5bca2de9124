package writer

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/table"
)

// TestCompactionScheduledDuringCommit schedules a compaction (as another
// process would) while a merge-on-read commit is writing its log files:
// before the writer's check (the writer copies its logs into the new
// slice) and after it (the compaction's execution carries them over). In
// both cases no update is lost, before and after the compaction completes.
func TestCompactionScheduledDuringCommit(t *testing.T) {
	for _, stage := range []string{"before-relocate", "after-relocate"} {
		t.Run(stage, func(t *testing.T) {
			ctx := context.Background()
			tbl, dir := newModelTable(t, "", table.MergeOnRead)
			w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index"})
			require.NoError(t, err)
			defer w.Close()
			var recs []modelRec
			for i := 0; i < 40; i++ {
				recs = append(recs, modelRec{key: fmt.Sprintf("k%02d", i), part: "a", ts: 1, val: int64(i)})
			}
			upsertCommit(t, w, recs)
			upsertCommit(t, w, []modelRec{{key: "k01", part: "a", ts: 2, val: 100}}) // a log
			var planned string
			w.setHook(func(s string) {
				if s != stage || planned != "" {
					return
				}
				sc, err := compactor.Schedule(ctx, tbl, compactor.Options{Force: true})
				require.NoError(t, err)
				require.NotNil(t, sc)
				planned = sc.Instant
			})
			upsertCommit(t, w, []modelRec{{key: "k02", part: "a", ts: 3, val: 200}, {key: "k01", part: "a", ts: 3, val: 101}})
			w.setHook(nil)
			require.NotEmpty(t, planned)
			check := func() {
				got := readTable(t, tbl)
				require.Len(t, got, 40)
				require.Equal(t, int64(101), got[modelKey{"a", "k01"}].val)
				require.Equal(t, int64(200), got[modelKey{"a", "k02"}].val)
			}
			check() // while the plan is pending
			res, err := compactor.Execute(ctx, tbl, planned, compactor.Options{})
			require.NoError(t, err)
			check() // after it completed
			if stage == "after-relocate" {
				require.Positive(t, res.CarriedLogs, "the execution carried the commit's log over")
			}
			upsertCommit(t, w, []modelRec{{key: "k03", part: "a", ts: 4, val: 300}})
			check()
		})
	}
}
