package storage

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Options configure Open. The zero value opens local and mem locations,
// and S3 locations with the standard AWS configuration chain (environment,
// shared config and credentials files, SSO, container and instance roles)
// and the defaults stated on S3Options.
//
// Backends registered by other packages (Register) take their own settings
// when they are registered.
type Options struct {
	// S3 configures the S3 backend: s3://, s3a:// and s3n:// locations.
	S3 S3Options
}

// EnsureDefaults fills the zero fields with their defaults.
func (o *Options) EnsureDefaults() { o.S3.EnsureDefaults() }

// Validate reports options no backend can use. Zero fields are valid: they
// stand for their defaults.
func (o Options) Validate() error { return o.S3.Validate() }

// S3Options configure the S3 backend. The zero value addresses AWS with
// the standard configuration chain.
type S3Options struct {
	// Endpoint overrides the endpoint URL, e.g. "http://127.0.0.1:7070"
	// for a local S3-compatible server. Default: AWS_ENDPOINT_URL_S3 or
	// AWS_ENDPOINT_URL from the environment, else AWS.
	Endpoint string
	// Region is the bucket's region. Default: the AWS configuration chain
	// (AWS_REGION, the profile), else us-east-1.
	Region string
	// PathStyle addresses buckets as endpoint/bucket/key instead of
	// bucket.endpoint/key; most S3-compatible servers need it. It is
	// implied when the endpoint's host is an IP address or "localhost".
	PathStyle bool
	// Credentials are static credentials; the zero value uses the AWS
	// configuration chain.
	Credentials Credentials
	// PartSize is the multipart part size: objects larger than one part
	// are uploaded in parts. Default S3DefaultPartSize (16 MiB), at least
	// S3MinPartSize (5 MiB), at most 5 GiB.
	PartSize int64
	// MaxAttempts bounds the attempts of a request that is throttled or
	// answered with a 5xx, retried with exponential backoff (at most 20 s
	// apart). Default S3DefaultMaxAttempts (8). A request that gets no
	// answer (connection refused or dropped, connect timeout) is tried at
	// most 3 times, with at most 1 s between attempts; one that timed out
	// after connecting (RequestTimeout) is not retried.
	MaxAttempts int
	// ConnectTimeout bounds establishing a connection, TCP connect and TLS
	// handshake, per attempt. Default S3DefaultConnectTimeout (5 s).
	ConnectTimeout time.Duration
	// RequestTimeout bounds waiting within a request attempt: for the
	// response headers once the request is sent, and for any byte to move
	// while a request or response body is transferred. A slow transfer
	// that keeps moving is not cut off: this bounds stalls, not transfer
	// time. Default S3DefaultRequestTimeout (30 s).
	RequestTimeout time.Duration
	// CreateBucket makes Open create the location's bucket if it does not
	// exist (idempotent: a bucket that exists, or is created concurrently,
	// is used as it is).
	CreateBucket bool
}

// s3MaxPartSize is S3's limit on the size of one part.
const s3MaxPartSize = 5 << 30

// EnsureDefaults fills the zero fields that have a fixed default (the
// endpoint, region and credentials come from the AWS chain when the store
// is opened).
func (o *S3Options) EnsureDefaults() {
	if o.PartSize == 0 {
		o.PartSize = S3DefaultPartSize
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = S3DefaultMaxAttempts
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = S3DefaultConnectTimeout
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = S3DefaultRequestTimeout
	}
}

// Validate reports out-of-range sizes, counts and timeouts, an endpoint
// that is not an http(s) URL, and incomplete static credentials. Zero
// fields are valid.
func (o S3Options) Validate() error {
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("storage: s3: endpoint %q: want http://host[:port] or https://host[:port]", o.Endpoint)
		}
	}
	if o.PartSize != 0 && (o.PartSize < S3MinPartSize || o.PartSize > s3MaxPartSize) {
		return fmt.Errorf("storage: s3: part size %d outside [%d, %d]", o.PartSize, S3MinPartSize, s3MaxPartSize)
	}
	if o.MaxAttempts < 0 {
		return fmt.Errorf("storage: s3: negative max attempts %d", o.MaxAttempts)
	}
	if o.ConnectTimeout < 0 || o.RequestTimeout < 0 {
		return fmt.Errorf("storage: s3: negative timeout (connect %v, request %v)", o.ConnectTimeout, o.RequestTimeout)
	}
	return o.Credentials.validate()
}

// Credentials are static AWS credentials. fmt prints them with the secret
// and the session token redacted.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken is the token of temporary credentials (STS); optional.
	SessionToken string
}

// IsZero reports whether no credentials are set: the AWS chain applies.
func (c Credentials) IsZero() bool { return c == Credentials{} }

func (c Credentials) validate() error {
	switch {
	case c.IsZero():
		return nil
	case c.AccessKeyID == "" || c.SecretAccessKey == "":
		return errors.New("storage: s3: static credentials need both the access key ID and the secret access key")
	}
	return nil
}

// String shows the access key ID only.
func (c Credentials) String() string {
	if c.IsZero() {
		return "Credentials{}"
	}
	s := "Credentials{AccessKeyID: " + c.AccessKeyID + ", SecretAccessKey: REDACTED"
	if c.SessionToken != "" {
		s += ", SessionToken: REDACTED"
	}
	return s + "}"
}

// GoString is String, so that %#v redacts too.
func (c Credentials) GoString() string { return "storage." + c.String() }
