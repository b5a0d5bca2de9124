package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/stream"
	"github.com/hoodie-lake/hoodie/stream/kafka"
	"github.com/hoodie-lake/hoodie/stream/kinesis"
	"github.com/hoodie-lake/hoodie/stream/payload"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// envKafkaPassword gives the SASL password without putting it on the
// command line (where ps shows it).
const envKafkaPassword = "HOODIE_KAFKA_SASL_PASSWORD"

// defaultServiceEvery is the commits between service rounds when --clean
// is given without --compact-every.
const defaultServiceEvery = 10

type streamArgs struct {
	location string
	routes   []string

	// Kafka.
	brokers     []string
	topics      []string
	topicRegex  string
	group       string
	clientID    string
	sessionTO   time.Duration
	rebalanceTO time.Duration
	startOffset string
	tlsEnable   bool
	tlsCA       string
	tlsCert     string
	tlsKey      string
	tlsInsecure bool
	saslMech    string
	saslUser    string
	saslPass    string

	// Kinesis.
	kinesisStream   string
	kinesisEndpoint string
	kinesisRegion   string
	kinesisStart    string

	// Payloads.
	format      string
	avroSchema  string
	confluent   bool
	schemaID    int32
	order       string
	softDeletes bool
	inferDates  bool
	onTruncate  string

	// Commits and memory.
	commitInterval time.Duration
	commitRecords  int
	commitBytes    byteSize
	maxOpenTables  int
	maxBuffer      byteSize
	indexMemory    byteSize

	errorsTo    string
	strict      bool
	metricsAddr string
	indexDir    string
	noArchive   bool
	compactN    int
	clean       bool
	logFormat   string
	logLevel    string

	create    createArgs
	timestamp timestampArgs
	formats   writeFlags
}

func newStreamCmd(g *globalFlags) *cobra.Command {
	return newStreamCmdFor(g, &streamArgs{})
}

