package writer

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/index"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/internal/merge"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/timeline"
)

// logTarget is where an append handle writes: the file group's slice and
// the base instant its new log files carry (the pending compaction's
// instant while one is pending for the group, as Hudi's writers do).
type logTarget struct {
	slice       *filegroup.FileSlice
	baseInstant string
	taken       map[int]bool // log versions already used for baseInstant (visible or not)
}

// appendHandle writes the updates, inserts and deletes of one merge-on-read
// file group as new log files of its current slice (inserts and updates as
// records of the same data blocks, as Hudi's HoodieAppendHandle does). Each
// deltacommit writes its own log files (never appending to an existing
// object, which S3 cannot do); blocks are rolled to a new log version past
// LogFileMaxSize.
type appendHandle struct {
	wc     *writeContext
	h      *handle
	lt     *logTarget
	res    handleResult
	blocks []logfile.Block // built and not yet written; released on return
	// logSizes are the sizes of the log files written (stat.LogFiles).
	logSizes []int64
}

func (a *appendHandle) write(ctx context.Context) (*handleResult, error) {
	start := time.Now()
	updates, deletes, err := a.resolve(ctx)
	if err != nil {
		return nil, err
	}
	if len(updates) == 0 && len(deletes) == 0 && len(a.h.ins) == 0 {
		// Nothing to write (every record late, or deletes of keys not
		// stored): no log file, but the late count still goes to Stats.
		return &handleResult{late: a.res.late, empty: true}, nil
	}
	defer a.release()
	if err := a.buildBlocks(ctx, a.records(updates), deletes); err != nil {
		return nil, err
	}
	if err := a.writeLogs(ctx); err != nil {
		return nil, err
	}
	a.finish(updates, deletes, start)
	a.res.order = a.orderDelta(updates, deletes)
	return &a.res, nil
}

// resolve sorts the handle's records into the updates and deletes to
// write, in the order they are written.
//
// Soft deletes (_hoodie_is_deleted) obey the ordering rule against the
// stored record as in the copy-on-write merge: resolve them now and write
// only effective deletes, which every reader applies the same way. Under
// DefaultHoodieRecordPayload updates obey it too: a late event (an
// ordering value below the stored record's) would lose the merge in every
// reader and in compaction, so it is counted as late, as the copy-on-write
// merge counts it, and not written. The stored orderings come from the
// merged slice of this file group only, read once for soft deletes and
// updates together.
func (a *appendHandle) resolve(ctx context.Context) ([]ref, []logfile.DeleteRecord, error) {
	ordered := a.wc.payloadDefault && a.wc.w.cfg.PrecombineField != ""
	stored, err := a.wc.storedOrdering(ctx, a.lt.slice, a.checked(ordered))
	if err != nil {
		return nil, nil, err
	}
	// late reports whether r loses against the stored record of key k.
	late := func(k string, r ref) bool {
		so, ok := stored.get(k)
		if !ordered || !ok || !so.present {
			return false
		}
		in, ok := r.ordering()
		return ok && merge.Compare(in, so.ord) < 0
	}
	part := a.h.id.PartitionPath
	var updates []ref
	var deletes []logfile.DeleteRecord
	for k, r := range a.h.upd {
		switch {
		case r.explicitDelete():
		case r.isDelete():
			if _, ok := stored.get(k); !ok {
				continue // nothing stored to delete
			}
			if late(k, r) {
				a.res.late++
				continue
			}
		default:
			if late(k, r) {
				a.res.late++
				continue
			}
			updates = append(updates, r)
			continue
		}
		deletes = append(deletes, logfile.DeleteRecord{RecordKey: k, PartitionPath: part})
		a.res.removed = append(a.res.removed, index.Key{PartitionPath: part, RecordKey: k})
	}
	for _, k := range a.h.moved {
		deletes = append(deletes, logfile.DeleteRecord{RecordKey: k, PartitionPath: part})
	}
	sortByKey(updates)
	return updates, deletes, nil
}

// checked returns the records whose stored version resolve needs: soft
// deletes, and updates carrying an ordering value when ordered.
func (a *appendHandle) checked(ordered bool) map[string]ref {
	check := map[string]ref{}
	for k, r := range a.h.upd {
		switch {
		case r.explicitDelete():
		case r.isDelete():
			check[k] = r
		case ordered:
			if _, ok := r.ordering(); ok {
				check[k] = r
			}
		}
	}
	return check
}

