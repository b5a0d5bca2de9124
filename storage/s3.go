package storage

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/sync/errgroup"
)

// S3 limits and defaults.
const (
	S3MinPartSize         = 5 << 20  // S3's minimum size of every part but the last
	S3DefaultPartSize     = 16 << 20 // S3Options.PartSize default
	S3DefaultMaxAttempts  = 8        // S3Options.MaxAttempts default
	s3MaxParts            = 10000    // S3's limit on parts per upload
	s3UploadConcurrency   = 4        // parts in flight per writer
	s3MaxBackoff          = 20 * time.Second
	s3DefaultRegion       = "us-east-1"
	s3ConditionalRetries  = 3 // re-sends of a conditional PUT answered 409 ConditionalRequestConflict
	s3AbortTimeout        = time.Minute
	s3AbortAttempts       = 5
	s3StatusPrecondition  = http.StatusPreconditionFailed
	s3StatusNotFound      = http.StatusNotFound
	s3StatusRangeNotValid = http.StatusRequestedRangeNotSatisfiable
)

// S3 is a Storage over a key prefix of an S3 bucket (or of an S3-compatible
// server), on aws-sdk-go-v2.
//
// Objects are written with a single PutObject when they fit in one part and
// with a multipart upload otherwise; either way nothing is visible before
// Close. Create-if-absent sends If-None-Match: * on the PutObject or the
// CompleteMultipartUpload, so S3 itself arbitrates races; a 412 Precondition
// Failed (or 409 ConditionalRequestConflict from a concurrent conditional
// write) becomes ErrExist.
//
// Every request is bounded in time (S3Options.ConnectTimeout,
// S3Options.RequestTimeout). Throttling and 5xx responses are retried by the
// SDK's standard retryer with exponential jittered backoff, up to
// S3Options.MaxAttempts attempts per request; 4xx answers such as 412 are
// final. Requests that get no answer are retried at most 3 times in all,
// with short backoff, and not at all once one timed out after connecting
// (see s3net.go). A retried conditional PUT whose first attempt did land but
// whose response was lost reports ErrExist: S3 cannot tell the two apart.
//
// Failures map to the storage sentinels: ErrNotExist (a missing object),
// ErrNoSuchBucket, ErrAccessDenied, ErrUnreachable and ErrTimeout.
type S3 struct {
	client   *s3.Client
	bucket   string
	prefix   string // "" or "some/prefix/" (with trailing slash)
	partSize int64

	region         string
	endpoint       string // for messages
	customEndpoint bool   // endpoint is not AWS's
	timeouts       s3Timeouts
	bucketSeen     atomic.Bool // the bucket is known to exist
}

var _ Storage = (*S3)(nil)

// s3Backoff replaces the retryer's backoff when set; tests shorten it.
var s3Backoff retry.BackoffDelayer

// NewS3 returns a store over s3://bucket/prefix. Credentials are
// opts.Credentials, else those of the standard AWS chain (environment,
// shared config and credentials files, SSO, container and instance roles).
//
// NewS3 makes no request unless opts.CreateBucket is set: then it creates
// the bucket if it does not exist.
//
// The endpoint is opts.Endpoint, else AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL (read by the SDK), else AWS. Path-style addressing is used
// when opts.PathStyle is set or the endpoint's host is an IP address or
// "localhost", where virtual-hosted buckets cannot resolve.
func NewS3(ctx context.Context, bucket, prefix string, opts S3Options) (*S3, error) {
	if bucket == "" {
		return nil, errors.New("storage: s3: empty bucket name")
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if err := checkKey(prefix); err != nil {
			return nil, fmt.Errorf("storage: s3 prefix: %w", err)
		}
		prefix += "/"
	}
	s, err := newS3Client(ctx, opts)
	if err != nil {
		return nil, err
	}
	s.bucket, s.prefix = bucket, prefix
	if opts.CreateBucket {
		if err := s.ensureBucket(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// newS3Client returns a store with the client for opts and no bucket.
func newS3Client(ctx context.Context, opts S3Options) (*S3, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	timeouts := s3Timeouts{connect: opts.ConnectTimeout, request: opts.RequestTimeout}
	loadOpts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return newS3Retryer(opts.MaxAttempts) }),
		config.WithHTTPClient(awshttp.NewBuildableClient()),
	}
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	if c := opts.Credentials; !c.IsZero() {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("storage: s3: load AWS config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = s3DefaultRegion
	}
	endpoint := opts.Endpoint
	pathStyle := opts.PathStyle || localEndpoint(endpoint) ||
		(endpoint == "" && localEndpoint(firstEnv("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")))
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = pathStyle
		// Servers that send no checksum on GetObject would otherwise log a
		// line per read.
		o.DisableLogOutputChecksumValidationSkipped = true
		o.APIOptions = append(o.APIOptions, addOpState)
		o.HTTPClient = timeouts.httpClient(o.HTTPClient)
	})
	shown := firstNonEmpty(endpoint, firstEnv("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"), aws.ToString(cfg.BaseEndpoint))
	s := &S3{client: client, partSize: opts.PartSize, region: cfg.Region, endpoint: shown, customEndpoint: shown != "", timeouts: timeouts}
	if shown == "" {
		s.endpoint = "https://s3." + cfg.Region + ".amazonaws.com"
	}
	return s, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// localEndpoint reports whether an endpoint URL names an IP address or
