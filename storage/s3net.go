package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// This file bounds every S3 request in time and turns the SDK's failures
// into the storage sentinels.
//
// Time bounds, per attempt:
//   - connect: TCP connect and TLS handshake within S3Options.ConnectTimeout;
//   - request: no stretch of S3Options.RequestTimeout without a byte moving
//     either way on the connection while a request is in flight, waiting
//     for the response headers included (watchdogConn) — a stall, not the
//     transfer's total time, is bounded;
//
// and per operation (the retry policy, s3Retryer): an HTTP answer that is
// worth retrying (throttling, 5xx) is retried up to S3Options.MaxAttempts
// times with backoff up to s3MaxBackoff, since the server is alive; a
// request that got no answer (refused, reset, connect timeout) is retried
// at most s3NoAnswerAttempts times in all with short backoff; a request that
// timed out after connecting is not retried: the endpoint is hung.

// S3 time bounds.
const (
	S3DefaultConnectTimeout = 5 * time.Second  // S3Options.ConnectTimeout default
	S3DefaultRequestTimeout = 30 * time.Second // S3Options.RequestTimeout default

	// s3NoAnswerAttempts caps the attempts of an operation whose requests
	// get no HTTP answer (within S3Options.MaxAttempts).
	s3NoAnswerAttempts = 3
	// Backoff between attempts that got no answer: jittered, doubling from
	// s3NoAnswerBackoff, at most s3NoAnswerMaxBackoff.
	s3NoAnswerBackoff    = 200 * time.Millisecond
	s3NoAnswerMaxBackoff = time.Second
	// s3WatchdogChunk is the largest write handed to the socket at once, so
	// that the stall deadline is renewed while a large body is being sent.
	s3WatchdogChunk = 64 << 10
	s3KeepAlive     = 30 * time.Second
	s3MaxIdleConns  = 100
)

// failure classifies a failed S3 attempt.
type failure int

const (
	failAnswered       failure = iota // an HTTP answer, a context error, or not a transport failure
	failNoConnection                  // refused, unresolvable or unroutable endpoint
	failConnectTimeout                // no connection (TCP or TLS) within the connect timeout
	failDropped                       // connection reset or closed before an answer
	failRequestTimeout                // connected, then nothing for the request timeout
)

// classify tells how a request failed without an HTTP answer, if it did.
// Callers rule out their context's errors first: net/http's own timeouts
// match context.DeadlineExceeded too.
func classify(err error) failure {
	if err == nil || errors.Is(err, context.Canceled) {
		return failAnswered
	}
	var opErr *net.OpError
	dial := errors.As(err, &opErr) && opErr.Op == "dial"
	var te interface{ Timeout() bool }
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &te) && te.Timeout()) {
		// Also after the response headers, while the SDK reads the body.
		if dial || strings.Contains(err.Error(), "TLS handshake timeout") {
			return failConnectTimeout
		}
		return failRequestTimeout
	}
	if hasHTTPStatus(err) {
		return failAnswered
	}
	var dnsErr *net.DNSError
	if dial || errors.As(err, &dnsErr) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH) {
		return failNoConnection
	}
	var sendErr *smithyhttp.RequestSendError
	if errors.As(err, &sendErr) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "connection reset") {
		return failDropped
	}
	return failAnswered
}

// s3Timeouts are the resolved time bounds of a client.
type s3Timeouts struct {
	connect, request time.Duration
}

// httpClient returns the SDK client's transport with the time bounds, made
// from the one the AWS configuration built (which may carry a CA bundle).
// The result is wrapped in a type the S3 client does not recognise, so
// that its defaults-mode settings cannot replace the dialer.
func (t s3Timeouts) httpClient(c aws.HTTPClient) aws.HTTPClient {
	b, ok := c.(*awshttp.BuildableClient)
	if !ok {
		b = awshttp.NewBuildableClient()
	}
	dialer := &net.Dialer{Timeout: t.connect, KeepAlive: s3KeepAlive}
	return httpDoer{b.WithTransportOptions(func(tr *http.Transport) {
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &watchdogConn{Conn: c, timeout: t.request}, nil
		}
		tr.TLSHandshakeTimeout = t.connect
		// No ResponseHeaderTimeout: it would count from the last write,
		// while the socket may still be sending; the watchdog bounds the
		// wait for the headers instead.
		// An idle pooled connection's watchdog fires after the request
		// timeout; close idle connections before that.
		tr.IdleConnTimeout = min(tr.IdleConnTimeout, t.request/2)
		tr.MaxIdleConns = s3MaxIdleConns
		tr.MaxIdleConnsPerHost = s3MaxIdleConns
		// HTTP/1.1: one request per connection, so the watchdog times
		// exactly one request (S3 does not speak HTTP/2 anyway).
		tr.ForceAttemptHTTP2 = false
	})}
}