// records are the data records the logs hold: the updates, then the
// inserts (new keys of the group), in key order.
func (a *appendHandle) records(updates []ref) []ref {
	if len(a.h.ins) == 0 {
		return updates
	}
	out := make([]ref, 0, len(updates)+len(a.h.ins))
	out = append(append(out, updates...), a.h.ins...)
	sortByKey(out)
	return out
}

// buildBlocks makes the log blocks: data blocks of at most blockRecords
// records, then one delete block, in the header schema with meta fields.
func (a *appendHandle) buildBlocks(ctx context.Context, recs []ref, deletes []logfile.DeleteRecord) error {
	instant := a.wc.instant
	schemaJSON := a.wc.schema.WithMetaFieldsJSON()
	metaSchema := a.wc.schema.ToArrowWithMeta()
	rows := logRows{instant: instant, seqPrefix: a.wc.seqPrefix(a.h), id: a.h.id}
	for from := 0; from < len(recs); from += blockRecords {
		chunk := recs[from:min(from+blockRecords, len(recs))]
		rec, err := rows.records(ctx, metaSchema, chunk)
		if err != nil {
			return err
		}
		blk, err := a.wc.newDataBlock(instant, schemaJSON, rec)
		if err != nil {
			return err
		}
		a.blocks = append(a.blocks, blk)
	}
	if len(deletes) > 0 {
		a.blocks = append(a.blocks, logfile.NewDeleteBlock(instant, schemaJSON, deletes))
	}
	return nil
}

// release frees the blocks not written.
func (a *appendHandle) release() {
	for i := range a.blocks {
		a.blocks[i].Release()
	}
	a.blocks = nil
}

// writeLogs writes the blocks into as many log versions as the size bound
// needs (each block whole, at least one per file). The stat names every
// file written, and the last one's path and size.
func (a *appendHandle) writeLogs(ctx context.Context) error {
	stat := &a.res.stat
	maxSize := a.wc.w.opts.LogFileMaxSize
	for len(a.blocks) > 0 {
		var buf bytes.Buffer
		for len(a.blocks) > 0 && (buf.Len() == 0 || int64(buf.Len()) < maxSize) {
			if _, err := logfile.WriteBlock(&buf, a.blocks[0]); err != nil {
				return err
			}
			a.blocks[0].Release()
			a.blocks = a.blocks[1:]
		}
		f, err := a.createLog(ctx, buf.Bytes())
		if err != nil {
			return err
		}
		if stat.LogVersion == nil {
			v, off := f.Version, int64(0)
			stat.LogVersion, stat.LogOffset = &v, &off
		}
		stat.LogFiles = append(stat.LogFiles, f.Name)
		a.logSizes = append(a.logSizes, int64(buf.Len()))
		stat.TotalWriteBytes += int64(buf.Len())
		stat.Path = f.Path
		stat.FileSizeInBytes = int64(buf.Len())
	}
	return nil
}

// createLog writes data as a new log file of the handle's slice, after the
// newest version the view showed (filegroup.AppendLog: marker, create-if-
// absent, the next version if another writer took one meanwhile).
func (a *appendHandle) createLog(ctx context.Context, data []byte) (filegroup.LogFileInfo, error) {
	la := filegroup.LogAppend{FileGroupID: a.h.id, BaseInstant: a.lt.baseInstant, WriteToken: a.h.writeToken(), Taken: a.lt.taken}
	return filegroup.AppendLog(ctx, a.wc.w.st, a.wc.txn, la, data)
}

