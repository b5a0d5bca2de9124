package index

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// lookupChunk is the number of keys a lookup worker reads between context
// checks, and the smallest share worth a goroutine.
const lookupChunk = 4096

// Lookup finds the locations of keys. The results are in input order:
// found[i] reports whether keys[i] has an entry, not expired, whose instant
// opts.Trust accepts; locs[i] is its location (zero when not found).
//
// Each call reads one consistent snapshot of the index. The keys are
// hashed and sorted by hash for locality, then read by up to GOMAXPROCS
// workers, from the memory front and then the runs, newest first.
func (x *Index) Lookup(ctx context.Context, keys []Key, opts LookupOptions) ([]Location, []bool, error) {
	if err := x.enter(); err != nil {
		return nil, nil, err
	}
	defer x.leave()
	if x.needsRebuild() {
		return nil, nil, ErrNeedsRebuild
	}
	for _, k := range keys {
		if err := x.checkKey(k); err != nil {
			return nil, nil, err
		}
	}
	locs := make([]Location, len(keys))
	found := make([]bool, len(keys))
	if len(keys) == 0 {
		return locs, found, nil
	}
	gids := make([]uint32, len(keys))
	iids := make([]uint32, len(keys))
	if err := x.read(ctx, keys, gids, iids, found); err != nil {
		return nil, nil, err
	}
	// Entries are added after their ids are published: the snapshot taken
	// now resolves every id read.
	d := x.dict.Load()

	// Resolve ids and ask Trust once per instant, on this goroutine.
	var trusted []int8 // by instant id: 0 unknown, 1 trusted, -1 not
	if opts.Trust != nil {
		trusted = make([]int8, len(d.instants))
	}
	for i := range keys {
		if !found[i] {
			continue
		}
		gid, iid := gids[i], iids[i]
		if int(gid) >= len(d.groups) || int(iid) >= len(d.instants) {
			return nil, nil, fmt.Errorf("%w: entry of %q refers to unknown ids %d, %d", ErrCorrupt, keys[i].RecordKey, gid, iid)
		}
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
		g := d.groups[gid]
		locs[i] = Location{PartitionPath: g.partition, FileID: g.fileID, Instant: d.instants[iid]}
	}
	return locs, found, nil
}

// read finds the ids of keys' live entries, splitting the keys between
// workers that each hash, sort and probe a contiguous share, so the probes
// of each worker walk the runs in order.
func (x *Index) read(ctx context.Context, keys []Key, gids, iids []uint32, found []bool) error {
	x.data.RLock()
	defer x.data.RUnlock()
	// The front's chunks, then the runs: newest first.
	runs := slices.Concat(x.data.front, x.data.runs)
	now := uint32(time.Now().Unix())
	return parallel(len(keys), func(lo, hi int) error {
		// A probe is a record whose gid is the key's position.
		ps := make([]rec, hi-lo)
		var buf []byte
		for i := range ps {
			var k hkey
			k, buf = x.hash(buf, keys[lo+i])
			ps[i] = rec{h1: k.h1, h2: k.h2, gid: uint32(lo + i)}
		}
		sortRecs(ps)
		for n, p := range ps {
			if n%lookupChunk == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			for _, r := range runs {
				if e := r.find(hkey{p.h1, p.h2}); e != nil {
					if e.live(now) {
						gids[p.gid], iids[p.gid], found[p.gid] = e.gid, e.iid, true
					}
					break
				}
			}
		}
		return nil
	})
}
