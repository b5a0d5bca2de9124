// Package writer upserts, inserts and deletes records of Arrow record
// batches into a Hudi copy-on-write or merge-on-read table, one instant per
// Commit, with record-level dedup by the table's precombine (ordering)
// field and a Badger record-key index that routes updates to their file
// groups. On a copy-on-write table a commit rewrites the base file of
// every file group it updates (a commit instant); on a merge-on-read table
// (a deltacommit instant) it never rewrites a base file: updates and
// deletes go to new log files of the key's file group, inserts to new log
// files of small file groups (Hudi's path for an index that sees log files:
// a group's size estimated as its base file plus its logs times
// Options.LogToParquetRatio, under the target size, and not in a pending
// compaction) or to base files of new file groups; package compactor
// merges the logs into new base files later.
//
// The buffering calls (Upsert, Insert, BulkInsert, Delete) compute each
// record's key and partition (Hudi's key generators) and conform the batch
// to the table schema, evolving it. Buffered rows stay Arrow records until a
// handle encodes them; past Options.BufferBytes the oldest batches' row
// data is spilled to Arrow IPC files (Options.SpillDir) and read back as it
// is encoded, so a large commit does not grow the heap with its size. A
// copy-on-write merge streams the old base file page by page, and a base
// file's pages wait for their row group in memory only up to a bound per
// column, then in a temporary file. Commit then runs three stages:
//
//	prepare  dedup ─► view ─► tag ─► assign ─► plan
//	         one record per key; the file groups of the touched partitions;
//	         stored records located (index, then file footers, and on
//	         merge-on-read the keys of log files); new records to small
//	         file groups and new ones. Reads only.
//	execute  the instant's timeline.Txn begins (heartbeat, requested,
//	         inflight with the plan's profile); the plan's handles write
//	         their files: create (a new base file), merge (a rewritten base
//	         file, copy-on-write), append (log files of inserts, updates
//	         and deletes, merge-on-read, through filegroup.AppendLog).
//	publish  optimistic mode's commit slot; the last checks; the commit
//	         point (the completed file, through the Txn); the index; the
//	         markers removed.
//
// Dedup rules. Within the records buffered for one commit, one record per
// key survives: the one with the largest precombine value; on a tie the
// record buffered later wins (Hudi's rule). Against the table, the table's
// payload class decides: DefaultHoodieRecordPayload (hoodie's default,
// event-time ordering) replaces a stored record only with one whose
// precombine value is >= the stored one, so a late event never overwrites
// a newer one; OverwriteWithLatestAvroPayload lets the incoming record
// always win. A delete buffered with Delete removes the key whatever its
// ordering; a row with `_hoodie_is_deleted = true` is a delete that obeys
// the ordering rule like any other record. A late event is counted in
// Stats.LateDropped on both table types: copy-on-write keeps the stored row
// in the rewritten base file; merge-on-read compares it with the stored
// ordering value of its file group (the merged slice) and does not write
// it to the log, where every reader's merge would drop it anyway.
//
// Crash safety. Every data file of instant T is written after its marker
// (timeline.Txn.Marker, under .hoodie/.temp/T) and before T's completed
// timeline file, which is the single commit point, created with
// create-if-absent. The index is updated only after that, recording T as
// applied; a writer that opens an index behind the timeline catches it up
// from the commits it missed. A commit that fails before its commit point
// removes what it wrote; a crash leaves a pending instant, which the next
// writer's Open rolls back (package rollback, through the markers) once
// its writer is gone: its heartbeat stale, or its process ended.
//
// Concurrent writers. Each pending write has a heartbeat; in the default
// single-writer mode a writer refuses (ErrConcurrentWriter) to write
// alongside another live writer or over a write it did not see, and in
// optimistic mode concurrent commits that overlap (same file group, or the
// same new key) fail with ErrConflict and are retried. Table services
// (compaction, cleaning) may run alongside either. See Concurrency.
package writer

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hoodie-lake/hoodie/index"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/keygen"
	"github.com/hoodie-lake/hoodie/internal/merge"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/rollback"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// Errors returned by the writer; use errors.Is.
var (
	ErrClosed          = errors.New("writer: closed")
	ErrMixedOperations = errors.New("writer: insert and bulk insert cannot share a commit with other operations")
	ErrBadRecord       = errors.New("writer: bad record")
	ErrSchema          = errors.New("writer: incompatible schema")
	ErrUnsupported     = errors.New("writer: unsupported")
	// ErrInvalidUTF8 is a batch holding a string value that is not valid
	// UTF-8 (Parquet and Avro strings are UTF-8; engines fail on others).
	// It is an ErrBadRecord; the message names the row and field.
	ErrInvalidUTF8 = fmt.Errorf("%w: string is not valid UTF-8", ErrBadRecord)
)

