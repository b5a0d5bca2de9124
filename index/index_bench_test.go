package index_test

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hoodie-lake/hoodie/index"
)

// Benchmarks of the index at benchEntries entries (10 M by default; set
// HOODIE_INDEX_BENCH_ENTRIES to change it). Building the index takes a
// while: HOODIE_INDEX_BENCH_DIR names a directory where the built index is
// kept and reused by later runs (the insert benchmark copies nothing: it
// adds to it, so reuse it only for lookups, or rebuild).
//
// Each benchmark reports keys/s (wall clock) and cpu-ns/key (user+system
// CPU of the whole process, background merges included), which is less
// sensitive to a shared machine's load.

const benchInstant = "20250101000000001"

func benchEntries(b *testing.B) int {
	if s := os.Getenv("HOODIE_INDEX_BENCH_ENTRIES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 10_000_000
}

var benchParts = func() []string {
	p := make([]string, 30)
	for i := range p {
		p[i] = fmt.Sprintf("dt=2025-01-%02d", 1+i)
	}
	return p
}()

// benchKey is the i-th key of a 30-partition table with UUID-like record
// keys (fmt.Sprintf("%x-4a1b-8c2d-%012d", hash(i), i)); keys past the
// index size are misses in the same partitions.
func benchKey(i int) index.Key {
	var buf [64]byte
	b := binary.BigEndian.AppendUint64(buf[:0], uint64(i)*0x9E3779B97F4A7C15)
	k := hex.AppendEncode(buf[8:8], b)
	k = append(k, "-4a1b-8c2d-"...)
	d := strconv.AppendInt(nil, int64(i), 10)
	for range 12 - len(d) {
		k = append(k, '0')
	}
	k = append(k, d...)
	return index.Key{PartitionPath: benchParts[i%30], RecordKey: string(k)}
}

var benchGroups sync.Map // int -> string

// benchEntry is the entry of the i-th key: file groups hold 30k
// consecutive keys (1000 per partition).
func benchEntry(i int, instant string) index.Entry {
	k := benchKey(i)
	g := i / 30_000
	fid, ok := benchGroups.Load(g)
	if !ok {
		fid, _ = benchGroups.LoadOrStore(g, fmt.Sprintf("%08x-0000-0000-0000-%012d-0", g, g))
	}
	return index.Entry{Key: k, Location: index.Location{
		PartitionPath: k.PartitionPath,
		FileID:        fid.(string),
		Instant:       instant,
	}}
}

// benchIndex opens an index of n entries (keys 0..n-1), building it with
// Rebuild unless HOODIE_INDEX_BENCH_DIR holds one already.
func benchIndex(b *testing.B, n int) *index.Index {
	ctx := context.Background()
	dir := os.Getenv("HOODIE_INDEX_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	x, err := index.Open(index.Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	if !x.NeedsRebuild() && x.IsApplied(benchInstant) {
		if _, found, err := x.Lookup(ctx, []index.Key{benchKey(n - 1)}, index.LookupOptions{}); err == nil && found[0] {
			b.Logf("reusing the index in %s", dir)
			return x
		}
	}
	start := time.Now()
	err = x.Rebuild(ctx, benchInstant, func(yield func(index.Entry) bool) error {
		for i := range n {
			if !yield(benchEntry(i, benchInstant)) {
				return nil
			}
		}
		return nil
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("rebuild of %d entries: %s (%.0f entries/s)", n, time.Since(start), float64(n)/time.Since(start).Seconds())
	return x
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// meter reports keys/s and CPU per key over a benchmark.
type meter struct {
	b     *testing.B
	keys  int
	start time.Time
	cpu   time.Duration
}

func startMeter(b *testing.B) *meter {
	return &meter{b: b, start: time.Now(), cpu: cpuTime()}
}

func (m *meter) report() {
	wall := time.Since(m.start)
	cpu := cpuTime() - m.cpu
	m.b.ReportMetric(float64(m.keys)/wall.Seconds(), "keys/s")
	m.b.ReportMetric(float64(cpu.Nanoseconds())/float64(m.keys), "cpu-ns/key")
}

// BenchmarkLookup measures batched lookups of 100k keys in an index of
// benchEntries entries: all found or 10 % found (the upsert shape), of
// random keys (all over the index) or recent keys (written by the last
// few instants, as stream pipelines update).
func BenchmarkLookup(b *testing.B) {
	ctx := context.Background()
	n := benchEntries(b)
	x := benchIndex(b, n)
	defer x.Close()
	// Recent keys: 500k keys written after the rebuild, by five instants.
	const recent = 500_000
	for p := range 5 {
		instant := fmt.Sprintf("202501020000000%02d", p)
		entries := make([]index.Entry, 0, recent/5)
		for i := range recent / 5 {
			entries = append(entries, benchEntry(n+p*(recent/5)+i, instant))
		}
		if err := x.Put(ctx, instant, entries); err != nil {
			b.Fatal(err)
		}
	}
	index.WaitMerges(x)
	if st, err := x.Stats(); err == nil {
		b.Logf("%d entries, %d runs, %d in the front", st.Entries, st.Runs, st.FrontEntries)
	}
	trust := func(instant string) bool { return instant != "20250101000000009" }
	for _, access := range []string{"random", "recent"} {
		for _, hits := range []int{100, 10} {
			b.Run(fmt.Sprintf("%s/hits=%d%%", access, hits), func(b *testing.B) {
				keys := make([]index.Key, 100_000)
				for i := range keys {
					j := (i * 7919) % n
					if access == "recent" {
						j = n + (i*7919)%recent
					}
					if i%100 >= hits {
						j = n + recent + i // absent
					}
					keys[i] = benchKey(j)
				}
				b.ReportAllocs()
				m := startMeter(b)
				for b.Loop() {
					_, found, err := x.Lookup(ctx, keys, index.LookupOptions{Trust: trust})
					if err != nil {
						b.Fatal(err)
					}
					if !found[0] {
						b.Fatal("key 0 not found")
					}
					m.keys += len(keys)
				}
				m.report()
			})
		}
	}
}

// BenchmarkInsert measures Put of 100k-entry instants into an index of
// benchEntries entries: new keys only, new keys with 10 % updates of
// random keys, and updates of recent keys only. put-keys/s counts the
// time of the Puts; keys/s adds the wait for the background merges they
// left running at the end (merges that ran while the next batch was
// generated are not counted).
func BenchmarkInsert(b *testing.B) {
	ctx := context.Background()
	n := benchEntries(b)
	x := benchIndex(b, n)
	defer x.Close()
	const batch = 100_000
	next := n + 10_000_000 // beyond the lookup benchmark's keys
	instants := 0
	for _, shape := range []string{"new", "updates=10%", "recent-updates=100%"} {
		b.Run(shape, func(b *testing.B) {
			b.ReportAllocs()
			var wall, cpu time.Duration
			keys := 0
			first := next
			for b.Loop() {
				b.StopTimer()
				instants++
				instant := fmt.Sprintf("2025010300%07d", instants)
				entries := make([]index.Entry, 0, batch)
				for i := range batch {
					switch {
					case shape == "recent-updates=100%":
						entries = append(entries, benchEntry(first-1-(i*7919)%1_000_000, instant))
					case shape == "updates=10%" && i%10 == 0:
						entries = append(entries, benchEntry((i*7919)%n, instant))
					default:
						entries = append(entries, benchEntry(next, instant))
						next++
					}
				}
				b.StartTimer()
				start, c := time.Now(), cpuTime()
				if err := x.Put(ctx, instant, entries); err != nil {
					b.Fatal(err)
				}
				wall += time.Since(start)
				cpu += cpuTime() - c
				keys += len(entries)
			}
			b.ReportMetric(float64(keys)/wall.Seconds(), "put-keys/s")
			start, c := time.Now(), cpuTime()
			index.WaitMerges(x)
			wall += time.Since(start)
			cpu += cpuTime() - c
			b.ReportMetric(float64(keys)/wall.Seconds(), "keys/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(keys), "cpu-ns/key")
		})
	}
}
