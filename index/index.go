// Package index is hoodie's record-key index: record key → (partition
// path, file ID, instant) in a local Badger v4 database. It is a cache of
// the table, rebuildable from it, that lets the writer route an update to
// its file group without reading the table.
//
// Keys are scoped to their partition (Hudi's simple/bloom index) or, with
// Options.Global, unique across the table (Hudi's global index).
//
// Trust. The writer puts the entries of instant T only after T's completed
// timeline file exists, and then records T as applied, so the index can be
// behind the timeline but never ahead of it. Lookups additionally take a
// Trust callback: an entry whose instant the caller does not trust (not
// completed, rolled back) is reported as not found.
//
// TTL. With Options.TTL, entries expire that long after their last write,
// like Hudi Flink's index.state.ttl; the writer then checks file footers
// (key range, bloom filter) before treating an unknown key as new.
//
// Layout of the Badger key space:
//
//	'e' <record key>                     global entry
//	'e' <partition> 0x00 <record key>    partition-scoped entry
//	   value: uvarint file-group id, then the 17-digit instant
//	'g' <uint32 id>                      file group: <partition> 0x00 <file id>
//	'm' "applied/" <instant>             instants whose entries are in the index
//	'm' "last"                           the greatest applied instant
//	'm' "rebuilding"                     present while Rebuild runs
package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/sync/errgroup"
)

// ErrClosed is returned after Close.
var ErrClosed = errors.New("index: closed")

// Options configure Open.
type Options struct {
	// Dir is the Badger directory; required unless InMemory.
	Dir string
	// Global makes record keys unique across partitions.
	Global bool
	// TTL expires entries this long after their last write; 0 keeps them
	// forever. Badger's granularity is one second.
	TTL time.Duration
	// InMemory keeps the index in memory only (tests).
	InMemory bool
	// MemTableSize and BlockCacheSize bound Badger's memory. Defaults 32 MiB
	// and 64 MiB: the index runs inside ingestion pods.
	MemTableSize   int64
	BlockCacheSize int64
	// Logger receives Badger's warnings and errors; default none.
	Logger badger.Logger
}

func (o *Options) ensureDefaults() error {
	if o.Dir == "" && !o.InMemory {
		return fmt.Errorf("index: Options.Dir is required")
	}
	if o.TTL < 0 {
		return fmt.Errorf("index: negative TTL")
	}
	if o.TTL > 0 && o.TTL < time.Second {
		return fmt.Errorf("index: TTL %s is below Badger's one-second granularity", o.TTL)
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 32 << 20
	}
	if o.BlockCacheSize == 0 {
		o.BlockCacheSize = 64 << 20
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
	// Trust, if set, is asked about each found entry's instant; entries it
	// rejects are reported not found.
	Trust func(instant string) bool
}

// Index is an open record-key index, safe for concurrent use.
type Index struct {
	opts Options
	db   *badger.DB

	mu struct {
		sync.RWMutex
		closed  bool
		groups  []groupName          // id -> name
		groupID map[groupName]uint32 // name -> id
		last    string
	}
}

type groupName struct{ partition, fileID string }

const (
	prefixEntry = 'e'
	prefixGroup = 'g'
	prefixMeta  = 'm'
)

var (
	metaLast       = []byte("mlast")
	metaRebuilding = []byte("mrebuilding")
	metaApplied    = []byte("mapplied/")
)

// Open opens (creating if needed) the index.
func Open(opts Options) (*Index, error) {
	if err := opts.ensureDefaults(); err != nil {
		return nil, err
	}
	bo := badger.DefaultOptions(opts.Dir).
		WithInMemory(opts.InMemory).
		WithLogger(opts.Logger).
		WithMemTableSize(opts.MemTableSize).
		WithBlockCacheSize(opts.BlockCacheSize).
		WithIndexCacheSize(32 << 20).
		WithNumMemtables(3).
		WithNumLevelZeroTables(3).
		WithNumCompactors(2).
		WithSyncWrites(false).
		WithDetectConflicts(false).
		WithMetricsEnabled(false)
	if opts.InMemory {
		bo = bo.WithDir("").WithValueDir("")
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("index: open %s: %w", opts.Dir, err)
	}
	idx := &Index{opts: opts, db: db}
	idx.mu.groupID = map[groupName]uint32{}
	if err := idx.load(); err != nil {
		db.Close()
		return nil, err
	}
	return idx, nil
}

// load reads the file-group dictionary and the watermark.
func (x *Index) load() error {
	return x.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixGroup}, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) != 5 {
				continue
			}
			id := binary.BigEndian.Uint32(k[1:])
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("index: load: %w", err)
			}
			i := bytes.IndexByte(v, 0)
			if i < 0 {
				return fmt.Errorf("index: load: corrupt file group %d", id)
			}
			g := groupName{string(v[:i]), string(v[i+1:])}
			for uint32(len(x.mu.groups)) <= id {
				x.mu.groups = append(x.mu.groups, groupName{})
			}
			x.mu.groups[id] = g
			x.mu.groupID[g] = id
		}
		item, err := txn.Get(metaLast)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("index: load: %w", err)
		}
		v, err := item.ValueCopy(nil)
		x.mu.last = string(v)
		return err
	})
}

