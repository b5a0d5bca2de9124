// Package storage is hoodie's one narrow object-store interface and its
// backends: the local filesystem, S3 and S3-compatible servers
// (aws-sdk-go-v2), and an in-memory store.
//
// A table lives at a location: a local path ("/data/events", or
// "file:///data/events"), "s3://bucket/prefix" (Hadoop's s3a:// and s3n://
// too) or "mem://name/prefix". Open parses the location, picks the backend
// registered for its scheme and returns the Storage rooted there; Register
// adds schemes (or replaces the built-in openers), as iceberg-go's io
// package does. Options carry the settings of the built-in backends: for
// S3 the endpoint, path-style addressing, region, static credentials or
// the AWS chain, part size, retries and timeouts.
//
// Every Hudi file hoodie writes goes through Storage. The interface is shaped
// after object stores, not filesystems: objects are created whole (a Writer
// becomes visible only when Close succeeds), never appended to, and listed by
// key prefix. Paths are slash-separated keys relative to the store's root,
// with no leading slash, relative to the location the store was opened on
// (the table's base path): ".hoodie/hoodie.properties".
//
// Errors are normalised at the edge: a missing object is fs.ErrNotExist and a
// lost create-if-absent race is fs.ErrExist, testable with errors.Is whatever
// the backend; a missing bucket, refused credentials and an endpoint that
// does not answer are ErrNoSuchBucket, ErrAccessDenied and ErrUnreachable
// (ErrTimeout), never ErrNotExist.
//
//	st, err := storage.Open(ctx, "s3://bucket/tables/events", storage.Options{
//		S3: storage.S3Options{Endpoint: "http://127.0.0.1:9000", PathStyle: true},
//	})
//	w, err := st.Create(ctx, ".hoodie/hoodie.properties", storage.CreateOptions{IfAbsent: true})
//	_, err = w.Write(b)
//	err = w.Close() // visible only now; errors.Is(err, fs.ErrExist) if someone won the race
//
// The conformance suite every backend passes is in storage/storagetest.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"sort"
	"strings"
	"time"
)

// ErrNotExist and ErrExist are the sentinels every backend maps its errors to.
// Use errors.Is.
var (
	ErrNotExist = fs.ErrNotExist
	ErrExist    = fs.ErrExist
)

// ErrClosed is returned by Write/Close on a Writer that was already closed or aborted.
var ErrClosed = errors.New("storage: writer closed")

// Errors of reaching an object store (S3), as opposed to a missing object.
// None of them matches ErrNotExist: a table behind a missing bucket, refused
// credentials or an unreachable endpoint is not a table that does not
// exist. Use errors.Is; the messages name the bucket and the endpoint.
var (
	// ErrNoSuchBucket: the location's bucket does not exist (S3
	// NoSuchBucket). Options.S3CreateBucket creates it.
	ErrNoSuchBucket = errors.New("storage: no such bucket")
	// ErrAccessDenied: the store refused the credentials or the request
	// (403 AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch, ...).
	ErrAccessDenied = errors.New("storage: access denied")
	// ErrUnreachable: the endpoint gave no answer: connection refused,
	// unresolvable host, no connection within the connect timeout, the
	// connection dropped, or nothing for the request timeout.
	ErrUnreachable = errors.New("storage: endpoint unreachable")
	// ErrTimeout: the no-answer failures that ran into a timeout (connect or
	// request); they also match ErrUnreachable.
	ErrTimeout = errors.New("storage: timed out")
)

// ObjectInfo describes one object, or one common prefix ("directory") when
// IsDir is set by a delimited listing.
type ObjectInfo struct {
	Path    string // full key relative to the store root; for IsDir entries it ends with "/"
	Size    int64
	ModTime time.Time
	IsDir   bool
}

// CreateOptions are per-call knobs of Create.
type CreateOptions struct {
	// IfAbsent makes Close fail with an error matching ErrExist when an object
	// already exists at the path; exactly one of several concurrent creators
	// of one path succeeds. Local: link/rename-no-replace. S3: conditional
	// PUT with If-None-Match: *.
	IfAbsent bool
}

// Writer streams a new object. Nothing is visible at the path until Close
// returns nil; Abort discards everything written. Calling Abort after Close is
// a no-op, so `defer w.Abort()` is the idiom on error paths.
type Writer interface {
	io.Writer
	Close() error
	Abort() error
}