// newStreamCmdFor returns the command with its flags bound to a.
func newStreamCmdFor(g *globalFlags, a *streamArgs) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stream --table LOCATION|--route REGEX=TEMPLATE (--kafka-brokers HOST:PORT --group ID | --kinesis-stream NAME) [flags]",
		Short: "Run as a service: read Kafka or Kinesis and commit to tables, exactly once",
		Long: `stream reads a Kafka topic (as a member of a consumer group, cooperative rebalancing) or a Kinesis
stream (every shard, following resharding) and writes the messages to one table (--table) or to a
table per topic (--route, e.g. Debezium's topic per database table), until SIGTERM or SIGINT.

Payloads (--format): json (one object per message; nested values kept as JSON text), debezium
(change events with or without the schema envelope, by cdc's rules: c/r/u upsert, d deletes,
` + payload.PosField + ` orders; see "hoodie cdc --help") or avro (Avro binary bodies written with
--avro-schema; --confluent for the Confluent wire format, whose schema id --schema-id names).
New fields become new nullable columns as they appear.

Commits: a table's buffer is committed when it holds --commit-records records, --commit-bytes
bytes of payloads or is --commit-interval old, whichever first; one instant per commit per table.
Each commit records the source position of every partition (Kafka: topic, partition → next
offset, also in Hudi streamer's checkpoint format) or shard (Kinesis: sequence number) in its
metadata: that is where a restart, a rebalance or another process of the group resumes, so no
record is lost or written twice; the group's offsets are committed afterwards for monitoring
only. Many processes with the same --group share the partitions (see the README's scale-out
section).

Many tables (--route 'REGEX=TEMPLATE', repeatable): topics matching REGEX (the whole name) go to
the table at TEMPLATE, whose placeholders are {topic} and, from the Debezium source block,
{db}, {schema} and {table}. Missing tables are created with the create flags (--type,
--partition, ...); with --format debezium their key is the Debezium message key's fields and
their precombine field ` + payload.PosField + `. --max-open-tables, --index-memory (per open table)
and --max-buffer-bytes bound the memory (about open tables × index memory + buffer + one
commit): past them the least recently used table is committed and closed, or the largest
buffer committed. A Debezium truncate stops the stream (after committing what came before it) unless
--on-truncate delete-all.

Bad messages (that fail to decode or lack their key or ordering value) go with their table,
partition or shard, position and reason to the error output before the commit that moves past
them: --errors FILE (JSON Lines, synced; "-" is stderr), --errors s3://bucket/prefix or a local
directory URI file:///dir (one object per batch), or --errors kafka:TOPIC (a dead-letter topic
on the same brokers). Default: hoodie-stream-<time>.errors.jsonl, created when needed. --strict
stops the stream at the first bad message instead (exit status 2).

Observability: --metrics-addr HOST:PORT serves Prometheus metrics at /metrics (lag per
partition or shard, records, rejected records, commits, commit latency, buffer bytes, index
size and hit rate, per table) and a health check at /healthz (200 ok, 503 with the reason).
Logs go to stderr (--log-format text or json, --log-level).

Table services: --compact-every N schedules and runs compaction (merge-on-read tables) after
every N commits of a table, --clean runs the cleaner too, in the background without blocking
ingestion; or leave them to "hoodie compact" and "hoodie clean" run elsewhere.

Stopping: the first SIGTERM or SIGINT stops fetching, commits what is buffered and exits 0; a
second one aborts: commits in flight roll back (nothing half-visible), what was buffered is read
again by the next run, and the exit status is 128 + the signal number. Exit status 1: an error
stopped the stream (nothing after the last commit of each table is written).

` + timestampFlagsHelp,
		Example: `  hoodie stream --table /tmp/events --key uuid --precombine ts --partition dt \
      --kafka-brokers 127.0.0.1:9092 --topic events --group hoodie-events --commit-interval 5s
  hoodie stream --table s3://bucket/events --type mor --key uuid --precombine ts \
      --kinesis-stream events --kinesis-endpoint http://127.0.0.1:4567 --metrics-addr :9464
  hoodie stream --route 'dbserver1\.inventory\..*=s3://bucket/lake/{db}/{table}' --format debezium --type mor \
      --kafka-brokers 127.0.0.1:9092 --group cdc --max-open-tables 200 --errors s3://bucket/lake/_errors`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStream(cmd, g, a)
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.location, "table", "", "the table location (a path, file:// or s3://bucket/prefix) every message goes to")
	f.StringArrayVar(&a.routes, "route", nil, "REGEX=LOCATION_TEMPLATE: topics matching REGEX go to the table at the template ({topic}, {db}, {schema}, {table}); repeatable, first match wins")

	f.StringSliceVar(&a.brokers, "kafka-brokers", nil, "Kafka seed brokers, HOST:PORT, comma-separated")
	f.StringSliceVar(&a.topics, "topic", nil, "Kafka topics to read, comma-separated or repeated (with --route, default: the topics the routes match)")
	f.StringVar(&a.topicRegex, "topic-regex", "", "Kafka: read every topic whose whole name matches this regular expression (new ones as they appear)")
	f.StringVar(&a.group, "group", "", "Kafka consumer group: processes with the same group share the partitions")
	f.StringVar(&a.clientID, "kafka-client-id", kafka.DefaultClientID, "Kafka client ID")
	f.DurationVar(&a.sessionTO, "kafka-session-timeout", kafka.DefaultSessionTimeout, "Kafka: the group session timeout: how soon a member that died (kill -9) loses its partitions (the broker allows 6s to 30m by default)")
	f.DurationVar(&a.rebalanceTO, "kafka-rebalance-timeout", kafka.DefaultRebalanceTimeout, "Kafka: how long a rebalance waits for members to commit what they buffered of revoked partitions")
	f.StringVar(&a.startOffset, "start-offset", kafka.StartEarliest, "Kafka: where a partition the table has no position for starts: earliest or latest")
	f.BoolVar(&a.tlsEnable, "kafka-tls", false, "Kafka: connect with TLS")
	f.StringVar(&a.tlsCA, "kafka-tls-ca", "", "Kafka TLS: PEM file of the certificate authorities to trust (default: the system's)")
	f.StringVar(&a.tlsCert, "kafka-tls-cert", "", "Kafka TLS: client certificate (PEM) for mutual TLS, with --kafka-tls-key")
	f.StringVar(&a.tlsKey, "kafka-tls-key", "", "Kafka TLS: client key (PEM)")
	f.BoolVar(&a.tlsInsecure, "kafka-tls-insecure", false, "Kafka TLS: do not verify the brokers' certificates (tests only)")
	f.StringVar(&a.saslMech, "kafka-sasl-mechanism", "", "Kafka SASL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	f.StringVar(&a.saslUser, "kafka-sasl-user", "", "Kafka SASL user")
	f.StringVar(&a.saslPass, "kafka-sasl-password", "", "Kafka SASL password (default: $"+envKafkaPassword+", which keeps it out of the process list)")

	f.StringVar(&a.kinesisStream, "kinesis-stream", "", "read this Kinesis stream (every shard; credentials and region from the AWS chain)")
	f.StringVar(&a.kinesisEndpoint, "kinesis-endpoint", "", "Kinesis endpoint URL, e.g. kinesalite's http://127.0.0.1:4567")
	f.StringVar(&a.kinesisRegion, "kinesis-region", "", "Kinesis region (default: the AWS chain; us-east-1 with --kinesis-endpoint)")
	f.StringVar(&a.kinesisStart, "kinesis-start", "trim_horizon", "Kinesis: where a shard the table has no position for starts: trim_horizon, latest or an RFC 3339 time")

	f.StringVar(&a.format, "format", string(payload.JSON), "message payloads: json, debezium or avro")
	f.StringVar(&a.avroSchema, "avro-schema", "", "--format avro: the writer schema (a JSON .avsc file) of the message bodies")
	f.BoolVar(&a.confluent, "confluent", false, "payloads in the Confluent wire format (magic byte, 4-byte schema id)")
	f.Int32Var(&a.schemaID, "schema-id", 0, "--confluent: the schema registry id of --avro-schema (messages with another id are refused); json/debezium: 0 accepts any")
	f.StringVar(&a.order, "order", payload.OrderAuto, "--format debezium: event order, auto (LSN, binlog position, else ts_ms) or ts_ms")
	f.BoolVar(&a.softDeletes, "soft-deletes", false, "--format debezium: keep deleted rows as tombstones ("+payload.DeletedField+" = true)")
	f.BoolVar(&a.inferDates, "infer-dates", false, "infer new string columns of ISO-8601 dates as date and of timestamps as timestamp (UTC)")
	f.StringVar(&a.onTruncate, "on-truncate", string(stream.TruncateFail), "Debezium truncate events: fail (stop, after committing what came before) or delete-all")

	f.DurationVar(&a.commitInterval, "commit-interval", stream.DefaultCommitInterval, "commit a table's buffer this long after its first record")
	f.IntVar(&a.commitRecords, "commit-records", stream.DefaultCommitRecords, "commit a table's buffer when it holds this many records")
	a.commitBytes = byteSize(stream.DefaultCommitBytes)
	f.Var(&a.commitBytes, "commit-bytes", "commit a table's buffer when it holds this many payload bytes (64MiB, 500MB, 1048576)")
	f.IntVar(&a.maxOpenTables, "max-open-tables", stream.DefaultMaxOpenTables, "tables with an open writer at once; past it the least recently used is committed and closed")
	a.maxBuffer = byteSize(stream.DefaultMaxBufferBytes)
	f.Var(&a.maxBuffer, "max-buffer-bytes", "payload bytes buffered across all tables; past it the largest buffer is committed")
	f.Var(&a.indexMemory, "index-memory", "memory of each open table's record-key index (default: 8MiB with --route, the index's own 112MiB with --table); memory ≈ --max-open-tables × this + --max-buffer-bytes + one commit")

	f.StringVar(&a.errorsTo, "errors", "", "error output: FILE (JSON Lines; - for stderr), s3://bucket/prefix or file:///dir (an object per batch), or kafka:TOPIC (default: hoodie-stream-<time>.errors.jsonl, created when needed)")
	f.BoolVar(&a.strict, "strict", false, "stop at the first bad message (exit status 2) instead of writing it to the error output")
	f.StringVar(&a.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at /metrics and a health check at /healthz on HOST:PORT (port 0: any free port, logged)")
	f.StringVar(&a.indexDir, "index-dir", "", "record-key index root: a directory per table under it (default: under the user cache dir)")
	f.BoolVar(&a.noArchive, "no-archive", false, "do not archive the timeline after each commit")
	f.IntVar(&a.compactN, "compact-every", 0, "schedule and run compaction of a merge-on-read table after every N of its commits, in the background (0: never; leave it to hoodie compact)")
	f.BoolVar(&a.clean, "clean", false, "run the cleaner in the background too (every --compact-every commits, else every "+strconv.Itoa(defaultServiceEvery)+")")
	f.StringVar(&a.logFormat, "log-format", "text", "log format on stderr: text or json")
	f.StringVar(&a.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	a.create.bind(cmd)
	a.timestamp.bind(cmd)
	a.formats.bind(cmd)
	f.Lookup("precombine").Usage = "ordering field when creating a table (--format debezium: default " + payload.PosField + ", the source position; keep it)"
	f.Lookup("key").Usage = "record key field(s) when creating a table, comma-separated (--format debezium with --route: default the fields of the message key)"
	return cmd
}

// byteSize is a flag of a byte count: a number with an optional unit (B,
// KB/MB/GB powers of 1000, K/M/G and KiB/MiB/GiB powers of 1024).
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }
func (b *byteSize) Type() string   { return "SIZE" }

func (b *byteSize) Set(s string) error {
	v, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(v)
	return nil
}

func parseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	mult := map[string]float64{"": 1, "b": 1,
		"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
		"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
		"g": 1 << 30, "gib": 1 << 30, "gb": 1e9}[strings.ToLower(unit)]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || v < 0 || v*mult > 1<<62 {
		return 0, fmt.Errorf("want a size such as 64MiB, 500MB or 1048576, got %q", s)
	}
	return int64(v * mult), nil
}

