package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

const (
	// writeChunk is the number of entries encoded into one arena and handed
	// to the WriteBatch between context checks.
	writeChunk = 16 << 10
	// RebuildProgressInterval is how many entries Rebuild loads between
	// progress callbacks.
	RebuildProgressInterval = 100_000
)

// Put writes the entries of instant, which must already be completed on
// the timeline, then records instant as applied. Entries overwrite earlier
// entries of the same key (with a global index, also from another
// partition). Each entry's Location.Instant is stored as given (normally
// instant itself).
//
// Entries become visible to lookups as they are written; instant is
// recorded only after all of them are, so a crash mid-Put leaves the index
// behind (IsApplied(instant) false), never ahead.
func (x *Index) Put(ctx context.Context, instant string, entries []Entry) error {
	return x.write(ctx, "put", instant, entries, nil)
}

// PutPending writes entries of an instant that has not completed yet,
// without recording it as applied: lookups see them only through a Trust
// callback that accepts the instant, which it does once the instant
// completed. A writer uses it to overlap index writes of brand-new keys
// with its data writes, then calls Put after the commit point. It must
// only be given keys that have no trusted entry, as it replaces entries.
func (x *Index) PutPending(ctx context.Context, instant string, entries []Entry) error {
	return x.write(ctx, "put pending", instant, entries, nil)
}

// Delete removes the entries of keys (records deleted by instant, which
// must already be completed) and records instant as applied. Deleting an
// absent key is not an error.
func (x *Index) Delete(ctx context.Context, instant string, keys []Key) error {
	return x.write(ctx, "delete", instant, nil, keys)
}

func (x *Index) write(ctx context.Context, op, instant string, entries []Entry, deletes []Key) error {
	if instant == "" {
		return fmt.Errorf("index: %s: %w", op, ErrInvalidInstant)
	}
	for _, e := range entries {
		if err := x.checkEntry(e); err != nil {
			return fmt.Errorf("index: %s: %w", op, err)
		}
	}
	for _, k := range deletes {
		if err := x.checkKey(k); err != nil {
			return fmt.Errorf("index: %s: %w", op, err)
		}
	}
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	if err := x.enter(); err != nil {
		return err
	}
	defer x.leave()
	if x.needsRebuild() {
		return ErrNeedsRebuild
	}

	// New dictionary records are durable and published before any entry
	// that refers to them is written.
	gids, iids, err := x.internAll(ctx, entries, nil)
	if err != nil {
		return fmt.Errorf("index: %s %s: %w", op, instant, err)
	}
	wb := x.db.NewWriteBatch()
	defer wb.Cancel()
	if err := x.batchEntries(ctx, wb, entries, gids, iids); err != nil {
		return fmt.Errorf("index: %s %s: %w", op, instant, err)
	}
	for i, k := range deletes {
		if i%writeChunk == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("index: %s %s: %w", op, instant, err)
			}
		}
		if err := wb.Delete(x.appendKey(make([]byte, 0, x.keyLen(k)), k)); err != nil {
			return fmt.Errorf("index: %s %s: %w", op, instant, err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("index: %s %s: %w", op, instant, err)
	}
	if op == "put pending" {
		return nil
	}
	if err := x.markApplied(instant, false); err != nil {
		return fmt.Errorf("index: %s %s: %w", op, instant, err)
	}
	return nil
}

func (x *Index) checkEntry(e Entry) error {
	if err := x.checkKey(e.Key); err != nil {
		return err
	}
	if e.Location.Instant == "" {
		return fmt.Errorf("%w: entry for %q has no instant", ErrInvalidInstant, e.Key.RecordKey)
	}
	return nil
}

