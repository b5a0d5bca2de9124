// Package index owns hoodie's record-key index: a local store that maps a
// Hudi record key to its location (partition path, file ID) and the
// instant that wrote the entry. It is a cache of the table, rebuildable
// from the table's latest file slices, that lets the writer route an update
// to its file group without reading the table (the "tag" stage of the write
// path).
//
// # Scope
//
// Keys are scoped to their partition (Hudi's simple/bloom index: the same
// record key in two partitions is two records) or, with Options.Global,
// unique across the table (Hudi's global index: writing a key in a new
// partition overwrites its entry; the caller deletes the old record from the
// table).
//
// # Storage
//
// An entry is a fixed-size record: the 128-bit hash of its key (SHA-256,
// truncated), a file-group id and an instant id (interned through two
// dictionaries), and an expiry. Recent entries sit in a memory front (a
// hash map bounded by Options.FrontSize); when it fills, or after a few
// instants, the front is written as a run: an immutable file of records
// sorted by hash, memory-mapped, with a small in-memory directory from the
// hash's top bits to its records, so a lookup costs a few cache misses per
// run. Runs merge in the background by size (each run at least twice the
// size of the next newer one), which keeps their number logarithmic and
// every entry rewritten a logarithmic number of times. Newer entries
// shadow older ones; deletes are tombstones, dropped when merged into the
// oldest run. A Badger database in the same directory holds the
// dictionaries, the list of runs and the watermark.
//
// # Trust
//
// The writer calls Put for instant T only after T's completed timeline file
// exists. T is recorded as applied on disk only together with the run that
// holds its entries (in one Badger transaction, synced after the run
// file), so the index on disk may be behind the timeline but never ahead of
// it; the entries of the front are lost in a crash, and so are the applied
// marks of their instants. After a crash, the writer compares
// OldestApplied/IsApplied with the timeline and replays the commits the
// index missed. Lookups take a Trust callback through LookupOptions: an
// entry whose instant the caller does not trust (inflight, rolled back) is
// reported as not found.
//
// # TTL
//
// With Options.TTL, entries expire that long after their last write (Hudi
// Flink's index.state.ttl), with one-second granularity; an expired entry
// is reported as not found, whatever older entries of its key hold. The
// writer then checks file footers (key range, bloom filter) before
// treating an unknown key as an insert.
//
// # Rebuild
//
// Rebuild writes a "rebuilding" marker, wipes the index and loads it from a
// source iterator; only when everything is written does it clear the marker
// and record the watermark, in one transaction. An index opened with the
// marker present reports NeedsRebuild, and refuses lookups and puts.
//
// # Layout
//
//	file                                     content
//	runs/<16 hex digits>.run                 a run (see run.go)
//	Badger 'g' <uint32 BE id>                uvarint len(partition), partition, file ID
//	Badger 'i' <uint32 BE id>                instant
//	Badger 'm' "applied/" <instant>          empty: the instant's entries are in the runs
//	Badger 'm' "last"                        the greatest applied instant
//	Badger 'm' "runs"                        uvarint count, uvarint run ids, newest first
//	Badger 'm' "rebuilding"                  present while a Rebuild is unfinished
//	Badger 'm' "version"                     layout version (formatVersion)
//
// The hashed key is SHA-256 of 'e' <record key> (global) or
// 'e' <partition> 0x00 <record key> (scoped). Partition paths may not
// contain NUL (ErrInvalidKey), so the first NUL of a scoped key ends the
// partition and record keys may hold any bytes.
//
// Usage:
//
//	idx, err := index.Open(index.Options{Dir: dir})
//	...
//	locs, found, err := idx.Lookup(ctx, keys, index.LookupOptions{Trust: completed})
//	... commit instant T ...
//	err = idx.Put(ctx, T, entries)
package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("index: closed")
	// ErrNeedsRebuild is returned by Lookup, Put and Delete while the index
	// holds the marker of an unfinished Rebuild (or was written by an
	// incompatible version): its content cannot be trusted.
	ErrNeedsRebuild = errors.New("index: needs rebuild")
	// ErrInvalidKey reports a key the index cannot store: an empty record
	// key, a partition path containing NUL (scoped index), or a key longer
	// than MaxKeySize.
	ErrInvalidKey = errors.New("index: invalid key")
	// ErrInvalidInstant reports an empty instant.
	ErrInvalidInstant = errors.New("index: invalid instant")
	// ErrCorrupt reports a stored value or dictionary record that cannot be
	// decoded.
	ErrCorrupt = errors.New("index: corrupt")
)

