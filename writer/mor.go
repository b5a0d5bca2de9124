package writer

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
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
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// DefaultLogFileMaxSize is the size at which a log file is rolled to the
// next version (Hudi's hoodie.logfile.max.size).
const DefaultLogFileMaxSize = 1 << 30

// blockRecords bounds the records of one Avro data block.
const blockRecords = 50_000

// logTarget is where an append handle writes: the file group's slice and
// the base instant its new log files carry (the pending compaction's
// instant while one is pending for the group, as Hudi's writers do).
type logTarget struct {
	slice       *table.FileSlice
	baseInstant string
	taken       map[int]bool // log versions already used for baseInstant (visible or not)
}

// runAppend writes the updates and deletes of one merge-on-read file group
// as new log files of its current slice. Each deltacommit writes its own
// log files (never appending to an existing object, which S3 cannot do);
// blocks are rolled to a new log version past LogFileMaxSize.
func (wc *writeContext) runAppend(ctx context.Context, h *handle) (*handleResult, error) {
	start := time.Now()
	w := wc.w
	res := &handleResult{}
	stat := &res.stat
	lt := h.log

	// Soft deletes (_hoodie_is_deleted) obey the ordering rule against the
	// stored record as in the copy-on-write merge: resolve them now and
	// write only effective deletes, which every reader applies the same way.
	// Under DefaultHoodieRecordPayload updates obey it too: a late event
	// (an ordering value below the stored record's) would lose the merge in
	// every reader and in compaction, so it is counted as late, as the
	// copy-on-write merge counts it, and not written. The stored orderings
	// come from the merged slice of this file group only (one the batch
	// touches), read once for soft deletes and updates together.
	check := map[string]ref{}
	ordered := wc.payloadDefault && w.cfg.PrecombineField != ""
	for k, r := range h.upd {
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
	stored, err := wc.storedOrdering(ctx, lt.slice, check)
	if err != nil {
		return nil, err
	}
	// late reports whether r loses against the stored record of key k.
	late := func(k string, r ref) bool {
		so, ok := stored[k]
		if !ordered || !ok || !so.present {
			return false
		}
		in, ok := r.ordering()
		return ok && merge.Compare(in, so.ord) < 0
	}

	var updates []ref
	var deletes []logfile.DeleteRecord
	for k, r := range h.upd {
		switch {
		case r.explicitDelete():
		case r.isDelete():
			if _, ok := stored[k]; !ok {
				continue // nothing stored to delete
			}
			if late(k, r) {
				res.late++
				continue
			}
		default:
			if late(k, r) {
				res.late++
				continue
			}
			updates = append(updates, r)
			continue
		}
		deletes = append(deletes, logfile.DeleteRecord{RecordKey: k, PartitionPath: h.id.PartitionPath})
		res.removed = append(res.removed, index.Key{PartitionPath: h.id.PartitionPath, RecordKey: k})
	}
	for _, k := range h.moved {
		deletes = append(deletes, logfile.DeleteRecord{RecordKey: k, PartitionPath: h.id.PartitionPath})
	}
	sortByKey(updates)
	if len(updates) == 0 && len(deletes) == 0 {
		// Nothing to write (every record late, or deletes of keys not
		// stored): no log file, but the late count still goes to Stats.
		return &handleResult{late: res.late, empty: true}, nil
	}

	// Blocks: data blocks of at most blockRecords records, then one delete
	// block, in the header schema with meta fields.
	schemaJSON := wc.schema.WithMetaFieldsJSON()
	metaSchema := wc.schema.ToArrowWithMeta()
	seqPrefix := wc.instant + "_" + strconv.Itoa(h.task) + "_"
	seq := int64(0)
	var blocks []logfile.Block
	defer func() {
		for i := range blocks {
			blocks[i].Release()
		}
	}()
	for from := 0; from < len(updates); from += blockRecords {
		chunk := updates[from:min(from+blockRecords, len(updates))]
		rec, err := logRecords(ctx, metaSchema, chunk, wc.instant, seqPrefix, &seq, h.id)
		if err != nil {
			return nil, err
		}
		blocks = append(blocks, logfile.NewAvroDataBlock(wc.instant, schemaJSON, rec))
	}
	if len(deletes) > 0 {
		blocks = append(blocks, logfile.NewDeleteBlock(wc.instant, schemaJSON, deletes))
	}

	// Write the blocks into as many log versions as the size bound needs.
	maxSize := w.opts.LogFileMaxSize
	var names []string
	var firstVersion int
	var total int64
	for len(blocks) > 0 {
		var buf bytes.Buffer
		for len(blocks) > 0 && (buf.Len() == 0 || int64(buf.Len()) < maxSize) {
			if _, err := logfile.WriteBlock(&buf, blocks[0]); err != nil {
				return nil, err
			}
			blocks[0].Release()
			blocks = blocks[1:]
		}
		f, err := wc.createLog(ctx, h, lt, buf.Bytes())
		if err != nil {
			return nil, err
		}
		if firstVersion == 0 {
			firstVersion = f.Version
		}
		names = append(names, f.Name)
		total += int64(buf.Len())
		stat.Path = f.Path
		stat.FileSizeInBytes = int64(buf.Len())
	}

	stat.FileID = h.id.FileID
	stat.PartitionPath = h.id.PartitionPath
	stat.PrevCommit = lt.slice.BaseInstant
	stat.NumUpdateWrites = int64(len(updates))
	stat.NumDeletes = int64(len(deletes))
	stat.NumWrites = int64(len(updates))
	stat.TotalWriteBytes = total
	stat.TotalLogBlocks = 0
	v, off := firstVersion, int64(0)
	stat.LogVersion, stat.LogOffset = &v, &off
	if lt.slice.Base != nil {
		bn := lt.slice.Base.Name
		stat.BaseFile = &bn
	} else {
		empty := ""
		stat.BaseFile = &empty
	}
	stat.LogFiles = names
	stat.RuntimeStats = &timeline.RuntimeStats{TotalUpsertTime: time.Since(start).Milliseconds()}

	if w.opts.IndexTTL > 0 {
		loc := index.Location{PartitionPath: h.id.PartitionPath, FileID: h.id.FileID, Instant: wc.instant}
		for _, r := range updates {
			res.entries = append(res.entries, index.Entry{Key: index.Key{PartitionPath: h.id.PartitionPath, RecordKey: r.key()}, Location: loc})
		}
	}
	return res, nil
}

// createLog writes data as a new log file of the handle's slice, after the
// newest version the view showed (filegroup.AppendLog: marker, create-if-
// absent, the next version if another writer took one meanwhile).
func (wc *writeContext) createLog(ctx context.Context, h *handle, lt *logTarget, data []byte) (filegroup.LogFileInfo, error) {
	token := filegroup.WriteToken{TaskPartitionID: int64(h.task), StageID: 1, TaskAttemptID: int64(h.task)}
	a := filegroup.LogAppend{FileGroupID: h.id, BaseInstant: lt.baseInstant, WriteToken: token, Taken: lt.taken}
	return filegroup.AppendLog(ctx, wc.w.st, wc.txn, a, data)
}

// storedValue is the stored state of one key: present, with its ordering.
type storedValue struct {
	present bool
	ord     merge.Ordering
}

// storedOrdering reads the merged slice for the given keys (soft deletes,
// and updates under event-time ordering) and returns, per key that is stored, its ordering value.
func (wc *writeContext) storedOrdering(ctx context.Context, s *table.FileSlice, keys map[string]ref) (map[string]storedValue, error) {
	out := map[string]storedValue{}
	if len(keys) == 0 {
		return out, nil
	}
	opts := merge.Options{
		Include:         wc.include,
		PrecombineField: wc.w.cfg.PrecombineField,
		PayloadDefault:  wc.payloadDefault,
		Target:          wc.schema.ToArrowWithMeta(),
	}
	for rec, err := range merge.Slice(ctx, wc.w.st, s, opts, nil) {
		if err != nil {
			return nil, err
		}
		kc, _ := arrowutil.Column(rec, schema.RecordKeyField).(*array.String)
		var ord merge.OrderingReader
		if c := arrowutil.Column(rec, wc.w.cfg.PrecombineField); c != nil {
			ord, err = merge.NewOrderingReader(c)
			if err != nil {
				rec.Release()
				return nil, err
			}
		}
		for i := 0; kc != nil && i < kc.Len(); i++ {
			if _, ok := keys[kc.Value(i)]; ok {
				v := storedValue{present: true}
				if ord != nil {
					v.ord = ord(i)
				}
				out[kc.Value(i)] = v
			}
		}
		rec.Release()
	}
	return out, nil
}

// logRecords builds the Avro data block rows of updates: the meta columns
// (the log file name field holds the file ID, as Hudi writes it) and the
// data columns of each record's source batch.
func logRecords(ctx context.Context, sch *arrow.Schema, recs []ref, instant, seqPrefix string, seq *int64, id table.FileGroupID) (arrow.RecordBatch, error) {
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
		taken, err := arrowutil.Take(ctx, b.rec, rows)
		if err != nil {
			return nil, err
		}
		parts = append(parts, taken)
		for _, row := range rows {
			metaB[0].Append(instant)
			metaB[1].Append(seqPrefix + strconv.FormatInt(*seq, 10))
			*seq++
			metaB[2].Append(b.keys[row])
			metaB[3].Append(id.PartitionPath)
			metaB[4].Append(id.FileID)
		}
	}
	cols := make([]arrow.Array, 0, sch.NumFields())
	for _, b := range metaB {
		a := b.NewArray()
		defer a.Release()
		cols = append(cols, a)
	}
	for _, f := range sch.Fields()[len(schema.MetaFields):] {
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
			a := array.MakeArrayOfNull(mem, f.Type, 0)
			defer a.Release()
			cols = append(cols, a)
			continue
		}
		a, err := array.Concatenate(chunks, mem)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		defer a.Release()
		cols = append(cols, a)
	}
	return array.NewRecordBatch(sch, cols, int64(len(recs))), nil
}

