// Package kafka is hoodie stream's Kafka source and dead-letter output,
// built on franz-go: a consumer group member with cooperative-sticky
// rebalancing whose partitions start where the table says (the table's
// commit metadata is the truth, not the group's offsets), and a producer of
// refused records to a dead-letter topic.
package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Start offsets of a partition the table has no position for.
const (
	StartEarliest = "earliest"
	StartLatest   = "latest"
)

// SASL mechanisms.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Defaults of Options.
const (
	DefaultClientID          = "hoodie"
	DefaultFetchMaxBytes     = 50 << 20
	DefaultMaxPollRecords    = 10_000
	DefaultSessionTimeout    = 45 * time.Second
	DefaultRebalanceTimeout  = 60 * time.Second
	DefaultHeartbeatInterval = 3 * time.Second
	DefaultTopicRefresh      = 30 * time.Second
	DefaultDialTimeout       = 10 * time.Second
	DefaultRequestTimeout    = 30 * time.Second
)

// ErrOptions marks invalid options; use errors.Is.
var ErrOptions = errors.New("kafka: invalid options")

// TLS configures TLS to the brokers.
type TLS struct {
	// Enable turns TLS on; the other fields need it.
	Enable bool
	// CAFile is a PEM file of the certificate authorities to trust; empty:
	// the system's.
	CAFile string
	// CertFile and KeyFile are the client's PEM certificate and key, for
	// mutual TLS; both or neither.
	CertFile, KeyFile string
	// InsecureSkipVerify skips the verification of the brokers'
	// certificates (tests only).
	InsecureSkipVerify bool
}

// SASL configures SASL authentication.
type SASL struct {
	// Mechanism is SASLPlain, SASLScramSHA256 or SASLScramSHA512; empty:
	// no SASL.
	Mechanism string
	User      string
	Password  string
}

// Options configure a Source.
type Options struct {
	// Brokers are the seed brokers, "host:port". Required.
	Brokers []string
	// Topics are the topics read; or TopicRegex, a regular expression
	// matching whole topic names (new matching topics join as they appear,
	// found by a metadata refresh every TopicRefresh). Exactly one of the
	// two.
	Topics     []string
	TopicRegex string
	// TopicRefresh is how often the brokers' metadata is refreshed, and so
	// how soon a new topic matching TopicRegex is read; default
	// DefaultTopicRefresh.
	TopicRefresh time.Duration
	// Group is the consumer group. Required.
	Group string
	// ClientID names the client to the brokers; default DefaultClientID.
	ClientID string
	// StartOffset is where a partition the table has no position for
	// starts: StartEarliest (default) or StartLatest. It is also where a
	// position no longer in the log (deleted by retention) resumes.
	StartOffset string
	TLS         TLS
	SASL        SASL
	// FetchMaxBytes bounds one fetch response; default
	// DefaultFetchMaxBytes.
	FetchMaxBytes int32
	// MaxPollRecords bounds the messages of one Handler.Messages call;
	// default DefaultMaxPollRecords.
	MaxPollRecords int
	// SessionTimeout and RebalanceTimeout are the group's; defaults
	// DefaultSessionTimeout and DefaultRebalanceTimeout.
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	// HeartbeatInterval is how often the member heartbeats, and so how
	// soon it notices a rebalance; default DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// DialTimeout bounds a connection's dial (and TLS/SASL handshake);
	// default DefaultDialTimeout.
	DialTimeout time.Duration
	// RequestTimeout bounds a request beyond its own timeout (a fetch's
	// wait, a join's rebalance timeout), the retries of a request, and the
	// admin and commit calls made without a deadline; default
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Logger receives the source's structured logs; default: discarded.
	Logger *slog.Logger
}

