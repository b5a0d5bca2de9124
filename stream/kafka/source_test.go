package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hoodie-lake/hoodie/internal/testbroker"
	"github.com/hoodie-lake/hoodie/stream"
	"github.com/hoodie-lake/hoodie/stream/kafka"
)

func TestMain(m *testing.M) { testbroker.Main(m) }

// positions is the simulated table: unit → next position, shared by the
// members of a group as a table's commit metadata is.
type positions struct {
	mu  sync.Mutex
	pos map[string]string
}

func newPositions() *positions { return &positions{pos: map[string]string{}} }

func (p *positions) get(units []string) map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]string{}
	for _, u := range units {
		if v, ok := p.pos[u]; ok {
			out[u] = v
		}
	}
	return out
}

func (p *positions) set(unit, next string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pos[unit] = next
}

// recorder is a stream.Handler that records what it is told and checks the
// Source's contract as it goes.
type recorder struct {
	table *positions
	// fixed, when set, is what Assigned returns instead of the table's
	// positions.
	fixed map[string]string
	// delay slows Messages down, so that a rebalance finds a backlog.
	delay time.Duration

	mu       sync.Mutex
	events   []string
	msgs     []stream.Message
	problems []string
	ticks    int
	owned    map[string]bool
	expect   map[string]string // unit → the next message's position ("" any)
	revoked  [][]string
}

func newRecorder(table *positions) *recorder {
	return &recorder{table: table, owned: map[string]bool{}, expect: map[string]string{}}
}

func (r *recorder) Assigned(_ context.Context, units []string) (map[string]string, error) {
	pos := r.table.get(units)
	if r.fixed != nil {
		pos = maps.Clone(r.fixed)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "assigned "+strings.Join(units, ","))
	for _, u := range units {
		if r.owned[u] {
			r.problems = append(r.problems, "assigned twice: "+u)
		}
		r.owned[u] = true
		r.expect[u] = pos[u]
	}
	return pos, nil
}

func (r *recorder) Revoked(ctx context.Context, units []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Err() != nil {
		r.problems = append(r.problems, "Revoked with a cancelled context")
	}
	r.events = append(r.events, "revoked "+strings.Join(units, ","))
	r.revoked = append(r.revoked, units)
	for _, u := range units {
		if !r.owned[u] {
			r.problems = append(r.problems, "revoked without owning: "+u)
		}
		delete(r.owned, u)
	}
	return nil
}

func (r *recorder) Messages(_ context.Context, msgs []stream.Message) error {
	time.Sleep(r.delay)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		if !r.owned[m.Unit] {
			r.problems = append(r.problems, "message of a unit not owned: "+m.Unit)
		}
		if want := r.expect[m.Unit]; want != "" && m.Position != want {
			r.problems = append(r.problems, fmt.Sprintf("%s: position %s, want %s", m.Unit, m.Position, want))
		}
		r.expect[m.Unit] = m.Next
		r.table.set(m.Unit, m.Next)
		r.msgs = append(r.msgs, m)
	}
	r.events = append(r.events, "messages")
	return nil
}

func (r *recorder) Tick(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ticks++
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func (r *recorder) messages() []stream.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

func (r *recorder) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Empty(t, r.problems)
}

// testOptions are a source's options for fast tests.
func testOptions(b *testbroker.KafkaBroker, group string, topics ...string) kafka.Options {
	return kafka.Options{
		Brokers:           []string{b.Addr()},
		Topics:            topics,
		Group:             group,
		SessionTimeout:    6 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		HeartbeatInterval: 200 * time.Millisecond,
		DialTimeout:       5 * time.Second,
		RequestTimeout:    15 * time.Second,
	}
}

// produce writes n records to each partition: key "k<p>-<i>", value
// "v<p>-<i>", a header "h" = "<i>".
func produce(t *testing.T, b *testbroker.KafkaBroker, topic string, partitions, from, n int) {
	t.Helper()
	var recs []*kgo.Record
	for p := range partitions {
		for i := from; i < from+n; i++ {
			recs = append(recs, &kgo.Record{
				Partition: int32(p),
				Key:       fmt.Appendf(nil, "k%d-%d", p, i),
				Value:     fmt.Appendf(nil, "v%d-%d", p, i),
				Headers:   []kgo.RecordHeader{{Key: "h", Value: []byte(strconv.Itoa(i))}},
			})
		}
	}
	b.Produce(t, topic, recs...)
}

