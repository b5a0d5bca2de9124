package writer

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hoodie-lake/hoodie/index"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/merge"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/timeline"
)

// mergeHandle rewrites the latest base file of a file group (copy on
// write): stored rows are kept, replaced by their update, or dropped by a
// delete; then come the updates, keys routed here that the file lacks,
// and the inserts.
type mergeHandle struct {
	wc       *writeContext
	h        *handle
	bw       *baseFileWriter
	res      handleResult
	moved    map[string]bool // keys that moved to another partition
	consumed map[string]bool // keys of h.upd found in the file
	updates  []ref           // incoming records replacing stored ones, in file order
}

func (m *mergeHandle) write(ctx context.Context) (*handleResult, error) {
	start := time.Now()
	bw, err := m.wc.openBaseFile(ctx, m.h, timeline.MarkerMerge)
	if err != nil {
		return nil, err
	}
	defer bw.abort()
	m.bw = bw
	if err := m.mergeStored(ctx); err != nil {
		return nil, err
	}
	stat := &m.res.stat
	rows := m.updates
	// Keys routed here but not found in the file (a stale index entry):
	// inserts into this group; deletes of them are no-ops.
	for k, r := range m.h.upd {
		if !m.consumed[k] && !r.isDelete() {
			rows = append(rows, r)
			stat.NumInserts++
		}
	}
	stat.PrevCommit = m.h.old.InstantTime
	stat.NumInserts += int64(len(m.h.ins))
	rows = append(rows, m.h.ins...)
	m.res.entries = m.wc.baseIndexEntries(m.h, rows, len(m.updates))
	if err := bw.writeRefs(rows); err != nil {
		return nil, err
	}
	if err := bw.close(stat); err != nil {
		return nil, err
	}
	stat.RuntimeStats = &timeline.RuntimeStats{TotalUpsertTime: time.Since(start).Milliseconds()}
	return &m.res, nil
}

// mergeStored reads the old base file batch by batch and writes the rows
// it keeps.
func (m *mergeHandle) mergeStored(ctx context.Context) error {
	m.moved = make(map[string]bool, len(m.h.moved))
	for _, k := range m.h.moved {
		m.moved[k] = true
	}
	m.consumed = map[string]bool{}
	path := m.h.old.Path
	rd, err := openBase(ctx, m.wc.w.st, path)
	if err != nil {
		return err
	}
	for rec, err := range rd.Records(ctx, 0, nil) {
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		err = m.mergeBatch(ctx, rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// mergeBatch decides each stored row of rec and writes the kept ones.
func (m *mergeHandle) mergeBatch(ctx context.Context, rec arrow.RecordBatch) error {
	keys, ok := arrowutil.Column(rec, schema.RecordKeyField).(*array.String)
	if !ok {
		return fmt.Errorf("%s: %s is not a string column", m.h.old.Path, schema.RecordKeyField)
	}
	var ord merge.OrderingReader
	if m.wc.payloadDefault {
		if c := arrowutil.Column(rec, m.wc.w.cfg.PrecombineField); c != nil {
			var err error
			if ord, err = merge.NewOrderingReader(c); err != nil {
				return err
			}
		}
	}
	keep := make([]int64, 0, rec.NumRows())
	for i := 0; i < int(rec.NumRows()); i++ {
		if m.keep(keys.Value(i), ord, i) {
			keep = append(keep, int64(i))
		}
	}
	if len(keep) == 0 {
		return nil
	}
	kept, err := arrowutil.Take(ctx, rec, keep)
	if err != nil {
		return err
	}
	defer kept.Release()
	return m.bw.writeStored(kept)
}

// keep decides stored row i with key k (ord reads the stored orderings
// under event-time ordering, else nil): true keeps it as stored; false
// drops it, for a delete or for an update, which joins m.updates.
func (m *mergeHandle) keep(k string, ord merge.OrderingReader, i int) bool {
	stat := &m.res.stat
	if m.moved[k] {
		stat.NumDeletes++
		return false // the index entry moves with the insert
	}
	r, ok := m.h.upd[k]
	if !ok {
		return true
	}
	m.consumed[k] = true
	if r.explicitDelete() {
		m.remove(k)
		return false
	}
	if ord != nil {
		if in, ok := r.ordering(); ok && merge.Compare(in, ord(i)) < 0 {
			m.res.late++ // a late event: the stored record is newer
			return true
		}
	}
	if r.isDelete() {
		m.remove(k)
		return false
	}
	stat.NumUpdateWrites++
	m.updates = append(m.updates, r)
	return false
}

// remove counts the delete of stored key k and drops its index entry.
func (m *mergeHandle) remove(k string) {
	m.res.stat.NumDeletes++
	m.res.removed = append(m.res.removed, index.Key{PartitionPath: m.h.id.PartitionPath, RecordKey: k})
}
