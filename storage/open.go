package storage

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Options configure Open. The zero value opens local paths, and S3 locations
// with the standard AWS configuration chain (environment, shared config,
// instance roles).
type Options struct {
	// S3Endpoint overrides the S3 endpoint URL (e.g. "http://127.0.0.1:7070"
	// for a local S3-compatible server). Default: AWS_ENDPOINT_URL_S3 or
	// AWS_ENDPOINT_URL from the environment, else AWS.
	S3Endpoint string
	// S3Region is the bucket's region. Default: the AWS chain, else us-east-1.
	S3Region string
	// S3PathStyle addresses buckets as endpoint/bucket/key instead of
	// bucket.endpoint/key; most S3-compatible servers need it.
	S3PathStyle bool
	// S3PartSize is the multipart part size; objects larger than one part are
	// uploaded in parts. Default 16 MiB, minimum 5 MiB.
	S3PartSize int64
	// S3MaxAttempts bounds attempts per request for throttling and 5xx
	// responses, retried with exponential backoff (at most 20 s apart).
	// Default 8. A request that gets no answer (connection refused or
	// dropped, connect timeout) is tried at most 3 times, with at most 1 s
	// between attempts; one that timed out after connecting
	// (S3RequestTimeout) is not retried.
	S3MaxAttempts int
	// S3ConnectTimeout bounds establishing a connection, TCP connect and TLS
	// handshake, per attempt. Default 5 s.
	S3ConnectTimeout time.Duration
	// S3RequestTimeout bounds waiting within a request attempt: for the
	// response headers once the request is sent, and for any byte to move
	// while a request or response body is transferred. A slow transfer that
	// keeps moving is not cut off: this bounds stalls, not transfer time.
	// Default 30 s.
	S3RequestTimeout time.Duration
	// S3CreateBucket makes Open create the location's bucket if it does not
	// exist (idempotent: a bucket that exists, or is created concurrently,
	// is used as it is).
	S3CreateBucket bool
}

// Location is a parsed table location.
type Location struct {
	Scheme string // "file" or "s3"
	Bucket string // S3 only
	Path   string // local: absolute or relative directory; S3: key prefix without leading or trailing "/"
}

// String renders the location as a URI (local paths stay plain paths).
func (l Location) String() string {
	switch l.Scheme {
	case "s3":
		if l.Path == "" {
			return "s3://" + l.Bucket
		}
		return "s3://" + l.Bucket + "/" + l.Path
	default:
		return l.Path
	}
}

// ParseLocation parses a table location: a plain path or file:// URI for the
// local filesystem, or s3://bucket/prefix (s3a:// is accepted as Hadoop
// spells it).
func ParseLocation(loc string) (Location, error) {
	if loc == "" {
		return Location{}, fmt.Errorf("storage: empty location")
	}
	switch {
	case strings.HasPrefix(loc, "s3://"), strings.HasPrefix(loc, "s3a://"):
		u, err := url.Parse(loc)
		if err != nil {
			return Location{}, fmt.Errorf("storage: location %q: %w", loc, err)
		}
		if u.Host == "" {
			return Location{}, fmt.Errorf("storage: location %q: missing bucket", loc)
		}
		p := strings.Trim(u.Path, "/")
		for _, seg := range strings.Split(p, "/") {
			if seg == "." || seg == ".." {
				return Location{}, fmt.Errorf("storage: location %q: invalid path segment %q", loc, seg)
			}
		}
		return Location{Scheme: "s3", Bucket: u.Host, Path: p}, nil
	case strings.HasPrefix(loc, "file://"):
		u, err := url.Parse(loc)
		if err != nil {
			return Location{}, fmt.Errorf("storage: location %q: %w", loc, err)
		}
		if u.Host != "" && u.Host != "localhost" {
			return Location{}, fmt.Errorf("storage: location %q: remote file host %q not supported", loc, u.Host)
		}
		return Location{Scheme: "file", Path: u.Path}, nil
	case strings.Contains(loc, "://"):
		return Location{}, fmt.Errorf("storage: location %q: unsupported scheme (want a path, file:// or s3://)", loc)
	default:
		return Location{Scheme: "file", Path: loc}, nil
	}
}

// Open returns a Storage rooted at the location; keys passed to it are
// relative to the location.
func Open(ctx context.Context, loc string, opts Options) (Storage, error) {
	l, err := ParseLocation(loc)
	if err != nil {
		return nil, err
	}
	switch l.Scheme {
	case "s3":
		return NewS3(ctx, l.Bucket, l.Path, opts)
	default:
		return NewLocal(l.Path)
	}
}

// FullPath renders a key as the full path Hudi's Java writers record in
// plans and metadata: an absolute local path, or s3://bucket/prefix/key.
// Keys of other backends are returned as they are.
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

// KeyOf reverses FullPath (accepting Hadoop's file: and s3a: spellings):
// the key of a full path under s's root, or ok=false.
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
		if err != nil || l.Scheme != "s3" || l.Bucket != b.Bucket() {
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