// internAll returns the dictionary ids of the entries' file groups and
// instants, assigning ids to new ones, writing their records and
// publishing them. With a nil wb the records are committed before
// internAll returns; else they are added to wb. Callers hold writeMu.
func (x *Index) internAll(ctx context.Context, entries []Entry, wb *badger.WriteBatch) (gids, iids []uint32, err error) {
	var groups []group
	var instants []string
	d := x.dict.Load()
	gids = make([]uint32, len(entries))
	iids = make([]uint32, len(entries))
	// Consecutive entries mostly share their location: remember the last.
	var prev Location
	var prevG, prevI uint32
	for i, e := range entries {
		if i%writeChunk == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		if i > 0 && e.Location == prev {
			gids[i], iids[i] = prevG, prevI
			continue
		}
		if i == 0 || e.Location.PartitionPath != prev.PartitionPath || e.Location.FileID != prev.FileID {
			g := group{e.Location.PartitionPath, e.Location.FileID}
			id, ok := x.intern.groupID[g]
			if !ok {
				id = uint32(len(d.groups) + len(groups))
				x.intern.groupID[g] = id
				groups = append(groups, g)
			}
			prevG = id
		}
		if i == 0 || e.Location.Instant != prev.Instant {
			id, ok := x.intern.instantID[e.Location.Instant]
			if !ok {
				id = uint32(len(d.instants) + len(instants))
				x.intern.instantID[e.Location.Instant] = id
				instants = append(instants, e.Location.Instant)
			}
			prevI = id
		}
		prev = e.Location
		gids[i], iids[i] = prevG, prevI
	}
	if len(groups) == 0 && len(instants) == 0 {
		return gids, iids, nil
	}
	err = func() error {
		own := wb == nil
		if own {
			wb = x.db.NewWriteBatch()
			defer wb.Cancel()
		}
		for i, g := range groups {
			if err := wb.Set(idKey(prefixGroup, uint32(len(d.groups)+i)), encodeGroup(g)); err != nil {
				return err
			}
		}
		for i, in := range instants {
			if err := wb.Set(idKey(prefixInstant, uint32(len(d.instants)+i)), []byte(in)); err != nil {
				return err
			}
		}
		if own {
			return wb.Flush()
		}
		return nil
	}()
	if err != nil {
		// Forget the ids: the next write assigns them again.
		for _, g := range groups {
			delete(x.intern.groupID, g)
		}
		for _, in := range instants {
			delete(x.intern.instantID, in)
		}
		return nil, nil, err
	}
	x.dict.Store(d.with(groups, instants))
	return gids, iids, nil
}

// batchEntries encodes entries, whose dictionary ids are gids and iids,
// into arenas and adds them to wb.
func (x *Index) batchEntries(ctx context.Context, wb *badger.WriteBatch, entries []Entry, gids, iids []uint32) error {
	// Sorting spans sortChunk entries: large enough for the skiplist to
	// benefit, small enough to bound the arena.
	const sortChunk = 1 << 20
	for off := 0; off < len(entries); off += sortChunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := entries[off:min(len(entries), off+sortChunk)]
		// Badger keeps references to keys and values until the batch is
		// committed, so every chunk gets a fresh arena, never reused.
		size := 0
		for _, e := range chunk {
			size += x.keyLen(e.Key) + 2*binary.MaxVarintLen32
		}
		arena := make([]byte, 0, size)
		type kv struct{ k, v []byte }
		kvs := make([]kv, len(chunk))
		for i, e := range chunk {
			start := len(arena)
			arena = x.appendKey(arena, e.Key)
			mid := len(arena)
			arena = appendValue(arena, gids[off+i], iids[off+i])
			kvs[i] = kv{arena[start:mid:mid], arena[mid:len(arena):len(arena)]}
		}
		// Inserting in key order keeps Badger's memtable skiplist walks in
		// the CPU cache, which matters for random keys such as uuids.
		slices.SortFunc(kvs, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
		for _, e := range kvs {
			be := badger.NewEntry(e.k, e.v)
			if x.opts.TTL > 0 {
				be = be.WithTTL(x.opts.TTL)
			}
			if err := wb.SetEntry(be); err != nil {
				return err
			}
		}
	}
	return nil
}