// emptyMemTable is the message of ristretto's z.NewFile, which Badger
// returns (formatted, not wrapped) when it finds an empty memtable file.
const emptyMemTable = "Create a new file"

// MaxKeySize bounds len(partition path)+len(record key) (scoped) or
// len(record key) (global). Keys are stored hashed; the bound is the one
// of the earlier layout, which stored them in Badger (65000 bytes per key).
const MaxKeySize = 60000

// Default memory bounds: the index runs inside small ingestion pods.
const (
	DefaultMemTableSize = 16 << 20
	DefaultNumMemtables = 3
	DefaultFrontSize    = 64 << 20
)

// frontEntryBytes is what one entry of the memory front is counted as
// (its record and its share of the chunk's directory).
const frontEntryBytes = 36

// maxFrontChunks is how many chunks (one per write) the front holds before
// it is written as a run even if not full: lookups probe every chunk.
const maxFrontChunks = 16

// maxPendingInstants is how many applied instants the front holds before
// it is written as a run even if not full: it bounds the commits a crash
// makes the writer replay.
const maxPendingInstants = 8

// Options configure Open. The zero value (plus Dir) is a partition-scoped
// index without TTL that holds up to FrontSize (64 MiB) of recent entries
// in memory, under half a byte per entry for run directories, and Badger's
// buffers for its small dictionaries (up to MemTableSize*NumMemtables);
// the runs themselves are memory-mapped and cached by the OS.
type Options struct {
	// Dir is the index directory, created if missing. Required unless
	// InMemory.
	Dir string
	// Global makes record keys unique across the table (Hudi's global
	// index); Key.PartitionPath is then ignored. Default false: keys are
	// scoped to their partition. An index must always be opened with the
	// same value; the index does not record it.
	Global bool
	// TTL expires each entry this long after its last write; 0 (default)
	// keeps entries forever. The granularity is one second, so a TTL
	// below one second is rejected. Dictionary and watermark records never
	// expire.
	TTL time.Duration
	// InMemory keeps the index in memory only (tests); Dir is ignored.
	InMemory bool
	// FrontSize bounds the memory front, which holds the latest entries
	// (36 bytes each) until they are written as a run. Default
	// DefaultFrontSize (64 MiB, about 1.9 million entries); at least 1 MiB.
	FrontSize int64
	// MemTableSize is the size of one memtable of the Badger database that
	// holds the dictionaries and the watermark. Default 16 MiB (Badger's
	// own default is 64 MiB); up to NumMemtables of them are held in
	// memory.
	MemTableSize int64
	// NumMemtables is the number of memtables Badger keeps before stalling
	// writes. Default 3 (Badger's default is 5).
	NumMemtables int
	// BlockCacheSize is the size of Badger's cache of table blocks.
	// Default 0: none (Badger's default is 256 MiB); entries do not live in
	// Badger.
	BlockCacheSize int64
	// Logger receives Badger's errors and warnings (Badger's info and debug
	// messages are logged at slog.LevelDebug). Default nil: nothing is
	// logged.
	Logger *slog.Logger
}

// EnsureDefaults sets zero fields to their defaults.
func (o *Options) EnsureDefaults() {
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.NumMemtables == 0 {
		o.NumMemtables = DefaultNumMemtables
	}
	if o.FrontSize == 0 {
		o.FrontSize = DefaultFrontSize
	}
}

