package storage

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
)

// Fault injection: Faulty wraps a Storage and asks an Injector before every
// operation whether it fails. Crash tests sweep an OnIndex injector over
// n = 0..Count()-1 so every operation of a workload fails once, then check
// that the store the workload left behind is consistent.
//
//	c := storage.Counter(storage.Match{})
//	run(storage.NewFaulty(storage.NewMem(), c))      // learn the op count
//	for n := range c.Count() {
//		mem := storage.NewMem()
//		f := storage.NewFaulty(mem, storage.OnIndex(n, storage.ModeCrash, storage.Match{}))
//		_ = run(f)                                   // fails somewhere
//		check(mem)                                   // durable state after the "crash"
//	}

// ErrInjected marks an error produced by an Injector. Use errors.Is.
var ErrInjected = errors.New("storage: injected fault")

// ErrCrashed is returned by every operation after an injected crash, and by
// the crashing operation itself (which also matches ErrInjected). Use errors.Is.
var ErrCrashed = errors.New("storage: crashed")

// OpKind names the operations Faulty can fail.
type OpKind int

// The operations of Storage and Writer.
const (
	OpRead   OpKind = iota // Storage.OpenRange
	OpCreate               // Storage.Create
	OpWrite                // Writer.Write
	OpClose                // Writer.Close: the object is published
	OpList                 // Storage.List
	OpDelete               // Storage.Delete
	OpStat                 // Storage.Stat
)

var opNames = [...]string{"read", "create", "write", "close", "list", "delete", "stat"}

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

// Faulty is a Storage that consults an Injector before each operation of the
// wrapped store. It is safe for concurrent use if the wrapped store is.
type Faulty struct {
	inner Storage
	inj   Injector
	mu    struct {
		sync.Mutex
		crashed *Op
	}
}

var _ Storage = (*Faulty)(nil)

// NewFaulty wraps inner with inj.
func NewFaulty(inner Storage, inj Injector) *Faulty {
	return &Faulty{inner: inner, inj: inj}
}

// Inner is the wrapped store; after a crash it holds the durable state.
func (f *Faulty) Inner() Storage { return f.inner }

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
		return fmt.Errorf("storage: %s: %w (at %s)", op, ErrCrashed, *f.mu.crashed)
	}
	err := f.inj.MaybeError(op)
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrCrashed) {
		f.mu.crashed = &op
	}
	return fmt.Errorf("storage: %s: %w", op, err)
}

func (f *Faulty) isCrashed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.crashed != nil
}

// OpenRange implements Storage.
func (f *Faulty) OpenRange(ctx context.Context, p string, off, length int64) (io.ReadCloser, error) {
	if err := f.check(Op{OpRead, p}); err != nil {
		return nil, err
	}
	return f.inner.OpenRange(ctx, p, off, length)
}

// Create implements Storage.
func (f *Faulty) Create(ctx context.Context, p string, opts CreateOptions) (Writer, error) {
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
	w    Writer
	path string
	done bool
}

func (w *faultyWriter) Write(b []byte) (int, error) {
	if w.done {
		return 0, ErrClosed
	}
	if err := w.f.check(Op{OpWrite, w.path}); err != nil {
		return 0, err
	}
	return w.w.Write(b)
}

func (w *faultyWriter) Close() error {
	if w.done {
		return ErrClosed
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
		return fmt.Errorf("storage: abort %s: %w", w.path, ErrCrashed)
	}
	return w.w.Abort()
}

// List implements Storage.
func (f *Faulty) List(ctx context.Context, prefix, delimiter string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := f.check(Op{OpList, prefix}); err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		for o, err := range f.inner.List(ctx, prefix, delimiter) {
			if !yield(o, err) {
				return
			}
		}
	}
}

// Delete implements Storage.
func (f *Faulty) Delete(ctx context.Context, p string) error {
	if err := f.check(Op{OpDelete, p}); err != nil {
		return err
	}
	return f.inner.Delete(ctx, p)
}