// localhost, which cannot serve virtual-hosted-style bucket names.
func localEndpoint(endpoint string) bool {
	if endpoint == "" {
		return false
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := u.Hostname()
	return h == "localhost" || net.ParseIP(h) != nil
}

// CreateBucket creates a bucket with the client NewS3 would use for
// opts, unless it exists. A bucket that already exists and is owned by the
// caller is not an error. NewS3 does the same when opts.CreateBucket is
// set.
func CreateBucket(ctx context.Context, bucket string, opts S3Options) error {
	if bucket == "" {
		return errors.New("storage: s3: empty bucket name")
	}
	s, err := newS3Client(ctx, opts)
	if err != nil {
		return err
	}
	s.bucket = bucket
	return s.ensureBucket(ctx)
}

// Bucket is the bucket the store reads and writes.
func (s *S3) Bucket() string { return s.bucket }

// Prefix is the key prefix keys are relative to ("" or ending in "/").
func (s *S3) Prefix() string { return s.prefix }

func (s *S3) key(p string) (string, error) {
	if err := checkKey(p); err != nil {
		return "", err
	}
	return s.prefix + p, nil
}

// httpStatus returns the HTTP status of an SDK error, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isExist reports a lost create-if-absent race: 412 Precondition Failed, or
// 409 ConditionalRequestConflict (a concurrent conditional write won).
func isExist(err error) bool {
	return httpStatus(err) == s3StatusPrecondition || apiCode(err) == "PreconditionFailed" || isConflict(err)
}

func isConflict(err error) bool {
	return apiCode(err) == "ConditionalRequestConflict"
}

// OpenRange implements Storage. An offset at or past the end of the object
// yields an empty reader, as with Local.
func (s *S3) OpenRange(ctx context.Context, p string, off, length int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k, err := s.key(p)
	if err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("storage: s3 open %s: negative offset %d", p, off)
	}
	if length == 0 {
		// A zero-length range cannot be expressed; still report a missing object.
		if _, err := s.Stat(ctx, p); err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)}
	switch {
	case length > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+length-1))
	case off > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", off))
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		if httpStatus(err) == s3StatusRangeNotValid || apiCode(err) == "InvalidRange" {
			return io.NopCloser(bytes.NewReader(nil)), nil
		}
		return nil, s.mapErr(ctx, "open", p, err)
	}
	return &s3Body{rc: out.Body, key: p, s: s, ctx: ctx}, nil
}

// s3Body wraps read errors of a GetObject body with the key; a stalled
// transfer (nothing for the request timeout) is ErrTimeout.
type s3Body struct {
	rc  io.ReadCloser
	key string
	s   *S3
	ctx context.Context // the request's, to tell its end from a stall
}

func (b *s3Body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		what := "storage: s3 read " + b.key
		if b.ctx.Err() == nil && classify(err) == failRequestTimeout {
			return n, b.s.stalledErr(what)
		}
		err = fmt.Errorf("%s: %w", what, err)
	}
	return n, err
}

func (b *s3Body) Close() error { return b.rc.Close() }