// markApplied records instant as applied (and as the watermark if it is
// the greatest) in one transaction; with finishRebuild it also clears the
// rebuilding marker and writes the layout version.
func (x *Index) markApplied(instant string, finishRebuild bool) error {
	x.mu.RLock()
	last := x.mu.last
	x.mu.RUnlock()
	if finishRebuild {
		last = ""
	}
	err := x.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(appliedKey(instant), nil); err != nil {
			return err
		}
		if instant > last {
			if err := txn.Set(metaLast, []byte(instant)); err != nil {
				return err
			}
		}
		if finishRebuild {
			if err := txn.Set(metaVersion, []byte(formatVersion)); err != nil {
				return err
			}
			return txn.Delete(metaRebuilding)
		}
		return nil
	})
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.mu.applied[instant] = struct{}{}
	if instant > x.mu.last || finishRebuild {
		x.mu.last = instant
	}
	if finishRebuild {
		x.mu.needsRebuild = false
	}
	return nil
}

// Rebuild replaces the whole index with the entries src yields, as of
// instant: afterwards instant is the only applied instant and the
// watermark. src calls yield for each entry and stops when it returns
// false (Rebuild failed); its error aborts the rebuild. progress, if set,
// is called with the number of entries loaded every
// RebuildProgressInterval entries and once at the end.
//
// Rebuild first records a "rebuilding" marker and wipes the index; the
// marker is cleared only when every entry is written. Until then (also
// after a crash, or when Rebuild fails) NeedsRebuild reports true and
// Lookup, Put and Delete return ErrNeedsRebuild.
func (x *Index) Rebuild(ctx context.Context, instant string, src func(yield func(Entry) bool) error, progress func(done int64)) error {
	if instant == "" {
		return fmt.Errorf("index: rebuild: %w", ErrInvalidInstant)
	}
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	if err := x.wipe(); err != nil {
		return err
	}
	if err := x.enter(); err != nil {
		return err
	}
	defer x.leave()
	if err := x.loadFrom(ctx, src, progress); err != nil {
		return fmt.Errorf("index: rebuild %s: %w", instant, err)
	}
	if err := x.markApplied(instant, true); err != nil {
		return fmt.Errorf("index: rebuild %s: %w", instant, err)
	}
	if err := x.db.Sync(); err != nil {
		return fmt.Errorf("index: rebuild %s: %w", instant, err)
	}
	return nil
}

// wipe writes the rebuilding marker and drops everything else, with no
// reader in flight. Callers hold writeMu.
func (x *Index) wipe() error {
	x.gate.Lock()
	defer x.gate.Unlock()
	if x.closed {
		return ErrClosed
	}
	x.mu.Lock()
	x.mu.needsRebuild = true
	x.mu.Unlock()
	// The marker is written (and synced) before anything is dropped, so a
	// crash from here on leaves an index that reports NeedsRebuild.
	if err := x.db.Update(func(txn *badger.Txn) error { return txn.Set(metaRebuilding, nil) }); err != nil {
		return fmt.Errorf("index: rebuild: %w", err)
	}
	if err := x.db.Sync(); err != nil {
		return fmt.Errorf("index: rebuild: %w", err)
	}
	err := x.db.DropPrefix([]byte{prefixEntry}, []byte{prefixGroup}, []byte{prefixInstant}, metaApplied, metaLast)
	if err != nil {
		return fmt.Errorf("index: rebuild: %w", err)
	}
	x.intern.groupID = map[group]uint32{}
	x.intern.instantID = map[string]uint32{}
	x.dict.Store(&dict{})
	x.mu.Lock()
	x.mu.applied = map[string]struct{}{}
	x.mu.last = ""
	x.mu.Unlock()
	return nil
}

