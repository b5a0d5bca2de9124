package mdtrecord

import (
	"fmt"
	"maps"
)

// Merge combines two versions of one metadata record, older first, as
// HoodieMetadataPayload.preCombine does when Hudi merges log blocks in
// order and then the base file with the merged logs:
//
//   - types 1 and 2 (combineFileSystemMetadata): every entry of older, then
//     each entry of newer merged in. A newer live entry over an older live
//     one keeps the larger size; a newer live entry over a tombstone
//     replaces it. A newer tombstone over a live entry removes the entry
//     (tombstone and all); over a tombstone it stays; over no entry it is
//     kept, so that merging the logs first and the base file later still
//     deletes the file.
//   - type 5 (record index) and 4 (bloom filter): newer wins.
//   - type 3 (column stats): Hudi merges min/max ranges per column; this
//     package keeps column stats raw and returns an error.
//
// Records of different keys or types do not merge (ErrInvalid), nor does a
// type 2 record whose newer version holds a live file of size 0 (Hudi's
// validatePayload). The inputs are not modified.
func Merge(older, newer Record) (Record, error) {
	if older.Key != newer.Key {
		return Record{}, fmt.Errorf("%w: cannot combine %q with %q as the keys differ", ErrInvalid, older.Key, newer.Key)
	}
	if older.Type != newer.Type {
		return Record{}, fmt.Errorf("%w: %q: cannot combine type %d with %d", ErrInvalid, newer.Key, older.Type, newer.Type)
	}
	switch newer.Type {
	case TypePartitionList, TypeFiles:
		if err := validate(newer); err != nil {
			return Record{}, err
		}
		files := maps.Clone(older.Files)
		if files == nil {
			files = map[string]FileInfo{}
		}
		for name, fi := range newer.Files {
			old, ok := files[name]
			switch {
			case !ok:
				files[name] = fi
			case fi.Deleted && old.Deleted:
				files[name] = fi
			case fi.Deleted:
				delete(files, name)
			default:
				files[name] = FileInfo{Size: max(fi.Size, old.Size)}
			}
		}
		return Record{Key: newer.Key, Type: newer.Type, Files: files}, nil
	case TypeRecordIndex, TypeBloomFilter:
		return clone(newer), nil
	case TypeColumnStats:
		return Record{}, fmt.Errorf("%w: %q: merging column stats records is not supported", ErrInvalid, newer.Key)
	default:
		return Record{}, fmt.Errorf("%w: %q: unknown type %d", ErrInvalid, newer.Key, newer.Type)
	}
}

// clone returns a deep copy of r.
func clone(r Record) Record {
	r.Files = maps.Clone(r.Files)
	if r.RecordIndex != nil {
		ri := *r.RecordIndex
		r.RecordIndex = &ri
	}
	if r.Raw != nil {
		r.Raw = append([]byte(nil), r.Raw...)
	}
	return r
}

// Live returns the entries of a type 1 or 2 record that are not deleted:
// file name (or partition) to size, as Hudi's getFileList and
// getAllPartitionPaths read a merged record. Other types have none.
func Live(r Record) map[string]int64 {
	out := make(map[string]int64, len(r.Files))
	if r.Type != TypePartitionList && r.Type != TypeFiles {
		return out
	}
	for name, fi := range r.Files {
		if !fi.Deleted {
			out[name] = fi.Size
		}
	}
	return out
}
