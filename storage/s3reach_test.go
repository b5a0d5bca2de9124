package storage_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/testutil/s3server"
	"github.com/hoodie-lake/hoodie/storage"
)

// Tests of reaching S3: a missing bucket, refused credentials, and
// endpoints that are stopped, hung or stall mid-transfer. The bucket and
// credential cases run against the real S3 server; the failing endpoints are
// real TCP listeners on 127.0.0.1.

// slack absorbs scheduling noise on a loaded 2-core machine in the wall
// time bounds below.
const slack = 3 * time.Second

// noAnswerBackoff is the most the retryer waits between two attempts that
// got no answer (s3NoAnswerMaxBackoff), and noAnswerAttempts their cap.
const (
	noAnswerBackoff  = time.Second
	noAnswerAttempts = 3
)

func missingBucketName(t *testing.T) string {
	return fmt.Sprintf("hoodie-missing-%d", time.Now().UnixNano())
}

func TestS3MissingBucket(t *testing.T) {
	srv := s3server.Start(t)
	bucket := missingBucketName(t)
	ctx := t.Context()
	st, err := storage.Open(ctx, "s3://"+bucket+"/table", srv.Options())
	require.NoError(t, err, "Open makes no request")

	_, readErr := storage.ReadFile(ctx, st, ".hoodie/hoodie.properties")
	_, statErr := st.Stat(ctx, ".hoodie/hoodie.properties") // HEAD: a 404 without a code
	_, existsErr := storage.Exists(ctx, st, ".hoodie/hoodie.properties")
	writeErr := storage.WriteFile(ctx, st, "x", []byte("x"), storage.CreateOptions{IfAbsent: true})
	var listErr error
	for _, err := range st.List(ctx, ".hoodie/", "/") {
		listErr = err
		break
	}
	deleteErr := st.Delete(ctx, "x")
	// A single PUT of several MiB, which servers may refuse before reading
	// the body, resetting the connection.
	bigErr := storage.WriteFile(ctx, st, "big", make([]byte, storage.S3MinPartSize+1), storage.CreateOptions{})
	for name, err := range map[string]error{
		"read": readErr, "stat": statErr, "exists": existsErr, "write": writeErr, "list": listErr, "delete": deleteErr,
		"write big": bigErr,
	} {
		require.Error(t, err, name)
		assert.ErrorIs(t, err, storage.ErrNoSuchBucket, name)
		assert.NotErrorIs(t, err, storage.ErrNotExist, "%s: a missing bucket is not a missing object", name)
		assert.NotErrorIs(t, err, storage.ErrAccessDenied, name)
		msg := err.Error()
		assert.True(t, strings.HasPrefix(msg, "storage: "), "%s: %s", name, msg)
		assert.Contains(t, msg, `no such bucket "`+bucket+`"`, name)
		assert.Contains(t, msg, srv.Endpoint, name)
		assert.Contains(t, msg, "--create-bucket", name)
		assert.Contains(t, msg, "aws s3 mb s3://"+bucket, name)
	}
	t.Logf("read: %v", readErr)

	// The bucket was not created by any of that.
	_, err = storage.ReadFile(ctx, st, "x")
	require.ErrorIs(t, err, storage.ErrNoSuchBucket)
}

func TestS3CreateBucketOption(t *testing.T) {
	srv := s3server.Start(t)
	bucket := missingBucketName(t)
	ctx := t.Context()
	opts := srv.Options()
	opts.S3.CreateBucket = true

	// Concurrent creators all succeed; the bucket is created once.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = storage.Open(ctx, "s3://"+bucket+"/table", opts)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	st, err := storage.Open(ctx, "s3://"+bucket+"/table", opts)
	require.NoError(t, err, "an existing bucket is fine")
	require.NoError(t, storage.WriteFile(ctx, st, ".hoodie/hoodie.properties", []byte("x"), storage.CreateOptions{IfAbsent: true}))

	// Without the option, the same location now reads normally, and a
	// missing object under it is ErrNotExist again.
	st, err = storage.Open(ctx, "s3://"+bucket+"/table", srv.Options())
	require.NoError(t, err)
	got, err := storage.ReadFile(ctx, st, ".hoodie/hoodie.properties")
	require.NoError(t, err)
	assert.Equal(t, "x", string(got))
	_, err = st.Stat(ctx, "missing")
	assert.ErrorIs(t, err, storage.ErrNotExist)
	assert.NotErrorIs(t, err, storage.ErrNoSuchBucket)

	// storage.CreateBucket is idempotent too.
	require.NoError(t, storage.CreateBucket(ctx, bucket, srv.Options().S3))
}

