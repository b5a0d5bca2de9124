// Package merge reads a merge-on-read file slice the way Hudi's merged log
// record scanner does: the base file, then the log blocks of completed
// instants in log order, combined per record key by the ordering
// (precombine) field and the payload rules.
//
// Within the logs (HoodieMergedLogRecordScanner):
//   - a rollback command block drops every earlier block of the slice whose
//     INSTANT_TIME is its TARGET_INSTANT_TIME;
//   - blocks of instants that are not completed (or after the read instant)
//     are skipped; corrupt blocks are skipped and counted;
//   - a data record replaces the previous one of its key when its ordering
//     value is at least the previous one's, and always after a delete;
//   - a delete replaces the previous record unless its ordering value is
//     non-zero (zero means natural order), of the same kind and smaller.
//
// Against the base file: a log delete removes the record; a log record
// replaces the base record always (OverwriteWithLatestAvroPayload) or only
// when its ordering is at least the base record's
// (DefaultHoodieRecordPayload). A winning record flagged
// `_hoodie_is_deleted` is a delete.
package merge

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/big"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/storage"
)

// ErrUnsupported reports a log construct this package does not merge.
var ErrUnsupported = errors.New("merge: unsupported")

// Options configure a merge.
type Options struct {
	// Include reports whether data and delete blocks written by an
	// instant count: for a read of a timeline, its visibility rule
	// (timeline.Timeline.Visible).
	Include func(instant string) bool
	// PrecombineField is the ordering field ("" = none: later wins).
	PrecombineField string
	// PayloadDefault selects DefaultHoodieRecordPayload: a log record
	// replaces the base record only if its ordering is >= the base
	// record's. Otherwise (OverwriteWithLatestAvroPayload) it always does.
	PayloadDefault bool
	// Target is the schema of every output batch (meta columns first).
	// Required.
	Target *arrow.Schema
	// BatchRows bounds rows per base-file batch (0: the reader default).
	BatchRows int
}

// Stats count what a merge read.
type Stats struct {
	LogFiles         int64
	LogBytes         int64
	LogBlocks        int64 // data and delete blocks merged
	LogRecords       int64 // data records read from merged blocks
	LogDeletes       int64 // delete records read from merged blocks
	SkippedBlocks    int64 // blocks of instants not included
	RolledBackBlocks int64 // blocks dropped by rollback command blocks
	CorruptBlocks    int64
	BaseRecords      int64
	Output           int64
}

// entry is the current log record of one key.
type entry struct {
	batch   int32 // index into Logs.batches; -1 for a delete
	row     int32
	ord     Ordering
	hasOrd  bool
	deleted bool // delete record, or a data record flagged _hoodie_is_deleted
	tomb    bool // a delete record (not a data record)
	used    bool // matched a base record
}

// Logs is the merged content of a slice's log files: per record key the
// winning log record or delete.
type Logs struct {
	batches []arrow.RecordBatch // conformed to Options.Target
	entries map[string]*entry
	order   []string // keys in first-seen order
	Stats   Stats
}

// Release frees the log batches.
func (l *Logs) Release() {
	for _, b := range l.batches {
		b.Release()
	}
	l.batches = nil
}

// Len is the number of keys with a log record or delete.
func (l *Logs) Len() int { return len(l.entries) }

// Keys yields each key with a log record and whether its final log record
// is a delete record (which removes the key whatever the base holds).
func (l *Logs) Keys() iter.Seq2[string, bool] {
	return func(yield func(string, bool) bool) {
		for _, k := range l.order {
			if !yield(k, l.entries[k].tomb) {
				return
			}
		}
	}
}

type rawBlock struct {
	b       logfile.Block
	instant string
	dropped bool
}