// IsDeletedField is the boolean column that marks a record as a delete.
const IsDeletedField = schema.IsDeletedField

// Defaults of Options.
const (
	DefaultTargetFileSize   = 120 << 20
	DefaultSmallFileLimit   = 100 << 20
	DefaultRecordSizeBytes  = 1024 // hoodie.copyonwrite.record.size.estimate
	DefaultMaxBufferRecords = 0    // unlimited
	// DefaultLogToParquetRatio is Hudi's
	// hoodie.logfile.to.parquet.compression.ratio.
	DefaultLogToParquetRatio = 0.35
)

// Options configure a Writer. The zero value gives the defaults stated on
// each field.
type Options struct {
	// TargetFileSize bounds new base files (hoodie.parquet.max.file.size).
	// Default 120 MB.
	TargetFileSize int64
	// SmallFileLimit: base files smaller than this receive inserts before
	// new file groups are created (hoodie.parquet.small.file.limit). Default
	// 100 MB; negative disables small-file packing. On merge-on-read, as in
	// Hudi with an index that sees log files, every file group whose
	// estimated size (see LogToParquetRatio) is under TargetFileSize takes
	// inserts into its log files while packing is enabled.
	SmallFileLimit int64
	// InsertsToBaseFiles makes merge-on-read inserts go to base files, as
	// Hudi does for an index that cannot see log files (bloom, simple):
	// into small base files of slices without log files, rewritten with
	// their inserts, or new file groups. By default inserts go to log files
	// of small file groups and a deltacommit rewrites no base file. Set it
	// when another engine upserts into the table with such an index
	// (Spark's default bloom index): it would not find the keys that only a
	// log file holds and would write them again, as duplicates (or compact
	// the table before that engine writes).
	InsertsToBaseFiles bool
	// LogToParquetRatio estimates the Parquet size of merge-on-read log
	// files (hoodie.logfile.to.parquet.compression.ratio): a file group's
	// size for small-file packing is its base file's plus its log files'
	// times this ratio. Default DefaultLogToParquetRatio (0.35); in (0, 1].
	LogToParquetRatio float64
	// Compression of base files. Default snappy.
	Compression table.Compression
	// Parallelism bounds the file groups written at once. Default
	// GOMAXPROCS.
	Parallelism int
	// IndexDir is the Badger directory of the record-key index. Default: a
	// directory under the user cache dir derived from the table location
	// (IndexLocation).
	IndexDir string
	// IndexLocation names the table for the default IndexDir (e.g. its URI).
	IndexLocation string
	// IndexTTL expires index entries this long after their last write, like
	// Hudi Flink's index.state.ttl; 0 keeps them forever.
	IndexTTL time.Duration
	// IndexMemory bounds the memory the record-key index holds: its memory
	// front of recent entries and Badger's memtables (index.Options
	// FrontSize, MemTableSize, NumMemtables, derived from it). Default 0:
	// the index's defaults (a 64 MiB front, three 16 MiB memtables). A
	// process with many open writers (one per table) sets it small; at
	// least 4 MiB.
	IndexMemory int64
	// MetadataTable gives the table Hudi's metadata table (its "files"
	// partition, as Spark writes it by default) when it has none: Open
	// initialises it from a listing after rolling back failed writes
	// (metadata.Enable). Tables that already keep one are maintained
	// whether or not it is set.
	MetadataTable bool
	// GlobalIndex makes record keys unique across partitions: a key that
	// arrives with a new partition value is deleted from its old partition.
	GlobalIndex bool
	// DisableFooterLookup turns off the check of candidate file groups'
	// footer key ranges and bloom filters for keys the index does not know
	// (which is what keeps an expired key from becoming a duplicate). Switch
	// it off only for append-only streams.
	DisableFooterLookup bool
	// Concurrency selects single-writer (default) or optimistic
	// concurrency with other writers of the table.
	Concurrency Concurrency
	// HeartbeatTimeout: a pending instant whose heartbeat is older than
	// this counts as failed: other writers roll it back (a writer whose
	// process is gone is noticed at once on its own machine). Writers
	// rewrite their heartbeat every HeartbeatTimeout/4. Default
	// DefaultHeartbeatTimeout.
	HeartbeatTimeout time.Duration
	// ConflictRetries retries a commit that failed with ErrConflict this
	// many times (re-reading the table each time, after a short pause).
	ConflictRetries int
	// LogFileMaxSize rolls a merge-on-read log file to the next version
	// past this size. Default DefaultLogFileMaxSize (1 GiB).
	LogFileMaxSize int64
	// LogBlockFormat is the format of merge-on-read log data blocks
	// (hoodie.logfile.data.block.format): LogBlockAvro (default) or
	// LogBlockParquet.
	LogBlockFormat LogBlockFormat
	// Progress, if set, receives progress of long steps (index bootstrap).
	Progress func(step string, done, total int64)
	// BufferBytes bounds the Arrow data a writer holds in memory between
	// commits: past it, the row data of the oldest buffered batches is
	// spilled to Arrow IPC files in SpillDir and read back, a batch at a
	// time, as the commit encodes it (record keys, partition paths and the
	// precombine column stay in memory). Default DefaultBufferBytes
	// (256 MiB); negative: no bound, nothing is spilled.
	BufferBytes int64
	// SpillDir is where a writer creates its spill directory
	// (hoodie-spill-*), removed by Close; spill files are removed when the
	// buffer is dropped (Commit, Abort, Close). Default os.TempDir().
	SpillDir string
	// OrderingCacheBytes bounds the memory a merge-on-read writer keeps
	// across commits of the stored keys and ordering values of the file
	// groups it appends to, so that the late-event and soft-delete checks
	// of a group's next commit read nothing (any change to the group by
	// someone else makes it read the group again). Default
	// DefaultOrderingCacheBytes (64 MiB); negative: no cache, each commit
	// reads the merged slices it checks.
	OrderingCacheBytes int64
}