func TestS3AccessDenied(t *testing.T) {
	srv := s3server.Start(t)
	bucket := srv.NewBucket(t)
	for _, creds := range []struct{ name, access, secret string }{
		{"wrong secret", srv.AccessKey, "wrongsecretwrongsecret"},
		{"unknown access key", "hoodieunknownkey", "wrongsecretwrongsecret"},
	} {
		t.Run(creds.name, func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", creds.access)
			t.Setenv("AWS_SECRET_ACCESS_KEY", creds.secret)
			t.Setenv("AWS_SESSION_TOKEN", "")
			ctx := t.Context()
			st, err := storage.Open(ctx, "s3://"+bucket+"/table", srv.Options())
			require.NoError(t, err)
			_, readErr := storage.ReadFile(ctx, st, ".hoodie/hoodie.properties")
			_, statErr := st.Stat(ctx, ".hoodie/hoodie.properties")
			writeErr := storage.WriteFile(ctx, st, "x", []byte("x"), storage.CreateOptions{})
			var listErr error
			for _, err := range st.List(ctx, "", "") {
				listErr = err
				break
			}
			for name, err := range map[string]error{"read": readErr, "stat": statErr, "write": writeErr, "list": listErr} {
				require.Error(t, err, name)
				assert.ErrorIs(t, err, storage.ErrAccessDenied, name)
				assert.NotErrorIs(t, err, storage.ErrNotExist, "%s: refused credentials are not a missing object", name)
				assert.NotErrorIs(t, err, storage.ErrNoSuchBucket, name)
				assert.Contains(t, err.Error(), "access denied to bucket \""+bucket+"\"", name)
				assert.NotContains(t, err.Error(), creds.secret, name)
			}
			t.Logf("read: %v", readErr)

			// --create-bucket does not turn refused credentials into
			// anything else.
			opts := srv.Options()
			opts.S3.CreateBucket = true
			_, err = storage.Open(ctx, "s3://"+bucket+"/table", opts)
			require.ErrorIs(t, err, storage.ErrAccessDenied)
		})
	}
}

// fakeCreds gives the SDK credentials for endpoints that never check them.
func fakeCreds(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "fake")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fakesecret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// closedPort returns 127.0.0.1:PORT with nothing listening.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// tcpServer accepts connections on 127.0.0.1 and hands each to handle; it
// counts connections. Cleanup closes the listener and every connection.
type tcpServer struct {
	addr  string
	conns atomic.Int32
	done  chan struct{}
}

func newTCPServer(t *testing.T, handle func(c net.Conn, done <-chan struct{})) *tcpServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &tcpServer{addr: l.Addr().String(), done: make(chan struct{})}
	var mu sync.Mutex
	var open []net.Conn
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(c, s.done)
			}()
		}
	}()
	t.Cleanup(func() {
		close(s.done)
		l.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

// silent reads whatever comes and never answers.
func silent(c net.Conn, _ <-chan struct{}) { _, _ = io.Copy(io.Discard, c) }

// headersThenStall answers every request with headers promising 1000 bytes,
// sends 10 of them and stalls.
func headersThenStall(c net.Conn, done <-chan struct{}) {
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, req.Body)
	fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: application/octet-stream\r\nETag: \"x\"\r\nLast-Modified: %s\r\n\r\n0123456789",
		time.Now().UTC().Format(http.TimeFormat))
	<-done
}

