package index

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

const (
	// writeChunk is the number of entries hashed and added to the front
	// between context checks.
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
// applied (IsApplied) once all of them are, and recorded as applied on
// disk with the run that holds them (when the memory front fills, after a
// few instants, or at Close), so a crash leaves the index behind
// (IsApplied(instant) false after reopening), never ahead.
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

	// New dictionary records are written and published before any entry
	// that refers to them.
	gids, iids, err := x.internAll(ctx, entries)
	if err != nil {
		return fmt.Errorf("index: %s %s: %w", op, instant, err)
	}
	if err := x.addToFront(ctx, entries, gids, iids, deletes); err != nil {
		return fmt.Errorf("index: %s %s: %w", op, instant, err)
	}
	if op == "put pending" {
		return nil
	}
	x.pending = append(x.pending, instant)
	x.markInMemory([]string{instant}, false)
	if len(x.pending) >= maxPendingInstants {
		if err := x.flush(ctx); err != nil {
			return fmt.Errorf("index: %s %s: %w", op, instant, err)
		}
	}
	return nil
}

// addToFront adds entries (with their dictionary ids) and tombstones of
// deletes to the memory front as a sorted chunk, writing the front as a
// run whenever it is full. Callers hold writeMu and the gate.
func (x *Index) addToFront(ctx context.Context, entries []Entry, gids, iids []uint32, deletes []Key) error {
	var exp uint32
	if x.opts.TTL > 0 {
		exp = uint32(time.Now().Add(x.opts.TTL).Unix())
	}
	n := len(entries) + len(deletes)
	maxChunk := max(1, int(x.opts.FrontSize/frontEntryBytes))
	for off := 0; off < n; off += maxChunk {
		recs := make([]rec, min(n, off+maxChunk)-off)
		// Hashing is most of the cost: large writes hash on every core.
		if err := parallel(len(recs), func(lo, hi int) error {
			var buf []byte
			for j := lo; j < hi; j++ {
				if (j-lo)%writeChunk == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				var k hkey
				r := &recs[j]
				if i := off + j; i < len(entries) {
					k, buf = x.hash(buf, entries[i].Key)
					r.gid, r.iid, r.exp = gids[i], iids[i], exp
				} else {
					k, buf = x.hash(buf, deletes[i-len(entries)])
					r.gid = tombstoneGID
				}
				r.h1, r.h2 = k.h1, k.h2
			}
			return nil
		}); err != nil {
			return err
		}
		sortRecs(recs)
		front := slices.Concat([]*run{newRun(0, dedupe(recs))}, x.data.front)
		// Chunks of similar sizes merge in memory, which keeps their number
		// (and the probes of a lookup) logarithmic.
		for len(front) > 1 && len(front[0].recs) >= len(front[1].recs) {
			m := make([]rec, 0, len(front[0].recs)+len(front[1].recs))
			_ = mergeRuns([][]rec{front[0].recs, front[1].recs}, false, 0, nil, func(r rec) error {
				m = append(m, r)
				return nil
			})
			front = slices.Concat([]*run{newRun(0, m)}, front[2:])
		}
		recsIn := 0
		for _, c := range front {
			recsIn += len(c.recs)
		}
		x.data.Lock()
		x.data.front, x.data.frontRecs = front, recsIn
		x.data.Unlock()
		full := int64(recsIn)*frontEntryBytes >= x.opts.FrontSize || len(front) >= maxFrontChunks
		if full {
			if err := x.flush(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// parallel calls f on up to GOMAXPROCS contiguous shares of [0, n), of at
// least lookupChunk items each, and joins their errors.
func parallel(n int, f func(lo, hi int) error) error {
	workers := max(1, min(runtime.GOMAXPROCS(0), n/lookupChunk))
	if workers == 1 {
		return f(0, n)
	}
	errs := make([]error, workers)
	share := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { errs[w] = f(w*share, min(n, (w+1)*share)) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// markInMemory records instants as applied in memory.
func (x *Index) markInMemory(instants []string, finishRebuild bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if finishRebuild {
		x.mu.last = ""
		x.mu.needsRebuild = false
	}
	for _, in := range instants {
		x.mu.applied[in] = struct{}{}
		x.mu.last = max(x.mu.last, in)
	}
}

// flush writes the memory front as a run and records it, with the
// pending instants as applied, in one synced transaction. Callers hold
// writeMu and the gate.
func (x *Index) flush(ctx context.Context) error {
	front := x.data.front // only writers change it, and they hold writeMu
	if len(front) == 0 && len(x.pending) == 0 {
		return nil
	}
	runs := x.data.runs
	if len(front) > 0 {
		srcs := make([][]rec, len(front))
		for i, c := range front {
			srcs[i] = c.recs
		}
		r, err := x.writeRun(ctx, srcs, len(runs) == 0)
		if err != nil {
			return err
		}
		runs = slices.Concat([]*run{r}, runs)
	}
	if err := x.install(runs, x.pending, false); err != nil {
		if len(front) > 0 {
			err = errors.Join(err, runs[0].remove())
		}
		return err
	}
	x.pending = nil
	x.data.Lock()
	x.data.front, x.data.frontRecs = nil, 0
	x.data.Unlock()
	x.startMerges(runs)
	return nil
}

// startMerges starts the merger if runs need a merge and it is not
// scheduled already.
func (x *Index) startMerges(runs []*run) {
	if pickMerge(runs) >= 0 && x.merging.CompareAndSwap(false, true) {
		go x.mergeLoop()
	}
}

// writeRun merges srcs (newest first) into a new run. Callers hold
// writeMu.
func (x *Index) writeRun(ctx context.Context, srcs [][]rec, last bool) (*run, error) {
	id := x.nextRun
	x.nextRun++
	return buildRun(ctx, x.runsDir, id, srcs, last, nil)
}

func buildRun(ctx context.Context, dir string, id uint64, srcs [][]rec, last bool, stop func() error) (*run, error) {
	rw, err := newRunWriter(dir, id)
	if err != nil {
		return nil, err
	}
	check := func() error {
		if stop != nil {
			if err := stop(); err != nil {
				return err
			}
		}
		return ctx.Err()
	}
	if err := mergeRuns(srcs, last, uint32(time.Now().Unix()), check, rw.add); err != nil {
		return nil, errors.Join(err, rw.abort())
	}
	return rw.finish()
}

// install records runs (newest first) as the index's runs and instants as
// applied, in one transaction synced to disk, then publishes runs. It does
// not release replaced runs. Callers hold writeMu and the gate.
func (x *Index) install(runs []*run, instants []string, finishRebuild bool) error {
	last := x.diskLast
	if finishRebuild {
		last = ""
	}
	newLast := last
	err := x.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(metaRuns, encodeRuns(runs)); err != nil {
			return err
		}
		for _, in := range instants {
			if err := txn.Set(appliedKey(in), nil); err != nil {
				return err
			}
			newLast = max(newLast, in)
		}
		if newLast != last {
			if err := txn.Set(metaLast, []byte(newLast)); err != nil {
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
	if err == nil && !x.opts.InMemory {
		err = x.db.Sync()
	}
	if err != nil {
		return err
	}
	x.diskLast = newLast
	x.data.Lock()
	x.data.runs = runs
	x.data.Unlock()
	if finishRebuild {
		x.markInMemory(instants, true)
	}
	return nil
}

// pickMerge returns i when runs[i] and runs[i+1] should be merged: the
// newer is at least half the older, or there are too many runs; else -1.
func pickMerge(runs []*run) int {
	for i := 0; i+1 < len(runs); i++ {
		if 2*len(runs[i].recs) >= len(runs[i+1].recs) {
			return i
		}
	}
	if len(runs) > maxRuns {
		return 0
	}
	return -1
}

// maxRuns bounds the number of runs a lookup reads.
const maxRuns = 12

// mergeLoop merges runs until pickMerge finds nothing to do or Close
// stops it. It runs in its own goroutine.
func (x *Index) mergeLoop() {
	x.mergeMu.Lock()
	defer x.mergeMu.Unlock()
	x.merging.Store(false)
	for !x.stopMerges.Load() {
		more, err := x.mergeStep()
		if err != nil {
			if x.opts.Logger != nil {
				x.opts.Logger.Warn("index: merging runs", "err", err)
			}
			return
		}
		if !more {
			return
		}
	}
}

var errStopped = errors.New("index: closing")

// mergeStep merges one pair of runs, reading them without holding writeMu
// (only mergeMu holders remove runs; flushes only add newer ones).
// Callers hold mergeMu.
func (x *Index) mergeStep() (bool, error) {
	x.writeMu.Lock()
	runs := x.data.runs
	i := pickMerge(runs)
	id := x.nextRun
	if i >= 0 {
		x.nextRun++
	}
	x.writeMu.Unlock()
	if i < 0 {
		return false, nil
	}
	a, b := runs[i], runs[i+1]
	stop := func() error {
		if x.stopMerges.Load() {
			return errStopped
		}
		return nil
	}
	m, err := buildRun(context.Background(), x.runsDir, id, [][]rec{a.recs, b.recs}, i+2 == len(runs), stop)
	if errors.Is(err, errStopped) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	if err := x.enter(); err != nil {
		return false, errors.Join(err, m.remove())
	}
	defer x.leave()
	cur := x.data.runs
	j := slices.Index(cur, a)
	if j < 0 || j+1 >= len(cur) || cur[j+1] != b {
		return true, m.remove()
	}
	next := slices.Concat(cur[:j], []*run{m}, cur[j+2:])
	if err := x.install(next, nil, false); err != nil {
		return false, errors.Join(err, m.remove())
	}
	return true, errors.Join(a.remove(), b.remove())
}

// compactAll writes the front and merges every run into one. Callers
// hold mergeMu, writeMu and the gate.
func (x *Index) compactAll(ctx context.Context) error {
	if err := x.flush(ctx); err != nil {
		return err
	}
	old := x.data.runs
	if len(old) == 0 {
		return nil
	}
	srcs := make([][]rec, len(old))
	for i, r := range old {
		srcs[i] = r.recs
	}
	m, err := x.writeRun(ctx, srcs, true)
	if err != nil {
		return err
	}
	if err := x.install([]*run{m}, nil, false); err != nil {
		return errors.Join(err, m.remove())
	}
	for _, r := range old {
		err = errors.Join(err, r.remove())
	}
	return err
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
// publishing them. The records are committed before internAll returns
// (and made durable by the next install's sync). Callers hold writeMu.
func (x *Index) internAll(ctx context.Context, entries []Entry) (gids, iids []uint32, err error) {
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
		wb := x.db.NewWriteBatch()
		defer wb.Cancel()
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
		return wb.Flush()
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
	x.mergeMu.Lock()
	defer x.mergeMu.Unlock()
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
	if err := x.compactAll(ctx); err != nil {
		return fmt.Errorf("index: rebuild %s: %w", instant, err)
	}
	if err := x.install(x.data.runs, []string{instant}, true); err != nil {
		return fmt.Errorf("index: rebuild %s: %w", instant, err)
	}
	return nil
}

// wipe writes the rebuilding marker and drops everything else, with no
// reader in flight. Callers hold mergeMu and writeMu.
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
	// prefixEntry: entries of the previous layout, which kept them in
	// Badger.
	err := x.db.DropPrefix([]byte{prefixEntry}, []byte{prefixGroup}, []byte{prefixInstant}, metaApplied, metaLast, metaRuns)
	if err != nil {
		return fmt.Errorf("index: rebuild: %w", err)
	}
	x.data.Lock()
	old := x.data.runs
	x.data.runs = nil
	x.data.front, x.data.frontRecs = nil, 0
	x.data.Unlock()
	for _, r := range old {
		if err := r.remove(); err != nil {
			return fmt.Errorf("index: rebuild: %w", err)
		}
	}
	x.pending = nil
	x.diskLast = ""
	x.intern.groupID = map[group]uint32{}
	x.intern.instantID = map[string]uint32{}
	x.dict.Store(&dict{})
	x.mu.Lock()
	x.mu.applied = map[string]struct{}{}
	x.mu.last = ""
	x.mu.Unlock()
	return nil
}

// loadFrom streams src into the front, which is written as runs as it
// fills. Callers hold writeMu and the gate. Lookups are refused
// meanwhile.
func (x *Index) loadFrom(ctx context.Context, src func(yield func(Entry) bool) error, progress func(done int64)) error {
	buf := make([]Entry, 0, writeChunk)
	var done, reported int64
	var werr error
	flush := func() error {
		gids, iids, err := x.internAll(ctx, buf)
		if err != nil {
			return err
		}
		if err := x.addToFront(ctx, buf, gids, iids, nil); err != nil {
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
	for _, in := range instants {
		if _, ok := x.mu.applied[in]; !ok {
			fresh = append(fresh, in)
		}
	}
	x.mu.RUnlock()
	if len(fresh) == 0 {
		return nil
	}
	// The front is written with them: the entries they cover may be in it.
	x.pending = append(x.pending, fresh...)
	x.markInMemory(fresh, false)
	if err := x.flush(ctx); err != nil {
		return fmt.Errorf("index: mark applied: %w", err)
	}
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
