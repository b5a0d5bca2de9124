package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// formatVersion is the layout described in the package doc. An index with
// entries but another (or no) version needs a rebuild.
const formatVersion = "2"

// Key-space prefixes.
const (
	prefixEntry   = 'e'
	prefixGroup   = 'g'
	prefixInstant = 'i'
	prefixMeta    = 'm'
)

var (
	metaApplied    = []byte("mapplied/")
	metaLast       = []byte("mlast")
	metaRebuilding = []byte("mrebuilding")
	metaRuns       = []byte("mruns")
	metaVersion    = []byte("mversion")
)

// group is a file group: partition path and file ID.
type group struct{ partition, fileID string }

// dict is an immutable snapshot of the dictionaries: ids index the slices.
// Writers extend the slices by appending past every published length and
// publish a new header, so readers never see a slot change.
type dict struct {
	groups   []group
	instants []string
}

func (d *dict) with(groups []group, instants []string) *dict {
	return &dict{groups: append(d.groups, groups...), instants: append(d.instants, instants...)}
}

// checkKey reports whether k can be stored.
func (x *Index) checkKey(k Key) error {
	if k.RecordKey == "" {
		return fmt.Errorf("%w: empty record key", ErrInvalidKey)
	}
	n := len(k.RecordKey)
	if !x.opts.Global {
		if strings.IndexByte(k.PartitionPath, 0) >= 0 {
			return fmt.Errorf("%w: partition path %q contains NUL", ErrInvalidKey, k.PartitionPath)
		}
		n += len(k.PartitionPath)
	}
	if n > MaxKeySize {
		return fmt.Errorf("%w: key of %d bytes exceeds %d", ErrInvalidKey, n, MaxKeySize)
	}
	return nil
}

// keyLen is the encoded length of k.
func (x *Index) keyLen(k Key) int {
	if x.opts.Global {
		return 1 + len(k.RecordKey)
	}
	return 2 + len(k.PartitionPath) + len(k.RecordKey)
}

// appendKey appends the encoded entry key of k to dst.
func (x *Index) appendKey(dst []byte, k Key) []byte {
	dst = append(dst, prefixEntry)
	if !x.opts.Global {
		dst = append(dst, k.PartitionPath...)
		dst = append(dst, 0)
	}
	return append(dst, k.RecordKey...)
}

// hash returns the hash of k's encoded key, encoding it into buf.
func (x *Index) hash(buf []byte, k Key) (hkey, []byte) {
	buf = x.appendKey(buf[:0], k)
	return hashKey(buf), buf
}

func idKey(prefix byte, id uint32) []byte {
	k := make([]byte, 5)
	k[0] = prefix
	binary.BigEndian.PutUint32(k[1:], id)
	return k
}

func encodeGroup(g group) []byte {
	v := binary.AppendUvarint(make([]byte, 0, 2+len(g.partition)+len(g.fileID)), uint64(len(g.partition)))
	return append(append(v, g.partition...), g.fileID...)
}

func decodeGroup(v []byte) (group, bool) {
	n, m := binary.Uvarint(v)
	if m <= 0 || n > uint64(len(v)-m) {
		return group{}, false
	}
	v = v[m:]
	return group{partition: string(v[:n]), fileID: string(v[n:])}, true
}

func appliedKey(instant string) []byte {
	return append(append(make([]byte, 0, len(metaApplied)+len(instant)), metaApplied...), instant...)
}