// relocateLogs moves log files this deltacommit wrote into the slice of a
// compaction scheduled after the commit's view was built (by another
// process) whose plan covers their file group: the compaction will not
// merge them, and its new slice supersedes the old one. Run before the
// commit point; repeated until no new compaction appears.
func (w *Writer) relocateLogs(ctx context.Context, tl *timeline.Timeline, tx *timeline.Txn, work []*handle, results []*handleResult) error {
	known := map[string]bool{}
	for _, c := range tl.Compactions() {
		known[c] = true
	}
	for round := 0; round < 10; round++ {
		now, err := timeline.Load(ctx, w.st)
		if err != nil {
			return err
		}
		target := map[table.FileGroupID]string{}
		fresh := false
		for _, c := range now.Compactions() {
			if known[c] {
				continue
			}
			known[c] = true
			fresh = true
			plan, err := table.ReadCompactionPlan(ctx, w.st, c)
			if err != nil {
				return fmt.Errorf("writer: %w", err)
			}
			for _, op := range plan.Operations {
				if op.FileID == nil {
					continue
				}
				id := table.FileGroupID{FileID: *op.FileID}
				if op.PartitionPath != nil {
					id.PartitionPath = *op.PartitionPath
				}
				target[id] = max(target[id], c)
			}
		}
		if !fresh {
			return nil
		}
		for i, h := range work {
			r := results[i]
			if h.log == nil || r == nil {
				continue
			}
			c, ok := target[h.id]
			if !ok || c <= h.log.baseInstant {
				continue
			}
			if err := w.moveLogs(ctx, tx, h, r, c); err != nil {
				return fmt.Errorf("writer: moving logs of %s to compaction %s: %w", h.id, c, err)
			}
		}
	}
	return fmt.Errorf("writer: compactions keep appearing; giving up relocating logs")
}