// noRead takes the request headers and then reads nothing more, so an
// upload stalls once the socket buffers are full.
func noRead(c net.Conn, done <-chan struct{}) {
	_, _ = http.ReadRequest(bufio.NewReader(c))
	<-done
}

func openAt(t *testing.T, addr string, opts storage.Options) storage.Storage {
	t.Helper()
	opts.S3.Endpoint = "http://" + addr
	opts.S3.Region = "us-east-1"
	st, err := storage.Open(t.Context(), "s3://bucket/table", opts)
	require.NoError(t, err)
	return st
}

// ops runs one read, stat, write and list and returns their errors and wall
// times.
func ops(t *testing.T, st storage.Storage) map[string]struct {
	err     error
	elapsed time.Duration
} {
	res := map[string]struct {
		err     error
		elapsed time.Duration
	}{}
	ctx := t.Context()
	for name, op := range map[string]func() error{
		"read": func() error { _, err := storage.ReadFile(ctx, st, "k"); return err },
		"stat": func() error { _, err := st.Stat(ctx, "k"); return err },
		"write": func() error {
			return storage.WriteFile(ctx, st, "k", []byte("hello"), storage.CreateOptions{IfAbsent: true})
		},
		"list": func() error {
			for _, err := range st.List(ctx, "", "/") {
				return err
			}
			return nil
		},
	} {
		start := time.Now()
		err := op()
		res[name] = struct {
			err     error
			elapsed time.Duration
		}{err, time.Since(start)}
	}
	return res
}

// TestS3StoppedEndpoint: nothing listens at the endpoint. Every operation
// fails with ErrUnreachable within the bound the options give: at most 3
// attempts (each refused at once, or after the connect timeout) with at
// most 1 s between them — with the defaults as with short timeouts.
func TestS3StoppedEndpoint(t *testing.T) {
	fakeCreds(t)
	addr := closedPort(t)
	for _, tc := range []struct {
		name string
		opts storage.Options
	}{
		{"configured", storage.Options{S3: storage.S3Options{ConnectTimeout: 500 * time.Millisecond, RequestTimeout: time.Second}}},
		{"defaults", storage.Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			connect := tc.opts.S3.ConnectTimeout
			if connect == 0 {
				connect = storage.S3DefaultConnectTimeout
			}
			bound := noAnswerAttempts*connect + (noAnswerAttempts-1)*noAnswerBackoff + slack
			st := openAt(t, addr, tc.opts)
			for name, r := range ops(t, st) {
				t.Logf("%s: %v: %v", name, r.elapsed.Round(time.Millisecond), r.err)
				require.Error(t, r.err, name)
				assert.Less(t, r.elapsed, bound, name)
				assert.ErrorIs(t, r.err, storage.ErrUnreachable, name)
				assert.NotErrorIs(t, r.err, storage.ErrTimeout, name)
				assert.NotErrorIs(t, r.err, storage.ErrNotExist, name)
				assert.Contains(t, r.err.Error(), "no answer from http://"+addr, name)
				assert.Contains(t, r.err.Error(), "connection refused", name)
				assert.Contains(t, r.err.Error(), "3 attempts", name)
			}
		})
	}
}

// TestS3DroppingEndpoint: the endpoint accepts connections and closes them
// without answering. Requests are tried 3 times, quickly.
func TestS3DroppingEndpoint(t *testing.T) {
	fakeCreds(t)
	srv := newTCPServer(t, func(c net.Conn, _ <-chan struct{}) {
		_, _ = http.ReadRequest(bufio.NewReader(c))
		c.Close()
	})
	st := openAt(t, srv.addr, storage.Options{})
	start := time.Now()
	_, err := st.Stat(t.Context(), "k")
	elapsed := time.Since(start)
	t.Logf("%v: %v", elapsed.Round(time.Millisecond), err)
	require.Error(t, err)
	assert.ErrorIs(t, err, storage.ErrUnreachable)
	assert.NotErrorIs(t, err, storage.ErrTimeout)
	assert.NotErrorIs(t, err, storage.ErrNotExist)
	assert.Contains(t, err.Error(), "no answer from http://"+srv.addr)
	assert.Less(t, elapsed, (noAnswerAttempts-1)*noAnswerBackoff+slack)
	// The HTTP transport itself re-sends a request once on a fresh
	// connection when a reused one turns out closed; the retryer makes 3
	// attempts.
	assert.GreaterOrEqual(t, srv.conns.Load(), int32(noAnswerAttempts))
	assert.LessOrEqual(t, srv.conns.Load(), int32(2*noAnswerAttempts))
}

