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

// Mem is an in-memory Storage for tests. Objects become visible atomically
// on Writer.Close, as with the real backends.
type Mem struct {
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

// NewMem returns an empty in-memory store.
func NewMem() *Mem {
	m := &Mem{}
	m.mu.objects = map[string]memObject{}
	return m
}

// Clone returns an independent copy of the store's visible objects, the
// durable state a crash would leave.
func (m *Mem) Clone() *Mem {
	c := NewMem()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range m.mu.objects {
		c.mu.objects[k] = v
	}
	return c
}

// OpenRange implements Storage.
func (m *Mem) OpenRange(ctx context.Context, p string, off, length int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkKey(p); err != nil {
		return nil, err
	}
	m.mu.Lock()
	o, ok := m.mu.objects[p]
	m.mu.Unlock()
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
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if _, ok := w.m.mu.objects[w.key]; ok && w.ifAbsent {
		return fmt.Errorf("storage: create %s: %w", w.key, ErrExist)
	}
	w.m.mu.objects[w.key] = memObject{data: bytes.Clone(w.buf.Bytes()), modTime: time.Now()}
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
		m.mu.Lock()
		ls := newListing(prefix, delimiter)
		for k, o := range m.mu.objects {
			if !strings.HasPrefix(k, prefix) || ls.rolledUp(k) {
				continue
			}
			ls.out = append(ls.out, ObjectInfo{Path: k, Size: int64(len(o.data)), ModTime: o.modTime})
		}
		m.mu.Unlock()
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
	m.mu.Lock()
	delete(m.mu.objects, p)
	m.mu.Unlock()
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
	m.mu.Lock()
	o, ok := m.mu.objects[p]
	m.mu.Unlock()
	if !ok {
		return ObjectInfo{}, fmt.Errorf("storage: stat %s: %w", p, ErrNotExist)
	}
	return ObjectInfo{Path: p, Size: int64(len(o.data)), ModTime: o.modTime}, nil
}
