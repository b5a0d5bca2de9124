// Package storagefault holds the storage wrappers of hoodie's tests: Faulty,
// which fails chosen operations (or "crashes" the process at one) so that
// crash tests can sweep a workload over every operation, and Logging,
// which records every operation as a line of text for tests that review
// the order of writes.
package storagefault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/hoodie-lake/hoodie/storage"
)

// Fault injection: Faulty wraps a storage.Storage and asks an Injector
// before every operation whether it fails. Crash tests sweep an OnIndex
// injector over n = 0..Count()-1 so every operation of a workload fails
// once, then check that the store the workload left behind is consistent.
//
//	c := storagefault.Counter(storagefault.Match{})
//	run(storagefault.NewFaulty(storage.NewMem(), c)) // learn the op count
//	for n := range c.Count() {
//		mem := storage.NewMem()
//		crash := storagefault.OnIndex(n, storagefault.ModeCrash, storagefault.Match{})
//		_ = run(storagefault.NewFaulty(mem, crash)) // fails somewhere
//		check(mem)                                  // durable state after the "crash"
//	}

// ErrInjected marks an error produced by an Injector. Use errors.Is.
var ErrInjected = errors.New("storagefault: injected fault")

// ErrCrashed is returned by every operation after an injected crash, and by
// the crashing operation itself (which also matches ErrInjected). Use errors.Is.
var ErrCrashed = errors.New("storagefault: crashed")

// OpKind names the operations Faulty can fail.
type OpKind int

// The operations of storage.Storage and storage.Writer.
const (
	OpRead   OpKind = iota // storage.Storage.OpenRange
	OpCreate               // storage.Storage.Create
	OpWrite                // storage.Writer.Write
	OpClose                // storage.Writer.Close: the object is published
	OpList                 // storage.Storage.List
	OpDelete               // storage.Storage.Delete
	OpStat                 // storage.Storage.Stat
)

var opNames = [...]string{"read", "create", "write", "close", "list", "delete", "stat"}

// String is the kind as trace lines spell it: "read", "create", ...
func (k OpKind) String() string {
	if k < 0 || int(k) >= len(opNames) {
		return fmt.Sprintf("OpKind(%d)", int(k))
	}
	return opNames[k]
}

// Op is one operation about to run. Path is the object key, or the prefix
// for OpList.
type Op struct {
	Kind OpKind
	Path string
}

// String is "<kind> <path>".
func (o Op) String() string { return o.Kind.String() + " " + o.Path }

// Injector decides whether an operation fails: a non-nil error fails it and
// is returned to the caller (wrapped with the op). An error matching
// ErrCrashed also crashes the Faulty store: every later operation fails with
// ErrCrashed and nothing more reaches the wrapped store. Injectors are called
// concurrently when the store is used concurrently.
type Injector interface {
	MaybeError(op Op) error
}

// InjectorFunc adapts a function to Injector.
type InjectorFunc func(op Op) error

// MaybeError implements Injector.
func (f InjectorFunc) MaybeError(op Op) error { return f(op) }

// Match selects operations.
type Match struct {
	// Kinds are the operation kinds that match; empty matches every kind.
	Kinds []OpKind
	// Path is a path.Match glob ("" matches every path). It is matched
	// against the whole key, and when it contains no "/" also against the
	// key's last element, so "*.commit" matches ".hoodie/20240101.commit"
	// while ".hoodie/*" matches only direct children of .hoodie. For OpList
	// the path is the listing prefix.
	Path string
}

// Matches reports whether op is selected.
func (m Match) Matches(op Op) bool {
	if len(m.Kinds) > 0 && !slices.Contains(m.Kinds, op.Kind) {
		return false
	}
	if m.Path == "" {
		return true
	}
	if ok, _ := path.Match(m.Path, op.Path); ok {
		return true
	}
	if !strings.Contains(m.Path, "/") {
		ok, _ := path.Match(m.Path, path.Base(op.Path))
		return ok
	}
	return false
}

// Mode is what an injected fault does.
type Mode int

const (
	// ModeError fails the one operation with ErrInjected; the operation has
	// no effect (a failed Close publishes nothing and ends the writer) and
	// everything else carries on.
	ModeError Mode = iota
	// ModeCrash fails the operation like ModeError and then fails every later
	// operation with ErrCrashed, as if the process had died at that point: a
	// crashed Close publishes nothing, writers are never aborted.
	ModeCrash
)

// IndexInjector fails the n-th (0-based) operation selected by its Match and
// counts the selected operations. Safe for concurrent use, though only a
// sequential workload makes "the n-th" deterministic.
type IndexInjector struct {
	n     int
	mode  Mode
	match Match
	mu    struct {
		sync.Mutex
		count int
		fired *Op
	}
}

// OnIndex returns an injector failing the n-th (0-based) operation selected
// by m, in the given mode. A negative n never fails: the injector only counts.
func OnIndex(n int, mode Mode, m Match) *IndexInjector {
	return &IndexInjector{n: n, mode: mode, match: m}
}

