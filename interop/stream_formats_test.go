package interop_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hamba/avro/v2"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hoodie-lake/hoodie/internal/testbroker"
	"github.com/hoodie-lake/hoodie/internal/testutil/s3server"
	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/stream"
	"github.com/hoodie-lake/hoodie/stream/kafka"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// formatsSchema is the Avro writer schema of the Avro case: a string key,
// a long event time, a nullable string, a double, a boolean, a date, a
// timestamp-millis, an enum and an array of strings.
const formatsSchema = `{
  "type": "record", "name": "Event", "namespace": "hoodie.formats",
  "fields": [
    {"name": "uuid", "type": "string"},
    {"name": "ts", "type": "long"},
    {"name": "note", "type": ["null", "string"], "default": null},
    {"name": "amount", "type": "double"},
    {"name": "flag", "type": "boolean"},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "color", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN", "BLUE"]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "v", "type": "long"}
  ]
}`

// simpleSchema is the Avro schema of the Confluent case: the columns
// requireStreamTable reads.
const simpleSchema = `{
  "type": "record", "name": "Simple", "namespace": "hoodie.formats",
  "fields": [
    {"name": "uuid", "type": "string"},
    {"name": "ts", "type": "long"},
    {"name": "region", "type": "string"},
    {"name": "v", "type": "long"},
    {"name": "note", "type": ["null", "string"], "default": null}
  ]
}`

type avroEvent struct {
	UUID   string    `avro:"uuid"`
	TS     int64     `avro:"ts"`
	Note   *string   `avro:"note"`
	Amount float64   `avro:"amount"`
	Flag   bool      `avro:"flag"`
	Day    time.Time `avro:"day"`
	At     time.Time `avro:"at"`
	Color  string    `avro:"color"`
	Tags   []string  `avro:"tags"`
	V      int64     `avro:"v"`
}

type simpleEvent struct {
	UUID   string  `avro:"uuid"`
	TS     int64   `avro:"ts"`
	Region string  `avro:"region"`
	V      int64   `avro:"v"`
	Note   *string `avro:"note"`
}

var formatsDay0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// newAvroEvent derives every field from the key's number and v; the
// color (the partition) is the key's, never changes.
func newAvroEvent(k int, ts, v int64) avroEvent {
	e := avroEvent{UUID: fmt.Sprintf("a-%04d-ü", k), TS: ts, Amount: float64(v)*1.5 - 0.25, Flag: v%2 == 0,
		Day: formatsDay0.AddDate(0, 0, int(v%7)), At: time.UnixMilli(1_764_000_000_000 + v*1001).UTC(),
		Color: []string{"RED", "GREEN", "BLUE"}[k%3], V: v}
	if v%5 != 0 {
		n := fmt.Sprintf("note %d ☃", v)
		e.Note = &n
	}
	switch v % 4 {
	case 0: // empty array
		e.Tags = []string{}
	case 1:
		e.Tags = []string{"t" + strconv.FormatInt(v, 10)}
	default:
		e.Tags = []string{"x", "", "Grüße " + strconv.FormatInt(v, 10)}
	}
	return e
}

// canon renders a row as text: the model, hoodie's reader and hudi-rs
// must render the same.
func (e avroEvent) canon() string {
	note := "<null>"
	if e.Note != nil {
		note = *e.Note
	}
	tags, _ := json.Marshal(e.Tags)
	return fmt.Sprintf("ts=%d note=%s amount=%g flag=%t day=%s at=%d color=%s tags=%s v=%d",
		e.TS, note, e.Amount, e.Flag, e.Day.Format(time.DateOnly), e.At.UnixMilli(), e.Color, tags, e.V)
}

func marshalAvro(t *testing.T, sch avro.Schema, v any) []byte {
	t.Helper()
	b, err := avro.Marshal(sch, v)
	require.NoError(t, err)
	return b
}

func confluentFrame(id uint32, body []byte) []byte {
	return append(binary.BigEndian.AppendUint32([]byte{0}, id), body...)
}

// formatsProc returns a stream process logging to dir/name.log, killed at
// the end of the test if still running, its log tail printed on failure.
func formatsProc(t *testing.T, dir, name string, args ...string) *streamProc {
	t.Helper()
	lf, err := os.Create(filepath.Join(dir, name+".log"))
	require.NoError(t, err)
	p := &streamProc{t: t, log: lf, args: append([]string{"stream"}, args...)}
	t.Cleanup(func() {
		if p.cmd != nil && p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(lf.Name())
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("%s log tail:\n%s", name, b)
		}
		lf.Close()
	})
	return p
}

