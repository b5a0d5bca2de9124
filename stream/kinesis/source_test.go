package kinesis_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/testbroker"
	"github.com/hoodie-lake/hoodie/stream"
	"github.com/hoodie-lake/hoodie/stream/kinesis"
)

func TestMain(m *testing.M) { testbroker.Main(m) }

// recorder is a stream.Handler that records what it is handed and checks
// the Source's promises as it goes: records of a unit in increasing order,
// nothing of a unit after its end, no unit handed messages before it was
// assigned.
type recorder struct {
	mu        sync.Mutex
	positions map[string]string // what Assigned returns
	assigned  [][]string
	revoked   [][]string
	msgs      []stream.Message
	last      map[string]string
	ticks     int
	problems  []string
	// gate, when set, holds the first Messages call carrying a record of
	// gateUnit until it is closed: the unit falls behind meanwhile.
	gate     chan struct{}
	gateUnit string
}

func newRecorder(positions map[string]string) *recorder {
	return &recorder{positions: positions, last: map[string]string{}}
}

func (r *recorder) Assigned(_ context.Context, units []string) (map[string]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.assigned = append(r.assigned, slices.Clone(units))
	out := map[string]string{}
	for _, u := range units {
		if p, ok := r.positions[u]; ok {
			out[u] = p
			r.last[u] = p
		} else {
			r.last[u] = ""
		}
	}
	return out, nil
}

func (r *recorder) Revoked(ctx context.Context, units []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Err() != nil {
		r.problems = append(r.problems, "Revoked with a cancelled context")
	}
	r.revoked = append(r.revoked, slices.Clone(units))
	return nil
}

func (r *recorder) Messages(_ context.Context, msgs []stream.Message) error {
	r.mu.Lock()
	if gate := r.gate; gate != nil && slices.ContainsFunc(msgs, func(m stream.Message) bool { return m.Unit == r.gateUnit }) {
		r.gate = nil
		r.mu.Unlock()
		<-gate
		r.mu.Lock()
	}
	defer r.mu.Unlock()
	for _, m := range msgs {
		last, ok := r.last[m.Unit]
		switch {
		case !ok:
			r.problems = append(r.problems, fmt.Sprintf("message of unassigned unit %s", m.Unit))
		case last == stream.PositionEnd:
			r.problems = append(r.problems, fmt.Sprintf("message of %s after its end", m.Unit))
		case stream.ComparePositions(m.Next, last) <= 0:
			r.problems = append(r.problems, fmt.Sprintf("%s: position %s not after %s", m.Unit, m.Next, last))
		}
		r.last[m.Unit] = m.Next
		r.msgs = append(r.msgs, m)
	}
	return nil
}

func (r *recorder) Tick(context.Context) error {
	r.mu.Lock()
	r.ticks++
	r.mu.Unlock()
	return nil
}

// records returns the non-control messages handled so far.
func (r *recorder) records() []stream.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []stream.Message
	for _, m := range r.msgs {
		if !m.Control {
			out = append(out, m)
		}
	}
	return out
}

