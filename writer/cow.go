package writer

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hoodie-lake/hoodie/index"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/bloom"
	"github.com/hoodie-lake/hoodie/internal/merge"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// handle is the work on one file group: a new base file, or the merge of
// the latest base file with updates, deletes and inserts.
type handle struct {
	id    table.FileGroupID
	old   *table.BaseFileInfo // nil: a new file group
	upd   map[string]ref      // record key -> incoming update or delete
	ins   []ref               // new keys
	fresh int                 // ins[:fresh] had no trusted index entry (the rest moved partition)
	moved []string            // keys that moved to another partition (global index): delete here
	task  int                 // task partition id (write token, sequence numbers)
	log   *logTarget          // merge-on-read: write updates and deletes as log files
}

type handleResult struct {
	stat    timeline.WriteStat
	entries []index.Entry
	removed []index.Key
	late    int64
	empty   bool // merge-on-read: nothing to write (only late records, or deletes of keys not stored)
}

type writeContext struct {
	w              *Writer
	txn            *timeline.Txn // the commit's; instant is its time
	instant        string
	schema         *schema.Schema
	payloadDefault bool // event-time ordering against the stored record
	include        func(instant string) bool
}

// run writes the new version of one file group.
func (wc *writeContext) run(ctx context.Context, h *handle) (*handleResult, error) {
	if h.log != nil {
		return wc.runAppend(ctx, h)
	}
	start := time.Now()
	st := wc.w.st
	token := table.WriteToken{TaskPartitionID: int64(h.task), StageID: 1, TaskAttemptID: int64(h.task)}
	bf := table.BaseFile{FileID: h.id.FileID, WriteToken: token, InstantTime: wc.instant, Ext: table.ExtParquet}
	name := bf.String()
	path := name
	if h.id.PartitionPath != "" {
		path = h.id.PartitionPath + "/" + name
	}
	kind := timeline.MarkerCreate
	if h.old != nil {
		kind = timeline.MarkerMerge
	}
	if err := wc.txn.Marker(ctx, path, kind); err != nil {
		return nil, err
	}
	sw, err := st.Create(ctx, path, storage.CreateOptions{IfAbsent: true})
	if err != nil {
		return nil, err
	}
	defer sw.Abort()
	codec, err := basefile.CompressionNamed(string(wc.w.opts.Compression))
	if err != nil {
		return nil, fmt.Errorf("writer: %w", err)
	}
	fw, err := basefile.NewWriter(sw, wc.schema, basefile.WriterOptions{Compression: codec})
	if err != nil {
		return nil, err
	}
	defer fw.Abort()
	filter := bloom.NewDefault()
	res := &handleResult{}
	stat := &res.stat
	seq := int64(0)
	seqPrefix := wc.instant + "_" + strconv.Itoa(h.task) + "_"
	dataNames := fieldNames(wc.schema)

	var newRows []ref
	if h.old != nil {
		moved := map[string]bool{}
		for _, k := range h.moved {
			moved[k] = true
		}
		consumed := map[string]bool{}
		rd, err := openBase(ctx, st, h.old.Path)
		if err != nil {
			return nil, err
		}
		for rec, err := range rd.Records(ctx, 0, nil) {
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", h.old.Path, err)
			}
			err := func() error {
				defer rec.Release()
				keys, ok := arrowutil.Column(rec, schema.RecordKeyField).(*array.String)
				if !ok {
					return fmt.Errorf("%s: %s is not a string column", h.old.Path, schema.RecordKeyField)
				}
				var ord merge.OrderingReader
				if wc.payloadDefault {
					if c := arrowutil.Column(rec, wc.w.cfg.PrecombineField); c != nil {
						if ord, err = merge.NewOrderingReader(c); err != nil {
							return err
						}
					}
				}
				keep := make([]int64, 0, rec.NumRows())
				for i := 0; i < int(rec.NumRows()); i++ {
					k := keys.Value(i)
					if moved[k] {
						stat.NumDeletes++
						continue // the index entry moves with the insert
					}
					r, ok := h.upd[k]
					if !ok {
						keep = append(keep, int64(i))
						continue
					}
					consumed[k] = true
					if r.explicitDelete() {
						stat.NumDeletes++
						res.removed = append(res.removed, index.Key{PartitionPath: h.id.PartitionPath, RecordKey: k})
						continue
					}
					if ord != nil {
						if in, ok := r.ordering(); ok && merge.Compare(in, ord(i)) < 0 {
							res.late++ // a late event: the stored record is newer
							keep = append(keep, int64(i))
							continue
						}
					}
					if r.isDelete() {
						stat.NumDeletes++
						res.removed = append(res.removed, index.Key{PartitionPath: h.id.PartitionPath, RecordKey: k})
						continue
					}
					stat.NumUpdateWrites++
					newRows = append(newRows, r)
				}
				if len(keep) == 0 {
					return nil
				}
				kept, err := arrowutil.Take(ctx, rec, keep)
				if err != nil {
					return err
				}
				defer kept.Release()
				kk := arrowutil.Column(kept, schema.RecordKeyField).(*array.String)
				for i := 0; i < kk.Len(); i++ {
					filter.AddString(kk.Value(i))
				}
				meta := basefile.Meta{
					CommitTime:    metaCol(kept, schema.CommitTimeField),
					SeqNo:         metaCol(kept, schema.CommitSeqNoField),
					RecordKey:     metaCol(kept, schema.RecordKeyField),
					PartitionPath: metaCol(kept, schema.PartitionPathField),
					FileName:      basefile.Const(name),
				}
				data := arrowutil.Project(kept, dataNames)
				defer data.Release()
				return fw.Write(meta, data)
			}()
			if err != nil {
				return nil, err
			}
		}
		// Keys routed here but not found in the file (a stale index entry):
		// inserts into this group; deletes of them are no-ops.
		for k, r := range h.upd {
			if !consumed[k] && !r.isDelete() {
				newRows = append(newRows, r)
				stat.NumInserts++
			}
		}
		stat.PrevCommit = h.old.InstantTime
	} else {
		stat.PrevCommit = timeline.NullPrevCommit
	}
	stat.NumInserts += int64(len(h.ins))
	nUpdates := int(stat.NumUpdateWrites) // newRows starts with the updates
	newRows = append(newRows, h.ins...)

	// Index entries: new keys, and (with a TTL, to refresh it) updated ones;
	// an updated key otherwise keeps its entry, as its file group is the same.
	refresh := wc.w.opts.IndexTTL > 0
	res.entries = make([]index.Entry, 0, len(newRows))
	loc := index.Location{PartitionPath: h.id.PartitionPath, FileID: h.id.FileID, Instant: wc.instant}
	earlyFrom, earlyTo := len(newRows)-len(h.ins), len(newRows)-len(h.ins)+h.fresh
	for i, r := range newRows {
		if i >= earlyFrom && i < earlyTo {
			continue // indexed before the commit point
		}
		if i >= nUpdates || refresh {
			res.entries = append(res.entries, index.Entry{Key: index.Key{PartitionPath: h.id.PartitionPath, RecordKey: r.key()}, Location: loc})
		}
	}

	// Write incoming rows straight from their source batches.
	bySrc := map[*batch][]int{}
	var order []*batch
	for _, r := range newRows {
		if _, ok := bySrc[r.b]; !ok {
			order = append(order, r.b)
		}
		bySrc[r.b] = append(bySrc[r.b], r.row)
	}
	for _, b := range order {
		rows := bySrc[b]
		keys := make([]string, len(rows))
		for i, row := range rows {
			keys[i] = b.keys[row]
			filter.AddString(keys[i])
		}
		meta := basefile.Meta{
			CommitTime:    basefile.Const(wc.instant),
			SeqNo:         basefile.Sequence(seqPrefix, seq),
			RecordKey:     basefile.PerRow(keys),
			PartitionPath: basefile.Const(h.id.PartitionPath),
			FileName:      basefile.Const(name),
		}
		seq += int64(len(rows))
		if err := fw.WriteRows(meta, b.rec, rows); err != nil {
			return nil, err
		}
	}
	if err := fw.SetMetadata(basefile.BloomFilterKey, filter.Base64()); err != nil {
		return nil, err
	}
	if err := fw.SetMetadata(basefile.BloomFilterTypeK, filter.TypeCode()); err != nil {
		return nil, err
	}
	info, err := fw.Close()
	if err != nil {
		return nil, err
	}
	if err := sw.Close(); err != nil {
		return nil, err
	}
	stat.FileID = h.id.FileID
	stat.Path = path
	stat.PartitionPath = h.id.PartitionPath
	stat.NumWrites = info.Rows
	stat.FileSizeInBytes = info.Size
	stat.TotalWriteBytes = info.Size
	elapsed := time.Since(start).Milliseconds()
	rs := &timeline.RuntimeStats{}
	if h.old != nil {
		rs.TotalUpsertTime = elapsed
	} else {
		rs.TotalCreateTime = elapsed
	}
	stat.RuntimeStats = rs
	return res, nil
}

func fieldNames(s *schema.Schema) []string {
	out := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		out[i] = f.Name
	}
	return out
}

func metaCol(rec arrow.RecordBatch, name string) basefile.Strings {
	if c, ok := arrowutil.Column(rec, name).(*array.String); ok {
		return basefile.FromArrow(c)
	}
	return basefile.Const("")
}