// ScanLogs reads and merges the log files of one slice, in the given order.
func ScanLogs(ctx context.Context, st storage.Storage, logs []filegroup.LogFileInfo, opts Options) (*Logs, error) {
	if opts.Target == nil {
		return nil, errors.New("merge: no target schema")
	}
	out := &Logs{entries: map[string]*entry{}}
	var blocks []*rawBlock
	release := func() {
		for _, rb := range blocks {
			rb.b.Release()
		}
	}
	for _, lf := range logs {
		out.Stats.LogFiles++
		out.Stats.LogBytes += lf.Size
		ra, err := storage.NewReaderAt(ctx, st, lf.Path)
		if err != nil {
			release()
			return nil, fmt.Errorf("merge: %w", err)
		}
		for b, err := range logfile.NewReader(ra, ra.Size()).All() {
			if err != nil {
				b.Release()
				release()
				return nil, fmt.Errorf("merge: %s at offset %d: %w", lf.Path, b.Offset, err)
			}
			switch b.Type {
			case logfile.CorruptBlock:
				out.Stats.CorruptBlocks++
				continue
			case logfile.CommandBlock:
				if b.Header.Value(logfile.CommandBlockType) != logfile.RollbackCommand {
					continue
				}
				target := b.Header.Value(logfile.TargetInstantTime)
				for _, prev := range blocks {
					if !prev.dropped && prev.instant == target {
						prev.dropped = true
						prev.b.Release()
						out.Stats.RolledBackBlocks++
					}
				}
				continue
			case logfile.AvroDataBlock, logfile.ParquetDataBlock, logfile.DeleteBlock:
			default:
				b.Release()
				release()
				return nil, fmt.Errorf("%w: %s: %v", ErrUnsupported, lf.Path, b.Type)
			}
			inst := b.Header.Value(logfile.InstantTime)
			if opts.Include != nil && !opts.Include(inst) {
				out.Stats.SkippedBlocks++
				b.Release()
				continue
			}
			b.Content = nil
			blocks = append(blocks, &rawBlock{b: b, instant: inst})
		}
	}
	defer release()
	for _, rb := range blocks {
		if rb.dropped {
			continue
		}
		out.Stats.LogBlocks++
		var err error
		if rb.b.Type == logfile.DeleteBlock {
			out.addDeletes(rb.b.Deletes)
			continue
		}
		for _, rec := range rb.b.Records {
			if err = out.addRecords(rec, opts); err != nil {
				out.Release()
				return nil, err
			}
		}
	}
	return out, nil
}

func (l *Logs) addRecords(rec arrow.RecordBatch, opts Options) error {
	conf, err := arrowutil.Conform(rec, opts.Target)
	if err != nil {
		return fmt.Errorf("merge: log records: %w", err)
	}
	keys, ok := arrowutil.Column(conf, schema.RecordKeyField).(*array.String)
	if !ok {
		conf.Release()
		return fmt.Errorf("merge: log records without a string %s column", schema.RecordKeyField)
	}
	var ord OrderingReader
	if opts.PrecombineField != "" {
		if c := arrowutil.Column(conf, opts.PrecombineField); c != nil {
			if ord, err = NewOrderingReader(c); err != nil {
				conf.Release()
				return fmt.Errorf("merge: %w", err)
			}
		}
	}
	del, _ := arrowutil.Column(conf, schema.IsDeletedField).(*array.Boolean)
	bi := int32(len(l.batches))
	l.batches = append(l.batches, conf)
	for i := 0; i < keys.Len(); i++ {
		l.Stats.LogRecords++
		n := &entry{batch: bi, row: int32(i)}
		if ord != nil {
			n.ord, n.hasOrd = ord(i), true
		}
		n.deleted = del != nil && del.IsValid(i) && del.Value(i)
		k := keys.Value(i)
		p := l.entries[k]
		if p == nil {
			l.entries[k] = n
			l.order = append(l.order, k)
			continue
		}
		if p.tomb || !n.hasOrd || !p.hasOrd || Compare(n.ord, p.ord) >= 0 {
			l.entries[k] = n
		}
	}
	return nil
}