// Close closes the database.
func (x *Index) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.mu.closed {
		return nil
	}
	x.mu.closed = true
	if err := x.db.Close(); err != nil {
		return fmt.Errorf("index: close: %w", err)
	}
	return nil
}

func (x *Index) entryKey(dst []byte, k Key) []byte {
	dst = append(dst[:0], prefixEntry)
	if !x.opts.Global {
		dst = append(dst, k.PartitionPath...)
		dst = append(dst, 0)
	}
	return append(dst, k.RecordKey...)
}

// Lookup finds the locations of keys, returned in input order with found
// flags. Keys are read in sorted order over parallel read transactions.
func (x *Index) Lookup(ctx context.Context, keys []Key, opts LookupOptions) ([]Location, []bool, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.mu.closed {
		return nil, nil, ErrClosed
	}
	locs := make([]Location, len(keys))
	found := make([]bool, len(keys))
	if len(keys) == 0 {
		return locs, found, nil
	}
	enc := make([][]byte, len(keys))
	order := make([]int, len(keys))
	for i, k := range keys {
		enc[i] = x.entryKey(nil, k)
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return bytes.Compare(enc[order[a]], enc[order[b]]) < 0 })
	workers := min(runtime.GOMAXPROCS(0), (len(keys)+4095)/4096)
	chunk := (len(order) + workers - 1) / workers
	g, ctx := errgroup.WithContext(ctx)
	for w := 0; w < workers; w++ {
		part := order[w*chunk : min(len(order), (w+1)*chunk)]
		g.Go(func() error {
			return x.db.View(func(txn *badger.Txn) error {
				for n, i := range part {
					if n%4096 == 0 {
						if err := ctx.Err(); err != nil {
							return err
						}
					}
					item, err := txn.Get(enc[i])
					if errors.Is(err, badger.ErrKeyNotFound) {
						continue
					}
					if err != nil {
						return fmt.Errorf("index: lookup: %w", err)
					}
					var loc Location
					var ok bool
					err = item.Value(func(v []byte) error {
						loc, ok = x.decode(v)
						return nil
					})
					if err != nil {
						return fmt.Errorf("index: lookup: %w", err)
					}
					if !ok || (opts.Trust != nil && !opts.Trust(loc.Instant)) {
						continue
					}
					locs[i], found[i] = loc, true
				}
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	return locs, found, nil
}

func (x *Index) decode(v []byte) (Location, bool) {
	id, n := binary.Uvarint(v)
	if n <= 0 || id >= uint64(len(x.mu.groups)) {
		return Location{}, false
	}
	g := x.mu.groups[id]
	return Location{PartitionPath: g.partition, FileID: g.fileID, Instant: string(v[n:])}, true
}

// groupIDs returns (registering new ones in wb) the ids of the entries'
// file groups. Callers hold mu for writing.
func (x *Index) groupIDLocked(wb *badger.WriteBatch, loc Location) (uint32, error) {
	g := groupName{loc.PartitionPath, loc.FileID}
	if id, ok := x.mu.groupID[g]; ok {
		return id, nil
	}
	id := uint32(len(x.mu.groups))
	k := make([]byte, 5)
	k[0] = prefixGroup
	binary.BigEndian.PutUint32(k[1:], id)
	v := make([]byte, 0, len(g.partition)+1+len(g.fileID))
	v = append(append(append(v, g.partition...), 0), g.fileID...)
	if err := wb.Set(k, v); err != nil {
		return 0, err
	}
	x.mu.groups = append(x.mu.groups, g)
	x.mu.groupID[g] = id
	return id, nil
}

func (x *Index) newEntry(k, v []byte) *badger.Entry {
	e := badger.NewEntry(k, v)
	if x.opts.TTL > 0 {
		e = e.WithTTL(x.opts.TTL)
	}
	return e
}

// Put writes the entries of instant (after it completed) and records the
// instant as applied.
func (x *Index) Put(ctx context.Context, instant string, entries []Entry) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.mu.closed {
		return ErrClosed
	}
	if err := x.writeEntries(ctx, entries, nil); err != nil {
		return err
	}
	return x.markAppliedLocked(instant)
}

// writeEntries writes entries (and deletes keys) in one WriteBatch. Callers
// hold mu for writing.
func (x *Index) writeEntries(ctx context.Context, entries []Entry, deletes []Key) error {
	wb := x.db.NewWriteBatch()
	defer wb.Cancel()
	var vbuf [binary.MaxVarintLen32]byte
	for i, e := range entries {
		if i%8192 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		id, err := x.groupIDLocked(wb, e.Location)
		if err != nil {
			return fmt.Errorf("index: put: %w", err)
		}
		n := binary.PutUvarint(vbuf[:], uint64(id))
		v := make([]byte, 0, n+len(e.Location.Instant))
		v = append(append(v, vbuf[:n]...), e.Location.Instant...)
		if err := wb.SetEntry(x.newEntry(x.entryKey(nil, e.Key), v)); err != nil {
			return fmt.Errorf("index: put: %w", err)
		}
	}
	for _, k := range deletes {
		if err := wb.Delete(x.entryKey(nil, k)); err != nil {
			return fmt.Errorf("index: delete: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("index: write: %w", err)
	}
	return nil
}

// Delete removes keys (records deleted by instant) and records the instant
// as applied.
func (x *Index) Delete(ctx context.Context, instant string, keys []Key) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.mu.closed {
		return ErrClosed
	}
	if err := x.writeEntries(ctx, nil, keys); err != nil {
		return err
	}
	return x.markAppliedLocked(instant)
}

func (x *Index) markAppliedLocked(instant string) error {
	if instant == "" {
		return nil
	}
	err := x.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(append(append([]byte(nil), metaApplied...), instant...), nil); err != nil {
			return err
		}
		if instant > x.mu.last {
			return txn.Set(metaLast, []byte(instant))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index: mark %s applied: %w", instant, err)
	}
	if instant > x.mu.last {
		x.mu.last = instant
	}
	return nil
}

// LastApplied returns the greatest applied instant, or "".
func (x *Index) LastApplied() string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.mu.last
}

// IsApplied reports whether the entries of instant are in the index.
func (x *Index) IsApplied(instant string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	err := x.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(append(append([]byte(nil), metaApplied...), instant...))
		return err
	})
	return err == nil
}

// NeedsRebuild reports an interrupted Rebuild.
func (x *Index) NeedsRebuild() bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	err := x.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(metaRebuilding)
		return err
	})
	return err == nil
}