// Create implements Storage. The writer keeps ctx for its requests: Writer
// methods take no context.
func (s *S3) Create(ctx context.Context, p string, opts CreateOptions) (Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k, err := s.key(p)
	if err != nil {
		return nil, err
	}
	return &s3Writer{s: s, ctx: ctx, key: k, path: p, ifAbsent: opts.IfAbsent}, nil
}

type s3Writer struct {
	s        *S3
	ctx      context.Context // kept because Writer methods take no context
	key      string          // full object key
	path     string          // key relative to the store root, for messages
	ifAbsent bool
	buf      []byte
	done     bool

	// Multipart state, set once the first part is full.
	uploadID string
	group    *errgroup.Group
	gctx     context.Context
	cancel   context.CancelFunc
	nextPart int32
	mu       struct {
		sync.Mutex
		parts []types.CompletedPart
	}
}

func (w *s3Writer) Write(b []byte) (int, error) {
	if w.done {
		return 0, ErrClosed
	}
	written := 0
	for len(b) > 0 {
		if w.buf == nil {
			// Most objects are small: grow the first buffer on demand, but
			// give later parts of a multipart upload their full size at once.
			size := min(w.s.partSize, 1<<20)
			if w.uploadID != "" {
				size = w.s.partSize
			}
			w.buf = make([]byte, 0, size)
		}
		n := min(int64(len(b)), w.s.partSize-int64(len(w.buf)))
		w.buf = append(w.buf, b[:n]...)
		b = b[n:]
		written += int(n)
		if int64(len(w.buf)) == w.s.partSize && len(b) > 0 {
			// Only flush once more data is known to follow, so an object of
			// exactly one part stays a single PutObject.
			if err := w.flushPart(); err != nil {
				return written, err
			}
		}
	}
	if int64(len(w.buf)) == w.s.partSize && w.uploadID != "" {
		if err := w.flushPart(); err != nil {
			return written, err
		}
	}
	return written, nil
}

