package index_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hoodie-lake/hoodie/index"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
)

func open(t *testing.T, dir string, global bool, ttl time.Duration) *index.Index {
	t.Helper()
	x, err := index.Open(index.Options{Dir: dir, Global: global, TTL: ttl})
	require.NoError(t, err)
	return x
}

func entry(part, key, fid, inst string) index.Entry {
	return index.Entry{Key: index.Key{PartitionPath: part, RecordKey: key}, Location: index.Location{PartitionPath: part, FileID: fid, Instant: inst}}
}

func TestScopes(t *testing.T) {
	ctx := context.Background()
	for _, global := range []bool{false, true} {
		t.Run(fmt.Sprintf("global=%v", global), func(t *testing.T) {
			x := open(t, t.TempDir(), global, 0)
			defer x.Close()
			require.NoError(t, x.Put(ctx, "20250101000000000", []index.Entry{
				entry("a", "k1", "f1", "20250101000000000"),
				entry("b", "k1", "f2", "20250101000000000"), // same key, other partition
			}))
			locs, found, err := x.Lookup(ctx, []index.Key{{"a", "k1"}, {"b", "k1"}, {"c", "k1"}}, index.LookupOptions{})
			require.NoError(t, err)
			if global {
				// One entry per key: the later write moved it to b.
				assert.Equal(t, []bool{true, true, true}, found)
				for _, l := range locs {
					assert.Equal(t, "f2", l.FileID)
				}
			} else {
				assert.Equal(t, []bool{true, true, false}, found)
				assert.Equal(t, index.Location{PartitionPath: "a", FileID: "f1", Instant: "20250101000000000"}, locs[0])
				assert.Equal(t, "f2", locs[1].FileID)
			}
		})
	}
}

func TestBatchOrderTrustDelete(t *testing.T) {
	ctx := context.Background()
	x := open(t, t.TempDir(), false, 0)
	defer x.Close()
	var entries []index.Entry
	for i := 0; i < 100_000; i += 2 {
		inst := "20250101000000001"
		if i%10 == 0 {
			inst = "20250101000000002"
		}
		entries = append(entries, entry("p", fmt.Sprintf("key-%07d", i), fmt.Sprintf("f%d", i%7), inst))
	}
	require.NoError(t, x.Put(ctx, "20250101000000002", entries))
	keys := make([]index.Key, 100_000)
	for i := range keys {
		j := 99_999 - i // reverse order: results must come back in input order
		keys[i] = index.Key{PartitionPath: "p", RecordKey: fmt.Sprintf("key-%07d", j)}
	}
	trust := func(inst string) bool { return inst != "20250101000000002" } // e.g. rolled back
	locs, found, err := x.Lookup(ctx, keys, index.LookupOptions{Trust: trust})
	require.NoError(t, err)
	for i := range keys {
		j := 99_999 - i
		want := j%2 == 0 && j%10 != 0
		require.Equal(t, want, found[i], "key %d", j)
		if want {
			require.Equal(t, fmt.Sprintf("f%d", j%7), locs[i].FileID)
		}
	}
	require.NoError(t, x.Delete(ctx, "20250101000000003", []index.Key{{"p", "key-0000002"}}))
	_, found, err = x.Lookup(ctx, []index.Key{{"p", "key-0000002"}, {"p", "key-0000004"}}, index.LookupOptions{})
	require.NoError(t, err)
	assert.Equal(t, []bool{false, true}, found)
	assert.Equal(t, "20250101000000003", x.LastApplied())
	assert.True(t, x.IsApplied("20250101000000002"))
	assert.False(t, x.IsApplied("20250101000000009"))
}

func TestTTL(t *testing.T) {
	ctx := context.Background()
	x := open(t, t.TempDir(), false, time.Second)
	defer x.Close()
	require.NoError(t, x.Put(ctx, "20250101000000001", []index.Entry{entry("p", "old", "f", "20250101000000001")}))
	time.Sleep(2100 * time.Millisecond)
	require.NoError(t, x.Put(ctx, "20250101000000002", []index.Entry{entry("p", "new", "f", "20250101000000002")}))
	_, found, err := x.Lookup(ctx, []index.Key{{"p", "old"}, {"p", "new"}}, index.LookupOptions{})
	require.NoError(t, err)
	assert.Equal(t, []bool{false, true}, found, "the old entry expired")
	// Rewriting an entry restarts its TTL.
	require.NoError(t, x.Put(ctx, "20250101000000003", []index.Entry{entry("p", "old", "f", "20250101000000003")}))
	_, found, err = x.Lookup(ctx, []index.Key{{"p", "old"}}, index.LookupOptions{})
	require.NoError(t, err)
	assert.True(t, found[0])
	// The watermark never expires.
	assert.Equal(t, "20250101000000003", x.LastApplied())
	assert.True(t, x.IsApplied("20250101000000001"))
}

func TestWatermarkSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	x := open(t, dir, false, 0)
	assert.True(t, x.IsEmpty())
	require.NoError(t, x.Put(ctx, "20250101000000005", []index.Entry{entry("p", "k", "f9", "20250101000000005")}))
	require.NoError(t, x.Close())
	x = open(t, dir, false, 0)
	defer x.Close()
	assert.False(t, x.IsEmpty())
	assert.Equal(t, "20250101000000005", x.LastApplied())
	locs, found, err := x.Lookup(ctx, []index.Key{{"p", "k"}}, index.LookupOptions{})
	require.NoError(t, err)
	require.True(t, found[0])
	assert.Equal(t, index.Location{PartitionPath: "p", FileID: "f9", Instant: "20250101000000005"}, locs[0], "dictionaries reloaded")
	assert.False(t, x.NeedsRebuild())

	// New file groups and instants after a reopen get fresh ids.
	require.NoError(t, x.Put(ctx, "20250101000000006", []index.Entry{entry("p", "k2", "f10", "20250101000000006")}))
	locs, found, err = x.Lookup(ctx, []index.Key{{"p", "k"}, {"p", "k2"}}, index.LookupOptions{})
	require.NoError(t, err)
	assert.Equal(t, []bool{true, true}, found)
	assert.Equal(t, "f9", locs[0].FileID)
	assert.Equal(t, index.Location{PartitionPath: "p", FileID: "f10", Instant: "20250101000000006"}, locs[1])
	applied, err := x.AppliedInstants(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"20250101000000005", "20250101000000006"}, applied)
	st, err := x.Stats()
	require.NoError(t, err)
	assert.Equal(t, 2, st.FileGroups)
	assert.Equal(t, 2, st.Instants)
	assert.Equal(t, 2, st.Applied)
	assert.Equal(t, "20250101000000006", st.LastApplied)
	n, err := x.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
}

func TestRebuild(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	x := open(t, dir, false, 0)
	require.NoError(t, x.Put(ctx, "20250101000000001", []index.Entry{entry("p", "stale", "f0", "20250101000000001")}))
	var progress []int64
	err := x.Rebuild(ctx, "20250101000000009", func(yield func(index.Entry) bool) error {
		for i := 0; i < 250_000; i++ {
			if !yield(entry("p", fmt.Sprintf("k%d", i), "f1", "20250101000000008")) {
				return nil
			}
		}
		return nil
	}, func(done int64) { progress = append(progress, done) })
	require.NoError(t, err)
	assert.Equal(t, []int64{100_000, 200_000, 250_000}, progress)
	assert.Equal(t, "20250101000000009", x.LastApplied())
	assert.False(t, x.NeedsRebuild())
	_, found, err := x.Lookup(ctx, []index.Key{{"p", "stale"}, {"p", "k249999"}}, index.LookupOptions{})
	require.NoError(t, err)
	assert.Equal(t, []bool{false, true}, found, "a rebuild replaces everything")

	// A rebuild that fails midway leaves the marker: the index reports it
	// needs rebuilding, also after a restart.
	err = x.Rebuild(ctx, "20250101000000010", func(yield func(index.Entry) bool) error {
		yield(entry("p", "x", "f1", "20250101000000010"))
		return fmt.Errorf("source failed")
	}, nil)
	require.ErrorContains(t, err, "source failed")
	assert.True(t, x.NeedsRebuild())
	_, _, err = x.Lookup(ctx, []index.Key{{"p", "k1"}}, index.LookupOptions{})
	require.ErrorIs(t, err, index.ErrNeedsRebuild, "a half-loaded index is not trusted")
	require.ErrorIs(t, x.Put(ctx, "20250101000000011", nil), index.ErrNeedsRebuild)
	require.NoError(t, x.Close())
	x = open(t, dir, false, 0)
	defer x.Close()
	assert.True(t, x.NeedsRebuild(), "the marker survives a restart")
	assert.True(t, x.IsEmpty())

	// A rebuild that completes clears it.
	require.NoError(t, x.Rebuild(ctx, "20250101000000012", func(yield func(index.Entry) bool) error {
		yield(entry("p", "k1", "f3", "20250101000000012"))
		return nil
	}, nil))
	assert.False(t, x.NeedsRebuild())
	applied, err := x.AppliedInstants(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"20250101000000012"}, applied, "a rebuild forgets earlier instants")
	locs, found, err := x.Lookup(ctx, []index.Key{{"p", "k1"}}, index.LookupOptions{})
	require.NoError(t, err)
	require.True(t, found[0])
	assert.Equal(t, "f3", locs[0].FileID)
}