func (r *recorder) all() []stream.Message {
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

// put is one record written to the stream.
type put struct {
	shard, seq, key, value string
}

func putRecord(t *testing.T, srv *testbroker.KinesisServer, streamName, key, value string) put {
	shard, seq := srv.Put(t, streamName, key, []byte(value))
	return put{shard: shard, seq: seq, key: key, value: value}
}

// runSource runs a Source of streamName in the background; the returned
// stop ends it and returns Run's error.
func runSource(t *testing.T, srv *testbroker.KinesisServer, streamName string, h stream.Handler, edit ...func(*kinesis.Options)) (src *kinesis.Source, stop func() error) {
	t.Helper()
	opts := kinesis.Options{
		Stream: streamName, Endpoint: srv.Endpoint(), Region: testbroker.KinesisRegion,
		AccessKeyID: testbroker.KinesisAccessKey, SecretAccessKey: testbroker.KinesisSecretKey,
		PollInterval: 20 * time.Millisecond, ShardSyncInterval: 100 * time.Millisecond,
		RequestTimeout: 5 * time.Second,
	}
	for _, e := range edit {
		e(&opts)
	}
	src, err := kinesis.New(context.Background(), opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, h) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(20 * time.Second):
				runErr = errors.New("Run did not return within 20 s of cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return src, stop
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var streams atomic.Int32

// streamName is a fresh stream name per test (kinesalite lives as long as
// the test binary, across -count runs).
func streamName(t *testing.T) string {
	return fmt.Sprintf("%s-%d", strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()), streams.Add(1))
}

func unitOf(streamName, shard string) string { return streamName + "/" + shard }

// requireExactly checks the records handled are the puts, each once, in
// put order per shard and per key.
func requireExactly(t *testing.T, streamName string, puts []put, got []stream.Message) {
	t.Helper()
	want := map[string]put{}
	for _, p := range puts {
		want[unitOf(streamName, p.shard)+"@"+p.seq] = p
	}
	seen := map[string]bool{}
	byKey := map[string][]string{}
	for _, m := range got {
		id := m.Unit + "@" + m.Position
		require.False(t, seen[id], "record %s handled twice", id)
		seen[id] = true
		p, ok := want[id]
		require.True(t, ok, "record %s was not put", id)
		require.Equal(t, p.value, string(m.Value), id)
		require.Equal(t, p.key, string(m.Key), id)
		require.Equal(t, m.Position, m.Next, id)
		require.Equal(t, p.shard, m.Shard, id)
		require.Equal(t, streamName, m.Topic, id)
		require.EqualValues(t, -1, m.Partition, id)
		require.False(t, m.Time.IsZero(), id)
		byKey[p.key] = append(byKey[p.key], p.value)
	}
	require.Len(t, seen, len(want), "records handled vs put")
	wantByKey := map[string][]string{}
	for _, p := range puts {
		wantByKey[p.key] = append(wantByKey[p.key], p.value)
	}
	require.Equal(t, wantByKey, byKey, "records per key in put order")
}

func TestReadShardsInOrder(t *testing.T) {
	srv := testbroker.Kinesalite(t)
	name := streamName(t)
	srv.CreateStream(t, name, 2)
	var puts []put
	for i := range 120 {
		key := fmt.Sprintf("k%d", i%12)
		puts = append(puts, putRecord(t, srv, name, key, fmt.Sprintf("%s/%d", key, i)))
	}
	shards := map[string]bool{}
	for _, p := range puts {
		shards[p.shard] = true
	}
	require.Len(t, shards, 2, "the keys hash to both shards")

	rec := newRecorder(nil)
	src, stop := runSource(t, srv, name, rec)
	waitFor(t, 15*time.Second, "120 records", func() bool { return len(rec.records()) >= 120 })
	// Records written while reading arrive too.
	for i := 120; i < 160; i++ {
		key := fmt.Sprintf("k%d", i%12)
		puts = append(puts, putRecord(t, srv, name, key, fmt.Sprintf("%s/%d", key, i)))
	}
	waitFor(t, 15*time.Second, "160 records", func() bool { return len(rec.records()) >= 160 })
	waitFor(t, 5*time.Second, "a tick", func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return rec.ticks > 0 })
	lag := src.Lag()
	require.Len(t, lag, 2)
	for u := range shards {
		require.Contains(t, lag, unitOf(name, u))
	}
	require.NoError(t, stop())
	rec.check(t)
	requireExactly(t, name, puts, rec.records())

	units := []string{unitOf(name, "shardId-000000000000"), unitOf(name, "shardId-000000000001")}
	require.Equal(t, [][]string{units}, rec.assigned)
	require.Equal(t, [][]string{units}, rec.revoked)
	require.Empty(t, src.Lag(), "no unit owned after Run")
}

func TestRestartFromAssignedPositions(t *testing.T) {
	srv := testbroker.Kinesalite(t)
	name := streamName(t)
	srv.CreateStream(t, name, 2)
	var puts []put
	for i := range 100 {
		key := fmt.Sprintf("k%d", i%10)
		puts = append(puts, putRecord(t, srv, name, key, fmt.Sprintf("%s/%d", key, i)))
	}
	rec := newRecorder(nil)
	_, stop := runSource(t, srv, name, rec)
	waitFor(t, 15*time.Second, "100 records", func() bool { return len(rec.records()) >= 100 })
	require.NoError(t, stop())
	rec.check(t)
	requireExactly(t, name, puts, rec.records())

	// The table committed up to the 60th record of each shard's share:
	// positions of the last record committed per unit.
	positions := map[string]string{}
	var committed []put
	for _, p := range puts[:60] {
		positions[unitOf(name, p.shard)] = p.seq
		committed = append(committed, p)
	}
	var keys []string
	var values [][]byte
	for i := 100; i < 150; i++ {
		keys = append(keys, fmt.Sprintf("k%d", i%10))
		values = append(values, fmt.Appendf(nil, "%s/%d", keys[len(keys)-1], i))
	}
	shardIDs, seqs := srv.PutRecords(t, name, keys, values)
	for i := range keys {
		puts = append(puts, put{shard: shardIDs[i], seq: seqs[i], key: keys[i], value: string(values[i])})
	}
	rec2 := newRecorder(positions)
	_, stop2 := runSource(t, srv, name, rec2)
	waitFor(t, 15*time.Second, "90 records", func() bool { return len(rec2.records()) >= 90 })
	time.Sleep(100 * time.Millisecond) // a duplicate would show up now
	require.NoError(t, stop2())
	rec2.check(t)
	// No gap, no duplicate: the second run reads exactly what the table did
	// not commit.
	requireExactly(t, name, puts[60:], rec2.records())
	require.Len(t, committed, 60)
}

// writer puts records of 20 keys, a counter per key in the value, until
// told to stop or n records are written.
type writer struct {
	mu   sync.Mutex
	puts []put
	err  error
	stop chan struct{}
	done chan struct{}
}

func startWriter(srv *testbroker.KinesisServer, client *awskinesis.Client, streamName string, n int) *writer {
	w := &writer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := range n {
			select {
			case <-w.stop:
				return
			default:
			}
			key := fmt.Sprintf("k%d", i%20)
			value := fmt.Sprintf("%s/%d", key, i)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			out, err := client.PutRecord(ctx, &awskinesis.PutRecordInput{
				StreamName: aws.String(streamName), PartitionKey: aws.String(key), Data: []byte(value),
			})
			cancel()
			w.mu.Lock()
			if err != nil {
				w.err = err
				w.mu.Unlock()
				return
			}
			w.puts = append(w.puts, put{shard: aws.ToString(out.ShardId), seq: aws.ToString(out.SequenceNumber), key: key, value: value})
			w.mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return w
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.puts)
}

func (w *writer) finish(t *testing.T) []put {
	t.Helper()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	require.NoError(t, w.err)
	return slices.Clone(w.puts)
}

// requireParentsFirst checks that every record of a parent unit, then its
// Control end, comes before any record of a child unit.
func requireParentsFirst(t *testing.T, msgs []stream.Message, parents, children []string) {
	t.Helper()
	lastParent, firstChild := -1, len(msgs)
	ends := map[string]int{}
	for i, m := range msgs {
		switch {
		case slices.Contains(parents, m.Unit):
			require.NotContains(t, ends, m.Unit, "message of %s after its end", m.Unit)
			if m.Control {
				require.Equal(t, stream.PositionEnd, m.Next)
				ends[m.Unit] = i
			}
			lastParent = i
		case slices.Contains(children, m.Unit):
			firstChild = min(firstChild, i)
		}
	}
	for _, p := range parents {
		require.Contains(t, ends, p, "no Control end for parent %s", p)
	}
	require.Less(t, lastParent, firstChild, "a child's record came before its parents' end")
}

func hashMidpoint(t *testing.T, client *awskinesis.Client, streamName, shardID string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := client.ListShards(ctx, &awskinesis.ListShardsInput{StreamName: aws.String(streamName)})
	require.NoError(t, err)
	for _, s := range out.Shards {
		if aws.ToString(s.ShardId) == shardID {
			lo, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
			hi, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
			return new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1).String()
		}
	}
	t.Fatalf("shard %s not listed", shardID)
	return ""
}