// loadFrom streams src into one WriteBatch. Callers hold writeMu and the
// gate. Lookups are refused meanwhile, so dictionary records need not be
// durable before the entries that use them.
func (x *Index) loadFrom(ctx context.Context, src func(yield func(Entry) bool) error, progress func(done int64)) error {
	wb := x.db.NewWriteBatch()
	defer wb.Cancel()
	buf := make([]Entry, 0, writeChunk)
	var done, reported int64
	var werr error
	flush := func() error {
		gids, iids, err := x.internAll(ctx, buf, wb)
		if err != nil {
			return err
		}
		if err := x.batchEntries(ctx, wb, buf, gids, iids); err != nil {
			return err
		}
		done += int64(len(buf))
		clear(buf) // drop the strings
		buf = buf[:0]
		if progress != nil && done-reported >= RebuildProgressInterval {
			reported = done - done%RebuildProgressInterval
			progress(reported)
		}
		return nil
	}
	err := src(func(e Entry) bool {
		if werr != nil {
			return false
		}
		if werr = x.checkEntry(e); werr != nil {
			return false
		}
		buf = append(buf, e)
		if len(buf) == writeChunk {
			werr = flush()
		}
		return werr == nil
	})
	if werr == nil && err == nil && len(buf) > 0 {
		werr = flush()
	}
	if err = errors.Join(werr, err); err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	if progress != nil && done != reported {
		progress(done)
	}
	return nil
}

// AppliedInstants returns the applied instants in ascending order.
func (x *Index) AppliedInstants(ctx context.Context) ([]string, error) {
	if err := x.enter(); err != nil {
		return nil, err
	}
	defer x.leave()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	x.mu.RLock()
	out := make([]string, 0, len(x.mu.applied))
	for in := range x.mu.applied {
		out = append(out, in)
	}
	x.mu.RUnlock()
	slices.Sort(out)
	return out, nil
}

// MarkApplied records instants as applied without writing entries: the
// caller knows their entries are already in the index (a Rebuild from the
// table's latest file slices covers every instant completed when it
// started, not only the one it is recorded as of).
func (x *Index) MarkApplied(ctx context.Context, instants []string) error {
	for _, in := range instants {
		if in == "" {
			return fmt.Errorf("index: mark applied: %w", ErrInvalidInstant)
		}
	}
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	if err := x.enter(); err != nil {
		return err
	}
	defer x.leave()
	if x.needsRebuild() {
		return ErrNeedsRebuild
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var fresh []string
	x.mu.RLock()
	last := x.mu.last
	for _, in := range instants {
		if _, ok := x.mu.applied[in]; !ok {
			fresh = append(fresh, in)
		}
	}
	x.mu.RUnlock()
	if len(fresh) == 0 {
		return nil
	}
	newLast := last
	err := x.db.Update(func(txn *badger.Txn) error {
		for _, in := range fresh {
			if err := txn.Set(appliedKey(in), nil); err != nil {
				return err
			}
			newLast = max(newLast, in)
		}
		if newLast != last {
			return txn.Set(metaLast, []byte(newLast))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index: mark applied: %w", err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, in := range fresh {
		x.mu.applied[in] = struct{}{}
	}
	x.mu.last = max(x.mu.last, newLast)
	return nil
}

// OldestApplied returns the smallest applied instant, or "" if none.
// Completed instants after it that are not applied are missing from the
// index (instants complete out of order when writers run concurrently).
func (x *Index) OldestApplied() string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	oldest := ""
	for in := range x.mu.applied {
		if oldest == "" || in < oldest {
			oldest = in
		}
	}
	return oldest
}

// IsApplied reports whether the entries of instant are in the index (Put,
// Delete or Rebuild as of instant finished).
func (x *Index) IsApplied(instant string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, ok := x.mu.applied[instant]
	return ok
}

// LastApplied returns the greatest applied instant, or "" if none.
func (x *Index) LastApplied() string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.mu.last
}

// NeedsRebuild reports that the index holds the marker of an unfinished
// Rebuild (interrupted by a crash or an error) or was written with another
// layout: only Rebuild can make it usable again.
func (x *Index) NeedsRebuild() bool { return x.needsRebuild() }

// IsEmpty reports that no instant has been applied: a new or wiped index.
// Whether an empty index needs a Rebuild (the table has commits) is the
// caller's decision.
func (x *Index) IsEmpty() bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.mu.last == "" && len(x.mu.applied) == 0
}