// DefaultOrderingCacheBytes is the default Options.OrderingCacheBytes.
const DefaultOrderingCacheBytes = 64 << 20

// EnsureDefaults fills the zero fields that have defaults.
func (o *Options) EnsureDefaults() {
	if o.TargetFileSize == 0 {
		o.TargetFileSize = DefaultTargetFileSize
	}
	if o.SmallFileLimit == 0 {
		o.SmallFileLimit = DefaultSmallFileLimit
	}
	if o.Compression == "" {
		o.Compression = table.Snappy
	}
	if o.Parallelism == 0 {
		o.Parallelism = runtime.GOMAXPROCS(0)
	}
	if o.HeartbeatTimeout <= 0 {
		o.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if o.LogFileMaxSize == 0 {
		o.LogFileMaxSize = DefaultLogFileMaxSize
	}
	if o.LogBlockFormat == "" {
		o.LogBlockFormat = LogBlockAvro
	}
	if o.LogToParquetRatio == 0 {
		o.LogToParquetRatio = DefaultLogToParquetRatio
	}
	if o.BufferBytes == 0 {
		o.BufferBytes = DefaultBufferBytes
	}
	if o.OrderingCacheBytes == 0 {
		o.OrderingCacheBytes = DefaultOrderingCacheBytes
	}
}

// Validate checks the options; zero fields stand for their defaults.
func (o Options) Validate() error {
	o.EnsureDefaults()
	if o.TargetFileSize < 1<<20 {
		return fmt.Errorf("writer: TargetFileSize %d is below 1 MiB", o.TargetFileSize)
	}
	if o.SmallFileLimit > o.TargetFileSize {
		return fmt.Errorf("writer: SmallFileLimit %d exceeds TargetFileSize %d", o.SmallFileLimit, o.TargetFileSize)
	}
	if o.Parallelism < 0 {
		return fmt.Errorf("writer: negative Parallelism")
	}
	if o.IndexTTL < 0 {
		return fmt.Errorf("writer: negative IndexTTL")
	}
	if o.IndexMemory != 0 && o.IndexMemory < minIndexMemory {
		return fmt.Errorf("writer: IndexMemory %d: at least %d bytes", o.IndexMemory, minIndexMemory)
	}
	if !(o.LogToParquetRatio > 0 && o.LogToParquetRatio <= 1) {
		return fmt.Errorf("writer: LogToParquetRatio %v is not in (0, 1]", o.LogToParquetRatio)
	}
	if o.Concurrency != SingleWriter && o.Concurrency != Optimistic {
		return fmt.Errorf("writer: unknown Concurrency %d", o.Concurrency)
	}
	if _, err := basefile.CompressionNamed(string(o.Compression)); err != nil {
		return fmt.Errorf("writer: Compression: %w", err)
	}
	if err := o.LogBlockFormat.validate(); err != nil {
		return err
	}
	return nil
}

// Operation is the kind of a buffered batch.
type Operation int

// Operations.
const (
	OpUpsert Operation = iota
	OpInsert
	OpBulkInsert
	OpDelete
)

func (o Operation) String() string {
	switch o {
	case OpUpsert:
		return timeline.OpUpsert
	case OpInsert:
		return timeline.OpInsert
	case OpBulkInsert:
		return timeline.OpBulkInsert
	case OpDelete:
		return timeline.OpDelete
	}
	return timeline.OpUnknown
}

// batch is one buffered Arrow batch with its computed keys.
type batch struct {
	op       Operation
	rec      arrow.RecordBatch // conformed to the writer schema (deletes: as given); nil while spilled (use record)
	sch      *arrow.Schema     // rec's schema
	bytes    int64             // rec's Arrow bytes (Options.BufferBytes)
	spilled  string            // the spill file holding rec's rows, or ""
	ordCol   arrow.Array       // the column ordering reads, retained past a spill
	keys     []string
	parts    []string
	ordering merge.OrderingReader // nil when the batch has no precombine column
	deleted  *array.Boolean       // _hoodie_is_deleted, or nil
}

// Writer buffers batches and commits them as one instant. It is safe for
// concurrent use; Commit serialises with the buffering calls.
type Writer struct {
	tbl  *table.Table
	st   storage.Storage
	cfg  *table.Config
	opts Options
	idx  *index.Index

	// slots caches commit slots read (optimistic concurrency).
	slots map[int64]slot
	// seen holds the writes this writer's view holds: those completed at
	// Open and its own (single-writer mode refuses any other).
	seen map[string]bool
	// footers caches base file footers across commits (footer.go).
	footers footerCache
	// state is what the writer keeps across commits (state.go).
	state state
	// orders caches stored keys and orderings of merge-on-read groups
	// (ordercache.go); nil when disabled or copy-on-write.
	orders *orderCache

	// knobs are test-only settings, set through export_test.go.
	knobs struct {
		// recordSize overrides the estimated bytes per record.
		recordSize int64
		// beforeSlot, if set, runs before an optimistic commit takes its
		// slot (tests force interleavings with it).
		beforeSlot func()
		// hook, if set, runs at named points of a commit (see hook).
		hook func(stage string)
		// orderingReads, if set, counts the merged slices read for stored
		// orderings (ordercache.go).
		orderingReads *atomic.Int64
	}

	// indexDirty asks the next index catch-up for a full rebuild: a failed
	// insert indexed keys early (see commit).
	indexDirty bool

	mu struct {
		sync.Mutex
		closed  bool
		schema  *schema.Schema // the table schema, evolved by buffered batches
		batches []*batch
		keygens map[*arrow.Schema]*keygen.Generator
		rows    int
		// memBytes are the Arrow bytes of the buffered batches in memory;
		// spillDir the writer's spill directory ("" until a spill), spills
		// the batches spilled since Open (see buffer.go).
		memBytes int64
		spillDir string
		spills   int
	}
}

// Open opens a writer on a copy-on-write or merge-on-read table. It rolls back writes a
// crashed writer left pending, and opens (bootstrapping or catching up if
// needed) the record-key index.
func Open(ctx context.Context, tbl *table.Table, opts Options) (*Writer, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	// Re-read hoodie.properties: the handle may predate a change by another
	// engine (an upgrade, a metadata table) that makes the table one hoodie
	// must not write.
	tbl, err := table.Open(ctx, tbl.Storage())
	if err != nil {
		return nil, err
	}
	cfg := tbl.Config()
	if cfg.Type != table.CopyOnWrite && cfg.Type != table.MergeOnRead {
		return nil, fmt.Errorf("%w: table type %q", ErrUnsupported, cfg.Type)
	}
	if !cfg.PopulateMetaFields {
		return nil, fmt.Errorf("%w: tables with hoodie.populate.meta.fields=false", ErrUnsupported)
	}
	if cfg.PrecombineField == "" {
		return nil, fmt.Errorf("%w: table %s has no precombine field: hoodie dedups by it", ErrUnsupported, cfg.Name)
	}
	w := &Writer{tbl: tbl, st: tbl.Storage(), cfg: cfg, opts: opts}
	if cfg.Type == table.MergeOnRead && opts.OrderingCacheBytes > 0 {
		w.orders = newOrderCache(opts.OrderingCacheBytes)
	}
	w.mu.keygens = map[*arrow.Schema]*keygen.Generator{}
	w.slots = map[int64]slot{}
	w.seen = map[string]bool{}
	rb, err := rollback.Pending(ctx, tbl, rollback.PendingOptions{Optimistic: opts.Concurrency == Optimistic, HeartbeatTimeout: opts.HeartbeatTimeout})
	if errors.Is(err, rollback.ErrLiveWriter) {
		err = fmt.Errorf("%w: %w; %s", ErrConcurrentWriter, err, concurrentAdvice)
	}
	if err != nil {
		return nil, err
	}
	w.indexDirty = rb.InsertRolledBack
	if opts.MetadataTable && !metadata.Enabled(cfg) {
		if err := metadata.Enable(ctx, tbl, metadata.Options{}); err != nil {
			return nil, fmt.Errorf("writer: %w", err)
		}
		w.cfg = tbl.Config()
	}
	if opts.Concurrency == Optimistic {
		if err := pruneCommitKeys(ctx, w.st); err != nil {
			return nil, err
		}
	}
	tl, err := w.refresh(ctx) // after the rollbacks
	if err != nil {
		return nil, err
	}
	w.noteSeen(tl)
	sch, err := currentSchema(ctx, w.st, tl, cfg)
	if err != nil {
		return nil, err
	}
	w.mu.schema = sch
	idx, err := w.openIndex(ctx)
	if err != nil {
		return nil, err
	}
	w.idx = idx
	return w, nil
}

// currentSchema is the table's latest writer schema, or nil (taken from
// the first batch).
func currentSchema(ctx context.Context, st storage.Storage, tl *timeline.Timeline, cfg *table.Config) (*schema.Schema, error) {
	js, err := table.SchemaAsOf(ctx, st, tl, "", cfg)
	if err != nil || js == "" {
		return nil, err
	}
	sch, err := schema.ParseAvro([]byte(js))
	if err != nil {
		return nil, fmt.Errorf("writer: table schema: %w", err)
	}
	return sch, nil
}

// Schema returns the writer's current table schema, data columns only, as
// Arrow (nil before the first batch of a table created without one).
func (w *Writer) Schema() *arrow.Schema {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.schema == nil {
		return nil
	}
	return w.mu.schema.ToArrow()
}

// AvroSchema returns the writer's current table schema as the Avro JSON
// Hudi records in commit metadata ("" before the first batch of a table
// created without one).
func (w *Writer) AvroSchema() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.schema == nil {
		return ""
	}
	return w.mu.schema.AvroJSON()
}

