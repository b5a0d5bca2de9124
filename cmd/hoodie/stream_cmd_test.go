package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/stream"
	"github.com/hoodie-lake/hoodie/stream/kafka"
	"github.com/hoodie-lake/hoodie/stream/kinesis"
	"github.com/hoodie-lake/hoodie/stream/payload"
	"github.com/hoodie-lake/hoodie/writer"
)

// planStream parses args as `hoodie stream` flags and resolves them
// without running anything.
func planStream(t *testing.T, args ...string) (*streamPlan, error) {
	t.Helper()
	a := &streamArgs{}
	cmd := newStreamCmdFor(&globalFlags{}, a)
	require.NoError(t, cmd.ParseFlags(args))
	return a.plan(cmd.Flags().Changed, io.Discard)
}

func TestStreamFlagValidation(t *testing.T) {
	dir := t.TempDir()
	avsc := filepath.Join(dir, "e.avsc")
	require.NoError(t, os.WriteFile(avsc, []byte(`{"type":"record","name":"e","fields":[{"name":"id","type":"string"}]}`), 0o644))
	k := []string{"--kafka-brokers", "127.0.0.1:1", "--group", "g"}
	tbl := []string{"--table", filepath.Join(dir, "t"), "--key", "id", "--precombine", "ts"}
	with := func(parts ...[]string) []string {
		out := []string{"stream"}
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{with(tbl), "no source"},
		{with(tbl, k, []string{"--topic", "e", "--kinesis-stream", "s"}), "exclude each other"},
		{with(tbl, []string{"--kafka-brokers", "h:1", "--topic", "e"}), "--group is required"},
		{with(tbl, k), "--topic NAME (or --topic-regex) is required"},
		{with(tbl, k, []string{"--topic", "e", "--topic-regex", "e.*"}), "--topic and --topic-regex exclude each other"},
		{with(tbl, k, []string{"--topic", "e", "--kinesis-endpoint", "http://127.0.0.1:4567"}), "--kinesis-endpoint is a Kinesis flag"},
		{with(tbl, []string{"--kinesis-stream", "s", "--group", "g"}), "--group is a Kafka flag"},
		{with(tbl, []string{"--kinesis-stream", "s", "--kinesis-start", "yesterday"}), "--kinesis-start \"yesterday\""},
		{with(tbl, []string{"--kinesis-stream", "s", "--kinesis-endpoint", "127.0.0.1:4567"}), "endpoint"},
		{with(k, []string{"--topic", "e"}), "no destination"},
		{with(tbl, k, []string{"--topic", "e", "--route", "e=/x/{topic}"}), "--table and --route exclude each other"},
		{with(k, []string{"--route", "noequals", "--format", "debezium"}), "want REGEX=LOCATION_TEMPLATE"},
		{with(k, []string{"--route", "a(=/x/{topic}", "--format", "debezium"}), "error parsing regexp"},
		{with(k, []string{"--route", "db\\..*=/x/{bogus}", "--format", "debezium", "--topic", "db.t"}), "unknown placeholder"},
		{with(k, []string{"--route", "db\\..*=/x/{table}", "--format", "debezium", "--topic", "other"}), "matches no --route"},
		{with(k, []string{"--route", "db\\..*=/x/{table}", "--format", "debezium", "--name", "n"}), "--name names one table"},
		{with(k, []string{"--route", "db\\..*=/x/{table}", "--key", "id"}), "creates tables only with both --key and --precombine"},
		{with(tbl, k, []string{"--topic", "e", "--format", "xml"}), "--format \"xml\""},
		{with(tbl, k, []string{"--topic", "e", "--format", "avro"}), "needs --avro-schema"},
		{with(tbl, k, []string{"--topic", "e", "--avro-schema", avsc}), "--avro-schema is for --format avro"},
		{with(tbl, k, []string{"--topic", "e", "--format", "avro", "--avro-schema", filepath.Join(dir, "missing.avsc")}), "--avro-schema"},
		{with(tbl, k, []string{"--topic", "e", "--format", "avro", "--avro-schema", avsc, "--confluent"}), "needs --schema-id"},
		{with(tbl, k, []string{"--topic", "e", "--schema-id", "3"}), "--schema-id needs --confluent"},
		{with(tbl, k, []string{"--topic", "e", "--soft-deletes"}), "--soft-deletes is for --format debezium"},
		{with(tbl, k, []string{"--topic", "e", "--format", "debezium", "--order", "lsn"}), "--order \"lsn\""},
		{with(tbl, k, []string{"--topic", "e", "--format", "debezium", "--on-truncate", "ignore"}), "--on-truncate \"ignore\""},
		{with(tbl, k, []string{"--topic", "e", "--payload", "latest"}), "--payload latest"},
		{with(tbl, k, []string{"--topic", "e", "--commit-interval", "0s"}), "must be positive"},
		{with(tbl, k, []string{"--topic", "e", "--commit-records", "-1"}), "must be positive"},
		{with(tbl, k, []string{"--topic", "e", "--commit-bytes", "lots"}), "want a size"},
		{with(tbl, k, []string{"--topic", "e", "--max-open-tables", "0"}), "must be positive"},
		{with(tbl, k, []string{"--topic", "e", "--compact-every", "-2"}), "--compact-every must not be negative"},
		{with(tbl, k, []string{"--topic", "e", "--index-ttl", "-1h"}), "IndexTTL"},
		{with(tbl, k, []string{"--topic", "e", "--start-offset", "middle"}), "--start-offset \"middle\""},
		{with(tbl, k, []string{"--topic", "e", "--kafka-tls-ca", "ca.pem"}), "without enabling TLS"},
		{with(tbl, k, []string{"--topic", "e", "--kafka-sasl-mechanism", "GSSAPI", "--kafka-sasl-user", "u"}), "SASL mechanism"},
		{with(tbl, k, []string{"--topic", "e", "--kafka-sasl-mechanism", "PLAIN"}), "needs a user"},
		{with(tbl, []string{"--kinesis-stream", "s", "--errors", "kafka:dlq"}), "needs a Kafka source"},
		{with(tbl, k, []string{"--topic", "e", "--errors", "kafka:"}), "no topic"},
		{with(tbl, k, []string{"--topic", "e", "--strict", "--errors", "bad.jsonl"}), "--strict and --errors exclude each other"},
		{with(tbl, k, []string{"--topic", "e", "--log-format", "xml"}), "--log-format"},
		{with(tbl, k, []string{"--topic", "e", "--log-level", "loud"}), "--log-level"},
		{with(tbl, k, []string{"--topic", "e", "--type", "merge"}), "--type \"merge\""},
		{with(tbl, k, []string{"--topic", "e", "extra-arg"}), "unknown command"},
		{with(tbl, k, []string{"--topic", "e", "--timezone", "UTC"}), "--timezone needs --timestamp-type"},
		{with(tbl, k, []string{"--topic", "e", "--timestamp-type", "EPOCHMILLISECONDS"}), "exactly one --partition field"},
	} {
		_, err := run(t, c.args...)
		if assert.Error(t, err, "%v", c.args) {
			assert.Contains(t, err.Error(), c.want, "%v", c.args)
			assert.NotZero(t, processExitCode(err))
		}
	}
}