// finish completes the write stat (a HoodieDeltaWriteStat: every record
// written counts in NumWrites, and as an update or an insert) and the index
// entries: the inserted keys that moved partition (the others were indexed
// before the commit point) and, with an index TTL, the updated keys, to
// refresh them.
func (a *appendHandle) finish(updates []ref, deletes []logfile.DeleteRecord, start time.Time) {
	id := a.h.id
	stat := &a.res.stat
	stat.FileID = id.FileID
	stat.PartitionPath = id.PartitionPath
	stat.PrevCommit = a.lt.slice.BaseInstant
	stat.NumUpdateWrites = int64(len(updates))
	stat.NumInserts = int64(len(a.h.ins))
	stat.NumDeletes = int64(len(deletes))
	stat.NumWrites = int64(len(updates) + len(a.h.ins))
	baseFile := ""
	if a.lt.slice.Base != nil {
		baseFile = a.lt.slice.Base.Name
	}
	stat.BaseFile = &baseFile
	stat.RuntimeStats = &timeline.RuntimeStats{TotalUpsertTime: time.Since(start).Milliseconds()}
	loc := index.Location{PartitionPath: id.PartitionPath, FileID: id.FileID, Instant: a.wc.instant}
	entry := func(r ref) index.Entry {
		return index.Entry{Key: index.Key{PartitionPath: id.PartitionPath, RecordKey: r.key()}, Location: loc}
	}
	for _, r := range a.h.ins[a.h.fresh:] {
		a.res.entries = append(a.res.entries, entry(r))
	}
	if a.wc.w.opts.IndexTTL > 0 {
		for _, r := range updates {
			a.res.entries = append(a.res.entries, entry(r))
		}
	}
}

// storedValue is the stored state of one key: present, with its ordering.
type storedValue struct {
	present bool
	ord     merge.Ordering
}

// storedOrdering returns the stored state of the given keys (soft
// deletes, and updates under event-time ordering) in slice s: from the
// writer's orderCache when it holds the slice, else read from the merged
// slice (and then kept whole, for the group's next commits).
func (wc *writeContext) storedOrdering(ctx context.Context, s *filegroup.FileSlice, keys map[string]ref) (storedKeys, error) {
	if len(keys) == 0 {
		return storedMap{}, nil
	}
	cache := wc.w.orders
	if cache == nil {
		out := storedMap{}
		err := wc.readOrdering(ctx, s, func(k string, v storedValue) {
			if _, ok := keys[k]; ok {
				out[strings.Clone(k)] = v
			}
		})
		return out, err
	}
	sig := sliceSignature(s)
	if g, ok := cache.get(s.FileGroupID, sig); ok {
		return g, nil
	}
	g := cache.newGroupKeys()
	if err := wc.readOrdering(ctx, s, g.set); err != nil {
		return nil, err
	}
	cache.put(s.FileGroupID, sig, g)
	return g, nil
}

// readOrdering reads the merged slice s and calls add with the stored
// state of each key (k and v refer to the batch read; add copies what it
// keeps).
func (wc *writeContext) readOrdering(ctx context.Context, s *filegroup.FileSlice, add func(k string, v storedValue)) error {
	if n := wc.w.knobs.orderingReads; n != nil {
		n.Add(1)
	}
	opts := merge.Options{
		Include:         wc.include,
		PrecombineField: wc.w.cfg.PrecombineField,
		PayloadDefault:  wc.payloadDefault,
		Target:          wc.orderingSchema(),
	}
	for rec, err := range merge.Slice(ctx, wc.w.st, s, opts, nil) {
		if err != nil {
			return err
		}
		kc, _ := arrowutil.Column(rec, schema.RecordKeyField).(*array.String)
		var ord merge.OrderingReader
		if c := arrowutil.Column(rec, wc.w.cfg.PrecombineField); c != nil {
			ord, err = merge.NewOrderingReader(c)
			if err != nil {
				rec.Release()
				return err
			}
		}
		for i := 0; kc != nil && i < kc.Len(); i++ {
			v := storedValue{present: true}
			if ord != nil {
				v.ord = ord(i)
			}
			add(kc.Value(i), v)
		}
		rec.Release()
	}
	return nil
}

// orderingSchema is the part of the table schema the stored orderings are
// read in: the meta columns, the precombine field and _hoodie_is_deleted,
// all the merge looks at.
func (wc *writeContext) orderingSchema() *arrow.Schema {
	full := wc.schema.ToArrowWithMeta()
	var fs []arrow.Field
	for i, f := range full.Fields() {
		if i < len(schema.MetaFields) || f.Name == wc.w.cfg.PrecombineField || f.Name == schema.IsDeletedField {
			fs = append(fs, f)
		}
	}
	return arrow.NewSchema(fs, nil)
}

// logRows fills the meta columns of the Avro data block rows of one
// handle: commit time, sequence numbers running across its blocks, record
// key, partition, and the file ID in the file name field (as Hudi writes
// it in log files).
type logRows struct {
	instant   string
	seqPrefix string
	seq       int64
	id        filegroup.FileGroupID
}