// streamPlan is what the flags resolve to before anything is opened.
type streamPlan struct {
	opts      stream.Options // without Source, ErrorSink, Metrics, Logger, Open
	kafka     *kafka.Options
	kinesis   *kinesis.Options
	createErr error // why the create flags do not make the single table
	deadTopic string
	errorsTo  string
	logger    *slog.Logger
}

// plan validates the flags (before any network or storage is touched) and
// resolves them. changed reports whether a flag was given.
func (a *streamArgs) plan(changed func(string) bool, stderr io.Writer) (*streamPlan, error) {
	p := &streamPlan{errorsTo: a.errorsTo}
	logger, err := newLogger(stderr, a.logFormat, a.logLevel)
	if err != nil {
		return nil, err
	}
	p.logger = logger
	if err := a.checkSource(changed); err != nil {
		return nil, err
	}
	pl, err := a.payload(changed)
	if err != nil {
		return nil, err
	}
	if err := a.destination(p, pl, changed); err != nil {
		return nil, err
	}
	if err := a.sources(p, logger); err != nil {
		return nil, err
	}
	if err := a.commitOptions(p); err != nil {
		return nil, err
	}
	if t, ok := strings.CutPrefix(a.errorsTo, "kafka:"); ok {
		if p.kafka == nil {
			return nil, fmt.Errorf("--errors kafka:TOPIC needs a Kafka source (--kafka-brokers)")
		}
		if t == "" {
			return nil, fmt.Errorf("--errors kafka:TOPIC: no topic")
		}
		p.deadTopic = t
	}
	if a.strict && changed("errors") {
		return nil, fmt.Errorf("--strict and --errors exclude each other: with --strict a bad message stops the stream")
	}
	return p, nil
}