// run starts src.Run in a goroutine; the returned func cancels it and
// returns Run's error.
func run(t *testing.T, src *kafka.Source, h stream.Handler) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, h) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = fmt.Errorf("Run did not return 30 s after its context ended")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop(); _ = src.Close() })
	return stop
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSourceReadsInOrder reads a 3-partition topic: every record once, in
// order per partition, with its fields; Lag and Commit; and ctx's end
// revokes every unit before Run returns nil.
func TestSourceReadsInOrder(t *testing.T) {
	b := testbroker.Kafka(t)
	topic := b.NewTopic(t, 3)
	const perPartition = 1000
	produce(t, b, topic, 3, 0, perPartition)

	src, err := kafka.New(testOptions(b, "g-"+topic, topic))
	require.NoError(t, err)
	rec := newRecorder(newPositions())
	stop := run(t, src, rec)
	waitFor(t, "every record", 30*time.Second, func() bool { return rec.count() >= 3*perPartition })

	units := []string{topic + "/0", topic + "/1", topic + "/2"}
	waitFor(t, "the lag", 5*time.Second, func() bool { return len(src.Lag()) == 3 })
	require.Equal(t, map[string]int64{units[0]: 0, units[1]: 0, units[2]: 0}, src.Lag())

	// Commit writes the group's offsets.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, src.Commit(ctx, map[string]string{units[0]: "1000", units[1]: "17", units[2]: ""}))
	offs, err := b.Client(t).FetchOffsets(ctx, "g-"+topic)
	require.NoError(t, err)
	got := map[string]int64{}
	offs.Each(func(o kadm.OffsetResponse) { got[kafka.Unit(o.Topic, o.Partition)] = o.At })
	require.Equal(t, map[string]int64{units[0]: 1000, units[1]: 17}, got)

	waitFor(t, "a tick", 5*time.Second, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.ticks > 0
	})
	require.NoError(t, stop())
	rec.check(t)

	msgs := rec.messages()
	require.Len(t, msgs, 3*perPartition)
	next := map[int32]int{}
	for _, m := range msgs {
		i := next[m.Partition]
		next[m.Partition]++
		require.Equal(t, topic, m.Topic)
		require.Equal(t, kafka.Unit(topic, m.Partition), m.Unit)
		require.Equal(t, strconv.Itoa(i), m.Position)
		require.Equal(t, strconv.Itoa(i+1), m.Next)
		require.Equal(t, fmt.Sprintf("k%d-%d", m.Partition, i), string(m.Key))
		require.Equal(t, fmt.Sprintf("v%d-%d", m.Partition, i), string(m.Value))
		require.Equal(t, map[string][]byte{"h": []byte(strconv.Itoa(i))}, m.Headers)
		require.Empty(t, m.Shard)
		require.False(t, m.Control)
		require.WithinDuration(t, time.Now(), m.Time, time.Minute)
	}
	require.Equal(t, map[int32]int{0: perPartition, 1: perPartition, 2: perPartition}, next)

	// The end: Revoked with every unit, after the last messages.
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Equal(t, "revoked "+strings.Join(units, ","), rec.events[len(rec.events)-1])
	require.Equal(t, "assigned "+strings.Join(units, ","), rec.events[0])
}

// TestSourceStartsAtAssignedPositions starts one partition where Assigned
// says, the other (no position) at the earliest offset, and a third with
// StartOffset latest in another group.
func TestSourceStartsAtAssignedPositions(t *testing.T) {
	b := testbroker.Kafka(t)
	topic := b.NewTopic(t, 2)
	produce(t, b, topic, 2, 0, 100)

	src, err := kafka.New(testOptions(b, "g-"+topic, topic))
	require.NoError(t, err)
	rec := newRecorder(newPositions())
	rec.fixed = map[string]string{topic + "/0": "40"}
	stop := run(t, src, rec)
	waitFor(t, "the records", 30*time.Second, func() bool { return rec.count() >= 60+100 })
	require.NoError(t, stop())
	rec.check(t)
	first := map[int32]string{}
	n := map[int32]int{}
	for _, m := range rec.messages() {
		if _, ok := first[m.Partition]; !ok {
			first[m.Partition] = m.Position
		}
		n[m.Partition]++
	}
	require.Equal(t, map[int32]string{0: "40", 1: "0"}, first)
	require.Equal(t, map[int32]int{0: 60, 1: 100}, n)

	// StartOffset latest: only what is produced after the assignment.
	opts := testOptions(b, "g2-"+topic, topic)
	opts.StartOffset = kafka.StartLatest
	src2, err := kafka.New(opts)
	require.NoError(t, err)
	rec2 := newRecorder(newPositions())
	stop2 := run(t, src2, rec2)
	waitFor(t, "the assignment", 20*time.Second, func() bool {
		rec2.mu.Lock()
		defer rec2.mu.Unlock()
		return len(rec2.owned) == 2 && rec2.ticks > 2
	})
	produce(t, b, topic, 2, 100, 5)
	waitFor(t, "the new records", 20*time.Second, func() bool { return rec2.count() >= 10 })
	require.NoError(t, stop2())
	rec2.check(t)
	for _, m := range rec2.messages() {
		i, _ := strconv.Atoi(m.Position)
		require.GreaterOrEqual(t, i, 100, m.Unit)
	}
	require.Len(t, rec2.messages(), 10)
}