// TestS3ConnectTimeout: the endpoint's accept queue is full, so connections
// are never established: each attempt ends at the connect timeout.
func TestS3ConnectTimeout(t *testing.T) {
	fakeCreds(t)
	addr := fullBacklog(t)
	connect := 300 * time.Millisecond
	st := openAt(t, addr, storage.Options{S3: storage.S3Options{ConnectTimeout: connect, RequestTimeout: 10 * time.Second}})
	start := time.Now()
	_, err := st.Stat(t.Context(), "k")
	elapsed := time.Since(start)
	t.Logf("%v: %v", elapsed.Round(time.Millisecond), err)
	require.Error(t, err)
	assert.ErrorIs(t, err, storage.ErrTimeout)
	assert.ErrorIs(t, err, storage.ErrUnreachable)
	assert.Contains(t, err.Error(), "within 300ms (connect timeout; --s3-connect-timeout)")
	assert.GreaterOrEqual(t, elapsed, noAnswerAttempts*connect, "three attempts")
	assert.Less(t, elapsed, noAnswerAttempts*connect+(noAnswerAttempts-1)*noAnswerBackoff+slack)
}

// fullBacklog returns the address of a listener that never accepts and
// whose accept queue is full: further SYNs are dropped, as by a host that
// does not answer.
func fullBacklog(t *testing.T) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	addr := l.Addr().String()
	// Fill the queue: connections complete (and queue) until it is full,
	// then dials time out.
	d := net.Dialer{Timeout: 200 * time.Millisecond}
	for i := 0; ; i++ {
		require.Less(t, i, 100000, "accept queue never filled")
		c, err := d.Dial("tcp", addr)
		if err != nil {
			var ne net.Error
			require.True(t, errors.As(err, &ne) && ne.Timeout(), "dial: %v", err)
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	return addr
}

// TestS3HungEndpoint: the endpoint accepts connections and never answers.
// Every operation fails after one request timeout: a request that timed out
// is not retried.
func TestS3HungEndpoint(t *testing.T) {
	fakeCreds(t)
	srv := newTCPServer(t, silent)
	request := 700 * time.Millisecond
	st := openAt(t, srv.addr, storage.Options{S3: storage.S3Options{ConnectTimeout: time.Second, RequestTimeout: request}})
	results := ops(t, st)
	for name, r := range results {
		t.Logf("%s: %v: %v", name, r.elapsed.Round(time.Millisecond), r.err)
		require.Error(t, r.err, name)
		assert.GreaterOrEqual(t, r.elapsed, request, name)
		assert.Less(t, r.elapsed, request+slack, name)
		assert.ErrorIs(t, r.err, storage.ErrTimeout, name)
		assert.ErrorIs(t, r.err, storage.ErrUnreachable, name)
		assert.NotErrorIs(t, r.err, storage.ErrNotExist, name)
		assert.NotErrorIs(t, r.err, context.DeadlineExceeded, "%s: not the caller's deadline", name)
		assert.NotErrorIs(t, r.err, os.ErrDeadlineExceeded, name)
		assert.Contains(t, r.err.Error(), "no answer from http://"+srv.addr+" within 700ms (request timeout; --s3-request-timeout)", name)
	}
	assert.EqualValues(t, len(results), srv.conns.Load(), "one attempt per operation")

	// The caller's deadline stays the caller's.
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := st.Stat(ctx, "k")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, storage.ErrTimeout)
}