func TestConcurrentLookupsDuringPut(t *testing.T) {
	ctx := context.Background()
	x := open(t, t.TempDir(), true, 0)
	defer x.Close()
	const rounds, keys = 20, 2000
	inst := func(i int) string { return fmt.Sprintf("2025010100000%04d", i) }
	put := func(i int) error {
		var es []index.Entry
		for j := range keys {
			es = append(es, entry(fmt.Sprintf("p%d", i%3), fmt.Sprintf("k%d", j), fmt.Sprintf("f%d", i), inst(i)))
		}
		return x.Put(ctx, inst(i), es)
	}
	require.NoError(t, put(0))
	var g errgroup.Group
	done := make(chan struct{})
	for range 3 {
		g.Go(func() error {
			var ks []index.Key
			for j := range keys {
				ks = append(ks, index.Key{RecordKey: fmt.Sprintf("k%d", j)})
			}
			for {
				select {
				case <-done:
					return nil
				default:
				}
				locs, found, err := x.Lookup(ctx, ks, index.LookupOptions{})
				if err != nil {
					return err
				}
				for j, l := range locs {
					// Every key was put by round 0: it is always found,
					// with a location some round wrote as a whole.
					if !found[j] {
						return fmt.Errorf("k%d not found", j)
					}
					var i int
					if _, err := fmt.Sscanf(l.FileID, "f%d", &i); err != nil || l.Instant != inst(i) || l.PartitionPath != fmt.Sprintf("p%d", i%3) {
						return fmt.Errorf("k%d: inconsistent location %+v", j, l)
					}
				}
			}
		})
	}
	for i := 1; i < rounds; i++ {
		require.NoError(t, put(i))
		assert.Equal(t, inst(i), x.LastApplied())
	}
	close(done)
	require.NoError(t, g.Wait())
	locs, _, err := x.Lookup(ctx, []index.Key{{RecordKey: "k7"}}, index.LookupOptions{})
	require.NoError(t, err)
	assert.Equal(t, index.Location{PartitionPath: fmt.Sprintf("p%d", (rounds-1)%3), FileID: fmt.Sprintf("f%d", rounds-1), Instant: inst(rounds - 1)}, locs[0])
}

func TestGlobalMoveAndArbitraryKeys(t *testing.T) {
	ctx := context.Background()
	odd := []string{"a\x00b", "a", "a\x00", "\xff\xfe", "\x00", "ключ/🔑", strings.Repeat("x", 4000)}
	for _, global := range []bool{false, true} {
		t.Run(fmt.Sprintf("global=%v", global), func(t *testing.T) {
			x := open(t, t.TempDir(), global, 0)
			defer x.Close()
			var es []index.Entry
			var keys []index.Key
			for i, k := range odd {
				es = append(es, entry("dt=2025/01/01", k, fmt.Sprintf("f%d", i), "20250101000000001"))
				keys = append(keys, index.Key{PartitionPath: "dt=2025/01/01", RecordKey: k})
			}
			require.NoError(t, x.Put(ctx, "20250101000000001", es))
			locs, found, err := x.Lookup(ctx, keys, index.LookupOptions{})
			require.NoError(t, err)
			for i := range odd {
				require.True(t, found[i], "%q", odd[i])
				assert.Equal(t, fmt.Sprintf("f%d", i), locs[i].FileID, "%q", odd[i])
			}

			// Moving "a" to another partition: a global index follows it,
			// a scoped one keeps both records.
			require.NoError(t, x.Put(ctx, "20250101000000002", []index.Entry{entry("dt=2025/01/02", "a", "g1", "20250101000000002")}))
			locs, found, err = x.Lookup(ctx, []index.Key{{"dt=2025/01/01", "a"}, {"dt=2025/01/02", "a"}}, index.LookupOptions{})
			require.NoError(t, err)
			assert.Equal(t, []bool{true, true}, found)
			if global {
				assert.Equal(t, index.Location{PartitionPath: "dt=2025/01/02", FileID: "g1", Instant: "20250101000000002"}, locs[0])
				assert.Equal(t, locs[0], locs[1])
			} else {
				assert.Equal(t, "f1", locs[0].FileID)
				assert.Equal(t, "g1", locs[1].FileID)
			}
		})
	}
}