// produceAt produces recs (Partition set) and returns the end position of
// each unit and the position of each record.
func produceAt(t *testing.T, kb *testbroker.KafkaBroker, topic string, recs []*kgo.Record, end map[string]string) []string {
	t.Helper()
	kb.Produce(t, topic, recs...)
	pos := make([]string, len(recs))
	for i, r := range recs {
		unit := fmt.Sprintf("%s/%d", topic, r.Partition)
		pos[i] = unit + "@" + strconv.FormatInt(r.Offset, 10)
		if stream.ComparePositions(strconv.FormatInt(r.Offset+1, 10), end[unit]) > 0 {
			end[unit] = strconv.FormatInt(r.Offset+1, 10)
		}
	}
	return pos
}

// readErrorObjects reads the error records of a storage error output
// (one JSON Lines object per batch under the store's root).
func readErrorObjects(t *testing.T, st storage.Storage) []stream.ErrorRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []stream.ErrorRecord
	for obj, err := range st.List(ctx, "", "") {
		require.NoError(t, err)
		require.True(t, strings.HasSuffix(obj.Path, ".jsonl"), "error object %s", obj.Path)
		b, err := storage.ReadFile(ctx, st, obj.Path)
		require.NoError(t, err)
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var r stream.ErrorRecord
			require.NoError(t, json.Unmarshal(sc.Bytes(), &r), "%s: %s", obj.Path, sc.Text())
			out = append(out, r)
		}
		require.NoError(t, sc.Err())
	}
	return out
}

// startInEnv starts p as streamProc.start does, but with the test
// process's environment as it is (streamProc.start sets kinesalite's
// AWS credentials, which S3 would refuse).
func startInEnv(p *streamProc) {
	p.t.Helper()
	p.cmd = exec.Command(hoodieBinary(p.t), p.args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	require.NoError(p.t, p.cmd.Start())
	p.starts++
	p.at = time.Now()
	p.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) {
		p.err = c.Wait()
		close(done)
	}(p.cmd, p.done)
}

// TestStreamFormats runs `hoodie stream` against the real broker with the
// payload formats, error outputs, table services and strict mode that
// TestStreamKafkaKill does not cover.
func TestStreamFormats(t *testing.T) {
	kb := testbroker.Kafka(t)
	hoodieBinary(t)
	t.Run("Avro", func(t *testing.T) { testStreamAvro(t, kb) })
	t.Run("Confluent", func(t *testing.T) { testStreamConfluent(t, kb) })
	t.Run("DeadLetter", func(t *testing.T) { testStreamDeadLetter(t, kb) })
	t.Run("Services", func(t *testing.T) { testStreamServices(t, kb) })
	t.Run("Strict", func(t *testing.T) { testStreamStrict(t, kb) })
}

