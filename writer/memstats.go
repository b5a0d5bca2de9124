package writer

import (
	"runtime/metrics"
	"sync"
	"time"
)

// heapSampleEvery is how often a commit samples the Go heap for
// Stats.PeakHeap*.
const heapSampleEvery = 5 * time.Millisecond

// heapMetric is the runtime metric sampled: the bytes of heap objects, live
// or not yet swept (runtime.MemStats.HeapAlloc), read without stopping the
// world.
const heapMetric = "/memory/classes/heap/objects:bytes"

// heapWatch samples the heap through the stages of one commit (prepare,
// execute, publish) and keeps each stage's peak.
type heapWatch struct {
	mu     sync.Mutex
	stage  int
	peaks  [3]uint64
	done   chan struct{}
	wg     sync.WaitGroup
	sample []metrics.Sample
}

// watchHeap starts sampling, in the prepare stage.
func watchHeap() *heapWatch {
	h := &heapWatch{done: make(chan struct{}), sample: []metrics.Sample{{Name: heapMetric}}}
	h.take()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(heapSampleEvery)
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-t.C:
				h.take()
			}
		}
	}()
	return h
}

// take samples the heap into the current stage's peak.
func (h *heapWatch) take() {
	h.mu.Lock()
	defer h.mu.Unlock()
	metrics.Read(h.sample)
	if h.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	if v := h.sample[0].Value.Uint64(); v > h.peaks[h.stage] {
		h.peaks[h.stage] = v
	}
}

// next ends the current stage (with a last sample) and starts the next.
func (h *heapWatch) next() {
	h.take()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stage < len(h.peaks)-1 {
		h.stage++
	}
}

// stop ends sampling; it may be called more than once.
func (h *heapWatch) stop() {
	select {
	case <-h.done:
	default:
		close(h.done)
	}
	h.wg.Wait()
}

// report stops sampling and fills st's heap peaks.
func (h *heapWatch) report(st *Stats) {
	h.take()
	h.stop()
	h.mu.Lock()
	defer h.mu.Unlock()
	st.PeakHeapPrepare = int64(h.peaks[0])
	st.PeakHeapExecute = int64(h.peaks[1])
	st.PeakHeapPublish = int64(h.peaks[2])
	st.PeakHeapBytes = max(st.PeakHeapPrepare, st.PeakHeapExecute, st.PeakHeapPublish)
}
