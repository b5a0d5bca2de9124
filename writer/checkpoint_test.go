package writer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
)

func TestKafkaCheckpointRoundTrip(t *testing.T) {
	s := KafkaCheckpoint("events", map[int32]int64{2: 30, 0: 10, 1: 20})
	require.Equal(t, "events,0:10,1:20,2:30", s)
	topic, offs, err := ParseKafkaCheckpoint(s)
	require.NoError(t, err)
	require.Equal(t, "events", topic)
	require.Equal(t, map[int32]int64{0: 10, 1: 20, 2: 30}, offs)
	_, _, err = ParseKafkaCheckpoint("events,0-10")
	require.ErrorContains(t, err, "partition:offset")
}

// TestExactlyOnceWithCrashes consumes a 2-partition "Kafka topic" of
// numbered records in small commits that carry the offsets reached, with
// the store crashing at random operations. After every crash the consumer
// reopens the writer, resumes from LastCheckpoint and goes on. Records are
// written with Insert (no dedup against the table), so a record committed
// twice would show up as a duplicate row: at the end every record is in
// the table exactly once, on both table types.
func TestExactlyOnceWithCrashes(t *testing.T) {
	for _, typ := range []table.TableType{table.CopyOnWrite, table.MergeOnRead} {
		t.Run(string(typ), func(t *testing.T) {
			ctx := context.Background()
			mem := storage.NewMem()
			_, err := table.Create(ctx, mem, table.CreateOptions{Name: "k", Type: typ, RecordKeyFields: []string{"id"},
				PartitionFields: []string{"part"}, PrecombineField: "ts"})
			require.NoError(t, err)
			const perPartition = 300
			source := func(p int32, off int64) modelRec {
				return modelRec{key: fmt.Sprintf("p%d-%04d", p, off), part: strconv.Itoa(int(p)), ts: off, val: off}
			}
			rng := rand.New(rand.NewPCG(9, 9))
			crashes, commits := 0, 0
			dir := t.TempDir()
			for round := 0; round < 200; round++ {
				// A consumer process: a store that may crash at some op.
				var st storage.Storage = mem
				if round < 40 {
					st = storagefault.NewFaulty(mem, storagefault.OnIndex(rng.IntN(120), storagefault.ModeCrash, storagefault.Match{}))
				}
				done, err := func() (bool, error) {
					tbl, err := table.Open(ctx, st)
					if err != nil {
						return false, err
					}
					w, err := Open(ctx, tbl, Options{IndexDir: fmt.Sprintf("%s/%d", dir, round)})
					if err != nil {
						return false, err
					}
					defer w.Close()
					cp, _, err := w.LastCheckpoint(ctx)
					if err != nil {
						return false, err
					}
					next := map[int32]int64{0: 0, 1: 0}
					if cp != "" {
						if _, next, err = ParseKafkaCheckpoint(cp); err != nil {
							return false, err
						}
					}
					for next[0] < perPartition || next[1] < perPartition {
						var recs []modelRec
						for p := int32(0); p < 2; p++ {
							n := min(int64(1+rng.IntN(40)), perPartition-next[p])
							for i := int64(0); i < n; i++ {
								recs = append(recs, source(p, next[p]+i))
							}
							next[p] += n
						}
						b := buildBatch(recs)
						err := w.Insert(b)
						b.Release()
						if err != nil {
							return false, err
						}
						if _, err := w.CommitWithCheckpoint(ctx, KafkaCheckpoint("events", next)); err != nil {
							return false, err
						}
						commits++
					}
					return true, nil
				}()
				if err != nil {
					require.True(t, errors.Is(err, storagefault.ErrCrashed), "round %d: %v", round, err)
					crashes++
					continue
				}
				if done {
					break
				}
			}
			tbl, err := table.Open(ctx, mem)
			require.NoError(t, err)
			got := readTable(t, tbl) // fails on duplicate keys
			require.Len(t, got, 2*perPartition)
			for p := int32(0); p < 2; p++ {
				for off := int64(0); off < perPartition; off++ {
					r := source(p, off)
					require.Equal(t, r.val, got[modelKey{r.part, r.key}].val)
				}
			}
			cp, _, err := LastCheckpoint(ctx, tbl)
			require.NoError(t, err)
			require.Equal(t, KafkaCheckpoint("events", map[int32]int64{0: perPartition, 1: perPartition}), cp)
			t.Logf("%s: %d commits, %d consumer crashes", typ, commits, crashes)
			require.Greater(t, crashes, 5)
		})
	}
}