func TestStreamPlanKafkaTable(t *testing.T) {
	loc := filepath.Join(t.TempDir(), "events")
	p, err := planStream(t, "--table", loc, "--key", "uuid", "--precombine", "ts", "--partition", "dt", "--hive-style", "--type", "mor",
		"--kafka-brokers", "b1:9092,b2:9092", "--topic", "events", "--topic", "more", "--group", "g1", "--start-offset", "latest",
		"--commit-interval", "5s", "--commit-records", "1000", "--commit-bytes", "8MiB", "--max-buffer-bytes", "1GB",
		"--index-dir", "/var/idx", "--index-ttl", "72h", "--compact-every", "4", "--clean", "--errors", "kafka:dlq",
		"--kafka-tls", "--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-user", "u", "--kafka-sasl-password", "pw")
	require.NoError(t, err)
	o := p.opts
	require.Equal(t, loc, o.Table.Location)
	require.NotNil(t, o.Table.Create)
	require.Equal(t, "events", o.Table.Create.Name)
	require.Equal(t, []string{"uuid"}, o.Table.Create.RecordKeyFields)
	require.Equal(t, []string{"dt"}, o.Table.Create.PartitionFields)
	require.True(t, o.Table.Create.HiveStylePartitioning)
	require.Equal(t, payload.JSON, o.Table.Payload.Format)
	require.Empty(t, o.Routes)
	require.Equal(t, 5*time.Second, o.CommitInterval)
	require.Equal(t, 1000, o.CommitRecords)
	require.Equal(t, int64(8<<20), o.CommitBytes)
	require.Equal(t, int64(1e9), o.MaxBufferBytes)
	require.Equal(t, "/var/idx", o.Writer.IndexDir)
	require.Equal(t, 72*time.Hour, o.Writer.IndexTTL)
	require.Equal(t, writer.Optimistic, o.Writer.Concurrency)
	require.Equal(t, stream.Services{Every: 4, Compact: true, Clean: true}, o.Services)
	require.Equal(t, stream.TruncateFail, o.OnTruncate)
	require.NotNil(t, p.kafka)
	require.Nil(t, p.kinesis)
	require.Equal(t, []string{"b1:9092", "b2:9092"}, p.kafka.Brokers)
	require.Equal(t, []string{"events", "more"}, p.kafka.Topics)
	require.Equal(t, "g1", p.kafka.Group)
	require.Equal(t, kafka.StartLatest, p.kafka.StartOffset)
	require.True(t, p.kafka.TLS.Enable)
	require.Equal(t, kafka.SASL{Mechanism: kafka.SASLScramSHA512, User: "u", Password: "pw"}, p.kafka.SASL)
	require.Equal(t, "dlq", p.deadTopic)

	// Without the create flags the table must exist; the reason is kept.
	p, err = planStream(t, "--table", loc, "--kafka-brokers", "b:9092", "--topic", "events", "--group", "g")
	require.NoError(t, err)
	require.Nil(t, p.opts.Table.Create)
	require.ErrorContains(t, p.createErr, "--key is required")
	require.Equal(t, stream.Services{}, p.opts.Services)

	// Partition from event time.
	p, err = planStream(t, "--table", loc, "--key", "id", "--precombine", "ts", "--partition", "ts", "--timestamp-type", "EPOCHMILLISECONDS",
		"--output-dateformat", "yyyy/MM/dd", "--kafka-brokers", "b:9092", "--topic", "e", "--group", "g")
	require.NoError(t, err)
	require.Equal(t, "EPOCHMILLISECONDS", p.opts.Table.Create.Timestamp.Type)
	require.Equal(t, "yyyy/MM/dd", p.opts.Table.Create.Timestamp.OutputDateFormat)

	// Debezium: the key from the messages, the ordering from the position.
	p, err = planStream(t, "--table", loc, "--format", "debezium", "--kafka-brokers", "b:9092", "--topic", "db.inv.t", "--group", "g")
	require.NoError(t, err)
	require.NotNil(t, p.opts.Table.Create)
	require.Nil(t, p.opts.Table.Create.RecordKeyFields)
	require.Equal(t, payload.PosField, p.opts.Table.Create.PrecombineField)

	// Password from the environment.
	t.Setenv(envKafkaPassword, "secret")
	p, err = planStream(t, "--table", loc, "--kafka-brokers", "b:9092", "--topic", "events", "--group", "g",
		"--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-user", "u")
	require.NoError(t, err)
	require.Equal(t, "secret", p.kafka.SASL.Password)
}