// checkSource checks that exactly one source is chosen and that no flag
// of the other one is given.
func (a *streamArgs) checkSource(changed func(string) bool) error {
	kafkaFlags := []string{"topic", "topic-regex", "group", "kafka-client-id", "kafka-session-timeout", "kafka-rebalance-timeout", "start-offset", "kafka-tls", "kafka-tls-ca",
		"kafka-tls-cert", "kafka-tls-key", "kafka-tls-insecure", "kafka-sasl-mechanism", "kafka-sasl-user", "kafka-sasl-password"}
	kinesisFlags := []string{"kinesis-endpoint", "kinesis-region", "kinesis-start"}
	switch {
	case len(a.brokers) == 0 && a.kinesisStream == "":
		return fmt.Errorf("no source: give --kafka-brokers HOST:PORT (with --topic and --group) or --kinesis-stream NAME")
	case len(a.brokers) > 0 && a.kinesisStream != "":
		return fmt.Errorf("--kafka-brokers and --kinesis-stream exclude each other: one source per process")
	case len(a.brokers) > 0:
		for _, n := range kinesisFlags {
			if changed(n) {
				return fmt.Errorf("--%s is a Kinesis flag; the source is Kafka (--kafka-brokers)", n)
			}
		}
		if a.group == "" {
			return fmt.Errorf("--group is required with --kafka-brokers: the consumer group whose members share the partitions")
		}
		if len(a.topics) > 0 && a.topicRegex != "" {
			return fmt.Errorf("--topic and --topic-regex exclude each other")
		}
	default:
		for _, n := range kafkaFlags {
			if changed(n) {
				return fmt.Errorf("--%s is a Kafka flag; the source is Kinesis (--kinesis-stream)", n)
			}
		}
	}
	return nil
}

