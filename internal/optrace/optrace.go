// Package optrace records the storage operations of a workload as
// normalized text, one operation a line, so that tests can show the write
// protocol (data files before the instant that references them, requested
// before inflight before completed, markers, heartbeats, rollbacks) as
// reviewable, deterministic output.
//
// A Trace is shared by every process of a scenario; each process wraps its
// store with Trace.Wrap and a label. Every line is normalized as it is
// recorded:
//
//	w1: put .hoodie/<T2>.commit if-absent
//	put a/<F1>_<W>_<T2>.parquet
//	stat .hoodie/.heartbeat/<T3> -> not-exist
//	list .hoodie/ delim=/
//
// The random and clock-derived parts of paths become placeholders numbered
// in order of first appearance: instant times (17 digits) <T1>, <T2>, ...;
// file IDs (a UUID with an optional "-<n>" suffix) <F1>, <F2>, ...; write
// tokens ("<partition>-<stage>-<attempt>") <W>. Sizes, byte ranges and
// listing results are not recorded (a listing's results come from the
// operations before it). The placeholders persist for the life of the
// Trace, so Normalize renders other text (a file listing, an error) with
// the same names.
//
// The operations, as they are recorded:
//
//	put <path> [if-absent]   a Writer's Close: the object becomes visible
//	create <path>            only when Create itself fails (with " -> err")
//	write <path>             only when a Write fails
//	abort <path>             a Writer aborted before Close
//	read <path>              OpenRange of the whole object
//	read-range <path>        OpenRange of a part of it; one line for a run
//	                         of ranged reads of one object (their number
//	                         is the codec's business)
//	stat <path>
//	list <prefix> [delim=/]  recorded when the listing is consumed
//	delete <path>
//
// A failed operation ends with " -> " and a class: not-exist, exist,
// injected, crashed or error.
//
// Heartbeats (.hoodie/.heartbeat/<instant>) are written once before an
// instant is requested and then again on a timer (every quarter of the
// heartbeat timeout) until the instant completes. The first write and the
// delete are part of the protocol and are recorded; the timer's rewrites of
// a heartbeat that exists are dropped, as their number depends on timing.
package optrace

import (
	"context"
	"io"
	"iter"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/storage"
)

// HeartbeatPrefix is the folder of writer heartbeats, whose timer rewrites
// a Trace drops.
const HeartbeatPrefix = ".hoodie/.heartbeat/"

// Trace collects normalized operation lines from the stores it wraps. It is
// safe for concurrent use; lines are in the order the operations finished.
type Trace struct {
	mu struct {
		sync.Mutex
		lines []string
		names map[string]string // raw token -> placeholder
		next  map[byte]int      // placeholder kind -> last number used
		beats map[string]bool   // heartbeat paths that exist
	}
}

// New returns an empty Trace.
func New() *Trace {
	t := &Trace{}
	t.mu.names = map[string]string{}
	t.mu.next = map[byte]int{}
	t.mu.beats = map[string]bool{}
	return t
}

// Wrap returns a Storage that records every operation on inner into t.
// label, when not empty, starts each of its lines ("w1: put ...").
func (t *Trace) Wrap(inner storage.Storage, label string) storage.Storage {
	return &store{t: t, inner: inner, label: label}
}

// Lines returns the lines recorded so far.
func (t *Trace) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.mu.lines)
}

// Take returns the lines recorded so far and clears them; placeholders
// keep their numbers.
func (t *Trace) Take() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.mu.lines
	t.mu.lines = nil
	return out
}