func TestStreamPlanDebeziumRoutes(t *testing.T) {
	p, err := planStream(t, "--route", `dbserver1\.inventory\..*=s3://b/lake/{db}/{table}`, "--route", `other\..*=/lake/{topic}`,
		"--format", "debezium", "--type", "mor", "--soft-deletes", "--on-truncate", "delete-all",
		"--kafka-brokers", "b:9092", "--group", "cdc", "--max-open-tables", "200", "--clean")
	require.NoError(t, err)
	o := p.opts
	require.Empty(t, o.Table.Location)
	require.Len(t, o.Routes, 2)
	r := o.Routes[0]
	require.Equal(t, `dbserver1\.inventory\..*`, r.TopicRegex)
	require.Equal(t, "s3://b/lake/{db}/{table}", r.LocationTemplate)
	require.Equal(t, payload.Debezium, r.Payload.Format)
	require.True(t, r.Payload.SoftDeletes)
	require.NotNil(t, r.Create)
	require.Empty(t, r.Create.Name, "from {table}")
	require.Empty(t, r.Create.Database, "from {db}")
	require.Nil(t, r.Create.RecordKeyFields, "from the Debezium key")
	require.Equal(t, payload.PosField, r.Create.PrecombineField)
	require.Equal(t, stream.TruncateDeleteAll, o.OnTruncate)
	require.Equal(t, 200, o.MaxOpenTables)
	require.Equal(t, stream.Services{Every: defaultServiceEvery, Clean: true}, o.Services)
	ts, err := planStream(t, "--route", `db\..*=/lake/{table}`, "--format", "debezium", "--partition", "created", "--timestamp-type", "UNIX_TIMESTAMP",
		"--kafka-brokers", "b:9092", "--group", "g")
	require.NoError(t, err)
	require.Equal(t, "UNIX_TIMESTAMP", ts.opts.Routes[0].Create.Timestamp.Type)
	// The topics are those the routes match.
	require.Empty(t, p.kafka.Topics)
	re := regexp.MustCompile("^(?:" + p.kafka.TopicRegex + ")$")
	require.True(t, re.MatchString("dbserver1.inventory.orders"))
	require.True(t, re.MatchString("other.x"))
	require.False(t, re.MatchString("dbserver1.other.orders"))

	// JSON routes without key and ordering: the tables must exist.
	p, err = planStream(t, "--route", `ev\..*=/lake/{topic}`, "--kafka-brokers", "b:9092", "--group", "g")
	require.NoError(t, err)
	require.Nil(t, p.opts.Routes[0].Create)
	p, err = planStream(t, "--route", `ev\..*=/lake/{topic}`, "--kafka-brokers", "b:9092", "--group", "g", "--key", "id", "--precombine", "ts")
	require.NoError(t, err)
	require.Equal(t, []string{"id"}, p.opts.Routes[0].Create.RecordKeyFields)
}