// smallBatches makes a shard that fell behind take many GetRecords calls
// to catch up.
func smallBatches(o *kinesis.Options) { o.MaxRecords = 5 }

func TestSplitShardWhileWriting(t *testing.T) {
	srv := testbroker.Kinesalite(t)
	client := srv.Client(t)
	name := streamName(t)
	srv.CreateStream(t, name, 2)
	parent := "shardId-000000000000"
	children := []string{unitOf(name, "shardId-000000000002"), unitOf(name, "shardId-000000000003")}

	// The handler holds the parent's first records until the writer is
	// done, so the parent is far behind when its children appear.
	gate := make(chan struct{})
	rec := newRecorder(nil)
	rec.gate, rec.gateUnit = gate, unitOf(name, parent)
	_, stop := runSource(t, srv, name, rec, smallBatches)
	waitFor(t, 10*time.Second, "the first assignment", func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return len(rec.assigned) > 0 })
	w := startWriter(srv, client, name, 300)
	waitFor(t, 15*time.Second, "100 records written", func() bool { return w.count() >= 100 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err := client.SplitShard(ctx, &awskinesis.SplitShardInput{
		StreamName: aws.String(name), ShardToSplit: aws.String(parent),
		NewStartingHashKey: aws.String(hashMidpoint(t, client, name, parent)),
	})
	cancel()
	require.NoError(t, err)
	srv.WaitStreamActive(t, name)
	puts := w.finish(t)
	childPuts := 0
	for _, p := range puts {
		if slices.Contains(children, unitOf(name, p.shard)) {
			childPuts++
		}
	}
	require.Positive(t, childPuts, "records were written to the children")
	close(gate)
	waitFor(t, 20*time.Second, "every record", func() bool { return len(rec.records()) >= len(puts) })
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, stop())
	rec.check(t)
	requireExactly(t, name, puts, rec.records())
	requireParentsFirst(t, rec.all(), []string{unitOf(name, parent)}, children)
	require.Len(t, rec.assigned, 2, "the children were assigned when found")
	require.ElementsMatch(t, children, rec.assigned[1])

	// A restart with the parent at its end (as the table would record it)
	// reads the children from their start and never the parent.
	positions := map[string]string{unitOf(name, parent): stream.PositionEnd}
	for _, p := range puts {
		if u := unitOf(name, p.shard); u == unitOf(name, "shardId-000000000001") {
			positions[u] = p.seq
		}
	}
	var want []put
	for _, p := range puts {
		if slices.Contains(children, unitOf(name, p.shard)) {
			want = append(want, p)
		}
	}
	rec2 := newRecorder(positions)
	_, stop2 := runSource(t, srv, name, rec2)
	waitFor(t, 15*time.Second, "the children's records", func() bool { return len(rec2.records()) >= len(want) })
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, stop2())
	rec2.check(t)
	requireExactly(t, name, want, rec2.records())
	for _, m := range rec2.all() {
		require.NotEqual(t, unitOf(name, parent), m.Unit, "the parent at its end was read again")
	}
}

