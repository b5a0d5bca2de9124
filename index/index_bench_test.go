package index_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hoodie-lake/hoodie/index"
)

// benchEntries is the size of the index the lookup benchmark builds;
// HOODIE_INDEX_BENCH_ENTRIES overrides it (e.g. 10000000).
func benchEntries(b *testing.B) int {
	if s := os.Getenv("HOODIE_INDEX_BENCH_ENTRIES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 2_000_000
}

// benchKey is the i-th key of a 30-partition table with UUID-like record
// keys; keys past the index size are misses in the same partitions.
func benchKey(i int) index.Key {
	var h [8]byte
	binary.BigEndian.PutUint64(h[:], uint64(i)*0x9E3779B97F4A7C15)
	return index.Key{
		PartitionPath: fmt.Sprintf("dt=2025-01-%02d", 1+i%30),
		RecordKey:     fmt.Sprintf("%x-4a1b-8c2d-%012d", h, i),
	}
}

// benchEntry is the entry of the i-th key: file groups hold 30k
// consecutive keys (1000 per partition).
func benchEntry(i int, instant string) index.Entry {
	k := benchKey(i)
	g := i / 30_000
	return index.Entry{Key: k, Location: index.Location{
		PartitionPath: k.PartitionPath,
		FileID:        fmt.Sprintf("%08x-0000-0000-0000-%012d-0", g, g),
		Instant:       instant,
	}}
}

// BenchmarkLookup measures batched lookups of 100k keys (all hits, and the
// upsert shape of 10 % hits) in an index of benchEntries entries, right
// after a Rebuild and after Compact.
func BenchmarkLookup(b *testing.B) {
	ctx := context.Background()
	n := benchEntries(b)
	opts := index.Options{Dir: b.TempDir()}
	x, err := index.Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	start := time.Now()
	err = x.Rebuild(ctx, "20250101000000001", func(yield func(index.Entry) bool) error {
		for i := range n {
			if !yield(benchEntry(i, "20250101000000001")) {
				return nil
			}
		}
		return nil
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("rebuild of %d entries: %s (%.0f entries/s)", n, time.Since(start), float64(n)/time.Since(start).Seconds())
	trust := func(instant string) bool { return instant != "20250101000000009" }
	run := func(state string) {
		for _, hits := range []int{100, 10} {
			b.Run(fmt.Sprintf("%s/hits=%d%%", state, hits), func(b *testing.B) {
				keys := make([]index.Key, 100_000)
				for i := range keys {
					j := (i * 7919) % n
					if i%100 >= hits {
						j += n // absent
					}
					keys[i] = benchKey(j)
				}
				b.ReportAllocs()
				looked := 0
				start := time.Now()
				for b.Loop() {
					_, found, err := x.Lookup(ctx, keys, index.LookupOptions{Trust: trust})
					if err != nil {
						b.Fatal(err)
					}
					if !found[0] {
						b.Fatal("key 0 not found")
					}
					looked += len(keys)
				}
				b.ReportMetric(float64(looked)/time.Since(start).Seconds(), "keys/s")
			})
		}
	}
	run("rebuilt")
	// Reopening flushes the memtables to tables, as a long-running writer's
	// index would have after its background flushes.
	if err := x.Close(); err != nil {
		b.Fatal(err)
	}
	if x, err = index.Open(opts); err != nil {
		b.Fatal(err)
	}
	run("reopened")
	start = time.Now()
	if err := x.Compact(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("compact: %s", time.Since(start))
	run("compacted")
}

// BenchmarkPut measures Put of 100k-entry instants (70 % new keys, 30 %
// updates of earlier keys) into a growing index.
func BenchmarkPut(b *testing.B) {
	ctx := context.Background()
	x, err := index.Open(index.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	const batch = 100_000
	next := 0
	put := 0
	var took time.Duration
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		instant := fmt.Sprintf("2025010100%07d", put)
		entries := make([]index.Entry, 0, batch)
		for i := range batch {
			j := next
			if i%10 < 3 && next > 0 {
				j = (i * 7919) % next // update
			} else {
				next++
			}
			entries = append(entries, benchEntry(j, instant))
		}
		b.StartTimer()
		start := time.Now()
		if err := x.Put(ctx, instant, entries); err != nil {
			b.Fatal(err)
		}
		took += time.Since(start)
		put += len(entries)
	}
	b.ReportMetric(float64(put)/took.Seconds(), "entries/s")
}