// Upsert buffers records to insert or update by key.
//
// Every buffering call (Upsert, Insert, BulkInsert, Delete) refuses a batch
// holding a string value that is not valid UTF-8, in any column or nested
// field, with an error wrapping ErrInvalidUTF8 that names the batch's row
// and the field; nothing of a refused batch is buffered.
func (w *Writer) Upsert(rec arrow.RecordBatch) error { return w.buffer(OpUpsert, rec) }

// Insert buffers records as inserts without looking keys up in the index
// (Hudi's insert: duplicates within the batch are combined, but a key that
// is already in the table gets a second row).
func (w *Writer) Insert(rec arrow.RecordBatch) error { return w.buffer(OpInsert, rec) }

// BulkInsert buffers records to be written into new file groups only,
// without index lookups or small-file packing (Hudi's bulk_insert), for
// initial loads.
func (w *Writer) BulkInsert(rec arrow.RecordBatch) error { return w.buffer(OpBulkInsert, rec) }

// Delete buffers deletes by key: rec needs the record key and partition
// fields; a precombine column, if present, orders the delete against other
// records of the same commit. Other columns are ignored (but their strings
// must be valid UTF-8 too).
func (w *Writer) Delete(rec arrow.RecordBatch) error { return w.buffer(OpDelete, rec) }

