package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/stream/payload"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// Defaults of Options.
const (
	DefaultCommitRecords  = 100_000
	DefaultCommitBytes    = 64 << 20
	DefaultCommitInterval = 30 * time.Second
	// DefaultMaxBufferBytes bounds the payload bytes buffered across all
	// tables.
	DefaultMaxBufferBytes = 512 << 20
	DefaultMaxOpenTables  = 100
	// DefaultRouteIndexMemory is Writer.IndexMemory of the tables of
	// Routes when it is not set: many tables are open at once. A single
	// Table keeps the index's own defaults.
	DefaultRouteIndexMemory = 8 << 20
)

// PositionsKey is the extraMetadata key under which every commit of the
// stream records the positions of the units its table has consumed: a JSON
// object, unit → position (Message.Next), the merged map of every unit the
// table has seen. It is the truth a restart resumes from.
const PositionsKey = "hoodie.stream.positions"

// TruncateAction is what the stream does at a Debezium truncate event.
type TruncateAction string

// Truncate actions.
const (
	// TruncateFail commits the events before the truncate, then fails Run
	// with an error naming the table, the unit and the position; a restart
	// resumes at the truncate (and fails again until the option changes).
	TruncateFail TruncateAction = "fail"
	// TruncateDeleteAll commits the events before the truncate, then
	// deletes every row of the table in a commit of its own, and goes on.
	TruncateDeleteAll TruncateAction = "delete-all"
)

// Table is the one destination table of a single-table stream: every
// message of the source goes to it.
type Table struct {
	// Location is the table's location (a path or a URI storage.Open
	// understands). Required.
	Location string
	// Create creates the table when the location holds none; nil: the
	// table must exist. Its PrecombineField defaults to the Debezium
	// position column (payload.PosField) for Debezium payloads.
	Create *table.CreateOptions
	// Payload decodes the messages.
	Payload payload.Options
}

// Route sends the messages of the topics (Kafka) or streams (Kinesis)
// whose name matches TopicRegex to the table at LocationTemplate: many
// tables from one stream, such as Debezium's topic per database table.
type Route struct {
	// TopicRegex matches whole topic names (it is anchored). Required.
	TopicRegex string
	// LocationTemplate is the location of a topic's table, with the
	// placeholders {topic} (the topic name), and, from the Debezium source
	// block of the first message (Debezium payloads), {db}, {schema} and
	// {table}: "s3://bucket/lake/{db}/{table}". Required.
	LocationTemplate string
	// Create creates a topic's table when its location holds none; nil:
	// the table must exist. Name defaults to {table} (else the topic's
	// last dot-separated part) made a valid table name, Database to {db}
	// likewise; for Debezium payloads RecordKeyFields default to the
	// fields of the first message's Debezium key and PrecombineField to
	// the position column (payload.PosField).
	Create *table.CreateOptions
	// Payload decodes the route's messages.
	Payload payload.Options
}

// Services are the table services the stream runs itself, in the
// background, without blocking ingestion: after every Every commits of a
// table, one round of compaction (merge-on-read tables; scheduled and
// executed by package compactor under its rules) and cleaning (package
// cleaner). The zero value runs none: leave them to `hoodie compact` and
// `hoodie clean`.
type Services struct {
	// Every is the number of commits of a table between two service
	// rounds; 0 runs no services.
	Every int
	// Compact runs compaction on merge-on-read tables with Compactor.
	Compact   bool
	Compactor compactor.Options
	// Clean runs the cleaner with Cleaner.
	Clean   bool
	Cleaner cleaner.Options
}

