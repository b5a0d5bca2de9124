package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// Local is a Storage over a directory of the local filesystem.
//
// Create writes to a temporary file beside the target (named
// ".hoodie-tmp-*", which listings skip) and makes it visible on Close with
// rename (replace) or link (create-if-absent: link(2) fails with EEXIST when
// the target exists, so exactly one concurrent creator wins).
type Local struct {
	root string
}

var _ Storage = (*Local)(nil)

const localTmpPrefix = ".hoodie-tmp-"

var localTmpSeq atomic.Uint64

// NewLocal returns a Local store rooted at dir, creating dir if needed.
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: local root %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("storage: local root %q: %w", dir, err)
	}
	return &Local{root: abs}, nil
}

// Root is the absolute directory the store is rooted at.
func (l *Local) Root() string { return l.root }

func (l *Local) full(p string) (string, error) {
	if err := checkKey(p); err != nil {
		return "", err
	}
	return filepath.Join(l.root, filepath.FromSlash(p)), nil
}

// checkKey rejects keys that could escape the store root or are malformed.
func checkKey(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return fmt.Errorf("storage: invalid key %q", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("storage: invalid key %q", p)
		}
	}
	if strings.ContainsRune(p, 0) {
		return fmt.Errorf("storage: invalid key %q", p)
	}
	return nil
}

// checkPrefix rejects listing prefixes that could escape the store root. A
// prefix is "" or a key, whole or cut anywhere (".hoodie/", ".hoodie/2024",
// "."): every segment before the last "/" must be a valid key segment; the
// trailing partial segment only filters.
func checkPrefix(prefix string) error {
	i := strings.LastIndex(prefix, "/")
	if i < 0 {
		if strings.ContainsRune(prefix, 0) {
			return fmt.Errorf("storage: invalid list prefix %q", prefix)
		}
		return nil
	}
	if checkKey(prefix[:i]) != nil || strings.ContainsRune(prefix, 0) {
		return fmt.Errorf("storage: invalid list prefix %q", prefix)
	}
	return nil
}

// OpenRange implements Storage.
func (l *Local) OpenRange(ctx context.Context, p string, off, length int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fp, err := l.full(p)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(fp)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", p, err)
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("storage: open %s: %w", p, ErrNotExist)
	}
	if off < 0 {
		f.Close()
		return nil, fmt.Errorf("storage: open %s: negative offset %d", p, off)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: seek %s: %w", p, err)
	}
	if length < 0 {
		return f, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, length), f}, nil
}

// Create implements Storage.
func (l *Local) Create(ctx context.Context, p string, opts CreateOptions) (Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fp, err := l.full(p)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(fp)
	tmp := filepath.Join(dir, fmt.Sprintf("%s%d-%d", localTmpPrefix, os.Getpid(), localTmpSeq.Add(1)))
	f, err := createTemp(ctx, dir, tmp)
	if err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", p, err)
	}
	return &localWriter{f: f, tmp: tmp, target: fp, key: p, ifAbsent: opts.IfAbsent}, nil
}

// Retries of createTemp: the first localQuickRetries at once, then after a
// jittered pause of up to localRetryPause.
const (
	localCreateAttempts = 200
	localQuickRetries   = 10
	localRetryPause     = 2 * time.Millisecond
)

// createTemp makes dir and creates the new file tmp in it.
//
// Delete prunes the directories it leaves empty, in this process and in
// others, so dir or any of its parents may vanish at any point until tmp
// exists. Once it does, dir is not empty and no prune can remove it or its
// parents (rmdir refuses non-empty directories), and Close publishes
// within dir. Until then a prune shows up as one of:
//
//   - the open fails with ENOENT: dir went between MkdirAll and the open;
//   - MkdirAll fails with ENOENT: a parent went while it made the chain;
//   - MkdirAll fails with EEXIST: its Mkdir found a directory another
//     creator had just made, and the Lstat that should have confirmed it
//     found it pruned again.
//
// Each means a concurrent prune made progress: make the chain again. After
// a few immediate retries the loop pauses briefly, so that busy pruners
// cannot starve it. Other errors (a file in the way: ENOTDIR) are final.
func createTemp(ctx context.Context, dir, tmp string) (*os.File, error) {
	var err error
	for attempt := range localCreateAttempts {
		if err = os.MkdirAll(dir, 0o755); err == nil {
			var f *os.File
			if f, err = os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
				return f, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		} else if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if attempt >= localQuickRetries {
			if serr := sleepCtx(ctx, time.Duration(rand.Int64N(int64(localRetryPause)))+time.Microsecond); serr != nil {
				return nil, serr
			}
		}
	}
	return nil, fmt.Errorf("directory kept vanishing (%d attempts): %w", localCreateAttempts, err)
}