// moveLogs copies the log files of one handle into the slice of
// compaction c, as new log files of the commit's instant (tx).
func (w *Writer) moveLogs(ctx context.Context, tx *timeline.Txn, h *handle, r *handleResult, c string) error {
	taken, err := filegroup.LogVersions(ctx, w.st, h.id, c)
	if err != nil {
		return err
	}
	var names []string
	for _, n := range r.stat.LogFiles {
		old, err := filegroup.ParseLogFileName(n)
		if err != nil {
			return err
		}
		data, err := storage.ReadFile(ctx, w.st, filegroup.DataPath(h.id.PartitionPath, n))
		if err != nil {
			return err
		}
		a := filegroup.LogAppend{FileGroupID: h.id, BaseInstant: c, WriteToken: old.WriteToken, Taken: taken}
		f, err := filegroup.AppendLog(ctx, w.st, tx, a, data)
		if err != nil {
			return err
		}
		// The original stays (readers may be listing it; its blocks are of
		// this uncompleted instant): once the compaction completes its slice
		// is superseded, and until then the copy and the original hold the
		// same records, which merge to the same result.
		names = append(names, f.Name)
		r.stat.Path = f.Path
	}
	r.stat.LogFiles = names
	empty := ""
	r.stat.BaseFile = &empty
	r.stat.PrevCommit = c
	h.log.baseInstant = c
	return nil
}