type httpDoer struct{ c aws.HTTPClient }

func (d httpDoer) Do(r *http.Request) (*http.Response, error) { return d.c.Do(r) }

// watchdogConn fails reads and writes once no byte has moved on the
// connection, in either direction, for timeout. A slow transfer that keeps
// moving is never cut off; a silent peer is, whether it never answers,
// stops mid-body or stops reading an upload.
//
// The HTTP transport keeps a read pending on the connection while it sends
// a request, so progress of the send renews the read deadline. Once the
// last write has returned, the socket may still hold megabytes on their way
// to a slow peer: a read that times out while the peer keeps acknowledging
// them (sendQueue shrinking; Linux) is resumed.
type watchdogConn struct {
	net.Conn
	timeout time.Duration
	queued  atomic.Int64 // sendQueue when last looked at
}

func (c *watchdogConn) Read(p []byte) (int, error) {
	for {
		if err := c.Conn.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
			return 0, err
		}
		n, err := c.Conn.Read(p)
		if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) && c.sending() {
			continue
		}
		return n, err
	}
}

func (c *watchdogConn) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		deadline := time.Now().Add(c.timeout)
		if err := c.Conn.SetWriteDeadline(deadline); err != nil {
			return n, err
		}
		_ = c.Conn.SetReadDeadline(deadline)
		m, err := c.Conn.Write(p[n:min(len(p), n+s3WatchdogChunk)])
		n += m
		if err != nil {
			return n, err
		}
	}
	if q, ok := sendQueue(c.Conn); ok {
		c.queued.Store(int64(q))
	}
	return n, nil
}

// sending reports whether the peer acknowledged sent bytes since the last
// look.
func (c *watchdogConn) sending() bool {
	q, ok := sendQueue(c.Conn)
	if !ok {
		return false
	}
	prev := c.queued.Swap(int64(q))
	return q > 0 && int64(q) < prev
}

// opState is the retry bookkeeping of one SDK operation (all its attempts),
// put in the operation's context by addOpState.
type opState struct {
	noAnswer atomic.Int32 // attempts that got no HTTP answer
}

type opStateKey struct{}

func addOpState(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("hoodieS3OpState",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(context.WithValue(ctx, opStateKey{}, &opState{}), in)
		}), middleware.Before)
}

// gaveUpError ends the retries of an operation whose requests got no answer.
// The SDK joins it to the last attempt's error.
type gaveUpError struct {
	attempts int
	reason   string
}

func (e *gaveUpError) Error() string {
	return fmt.Sprintf("storage: s3: %s, giving up after %d attempt(s)", e.reason, e.attempts)
}

// s3Retryer is the SDK's standard retryer (for HTTP answers) with the
// no-answer policy on top.
type s3Retryer struct {
	*retry.Standard
}

func (r s3Retryer) GetRetryToken(ctx context.Context, opErr error) (func(error) error, error) {
	st, _ := ctx.Value(opStateKey{}).(*opState)
	if st != nil && ctx.Err() == nil {
		switch classify(opErr) {
		case failRequestTimeout:
			return nil, &gaveUpError{attempts: int(st.noAnswer.Add(1)), reason: "request timed out"}
		case failNoConnection, failConnectTimeout, failDropped:
			if n := int(st.noAnswer.Add(1)); n >= s3NoAnswerAttempts {
				return nil, &gaveUpError{attempts: n, reason: "no answer"}
			}
		}
	}
	return r.Standard.GetRetryToken(ctx, opErr)
}

// newS3Retryer builds the retry policy for maxAttempts attempts per
// operation.
func newS3Retryer(maxAttempts int) aws.Retryer {
	answered := retry.NewExponentialJitterBackoff(s3MaxBackoff)
	backoff := s3Backoff
	if backoff == nil {
		backoff = retry.BackoffDelayerFunc(func(attempt int, err error) (time.Duration, error) {
			if classify(err) == failAnswered {
				return answered.BackoffDelay(attempt, err)
			}
			d := s3NoAnswerMaxBackoff
			if attempt >= 1 && attempt < 8 {
				d = min(d, s3NoAnswerBackoff<<(attempt-1))
			}
			return d/2 + rand.N(d/2+1), nil
		})
	}
	return s3Retryer{retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = s3MaxBackoff
		o.Backoff = backoff
		// The client-side retry quota would fail requests early under
		// sustained throttling; the attempt caps and the caller's context
		// are the bounds that matter here.
		o.RateLimiter = ratelimit.None
	})}
}