// TestS3StalledDownload: the endpoint sends the response headers and part
// of the body, then stalls. The read fails one request timeout later.
func TestS3StalledDownload(t *testing.T) {
	fakeCreds(t)
	srv := newTCPServer(t, headersThenStall)
	request := 700 * time.Millisecond
	st := openAt(t, srv.addr, storage.Options{S3: storage.S3Options{RequestTimeout: request}})
	start := time.Now()
	rc, err := st.OpenRange(t.Context(), "k", 0, -1)
	require.NoError(t, err, "the headers arrived")
	defer rc.Close()
	got, err := io.ReadAll(rc)
	elapsed := time.Since(start)
	t.Logf("%v: %v", elapsed.Round(time.Millisecond), err)
	require.Error(t, err)
	assert.Equal(t, "0123456789", string(got))
	assert.GreaterOrEqual(t, elapsed, request)
	assert.Less(t, elapsed, request+slack)
	assert.ErrorIs(t, err, storage.ErrTimeout)
	assert.Contains(t, err.Error(), "storage: s3 read k: transfer stalled: nothing from http://"+srv.addr+" for 700ms")

	// A listing whose XML stalls fails within the SDK call, not retried.
	before := srv.conns.Load()
	start = time.Now()
	for _, err = range st.List(t.Context(), "", "") {
		break
	}
	elapsed = time.Since(start)
	t.Logf("list: %v: %v", elapsed.Round(time.Millisecond), err)
	require.Error(t, err)
	assert.ErrorIs(t, err, storage.ErrTimeout)
	assert.Less(t, elapsed, request+slack)
	assert.EqualValues(t, before+1, srv.conns.Load(), "not retried")
}

// TestS3StalledUpload: the endpoint stops reading an upload. The write
// fails once nothing has moved for the request timeout.
func TestS3StalledUpload(t *testing.T) {
	fakeCreds(t)
	srv := newTCPServer(t, noRead)
	request := 700 * time.Millisecond
	st := openAt(t, srv.addr, storage.Options{S3: storage.S3Options{RequestTimeout: request}})
	big := bytes.Repeat([]byte("x"), storage.S3DefaultPartSize) // one PUT, larger than the socket buffers
	start := time.Now()
	err := storage.WriteFile(t.Context(), st, "k", big, storage.CreateOptions{})
	elapsed := time.Since(start)
	t.Logf("%v: %v", elapsed.Round(time.Millisecond), err)
	require.Error(t, err)
	assert.ErrorIs(t, err, storage.ErrTimeout)
	// 100-continue: the SDK waits up to a second for the server's go-ahead
	// before sending a large body.
	assert.Less(t, elapsed, time.Second+request+slack)
	assert.EqualValues(t, 1, srv.conns.Load(), "not retried")
}

// TestS3SlowDownloadIsNotCutOff: a download that takes several request
// timeouts but keeps moving succeeds: the timeout bounds stalls, not
// transfers.
func TestS3SlowDownloadIsNotCutOff(t *testing.T) {
	fakeCreds(t)
	const chunks, pause = 20, 100 * time.Millisecond // 2 s in all
	request := 500 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(chunks*10))
		w.WriteHeader(http.StatusOK)
		for range chunks {
			_, _ = w.Write([]byte("0123456789"))
			w.(http.Flusher).Flush()
			time.Sleep(pause)
		}
	}))
	t.Cleanup(srv.Close)
	st := openAt(t, strings.TrimPrefix(srv.URL, "http://"), storage.Options{S3: storage.S3Options{RequestTimeout: request}})
	start := time.Now()
	got, err := storage.ReadFile(t.Context(), st, "k")
	require.NoError(t, err)
	assert.Len(t, got, chunks*10)
	assert.Greater(t, time.Since(start), 3*request, "the download outlasted the request timeout")
}

func TestS3RejectsNegativeTimeouts(t *testing.T) {
	for _, o := range []storage.S3Options{{ConnectTimeout: -1}, {RequestTimeout: -1}, {MaxAttempts: -1}} {
		_, err := storage.NewS3(t.Context(), "b", "", o)
		assert.Error(t, err)
	}
}