// Options configure a Service. Either Table or Routes names the
// destination; every other field has a default.
type Options struct {
	// Source is where the stream reads. Required.
	Source Source
	// Table is the single destination table (Table.Location set), or
	// Routes route topics to tables; exactly one of the two.
	Table  Table
	Routes []Route
	// Open opens a table location's storage. Default storage.Open with
	// zero storage.Options.
	Open func(ctx context.Context, location string) (storage.Storage, error)
	// Writer configures every table's writer. Concurrency is always
	// writer.Optimistic (several processes of a consumer group may write
	// one table); ConflictRetries defaults to 10. IndexDir, when set, is
	// the root under which each table's index gets a directory of its own;
	// IndexLocation is set per table.
	Writer writer.Options
	// A table's buffer is committed when it holds CommitRecords records,
	// or CommitBytes bytes of payloads, or CommitInterval after its first
	// buffered record, whichever comes first. Defaults
	// DefaultCommitRecords, DefaultCommitBytes, DefaultCommitInterval.
	CommitRecords  int
	CommitBytes    int64
	CommitInterval time.Duration
	// MaxBufferBytes bounds the payload bytes buffered across all tables:
	// past it, the largest buffer is committed first. Default
	// DefaultMaxBufferBytes.
	MaxBufferBytes int64
	// MaxOpenTables bounds the tables with an open writer (each holds an
	// index and buffers): the least recently used idle table is committed
	// and closed, and reopened when a message for it comes. Default
	// DefaultMaxOpenTables. The stream's memory is about MaxOpenTables ×
	// Writer.IndexMemory (each open table's index) + MaxBufferBytes + the
	// working memory of the commit in progress (one table at a time).
	MaxOpenTables int
	// Services runs compaction and cleaning in the background.
	Services Services
	// Archive runs after each commit of a table (Hudi's automatic
	// archival); a failure is logged, the commit stands. NoArchive turns
	// it off.
	Archive   cleaner.ArchiveOptions
	NoArchive bool
	// OnTruncate is what a Debezium truncate does. Default TruncateFail.
	OnTruncate TruncateAction
	// ErrorSink receives the messages that fail to decode or route, before
	// the commit that moves positions past them. nil: they are logged and
	// counted only.
	ErrorSink ErrorSink
	// Strict fails Run at the first bad message instead.
	Strict bool
	// Metrics receives the stream's metrics; nil records none.
	Metrics *Metrics
	// Logger receives structured logs. Default: discarded.
	Logger *slog.Logger
}