// testStreamAvro: Avro bodies written with a schema file (every common
// type, logical types, an enum and an array), updates and late events
// over two partitions, truncated bodies in the S3 error output (the local
// versitygw server); the table equals the model for hoodie's reader and
// hudi-rs.
func testStreamAvro(t *testing.T, kb *testbroker.KafkaBroker) {
	dir := t.TempDir()
	schemaFile := filepath.Join(dir, "event.avsc")
	require.NoError(t, os.WriteFile(schemaFile, []byte(formatsSchema), 0o644))
	sch, err := avro.Parse(formatsSchema)
	require.NoError(t, err)
	topic := kb.NewTopic(t, 2)
	base := filepath.Join(dir, "avro")
	// The S3 error output, on the local versitygw server. Its credentials
	// and endpoint go to the environment (s3server.Start); the test's
	// environment is restored afterwards.
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL_S3", "AWS_EC2_METADATA_DISABLED"} {
		t.Setenv(k, os.Getenv(k))
	}
	srv := s3server.Start(t)
	t.Cleanup(func() { require.NoError(t, s3server.Stop()) })
	errLoc := "s3://" + srv.NewBucket(t) + "/errors/avro"

	rng := rand.New(rand.NewSource(41))
	want := map[string]avroEvent{}
	var recs []*kgo.Record
	bad := map[int]bool{}
	for i := 0; i < 400; i++ {
		k := rng.Intn(120)
		ts := int64(1_000_000 + rng.Intn(1_000_000)) // updates and late events alike
		e := newAvroEvent(k, ts, int64(i))
		body := marshalAvro(t, sch, e)
		if i%97 == 13 { // truncated
			body = body[:len(body)/2]
			bad[len(recs)] = true
		} else if w, ok := want[e.UUID]; !ok || e.TS > w.TS {
			want[e.UUID] = e
		}
		recs = append(recs, &kgo.Record{Partition: partitionOf(e.UUID, 2), Key: []byte(e.UUID), Value: body})
	}
	end := map[string]string{}
	pos := produceAt(t, kb, topic, recs, end)

	p := formatsProc(t, dir, "avro", "--table", base, "--type", "cow", "--key", "uuid", "--precombine", "ts",
		"--partition", "color", "--hive-style", "--format", "avro", "--avro-schema", schemaFile,
		"--kafka-brokers", kb.Addr(), "--topic", topic, "--group", "formats-avro",
		"--commit-interval", "500ms", "--commit-records", "150", "--errors", errLoc,
		"--s3-endpoint", srv.Endpoint, "--s3-path-style")
	startInEnv(p)
	waitPositions(t, base, end, time.Minute)
	p.stop()

	ctx := context.Background()
	est, err := storage.Open(ctx, errLoc, srv.Options())
	require.NoError(t, err)
	errs := readErrorObjects(t, est)
	got := map[string]bool{}
	for _, r := range errs {
		require.Contains(t, r.Reason, "Avro body ends early", "reason of %s@%s", r.Unit, r.Position)
		require.Equal(t, base, r.Table)
		got[r.Unit+"@"+r.Position] = true
	}
	require.Len(t, errs, len(bad), "truncated bodies in the error output")
	for i := range bad {
		require.True(t, got[pos[i]], "truncated body at %s missing from the error output", pos[i])
	}

	// hoodie's reader.
	st, err := storage.NewLocal(base)
	require.NoError(t, err)
	tbl, err := table.Open(ctx, st)
	require.NoError(t, err)
	batches, err := reader.ReadAll(ctx, tbl, reader.Options{})
	require.NoError(t, err)
	ours := map[string]string{}
	for _, b := range batches {
		for i := 0; i < int(b.NumRows()); i++ {
			k, row := avroRowFromArrow(t, b, i)
			_, dup := ours[k]
			require.False(t, dup, "key %s stored twice", k)
			ours[k] = row
		}
		b.Release()
	}
	requireAvroModel(t, "hoodie's reader", want, ours)

	// hudi-rs.
	theirs := map[string]string{}
	for _, r := range hudiRS(t, base) {
		k, row := avroRowFromJSON(t, r)
		_, dup := theirs[k]
		require.False(t, dup, "hudi-rs: key %s twice", k)
		theirs[k] = row
	}
	requireAvroModel(t, "hudi-rs", want, theirs)
}

func requireAvroModel(t *testing.T, who string, want map[string]avroEvent, got map[string]string) {
	t.Helper()
	require.Len(t, got, len(want), "%s: rows", who)
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		require.Equal(t, want[k].canon(), got[k], "%s: row of %s", who, k)
	}
}

// avroRowFromArrow renders row i of a batch read by hoodie's reader.
func avroRowFromArrow(t *testing.T, b arrow.RecordBatch, i int) (string, string) {
	t.Helper()
	col := func(name string) arrow.Array {
		idx := b.Schema().FieldIndices(name)
		require.Len(t, idx, 1, "column %s", name)
		return b.Column(idx[0])
	}
	e := avroEvent{UUID: col("uuid").(*array.String).Value(i), TS: col("ts").(*array.Int64).Value(i),
		Amount: col("amount").(*array.Float64).Value(i), Flag: col("flag").(*array.Boolean).Value(i),
		Color: col("color").(*array.String).Value(i), V: col("v").(*array.Int64).Value(i)}
	if n := col("note").(*array.String); n.IsValid(i) {
		s := n.Value(i)
		e.Note = &s
	}
	day := col("day").(*array.Date32)
	e.Day = day.Value(i).ToTime()
	at := col("at").(*array.Timestamp)
	unit := at.DataType().(*arrow.TimestampType).Unit
	e.At = at.Value(i).ToTime(unit)
	tags := col("tags").(*array.List)
	require.True(t, tags.IsValid(i), "tags of %s is null", e.UUID)
	s, end := tags.ValueOffsets(i)
	vals := tags.ListValues().(*array.String)
	e.Tags = []string{}
	for j := s; j < end; j++ {
		e.Tags = append(e.Tags, vals.Value(int(j)))
	}
	return e.UUID, e.canon()
}

