package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// s3Error is a classified S3 failure: a message for people, and Unwrap to
// the storage sentinel(s) and the SDK's error for errors.Is and errors.As.
type s3Error struct {
	msg  string
	errs []error
}

func (e *s3Error) Error() string   { return e.msg }
func (e *s3Error) Unwrap() []error { return e.errs }

// mapErr is the one place SDK errors become storage errors. what names the
// operation and key for the message: "open .hoodie/hoodie.properties".
//
//   - NoSuchBucket: ErrNoSuchBucket (never ErrNotExist), saying how to
//     create the bucket;
//   - 401/403 and the authentication codes (AccessDenied,
//     InvalidAccessKeyId, SignatureDoesNotMatch, ...; versitygw's 404
//     XAdminUserNotFound for an unknown key): ErrAccessDenied;
//   - a missing object (NoSuchKey, or a 404 without a code): ErrNotExist;
//   - no answer (refused, unresolvable, connect or request timeout):
//     ErrUnreachable, plus ErrTimeout for timeouts.
//
// Errors of a cancelled or expired caller context are wrapped as they are.
func (s *S3) mapErr(ctx context.Context, op, key string, err error) error {
	if key == "" {
		key = "s3://" + s.bucket + "/" + s.prefix
	}
	what := "storage: s3 " + op + " " + key
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch {
	case isNoSuchBucket(err):
		return s.noSuchBucketErr(what, err)
	case isAccessDenied(err):
		return s.accessDeniedErr(what, err)
	case isNotFound(err):
		return fmt.Errorf("%s: %w: %w", what, ErrNotExist, err)
	}
	if e := s.noAnswerErr(what, err); e != nil {
		return e
	}
	return fmt.Errorf("%s: %w", what, err)
}

func isNoSuchBucket(err error) bool { return apiCode(err) == "NoSuchBucket" }

// accessDeniedCodes are the S3 error codes of refused credentials or
// permissions.
var accessDeniedCodes = map[string]bool{
	"AccessDenied":          true,
	"AllAccessDisabled":     true,
	"AccountProblem":        true,
	"ExpiredToken":          true,
	"InvalidAccessKeyId":    true,
	"InvalidSecurity":       true,
	"InvalidToken":          true,
	"SignatureDoesNotMatch": true,
	"TokenRefreshRequired":  true,
	"XAdminUserNotFound":    true, // versitygw: unknown access key (404)
}

func isAccessDenied(err error) bool {
	if accessDeniedCodes[apiCode(err)] {
		return true
	}
	st := httpStatus(err)
	return st == 401 || st == 403
}

// isNotFound reports a missing object: NoSuchKey, or a 404 without a more
// specific code (HEAD answers carry no body, so no code: the SDK calls them
// NotFound). A 404 NoSuchBucket is not a missing object.
func isNotFound(err error) bool {
	switch apiCode(err) {
	case "NoSuchKey", "NotFound":
		return true
	case "":
		return httpStatus(err) == s3StatusNotFound
	}
	return false
}

// endpointHint is the endpoint as the AWS CLI wants it, if not AWS's.
func (s *S3) endpointHint() string {
	if s.customEndpoint {
		return " --endpoint-url " + s.endpoint
	}
	return ""
}

func (s *S3) noSuchBucketErr(what string, err error) error {
	return &s3Error{
		msg: fmt.Sprintf("%s: no such bucket %q at %s: create it with --create-bucket (storage.S3Options.CreateBucket) or `aws s3 mb s3://%s%s`",
			what, s.bucket, s.endpoint, s.bucket, s.endpointHint()),
		errs: []error{ErrNoSuchBucket, err},
	}
}

func (s *S3) accessDeniedErr(what string, err error) error {
	detail := apiCode(err)
	if detail == "" {
		detail = fmt.Sprintf("HTTP %d", httpStatus(err))
	}
	return &s3Error{
		msg: fmt.Sprintf("%s: access denied to bucket %q at %s (%s): check the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE) and the bucket's permissions",
			what, s.bucket, s.endpoint, detail),
		errs: []error{ErrAccessDenied, err},
	}
}