// payload resolves the payload flags.
func (a *streamArgs) payload(changed func(string) bool) (payload.Options, error) {
	var o payload.Options
	f, err := payload.ParseFormat(a.format)
	if err != nil {
		return o, fmt.Errorf("--format %q: want json, debezium or avro", a.format)
	}
	o = payload.Options{Format: f, Confluent: a.confluent, SchemaID: a.schemaID, Order: a.order, SoftDeletes: a.softDeletes, InferDates: a.inferDates}
	if f == payload.Avro {
		if a.avroSchema == "" {
			return o, fmt.Errorf("--format avro needs --avro-schema FILE (the writer schema of the message bodies)")
		}
		b, err := os.ReadFile(a.avroSchema)
		if err != nil {
			return o, fmt.Errorf("--avro-schema: %w", err)
		}
		o.AvroSchema = string(b)
		if a.confluent && a.schemaID == 0 {
			return o, fmt.Errorf("--confluent with --format avro needs --schema-id: the schema registry's id of --avro-schema (messages written with another schema would decode to garbage)")
		}
	} else if a.avroSchema != "" {
		return o, fmt.Errorf("--avro-schema is for --format avro (the format is %s)", f)
	}
	if a.schemaID != 0 && !a.confluent {
		return o, fmt.Errorf("--schema-id needs --confluent")
	}
	if f != payload.Debezium {
		for _, n := range []string{"order", "soft-deletes", "on-truncate"} {
			if changed(n) {
				return o, fmt.Errorf("--%s is for --format debezium (the format is %s)", n, f)
			}
		}
	}
	switch a.order {
	case payload.OrderAuto, payload.OrderTsMs:
	default:
		return o, fmt.Errorf("--order %q: want auto or ts_ms", a.order)
	}
	switch stream.TruncateAction(a.onTruncate) {
	case stream.TruncateFail, stream.TruncateDeleteAll:
	default:
		return o, fmt.Errorf("--on-truncate %q: want fail or delete-all", a.onTruncate)
	}
	if err := o.Validate(); err != nil {
		return o, err
	}
	return o, nil
}

// parseRoute splits a --route value at its last "=" (a regular expression
// may hold "=", a location template rarely does).
func parseRoute(s string) (stream.Route, error) {
	i := strings.LastIndex(s, "=")
	if i <= 0 || i == len(s)-1 {
		return stream.Route{}, fmt.Errorf("--route %q: want REGEX=LOCATION_TEMPLATE", s)
	}
	r := stream.Route{TopicRegex: s[:i], LocationTemplate: s[i+1:]}
	if _, err := regexp.Compile(r.TopicRegex); err != nil {
		return r, fmt.Errorf("--route %q: %w", s, err)
	}
	return r, nil
}

// destination resolves --table or --route with the create flags.
func (a *streamArgs) destination(p *streamPlan, pl payload.Options, changed func(string) bool) error {
	debezium := pl.Format == payload.Debezium
	switch {
	case a.location == "" && len(a.routes) == 0:
		return fmt.Errorf("no destination: give --table LOCATION, or --route REGEX=LOCATION_TEMPLATE for a table per topic")
	case a.location != "" && len(a.routes) > 0:
		return fmt.Errorf("--table and --route exclude each other")
	}
	if debezium && a.create.precombine == "" {
		a.create.precombine = payload.PosField
	}
	if a.create.payload == "latest" {
		return fmt.Errorf("--payload latest: a stream needs event-time ordering across commits (the default payload), or replayed messages would overwrite newer rows")
	}
	if _, err := a.timestamp.options(); err != nil {
		return err
	}
	if a.location != "" {
		if _, err := storage.ParseLocation(a.location); err != nil {
			return fmt.Errorf("--table: %w", err)
		}
		p.opts.Table = stream.Table{Location: a.location, Payload: pl}
		c := a.create
		if debezium && c.keys == "" {
			c.keys = "-" // from the Debezium key of the first message
		}
		create, err := c.options(a.location)
		if err == nil {
			err = a.timestamp.apply(&create)
		}
		if err == nil {
			if a.create.keys == "" {
				create.RecordKeyFields = nil
			}
			p.opts.Table.Create = &create
		} else if changed("key") || changed("schema") || changed("timestamp-type") {
			return err
		}
		p.createErr = err
		return nil
	}
	for _, n := range []string{"name", "schema"} {
		if changed(n) {
			return fmt.Errorf("--%s names one table; with --route each topic has its own", n)
		}
	}
	create, err := a.routeCreate(debezium, changed)
	if err != nil {
		return err
	}
	for _, s := range a.routes {
		r, err := parseRoute(s)
		if err != nil {
			return err
		}
		r.Payload, r.Create = pl, create
		p.opts.Routes = append(p.opts.Routes, r)
	}
	return nil
}