// flushPart hands the buffered part to a background upload, starting the
// multipart upload first if needed. It blocks while s3UploadConcurrency parts
// are in flight.
func (w *s3Writer) flushPart() error {
	if w.uploadID == "" {
		// The checksum algorithm is explicit on the upload and every part:
		// S3 rejects parts whose checksum type differs from the upload's,
		// and the SDK adds one to parts by default.
		out, err := w.s.client.CreateMultipartUpload(w.ctx, &s3.CreateMultipartUploadInput{
			Bucket:            aws.String(w.s.bucket),
			Key:               aws.String(w.key),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			return w.s.mapErr(w.ctx, "create multipart upload", w.path, err)
		}
		w.uploadID = aws.ToString(out.UploadId)
		w.gctx, w.cancel = context.WithCancel(w.ctx)
		w.group, w.gctx = errgroup.WithContext(w.gctx)
		w.group.SetLimit(s3UploadConcurrency)
	}
	if w.nextPart >= s3MaxParts {
		return fmt.Errorf("storage: s3 write %s: more than %d parts of %d bytes", w.path, s3MaxParts, w.s.partSize)
	}
	if err := w.gctx.Err(); err != nil {
		// An earlier part failed; Close or Abort report it.
		return fmt.Errorf("storage: s3 write %s: upload failed: %w", w.path, w.waitErr())
	}
	w.nextPart++
	num, data := w.nextPart, w.buf
	w.buf = nil
	w.group.Go(func() error {
		out, err := w.s.client.UploadPart(w.gctx, &s3.UploadPartInput{
			Bucket:            aws.String(w.s.bucket),
			Key:               aws.String(w.key),
			UploadId:          aws.String(w.uploadID),
			PartNumber:        aws.Int32(num),
			Body:              bytes.NewReader(data),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
			ContentLength:     aws.Int64(int64(len(data))),
		})
		if err != nil {
			return w.s.mapErr(w.gctx, fmt.Sprintf("upload part %d of", num), w.path, err)
		}
		w.mu.Lock()
		w.mu.parts = append(w.mu.parts, types.CompletedPart{
			ETag:          out.ETag,
			PartNumber:    aws.Int32(num),
			ChecksumCRC32: out.ChecksumCRC32,
		})
		w.mu.Unlock()
		return nil
	})
	return nil
}

func (w *s3Writer) waitErr() error {
	err := w.group.Wait()
	if err == nil {
		err = w.gctx.Err()
	}
	return err
}

func (w *s3Writer) Close() error {
	if w.done {
		return ErrClosed
	}
	w.done = true
	if w.uploadID == "" {
		return w.put()
	}
	if len(w.buf) > 0 {
		if err := w.flushPart(); err != nil {
			return errors.Join(err, w.abortUpload())
		}
	}
	if err := w.group.Wait(); err != nil {
		return errors.Join(err, w.abortUpload())
	}
	w.cancel()
	w.mu.Lock()
	parts := w.mu.parts
	w.mu.Unlock()
	sort.Slice(parts, func(i, j int) bool { return aws.ToInt32(parts[i].PartNumber) < aws.ToInt32(parts[j].PartNumber) })
	in := &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(w.s.bucket),
		Key:             aws.String(w.key),
		UploadId:        aws.String(w.uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if w.ifAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	if _, err := w.s.client.CompleteMultipartUpload(w.ctx, in); err != nil {
		aerr := w.abortUpload()
		if w.ifAbsent && isExist(err) {
			return errors.Join(fmt.Errorf("storage: s3 create %s: %w", w.path, ErrExist), aerr)
		}
		return errors.Join(w.s.mapErr(w.ctx, "complete multipart upload", w.path, err), aerr)
	}
	return nil
}

// put writes a small object with one PutObject.
func (w *s3Writer) put() error {
	data := w.buf
	w.buf = nil
	var err error
	for attempt := 0; ; attempt++ {
		in := &s3.PutObjectInput{
			Bucket:        aws.String(w.s.bucket),
			Key:           aws.String(w.key),
			Body:          bytes.NewReader(data),
			ContentLength: aws.Int64(int64(len(data))),
		}
		if w.ifAbsent {
			in.IfNoneMatch = aws.String("*")
		}
		_, err = w.s.client.PutObject(w.ctx, in)
		// AWS answers 409 ConditionalRequestConflict when a concurrent
		// conditional write is in progress and asks for a retry; the retry
		// then resolves to success or 412.
		if err == nil || !w.ifAbsent || !isConflict(err) || attempt >= s3ConditionalRetries {
			break
		}
		if serr := sleepCtx(w.ctx, time.Duration(attempt+1)*100*time.Millisecond); serr != nil {
			return fmt.Errorf("storage: s3 put %s: %w", w.path, serr)
		}
	}
	if err != nil {
		if w.ifAbsent && isExist(err) {
			return fmt.Errorf("storage: s3 create %s: %w", w.path, ErrExist)
		}
		if w.ctx.Err() == nil && classify(err) == failDropped {
			// Servers may refuse a PUT (no such bucket, bad credentials)
			// before reading its body and reset the connection: ask the
			// bucket why.
			if berr := w.s.checkBucket(w.ctx, "put", w.path); berr != nil && !errors.Is(berr, ErrUnreachable) {
				return berr
			}
		}
		if w.ifAbsent && w.ctx.Err() == nil && classify(err) == failDropped {
			// Some servers answer a losing conditional PUT with 412 before
			// reading the body and reset the connection, so the client sees
			// only a dropped connection. Ask the object itself: present with our
			// content (single-PUT ETag = MD5) means our PUT took effect;
			// present with other content means we lost.
			head, herr := w.s.client.HeadObject(w.ctx, &s3.HeadObjectInput{Bucket: aws.String(w.s.bucket), Key: aws.String(w.key)})
			if herr == nil {
				sum := md5.Sum(data)
				if strings.Trim(aws.ToString(head.ETag), `"`) == hex.EncodeToString(sum[:]) {
					return nil
				}
				return fmt.Errorf("storage: s3 create %s: %w", w.path, ErrExist)
			}
		}
		return w.s.mapErr(w.ctx, "put", w.path, err)
	}
	return nil
}

// hasHTTPStatus reports whether err carries an HTTP response status (as
// opposed to a transport failure).
func hasHTTPStatus(err error) bool {
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() != 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// abortUpload aborts the multipart upload so its parts are not stored (and
// billed) forever. It runs even when the writer's context is cancelled,
// bounded by s3AbortTimeout.
//
// In-flight parts are waited for rather than cancelled: S3 may still store a
// part whose request was cut off after the abort ("it might be necessary to
// abort a given multipart upload multiple times", says the AWS API
// reference). For the same reason the abort is repeated until ListParts
// reports the upload gone.
func (w *s3Writer) abortUpload() error {
	if w.uploadID == "" {
		return nil
	}
	_ = w.group.Wait() // the parts' errors are moot now
	w.cancel()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), s3AbortTimeout)
	defer cancel()
	id := w.uploadID
	w.uploadID = ""
	for attempt := 0; ; attempt++ {
		_, err := w.s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
			Bucket:   aws.String(w.s.bucket),
			Key:      aws.String(w.key),
			UploadId: aws.String(id),
		})
		if err != nil && !isNoSuchUpload(err) {
			return fmt.Errorf("storage: s3 abort upload %s: %w", w.path, err)
		}
		_, err = w.s.client.ListParts(ctx, &s3.ListPartsInput{
			Bucket:   aws.String(w.s.bucket),
			Key:      aws.String(w.key),
			UploadId: aws.String(id),
			MaxParts: aws.Int32(1),
		})
		switch {
		case isNoSuchUpload(err):
			return nil
		case err != nil:
			return fmt.Errorf("storage: s3 abort upload %s: list parts: %w", w.path, err)
		case attempt >= s3AbortAttempts-1:
			return fmt.Errorf("storage: s3 abort upload %s: upload still present after %d aborts", w.path, s3AbortAttempts)
		}
		if err := sleepCtx(ctx, time.Duration(50<<attempt)*time.Millisecond); err != nil {
			return fmt.Errorf("storage: s3 abort upload %s: %w", w.path, err)
		}
	}
}

