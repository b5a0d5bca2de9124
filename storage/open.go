package storage

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Opener opens the store rooted at a parsed location. Open calls it with
// options on which EnsureDefaults was called and Validate passed.
type Opener func(ctx context.Context, loc Location, opts Options) (Storage, error)

// registry maps URL schemes to their Opener.
var registry struct {
	sync.RWMutex
	openers map[string]Opener
}

func init() {
	registry.openers = map[string]Opener{
		"file": openLocal,
		"s3":   openS3,
		// Hadoop's spellings of s3, found in tables Spark wrote.
		"s3a": openS3,
		"s3n": openS3,
		"mem": openMem,
	}
}

// Register makes Open and ParseLocation accept locations of a scheme
// (lower case: a letter, then letters, digits, '+', '-' or '.'), opened
// by open; it replaces the scheme's opener if there is one, built-in ones
// included. A nil open removes the scheme.
//
// Built in: "file" (plain paths too), "s3", "s3a" and "s3n" (S3 and
// S3-compatible servers), and "mem" (mem://name/prefix: the process-wide
// in-memory store called name, created empty on first use).
func Register(scheme string, open Opener) error {
	if !validScheme(scheme) {
		return fmt.Errorf("storage: register: invalid scheme %q (want lower case letters, digits, '+', '-', '.')", scheme)
	}
	registry.Lock()
	defer registry.Unlock()
	if open == nil {
		delete(registry.openers, scheme)
	} else {
		registry.openers[scheme] = open
	}
	return nil
}

// Schemes returns the registered schemes, sorted.
func Schemes() []string {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]string, 0, len(registry.openers))
	for s := range registry.openers {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func lookup(scheme string) (Opener, bool) {
	registry.RLock()
	defer registry.RUnlock()
	o, ok := registry.openers[scheme]
	return o, ok
}

// Open returns the Storage rooted at a location (see ParseLocation); the
// keys passed to it are relative to the location:
//
//	storage.Open(ctx, "/data/tables/events", storage.Options{})
//	storage.Open(ctx, "file:///data/tables/events", storage.Options{})
//	storage.Open(ctx, "s3://bucket/tables/events", storage.Options{S3: storage.S3Options{Region: "eu-west-1"}})
//	storage.Open(ctx, "mem://test/events", storage.Options{})
//
// A local directory is created if missing. Opening an S3 location makes no
// request unless opts.S3.CreateBucket is set.
func Open(ctx context.Context, location string, opts Options) (Storage, error) {
	l, err := ParseLocation(location)
	if err != nil {
		return nil, err
	}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	open, ok := lookup(l.Scheme)
	if !ok { // unregistered since ParseLocation
		return nil, fmt.Errorf("%w %q", ErrUnsupportedScheme, l.Scheme)
	}
	return open(ctx, l, opts)
}

func openLocal(_ context.Context, l Location, _ Options) (Storage, error) {
	return NewLocal(l.Path)
}

func openS3(ctx context.Context, l Location, opts Options) (Storage, error) {
	return NewS3(ctx, l.Host, l.Path, opts.S3)
}

func openMem(_ context.Context, l Location, _ Options) (Storage, error) {
	return namedMem(l.Host).sub(l.Path), nil
}

// isS3Scheme reports the schemes of S3 locations.
func isS3Scheme(s string) bool { return slices.Contains([]string{"s3", "s3a", "s3n"}, s) }

// FullPath renders a key as the full path Hudi's Java writers record in
// plans and metadata: an absolute local path, or s3://bucket/prefix/key.
// Keys of other backends are returned as they are. Wrappers are looked
// through when they have a method Inner() Storage returning the wrapped
// store.
func FullPath(s Storage, key string) string {
	switch b := s.(type) {
	case *Local:
		return filepath.Join(b.Root(), filepath.FromSlash(key))
	case *S3:
		return "s3://" + b.Bucket() + "/" + b.Prefix() + key
	case interface{ Inner() Storage }:
		return FullPath(b.Inner(), key)
	}
	return key
}

// KeyOf reverses FullPath (accepting Hadoop's file:, s3a:// and s3n://
// spellings): the key of a full path under s's root, or ok=false.
func KeyOf(s Storage, full string) (string, bool) {
	switch b := s.(type) {
	case *Local:
		p := strings.TrimPrefix(full, "file:")
		rel, err := filepath.Rel(b.Root(), filepath.FromSlash(p))
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
			return "", false
		}
		return filepath.ToSlash(rel), true
	case *S3:
		l, err := ParseLocation(full)
		if err != nil || !isS3Scheme(l.Scheme) || l.Host != b.Bucket() {
			return "", false
		}
		k, ok := strings.CutPrefix(l.Path, b.Prefix())
		return k, ok && k != ""
	case interface{ Inner() Storage }:
		return KeyOf(b.Inner(), full)
	}
	if checkKey(full) == nil {
		return full, true
	}
	return "", false
}