// noAnswerErr describes a request that got no HTTP answer, or returns nil.
func (s *S3) noAnswerErr(what string, err error) error {
	kind := classify(err)
	if kind == failAnswered {
		return nil
	}
	attempts := 1
	var gaveUp *gaveUpError
	var maxed *retry.MaxAttemptsError
	switch {
	case errors.As(err, &gaveUp):
		attempts = gaveUp.attempts
	case errors.As(err, &maxed):
		attempts = maxed.Attempt
	}
	var msg string
	errs := []error{ErrUnreachable}
	switch kind {
	case failNoConnection:
		msg = fmt.Sprintf("%s: no answer from %s: %s (%s); is the endpoint right and the server running?",
			what, s.endpoint, netReason(err), plural(attempts, "attempt"))
	case failConnectTimeout:
		msg = fmt.Sprintf("%s: no answer from %s within %v (connect timeout; --s3-connect-timeout) (%s)",
			what, s.endpoint, s.timeouts.connect, plural(attempts, "attempt"))
		return &s3Error{msg: msg, errs: append(errs, ErrTimeout)}
	case failDropped:
		msg = fmt.Sprintf("%s: no answer from %s: %s (%s)",
			what, s.endpoint, netReason(err), plural(attempts, "attempt"))
	case failRequestTimeout:
		msg = fmt.Sprintf("%s: no answer from %s within %v (request timeout; --s3-request-timeout)",
			what, s.endpoint, s.timeouts.request)
		// Not the SDK's error: net/http's timeouts match
		// context.DeadlineExceeded, which is the caller's.
		return &s3Error{msg: msg, errs: append(errs, ErrTimeout)}
	}
	return &s3Error{msg: msg, errs: append(errs, err)}
}

// stalledErr describes a response body that stopped arriving.
func (s *S3) stalledErr(what string) error {
	return &s3Error{
		msg: fmt.Sprintf("%s: transfer stalled: nothing from %s for %v (request timeout; --s3-request-timeout)",
			what, s.endpoint, s.timeouts.request),
		errs: []error{ErrUnreachable, ErrTimeout},
	}
}

// netReason is the short cause of a transport failure ("connect:
// connection refused", "lookup x: no such host").
func netReason(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "connection closed without a response"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.Error()
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return opErr.Err.Error()
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) && urlErr.Err != nil {
		return urlErr.Err.Error()
	}
	var sendErr *smithyhttp.RequestSendError
	if errors.As(err, &sendErr) && sendErr.Err != nil {
		return sendErr.Err.Error()
	}
	return err.Error()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// checkBucket tells a missing object from a missing bucket (or refused
// credentials) after a HEAD answered 404, which carries no error code: it
// lists one key of the bucket. It returns nil when the bucket is there (then
// remembered) or the probe is inconclusive, else the probe's storage error.
func (s *S3) checkBucket(ctx context.Context, op, key string) error {
	if s.bucketSeen.Load() {
		return nil
	}
	_, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket:  aws.String(s.bucket),
		Prefix:  aws.String(s.prefix),
		MaxKeys: aws.Int32(1),
	})
	if err == nil {
		s.bucketSeen.Store(true)
		return nil
	}
	mapped := s.mapErr(ctx, op, key, err)
	if Unavailable(mapped) || ctx.Err() != nil {
		return mapped
	}
	return nil
}

// ensureBucket creates the bucket if it does not exist. A bucket that
// exists (or appears meanwhile, created by a concurrent caller) is fine.
func (s *S3) ensureBucket(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)})
	if err == nil {
		s.bucketSeen.Store(true)
		return nil
	}
	if ctx.Err() != nil || (!isNotFound(err) && !isNoSuchBucket(err)) {
		return s.mapErr(ctx, "head bucket", s.bucket, err)
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(s.bucket)}
	if s.region != s3DefaultRegion {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(s.region)}
	}
	_, err = s.client.CreateBucket(ctx, in)
	if err != nil && !bucketOwned(err) {
		return s.mapErr(ctx, "create bucket", s.bucket, err)
	}
	s.bucketSeen.Store(true)
	return nil
}

// bucketOwned reports a create that found the bucket already ours.
func bucketOwned(err error) bool {
	var owned *types.BucketAlreadyOwnedByYou
	return errors.As(err, &owned) || apiCode(err) == "BucketAlreadyOwnedByYou"
}