// avroRowFromJSON renders a row hudi-rs read (hudirs_read.py's JSON).
func avroRowFromJSON(t *testing.T, r map[string]any) (string, string) {
	t.Helper()
	num := func(name string) int64 {
		f, ok := r[name].(float64)
		require.True(t, ok, "hudi-rs %s: %v (%T)", name, r[name], r[name])
		return int64(f)
	}
	e := avroEvent{UUID: r["uuid"].(string), TS: num("ts"), V: num("v")}
	e.Amount, _ = r["amount"].(float64)
	e.Flag, _ = r["flag"].(bool)
	e.Color, _ = r["color"].(string)
	if n, ok := r["note"].(string); ok {
		e.Note = &n
	}
	day, err := time.Parse(time.DateOnly, fmt.Sprint(r["day"]))
	require.NoError(t, err, "hudi-rs day")
	e.Day = day
	atText := fmt.Sprint(r["at"])
	var at time.Time
	for _, layout := range []string{"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if at, err = time.Parse(layout, atText); err == nil {
			break
		}
	}
	require.NoError(t, err, "hudi-rs at %q", atText)
	e.At = at
	tags, ok := r["tags"].([]any)
	require.True(t, ok, "hudi-rs tags: %v (%T)", r["tags"], r["tags"])
	e.Tags = []string{}
	for _, x := range tags {
		e.Tags = append(e.Tags, x.(string))
	}
	return e.UUID, e.canon()
}

// testStreamConfluent: the Confluent wire format with --schema-id 7;
// messages framed with another schema id, or without the magic byte, go
// to the error output with a reason naming the id.
func testStreamConfluent(t *testing.T, kb *testbroker.KafkaBroker) {
	dir := t.TempDir()
	schemaFile := filepath.Join(dir, "simple.avsc")
	require.NoError(t, os.WriteFile(schemaFile, []byte(simpleSchema), 0o644))
	sch, err := avro.Parse(simpleSchema)
	require.NoError(t, err)
	topic := kb.NewTopic(t, 3)
	base := filepath.Join(dir, "confluent")
	errFile := filepath.Join(dir, "errors.jsonl")

	evs := streamModel(600, 51)
	var recs []*kgo.Record
	wrongID := map[int]bool{}
	noMagic := map[int]bool{}
	for i, e := range evs {
		id := uint32(7)
		var val []byte
		if e.malformed || i%50 == 7 {
			e.malformed = true // not in the model
			id = 8
		}
		body := marshalAvro(t, sch, simpleEvent{UUID: e.key, TS: e.ts, Region: e.region, V: e.v})
		val = confluentFrame(id, body)
		switch {
		case i == 301:
			e.malformed = true
			val = []byte{0, 0, 7} // a frame cut inside the header
			noMagic[len(recs)] = true
		case i%150 == 99:
			e.malformed = true
			val = body // plain body: no magic byte
			noMagic[len(recs)] = true
		case id != 7:
			wrongID[len(recs)] = true
		}
		recs = append(recs, &kgo.Record{Partition: e.partition(3), Key: []byte(e.key), Value: val})
	}
	end := map[string]string{}
	pos := produceAt(t, kb, topic, recs, end)

	p := formatsProc(t, dir, "confluent", "--table", base, "--type", "mor", "--key", "uuid", "--precombine", "ts",
		"--partition", "region", "--format", "avro", "--avro-schema", schemaFile, "--confluent", "--schema-id", "7",
		"--kafka-brokers", kb.Addr(), "--topic", topic, "--group", "formats-confluent",
		"--commit-interval", "500ms", "--commit-records", "200", "--errors", errFile)
	p.start()
	waitPositions(t, base, end, time.Minute)
	p.stop()
	requireStreamTable(t, base, expected(evs), false)

	fh, err := os.Open(errFile)
	require.NoError(t, err)
	defer fh.Close()
	reasons := map[string]string{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var r stream.ErrorRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		reasons[r.Unit+"@"+r.Position] = r.Reason
	}
	require.NoError(t, sc.Err())
	require.Len(t, reasons, len(wrongID)+len(noMagic))
	for i := range wrongID {
		require.Contains(t, reasons[pos[i]], "schema id 8", "wrong schema id at %s", pos[i])
	}
	for i := range noMagic {
		require.Regexp(t, `no magic byte|header of 3 bytes`, reasons[pos[i]], "a value not in the wire format at %s", pos[i])
	}
}