// String returns the lines recorded so far, each ending in a newline.
func (t *Trace) String() string {
	lines := t.Lines()
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// Normalize replaces the instant times, file IDs and write tokens in s by
// their placeholders, numbering new ones.
func (t *Trace) Normalize(s string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.normalizeLocked(s)
}

// Raw returns the text a placeholder ("<T2>") stands for.
func (t *Trace) Raw(placeholder string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for key, n := range t.mu.names {
		if n == placeholder {
			return key[1:], true
		}
	}
	return "", false
}

var (
	fileIDRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(-[0-9]+)?`)
	tokenRe  = regexp.MustCompile(`_[0-9]+-[0-9]+-[0-9]+`) // always after a '_' in Hudi's names
	digitsRe = regexp.MustCompile(`[0-9]+`)
)

// instantDigits is the length of a millisecond instant time.
const instantDigits = 17

func (t *Trace) normalizeLocked(s string) string {
	s = fileIDRe.ReplaceAllStringFunc(s, func(id string) string { return t.name('F', id) })
	s = tokenRe.ReplaceAllString(s, "_<W>")
	return digitsRe.ReplaceAllStringFunc(s, func(d string) string {
		if len(d) != instantDigits {
			return d
		}
		return t.name('T', d)
	})
}

// name returns raw's placeholder of the given kind, numbering it on first
// sight.
func (t *Trace) name(kind byte, raw string) string {
	key := string(kind) + raw
	if n, ok := t.mu.names[key]; ok {
		return n
	}
	t.mu.next[kind]++
	n := "<" + string(kind) + strconv.Itoa(t.mu.next[kind]) + ">"
	t.mu.names[key] = n
	return n
}

// record appends one operation line; err, if not nil, is appended as its
// class.
func (t *Trace) record(label, op, path, suffix string, err error) {
	if path == "" {
		path = `""` // the root: a listing of the whole table
	}
	line := op + " " + path
	if suffix != "" {
		line += " " + suffix
	}
	if err != nil {
		line += " -> " + storagefault.ErrClass(err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	line = t.normalizeLocked(line)
	if label != "" {
		line = label + ": " + line
	}
	if op == "read-range" && err == nil && len(t.mu.lines) > 0 && t.mu.lines[len(t.mu.lines)-1] == line {
		return // one line for a run of ranged reads of one object
	}
	t.mu.lines = append(t.mu.lines, line)
}

// beat notes that a heartbeat was written (true) or deleted (false).
func (t *Trace) beat(path string, exists bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if exists {
		t.mu.beats[path] = true
	} else {
		delete(t.mu.beats, path)
	}
}

// isRebeat reports whether path is a heartbeat that exists: a write to it
// is a timer rewrite.
func (t *Trace) isRebeat(path string) bool {
	if !strings.HasPrefix(path, HeartbeatPrefix) {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.beats[path]
}

// store is one process's traced view of a Storage.
type store struct {
	t     *Trace
	inner storage.Storage
	label string
}

var _ storage.Storage = (*store)(nil)

// OpenRange implements storage.Storage.
func (s *store) OpenRange(ctx context.Context, p string, off, length int64) (io.ReadCloser, error) {
	rc, err := s.inner.OpenRange(ctx, p, off, length)
	op := "read"
	if off != 0 || length >= 0 {
		op = "read-range"
	}
	s.t.record(s.label, op, p, "", err)
	return rc, err
}

// Create implements storage.Storage.
func (s *store) Create(ctx context.Context, p string, opts storage.CreateOptions) (storage.Writer, error) {
	quiet := s.t.isRebeat(p)
	w, err := s.inner.Create(ctx, p, opts)
	if err != nil {
		if !quiet {
			s.t.record(s.label, "create", p, "", err)
		}
		return nil, err
	}
	return &writer{s: s, w: w, path: p, ifAbsent: opts.IfAbsent, quiet: quiet}, nil
}

// List implements storage.Storage.
func (s *store) List(ctx context.Context, prefix, delimiter string) iter.Seq2[storage.ObjectInfo, error] {
	return func(yield func(storage.ObjectInfo, error) bool) {
		logged := false
		logOnce := func(err error) {
			if !logged {
				logged = true
				s.t.record(s.label, "list", prefix, delimSuffix(delimiter), err)
			}
		}
		for o, err := range s.inner.List(ctx, prefix, delimiter) {
			if logged && err != nil {
				s.t.record(s.label, "list", prefix, delimSuffix(delimiter), err) // a failure mid-listing
			}
			logOnce(err)
			if !yield(o, err) {
				return
			}
		}
		logOnce(nil)
	}
}

func delimSuffix(delimiter string) string {
	if delimiter == "" {
		return ""
	}
	return "delim=" + delimiter
}

// Delete implements storage.Storage.
func (s *store) Delete(ctx context.Context, p string) error {
	err := s.inner.Delete(ctx, p)
	if err == nil && strings.HasPrefix(p, HeartbeatPrefix) {
		s.t.beat(p, false)
	}
	s.t.record(s.label, "delete", p, "", err)
	return err
}

// Stat implements storage.Storage.
func (s *store) Stat(ctx context.Context, p string) (storage.ObjectInfo, error) {
	info, err := s.inner.Stat(ctx, p)
	s.t.record(s.label, "stat", p, "", err)
	return info, err
}

// writer records a streaming write: its Close (the put), or its failure.
type writer struct {
	s        *store
	w        storage.Writer
	path     string
	ifAbsent bool
	quiet    bool // a heartbeat's timer rewrite: not recorded
	done     bool
}

func (w *writer) Write(b []byte) (int, error) {
	n, err := w.w.Write(b)
	if err != nil && !w.quiet {
		w.s.t.record(w.s.label, "write", w.path, "", err)
	}
	return n, err
}

func (w *writer) Close() error {
	err := w.w.Close()
	w.done = true
	if err == nil && strings.HasPrefix(w.path, HeartbeatPrefix) {
		w.s.t.beat(w.path, true)
	}
	if w.quiet {
		return err
	}
	suffix := ""
	if w.ifAbsent {
		suffix = "if-absent"
	}
	w.s.t.record(w.s.label, "put", w.path, suffix, err)
	return err
}

func (w *writer) Abort() error {
	err := w.w.Abort()
	if w.done || w.quiet {
		return err // Abort after Close is the deferred no-op
	}
	w.done = true
	w.s.t.record(w.s.label, "abort", w.path, "", err)
	return err
}
