package writer

import "sync/atomic"

// Test-only knobs of a Writer. They are not Options: the package's tests
// set them on an open writer through these.

// setHook makes w call f at the named points of a commit (see
// Writer.hook).
func (w *Writer) setHook(f func(stage string)) { w.knobs.hook = f }

// setBeforeSlot makes w call f before an optimistic commit takes its
// commit slot.
func (w *Writer) setBeforeSlot(f func()) { w.knobs.beforeSlot = f }

// setRecordSize fixes the estimated bytes per record (file sizing) at n.
func (w *Writer) setRecordSize(n int64) { w.knobs.recordSize = n }

// countOrderingReads counts the merged slices the writer reads for stored
// orderings from now on.
func (w *Writer) countOrderingReads() *atomic.Int64 {
	w.knobs.orderingReads = &atomic.Int64{}
	return w.knobs.orderingReads
}