// IsEmpty reports an index that has never applied an instant.
func (x *Index) IsEmpty() bool { return x.LastApplied() == "" }

// Rebuild replaces the whole index with the entries src yields, as of
// instant, reporting progress (entries loaded) every 100k entries. A crash
// during Rebuild leaves NeedsRebuild true.
func (x *Index) Rebuild(ctx context.Context, instant string, src func(yield func(Entry) bool) error, progress func(done int64)) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.mu.closed {
		return ErrClosed
	}
	if err := x.db.DropAll(); err != nil {
		return fmt.Errorf("index: rebuild: %w", err)
	}
	x.mu.groups = nil
	x.mu.groupID = map[groupName]uint32{}
	x.mu.last = ""
	if err := x.db.Update(func(txn *badger.Txn) error { return txn.Set(metaRebuilding, nil) }); err != nil {
		return fmt.Errorf("index: rebuild: %w", err)
	}
	const chunk = 100_000
	buf := make([]Entry, 0, chunk)
	var done int64
	var werr error
	flush := func() bool {
		if werr = x.writeEntries(ctx, buf, nil); werr != nil {
			return false
		}
		done += int64(len(buf))
		buf = buf[:0]
		if progress != nil {
			progress(done)
		}
		return true
	}
	err := src(func(e Entry) bool {
		buf = append(buf, e)
		if len(buf) == chunk {
			return flush()
		}
		return true
	})
	if err == nil && werr == nil && len(buf) > 0 {
		flush()
	}
	if err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("index: rebuild: %w", err)
	}
	if err := x.db.Update(func(txn *badger.Txn) error { return txn.Delete(metaRebuilding) }); err != nil {
		return fmt.Errorf("index: rebuild: %w", err)
	}
	return x.markAppliedLocked(instant)
}

// Stats describe the index.
type Stats struct {
	FileGroups  int
	LastApplied string
	LSMBytes    int64
	VLogBytes   int64
}

// Stats returns sizes and the watermark.
func (x *Index) Stats() Stats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	lsm, vlog := x.db.Size()
	return Stats{FileGroups: len(x.mu.groups), LastApplied: x.mu.last, LSMBytes: lsm, VLogBytes: vlog}
}

// RunGC reclaims value-log space; call it periodically from long-running
// writers.
func (x *Index) RunGC() error {
	err := x.db.RunValueLogGC(0.5)
	if err == nil || errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
		return nil
	}
	return fmt.Errorf("index: gc: %w", err)
}