// Buffered returns the number of buffered records.
func (w *Writer) Buffered() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.rows
}

func (w *Writer) buffer(op Operation, rec arrow.RecordBatch) error {
	if rec == nil {
		return fmt.Errorf("%w: nil record batch", ErrBadRecord)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.closed {
		return ErrClosed
	}
	for _, b := range w.mu.batches {
		if (b.op == OpInsert || b.op == OpBulkInsert || op == OpInsert || op == OpBulkInsert) && b.op != op {
			return fmt.Errorf("%w: %s after %s", ErrMixedOperations, op, b.op)
		}
	}
	if rec.NumRows() == 0 {
		return nil
	}
	// Strings are UTF-8 or refused, before anything of the batch is used:
	// every string value, key, partition and precombine fields included.
	if path := arrowutil.FieldNameNotUTF8(rec.Schema()); path != "" {
		return fmt.Errorf("%w: field name %q is not valid UTF-8", ErrSchema, path)
	}
	if err := arrowutil.ValidateUTF8(rec); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidUTF8, err)
	}
	gen, err := w.keygenFor(rec.Schema())
	if err != nil {
		return err
	}
	keys, parts, err := gen.Keys(rec)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	b := &batch{op: op, keys: keys, parts: parts}
	prevSchema := w.mu.schema
	if op == OpDelete {
		rec.Retain()
		b.rec = rec
		if i := rec.Schema().FieldIndices(w.cfg.PrecombineField); len(i) > 0 {
			if b.ordering, err = merge.NewOrderingReader(rec.Column(i[0])); err != nil {
				rec.Release()
				return err
			}
		}
	} else {
		next, conformed, err := w.conform(rec)
		if err != nil {
			return err
		}
		b.rec = conformed
		col := conformed.Column(conformed.Schema().FieldIndices(w.cfg.PrecombineField)[0])
		for i := 0; i < col.Len(); i++ {
			if col.IsNull(i) {
				conformed.Release()
				return fmt.Errorf("%w: row %d: precombine field %q is null", ErrBadRecord, i, w.cfg.PrecombineField)
			}
		}
		if b.ordering, err = merge.NewOrderingReader(col); err != nil {
			conformed.Release()
			return err
		}
		if i := conformed.Schema().FieldIndices(IsDeletedField); len(i) > 0 {
			d, ok := conformed.Column(i[0]).(*array.Boolean)
			if !ok {
				conformed.Release()
				return fmt.Errorf("%w: %s must be boolean, got %s", ErrBadRecord, IsDeletedField, conformed.Column(i[0]).DataType())
			}
			b.deleted = d
		}
		w.mu.schema = next
	}
	b.pin(w.cfg.PrecombineField)
	if err := w.admit(b); err != nil {
		w.mu.schema = prevSchema
		return err
	}
	return nil
}

