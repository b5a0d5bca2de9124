package index_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hoodie-lake/hoodie/index"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	assert.Equal(t, "f9", locs[0].FileID, "file-group dictionary reloaded")
	assert.False(t, x.NeedsRebuild())
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
	require.Error(t, err)
	require.NoError(t, x.Close())
	x = open(t, dir, false, 0)
	defer x.Close()
	assert.True(t, x.NeedsRebuild())
}

func TestConcurrentLookupsDuringPut(t *testing.T) {
	ctx := context.Background()
	x := open(t, t.TempDir(), true, 0)
	defer x.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				var keys []index.Key
				for j := 0; j < 1000; j++ {
					keys = append(keys, index.Key{RecordKey: fmt.Sprintf("k%d", j)})
				}
				if _, _, err := x.Lookup(ctx, keys, index.LookupOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	for i := 0; i < 20; i++ {
		var es []index.Entry
		for j := 0; j < 1000; j++ {
			es = append(es, entry("", fmt.Sprintf("k%d", j), fmt.Sprintf("f%d", i), fmt.Sprintf("2025010100000%04d", i)))
		}
		require.NoError(t, x.Put(ctx, fmt.Sprintf("2025010100000%04d", i), es))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// BenchmarkLookup measures batched lookups of 100k keys in an index of 2M
// entries: all hits, and the upsert shape of 10 % hits and 90 % new keys.
func BenchmarkLookup(b *testing.B) {
	ctx := context.Background()
	x, err := index.Open(index.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	const n = 2_000_000
	key := func(i int) index.Key {
		return index.Key{PartitionPath: fmt.Sprintf("dt=2025-01-%02d", i%30), RecordKey: fmt.Sprintf("%08x-uuid-key-%d", uint32(i*2654435761), i)}
	}
	err = x.Rebuild(ctx, "20250101000000001", func(yield func(index.Entry) bool) error {
		for i := 0; i < n; i++ {
			k := key(i)
			if !yield(index.Entry{Key: k, Location: index.Location{PartitionPath: k.PartitionPath, FileID: fmt.Sprintf("f%d", i%500), Instant: "20250101000000001"}}) {
				return nil
			}
		}
		return nil
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, hitShare := range []int{100, 10} {
		b.Run(fmt.Sprintf("hits=%d%%", hitShare), func(b *testing.B) {
			keys := make([]index.Key, 100_000)
			for i := range keys {
				j := (i * 7919) % n
				if i%100 >= hitShare {
					j += n // not in the index
				}
				keys[i] = key(j)
			}
			start := time.Now()
			looked := 0
			for b.Loop() {
				if _, _, err := x.Lookup(ctx, keys, index.LookupOptions{}); err != nil {
					b.Fatal(err)
				}
				looked += len(keys)
			}
			b.ReportMetric(float64(looked)/time.Since(start).Seconds(), "keys/s")
		})
	}
}
