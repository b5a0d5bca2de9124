package writer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/bench/workload"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// memRows is the size of the memory benchmarks' batch: 1 M game events, or
// HOODIE_MEM_ROWS.
func memRows() int {
	if n, err := strconv.Atoi(os.Getenv("HOODIE_MEM_ROWS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// heapSampler samples HeapInuse every few milliseconds and keeps the peak.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	wg   sync.WaitGroup
}

func startHeapSampler() *heapSampler {
	s := &heapSampler{stop: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var maxLive uint64
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > s.peak.Load() {
				s.peak.Store(ms.HeapInuse)
			}
			// The heap profile describes the heap at the last GC: write it
			// when the live heap then was the largest yet.
			if prof := os.Getenv("HOODIE_MEM_PEAKPROF"); prof != "" {
				metrics.Read(live)
				if v := live[0].Value.Uint64(); v > maxLive {
					maxLive = v
					writePeakProfile(prof)
				}
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// writePeakProfile writes the heap profile (as of the last GC) to path,
// for finding what is live at the peak.
func writePeakProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.Lookup("heap").WriteTo(f, 0)
}

func (s *heapSampler) done() uint64 {
	close(s.stop)
	s.wg.Wait()
	return s.peak.Load()
}

func heapInuse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// vmHWM is the process's peak RSS (Linux), 0 when unknown.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func vmRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func resetHWM() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func memTable(b *testing.B, dir string) *table.Table {
	b.Helper()
	st, err := storage.NewLocal(filepath.Join(dir, "table"))
	if err != nil {
		b.Fatal(err)
	}
	tbl, err := table.Create(context.Background(), st, table.CreateOptions{
		Name: "game_events", Type: table.CopyOnWrite, RecordKeyFields: []string{"uuid"}, PrecombineField: "time",
		PartitionFields: []string{"dt", "game_id", "region"}, HiveStylePartitioning: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	return tbl
}

// toBatches converts events to Arrow batches of size rows.
func toBatches(events []workload.Event, size int) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	for off := 0; off < len(events); off += size {
		out = append(out, workload.ToArrow(events[off:min(len(events), off+size)]))
	}
	return out
}

// measure runs f (buffering and committing) and reports the heap and RSS
// it added over what was in use before it.
func measure(b *testing.B, f func() *writer.CommitResult) {
	b.Helper()
	runtime.GC()
	base := heapInuse()
	rss := vmRSS()
	resetHWM()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	s := startHeapSampler()
	if os.Getenv("HOODIE_MEM_MARK") != "" {
		fmt.Fprintln(os.Stderr, "measure: start")
		defer fmt.Fprintln(os.Stderr, "measure: end")
	}
	res := f()
	peak := s.done()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(peak-min(peak, base))/(1<<20), "MB-heap-added")
	if hwm := vmHWM(); hwm > 0 {
		b.ReportMetric(float64(hwm-min(hwm, rss))/(1<<20), "MB-rss-added")
	}
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/(1<<20), "MB-alloc")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/1e6, "M-allocs")
	if res != nil {
		st := res.Stats
		b.ReportMetric(float64(st.PeakHeapBytes-min(st.PeakHeapBytes, int64(base)))/(1<<20), "MB-stats-peak-added")
		b.Logf("stats: writes %d files %d bytes %d; peak heap by stage: prepare %d MB, execute %d MB, publish %d MB",
			st.Writes, st.FilesWritten, st.BytesWritten, st.PeakHeapPrepare>>20, st.PeakHeapExecute>>20, st.PeakHeapPublish>>20)
	}
}

// memBuffers are the buffer bounds the memory benchmarks run with: the
// default, and one that spills most of the batch.
var memBuffers = []struct {
	name  string
	bytes int64
}{{"buffer=default", 0}, {"buffer=32MB", 32 << 20}}

// memSource hands the caller's batches to the writer one at a time, as a
// stream consumer would: each is built when buffered and released after,
// so the measure counts what the writer keeps, not what the caller holds.
// first, if set, is the first batch's events (the updates of an upsert).
func memSource(n int, first []workload.Event) func(yield func(arrow.RecordBatch) bool) {
	return func(yield func(arrow.RecordBatch) bool) {
		gen := workload.NewGenerator(workload.Config{Seed: 3, Days: 1})
		const size = 100_000
		for off := 0; off < n; off += size {
			evs := first
			if off > 0 || first == nil {
				evs = gen.Next(min(size, n-off))
			}
			rec := workload.ToArrow(evs)
			ok := yield(rec)
			rec.Release()
			if !ok {
				return
			}
		}
	}
}

// BenchmarkMemoryInsert inserts 1 M game events into a new copy-on-write
// table in one commit and reports the heap and RSS the write added.
func BenchmarkMemoryInsert(b *testing.B) {
	for _, buf := range memBuffers {
		b.Run(buf.name, func(b *testing.B) {
			ctx := context.Background()
			n := memRows()
			for b.Loop() {
				b.StopTimer()
				dir := b.TempDir()
				tbl := memTable(b, dir)
				w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: filepath.Join(dir, "index"), BufferBytes: buf.bytes, SpillDir: dir})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				measure(b, func() *writer.CommitResult {
					for rec := range memSource(n, nil) {
						if err := w.Insert(rec); err != nil {
							b.Fatal(err)
						}
					}
					res, err := w.Commit(ctx)
					if err != nil {
						b.Fatal(err)
					}
					return res
				})
				b.StopTimer()
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkMemoryUpsert loads 1 M game events into a copy-on-write table
// (not measured), then upserts 1 M events of which 10 % update stored
// ones, and reports the heap and RSS the upsert added.
func BenchmarkMemoryUpsert(b *testing.B) {
	for _, buf := range memBuffers {
		b.Run(buf.name, func(b *testing.B) {
			ctx := context.Background()
			n := memRows()
			for b.Loop() {
				b.StopTimer()
				dir := b.TempDir()
				tbl := memTable(b, dir)
				w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: filepath.Join(dir, "index"), BufferBytes: buf.bytes, SpillDir: dir})
				if err != nil {
					b.Fatal(err)
				}
				gen := workload.NewGenerator(workload.Config{Seed: 1, Days: 1})
				stored := gen.Next(n)
				updates := gen.Updates(stored, n/10)
				for _, rec := range toBatches(stored, 100_000) {
					if err := w.BulkInsert(rec); err != nil {
						b.Fatal(err)
					}
					rec.Release()
				}
				stored = nil
				if _, err := w.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				measure(b, func() *writer.CommitResult {
					for rec := range memSource(n, updates) {
						if err := w.Upsert(rec); err != nil {
							b.Fatal(err)
						}
					}
					res, err := w.Commit(ctx)
					if err != nil {
						b.Fatal(err)
					}
					return res
				})
				b.StopTimer()
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
