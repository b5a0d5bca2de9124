package storage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"strings"
	"sync"
	"time"
)

// Mem is an in-memory Storage, for tests and examples. Objects become
// visible atomically on Writer.Close, as with the real backends.
//
// NewMem makes a private store. Open("mem://name/prefix") opens the
// process-wide store called name — created empty on first use and kept for
// the life of the process — rooted at prefix, so that several opens of one
// location share their objects.
type Mem struct {
	objs   *memObjects
	prefix string // "" or ending in "/"
}

// memObjects are the objects of one in-memory store, keyed by full key.
type memObjects struct {
	mu struct {
		sync.Mutex
		objects map[string]memObject
	}
}

type memObject struct {
	data    []byte
	modTime time.Time
}

var _ Storage = (*Mem)(nil)

// NewMem returns an empty private in-memory store.
func NewMem() *Mem {
	o := &memObjects{}
	o.mu.objects = map[string]memObject{}
	return &Mem{objs: o}
}

// namedMems are the stores of mem:// locations.
var namedMems struct {
	sync.Mutex
	stores map[string]*Mem
}

// namedMem returns the process-wide store called name.
func namedMem(name string) *Mem {
	namedMems.Lock()
	defer namedMems.Unlock()
	if namedMems.stores == nil {
		namedMems.stores = map[string]*Mem{}
	}
	m, ok := namedMems.stores[name]
	if !ok {
		m = NewMem()
		namedMems.stores[name] = m
	}
	return m
}

// sub returns the store rooted at prefix ("" or a valid key) within m,
// sharing m's objects.
func (m *Mem) sub(prefix string) *Mem {
	if prefix == "" {
		return m
	}
	return &Mem{objs: m.objs, prefix: m.prefix + prefix + "/"}
}

// Clone returns an independent private copy of the store's visible
// objects, the durable state a crash would leave.
func (m *Mem) Clone() *Mem {
	c := NewMem()
	m.objs.mu.Lock()
	defer m.objs.mu.Unlock()
	for k, v := range m.objs.mu.objects {
		if rel, ok := strings.CutPrefix(k, m.prefix); ok {
			c.objs.mu.objects[rel] = v
		}
	}
	return c
}

// get returns the object at key p (relative to the store's root).
func (m *Mem) get(p string) (memObject, bool) {
	m.objs.mu.Lock()
	defer m.objs.mu.Unlock()
	o, ok := m.objs.mu.objects[m.prefix+p]
	return o, ok
}

// OpenRange implements Storage.
func (m *Mem) OpenRange(ctx context.Context, p string, off, length int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkKey(p); err != nil {
		return nil, err
	}
	o, ok := m.get(p)
	if !ok {
		return nil, fmt.Errorf("storage: open %s: %w", p, ErrNotExist)
	}
	if off < 0 {
		return nil, fmt.Errorf("storage: open %s: negative offset %d", p, off)
	}
	d := o.data
	if off > int64(len(d)) {
		off = int64(len(d))
	}
	d = d[off:]
	if length >= 0 && length < int64(len(d)) {
		d = d[:length]
	}
	return io.NopCloser(bytes.NewReader(d)), nil
}

// Create implements Storage.
func (m *Mem) Create(ctx context.Context, p string, opts CreateOptions) (Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkKey(p); err != nil {
		return nil, err
	}
	return &memWriter{m: m, key: p, ifAbsent: opts.IfAbsent}, nil
}

type memWriter struct {
	m        *Mem
	key      string
	ifAbsent bool
	buf      bytes.Buffer
	done     bool
}

func (w *memWriter) Write(b []byte) (int, error) {
	if w.done {
		return 0, ErrClosed
	}
	return w.buf.Write(b)
}

func (w *memWriter) Close() error {
	if w.done {
		return ErrClosed
	}
	w.done = true
	objs := w.m.objs
	objs.mu.Lock()
	defer objs.mu.Unlock()
	full := w.m.prefix + w.key
	if _, ok := objs.mu.objects[full]; ok && w.ifAbsent {
		return fmt.Errorf("storage: create %s: %w", w.key, ErrExist)
	}
	objs.mu.objects[full] = memObject{data: bytes.Clone(w.buf.Bytes()), modTime: time.Now()}
	return nil
}

func (w *memWriter) Abort() error {
	w.done = true
	return nil
}

// List implements Storage.
func (m *Mem) List(ctx context.Context, prefix, delimiter string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		if err := checkPrefix(prefix); err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		ls := newListing(prefix, delimiter)
		m.objs.mu.Lock()
		for full, o := range m.objs.mu.objects {
			k, ok := strings.CutPrefix(full, m.prefix)
			if !ok || !strings.HasPrefix(k, prefix) || ls.rolledUp(k) {
				continue
			}
			ls.out = append(ls.out, ObjectInfo{Path: k, Size: int64(len(o.data)), ModTime: o.modTime})
		}
		m.objs.mu.Unlock()
		yieldSorted(ls.out, yield)
	}
}

// Delete implements Storage.
func (m *Mem) Delete(ctx context.Context, p string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkKey(p); err != nil {
		return err
	}
	m.objs.mu.Lock()
	delete(m.objs.mu.objects, m.prefix+p)
	m.objs.mu.Unlock()
	return nil
}

// Stat implements Storage.
func (m *Mem) Stat(ctx context.Context, p string) (ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, err
	}
	if err := checkKey(p); err != nil {
		return ObjectInfo{}, err
	}
	o, ok := m.get(p)
	if !ok {
		return ObjectInfo{}, fmt.Errorf("storage: stat %s: %w", p, ErrNotExist)
	}
	return ObjectInfo{Path: p, Size: int64(len(o.data)), ModTime: o.modTime}, nil
}
