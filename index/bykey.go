package index

import (
	"context"
	"slices"
)

// LookupRecordKeys finds every location of each record key whatever its
// partition: its one entry in a global index; in a partition-scoped index,
// its entry in each partition the index knows (one Lookup per partition,
// so the cost grows with the number of partitions). The result is in
// input order (nil where a key has no entry opts.Trust accepts); a key
// that lives in several partitions has several locations, in partition
// order. Callers use it to find the partition of keys given without one
// (deletes by key).
func (x *Index) LookupRecordKeys(ctx context.Context, recordKeys []string, opts LookupOptions) ([][]Location, error) {
	out := make([][]Location, len(recordKeys))
	if len(recordKeys) == 0 {
		return out, nil
	}
	parts := []string{""}
	if !x.opts.Global {
		seen := map[string]bool{}
		parts = parts[:0]
		for _, g := range x.dict.Load().groups {
			if !seen[g.partition] {
				seen[g.partition] = true
				parts = append(parts, g.partition)
			}
		}
		slices.Sort(parts)
	}
	keys := make([]Key, len(recordKeys))
	for _, p := range parts {
		for i, k := range recordKeys {
			keys[i] = Key{PartitionPath: p, RecordKey: k}
		}
		locs, found, err := x.Lookup(ctx, keys, opts)
		if err != nil {
			return nil, err
		}
		for i, ok := range found {
			if ok {
				out[i] = append(out[i], locs[i])
			}
		}
	}
	return out, nil
}