// withDefaults returns a copy of o with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	o.EnsureDefaults()
	return o
}

// Validate reports options Open would reject.
func (o Options) Validate() error {
	switch {
	case o.Dir == "" && !o.InMemory:
		return fmt.Errorf("index: Options.Dir is required")
	case o.TTL < 0:
		return fmt.Errorf("index: negative Options.TTL %s", o.TTL)
	case o.TTL > 0 && o.TTL < time.Second:
		return fmt.Errorf("index: Options.TTL %s is below the index's one-second granularity", o.TTL)
	case o.MemTableSize < 0:
		return fmt.Errorf("index: negative Options.MemTableSize")
	case o.MemTableSize > 0 && o.MemTableSize < 1<<20:
		return fmt.Errorf("index: Options.MemTableSize %d is below 1 MiB", o.MemTableSize)
	case o.NumMemtables < 0:
		return fmt.Errorf("index: negative Options.NumMemtables")
	case o.BlockCacheSize < 0:
		return fmt.Errorf("index: negative Options.BlockCacheSize")
	case o.FrontSize < 0:
		return fmt.Errorf("index: negative Options.FrontSize")
	case o.FrontSize > 0 && o.FrontSize < 1<<20:
		return fmt.Errorf("index: Options.FrontSize %d is below 1 MiB", o.FrontSize)
	}
	return nil
}

// Key identifies a record: its partition path (ignored by a global index)
// and record key.
type Key struct {
	PartitionPath string
	RecordKey     string
}

// Location is where a record lives: its file group and the instant that
// wrote the entry.
type Location struct {
	PartitionPath string
	FileID        string
	Instant       string
}

// Entry is one key and its location.
type Entry struct {
	Key      Key
	Location Location
}

// LookupOptions are per-call knobs of Lookup.
type LookupOptions struct {
	// Trust, if set, is asked whether an entry's instant is completed (not
	// inflight, not rolled back); entries it rejects are reported not
	// found. It is called from Lookup's goroutine, at most once per
	// distinct instant per call.
	Trust func(instant string) bool
}

// Index is an open record-key index. It is safe for concurrent use:
// lookups run concurrently with each other and with Put and Delete; Put,
// Delete and Rebuild are serialized.
type Index struct {
	opts    Options
	db      *badger.DB
	runsDir string // "" in memory

	// gate is held shared by every operation that touches db, and
	// exclusively by Close and by the wipe phase of Rebuild, so no read
	// transaction ever spans a DropPrefix or a closed database.
	gate   sync.RWMutex
	closed bool // guarded by gate

	// mergeMu is held by the run merger for each merge, and by Compact,
	// Rebuild and Close, which therefore never run alongside a merge. It
	// is taken before writeMu.
	mergeMu    sync.Mutex
	stopMerges atomic.Bool // Close: no more merges
	merging    atomic.Bool // a merger goroutine is scheduled

	// writeMu serializes Put, Delete, Rebuild and run installs, and guards
	// intern, pending, diskLast and nextRun.
	writeMu sync.Mutex
	intern  struct {
		groupID   map[group]uint32
		instantID map[string]uint32
	}
	pending  []string // applied in memory, recorded with the next run
	diskLast string   // the greatest applied instant recorded on disk
	nextRun  uint64

	// dict is the immutable dictionary snapshot readers resolve ids with.
	// Writers persist new records before publishing them, and publish them
	// before writing entries that use them.
	dict atomic.Pointer[dict]

	// data is the entries: readers hold it shared while they read the
	// front and the runs; writers (holding writeMu) change the front or
	// the run list holding it exclusively, and unmap replaced runs after.
	data struct {
		sync.RWMutex
		front []*run // sorted chunks in memory, newest first
		runs  []*run // newest first
		// frontRecs counts the records of front.
		frontRecs int
	}

	// mu guards the watermark state; held briefly.
	mu struct {
		sync.RWMutex
		applied      map[string]struct{}
		last         string
		needsRebuild bool
	}
}