func (w *Writer) keygenFor(s *arrow.Schema) (*keygen.Generator, error) {
	if g, ok := w.mu.keygens[s]; ok {
		return g, nil
	}
	kind, err := keygen.KindFromClass(w.cfg.KeyGeneratorClass())
	if err != nil {
		return nil, fmt.Errorf("writer: %w", err)
	}
	g, err := keygen.New(keygen.Config{
		RecordKeyFields: w.cfg.RecordKeyFields,
		PartitionFields: w.cfg.PartitionFields,
		Kind:            kind,
		HiveStyle:       w.cfg.HiveStylePartitioning,
		URLEncode:       w.cfg.URLEncodePartitioning,
		Timestamp:       keygen.TimestampOptions(w.cfg.Timestamp),
	}, s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	w.mu.keygens[s] = g
	return g, nil
}

// Abort drops everything buffered since the last Commit.
func (w *Writer) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.releaseLocked()
}

func (w *Writer) releaseLocked() {
	for _, b := range w.mu.batches {
		_ = b.release() // best effort: Close removes the spill directory
	}
	w.mu.batches = nil
	w.mu.rows = 0
	w.mu.memBytes = 0
}

// Close drops anything buffered and closes the index.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.closed {
		return nil
	}
	w.mu.closed = true
	w.releaseLocked()
	err := w.removeSpillDir()
	if w.idx != nil {
		err = errors.Join(err, w.idx.Close())
	}
	return err
}

// IndexStats returns the sizes of the writer's record-key index (its
// entries, runs and bytes): a metric for long-running writers.
func (w *Writer) IndexStats() (index.Stats, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.closed {
		return index.Stats{}, ErrClosed
	}
	if w.idx == nil {
		return index.Stats{}, nil
	}
	return w.idx.Stats()
}

// hook runs the test hook at a named point of a commit: "begun" (caught
// up, before prepare), "before-relocate" and "after-relocate" (merge-on-
// read, after the handles wrote), "before-check" (single-writer, before
// the last check and the commit point).
func (w *Writer) hook(stage string) {
	if w.knobs.hook != nil {
		w.knobs.hook(stage)
	}
}