// testStreamDeadLetter: --errors kafka:TOPIC produces each malformed
// message's original key and value to the dead-letter topic with the
// reason, unit, position and table in hoodie.error.* headers.
func testStreamDeadLetter(t *testing.T, kb *testbroker.KafkaBroker) {
	dir := t.TempDir()
	topic := kb.NewTopic(t, 2)
	dlq := kb.NewTopic(t, 1)
	base := filepath.Join(dir, "dlq")
	evs := streamModel(500, 61)
	var recs []*kgo.Record
	for i, e := range evs {
		if i%40 == 3 {
			e.malformed = true
			e.key = fmt.Sprintf("bad-%d", i)
		}
		recs = append(recs, &kgo.Record{Partition: e.partition(2), Key: []byte(e.key), Value: e.payload()})
	}
	// A key that is not UTF-8 travels as is.
	recs[3].Key = []byte{0xff, 0xfe, 'k'}
	end := map[string]string{}
	pos := produceAt(t, kb, topic, recs, end)
	type orig struct{ key, value string }
	malformed := map[string]orig{}
	for i, e := range evs {
		if e.malformed {
			malformed[pos[i]] = orig{string(recs[i].Key), string(recs[i].Value)}
		}
	}

	p := formatsProc(t, dir, "dlq", "--table", base, "--type", "cow", "--key", "uuid", "--precombine", "ts",
		"--partition", "region", "--kafka-brokers", kb.Addr(), "--topic", topic, "--group", "formats-dlq",
		"--commit-interval", "500ms", "--errors", "kafka:"+dlq)
	p.start()
	waitPositions(t, base, end, time.Minute)
	p.stop()
	requireStreamTable(t, base, expected(evs), false)

	cl, err := kgo.NewClient(kgo.SeedBrokers(kb.Addr()), kgo.ConsumeTopics(dlq),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DialTimeout(5*time.Second))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := map[string]*kgo.Record{}
	for len(got) < len(malformed) && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			h := map[string]string{}
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			at := h[kafka.HeaderUnit] + "@" + h[kafka.HeaderPosition]
			require.Nil(t, got[at], "dead letter of %s twice", at)
			got[at] = r
		})
	}
	require.Len(t, got, len(malformed), "dead letters")
	for at, o := range malformed {
		r := got[at]
		require.NotNil(t, r, "no dead letter for %s", at)
		require.Equal(t, o.key, string(r.Key), "key of %s", at)
		require.Equal(t, o.value, string(r.Value), "value of %s", at)
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		require.NotEmpty(t, h[kafka.HeaderReason], "reason of %s", at)
		require.Equal(t, base, h[kafka.HeaderTable], "table of %s", at)
		u, p, _ := strings.Cut(at, "@")
		require.Equal(t, u, h[kafka.HeaderUnit])
		require.Equal(t, p, h[kafka.HeaderPosition])
	}
}

// testStreamServices: --compact-every 2 --clean on a merge-on-read table
// with many small commits and Hudi's metadata table (--metadata-table):
// compactions and a clean complete on the timeline while the stream runs
// (the in-process services and the commits write metadata deltacommits
// concurrently); SIGTERM exits 0, the table equals the model, and the
// metadata table lists exactly the committed files.
func testStreamServices(t *testing.T, kb *testbroker.KafkaBroker) {
	dir := t.TempDir()
	topic := kb.NewTopic(t, 1)
	base := filepath.Join(dir, "mor")
	p := formatsProc(t, dir, "services", "--table", base, "--type", "mor", "--key", "uuid", "--precombine", "ts",
		"--partition", "region", "--kafka-brokers", kb.Addr(), "--topic", topic, "--group", "formats-services",
		"--commit-interval", "200ms", "--commit-records", "10", "--compact-every", "2", "--clean", "--metadata-table",
		"--errors", filepath.Join(dir, "errors.jsonl"))
	p.start()
	ctx := context.Background()
	st, err := storage.NewLocal(base)
	require.NoError(t, err)
	regions := []string{"eu", "us"}
	var evs []*streamEvent
	end := map[string]string{}
	compactions, cleans := map[string]bool{}, map[string]bool{}
	look := func() {
		if _, err := os.Stat(filepath.Join(base, ".hoodie", "hoodie.properties")); err != nil {
			return
		}
		tl, err := timeline.Load(ctx, st)
		require.NoError(t, err)
		for _, i := range tl.Completed() {
			switch {
			case i.Action == timeline.Clean:
				cleans[i.Timestamp] = true
			case tl.IsCompaction(i.Timestamp):
				compactions[i.Timestamp] = true
			}
		}
	}
	deadline := time.Now().Add(50 * time.Second)
	for round := 0; (len(compactions) < 2 || len(cleans) == 0) && time.Now().Before(deadline); round++ {
		var recs []*kgo.Record
		for j := 0; j < 10; j++ {
			k := (round*7 + j) % 16 // updates of 16 keys, every file group many times
			e := &streamEvent{key: fmt.Sprintf("s-%02d", k), region: regions[k%2], ts: int64(round*100 + j), v: int64(len(evs))}
			evs = append(evs, e)
			recs = append(recs, &kgo.Record{Partition: 0, Key: []byte(e.key), Value: e.payload()})
		}
		produceAt(t, kb, topic, recs, end)
		waitPositions(t, base, end, 30*time.Second)
		look()
		p.requireRunning()
	}
	require.GreaterOrEqual(t, len(compactions), 2, "compactions completed while the stream ran")
	require.NotEmpty(t, cleans, "a clean completed while the stream ran")
	p.stop()
	requireStreamTable(t, base, expected(evs), false)
	tbl, err := table.Open(ctx, st)
	require.NoError(t, err)
	require.Equal(t, []string{"files"}, tbl.Config().MetadataPartitions)
	mm, err := metadata.Validate(ctx, tbl)
	require.NoError(t, err)
	require.Empty(t, mm, "the metadata table lists exactly the committed files")
	t.Logf("%d events, %d compactions and %d cleans seen", len(evs), len(compactions), len(cleans))
}