func (l *Logs) addDeletes(dels []logfile.DeleteRecord) {
	for _, d := range dels {
		l.Stats.LogDeletes++
		o, natural := FromValue(d.OrderingVal)
		n := &entry{batch: -1, ord: o, hasOrd: !natural, deleted: true, tomb: true}
		p := l.entries[d.RecordKey]
		if p == nil {
			l.entries[d.RecordKey] = n
			l.order = append(l.order, d.RecordKey)
			continue
		}
		if !natural && p.hasOrd && !p.tomb && o.kind == p.ord.kind && Compare(o, p.ord) < 0 {
			continue // the delete is older than the record it would delete
		}
		l.entries[d.RecordKey] = n
	}
}

// FromValue converts a delete record's ordering value. natural reports the
// value Java treats as "no ordering" (null, or the integer 0 Spark SQL
// DELETE writes).
func FromValue(v any) (o Ordering, natural bool) {
	switch x := v.(type) {
	case nil:
		return Ordering{}, true
	case int32:
		return Ordering{kind: 'i', i: int64(x)}, x == 0
	case int64:
		return Ordering{kind: 'i', i: x}, false
	case bool:
		if x {
			return Ordering{kind: 'i', i: 1}, false
		}
		return Ordering{kind: 'i'}, false
	case float32:
		return Ordering{kind: 'f', f: float64(x)}, false
	case float64:
		return Ordering{kind: 'f', f: x}, false
	case string:
		return Ordering{kind: 's', s: x}, false
	case []byte:
		return Ordering{kind: 's', s: string(x)}, false
	case logfile.Date:
		return Ordering{kind: 'i', i: int64(x)}, false
	case logfile.TimeMicros:
		return Ordering{kind: 'i', i: int64(x)}, false
	case logfile.TimestampMicros:
		return Ordering{kind: 'i', i: int64(x)}, false
	case logfile.Decimal:
		if x.Unscaled == nil {
			return Ordering{}, true
		}
		f, _ := new(big.Float).Quo(new(big.Float).SetInt(x.Unscaled), big.NewFloat(1e15)).Float64()
		return Ordering{kind: 'f', f: f}, false
	}
	return Ordering{}, true
}

// Slice yields the merged records of one file slice: the base file's
// records with log records applied, then the log records of keys the base
// file does not hold. Every batch has opts.Target's schema and must be
// released. stats, when not nil, is filled once the iteration ends.
func Slice(ctx context.Context, st storage.Storage, s *filegroup.FileSlice, opts Options, stats *Stats) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		var logs *Logs
		if len(s.Logs) > 0 {
			var err error
			if logs, err = ScanLogs(ctx, st, s.Logs, opts); err != nil {
				yield(nil, err)
				return
			}
			defer logs.Release()
		}
		var local Stats
		if logs != nil {
			local = logs.Stats
		}
		if stats != nil {
			defer func() { *stats = local }()
		}
		if s.Base != nil {
			for out, err := range baseMerged(ctx, st, s.Base.Path, logs, opts, &local) {
				if err != nil {
					yield(nil, err)
					return
				}
				local.Output += out.NumRows()
				if !yield(out, nil) {
					out.Release()
					return
				}
			}
		}
		if logs == nil {
			return
		}
		// Log records of keys the base file does not hold, batch by batch.
		rows := make([][]int64, len(logs.batches))
		for _, k := range logs.order {
			e := logs.entries[k]
			if e.used || e.deleted {
				continue
			}
			rows[e.batch] = append(rows[e.batch], int64(e.row))
		}
		for bi, r := range rows {
			if len(r) == 0 {
				continue
			}
			out, err := arrowutil.Take(ctx, logs.batches[bi], r)
			if err != nil {
				yield(nil, fmt.Errorf("merge: %w", err))
				return
			}
			local.Output += out.NumRows()
			if !yield(out, nil) {
				out.Release()
				return
			}
		}
	}
}

