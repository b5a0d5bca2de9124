package storagefault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"

	"github.com/hoodie-lake/hoodie/storage"
)

// Logging is a storage.Storage that records every operation of the wrapped
// store as one line of text, for tests that review the order of writes
// (data files before the instant that references them, inflight before
// completed):
//
//	create .hoodie/20240101000000000.commit if-absent
//	close .hoodie/20240101000000000.commit 1234 bytes
//	list .hoodie/ delim "/"
//
// Writes are not logged one by one: a writer's byte count is on its close
// line. Failed operations end with " -> " and an error class: not-exist,
// exist, injected, crashed or error.
type Logging struct {
	inner storage.Storage
	mu    struct {
		sync.Mutex
		lines []string
	}
}

var _ storage.Storage = (*Logging)(nil)

// NewLogging wraps inner.
func NewLogging(inner storage.Storage) *Logging { return &Logging{inner: inner} }

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
		line += " -> " + ErrClass(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mu.lines = append(l.mu.lines, line)
}

// ErrClass names the class of a storage error as log and trace lines show
// it: crashed, injected, not-exist, exist or error.
func ErrClass(err error) string {
	switch {
	case errors.Is(err, ErrCrashed):
		return "crashed"
	case errors.Is(err, ErrInjected):
		return "injected"
	case errors.Is(err, storage.ErrNotExist):
		return "not-exist"
	case errors.Is(err, storage.ErrExist):
		return "exist"
	default:
		return "error"
	}
}

// OpenRange implements storage.Storage.
func (l *Logging) OpenRange(ctx context.Context, p string, off, length int64) (io.ReadCloser, error) {
	rc, err := l.inner.OpenRange(ctx, p, off, length)
	line := "read " + p
	if off != 0 || length >= 0 {
		line += fmt.Sprintf(" [%d,%d]", off, length)
	}
	l.log(line, err)
	return rc, err
}

// Create implements storage.Storage.
func (l *Logging) Create(ctx context.Context, p string, opts storage.CreateOptions) (storage.Writer, error) {
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
	w    storage.Writer
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

// List implements storage.Storage. One line per listing, with any error
// met while iterating.
func (l *Logging) List(ctx context.Context, prefix, delimiter string) iter.Seq2[storage.ObjectInfo, error] {
	return func(yield func(storage.ObjectInfo, error) bool) {
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

// Delete implements storage.Storage.
func (l *Logging) Delete(ctx context.Context, p string) error {
	err := l.inner.Delete(ctx, p)
	l.log("delete "+p, err)
	return err
}

// Stat implements storage.Storage.
func (l *Logging) Stat(ctx context.Context, p string) (storage.ObjectInfo, error) {
	info, err := l.inner.Stat(ctx, p)
	l.log("stat "+p, err)
	return info, err
}
