package kafka

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hoodie-lake/hoodie/stream"
)

// Header keys of a dead-letter record: why and where from.
const (
	HeaderReason   = "hoodie.error.reason"
	HeaderField    = "hoodie.error.field"
	HeaderUnit     = "hoodie.error.unit"
	HeaderPosition = "hoodie.error.position"
	HeaderTable    = "hoodie.error.table"
)

// DefaultProduceTimeout bounds one DeadLetter.Write.
const DefaultProduceTimeout = 30 * time.Second

// DeadLetterOptions configure a DeadLetter.
type DeadLetterOptions struct {
	// Brokers are the seed brokers, "host:port". Required.
	Brokers []string
	// Topic is the dead-letter topic; it must exist. Required.
	Topic string
	// ClientID names the client to the brokers; default DefaultClientID.
	ClientID string
	TLS      TLS
	SASL     SASL
	// DialTimeout and RequestTimeout as in Options; defaults
	// DefaultDialTimeout and DefaultRequestTimeout.
	DialTimeout    time.Duration
	RequestTimeout time.Duration
	// ProduceTimeout bounds one Write (when its context has no earlier
	// deadline); default DefaultProduceTimeout.
	ProduceTimeout time.Duration
	// Logger receives the sink's structured logs; default: discarded.
	Logger *slog.Logger
}

// EnsureDefaults fills the zero fields with their defaults.
func (o *DeadLetterOptions) EnsureDefaults() {
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.ProduceTimeout == 0 {
		o.ProduceTimeout = DefaultProduceTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Validate reports the first invalid option, wrapping ErrOptions.
func (o *DeadLetterOptions) Validate() error {
	if len(o.Brokers) == 0 {
		return fmt.Errorf("%w: dead letter: no brokers", ErrOptions)
	}
	if o.Topic == "" {
		return fmt.Errorf("%w: dead letter: no topic", ErrOptions)
	}
	if o.DialTimeout < 0 || o.RequestTimeout < 0 || o.ProduceTimeout < 0 {
		return fmt.Errorf("%w: dead letter: negative timeout", ErrOptions)
	}
	return validateSecurity(o.TLS, o.SASL)
}

// DeadLetter is a stream.ErrorSink writing refused records to a Kafka
// topic: the original key and value, with the reason and the source
// position in headers (HeaderReason, HeaderField, HeaderUnit,
// HeaderPosition, HeaderTable).
type DeadLetter struct {
	opts DeadLetterOptions
	cl   *kgo.Client
}

var _ stream.ErrorSink = (*DeadLetter)(nil)

// NewDeadLetter returns a DeadLetter producing to opts.Topic.
func NewDeadLetter(opts DeadLetterOptions) (*DeadLetter, error) {
	opts.Brokers = slices.Clone(opts.Brokers)
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	sec, err := securityOpts(opts.TLS, opts.SASL)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(sec,
		kgo.SeedBrokers(opts.Brokers...),
		kgo.ClientID(opts.ClientID),
		kgo.DialTimeout(opts.DialTimeout),
		kgo.RequestTimeoutOverhead(opts.RequestTimeout),
		kgo.RetryTimeout(opts.RequestTimeout),
		kgo.RecordDeliveryTimeout(opts.ProduceTimeout),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.DefaultProduceTopic(opts.Topic),
		kgo.WithLogger(slogLogger{opts.Logger}),
	)...)
	if err != nil {
		return nil, fmt.Errorf("kafka: dead letter client: %w", err)
	}
	return &DeadLetter{opts: opts, cl: cl}, nil
}

// Write produces recs to the topic and returns once the broker
// acknowledged every one (or the first error).
func (d *DeadLetter) Write(ctx context.Context, recs []stream.ErrorRecord) error {
	if len(recs) == 0 {
		return nil
	}
	// The records' own delivery timeout (ProduceTimeout) fires first and
	// carries the cause (a refused login, say); the call's deadline is a
	// backstop a little later.
	ctx, cancel := context.WithTimeout(ctx, d.opts.ProduceTimeout+2*time.Second)
	defer cancel()
	krecs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		krecs[i] = &kgo.Record{
			Topic: d.opts.Topic,
			Key:   r.Key,
			Value: r.Value,
			Headers: []kgo.RecordHeader{
				{Key: HeaderReason, Value: []byte(r.Reason)},
				{Key: HeaderField, Value: []byte(r.Field)},
				{Key: HeaderUnit, Value: []byte(r.Unit)},
				{Key: HeaderPosition, Value: []byte(r.Position)},
				{Key: HeaderTable, Value: []byte(r.Table)},
			},
		}
	}
	if err := d.cl.ProduceSync(ctx, krecs...).FirstErr(); err != nil {
		return fmt.Errorf("kafka: dead letter to %s: %w", d.opts.Topic, err)
	}
	return nil
}

// Close flushes what is buffered (nothing after Write returned) and
// releases the client.
func (d *DeadLetter) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), d.opts.ProduceTimeout)
	defer cancel()
	err := d.cl.Flush(ctx)
	d.cl.Close()
	if err != nil {
		return fmt.Errorf("kafka: dead letter close: %w", err)
	}
	return nil
}
