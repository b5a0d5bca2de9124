package writer

import (
	"context"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/bloom"
	"github.com/hoodie-lake/hoodie/internal/merge"
	"github.com/hoodie-lake/hoodie/storage"
)

// footerLookup finds keys the index does not know (expired entries) in the
// latest base files, using each file's footer: min/max record key, then the
// bloom filter, then — only for a bloom hit — the file's key column. This
// is what keeps an expired key from turning into a duplicate row.
//
// On a merge-on-read table inserts also live in log files, which no footer
// describes: there the lookup reads the keys of each candidate slice's log
// blocks (of visible instants), once per slice, and a key's log state
// comes before its base file's.
type footerLookup struct {
	st    storage.Storage
	view  *filegroup.View
	mu    sync.Mutex
	files map[string]*footerInfo // base file path -> footer
	cache *footerCache           // the writer's, across commits (may be nil)
	// logs, when set (merge-on-read), are the log keys per slice: key ->
	// whether its last log record is a delete record.
	logs    map[filegroup.FileGroupID]map[string]bool
	include func(instant string) bool
	target  *arrow.Schema // the meta columns log records are read in
}

type footerInfo struct {
	slice    *filegroup.FileSlice
	min, max string
	filter   bloom.Filter
	keys     map[string]bool // loaded on the first bloom hit
}

func newFooterLookup(st storage.Storage, view *filegroup.View, cache *footerCache) *footerLookup {
	return &footerLookup{st: st, view: view, files: map[string]*footerInfo{}, cache: cache}
}

// footerCacheSize bounds the footers a footerCache keeps (a bloom filter
// of Hudi's default size takes about 330 KB).
const footerCacheSize = 64

// footerCache keeps the key ranges and bloom filters of base files a
// writer read, across its commits: a base file never changes, so an entry
// stays right as long as the file exists. The oldest entry goes first.
type footerCache struct {
	mu    sync.Mutex
	by    map[string]*footerInfo // path -> footer, without slice and keys
	order []string
}

func (c *footerCache) get(path string) *footerInfo {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.by[path]
}

func (c *footerCache) put(path string, fi *footerInfo) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by == nil {
		c.by = map[string]*footerInfo{}
	}
	if _, ok := c.by[path]; ok {
		return
	}
	if len(c.order) >= footerCacheSize {
		delete(c.by, c.order[0])
		c.order = c.order[1:]
	}
	c.by[path] = &footerInfo{min: fi.min, max: fi.max, filter: fi.filter}
	c.order = append(c.order, path)
}

// withLogs makes the lookup search the log files of slices too, reading
// the blocks of the instants include accepts in schema target (the meta
// columns).
func (f *footerLookup) withLogs(include func(instant string) bool, target *arrow.Schema) *footerLookup {
	f.logs = map[filegroup.FileGroupID]map[string]bool{}
	f.include, f.target = include, target
	return f
}

// logKeys returns the keys of slice s's log files, each with whether its
// last log record deletes it, read on first use.
func (f *footerLookup) logKeys(ctx context.Context, s *filegroup.FileSlice) (map[string]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ks, ok := f.logs[s.FileGroupID]; ok {
		return ks, nil
	}
	logs, err := merge.ScanLogs(ctx, f.st, s.Logs, merge.Options{Include: f.include, Target: f.target})
	if err != nil {
		return nil, fmt.Errorf("writer: log keys of %s: %w", s.FileGroupID, err)
	}
	ks := make(map[string]bool, logs.Len())
	for k, del := range logs.Keys() {
		ks[k] = del
	}
	logs.Release()
	f.logs[s.FileGroupID] = ks
	return ks, nil
}

func (f *footerLookup) footer(ctx context.Context, s *filegroup.FileSlice) (*footerInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fi, ok := f.files[s.Base.Path]; ok {
		return fi, nil
	}
	if c := f.cache.get(s.Base.Path); c != nil {
		fi := &footerInfo{slice: s, min: c.min, max: c.max, filter: c.filter}
		f.files[s.Base.Path] = fi
		return fi, nil
	}
	rd, err := openBase(ctx, f.st, s.Base.Path)
	if err != nil {
		return nil, fmt.Errorf("writer: footer: %w", err)
	}
	md := rd.Metadata()
	fi := &footerInfo{slice: s, min: md[basefile.MinRecordKeyKey], max: md[basefile.MaxRecordKeyKey]}
	if b64 := md[basefile.BloomFilterKey]; b64 != "" {
		typ := md[basefile.BloomFilterTypeK]
		if typ == "" {
			typ = bloom.TypeSimple
		}
		if fi.filter, err = bloom.FromFooter(typ, b64); err != nil {
			fi.filter = nil // unreadable filter: fall back to the key column
		}
	}
	f.files[s.Base.Path] = fi
	f.cache.put(s.Base.Path, fi)
	return fi, nil
}

func (f *footerLookup) keys(ctx context.Context, fi *footerInfo) (map[string]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fi.keys != nil {
		return fi.keys, nil
	}
	ks, err := readKeys(ctx, f.st, fi.slice.Base.Path)
	if err != nil {
		return nil, fmt.Errorf("writer: keys: %w", err)
	}
	fi.keys = make(map[string]bool, len(ks))
	for _, k := range ks {
		fi.keys[k] = true
	}
	return fi.keys, nil
}

// mayHold reports whether the file may hold key: in its key range and
// its bloom filter.
func (fi *footerInfo) mayHold(key string) bool {
	if fi.min != "" && (key < fi.min || key > fi.max) {
		return false
	}
	return fi.filter == nil || fi.filter.MightContainString(key)
}

// find returns the latest slice holding key, or nil.
func (f *footerLookup) find(ctx context.Context, partition, key string, global bool) (*filegroup.FileSlice, error) {
	var cands []*filegroup.FileSlice
	if global {
		cands = f.view.LatestSlices()
	} else {
		cands = f.view.LatestSlicesIn(partition)
	}
	for _, s := range cands {
		if f.logs != nil && len(s.Logs) > 0 {
			ks, err := f.logKeys(ctx, s)
			if err != nil {
				return nil, err
			}
			if del, ok := ks[key]; ok {
				if del {
					continue // deleted from this group: not stored here
				}
				return s, nil
			}
		}
		if s.Base == nil {
			continue
		}
		fi, err := f.footer(ctx, s)
		if err != nil {
			return nil, err
		}
		if fi.min != "" && (key < fi.min || key > fi.max) {
			continue
		}
		if fi.filter != nil && !fi.filter.MightContainString(key) {
			continue
		}
		keys, err := f.keys(ctx, fi)
		if err != nil {
			return nil, err
		}
		if keys[key] {
			return s, nil
		}
	}
	return nil, nil
}