func TestInvalidInput(t *testing.T) {
	ctx := context.Background()
	for _, o := range []index.Options{{}, {Dir: "x", TTL: -time.Second}, {Dir: "x", TTL: 500 * time.Millisecond}, {Dir: "x", BlockCacheSize: -1}, {Dir: "x", MemTableSize: 1000}} {
		_, err := index.Open(o)
		assert.Error(t, err, "%+v", o)
	}
	x := open(t, t.TempDir(), false, 0)
	_, _, err := x.Lookup(ctx, []index.Key{{"p\x00q", "k"}}, index.LookupOptions{})
	assert.ErrorIs(t, err, index.ErrInvalidKey, "NUL in a scoped partition path")
	_, _, err = x.Lookup(ctx, []index.Key{{"p", ""}}, index.LookupOptions{})
	assert.ErrorIs(t, err, index.ErrInvalidKey, "empty record key")
	assert.ErrorIs(t, x.Put(ctx, "", nil), index.ErrInvalidInstant)
	assert.ErrorIs(t, x.Put(ctx, "20250101000000001", []index.Entry{entry("p", "k", "f", "")}), index.ErrInvalidInstant)
	assert.ErrorIs(t, x.Delete(ctx, "20250101000000001", []index.Key{{"p", strings.Repeat("k", index.MaxKeySize)}}), index.ErrInvalidKey)
	assert.False(t, x.IsApplied("20250101000000001"), "rejected writes apply nothing")
	assert.True(t, x.IsEmpty())

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, x.Put(canceled, "20250101000000002", []index.Entry{entry("p", "k", "f", "20250101000000002")}), context.Canceled)
	assert.False(t, x.IsApplied("20250101000000002"))

	require.NoError(t, x.Close())
	require.NoError(t, x.Close())
	_, _, err = x.Lookup(ctx, []index.Key{{"p", "k"}}, index.LookupOptions{})
	assert.ErrorIs(t, err, index.ErrClosed)
	assert.ErrorIs(t, x.Put(ctx, "20250101000000003", nil), index.ErrClosed)
	assert.ErrorIs(t, x.Rebuild(ctx, "20250101000000003", func(func(index.Entry) bool) error { return nil }, nil), index.ErrClosed)
}

func TestTrustCalledOncePerInstant(t *testing.T) {
	ctx := context.Background()
	x, err := index.Open(index.Options{InMemory: true})
	require.NoError(t, err)
	defer x.Close()
	var es []index.Entry
	var keys []index.Key
	for i := range 30_000 {
		in := fmt.Sprintf("2025010100000000%d", i%3)
		es = append(es, entry("p", fmt.Sprint(i), fmt.Sprintf("f%d", i%10), in))
		keys = append(keys, index.Key{PartitionPath: "p", RecordKey: fmt.Sprint(i)})
	}
	require.NoError(t, x.Put(ctx, "20250101000000002", es))
	calls := map[string]int{}
	_, found, err := x.Lookup(ctx, keys, index.LookupOptions{Trust: func(in string) bool {
		calls[in]++
		return in != "20250101000000001"
	}})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"20250101000000000": 1, "20250101000000001": 1, "20250101000000002": 1}, calls)
	for i := range keys {
		assert.Equal(t, i%3 != 1, found[i])
	}
}

