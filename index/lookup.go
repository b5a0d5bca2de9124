package index

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// lookupChunk is the number of keys a lookup worker reads between context
// checks, and the smallest share worth a goroutine.
const lookupChunk = 4096

// Lookup finds the locations of keys. The results are in input order:
// found[i] reports whether keys[i] has an entry, not expired, whose instant
// opts.Trust accepts; locs[i] is its location (zero when not found).
//
// Each call reads one consistent snapshot of the index. The keys are
// encoded and sorted for locality, then read by up to GOMAXPROCS workers,
// each on its own read transaction opened at the same time.
func (x *Index) Lookup(ctx context.Context, keys []Key, opts LookupOptions) ([]Location, []bool, error) {
	if err := x.enter(); err != nil {
		return nil, nil, err
	}
	defer x.leave()
	if x.needsRebuild() {
		return nil, nil, ErrNeedsRebuild
	}
	locs := make([]Location, len(keys))
	found := make([]bool, len(keys))
	if len(keys) == 0 {
		return locs, found, nil
	}

	// Encode every key into one arena.
	size := 0
	for _, k := range keys {
		if err := x.checkKey(k); err != nil {
			return nil, nil, err
		}
		size += x.keyLen(k)
	}
	arena := make([]byte, 0, size)
	ends := make([]int32, len(keys))
	for i, k := range keys {
		arena = x.appendKey(arena, k)
		ends[i] = int32(len(arena))
	}
	key := func(i int32) []byte {
		start := int32(0)
		if i > 0 {
			start = ends[i-1]
		}
		return arena[start:ends[i]:ends[i]]
	}

	workers := min(runtime.GOMAXPROCS(0), (len(keys)+lookupChunk-1)/lookupChunk)
	// All transactions are opened before the dictionary snapshot is taken:
	// every entry they can see was written after its ids were published.
	txns := make([]*badger.Txn, workers)
	for w := range txns {
		txns[w] = x.db.NewTransaction(false)
		defer txns[w].Discard()
	}
	d := x.dict.Load()

	// Each worker sorts and reads a contiguous share of the input; the
	// shares are sorted independently, which keeps sorting parallel.
	gids := make([]uint32, len(keys))
	iids := make([]uint32, len(keys))
	errs := make([]error, workers)
	share := (len(keys) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*share, min(len(keys), (w+1)*share)
		wg.Go(func() {
			order := make([]int32, hi-lo)
			for i := range order {
				order[i] = int32(lo + i)
			}
			slices.SortFunc(order, func(a, b int32) int { return bytes.Compare(key(a), key(b)) })
			errs[w] = x.read(ctx, txns[w], d, order, key, gids, iids, found)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}

	// Resolve ids and ask Trust once per instant, on this goroutine.
	var trusted []int8 // by instant id: 0 unknown, 1 trusted, -1 not
	if opts.Trust != nil {
		trusted = make([]int8, len(d.instants))
	}
	for i := range keys {
		if !found[i] {
			continue
		}
		iid := iids[i]
		if trusted != nil {
			if trusted[iid] == 0 {
				trusted[iid] = -1
				if opts.Trust(d.instants[iid]) {
					trusted[iid] = 1
				}
			}
			if trusted[iid] < 0 {
				found[i] = false
				continue
			}
		}
		g := d.groups[gids[i]]
		locs[i] = Location{PartitionPath: g.partition, FileID: g.fileID, Instant: d.instants[iid]}
	}
	return locs, found, nil
}

// read looks up the keys at the indexes in order (sorted by key) in txn,
// storing their ids and found flags.
func (x *Index) read(ctx context.Context, txn *badger.Txn, d *dict, order []int32, key func(int32) []byte, gids, iids []uint32, found []bool) error {
	for n, i := range order {
		if n%lookupChunk == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		item, err := txn.Get(key(i))
		if errors.Is(err, badger.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("index: lookup: %w", err)
		}
		var gid, iid uint32
		var ok bool
		if err := item.Value(func(v []byte) error {
			gid, iid, ok = decodeValue(v)
			return nil
		}); err != nil {
			return fmt.Errorf("index: lookup: %w", err)
		}
		if !ok || int(gid) >= len(d.groups) || int(iid) >= len(d.instants) {
			return fmt.Errorf("%w: entry %q", ErrCorrupt, key(i))
		}
		gids[i], iids[i], found[i] = gid, iid, true
	}
	return nil
}