// Stat implements Storage.
func (f *Faulty) Stat(ctx context.Context, p string) (ObjectInfo, error) {
	if err := f.check(Op{OpStat, p}); err != nil {
		return ObjectInfo{}, err
	}
	return f.inner.Stat(ctx, p)
}

// Logging is a Storage that records every operation of the wrapped store as
// one line of text, for tests that review the order of writes (data files
// before the instant that references them, inflight before completed):
//
//	create .hoodie/20240101000000000.commit if-absent
//	close .hoodie/20240101000000000.commit 1234 bytes
//	list .hoodie/ delim "/"
//
// Writes are not logged one by one: a writer's byte count is on its close
// line. Failed operations end with " -> " and an error class: not-exist,
// exist, injected, crashed or error.
type Logging struct {
	inner Storage
	mu    struct {
		sync.Mutex
		lines []string
	}
}

var _ Storage = (*Logging)(nil)

// NewLogging wraps inner.
func NewLogging(inner Storage) *Logging { return &Logging{inner: inner} }

// Lines returns the operations logged so far.
func (l *Logging) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.mu.lines)
}

// String returns the log, one operation per line.
func (l *Logging) String() string {
	lines := l.Lines()
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// Reset clears the log.
func (l *Logging) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mu.lines = nil
}

func (l *Logging) log(line string, err error) {
	if err != nil {
		line += " -> " + errClass(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mu.lines = append(l.mu.lines, line)
}

func errClass(err error) string {
	switch {
	case errors.Is(err, ErrCrashed):
		return "crashed"
	case errors.Is(err, ErrInjected):
		return "injected"
	case errors.Is(err, ErrNotExist):
		return "not-exist"
	case errors.Is(err, ErrExist):
		return "exist"
	default:
		return "error"
	}
}

// OpenRange implements Storage.
func (l *Logging) OpenRange(ctx context.Context, p string, off, length int64) (io.ReadCloser, error) {
	rc, err := l.inner.OpenRange(ctx, p, off, length)
	line := "read " + p
	if off != 0 || length >= 0 {
		line += fmt.Sprintf(" [%d,%d]", off, length)
	}
	l.log(line, err)
	return rc, err
}

// Create implements Storage.
func (l *Logging) Create(ctx context.Context, p string, opts CreateOptions) (Writer, error) {
	w, err := l.inner.Create(ctx, p, opts)
	line := "create " + p
	if opts.IfAbsent {
		line += " if-absent"
	}
	l.log(line, err)
	if err != nil {
		return nil, err
	}
	return &loggingWriter{l: l, w: w, path: p}, nil
}

type loggingWriter struct {
	l    *Logging
	w    Writer
	path string
	n    int64
}

func (w *loggingWriter) Write(b []byte) (int, error) {
	n, err := w.w.Write(b)
	w.n += int64(n)
	if err != nil {
		w.l.log(fmt.Sprintf("write %s", w.path), err)
	}
	return n, err
}

func (w *loggingWriter) Close() error {
	err := w.w.Close()
	w.l.log(fmt.Sprintf("close %s %d bytes", w.path, w.n), err)
	return err
}

func (w *loggingWriter) Abort() error {
	err := w.w.Abort()
	w.l.log("abort "+w.path, err)
	return err
}

// List implements Storage. One line per listing, with any error met while
// iterating.
func (l *Logging) List(ctx context.Context, prefix, delimiter string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		line := fmt.Sprintf("list %s", prefix)
		if delimiter != "" {
			line += fmt.Sprintf(" delim %q", delimiter)
		}
		var ferr error
		defer func() { l.log(line, ferr) }()
		for o, err := range l.inner.List(ctx, prefix, delimiter) {
			if err != nil {
				ferr = err
			}
			if !yield(o, err) {
				return
			}
		}
	}
}

// Delete implements Storage.
func (l *Logging) Delete(ctx context.Context, p string) error {
	err := l.inner.Delete(ctx, p)
	l.log("delete "+p, err)
	return err
}

// Stat implements Storage.
func (l *Logging) Stat(ctx context.Context, p string) (ObjectInfo, error) {
	info, err := l.inner.Stat(ctx, p)
	l.log("stat "+p, err)
	return info, err
}
