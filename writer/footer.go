package writer

import (
	"context"
	"fmt"
	"sync"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/bloom"
	"github.com/hoodie-lake/hoodie/storage"
)

// footerLookup finds keys the index does not know (expired entries) in the
// latest base files, using each file's footer: min/max record key, then the
// bloom filter, then — only for a bloom hit — the file's key column. This
// is what keeps an expired key from turning into a duplicate row.
type footerLookup struct {
	st    storage.Storage
	view  *filegroup.View
	mu    sync.Mutex
	files map[string]*footerInfo // base file path -> footer
}

type footerInfo struct {
	slice    *filegroup.FileSlice
	min, max string
	filter   bloom.Filter
	keys     map[string]bool // loaded on the first bloom hit
}

func newFooterLookup(st storage.Storage, view *filegroup.View) *footerLookup {
	return &footerLookup{st: st, view: view, files: map[string]*footerInfo{}}
}

func (f *footerLookup) footer(ctx context.Context, s *filegroup.FileSlice) (*footerInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fi, ok := f.files[s.Base.Path]; ok {
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

// find returns the latest slice holding key, or nil.
func (f *footerLookup) find(ctx context.Context, partition, key string, global bool) (*filegroup.FileSlice, error) {
	var cands []*filegroup.FileSlice
	if global {
		cands = f.view.LatestSlices()
	} else {
		cands = f.view.LatestSlicesIn(partition)
	}
	for _, s := range cands {
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