// testStreamStrict: --strict stops at a malformed JSON message with exit
// status 2; the commit before it stands and nothing after it is written.
func testStreamStrict(t *testing.T, kb *testbroker.KafkaBroker) {
	dir := t.TempDir()
	topic := kb.NewTopic(t, 1)
	base := filepath.Join(dir, "strict")
	evs := streamModel(300, 71)
	var good []*streamEvent
	var recs []*kgo.Record
	for _, e := range evs {
		if e.malformed {
			continue
		}
		good = append(good, e)
		recs = append(recs, &kgo.Record{Partition: 0, Key: []byte(e.key), Value: e.payload()})
	}
	end := map[string]string{}
	produceAt(t, kb, topic, recs[:200], end)
	p := formatsProc(t, dir, "strict", "--table", base, "--type", "cow", "--key", "uuid", "--precombine", "ts",
		"--partition", "region", "--kafka-brokers", kb.Addr(), "--topic", topic, "--group", "formats-strict",
		"--commit-interval", "300ms", "--strict")
	p.start()
	waitPositions(t, base, end, time.Minute)
	before := tablePositions(t, base)
	tlBefore := completedInstants(t, base)

	bad := &streamEvent{key: "bad-strict", malformed: true}
	after := append([]*kgo.Record{{Partition: 0, Key: []byte(bad.key), Value: bad.payload()}}, recs[200:]...)
	produceAt(t, kb, topic, after, map[string]string{})
	badAt := time.Now()
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatal("--strict: the stream did not stop at the bad message within a minute")
	}
	stopped := time.Now()
	var ee *exec.ExitError
	require.True(t, errors.As(p.err, &ee), "--strict: want exit status 2, got %v", p.err)
	require.Equal(t, 2, ee.ExitCode(), "--strict: exit status")
	log, err := os.ReadFile(p.log.Name())
	require.NoError(t, err)
	require.Contains(t, string(log), topic+"/0 position "+before[topic+"/0"], "the error names the bad message's position")
	// A bad message is no transient failure: retrying the commit (and
	// reopening the writer) cannot help and only delays the exit.
	retries := strings.Count(string(log), "commit failed; retrying")
	require.Zero(t, retries, "--strict: the bad message was retried %d times as a failed commit (stream/commit.go retryable does not stop at ErrBadMessage); exit %s after it was produced",
		retries, stopped.Sub(badAt).Round(time.Millisecond))

	require.Equal(t, before, tablePositions(t, base), "nothing committed after the bad message")
	require.Equal(t, tlBefore, completedInstants(t, base), "no instant after the bad message")
	requireStreamTable(t, base, expected(good[:200]), false)
}

func completedInstants(t *testing.T, base string) []string {
	t.Helper()
	st, err := storage.NewLocal(base)
	require.NoError(t, err)
	tl, err := timeline.Load(context.Background(), st)
	require.NoError(t, err)
	var out []string
	for _, i := range tl.Completed() {
		out = append(out, i.String())
	}
	return out
}