// EnsureDefaults fills the zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.StartOffset == "" {
		o.StartOffset = StartEarliest
	}
	if o.FetchMaxBytes == 0 {
		o.FetchMaxBytes = DefaultFetchMaxBytes
	}
	if o.MaxPollRecords == 0 {
		o.MaxPollRecords = DefaultMaxPollRecords
	}
	if o.SessionTimeout == 0 {
		o.SessionTimeout = DefaultSessionTimeout
	}
	if o.RebalanceTimeout == 0 {
		o.RebalanceTimeout = DefaultRebalanceTimeout
	}
	if o.TopicRefresh == 0 {
		o.TopicRefresh = DefaultTopicRefresh
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Validate reports the first invalid option, wrapping ErrOptions.
func (o *Options) Validate() error {
	if len(o.Brokers) == 0 {
		return fmt.Errorf("%w: no brokers", ErrOptions)
	}
	if (len(o.Topics) == 0) == (o.TopicRegex == "") {
		return fmt.Errorf("%w: give either topics or a topic regex", ErrOptions)
	}
	if o.TopicRegex != "" {
		if _, err := regexp.Compile(o.TopicRegex); err != nil {
			return fmt.Errorf("%w: topic regex: %w", ErrOptions, err)
		}
	}
	for _, t := range o.Topics {
		if t == "" {
			return fmt.Errorf("%w: empty topic name", ErrOptions)
		}
	}
	if o.Group == "" {
		return fmt.Errorf("%w: no consumer group", ErrOptions)
	}
	if o.StartOffset != StartEarliest && o.StartOffset != StartLatest {
		return fmt.Errorf("%w: start offset %q (want %q or %q)", ErrOptions, o.StartOffset, StartEarliest, StartLatest)
	}
	if o.FetchMaxBytes < 0 || o.MaxPollRecords < 0 {
		return fmt.Errorf("%w: negative fetch bound", ErrOptions)
	}
	if o.SessionTimeout < 0 || o.RebalanceTimeout < 0 || o.HeartbeatInterval < 0 || o.TopicRefresh < 0 || o.DialTimeout < 0 || o.RequestTimeout < 0 {
		return fmt.Errorf("%w: negative timeout", ErrOptions)
	}
	return validateSecurity(o.TLS, o.SASL)
}

func validateSecurity(t TLS, s SASL) error {
	if !t.Enable && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.InsecureSkipVerify) {
		return fmt.Errorf("%w: TLS files or settings given without enabling TLS", ErrOptions)
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return fmt.Errorf("%w: TLS certificate and key go together", ErrOptions)
	}
	switch s.Mechanism {
	case "":
		if s.User != "" || s.Password != "" {
			return fmt.Errorf("%w: SASL user or password without a mechanism", ErrOptions)
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if s.User == "" {
			return fmt.Errorf("%w: SASL %s needs a user", ErrOptions, s.Mechanism)
		}
	default:
		return fmt.Errorf("%w: SASL mechanism %q (want %s, %s or %s)", ErrOptions, s.Mechanism,
			SASLPlain, SASLScramSHA256, SASLScramSHA512)
	}
	return nil
}

// securityOpts turns TLS and SASL options into client options.
func securityOpts(t TLS, s SASL) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if t.Enable {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // an explicit test option
		if t.CAFile != "" {
			pem, err := os.ReadFile(t.CAFile)
			if err != nil {
				return nil, fmt.Errorf("kafka: TLS CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%w: TLS CA file %s holds no PEM certificate", ErrOptions, t.CAFile)
			}
			cfg.RootCAs = pool
		}
		if t.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("kafka: TLS client certificate: %w", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	if s.Mechanism != "" {
		var m sasl.Mechanism
		switch s.Mechanism {
		case SASLPlain:
			m = plain.Auth{User: s.User, Pass: s.Password}.AsMechanism()
		case SASLScramSHA256:
			m = scram.Auth{User: s.User, Pass: s.Password}.AsSha256Mechanism()
		case SASLScramSHA512:
			m = scram.Auth{User: s.User, Pass: s.Password}.AsSha512Mechanism()
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// slogLogger adapts a *slog.Logger to franz-go's logger: warnings and
// errors, and more when the logger is enabled at debug level.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Level() kgo.LogLevel {
	if s.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelWarn
}

func (s slogLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelInfo
	switch level {
	case kgo.LogLevelError:
		lvl = slog.LevelError
	case kgo.LogLevelWarn:
		lvl = slog.LevelWarn
	case kgo.LogLevelDebug:
		lvl = slog.LevelDebug
	}
	s.l.Log(context.Background(), lvl, "kafka: "+msg, keyvals...)
}