// records builds the data block rows of recs in schema sch (meta fields,
// then the data columns of each record's source batch, cast to sch).
func (lr *logRows) records(ctx context.Context, sch *arrow.Schema, recs []ref) (arrow.RecordBatch, error) {
	mem := memory.DefaultAllocator
	metaB := make([]*array.StringBuilder, len(schema.MetaFields))
	for i := range metaB {
		metaB[i] = array.NewStringBuilder(mem)
		defer metaB[i].Release()
	}
	// Group rows by source batch, keeping the order of recs within each.
	bySrc := map[*batch][]int64{}
	var order []*batch
	for _, r := range recs {
		if _, ok := bySrc[r.b]; !ok {
			order = append(order, r.b)
		}
		bySrc[r.b] = append(bySrc[r.b], int64(r.row))
	}
	var parts []arrow.RecordBatch
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	for _, b := range order {
		rows := bySrc[b]
		rec, err := b.record()
		if err != nil {
			return nil, err
		}
		taken, err := arrowutil.Take(ctx, rec, rows)
		rec.Release()
		if err != nil {
			return nil, err
		}
		parts = append(parts, taken)
		for _, row := range rows {
			metaB[0].Append(lr.instant)
			metaB[1].Append(lr.seqPrefix + strconv.FormatInt(lr.seq, 10))
			lr.seq++
			metaB[2].Append(b.keys[row])
			metaB[3].Append(lr.id.PartitionPath)
			metaB[4].Append(lr.id.FileID)
		}
	}
	cols := make([]arrow.Array, 0, sch.NumFields())
	for _, b := range metaB {
		a := b.NewArray()
		defer a.Release()
		cols = append(cols, a)
	}
	for _, f := range sch.Fields()[len(schema.MetaFields):] {
		a, err := concatColumn(f, parts)
		if err != nil {
			return nil, err
		}
		defer a.Release()
		cols = append(cols, a)
	}
	return array.NewRecordBatch(sch, cols, int64(len(recs))), nil
}

// concatColumn concatenates column f of parts, cast to f's type.
func concatColumn(f arrow.Field, parts []arrow.RecordBatch) (arrow.Array, error) {
	mem := memory.DefaultAllocator
	var chunks []arrow.Array
	for _, p := range parts {
		c := arrowutil.Column(p, f.Name)
		if c == nil {
			return nil, fmt.Errorf("buffered batch lacks column %q", f.Name)
		}
		if !arrow.TypeEqual(c.DataType(), f.Type) {
			cast, err := arrowutil.Cast(c, f.Type)
			if err != nil {
				return nil, fmt.Errorf("column %q: %w", f.Name, err)
			}
			defer cast.Release()
			c = cast
		}
		chunks = append(chunks, c)
	}
	if len(chunks) == 0 {
		return array.MakeArrayOfNull(mem, f.Type, 0), nil
	}
	a, err := array.Concatenate(chunks, mem)
	if err != nil {
		return nil, fmt.Errorf("column %q: %w", f.Name, err)
	}
	return a, nil
}

// orderDelta is what this handle's commit changes in the stored state of
// its group's keys (orderCache), once the commit completes: the records
// written are stored with their ordering (only records that won the
// checks were written), the deleted keys are gone. A log written for a
// pending compaction's slice starts a slice the cache does not hold. No
// delta is built for a group the cache holds no entry for.
func (a *appendHandle) orderDelta(updates []ref, deletes []logfile.DeleteRecord) *orderDelta {
	if a.wc.w.orders == nil {
		return nil
	}
	from := sliceSignature(a.lt.slice)
	if !a.wc.w.orders.holds(a.h.id, from) {
		return nil // no entry to update: the group's next check reads it
	}
	d := &orderDelta{id: a.h.id, from: from, written: a.res.stat.LogFiles}
	if a.lt.baseInstant == a.lt.slice.BaseInstant {
		var b strings.Builder
		b.WriteString(d.from)
		for i, name := range a.res.stat.LogFiles {
			appendLogSig(&b, name, a.logSizes[i])
		}
		d.to = b.String()
	}
	d.set = make(map[string]storedValue, len(updates)+len(a.h.ins))
	for _, r := range updates {
		d.set[strings.Clone(r.key())] = orderingOf(r)
	}
	for _, r := range a.h.ins {
		d.set[strings.Clone(r.key())] = orderingOf(r)
	}
	for _, del := range deletes {
		d.removed = append(d.removed, del.RecordKey)
	}
	return d
}