func TestMergeShardsWhileWriting(t *testing.T) {
	srv := testbroker.Kinesalite(t)
	client := srv.Client(t)
	name := streamName(t)
	srv.CreateStream(t, name, 2)
	parents := []string{unitOf(name, "shardId-000000000000"), unitOf(name, "shardId-000000000001")}
	child := unitOf(name, "shardId-000000000002")

	w := startWriter(srv, client, name, 300)
	waitFor(t, 15*time.Second, "60 records written", func() bool { return w.count() >= 60 })
	// One parent is half committed in the table already.
	positions := map[string]string{}
	w.mu.Lock()
	for _, p := range w.puts[:30] {
		if u := unitOf(name, p.shard); u == parents[0] {
			positions[u] = p.seq
		}
	}
	w.mu.Unlock()
	gate := make(chan struct{})
	rec := newRecorder(positions)
	rec.gate, rec.gateUnit = gate, parents[1]
	_, stop := runSource(t, srv, name, rec, smallBatches)
	waitFor(t, 10*time.Second, "the first assignment", func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return len(rec.assigned) > 0 })
	waitFor(t, 15*time.Second, "120 records written", func() bool { return w.count() >= 120 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err := client.MergeShards(ctx, &awskinesis.MergeShardsInput{
		StreamName: aws.String(name), ShardToMerge: aws.String("shardId-000000000000"),
		AdjacentShardToMerge: aws.String("shardId-000000000001"),
	})
	cancel()
	require.NoError(t, err)
	srv.WaitStreamActive(t, name)
	puts := w.finish(t)
	var want []put
	childPuts := 0
	for _, p := range puts {
		u := unitOf(name, p.shard)
		if u == child {
			childPuts++
		}
		if pos, ok := positions[u]; ok && stream.ComparePositions(p.seq, pos) <= 0 {
			continue // committed before the run
		}
		want = append(want, p)
	}
	require.Positive(t, childPuts, "records were written to the merged shard")
	close(gate)
	waitFor(t, 20*time.Second, "every record", func() bool { return len(rec.records()) >= len(want) })
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, stop())
	rec.check(t)
	requireExactly(t, name, want, rec.records())
	requireParentsFirst(t, rec.all(), parents, []string{child})
}