// TestSourceCooperativeHandOff runs two members of one group over a
// 4-partition topic: the second joining revokes some partitions of the
// first, which it resumes from the shared table's positions; every record
// is handled exactly once, with no gap.
func TestSourceCooperativeHandOff(t *testing.T) {
	b := testbroker.Kafka(t)
	topic := b.NewTopic(t, 4)
	const head, batch = 50, 1000
	produce(t, b, topic, 4, 0, head)
	table := newPositions()
	group := "g-" + topic
	opts := testOptions(b, group, topic)
	// Small, slow polls: A is mid-stream on every partition when B joins.
	opts.MaxPollRecords = 20

	srcA, err := kafka.New(opts)
	require.NoError(t, err)
	recA := newRecorder(table)
	recA.delay = 10 * time.Millisecond
	stopA := run(t, srcA, recA)
	waitFor(t, "A's first records", 30*time.Second, func() bool { return recA.count() >= 4*head })
	produce(t, b, topic, 4, head, batch)
	waitFor(t, "A's backlog", 30*time.Second, func() bool { return recA.count() >= 4*head+100 })

	srcB, err := kafka.New(opts)
	require.NoError(t, err)
	recB := newRecorder(table)
	recB.delay = 5 * time.Millisecond
	stopB := run(t, srcB, recB)
	owns := func(r *recorder) int {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.owned)
	}
	waitFor(t, "the rebalance", 30*time.Second, func() bool { return owns(recA) == 2 && owns(recB) == 2 })
	handedOver := recA.count()
	// Usually A is mid-backlog here; the checks below hold either way.
	t.Logf("A had read %d of %d records when B joined", handedOver, 4*(head+batch))

	// More records while both read.
	produce(t, b, topic, 4, head+batch, batch)
	total := 4 * (head + 2*batch)
	waitFor(t, "every record", 30*time.Second, func() bool { return recA.count()+recB.count() >= total })
	require.NoError(t, stopB())
	require.NoError(t, stopA())
	recA.check(t)
	recB.check(t)

	recA.mu.Lock()
	require.NotEmpty(t, recA.revoked, "A gave partitions up to B")
	require.Len(t, recA.revoked[0], 2, "the cooperative rebalance revoked only what moved")
	recA.mu.Unlock()
	seen := map[string]int{}
	for _, m := range append(recA.messages(), recB.messages()...) {
		seen[m.Unit+"@"+m.Position]++
	}
	require.Len(t, seen, total, "no record missing")
	for k, n := range seen {
		require.Equal(t, 1, n, "record %s handled %d times", k, n)
	}
	// B resumed A's partitions where A left them (past the head A read
	// before the backlog), not at their start.
	firstB := map[string]string{}
	for _, m := range recB.messages() {
		if _, ok := firstB[m.Unit]; !ok {
			firstB[m.Unit] = m.Position
		}
	}
	require.Len(t, firstB, 2)
	for u, p := range firstB {
		require.NotEqual(t, "0", p, "B's first record of %s", u)
	}
}

func TestOptionsValidate(t *testing.T) {
	good := kafka.Options{Brokers: []string{"127.0.0.1:9092"}, Topics: []string{"t"}, Group: "g"}
	good.EnsureDefaults()
	require.NoError(t, good.Validate())
	for name, mod := range map[string]func(*kafka.Options){
		"no brokers":       func(o *kafka.Options) { o.Brokers = nil },
		"no topics":        func(o *kafka.Options) { o.Topics = nil },
		"topics and regex": func(o *kafka.Options) { o.TopicRegex = "a.*" },
		"bad regex":        func(o *kafka.Options) { o.Topics, o.TopicRegex = nil, "(" },
		"no group":         func(o *kafka.Options) { o.Group = "" },
		"start":            func(o *kafka.Options) { o.StartOffset = "middle" },
		"sasl":             func(o *kafka.Options) { o.SASL = kafka.SASL{Mechanism: "GSSAPI", User: "u"} },
		"sasl user":        func(o *kafka.Options) { o.SASL = kafka.SASL{Mechanism: kafka.SASLScramSHA512} },
		"tls off":          func(o *kafka.Options) { o.TLS = kafka.TLS{CAFile: "ca.pem"} },
		"tls pair":         func(o *kafka.Options) { o.TLS = kafka.TLS{Enable: true, CertFile: "c.pem"} },
		"timeout":          func(o *kafka.Options) { o.DialTimeout = -time.Second },
	} {
		o := good
		mod(&o)
		require.ErrorIs(t, o.Validate(), kafka.ErrOptions, name)
		_, err := kafka.New(o)
		require.ErrorIs(t, err, kafka.ErrOptions, name)
	}
	_, err := kafka.New(kafka.Options{Brokers: []string{"b:1"}, Topics: []string{"t"}, Group: "g",
		TLS: kafka.TLS{Enable: true, CAFile: "/nonexistent/ca.pem"}})
	require.Error(t, err)

	topic, p, err := kafka.SplitUnit("a/b.c/12")
	require.NoError(t, err)
	require.Equal(t, "a/b.c", topic)
	require.Equal(t, int32(12), p)
	for _, bad := range []string{"t", "/1", "t/x", "t/-1"} {
		_, _, err := kafka.SplitUnit(bad)
		require.Error(t, err, bad)
	}
}