func TestStreamPlanKinesis(t *testing.T) {
	loc := filepath.Join(t.TempDir(), "events")
	p, err := planStream(t, "--table", loc, "--key", "id", "--precombine", "ts",
		"--kinesis-stream", "events", "--kinesis-endpoint", "http://127.0.0.1:4567", "--kinesis-start", "latest",
		"--errors", "s3://bucket/errors", "--metrics-addr", "127.0.0.1:0")
	require.NoError(t, err)
	require.Nil(t, p.kafka)
	require.Equal(t, "events", p.kinesis.Stream)
	require.Equal(t, "http://127.0.0.1:4567", p.kinesis.Endpoint)
	require.Equal(t, kinesis.StartLatest, p.kinesis.StartPosition)
	require.Equal(t, "s3://bucket/errors", p.errorsTo)

	p, err = planStream(t, "--table", loc, "--kinesis-stream", "events", "--kinesis-start", "2026-12-06T12:00:00Z")
	require.NoError(t, err)
	require.Equal(t, kinesis.StartAtTimestamp, p.kinesis.StartPosition)
	require.Equal(t, time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), p.kinesis.StartTimestamp)
	p, err = planStream(t, "--table", loc, "--kinesis-stream", "events")
	require.NoError(t, err)
	require.Equal(t, kinesis.StartTrimHorizon, p.kinesis.StartPosition)
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1048576": 1 << 20, "64MiB": 64 << 20, "64M": 64 << 20, "500MB": 500e6,
		"1.5GiB": 3 << 29, "2kb": 2000, "7 KiB": 7 << 10, "10B": 10} {
		got, err := parseByteSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "MB", "-1", "1TB", "1.2.3", "9e30"} {
		_, err := parseByteSize(in)
		require.Error(t, err, in)
	}
}