// Open opens the index in opts.Dir, creating it if needed. A directory
// that another open index holds (in this or another process) is refused
// with an error wrapping ErrLocked that names the holding process.
func Open(opts Options) (*Index, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	dir := opts.Dir
	if opts.InMemory {
		dir = ""
	}
	bo := badger.DefaultOptions(dir).
		WithInMemory(opts.InMemory).
		WithLogger(newLogger(opts.Logger)).
		WithMemTableSize(opts.MemTableSize).
		WithNumMemtables(opts.NumMemtables).
		WithNumLevelZeroTables(min(opts.NumMemtables, 5)).
		WithBlockCacheSize(opts.BlockCacheSize).
		WithNumCompactors(2).
		WithSyncWrites(false).
		WithDetectConflicts(false).
		WithMetricsEnabled(false).
		WithValueThreshold(1 << 10).
		WithCompression(options.None)
	db, err := badger.Open(bo)
	if err != nil && !opts.InMemory && strings.Contains(err.Error(), emptyMemTable) {
		// A crash between creating a memtable file and writing it leaves it
		// empty, and Badger refuses to open (dgraph-io/badger#2207); its
		// failed attempt has sized the file, which opens as an empty
		// memtable now.
		db, err = badger.Open(bo)
	}
	if err != nil {
		if !opts.InMemory && isLockError(opts.Dir, err) {
			return nil, newLockedError(opts.Dir)
		}
		return nil, fmt.Errorf("index: open %s: %w", opts.Dir, err)
	}
	x := &Index{opts: opts, db: db}
	if !opts.InMemory {
		x.runsDir = filepath.Join(opts.Dir, runsDirName)
		if err := os.MkdirAll(x.runsDir, 0o755); err != nil {
			return nil, errors.Join(fmt.Errorf("index: open %s: %w", opts.Dir, err), db.Close())
		}
	}
	x.intern.groupID = map[group]uint32{}
	x.intern.instantID = map[string]uint32{}
	x.mu.applied = map[string]struct{}{}
	x.dict.Store(&dict{})
	if err := x.load(); err != nil {
		return nil, errors.Join(err, x.closeRuns(), db.Close())
	}
	// Merges that were due when the index was closed.
	x.startMerges(x.data.runs)
	return x, nil
}

// Close writes the memory front as a run (recording its instants as
// applied), waits for running operations and closes the index. Later calls
// return nil.
func (x *Index) Close() error {
	x.stopMerges.Store(true)
	x.mergeMu.Lock()
	defer x.mergeMu.Unlock()
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	var ferr error
	if err := x.enter(); err == nil {
		if !x.needsRebuild() {
			ferr = x.flush(context.Background())
		}
		x.leave()
	}
	x.gate.Lock()
	defer x.gate.Unlock()
	if x.closed {
		return nil
	}
	x.closed = true
	err := errors.Join(ferr, x.closeRuns())
	if cerr := x.db.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if err != nil {
		return fmt.Errorf("index: close: %w", err)
	}
	return nil
}

// closeRuns unmaps every run.
func (x *Index) closeRuns() error {
	x.data.Lock()
	defer x.data.Unlock()
	var err error
	for _, r := range x.data.runs {
		err = errors.Join(err, r.close())
	}
	x.data.runs = nil
	x.data.front, x.data.frontRecs = nil, 0
	return err
}

// Global reports whether keys are unique across the table.
func (x *Index) Global() bool { return x.opts.Global }

// enter takes the gate for an operation on db.
func (x *Index) enter() error {
	x.gate.RLock()
	if x.closed {
		x.gate.RUnlock()
		return ErrClosed
	}
	return nil
}

func (x *Index) leave() { x.gate.RUnlock() }

func (x *Index) needsRebuild() bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.mu.needsRebuild
}