type localWriter struct {
	f        *os.File
	tmp      string
	target   string
	key      string
	ifAbsent bool
	done     bool
}

func (w *localWriter) Write(b []byte) (int, error) {
	if w.done {
		return 0, ErrClosed
	}
	n, err := w.f.Write(b)
	if err != nil {
		return n, fmt.Errorf("storage: write %s: %w", w.key, err)
	}
	return n, nil
}

func (w *localWriter) Close() error {
	if w.done {
		return ErrClosed
	}
	w.done = true
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("storage: close %s: %w", w.key, err)
	}
	if w.ifAbsent {
		err = os.Link(w.tmp, w.target)
		os.Remove(w.tmp)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("storage: create %s: %w", w.key, ErrExist)
			}
			return fmt.Errorf("storage: create %s: %w", w.key, err)
		}
	} else if err = os.Rename(w.tmp, w.target); err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("storage: create %s: %w", w.key, err)
	}
	syncDir(filepath.Dir(w.target))
	return nil
}

func (w *localWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	if err := os.Remove(w.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: abort %s: %w", w.key, err)
	}
	return nil
}

// syncDir makes a rename or link durable; best effort, as some filesystems
// refuse to fsync directories.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// List implements Storage.
func (l *Local) List(ctx context.Context, prefix, delimiter string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		if err := checkPrefix(prefix); err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		// Walk from the deepest directory fully contained in the prefix.
		dirKey := ""
		if i := strings.LastIndex(prefix, "/"); i >= 0 {
			dirKey = prefix[:i]
		}
		start := l.root
		if dirKey != "" {
			start = filepath.Join(l.root, filepath.FromSlash(dirKey))
		}
		ls := newListing(prefix, delimiter)
		err := filepath.WalkDir(start, func(fp string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			rel, rerr := filepath.Rel(l.root, fp)
			if rerr != nil {
				return rerr
			}
			key := filepath.ToSlash(rel)
			if d.IsDir() {
				if fp == start {
					return nil
				}
				// Prune directories that cannot contain matching keys.
				kd := key + "/"
				if !strings.HasPrefix(kd, prefix) && !strings.HasPrefix(prefix, kd) {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasPrefix(d.Name(), localTmpPrefix) || !strings.HasPrefix(key, prefix) {
				return nil
			}
			if ls.rolledUp(key) {
				return nil
			}
			info, ierr := d.Info()
			if ierr != nil {
				if errors.Is(ierr, fs.ErrNotExist) {
					return nil
				}
				return ierr
			}
			ls.out = append(ls.out, ObjectInfo{Path: key, Size: info.Size(), ModTime: info.ModTime()})
			return nil
		})
		if err != nil {
			yield(ObjectInfo{}, fmt.Errorf("storage: list %q: %w", prefix, err))
			return
		}
		yieldSorted(ls.out, yield)
	}
}

// Delete implements Storage. Parent directories left empty are removed.
func (l *Local) Delete(ctx context.Context, p string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fp, err := l.full(p)
	if err != nil {
		return err
	}
	if err := os.Remove(fp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: delete %s: %w", p, err)
	}
	// Directories exist only for the keys below them, as on S3: remove the
	// parents left empty, so listings do not walk dead directories (marker
	// directories of every past instant, for one). A Create below them at
	// the same time makes them again (createTemp).
	for dir := filepath.Dir(fp); dir != l.root && strings.HasPrefix(dir, l.root+string(filepath.Separator)); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty (or gone): stop
		}
	}
	return nil
}

// Stat implements Storage.
func (l *Local) Stat(ctx context.Context, p string) (ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, err
	}
	fp, err := l.full(p)
	if err != nil {
		return ObjectInfo{}, err
	}
	st, err := os.Stat(fp)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("storage: stat %s: %w", p, err)
	}
	if st.IsDir() {
		return ObjectInfo{}, fmt.Errorf("storage: stat %s: %w", p, ErrNotExist)
	}
	return ObjectInfo{Path: p, Size: st.Size(), ModTime: st.ModTime()}, nil
}