// Counter returns an injector that fails nothing and counts the operations
// selected by m; run a workload through it to learn the sweep's bound.
func Counter(m Match) *IndexInjector { return OnIndex(-1, ModeError, m) }

// MaybeError implements Injector.
func (i *IndexInjector) MaybeError(op Op) error {
	if !i.match.Matches(op) {
		return nil
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	idx := i.mu.count
	i.mu.count++
	if idx != i.n {
		return nil
	}
	i.mu.fired = &op
	if i.mode == ModeCrash {
		return fmt.Errorf("%w: %w at op %d", ErrCrashed, ErrInjected, idx)
	}
	return fmt.Errorf("%w at op %d", ErrInjected, idx)
}

// Count is the number of selected operations seen so far (including the
// failed one; after a crash Faulty stops consulting the injector).
func (i *IndexInjector) Count() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.mu.count
}

// Fired returns the operation that was failed, if any.
func (i *IndexInjector) Fired() (Op, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.mu.fired == nil {
		return Op{}, false
	}
	return *i.mu.fired, true
}

// Faulty is a storage.Storage that consults an Injector before each
// operation of the wrapped store. It is safe for concurrent use if the wrapped store is.
type Faulty struct {
	inner storage.Storage
	inj   Injector
	mu    struct {
		sync.Mutex
		crashed *Op
	}
}

var _ storage.Storage = (*Faulty)(nil)

// NewFaulty wraps inner with inj.
func NewFaulty(inner storage.Storage, inj Injector) *Faulty {
	return &Faulty{inner: inner, inj: inj}
}

// Inner is the wrapped store; after a crash it holds the durable state.
func (f *Faulty) Inner() storage.Storage { return f.inner }

// Crashed reports whether an injected crash happened, and at which op.
func (f *Faulty) Crashed() (Op, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.crashed == nil {
		return Op{}, false
	}
	return *f.mu.crashed, true
}

// check runs the injector for op. The injector is consulted under the lock
// so that a crash is ordered against every other operation.
func (f *Faulty) check(op Op) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.crashed != nil {
		return fmt.Errorf("storagefault: %s: %w (at %s)", op, ErrCrashed, *f.mu.crashed)
	}
	err := f.inj.MaybeError(op)
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrCrashed) {
		f.mu.crashed = &op
	}
	return fmt.Errorf("storagefault: %s: %w", op, err)
}

func (f *Faulty) isCrashed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.crashed != nil
}

// OpenRange implements storage.Storage.
func (f *Faulty) OpenRange(ctx context.Context, p string, off, length int64) (io.ReadCloser, error) {
	if err := f.check(Op{OpRead, p}); err != nil {
		return nil, err
	}
	return f.inner.OpenRange(ctx, p, off, length)
}

// Create implements storage.Storage.
func (f *Faulty) Create(ctx context.Context, p string, opts storage.CreateOptions) (storage.Writer, error) {
	if err := f.check(Op{OpCreate, p}); err != nil {
		return nil, err
	}
	w, err := f.inner.Create(ctx, p, opts)
	if err != nil {
		return nil, err
	}
	return &faultyWriter{f: f, w: w, path: p}, nil
}

type faultyWriter struct {
	f    *Faulty
	w    storage.Writer
	path string
	done bool
}

func (w *faultyWriter) Write(b []byte) (int, error) {
	if w.done {
		return 0, storage.ErrClosed
	}
	if err := w.f.check(Op{OpWrite, w.path}); err != nil {
		return 0, err
	}
	return w.w.Write(b)
}

func (w *faultyWriter) Close() error {
	if w.done {
		return storage.ErrClosed
	}
	w.done = true
	if err := w.f.check(Op{OpClose, w.path}); err != nil {
		if !errors.Is(err, ErrCrashed) {
			// The close failed before publishing; release the inner writer.
			return errors.Join(err, w.w.Abort())
		}
		return err // a dead process cleans nothing up
	}
	return w.w.Close()
}

func (w *faultyWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	if w.f.isCrashed() {
		return fmt.Errorf("storagefault: abort %s: %w", w.path, ErrCrashed)
	}
	return w.w.Abort()
}

// List implements storage.Storage.
func (f *Faulty) List(ctx context.Context, prefix, delimiter string) iter.Seq2[storage.ObjectInfo, error] {
	return func(yield func(storage.ObjectInfo, error) bool) {
		if err := f.check(Op{OpList, prefix}); err != nil {
			yield(storage.ObjectInfo{}, err)
			return
		}
		for o, err := range f.inner.List(ctx, prefix, delimiter) {
			if !yield(o, err) {
				return
			}
		}
	}
}

// Delete implements storage.Storage.
func (f *Faulty) Delete(ctx context.Context, p string) error {
	if err := f.check(Op{OpDelete, p}); err != nil {
		return err
	}
	return f.inner.Delete(ctx, p)
}

// Stat implements storage.Storage.
func (f *Faulty) Stat(ctx context.Context, p string) (storage.ObjectInfo, error) {
	if err := f.check(Op{OpStat, p}); err != nil {
		return storage.ObjectInfo{}, err
	}
	return f.inner.Stat(ctx, p)
}
