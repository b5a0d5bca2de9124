package storage_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/testutil/s3server"
	"github.com/hoodie-lake/hoodie/storage"
)

// fakeS3 answers every request with the next scripted status (the last one
// repeats) and counts requests per method.
type fakeS3 struct {
	mu       sync.Mutex
	statuses []int
	requests []string // "METHOD /path"
	headers  []http.Header
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	f.headers = append(f.headers, r.Header.Clone())
	status := f.statuses[0]
	if len(f.statuses) > 1 {
		f.statuses = f.statuses[1:]
	}
	f.mu.Unlock()
	code := map[int]string{
		http.StatusPreconditionFailed:  "PreconditionFailed",
		http.StatusNotFound:            "NoSuchKey",
		http.StatusServiceUnavailable:  "SlowDown",
		http.StatusInternalServerError: "InternalError",
		http.StatusConflict:            "ConditionalRequestConflict",
	}[status]
	w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
	if status == http.StatusOK {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			w.Header().Set("Content-Length", "5")
		}
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		w.WriteHeader(status)
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte("hello"))
		}
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>scripted</Message></Error>`, code)
	}
}

func (f *fakeS3) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func newFakeS3(t *testing.T, maxAttempts int, statuses ...int) (*storage.S3, *fakeS3) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "fake")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fakesecret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Cleanup(storage.SetS3BackoffForTest(time.Millisecond))
	f := &fakeS3{statuses: statuses}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	st, err := storage.NewS3(t.Context(), "bucket", "table", storage.S3Options{
		Endpoint: srv.URL, Region: "us-east-1", MaxAttempts: maxAttempts,
	})
	require.NoError(t, err)
	return st, f
}

func TestS3RetriesTransientErrors(t *testing.T) {
	st, f := newFakeS3(t, 8, http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusOK)
	require.NoError(t, storage.WriteFile(t.Context(), st, "k", []byte("hello"), storage.CreateOptions{}))
	assert.Equal(t, 3, f.count(), "two retries, then success")
	assert.Equal(t, "PUT /bucket/table/k", f.requests[2], "path-style key under the prefix")
}

func TestS3GivesUpAfterMaxAttempts(t *testing.T) {
	st, f := newFakeS3(t, 3, http.StatusServiceUnavailable)
	_, err := st.Stat(t.Context(), "k")
	require.Error(t, err)
	assert.NotErrorIs(t, err, storage.ErrNotExist)
	assert.Equal(t, 3, f.count())
}

func TestS3PreconditionFailedIsNotRetried(t *testing.T) {
	st, f := newFakeS3(t, 8, http.StatusPreconditionFailed)
	err := storage.WriteFile(t.Context(), st, "k", []byte("hello"), storage.CreateOptions{IfAbsent: true})
	require.ErrorIs(t, err, storage.ErrExist)
	assert.Equal(t, 1, f.count(), "412 is final")
	assert.Equal(t, "*", f.headers[0].Get("If-None-Match"))
	assert.NotContains(t, err.Error(), "fakesecret", "no credentials in errors")
}

func TestS3PlainCreateSendsNoCondition(t *testing.T) {
	st, f := newFakeS3(t, 8, http.StatusOK)
	require.NoError(t, storage.WriteFile(t.Context(), st, "k", []byte("hello"), storage.CreateOptions{}))
	require.Equal(t, 1, f.count())
	assert.Empty(t, f.headers[0].Get("If-None-Match"))
}

func TestS3ConditionalConflict(t *testing.T) {
	// A 409 ConditionalRequestConflict is re-sent; it resolves to success...
	st, f := newFakeS3(t, 8, http.StatusConflict, http.StatusOK)
	require.NoError(t, storage.WriteFile(t.Context(), st, "k", []byte("hello"), storage.CreateOptions{IfAbsent: true}))
	assert.Equal(t, 2, f.count())

	// ...or, if it persists, to a lost race.
	st, f = newFakeS3(t, 8, http.StatusConflict)
	err := storage.WriteFile(t.Context(), st, "k", []byte("hello"), storage.CreateOptions{IfAbsent: true})
	require.ErrorIs(t, err, storage.ErrExist)
	assert.Equal(t, 4, f.count())
}

func TestS3NotFound(t *testing.T) {
	st, _ := newFakeS3(t, 8, http.StatusNotFound)
	_, err := st.Stat(t.Context(), "k")
	assert.ErrorIs(t, err, storage.ErrNotExist, "HEAD 404")
	_, err = st.OpenRange(t.Context(), "k", 0, -1)
	assert.ErrorIs(t, err, storage.ErrNotExist, "GET NoSuchKey")
	assert.NoError(t, st.Delete(t.Context(), "k"), "deleting a missing object")
}

func TestS3ContextCancelledDuringRetries(t *testing.T) {
	st, f := newFakeS3(t, 1000, http.StatusServiceUnavailable)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := st.Stat(ctx, "k")
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Less(t, f.count(), 1000)
}

func TestS3RejectsSmallPartSize(t *testing.T) {
	_, err := storage.NewS3(t.Context(), "b", "", storage.S3Options{PartSize: 1 << 20})
	assert.Error(t, err)
	_, err = storage.NewS3(t.Context(), "", "", storage.S3Options{})
	assert.Error(t, err)
}

// rawClient is an SDK client on the test server, to look behind the store.
func rawClient(t *testing.T, srv *s3server.Server) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(srv.Endpoint),
		Region:       srv.Region,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
	})
}

func pendingUploads(t *testing.T, c *s3.Client, bucket string) int {
	t.Helper()
	out, err := c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	return len(out.Uploads)
}

// TestS3Multipart checks against versitygw that large objects really are
// uploaded in parts and that no multipart upload is left behind by a close,
// an abort or a lost create-if-absent race.
func TestS3Multipart(t *testing.T) {
	srv := s3server.Start(t)
	// versitygw answers a conditional PUT that fails with 412 before reading
	// a multi-MiB body and resets the connection; the SDK retries the reset
	// until it reads the 412. Short backoff keeps that from slowing the test.
	t.Cleanup(storage.SetS3BackoffForTest(20 * time.Millisecond))
	bucket := srv.NewBucket(t)
	opts := srv.Options()
	opts.S3.PartSize = storage.S3MinPartSize
	st, err := storage.NewS3(t.Context(), bucket, "tbl", opts.S3)
	require.NoError(t, err)
	c := rawClient(t, srv)

	sizes := map[string]int{
		"one-part":    storage.S3MinPartSize, // exactly one part: a single PUT
		"two-parts":   storage.S3MinPartSize + 1,
		"three-parts": 2*storage.S3MinPartSize + 12345,
	}
	for name, size := range sizes {
		data := bytes.Repeat([]byte(name[:1]), size)
		require.NoError(t, storage.WriteFile(t.Context(), st, name, data, storage.CreateOptions{IfAbsent: true}), name)
		head, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("tbl/" + name)})
		require.NoError(t, err)
		etag := strings.Trim(aws.ToString(head.ETag), `"`)
		switch name {
		case "one-part":
			assert.NotContains(t, etag, "-", "single PUT")
		case "two-parts":
			assert.True(t, strings.HasSuffix(etag, "-2"), "etag %s", etag)
		case "three-parts":
			assert.True(t, strings.HasSuffix(etag, "-3"), "etag %s", etag)
		}
		got, err := storage.ReadFile(t.Context(), st, name)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(data, got), name)

		// Losing a race leaves no upload behind.
		err = storage.WriteFile(t.Context(), st, name, data[:size-1], storage.CreateOptions{IfAbsent: true})
		require.ErrorIs(t, err, storage.ErrExist, name)
		assert.Zero(t, pendingUploads(t, c, bucket), name)
	}

	w, err := st.Create(t.Context(), "aborted", storage.CreateOptions{})
	require.NoError(t, err)
	_, err = w.Write(make([]byte, 3*storage.S3MinPartSize))
	require.NoError(t, err)
	assert.NotZero(t, pendingUploads(t, c, bucket), "parts are uploading before Close")
	require.NoError(t, w.Abort())
	assert.Zero(t, pendingUploads(t, c, bucket))
	_, err = st.Stat(t.Context(), "aborted")
	assert.ErrorIs(t, err, storage.ErrNotExist)

	// A writer whose context is cancelled mid-upload fails and cleans up.
	ctx, cancel := context.WithCancel(t.Context())
	w, err = st.Create(ctx, "cancelled", storage.CreateOptions{})
	require.NoError(t, err)
	_, err = w.Write(make([]byte, 2*storage.S3MinPartSize))
	require.NoError(t, err)
	cancel()
	_, werr := w.Write(make([]byte, storage.S3MinPartSize))
	cerr := w.Close()
	assert.Error(t, errorsJoin(werr, cerr))
	assert.ErrorIs(t, cerr, context.Canceled)
	assert.Zero(t, pendingUploads(t, c, bucket))
	_, err = st.Stat(t.Context(), "cancelled")
	assert.ErrorIs(t, err, storage.ErrNotExist)
}

func errorsJoin(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func TestS3OpenLocation(t *testing.T) {
	srv := s3server.Start(t)
	loc, opts := srv.NewLocation(t)
	st, err := storage.Open(t.Context(), loc, opts)
	require.NoError(t, err)
	s, ok := st.(*storage.S3)
	require.True(t, ok)
	assert.Equal(t, "table/", s.Prefix())
	require.NoError(t, storage.WriteFile(t.Context(), st, ".hoodie/hoodie.properties", []byte("x"), storage.CreateOptions{}))

	// The object sits under the location's prefix in the bucket.
	c := rawClient(t, srv)
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(s.Bucket()), Key: aws.String("table/.hoodie/hoodie.properties")})
	require.NoError(t, err)

	// Folder markers made by other tools are not objects.
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(s.Bucket()), Key: aws.String("table/folder/"), Body: bytes.NewReader(nil)})
	require.NoError(t, err)
	var keys []string
	for o, err := range st.List(t.Context(), "", "") {
		require.NoError(t, err)
		keys = append(keys, o.Path)
	}
	assert.Equal(t, []string{".hoodie/hoodie.properties"}, keys)
}