// baseMerged yields the base file's batches with log records applied: base
// rows kept, and log rows that replace base rows (taken from the log
// batches, in their batch order).
func baseMerged(ctx context.Context, st storage.Storage, path string, logs *Logs, opts Options, stats *Stats) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		ra, err := storage.NewReaderAt(ctx, st, path)
		if err != nil {
			yield(nil, fmt.Errorf("merge: %w", err))
			return
		}
		rd, err := basefile.Open(ra, ra.Size())
		if err != nil {
			yield(nil, fmt.Errorf("merge: %s: %w", path, err))
			return
		}
		for rec, err := range rd.Records(ctx, opts.BatchRows, nil) {
			if err != nil {
				yield(nil, fmt.Errorf("merge: %s: %w", path, err))
				return
			}
			conf, err := arrowutil.Conform(rec, opts.Target)
			rec.Release()
			if err != nil {
				yield(nil, fmt.Errorf("merge: %s: %w", path, err))
				return
			}
			stats.BaseRecords += conf.NumRows()
			if logs == nil || len(logs.entries) == 0 {
				if !yield(conf, nil) {
					conf.Release()
					return
				}
				continue
			}
			out, repl, err := applyLogs(ctx, conf, logs, opts)
			conf.Release()
			if err != nil {
				yield(nil, fmt.Errorf("merge: %s: %w", path, err))
				return
			}
			for i, o := range append([]arrow.RecordBatch{out}, repl...) {
				if o.NumRows() == 0 {
					o.Release()
					continue
				}
				if !yield(o, nil) {
					for _, r := range repl[i:] {
						r.Release()
					}
					if i == 0 {
						o.Release()
					}
					return
				}
			}
		}
	}
}

// applyLogs returns the kept rows of one base batch and the log rows that
// replace some of its rows.
func applyLogs(ctx context.Context, base arrow.RecordBatch, logs *Logs, opts Options) (arrow.RecordBatch, []arrow.RecordBatch, error) {
	keys, ok := arrowutil.Column(base, schema.RecordKeyField).(*array.String)
	if !ok {
		return nil, nil, fmt.Errorf("base file without a string %s column", schema.RecordKeyField)
	}
	var ord OrderingReader
	if opts.PayloadDefault && opts.PrecombineField != "" {
		if c := arrowutil.Column(base, opts.PrecombineField); c != nil {
			var err error
			if ord, err = NewOrderingReader(c); err != nil {
				return nil, nil, err
			}
		}
	}
	del, _ := arrowutil.Column(base, schema.IsDeletedField).(*array.Boolean)
	keep := make([]int64, 0, keys.Len())
	repl := map[int32][]int64{}
	var replOrder []int32
	for i := 0; i < keys.Len(); i++ {
		e := logs.entries[keys.Value(i)]
		if e == nil {
			if del != nil && del.IsValid(i) && del.Value(i) {
				continue
			}
			keep = append(keep, int64(i))
			continue
		}
		e.used = true
		if e.tomb {
			continue
		}
		if ord != nil && e.hasOrd && Compare(e.ord, ord(i)) < 0 {
			keep = append(keep, int64(i)) // the stored record is newer
			continue
		}
		if e.deleted {
			continue
		}
		if _, ok := repl[e.batch]; !ok {
			replOrder = append(replOrder, e.batch)
		}
		repl[e.batch] = append(repl[e.batch], int64(e.row))
	}
	out, err := arrowutil.Take(ctx, base, keep)
	if err != nil {
		return nil, nil, err
	}
	var rs []arrow.RecordBatch
	for _, bi := range replOrder {
		r, err := arrowutil.Take(ctx, logs.batches[bi], repl[bi])
		if err != nil {
			out.Release()
			for _, x := range rs {
				x.Release()
			}
			return nil, nil, err
		}
		rs = append(rs, r)
	}
	return out, rs, nil
}