// routeCreate returns the create options of routed tables: nil (the
// tables must exist) unless their key and ordering are known.
func (a *streamArgs) routeCreate(debezium bool, changed func(string) bool) (*table.CreateOptions, error) {
	if !debezium && (a.create.keys == "" || a.create.precombine == "") {
		if changed("key") || changed("precombine") || changed("partition") || changed("type") || changed("timestamp-type") {
			return nil, fmt.Errorf("--route with --format %s creates tables only with both --key and --precombine", a.format)
		}
		return nil, nil
	}
	c := a.create
	if c.keys == "" {
		c.keys = "-" // from each table's Debezium key
	}
	create, err := c.options("/routed")
	if err != nil {
		return nil, err
	}
	if err := a.timestamp.apply(&create); err != nil {
		return nil, err
	}
	create.Name = ""
	if a.create.keys == "" {
		create.RecordKeyFields = nil
	}
	if !changed("database") {
		create.Database = ""
	}
	return &create, nil
}

// sources resolves the Kafka or Kinesis options.
func (a *streamArgs) sources(p *streamPlan, logger *slog.Logger) error {
	if len(a.brokers) > 0 {
		o := &kafka.Options{Brokers: a.brokers, Topics: a.topics, TopicRegex: a.topicRegex, Group: a.group, ClientID: a.clientID,
			StartOffset: a.startOffset, SessionTimeout: a.sessionTO, RebalanceTimeout: a.rebalanceTO,
			TLS:    kafka.TLS{Enable: a.tlsEnable, CAFile: a.tlsCA, CertFile: a.tlsCert, KeyFile: a.tlsKey, InsecureSkipVerify: a.tlsInsecure},
			SASL:   kafka.SASL{Mechanism: a.saslMech, User: a.saslUser, Password: a.saslPass},
			Logger: logger}
		if o.SASL.Password == "" && o.SASL.Mechanism != "" {
			o.SASL.Password = os.Getenv(envKafkaPassword)
		}
		if len(o.Topics) == 0 && o.TopicRegex == "" {
			if len(p.opts.Routes) == 0 {
				return fmt.Errorf("--topic NAME (or --topic-regex) is required with --table and --kafka-brokers")
			}
			var res []string
			for _, r := range p.opts.Routes {
				res = append(res, "(?:"+r.TopicRegex+")")
			}
			o.TopicRegex = strings.Join(res, "|")
		}
		if err := checkRouted(p.opts.Routes, o.Topics); err != nil {
			return err
		}
		switch o.StartOffset {
		case kafka.StartEarliest, kafka.StartLatest:
		default:
			return fmt.Errorf("--start-offset %q: want earliest or latest", a.startOffset)
		}
		v := *o
		v.EnsureDefaults()
		if err := v.Validate(); err != nil {
			return fmt.Errorf("kafka flags: %w", err)
		}
		p.kafka = o
		return nil
	}
	o := &kinesis.Options{Stream: a.kinesisStream, Endpoint: a.kinesisEndpoint, Region: a.kinesisRegion, Logger: logger}
	switch strings.ToLower(strings.ReplaceAll(a.kinesisStart, "-", "_")) {
	case "trim_horizon", "":
		o.StartPosition = kinesis.StartTrimHorizon
	case "latest":
		o.StartPosition = kinesis.StartLatest
	default:
		t, err := time.Parse(time.RFC3339Nano, a.kinesisStart)
		if err != nil {
			return fmt.Errorf("--kinesis-start %q: want trim_horizon, latest or an RFC 3339 time (2026-12-06T12:00:00Z)", a.kinesisStart)
		}
		o.StartPosition, o.StartTimestamp = kinesis.StartAtTimestamp, t
	}
	if err := checkRouted(p.opts.Routes, []string{a.kinesisStream}); err != nil {
		return err
	}
	v := *o
	v.EnsureDefaults()
	if err := v.Validate(); err != nil {
		return fmt.Errorf("kinesis flags: %w", err)
	}
	p.kinesis = o
	return nil
}

// checkRouted refuses named topics (or a Kinesis stream) that no route
// matches: their messages would all be refused.
func checkRouted(routes []stream.Route, topics []string) error {
	if len(routes) == 0 {
		return nil
	}
	for _, t := range topics {
		matched := false
		for _, r := range routes {
			if regexp.MustCompile("^(?:" + r.TopicRegex + ")$").MatchString(t) { // compiled by parseRoute
				matched = true
				break
			}
		}
		if !matched {
			return fmt.Errorf("topic %q matches no --route (a route's REGEX must match the whole name)", t)
		}
	}
	return nil
}