// Storage is the object-store interface used by every hoodie package.
type Storage interface {
	// ReadAt-style ranged read: returns up to length bytes starting at off.
	// length < 0 means to the end of the object.
	OpenRange(ctx context.Context, path string, off, length int64) (io.ReadCloser, error)
	// Create starts a streaming write that becomes visible on Close.
	Create(ctx context.Context, path string, opts CreateOptions) (Writer, error)
	// List yields the objects whose key starts with prefix, in lexical order.
	// With delimiter "/", keys with a further "/" after the prefix are rolled
	// up into one IsDir entry per common prefix (like S3's CommonPrefixes).
	// With delimiter "", every object under the prefix is yielded.
	List(ctx context.Context, prefix, delimiter string) iter.Seq2[ObjectInfo, error]
	// Delete removes an object. Deleting a missing object is not an error.
	Delete(ctx context.Context, path string) error
	// Stat returns an object's size and modification time, or ErrNotExist.
	Stat(ctx context.Context, path string) (ObjectInfo, error)
}

// ReadFile reads a whole object.
func ReadFile(ctx context.Context, s Storage, path string) ([]byte, error) {
	r, err := s.OpenRange(ctx, path, 0, -1)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("storage: read %s: %w", path, err)
	}
	return b, nil
}

// WriteFile writes a whole object, visible atomically.
func WriteFile(ctx context.Context, s Storage, path string, data []byte, opts CreateOptions) error {
	w, err := s.Create(ctx, path, opts)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return errors.Join(err, w.Abort())
	}
	return w.Close()
}

// Exists reports whether an object exists at path.
func Exists(ctx context.Context, s Storage, path string) (bool, error) {
	_, err := s.Stat(ctx, path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, ErrNotExist) {
		return false, nil
	}
	return false, err
}

// ReaderAt adapts an object to io.ReaderAt (for Parquet footers and other
// random access) using ranged reads. Size is the object's size.
type ReaderAt struct {
	ctx  context.Context // kept because io.ReaderAt has no context parameter
	st   Storage
	path string
	size int64
}

// NewReaderAt returns an io.ReaderAt over the object at path; it stats the
// object once to learn its size.
func NewReaderAt(ctx context.Context, s Storage, path string) (*ReaderAt, error) {
	info, err := s.Stat(ctx, path)
	if err != nil {
		return nil, err
	}
	return &ReaderAt{ctx: ctx, st: s, path: path, size: info.Size}, nil
}

// Size is the object's size in bytes.
func (r *ReaderAt) Size() int64 { return r.size }

// ReadAt implements io.ReaderAt.
func (r *ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	n := int64(len(p))
	if off+n > r.size {
		n = r.size - off
	}
	rc, err := r.st.OpenRange(r.ctx, r.path, off, n)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	got, err := io.ReadFull(rc, p[:n])
	if err != nil {
		return got, fmt.Errorf("storage: read %s at %d: %w", r.path, off, err)
	}
	if int64(got) < int64(len(p)) {
		return got, io.EOF
	}
	return got, nil
}

// listing collects a List result for backends that see every key under the
// prefix (local, memory): keys past the delimiter roll up into one IsDir
// entry per common prefix, as S3's CommonPrefixes do.
type listing struct {
	prefix, delimiter string
	seen              map[string]bool
	out               []ObjectInfo
}

func newListing(prefix, delimiter string) *listing {
	return &listing{prefix: prefix, delimiter: delimiter, seen: map[string]bool{}}
}

// rolledUp adds key's common prefix if the delimiter applies to it and
// reports whether it did (the key itself is then not listed).
func (l *listing) rolledUp(key string) bool {
	if l.delimiter == "" {
		return false
	}
	rest := key[len(l.prefix):]
	i := strings.Index(rest, l.delimiter)
	if i < 0 {
		return false
	}
	dk := l.prefix + rest[:i+len(l.delimiter)]
	if !l.seen[dk] {
		l.seen[dk] = true
		l.out = append(l.out, ObjectInfo{Path: dk, IsDir: true})
	}
	return true
}

// yieldSorted yields infos in key order; false if the consumer stopped.
func yieldSorted(infos []ObjectInfo, yield func(ObjectInfo, error) bool) bool {
	sort.Slice(infos, func(i, j int) bool { return infos[i].Path < infos[j].Path })
	for _, o := range infos {
		if !yield(o, nil) {
			return false
		}
	}
	return true
}

// Unavailable reports an error that says the store itself cannot be read —
// no such bucket, refused credentials, no answer — rather than that one
// object is missing.
func Unavailable(err error) bool {
	return errors.Is(err, ErrNoSuchBucket) || errors.Is(err, ErrAccessDenied) || errors.Is(err, ErrUnreachable)
}
