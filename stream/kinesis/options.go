package kinesis

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"
)

// Start positions: where a shard without a recorded position starts.
const (
	// StartTrimHorizon reads a shard from its oldest retained record.
	StartTrimHorizon = "TRIM_HORIZON"
	// StartLatest reads only records written after the reader starts.
	StartLatest = "LATEST"
	// StartAtTimestamp reads from the first record at or after
	// Options.StartTimestamp.
	StartAtTimestamp = "AT_TIMESTAMP"
)

// Defaults of Options.
const (
	DefaultPollInterval      = time.Second
	DefaultShardSyncInterval = 10 * time.Second
	DefaultMaxRecords        = 10000
	DefaultRequestTimeout    = 10 * time.Second
	// DefaultEndpointRegion is the region used with an Endpoint when
	// neither Region nor the environment names one (kinesalite and other
	// local servers accept any).
	DefaultEndpointRegion = "us-east-1"
)

// maxRecordsLimit is GetRecords' own limit.
const maxRecordsLimit = 10000

// Options configure a Source. The zero value of every field but Stream
// is a default.
type Options struct {
	// Stream is the Kinesis stream's name (required).
	Stream string
	// Endpoint overrides the service endpoint, e.g. a kinesalite
	// "http://127.0.0.1:4567"; "" uses AWS's endpoint for the region.
	Endpoint string
	// Region is the AWS region; "" takes it from the default chain
	// (AWS_REGION, the shared config's profile), and with an Endpoint set
	// and no region found, DefaultEndpointRegion.
	Region string
	// AccessKeyID and SecretAccessKey (with the optional SessionToken)
	// are static credentials; both "" uses the default credential chain
	// (environment, shared files, web identity, container and instance
	// roles).
	AccessKeyID, SecretAccessKey, SessionToken string
	// StartPosition is where a shard without a position in the table
	// starts: StartTrimHorizon (default), StartLatest or
	// StartAtTimestamp. A shard whose parent shards the table or this
	// run consumed always starts at its oldest record, so resharding
	// never skips records.
	StartPosition string
	// StartTimestamp is the time of StartAtTimestamp (required with it).
	StartTimestamp time.Time
	// PollInterval is the pause between GetRecords calls of a shard that
	// is caught up (default 1 s). A shard that returned records or is
	// behind is polled again after min(PollInterval, 200 ms): Kinesis
	// allows 5 GetRecords per second per shard, shared by every reader of
	// the stream.
	PollInterval time.Duration
	// ShardSyncInterval is how often ListShards looks for shards created
	// by resharding (default 10 s). A shard read to its end without known
	// children also triggers a look at once.
	ShardSyncInterval time.Duration
	// MaxRecords is the Limit of each GetRecords call (default and
	// maximum 10000).
	MaxRecords int
	// RequestTimeout bounds every call to Kinesis, retries included
	// (default 10 s).
	RequestTimeout time.Duration
	// Logger receives structured logs (default: discarded).
	Logger *slog.Logger
}

// EnsureDefaults fills the zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.StartPosition == "" {
		o.StartPosition = StartTrimHorizon
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.ShardSyncInterval == 0 {
		o.ShardSyncInterval = DefaultShardSyncInterval
	}
	if o.MaxRecords == 0 {
		o.MaxRecords = DefaultMaxRecords
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Validate reports an invalid combination of options (after
// EnsureDefaults; zero durations are invalid here).
func (o *Options) Validate() error {
	var errs []error
	if o.Stream == "" {
		errs = append(errs, errors.New("stream name is required"))
	}
	switch o.StartPosition {
	case StartTrimHorizon, StartLatest:
		if !o.StartTimestamp.IsZero() {
			errs = append(errs, fmt.Errorf("start timestamp given with start position %s (want %s)", o.StartPosition, StartAtTimestamp))
		}
	case StartAtTimestamp:
		if o.StartTimestamp.IsZero() {
			errs = append(errs, fmt.Errorf("start position %s needs a start timestamp", StartAtTimestamp))
		}
	default:
		errs = append(errs, fmt.Errorf("start position %q: want %s, %s or %s", o.StartPosition, StartTrimHorizon, StartLatest, StartAtTimestamp))
	}
	if o.Endpoint != "" {
		if u, err := url.Parse(o.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("endpoint %q: want an http(s) URL", o.Endpoint))
		}
	}
	if (o.AccessKeyID == "") != (o.SecretAccessKey == "") {
		errs = append(errs, errors.New("static credentials need both an access key ID and a secret access key"))
	}
	if o.SessionToken != "" && o.AccessKeyID == "" {
		errs = append(errs, errors.New("a session token needs static credentials"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"poll interval", o.PollInterval}, {"shard sync interval", o.ShardSyncInterval}, {"request timeout", o.RequestTimeout}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s %v: must be positive", d.name, d.v))
		}
	}
	if o.MaxRecords < 1 || o.MaxRecords > maxRecordsLimit {
		errs = append(errs, fmt.Errorf("max records %d: want 1..%d", o.MaxRecords, maxRecordsLimit))
	}
	if o.Logger == nil {
		errs = append(errs, errors.New("logger is nil (call EnsureDefaults)"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("kinesis: invalid options: %w", errors.Join(errs...))
	}
	return nil
}