// commitOptions resolves the commit, memory, writer and service flags.
func (a *streamArgs) commitOptions(p *streamPlan) error {
	if a.commitInterval <= 0 || a.commitRecords <= 0 || a.commitBytes <= 0 {
		return fmt.Errorf("--commit-interval, --commit-records and --commit-bytes must be positive")
	}
	if a.maxOpenTables <= 0 || a.maxBuffer <= 0 {
		return fmt.Errorf("--max-open-tables and --max-buffer-bytes must be positive")
	}
	if a.compactN < 0 {
		return fmt.Errorf("--compact-every must not be negative")
	}
	o := &p.opts
	o.CommitInterval, o.CommitRecords, o.CommitBytes = a.commitInterval, a.commitRecords, int64(a.commitBytes)
	o.MaxOpenTables, o.MaxBufferBytes = a.maxOpenTables, int64(a.maxBuffer)
	o.OnTruncate = stream.TruncateAction(a.onTruncate)
	o.Strict, o.NoArchive = a.strict, a.noArchive
	o.Writer = a.formats.apply(writer.Options{IndexDir: a.indexDir, Concurrency: writer.Optimistic, IndexMemory: int64(a.indexMemory)})
	if err := o.Writer.Validate(); err != nil {
		return err
	}
	if a.compactN > 0 || a.clean {
		o.Services = stream.Services{Every: a.compactN, Compact: a.compactN > 0, Clean: a.clean}
		if o.Services.Every == 0 {
			o.Services.Every = defaultServiceEvery
		}
	}
	return nil
}

// newLogger returns the structured logger of --log-format and --log-level.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	ho := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// openErrorSink opens the --errors output.
func (g *globalFlags) openErrorSink(ctx context.Context, p *streamPlan) (stream.ErrorSink, error) {
	to := p.errorsTo
	switch {
	case p.deadTopic != "":
		k := p.kafka
		dl, err := kafka.NewDeadLetter(kafka.DeadLetterOptions{Brokers: k.Brokers, Topic: p.deadTopic, ClientID: k.ClientID,
			TLS: k.TLS, SASL: k.SASL, Logger: k.Logger})
		if err != nil {
			return nil, fmt.Errorf("--errors kafka:%s: %w", p.deadTopic, err)
		}
		return dl, nil
	case to == "":
		return &lazyErrorFile{path: "hoodie-stream-" + time.Now().UTC().Format("20060102-150405") + ".errors.jsonl"}, nil
	case strings.Contains(to, "://"):
		st, err := storage.Open(ctx, to, g.storageOptions())
		if err != nil {
			return nil, fmt.Errorf("--errors %s: %w", to, err)
		}
		return stream.NewStorageErrorSink(st, ""), nil
	}
	s, err := stream.NewFileErrorSink(to)
	if err != nil {
		return nil, fmt.Errorf("--errors: %w", err)
	}
	return s, nil
}

// lazyErrorFile is the default error output: a file created on the first
// bad message.
type lazyErrorFile struct {
	path string
	mu   sync.Mutex
	sink stream.ErrorSink
}

func (l *lazyErrorFile) Write(ctx context.Context, recs []stream.ErrorRecord) error {
	if len(recs) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sink == nil {
		s, err := stream.NewFileErrorSink(l.path)
		if err != nil {
			return err
		}
		l.sink = s
	}
	return l.sink.Write(ctx, recs)
}

func (l *lazyErrorFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sink == nil {
		return nil
	}
	return l.sink.Close()
}

// signalExit is the error of a run aborted by a second signal.
func signalExit(sig os.Signal) error {
	code := 1
	if s, ok := sig.(syscall.Signal); ok {
		code = 128 + int(s)
	}
	return &exitError{code: code, err: fmt.Errorf("stream: aborted by a second %v: commits in flight rolled back; what was buffered is read again by the next run", sig)}
}

// watchSignals stops the stream at the first signal of sigs (stop: stop
// fetching, commit what is buffered) and aborts it at the second (abort).
// It returns a function that ends the watch and reports the signal that
// aborted, if any.
func watchSignals(sigs <-chan os.Signal, logger *slog.Logger, stop, abort func()) func() os.Signal {
	done := make(chan struct{})
	var mu sync.Mutex
	var aborted os.Signal
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n := 0
		for {
			select {
			case <-done:
				return
			case sig := <-sigs:
				n++
				if n == 1 {
					logger.Info("stream: stopping: committing what is buffered (signal again to abort)", "signal", sig.String())
					stop()
					continue
				}
				logger.Warn("stream: aborting: rolling back the commits in flight", "signal", sig.String())
				mu.Lock()
				aborted = sig
				mu.Unlock()
				abort()
				return
			}
		}
	}()
	return func() os.Signal {
		close(done)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return aborted
	}
}