func TestStreamWatchSignals(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	// One signal: stop, no abort.
	sigs := make(chan os.Signal, 2)
	var stops, aborts atomic.Int32
	end := watchSignals(sigs, logger, func() { stops.Add(1) }, func() { aborts.Add(1) })
	sigs <- syscall.SIGTERM
	require.Eventually(t, func() bool { return stops.Load() == 1 }, 5*time.Second, time.Millisecond)
	require.Nil(t, end())
	require.Zero(t, aborts.Load())

	// Two: stop, then abort; the exit status is 128 + the signal.
	sigs = make(chan os.Signal, 2)
	stops.Store(0)
	end = watchSignals(sigs, logger, func() { stops.Add(1) }, func() { aborts.Add(1) })
	sigs <- syscall.SIGINT
	sigs <- syscall.SIGTERM
	require.Eventually(t, func() bool { return aborts.Load() == 1 }, 5*time.Second, time.Millisecond)
	sig := end()
	require.Equal(t, syscall.SIGTERM, sig)
	require.Equal(t, int32(1), stops.Load())
	err := signalExit(sig)
	require.Equal(t, 128+int(syscall.SIGTERM), processExitCode(err))

	// None: the watch ends cleanly.
	end = watchSignals(make(chan os.Signal), logger, func() {}, func() {})
	require.Nil(t, end())
}

func TestStreamLazyErrorFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.jsonl")
	l := &lazyErrorFile{path: path}
	require.NoError(t, l.Write(context.Background(), nil))
	require.NoFileExists(t, path, "created only when needed")
	require.NoError(t, l.Write(context.Background(), []stream.ErrorRecord{{Unit: "t/0", Position: "5", Reason: "bad"}}))
	require.NoError(t, l.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(b), `"position":"5"`)
	require.NoError(t, (&lazyErrorFile{path: path}).Close())
}

func TestIndexTTLFlag(t *testing.T) {
	for _, verb := range []string{"ingest", "cdc", "stream"} {
		var out bytes.Buffer
		root := newRootCmd(&out, &out)
		c, _, err := root.Find([]string{verb})
		require.NoError(t, err)
		require.NotNil(t, c.Flags().Lookup("index-ttl"), verb)
		require.NotNil(t, c.Flags().Lookup("index-dir"), verb)
	}
	a := &ingestArgs{}
	a.formats.indexTTL = 90 * time.Minute
	a.op = "upsert"
	a.location = t.TempDir()
	opts, _, err := a.options([]string{"x.jsonl"})
	require.NoError(t, err)
	require.Equal(t, 90*time.Minute, opts.Writer.IndexTTL)
	c := &cdcArgs{order: "auto", onTruncate: "fail", onMessage: "skip", location: t.TempDir()}
	c.formats.indexTTL = time.Hour
	copts, _, err := c.options([]string{"x.jsonl"})
	require.NoError(t, err)
	require.Equal(t, time.Hour, copts.Writer.IndexTTL)
}

func TestStreamHelp(t *testing.T) {
	out, err := run(t, "stream", "--help")
	require.NoError(t, err)
	for _, f := range []string{"--table", "--route", "--kafka-brokers", "--topic", "--group", "--kinesis-stream", "--kinesis-endpoint",
		"--commit-interval", "--commit-records", "--commit-bytes", "--format", "--avro-schema", "--confluent", "--max-open-tables",
		"--max-buffer-bytes", "--errors", "--strict", "--metrics-addr", "--index-dir", "--index-ttl", "--compact-every", "--clean",
		"--start-offset", "--kinesis-start", "--log-format", "--log-level", "--key", "--precombine", "--partition", "--hive-style", "--type"} {
		assert.True(t, strings.Contains(out, f+" "), f)
	}
}
