package metadata

import (
	"context"
	"fmt"
	"sort"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// Mismatch is one disagreement between the metadata table and storage.
type Mismatch struct {
	Partition string
	// File is "" for a partition missing on one side.
	File string
	// Problem says what disagrees: "missing from the metadata table",
	// "listed but not in storage", "size", "partition missing from the
	// metadata table", "partition listed but not in storage".
	Problem string
	// MetadataSize and StorageSize are the sizes each side reports (-1:
	// absent).
	MetadataSize, StorageSize int64
}

func (m Mismatch) String() string {
	if m.File == "" {
		return fmt.Sprintf("partition %q: %s", m.Partition, m.Problem)
	}
	return fmt.Sprintf("%s/%s: %s (metadata %d bytes, storage %d bytes)", m.Partition, m.File, m.Problem, m.MetadataSize, m.StorageSize)
}

// Validate compares the metadata table's listing of tbl with a listing of
// storage, as Hudi's HoodieMetadataTableValidator does for the files
// partition: every committed data file (a base file of a completed
// instant, a log file written by a completed instant) must be listed with
// its size, and nothing else. Files of instants still pending are left
// out on both sides. It returns the mismatches, sorted; none means the
// metadata table agrees with storage.
func Validate(ctx context.Context, tbl *table.Table) ([]Mismatch, error) {
	if err := tbl.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	m, err := For(ctx, tbl, Options{})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, ErrNotEnabled
	}
	data, err := tbl.Timeline(ctx)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	got, err := m.Listing(ctx, data)
	if err != nil {
		return nil, err
	}
	want, err := listCommitted(ctx, tbl.Storage(), data)
	if err != nil {
		return nil, err
	}
	var out []Mismatch
	inMDT := map[string]bool{}
	for _, p := range got.Partitions {
		inMDT[p] = true
	}
	for _, p := range want.Partitions {
		files := want.Files[p]
		if !inMDT[p] && len(files) > 0 {
			out = append(out, Mismatch{Partition: p, Problem: "partition missing from the metadata table", MetadataSize: -1, StorageSize: -1})
		}
		listed := got.Files[p]
		for f, size := range files {
			ms, ok := listed[f]
			switch {
			case !ok:
				pending, err := writtenByPending(ctx, tbl.Storage(), data, p, f)
				if err != nil {
					return nil, err
				}
				if !pending {
					out = append(out, Mismatch{Partition: p, File: f, Problem: "missing from the metadata table", MetadataSize: -1, StorageSize: size})
				}
			case ms != size:
				out = append(out, Mismatch{Partition: p, File: f, Problem: "size", MetadataSize: ms, StorageSize: size})
			}
		}
	}
	onStorage := map[string]bool{}
	for _, p := range want.Partitions {
		onStorage[p] = true
	}
	for _, p := range got.Partitions {
		if !onStorage[p] {
			out = append(out, Mismatch{Partition: p, Problem: "partition listed but not in storage", MetadataSize: -1, StorageSize: -1})
			continue
		}
		for f, size := range got.Files[p] {
			if _, ok := want.Files[p][f]; !ok {
				out = append(out, Mismatch{Partition: p, File: f, Problem: "listed but not in storage", MetadataSize: size, StorageSize: -1})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].File < out[j].File
	})
	return out, nil
}

// writtenByPending reports whether log file name of partition p was
// written by an instant not (yet) completed: its first block's instant.
func writtenByPending(ctx context.Context, st storage.Storage, data *timeline.Timeline, p, name string) (bool, error) {
	if _, err := filegroup.ParseLogFileName(name); err != nil {
		return false, nil
	}
	key := name
	if p != "" {
		key = p + "/" + name
	}
	ts, exists, err := firstInstant(ctx, st, key)
	if err != nil {
		return false, err
	}
	if !exists {
		return true, nil // gone since the listing: rolled back
	}
	if ts == "" {
		return false, nil // unreadable: reported as missing
	}
	return !data.IsCompleted(ts), nil
}