func isNoSuchUpload(err error) bool {
	return err != nil && (apiCode(err) == "NoSuchUpload" || httpStatus(err) == s3StatusNotFound)
}

func (w *s3Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.buf = nil
	return w.abortUpload()
}

// List implements Storage with ListObjectsV2. Keys ending in "/" (folder
// markers made by consoles and other tools) are not objects to hoodie and are
// skipped.
func (s *S3) List(ctx context.Context, prefix, delimiter string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		if err := checkPrefix(prefix); err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		in := &s3.ListObjectsV2Input{
			Bucket: aws.String(s.bucket),
			Prefix: aws.String(s.prefix + prefix),
		}
		if delimiter != "" {
			in.Delimiter = aws.String(delimiter)
		}
		pager := s3.NewListObjectsV2Paginator(s.client, in)
		for pager.HasMorePages() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				yield(ObjectInfo{}, s.mapErr(ctx, "list", prefix, err))
				return
			}
			// Contents and CommonPrefixes are each sorted; merge them.
			out := make([]ObjectInfo, 0, len(page.Contents)+len(page.CommonPrefixes))
			for _, o := range page.Contents {
				rel, ok := strings.CutPrefix(aws.ToString(o.Key), s.prefix)
				if !ok || rel == "" || strings.HasSuffix(rel, "/") {
					continue
				}
				out = append(out, ObjectInfo{Path: rel, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)})
			}
			for _, cp := range page.CommonPrefixes {
				rel, ok := strings.CutPrefix(aws.ToString(cp.Prefix), s.prefix)
				if !ok || rel == "" {
					continue
				}
				out = append(out, ObjectInfo{Path: rel, IsDir: true})
			}
			if !yieldSorted(out, yield) {
				return
			}
		}
	}
}

// Delete implements Storage.
func (s *S3) Delete(ctx context.Context, p string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k, err := s.key(p)
	if err != nil {
		return err
	}
	_, err = s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)})
	if err != nil && !isNotFound(err) {
		return s.mapErr(ctx, "delete", p, err)
	}
	return nil
}

// Stat implements Storage.
func (s *S3) Stat(ctx context.Context, p string) (ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, err
	}
	k, err := s.key(p)
	if err != nil {
		return ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(k)})
	if err != nil {
		if isNotFound(err) && ctx.Err() == nil {
			// A HEAD 404 has no error code: a missing bucket, or on some
			// servers an unknown access key, looks like a missing object.
			if berr := s.checkBucket(ctx, "stat", p); berr != nil {
				return ObjectInfo{}, berr
			}
		}
		return ObjectInfo{}, s.mapErr(ctx, "stat", p, err)
	}
	return ObjectInfo{Path: p, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}