func TestOptionsValidate(t *testing.T) {
	valid := func() kinesis.Options {
		o := kinesis.Options{Stream: "s"}
		o.EnsureDefaults()
		return o
	}
	o := valid()
	require.NoError(t, o.Validate())
	require.Equal(t, kinesis.StartTrimHorizon, o.StartPosition)
	require.Equal(t, time.Second, o.PollInterval)
	require.Equal(t, 10*time.Second, o.ShardSyncInterval)
	require.Equal(t, 10000, o.MaxRecords)
	require.Equal(t, 10*time.Second, o.RequestTimeout)

	for name, edit := range map[string]func(*kinesis.Options){
		"no stream":              func(o *kinesis.Options) { o.Stream = "" },
		"bad start":              func(o *kinesis.Options) { o.StartPosition = "EARLIEST" },
		"timestamp missing":      func(o *kinesis.Options) { o.StartPosition = kinesis.StartAtTimestamp },
		"timestamp without type": func(o *kinesis.Options) { o.StartTimestamp = time.Now() },
		"half credentials":       func(o *kinesis.Options) { o.AccessKeyID = "a" },
		"token alone":            func(o *kinesis.Options) { o.SessionToken = "x" },
		"bad endpoint":           func(o *kinesis.Options) { o.Endpoint = "127.0.0.1:4567" },
		"max records":            func(o *kinesis.Options) { o.MaxRecords = 10001 },
		"negative poll":          func(o *kinesis.Options) { o.PollInterval = -time.Second },
	} {
		o := valid()
		edit(&o)
		require.Error(t, o.Validate(), name)
	}
	o = valid()
	o.StartPosition, o.StartTimestamp = kinesis.StartAtTimestamp, time.Now()
	require.NoError(t, o.Validate())
}

