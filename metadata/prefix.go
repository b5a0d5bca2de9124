package metadata

import (
	"context"
	"io"
	"iter"
	"strings"

	"github.com/hoodie-lake/hoodie/storage"
)

// prefixed is a storage.Storage rooted at a folder of another one: the
// metadata table's base (.hoodie/metadata/) inside the data table's store,
// so the timeline and file helpers work on it unchanged.
type prefixed struct {
	inner  storage.Storage
	prefix string // ends with "/"
}

var _ storage.Storage = prefixed{}

func (p prefixed) OpenRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	return p.inner.OpenRange(ctx, p.prefix+key, off, length)
}

func (p prefixed) Create(ctx context.Context, key string, opts storage.CreateOptions) (storage.Writer, error) {
	return p.inner.Create(ctx, p.prefix+key, opts)
}

func (p prefixed) List(ctx context.Context, prefix, delimiter string) iter.Seq2[storage.ObjectInfo, error] {
	return func(yield func(storage.ObjectInfo, error) bool) {
		for obj, err := range p.inner.List(ctx, p.prefix+prefix, delimiter) {
			if err == nil {
				obj.Path = strings.TrimPrefix(obj.Path, p.prefix)
			}
			if !yield(obj, err) {
				return
			}
		}
	}
}

func (p prefixed) Delete(ctx context.Context, key string) error {
	return p.inner.Delete(ctx, p.prefix+key)
}

func (p prefixed) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	obj, err := p.inner.Stat(ctx, p.prefix+key)
	if err == nil {
		obj.Path = strings.TrimPrefix(obj.Path, p.prefix)
	}
	return obj, err
}