// EnsureDefaults fills the zero fields that have defaults.
func (o *Options) EnsureDefaults() {
	if o.Open == nil {
		o.Open = func(ctx context.Context, location string) (storage.Storage, error) {
			return storage.Open(ctx, location, storage.Options{})
		}
	}
	if o.CommitRecords == 0 {
		o.CommitRecords = DefaultCommitRecords
	}
	if o.CommitBytes == 0 {
		o.CommitBytes = DefaultCommitBytes
	}
	if o.CommitInterval == 0 {
		o.CommitInterval = DefaultCommitInterval
	}
	if o.MaxBufferBytes == 0 {
		o.MaxBufferBytes = DefaultMaxBufferBytes
	}
	if o.MaxOpenTables == 0 {
		o.MaxOpenTables = DefaultMaxOpenTables
	}
	if o.OnTruncate == "" {
		o.OnTruncate = TruncateFail
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if len(o.Routes) > 0 && o.Writer.IndexMemory == 0 {
		o.Writer.IndexMemory = DefaultRouteIndexMemory
	}
	o.Writer.Concurrency = writer.Optimistic
	if o.Writer.ConflictRetries == 0 {
		o.Writer.ConflictRetries = 10
	}
	o.Writer.EnsureDefaults()
	o.Archive.EnsureDefaults()
	if o.Services.Every > 0 {
		o.Services.Compactor.EnsureDefaults()
		o.Services.Cleaner.EnsureDefaults()
	}
}

// Validate checks the options.
func (o *Options) Validate() error {
	bad := func(format string, args ...any) error { return fmt.Errorf("stream: options: "+format, args...) }
	if o.Source == nil {
		return bad("no Source")
	}
	switch {
	case o.Table.Location == "" && len(o.Routes) == 0:
		return bad("no destination: set Table.Location or Routes")
	case o.Table.Location != "" && len(o.Routes) > 0:
		return bad("both Table.Location and Routes are set: want one")
	}
	if o.Table.Location != "" {
		if err := checkCreate(o.Table.Create, true); err != nil {
			return bad("Table.Create: %w", err)
		}
		if err := checkPayload(o.Table.Payload); err != nil {
			return bad("Table.Payload: %w", err)
		}
	}
	for i, r := range o.Routes {
		if r.TopicRegex == "" || r.LocationTemplate == "" {
			return bad("route %d: TopicRegex and LocationTemplate are required", i)
		}
		if _, err := regexp.Compile(anchor(r.TopicRegex)); err != nil {
			return bad("route %d: TopicRegex: %w", i, err)
		}
		if err := checkTemplate(r.LocationTemplate); err != nil {
			return bad("route %d: %w", i, err)
		}
		if err := checkCreate(r.Create, false); err != nil {
			return bad("route %d: Create: %w", i, err)
		}
		if err := checkPayload(r.Payload); err != nil {
			return bad("route %d: Payload: %w", i, err)
		}
	}
	if o.CommitRecords < 0 || o.CommitBytes < 0 || o.CommitInterval < 0 {
		return bad("CommitRecords, CommitBytes and CommitInterval must not be negative")
	}
	if o.MaxBufferBytes < 0 || o.MaxOpenTables < 0 {
		return bad("MaxBufferBytes and MaxOpenTables must not be negative")
	}
	switch o.OnTruncate {
	case "", TruncateFail, TruncateDeleteAll:
	default:
		return bad("OnTruncate %q: want fail or delete-all", o.OnTruncate)
	}
	if err := o.Writer.Validate(); err != nil {
		return bad("Writer: %w", err)
	}
	if !o.NoArchive {
		a := o.Archive
		a.EnsureDefaults()
		if err := a.Validate(); err != nil {
			return bad("Archive: %w", err)
		}
	}
	if s := o.Services; s.Every < 0 {
		return bad("Services.Every must not be negative")
	} else if s.Every > 0 {
		if s.Compact {
			if err := s.Compactor.Validate(); err != nil {
				return bad("Services.Compactor: %w", err)
			}
		}
		if s.Clean {
			c := s.Cleaner
			c.EnsureDefaults()
			if err := c.Validate(); err != nil {
				return bad("Services.Cleaner: %w", err)
			}
		}
	}
	return nil
}

// checkCreate checks create options; single: of a single table (the name
// and key are required, not derived).
func checkCreate(c *table.CreateOptions, single bool) error {
	if c == nil {
		return nil
	}
	if c.PayloadClass == table.PayloadOverwriteWithLatest {
		return fmt.Errorf("PayloadClass %s: a stream needs event-time ordering across commits (the default payload), or replayed messages would overwrite newer rows", c.PayloadClass)
	}
	if single && c.Name == "" {
		return errors.New("the table name (Name) is required")
	}
	return nil
}

func checkPayload(p payload.Options) error {
	p.EnsureDefaults()
	return p.Validate()
}

var placeholders = []string{"{topic}", "{db}", "{schema}", "{table}"}

// checkTemplate refuses a template with an unknown {placeholder}.
func checkTemplate(t string) error {
	rest := t
	for _, p := range placeholders {
		rest = strings.ReplaceAll(rest, p, "")
	}
	if i := strings.IndexByte(rest, '{'); i >= 0 {
		j := strings.IndexByte(rest[i:], '}')
		if j > 0 {
			return fmt.Errorf("LocationTemplate %q: unknown placeholder %s (want {topic}, {db}, {schema}, {table})", t, rest[i:i+j+1])
		}
	}
	return nil
}

func anchor(re string) string { return "^(?:" + re + ")$" }