func TestStartLatest(t *testing.T) {
	srv := testbroker.Kinesalite(t)
	name := streamName(t)
	srv.CreateStream(t, name, 2)
	for i := range 20 {
		putRecord(t, srv, name, fmt.Sprintf("k%d", i%4), fmt.Sprintf("old/%d", i))
	}
	rec := newRecorder(nil)
	_, stop := runSource(t, srv, name, rec, func(o *kinesis.Options) { o.StartPosition = kinesis.StartLatest })
	// The readers take their LATEST iterators at some point after Run
	// starts: put until records of both shards arrive, then some more.
	var puts []put
	shardsRead := func() map[string]bool {
		read := map[string]bool{}
		for _, m := range rec.records() {
			read[m.Shard] = true
		}
		return read
	}
	for i := 0; len(shardsRead()) < 2; i++ {
		require.Less(t, i, 500, "records of both shards did not arrive")
		puts = append(puts, putRecord(t, srv, name, fmt.Sprintf("k%d", i%8), fmt.Sprintf("new/%d", i)))
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 20 {
		puts = append(puts, putRecord(t, srv, name, fmt.Sprintf("k%d", i%8), fmt.Sprintf("more/%d", i)))
	}
	lastOf := map[string]string{}
	for _, p := range puts {
		lastOf[p.shard] = p.seq
	}
	waitFor(t, 10*time.Second, "the last record of each shard", func() bool {
		got := rec.records()
		for _, seq := range lastOf {
			if !slices.ContainsFunc(got, func(m stream.Message) bool { return m.Position == seq }) {
				return false
			}
		}
		return true
	})
	require.NoError(t, stop())
	rec.check(t)
	got := rec.records()
	// What arrived is a suffix of each shard's new records: nothing old, no
	// gap after the first record read.
	for _, m := range got {
		require.False(t, strings.HasPrefix(string(m.Value), "old/"), "LATEST read a record put before Run")
	}
	first := map[string]int{} // per shard: the index of its first put read
	for i, p := range puts {
		if _, ok := first[p.shard]; !ok && slices.ContainsFunc(got, func(m stream.Message) bool { return m.Position == p.seq }) {
			first[p.shard] = i
		}
	}
	var want []put
	for i, p := range puts {
		if f, ok := first[p.shard]; ok && i >= f {
			want = append(want, p)
		}
	}
	requireExactly(t, name, want, got)
	require.GreaterOrEqual(t, len(got), 20)
}

func TestStartAtTimestamp(t *testing.T) {
	srv := testbroker.Kinesalite(t)
	name := streamName(t)
	srv.CreateStream(t, name, 2)
	for i := range 20 {
		putRecord(t, srv, name, fmt.Sprintf("k%d", i%4), fmt.Sprintf("old/%d", i))
	}
	time.Sleep(50 * time.Millisecond)
	from := time.Now()
	time.Sleep(50 * time.Millisecond)
	var puts []put
	for i := range 30 {
		puts = append(puts, putRecord(t, srv, name, fmt.Sprintf("k%d", i%4), fmt.Sprintf("new/%d", i)))
	}
	// kinesalite answers GetShardIterator AT_TIMESTAMP only when the shard
	// holds a record at or after the timestamp (it never answers
	// otherwise): the keys must reach both shards.
	shardsPut := map[string]bool{}
	for _, p := range puts {
		shardsPut[p.shard] = true
	}
	require.Len(t, shardsPut, 2)
	rec := newRecorder(nil)
	_, stop := runSource(t, srv, name, rec, func(o *kinesis.Options) {
		o.StartPosition, o.StartTimestamp = kinesis.StartAtTimestamp, from
	})
	waitFor(t, 10*time.Second, "30 records", func() bool { return len(rec.records()) >= 30 })
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, stop())
	rec.check(t)
	requireExactly(t, name, puts, rec.records())
}

func TestMissingStreamFails(t *testing.T) {
	srv := testbroker.Kinesalite(t)
	rec := newRecorder(nil)
	src, err := kinesis.New(context.Background(), kinesis.Options{
		Stream: "no-such-stream", Endpoint: srv.Endpoint(), Region: testbroker.KinesisRegion,
		AccessKeyID: testbroker.KinesisAccessKey, SecretAccessKey: testbroker.KinesisSecretKey,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = src.Run(ctx, rec)
	require.ErrorContains(t, err, "ResourceNotFoundException")
	require.NoError(t, ctx.Err(), "Run failed at once")
	require.Empty(t, rec.assigned)
}