// failing is a handler whose Messages fails.
type failing struct{ *recorder }

var errHandler = errors.New("handler failed")

func (f failing) Messages(ctx context.Context, msgs []stream.Message) error {
	_ = f.recorder.Messages(ctx, msgs)
	return errHandler
}

// TestSourceRegexAndHandlerError reads the topics a regex matches, and
// stops at the handler's error, which Run returns.
func TestSourceRegexAndHandlerError(t *testing.T) {
	b := testbroker.Kafka(t)
	prefix := fmt.Sprintf("regex%d", time.Now().UnixNano())
	b.CreateTopic(t, prefix+".db.a", 1)
	b.CreateTopic(t, prefix+".db.b", 1)
	b.CreateTopic(t, prefix+"x.db.c", 1)
	for _, topic := range []string{prefix + ".db.a", prefix + ".db.b", prefix + "x.db.c"} {
		produce(t, b, topic, 1, 0, 10)
	}
	opts := testOptions(b, "g-"+prefix)
	opts.TopicRegex = regexp.QuoteMeta(prefix) + `\.db\..*`
	src, err := kafka.New(opts)
	require.NoError(t, err)
	rec := newRecorder(newPositions())
	stop := run(t, src, rec)
	waitFor(t, "both topics", 30*time.Second, func() bool { return rec.count() >= 20 })
	require.NoError(t, stop())
	rec.check(t)
	topics := map[string]int{}
	for _, m := range rec.messages() {
		topics[m.Topic]++
	}
	require.Equal(t, map[string]int{prefix + ".db.a": 10, prefix + ".db.b": 10}, topics)

	src2, err := kafka.New(opts)
	require.NoError(t, err)
	defer src2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec2 := newRecorder(newPositions())
	err = src2.Run(ctx, failing{rec2})
	require.ErrorIs(t, err, errHandler)
	require.NoError(t, ctx.Err())
	rec2.mu.Lock()
	require.Empty(t, rec2.revoked, "no Revoked after the handler failed")
	rec2.mu.Unlock()
	require.NoError(t, src2.Close())
	require.ErrorIs(t, src2.Run(ctx, rec2), kafka.ErrClosed)
}

// firstSeen is a handler that answers every assignment with one position
// and records the first offset it is handed per partition.
type firstSeen struct {
	answer string
	mu     sync.Mutex
	first  map[int32]string
}

func (f *firstSeen) Assigned(_ context.Context, units []string) (map[string]string, error) {
	out := map[string]string{}
	for _, u := range units {
		out[u] = f.answer
	}
	return out, nil
}
func (f *firstSeen) Revoked(context.Context, []string) error { return nil }
func (f *firstSeen) Tick(context.Context) error              { return nil }
func (f *firstSeen) Messages(_ context.Context, msgs []stream.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range msgs {
		if _, ok := f.first[m.Partition]; !ok {
			f.first[m.Partition] = m.Position
		}
	}
	return nil
}

func (f *firstSeen) seen() map[int32]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.first)
}

// TestSourcePositionSource: a partition the handler answers
// stream.PositionSource for (a table it cannot name yet) starts at the
// group's committed offset, and one without a committed offset at the
// start offset.
func TestSourcePositionSource(t *testing.T) {
	b := testbroker.Kafka(t)
	topic := b.NewTopic(t, 2)
	produce(t, b, topic, 2, 0, 50)
	group := "g-" + topic
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 30, LeaderEpoch: -1})
	resp, err := b.Client(t).CommitOffsets(ctx, group, offs)
	require.NoError(t, err)
	require.NoError(t, resp.Error())

	src, err := kafka.New(testOptions(b, group, topic))
	require.NoError(t, err)
	h := &firstSeen{answer: stream.PositionSource, first: map[int32]string{}}
	stop := run(t, src, h)
	waitFor(t, "both partitions", 30*time.Second, func() bool { return len(h.seen()) == 2 })
	require.NoError(t, stop())
	require.Equal(t, map[int32]string{0: "30", 1: "0"}, h.seen())
}