func TestMaintenance(t *testing.T) {
	ctx := context.Background()
	var logs strings.Builder
	x, err := index.Open(index.Options{Dir: t.TempDir(), MemTableSize: 1 << 20, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	defer x.Close()
	for r := range 3 {
		var es []index.Entry
		for i := range 50_000 {
			es = append(es, entry("p", fmt.Sprint(i), fmt.Sprintf("f%d", r), fmt.Sprintf("2025010100000000%d", r)))
		}
		require.NoError(t, x.Put(ctx, fmt.Sprintf("2025010100000000%d", r), es))
	}
	require.NoError(t, x.Delete(ctx, "20250101000000009", []index.Key{{"p", "1"}, {"p", "absent"}}))
	require.NoError(t, x.Compact(ctx))
	require.NoError(t, x.RunGC(ctx))
	n, err := x.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(49_999), n)
	st, err := x.Stats()
	require.NoError(t, err)
	assert.Positive(t, st.Entries, "small memtables were flushed to tables")
	assert.LessOrEqual(t, st.Entries, int64(3*50_000+10))
	assert.Equal(t, "20250101000000009", st.LastApplied)
	assert.Contains(t, logs.String(), "component=index", "Badger logs through the given logger")
}

// TestModel drives Puts, Deletes, reopens and compactions through a small
// front (so that fronts are written as runs and runs merge in the
// background) and checks lookups and Count against a map.
func TestModel(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := index.Options{Dir: dir, FrontSize: 1 << 20}
	x, err := index.Open(opts)
	require.NoError(t, err)
	defer func() { x.Close() }()
	rng := rand.New(rand.NewPCG(1, 2))
	const space = 40_000
	model := map[int]index.Location{}
	key := func(i int) index.Key {
		return index.Key{PartitionPath: fmt.Sprintf("p%d", i%3), RecordKey: fmt.Sprintf("k%d", i)}
	}
	check := func(round int) {
		keys := make([]index.Key, space)
		for i := range keys {
			keys[i] = key(i)
		}
		locs, found, err := x.Lookup(ctx, keys, index.LookupOptions{})
		require.NoError(t, err)
		for i := range keys {
			want, ok := model[i]
			require.Equal(t, ok, found[i], "round %d key %d", round, i)
			require.Equal(t, want, locs[i], "round %d key %d", round, i)
		}
		n, err := x.Count(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(len(model)), n, "round %d", round)
	}
	for round := range 80 {
		instant := fmt.Sprintf("2025010100%07d", round)
		switch op := rng.IntN(10); {
		case op < 6:
			n := 1 + rng.IntN(8000)
			entries := make([]index.Entry, n)
			for j := range entries {
				i := rng.IntN(space)
				loc := index.Location{PartitionPath: key(i).PartitionPath, FileID: fmt.Sprintf("f%d", rng.IntN(50)), Instant: instant}
				entries[j] = index.Entry{Key: key(i), Location: loc}
				model[i] = loc // the last entry of a key in a batch wins
			}
			require.NoError(t, x.Put(ctx, instant, entries))
		case op < 8:
			keys := make([]index.Key, 1+rng.IntN(3000))
			for j := range keys {
				i := rng.IntN(space)
				keys[j] = key(i)
				delete(model, i)
			}
			require.NoError(t, x.Delete(ctx, instant, keys))
		case op < 9:
			require.NoError(t, x.Close())
			x, err = index.Open(opts)
			require.NoError(t, err)
		default:
			require.NoError(t, x.Compact(ctx))
			st, err := x.Stats()
			require.NoError(t, err)
			assert.Equal(t, 1, st.Runs)
			assert.Zero(t, st.FrontEntries)
		}
		if round%10 == 9 {
			check(round)
		}
	}
	index.WaitMerges(x)
	check(-1)
	require.NoError(t, x.Close())
	x, err = index.Open(opts)
	require.NoError(t, err)
	check(-2)
}

// TestTTLShadowsOlderEntry: an expired entry hides the older entries of
// its key, also ones written without TTL, before and after compaction.
func TestTTLShadowsOlderEntry(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	x := open(t, dir, false, 0)
	require.NoError(t, x.Put(ctx, "20250101000000001", []index.Entry{entry("p", "k", "f1", "20250101000000001")}))
	require.NoError(t, x.Close())
	x = open(t, dir, false, time.Second)
	require.NoError(t, x.Put(ctx, "20250101000000002", []index.Entry{entry("p", "k", "f2", "20250101000000002")}))
	require.NoError(t, x.Close()) // the newer entry goes to its own run
	x = open(t, dir, false, time.Second)
	defer x.Close()
	time.Sleep(2100 * time.Millisecond)
	for _, compacted := range []bool{false, true} {
		if compacted {
			require.NoError(t, x.Compact(ctx))
		}
		_, found, err := x.Lookup(ctx, []index.Key{{"p", "k"}}, index.LookupOptions{})
		require.NoError(t, err)
		assert.False(t, found[0], "compacted=%v", compacted)
		n, err := x.Count(ctx)
		require.NoError(t, err)
		assert.Zero(t, n)
	}
}
