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
//	'e' <uvarint partition id> <key>     partition-scoped entry
//	   value: uvarint file-group id, uvarint instant id
//	'g' <uint32 id>                      file group: <partition> 0x00 <file id>
//	'p' <uint32 id>                      partition path
//	'i' <uint32 id>                      instant
//
// The dictionaries keep entries small (a 36-byte uuid key costs about 40
// bytes), which is what makes bulk loads and lookups fast.
//
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
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
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
		closed     bool
		groups     dict // "<partition>\x00<file id>"
		partitions dict
		instants   dict
		last       string
	}
}

// dict interns strings as dense ids, persisted under one key prefix.
type dict struct {
	prefix byte
	names  []string
	ids    map[string]uint32
}

func newDict(prefix byte) dict { return dict{prefix: prefix, ids: map[string]uint32{}} }

func (d *dict) lookup(name string) (uint32, bool) {
	id, ok := d.ids[name]
	return id, ok
}

func (d *dict) name(id uint64) (string, bool) {
	if id >= uint64(len(d.names)) {
		return "", false
	}
	return d.names[id], true
}

func (d *dict) set(id uint32, name string) {
	for uint32(len(d.names)) <= id {
		d.names = append(d.names, "")
	}
	d.names[id] = name
	d.ids[name] = id
}

// intern returns name's id, registering a new one in wb.
func (d *dict) intern(wb *badger.WriteBatch, name string) (uint32, error) {
	if id, ok := d.ids[name]; ok {
		return id, nil
	}
	id := uint32(len(d.names))
	k := make([]byte, 5)
	k[0] = d.prefix
	binary.BigEndian.PutUint32(k[1:], id)
	if err := wb.Set(k, []byte(name)); err != nil {
		return 0, err
	}
	d.set(id, name)
	return id, nil
}

const (
	prefixEntry     = 'e'
	prefixGroup     = 'g'
	prefixPartition = 'p'
	prefixInstant   = 'i'
	prefixMeta      = 'm'
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
		WithMetricsEnabled(false).
		// Keys are short and random: block compression costs lookups more
		// than it saves disk.
		WithCompression(options.None)
	if opts.InMemory {
		bo = bo.WithDir("").WithValueDir("")
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("index: open %s: %w", opts.Dir, err)
	}
	idx := &Index{opts: opts, db: db}
	idx.resetDicts()
	if err := idx.load(); err != nil {
		db.Close()
		return nil, err
	}
	return idx, nil
}

func (x *Index) resetDicts() {
	x.mu.groups = newDict(prefixGroup)
	x.mu.partitions = newDict(prefixPartition)
	x.mu.instants = newDict(prefixInstant)
}

// load reads the dictionaries and the watermark.
func (x *Index) load() error {
	return x.db.View(func(txn *badger.Txn) error {
		for _, d := range []*dict{&x.mu.groups, &x.mu.partitions, &x.mu.instants} {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{d.prefix}, PrefetchValues: true})
			for it.Rewind(); it.Valid(); it.Next() {
				k := it.Item().Key()
				if len(k) != 5 {
					continue
				}
				v, err := it.Item().ValueCopy(nil)
				if err != nil {
					it.Close()
					return fmt.Errorf("index: load: %w", err)
				}
				d.set(binary.BigEndian.Uint32(k[1:]), string(v))
			}
			it.Close()
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

// entryKey encodes k's Badger key. ok is false for a partition the index
// has never seen (so no entry can exist). Callers hold mu.
func (x *Index) entryKey(dst []byte, k Key) (_ []byte, ok bool) {
	dst = append(dst, prefixEntry)
	if !x.opts.Global {
		pid, ok := x.mu.partitions.lookup(k.PartitionPath)
		if !ok {
			return nil, false
		}
		dst = binary.AppendUvarint(dst, uint64(pid))
	}
	return append(dst, k.RecordKey...), true
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
	order := make([]int, 0, len(keys))
	for i, k := range keys {
		if e, ok := x.entryKey(nil, k); ok {
			enc[i] = e
			order = append(order, i)
		}
	}
	if len(order) == 0 {
		return locs, found, nil
	}
	sort.Slice(order, func(a, b int) bool { return bytes.Compare(enc[order[a]], enc[order[b]]) < 0 })
	workers := min(runtime.GOMAXPROCS(0), (len(order)+4095)/4096)
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
	gid, n := binary.Uvarint(v)
	if n <= 0 {
		return Location{}, false
	}
	iid, m := binary.Uvarint(v[n:])
	if m <= 0 {
		return Location{}, false
	}
	g, ok := x.mu.groups.name(gid)
	if !ok {
		return Location{}, false
	}
	inst, ok := x.mu.instants.name(iid)
	if !ok {
		return Location{}, false
	}
	i := strings.IndexByte(g, 0)
	if i < 0 {
		return Location{}, false
	}
	return Location{PartitionPath: g[:i], FileID: g[i+1:], Instant: inst}, true
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
	// One allocation for all keys and values of the batch.
	size := 0
	for _, e := range entries {
		size += len(e.Key.RecordKey) + 16
	}
	arena := make([]byte, 0, size)
	var lastGroup, lastInst struct {
		name string
		id   uint32
	}
	lastGroup.id, lastInst.id = ^uint32(0), ^uint32(0)
	for i, e := range entries {
		if i%8192 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !x.opts.Global {
			if _, err := x.mu.partitions.intern(wb, e.Key.PartitionPath); err != nil {
				return fmt.Errorf("index: put: %w", err)
			}
		}
		gname := e.Location.PartitionPath + "\x00" + e.Location.FileID
		if lastGroup.id == ^uint32(0) || gname != lastGroup.name {
			id, err := x.mu.groups.intern(wb, gname)
			if err != nil {
				return fmt.Errorf("index: put: %w", err)
			}
			lastGroup.name, lastGroup.id = gname, id
		}
		if lastInst.id == ^uint32(0) || e.Location.Instant != lastInst.name {
			id, err := x.mu.instants.intern(wb, e.Location.Instant)
			if err != nil {
				return fmt.Errorf("index: put: %w", err)
			}
			lastInst.name, lastInst.id = e.Location.Instant, id
		}
		start := len(arena)
		arena, _ = x.entryKey(arena, e.Key)
		k := arena[start:len(arena):len(arena)]
		start = len(arena)
		arena = binary.AppendUvarint(arena, uint64(lastGroup.id))
		arena = binary.AppendUvarint(arena, uint64(lastInst.id))
		v := arena[start:len(arena):len(arena)]
		if err := wb.SetEntry(x.newEntry(k, v)); err != nil {
			return fmt.Errorf("index: put: %w", err)
		}
	}
	for _, k := range deletes {
		ek, ok := x.entryKey(nil, k)
		if !ok {
			continue
		}
		if err := wb.Delete(ek); err != nil {
			return fmt.Errorf("index: delete: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		// Dictionary ids interned by this batch may not have been stored.
		x.resetDicts()
		if lerr := x.load(); lerr != nil {
			err = errors.Join(err, lerr)
		}
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
	x.resetDicts()
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
	return Stats{FileGroups: len(x.mu.groups.names), LastApplied: x.mu.last, LSMBytes: lsm, VLogBytes: vlog}
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