func runStream(cmd *cobra.Command, g *globalFlags, a *streamArgs) error {
	stderr := cmd.ErrOrStderr()
	p, err := a.plan(cmd.Flags().Changed, stderr)
	if err != nil {
		return err
	}
	// The first signal cancels ctx (main's NotifyContext, and stop below);
	// Run then commits what it buffered and returns nil.
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	logger := p.logger
	if p.createErr != nil {
		logger.Info("stream: no create flags: the table must exist", "table", a.location, "reason", p.createErr.Error())
	}

	if a.location != "" {
		// The event-time flags must agree with an existing table's.
		st, err := g.openStorage(ctx, a.location)
		if err != nil {
			return err
		}
		if err := a.timestamp.reconcile(ctx, st); err != nil {
			return err
		}
	}
	var src stream.Source
	if p.kafka != nil {
		src, err = kafka.New(*p.kafka)
	} else {
		src, err = kinesis.New(ctx, *p.kinesis)
	}
	if err != nil {
		return err
	}
	sink, err := g.openErrorSink(ctx, p)
	if err != nil {
		src.Close()
		return err
	}
	defer func() {
		if err := sink.Close(); err != nil {
			logger.Warn("stream: closing the error output", "err", err)
		}
	}()
	opts := p.opts
	opts.Source, opts.ErrorSink, opts.Logger = src, sink, logger
	opts.Open = func(ctx context.Context, location string) (storage.Storage, error) {
		return storage.Open(ctx, location, g.storageOptions())
	}
	var m *stream.Metrics
	if a.metricsAddr != "" {
		m = stream.NewMetrics()
		opts.Metrics = m
	}
	svc, err := stream.New(opts)
	if err != nil {
		src.Close()
		return err
	}
	if m != nil {
		// The endpoint outlives ctx: it answers while the buffers drain.
		sctx, stopServe := context.WithCancel(context.Background())
		defer stopServe()
		addr, err := stream.Serve(sctx, a.metricsAddr, m, svc.Health)
		if err != nil {
			src.Close()
			return err
		}
		fmt.Fprintf(stderr, "hoodie: metrics on http://%s/metrics, health on http://%s/healthz\n", addr, addr)
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	endWatch := watchSignals(sigs, logger, cancel, svc.Abort)
	runErr := svc.Run(ctx)
	if sig := endWatch(); sig != nil {
		return signalExit(sig)
	}
	switch {
	case runErr == nil:
		return printStreamStats(cmd, g, svc.Stats())
	case errors.Is(runErr, stream.ErrBadMessage):
		return &exitError{code: exitRejected, err: runErr}
	case errors.Is(runErr, table.ErrNotHudiTable) && p.createErr != nil:
		return fmt.Errorf("%w (the table does not exist; give the create flags to create it: %w)", runErr, p.createErr)
	}
	return runErr
}

// printStreamStats writes what a stopped stream did, per table: --output
// json, or text.
func printStreamStats(cmd *cobra.Command, g *globalFlags, st stream.Stats) error {
	out := cmd.OutOrStdout()
	locs := make([]string, 0, len(st.Tables))
	for loc := range st.Tables {
		locs = append(locs, loc)
	}
	sort.Strings(locs)
	if g.output == "json" {
		type tableOut struct {
			Location    string  `json:"location"`
			Records     int64   `json:"records"`
			Commits     int64   `json:"commits"`
			LastInstant *string `json:"last_instant"`
		}
		tables := []tableOut{}
		for _, loc := range locs {
			t := st.Tables[loc]
			o := tableOut{Location: loc, Records: t.Records, Commits: t.Commits}
			if t.LastInstant != "" {
				o.LastInstant = &t.LastInstant
			}
			tables = append(tables, o)
		}
		return printJSON(out, map[string]any{"tables": tables})
	}
	var records, commits int64
	for _, loc := range locs {
		records += st.Tables[loc].Records
		commits += st.Tables[loc].Commits
	}
	fmt.Fprintf(out, "stream stopped: %d records in %d commits to %d tables\n", records, commits, len(locs))
	for _, loc := range locs {
		t := st.Tables[loc]
		fmt.Fprintf(out, "  %s: %d records, %d commits, last %s\n", loc, t.Records, t.Commits, orDash(t.LastInstant))
	}
	return nil
}