// load reads the dictionaries and the watermark state into memory.
func (x *Index) load() error {
	var groups []group
	var instants []string
	var runIDs []uint64
	var ok bool
	err := x.db.View(func(txn *badger.Txn) error {
		// Dictionaries: ids are dense, so a missing id is corruption.
		for _, p := range []byte{prefixGroup, prefixInstant} {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{p}, PrefetchValues: false})
			for it.Rewind(); it.Valid(); it.Next() {
				item := it.Item()
				k := item.Key()
				if len(k) != 5 {
					it.Close()
					return fmt.Errorf("%w: dictionary key %q", ErrCorrupt, k)
				}
				id := binary.BigEndian.Uint32(k[1:])
				err := item.Value(func(v []byte) error {
					if p == prefixGroup {
						g, ok := decodeGroup(v)
						if !ok || int(id) != len(groups) {
							return fmt.Errorf("%w: file group %d", ErrCorrupt, id)
						}
						groups = append(groups, g)
						return nil
					}
					if int(id) != len(instants) {
						return fmt.Errorf("%w: instant %d", ErrCorrupt, id)
					}
					instants = append(instants, string(v))
					return nil
				})
				if err != nil {
					it.Close()
					return err
				}
			}
			it.Close()
		}

		it := txn.NewIterator(badger.IteratorOptions{Prefix: metaApplied})
		for it.Rewind(); it.Valid(); it.Next() {
			x.mu.applied[string(it.Item().Key()[len(metaApplied):])] = struct{}{}
		}
		it.Close()

		if v, err := getValue(txn, metaRuns); err != nil {
			return err
		} else if v != nil {
			if runIDs, ok = decodeRuns(v); !ok {
				return fmt.Errorf("%w: run list", ErrCorrupt)
			}
		}
		if v, err := getValue(txn, metaLast); err != nil {
			return err
		} else if v != nil {
			x.mu.last = string(v)
			x.diskLast = x.mu.last
		}
		if _, err := txn.Get(metaRebuilding); err == nil {
			x.mu.needsRebuild = true
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		v, err := getValue(txn, metaVersion)
		if err != nil {
			return err
		}
		if string(v) != formatVersion {
			// Written by another layout (or never written to): anything
			// it holds needs a rebuild; an empty index gets the version.
			empty, err := isEmptyDB(txn)
			if err != nil {
				return err
			}
			if !empty {
				x.mu.needsRebuild = true
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index: load: %w", err)
	}
	for id, g := range groups {
		x.intern.groupID[g] = uint32(id)
	}
	for id, in := range instants {
		x.intern.instantID[in] = uint32(id)
	}
	x.dict.Store(&dict{groups: groups, instants: instants})
	if err := x.openRuns(runIDs); err != nil {
		return fmt.Errorf("index: load: %w", err)
	}
	if !x.mu.needsRebuild && x.mu.last == "" && len(x.mu.applied) == 0 {
		if err := x.db.Update(func(txn *badger.Txn) error {
			return txn.Set(metaVersion, []byte(formatVersion))
		}); err != nil {
			return fmt.Errorf("index: load: %w", err)
		}
	}
	return nil
}

// getValue returns a copy of key's value, or nil if absent.
func getValue(txn *badger.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v, err := item.ValueCopy(nil)
	if v == nil && err == nil {
		v = []byte{}
	}
	return v, err
}

func isEmptyDB(txn *badger.Txn) (bool, error) {
	it := txn.NewIterator(badger.IteratorOptions{})
	defer it.Close()
	it.Rewind()
	return !it.Valid(), nil
}

// openRuns maps the runs of the list, and deletes run files that are not
// on it (left by a crash). A missing or damaged run makes the index need a
// rebuild.
func (x *Index) openRuns(ids []uint64) error {
	if x.runsDir == "" {
		return nil
	}
	listed := map[uint64]bool{}
	for _, id := range ids {
		listed[id] = true
		x.nextRun = max(x.nextRun, id+1)
	}
	des, err := os.ReadDir(x.runsDir)
	if err != nil {
		return err
	}
	for _, de := range des {
		id, ok := parseRunName(de.Name())
		if ok {
			x.nextRun = max(x.nextRun, id+1)
		}
		if !ok || !listed[id] {
			if err := os.RemoveAll(filepath.Join(x.runsDir, de.Name())); err != nil {
				return err
			}
		}
	}
	if x.mu.needsRebuild {
		return nil
	}
	runs := make([]*run, 0, len(ids))
	for _, id := range ids {
		r, err := openRun(runPath(x.runsDir, id), id, true)
		if err != nil {
			if errors.Is(err, ErrCorrupt) || errors.Is(err, os.ErrNotExist) {
				x.mu.needsRebuild = true
				break
			}
			for _, r := range runs {
				err = errors.Join(err, r.close())
			}
			return err
		}
		runs = append(runs, r)
	}
	if x.mu.needsRebuild {
		for _, r := range runs {
			if err := r.close(); err != nil {
				return err
			}
		}
		return nil
	}
	x.data.runs = runs
	return nil
}
