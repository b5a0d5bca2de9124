package interop_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math/big"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hoodie-lake/hoodie/internal/testbroker"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/stream"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// hoodieBin builds cmd/hoodie once per test binary (without -race: the
// processes under test are the product, not the test).
var hoodieBin = struct {
	once sync.Once
	path string
	err  error
}{}

func hoodieBinary(t *testing.T) string {
	t.Helper()
	hoodieBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "hoodie-bin-")
		if err != nil {
			hoodieBin.err = err
			return
		}
		hoodieBin.path = filepath.Join(dir, "hoodie")
		cmd := exec.Command("go", "build", "-o", hoodieBin.path, "./cmd/hoodie")
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			hoodieBin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, hoodieBin.err)
	return hoodieBin.path
}

// streamEvent is one produced event and what the table must make of it.
type streamEvent struct {
	key, region string
	ts, v       int64
	malformed   bool
	// resent is a copy of the event before it, as an at-least-once
	// producer sends it again, to another partition: two processes may
	// insert the same new key at once.
	resent    bool
	unit, pos string // where it landed (set after producing)
}

// partition is where the event goes among n partitions: its key's, or
// for a resent event the next one.
func (e *streamEvent) partition(n int) int32 {
	p := partitionOf(e.key, n)
	if e.resent {
		p = (p + 1) % int32(n)
	}
	return p
}

// streamModel generates n events over keys: 84 % new keys, 10 % updates
// (a newer event time), 5 % late events (an older event time than the
// key's newest: they must never win), 1 % malformed; 2 % of the good ones
// are sent twice, the copy to another partition. Event times are distinct
// per key but for copies, so the expected row of a key is unique.
func streamModel(n int, seed int64) []*streamEvent {
	rng := rand.New(rand.NewSource(seed))
	regions := []string{"eu", "us", "ap"}
	var keys []string
	newest := map[string]int64{}
	oldest := map[string]int64{}
	region := map[string]string{}
	evs := make([]*streamEvent, 0, n)
	for i := 0; i < n; i++ {
		e := &streamEvent{v: int64(i)}
		r := rng.Intn(100)
		switch {
		case r < 1:
			e.malformed = true
			e.key = fmt.Sprintf("bad-%d", i)
		case r < 11 && len(keys) > 0: // update
			e.key = keys[rng.Intn(len(keys))]
			newest[e.key] += 1 + int64(rng.Intn(1000))
			e.ts = newest[e.key]
		case r < 16 && len(keys) > 0: // late: older than anything seen of the key
			e.key = keys[rng.Intn(len(keys))]
			oldest[e.key] -= 1 + int64(rng.Intn(1000))
			e.ts = oldest[e.key]
		default:
			e.key = fmt.Sprintf("u-%08d-é", i)
			keys = append(keys, e.key)
			e.ts = 1_700_000_000_000 + int64(i)*10
			newest[e.key], oldest[e.key] = e.ts, e.ts
			region[e.key] = regions[rng.Intn(len(regions))]
		}
		e.region = region[e.key]
		evs = append(evs, e)
		if !e.malformed && rng.Intn(100) < 2 {
			c := *e
			c.resent = true
			evs = append(evs, &c)
		}
	}
	return evs
}

func (e *streamEvent) payload() []byte {
	if e.malformed {
		return []byte(`{"uuid": "` + e.key + `", "ts": `) // cut short
	}
	b, _ := json.Marshal(map[string]any{"uuid": e.key, "ts": e.ts, "region": e.region, "v": e.v, "note": "naïve ☃"})
	return b
}

// expected is key → v of the newest event of each key.
func expected(evs []*streamEvent) map[string]int64 {
	best := map[string]*streamEvent{}
	for _, e := range evs {
		if e.malformed {
			continue
		}
		if b := best[e.key]; b == nil || e.ts > b.ts {
			best[e.key] = e
		}
	}
	out := make(map[string]int64, len(best))
	for k, e := range best {
		out[k] = e.v
	}
	return out
}

// streamProc is one `hoodie stream` process of the test.
type streamProc struct {
	t      *testing.T
	args   []string
	cmd    *exec.Cmd
	log    *os.File
	done   chan struct{}
	err    error
	starts int
	at     time.Time // the last start
}

func (p *streamProc) start() {
	p.t.Helper()
	p.cmd = exec.Command(hoodieBinary(p.t), p.args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+testbroker.KinesisAccessKey,
		"AWS_SECRET_ACCESS_KEY="+testbroker.KinesisSecretKey, "AWS_REGION="+testbroker.KinesisRegion)
	require.NoError(p.t, p.cmd.Start())
	p.starts++
	p.at = time.Now()
	p.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) {
		p.err = c.Wait()
		close(done)
	}(p.cmd, p.done)
}

func (p *streamProc) kill() {
	p.t.Helper()
	p.requireRunning()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// logStreamEvents counts, over the processes' logs, what the protocol did:
// commits, assignments (rebalances), commits the claims fence refused, and
// commits retried after an error.
func logStreamEvents(t *testing.T, ps []*streamProc) {
	t.Helper()
	count := map[string]int{}
	for _, p := range ps {
		b, err := os.ReadFile(p.log.Name())
		require.NoError(t, err)
		for _, what := range []string{"stream: committed", "stream: units assigned",
			"consumed by another commit", "stream: commit failed; retrying"} {
			count[what] += strings.Count(string(b), what)
		}
	}
	t.Logf("over %d processes: %d commits, %d assignments, %d commits refused by the claims fence, %d commits retried after an error",
		len(ps), count["stream: committed"], count["stream: units assigned"], count["consumed by another commit"],
		count["stream: commit failed; retrying"])
}

// requireRunning fails the test when the process ended on its own: a
// stream runs until it is stopped.
func (p *streamProc) requireRunning() {
	p.t.Helper()
	select {
	case <-p.done:
		p.t.Fatalf("a stream process ended on its own: %v (log %s)", p.err, p.log.Name())
	default:
	}
}

// stop sends SIGTERM and requires exit status 0 within a minute.
func (p *streamProc) stop() {
	p.t.Helper()
	// A signal in the first milliseconds, before the process installed its
	// handlers, would kill it as it would any program.
	time.Sleep(time.Until(p.at.Add(time.Second)))
	p.requireRunning()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
		require.NoError(p.t, p.err, "SIGTERM must end the stream with exit status 0 (log %s)", p.log.Name())
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		p.t.Fatalf("the stream did not stop within a minute of SIGTERM (log %s)", p.log.Name())
	}
}

// tablePositions merges the positions every completed commit recorded
// (stream.PositionsKey), the largest per unit.
func tablePositions(t *testing.T, base string) map[string]string {
	t.Helper()
	ctx := context.Background()
	st, err := storage.NewLocal(base)
	require.NoError(t, err)
	out := map[string]string{}
	if _, err := os.Stat(filepath.Join(base, ".hoodie", "hoodie.properties")); err != nil {
		return out
	}
	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	for _, c := range tl.CompletedCommits() {
		md, err := timeline.ReadCommitMetadata(ctx, st, c)
		if err != nil {
			continue // archived meanwhile
		}
		var m map[string]string
		if s := md.ExtraMetadata[stream.PositionsKey]; s != "" {
			require.NoError(t, json.Unmarshal([]byte(s), &m))
		}
		for u, p := range m {
			if stream.ComparePositions(p, out[u]) > 0 {
				out[u] = p
			}
		}
	}
	return out
}

// waitPositions waits until the table's positions reach want.
func waitPositions(t *testing.T, base string, want map[string]string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var got map[string]string
	for time.Now().Before(deadline) {
		got = tablePositions(t, base)
		done := true
		for u, p := range want {
			if stream.ComparePositions(got[u], p) < 0 {
				done = false
			}
		}
		if done {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("the table's positions did not reach the end of the input within %s:\n got %v\nwant %v", within, got, want)
}

// requireStreamTable checks the table against the model: one row per key,
// the newest event's value, nothing else; hudi-rs and Spark read the same.
func requireStreamTable(t *testing.T, base string, want map[string]int64, spark bool) {
	t.Helper()
	ctx := context.Background()
	st, err := storage.NewLocal(base)
	require.NoError(t, err)
	tbl, err := table.Open(ctx, st)
	require.NoError(t, err)
	recs, err := reader.ReadAll(ctx, tbl, reader.Options{})
	require.NoError(t, err)
	got := map[string]int64{}
	dups := 0
	for _, r := range recs {
		keys := r.Column(r.Schema().FieldIndices("uuid")[0])
		vals := r.Column(r.Schema().FieldIndices("v")[0])
		for i := 0; i < int(r.NumRows()); i++ {
			k := keys.ValueStr(i)
			v, err := strconv.ParseInt(vals.ValueStr(i), 10, 64)
			require.NoError(t, err)
			if _, ok := got[k]; ok {
				dups++
			}
			got[k] = v
		}
		r.Release()
	}
	require.Zero(t, dups, "keys stored twice")
	lost, wrong, extra := 0, 0, 0
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			lost++
		case g != v:
			wrong++
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra++
		}
	}
	require.Zero(t, lost+wrong+extra, "table vs model: %d lost, %d with an older event's value (a late event won), %d not in the input", lost, wrong, extra)
	compare(t, tbl, base, len(want))
	if spark {
		rows := rowsOf(t, sparkDo(t, map[string]any{"op": "read", "path": base, "query": "snapshot"}))
		requireSameRows(t, "spark snapshot", ours(t, tbl), rows)
	}
}

// errorPositions reads the error outputs: the set of unit@position.
func errorPositions(t *testing.T, files []string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, f := range files {
		fh, err := os.Open(f)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var r stream.ErrorRecord
			require.NoError(t, json.Unmarshal(sc.Bytes(), &r), "error output %s: %s", f, sc.Text())
			require.NotEmpty(t, r.Reason)
			out[r.Unit+"@"+r.Position] = true
		}
		require.NoError(t, sc.Err())
		fh.Close()
	}
	return out
}

func partitionOf(key string, n int) int32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int32(h.Sum32() % uint32(n))
}

// TestStreamKafkaKill: three `hoodie stream` processes in one consumer
// group over a 6-partition topic read 200,000 events (10 % updates, 5 %
// late, 1 % malformed, 2 % sent twice to two partitions: the same new key
// inserted by two processes at once) into a merge-on-read table while a random process
// is killed with SIGKILL ten times and restarted (each restart is a
// rebalance; so is each death, once its session times out), then twice a
// process is frozen (SIGSTOP) past its session timeout and woken up, a
// zombie holding records whose partitions moved on. The index TTL
// is shorter than the test, so updates of expired keys go through the
// footer lookup. Then every process stops on SIGTERM with exit status 0,
// and the table equals the model exactly — no record lost, none twice, no
// late event winning — for hoodie's reader, hudi-rs and Spark; every
// malformed event is in an error output with its position.
// HOODIE_STREAM_EVENTS changes the number of events.
func TestStreamKafkaKill(t *testing.T) {
	n := 200_000
	if s := os.Getenv("HOODIE_STREAM_EVENTS"); s != "" {
		var err error
		n, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	const partitions, procs, kills, pauses = 6, 3, 10, 2
	const rounds = kills + pauses
	kb := testbroker.Kafka(t)
	topic := "events"
	kb.CreateTopic(t, topic, partitions)
	dir := t.TempDir()
	base := filepath.Join(dir, "events")
	evs := streamModel(n, 15)

	ps := make([]*streamProc, procs)
	var errFiles []string
	for i := range ps {
		lf, err := os.Create(filepath.Join(dir, fmt.Sprintf("proc%d.log", i)))
		require.NoError(t, err)
		t.Cleanup(func() { lf.Close() })
		errFile := filepath.Join(dir, fmt.Sprintf("errors%d.jsonl", i))
		errFiles = append(errFiles, errFile)
		ps[i] = &streamProc{t: t, log: lf, args: []string{"stream", "--table", base, "--type", "mor",
			"--key", "uuid", "--precombine", "ts", "--partition", "region", "--hive-style",
			"--kafka-brokers", kb.Addr(), "--topic", topic, "--group", "kill-test",
			"--kafka-session-timeout", "6s",
			"--commit-interval", "1s", "--commit-records", "20000",
			"--errors", errFile, "--index-dir", filepath.Join(dir, fmt.Sprintf("idx%d", i)), "--index-ttl", "4s"}}
	}
	for _, p := range ps {
		p.start()
	}
	t.Cleanup(func() {
		for _, p := range ps {
			if p.cmd != nil && p.cmd.ProcessState == nil {
				_ = p.cmd.Process.Kill()
			}
		}
		if t.Failed() {
			for i, p := range ps {
				b, _ := os.ReadFile(p.log.Name())
				if len(b) > 4000 {
					b = b[len(b)-4000:]
				}
				t.Logf("process %d (%d starts) log tail:\n%s", i, p.starts, b)
			}
		}
	})

	rng := rand.New(rand.NewSource(16))
	end := map[string]string{}
	malformed := map[string]bool{}
	per := (len(evs) + rounds - 1) / rounds
	for r := 0; r < rounds; r++ {
		lo, hi := r*per, min((r+1)*per, len(evs))
		recs := make([]*kgo.Record, 0, hi-lo)
		for _, e := range evs[lo:hi] {
			recs = append(recs, &kgo.Record{Partition: e.partition(partitions), Key: []byte(e.key), Value: e.payload()})
		}
		kb.Produce(t, topic, recs...)
		for i, rec := range recs {
			e := evs[lo+i]
			e.unit, e.pos = fmt.Sprintf("%s/%d", topic, rec.Partition), strconv.FormatInt(rec.Offset, 10)
			end[e.unit] = strconv.FormatInt(rec.Offset+1, 10)
			if e.malformed {
				malformed[e.unit+"@"+e.pos] = true
			}
		}
		p := ps[rng.Intn(procs)]
		if r < kills {
			time.Sleep(time.Duration(300+rng.Intn(1500)) * time.Millisecond)
			p.kill()
			if rng.Intn(2) == 0 {
				time.Sleep(time.Duration(rng.Intn(1000)) * time.Millisecond)
			}
			p.start()
			continue
		}
		// A zombie: the process stalls past its session timeout (a GC
		// pause, a frozen VM), its partitions move to the others, and it
		// wakes up holding records it read: the claims fence decides.
		time.Sleep(time.Duration(100+rng.Intn(300)) * time.Millisecond) // mid-batch
		p.requireRunning()
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGSTOP))
		time.Sleep(9 * time.Second)
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGCONT))
	}
	waitPositions(t, base, end, 4*time.Minute)
	for _, p := range ps {
		p.stop()
	}
	logStreamEvents(t, ps)
	requireStreamTable(t, base, expected(evs), true)
	got := errorPositions(t, errFiles)
	require.Equal(t, len(malformed), len(got), "malformed events in the error outputs")
	for k := range malformed {
		require.True(t, got[k], "malformed event %s missing from the error outputs", k)
	}

	// A user's second run: compaction, then the same readers agree.
	out, err := exec.Command(hoodieBinary(t), "compact", "--table", base).CombinedOutput()
	require.NoError(t, err, "%s", out)
	requireStreamTable(t, base, expected(evs), true)
}

// TestStreamKinesisKill: the same shape on Kinesis (kinesalite): a stream of
// two shards, one of which is split half-way (resharding), read by one
// `hoodie stream --kinesis-stream` process that is killed with SIGKILL and
// restarted three times; records of the parent shard are all applied
// before its children's (the children's updates win), and the table equals
// the model for hoodie's reader and hudi-rs. The table is partitioned by
// the event time's day (the timestamp-based key generator).
func TestStreamKinesisKill(t *testing.T) {
	ks := testbroker.Kinesalite(t)
	name := "events-" + strconv.FormatInt(time.Now().UnixNano()%1_000_000, 10)
	ks.CreateStream(t, name, 2)
	dir := t.TempDir()
	base := filepath.Join(dir, "events")
	evs := streamModel(20_000, 25)
	lf, err := os.Create(filepath.Join(dir, "proc.log"))
	require.NoError(t, err)
	defer lf.Close()
	errFile := filepath.Join(dir, "errors.jsonl")
	// Partitioned by the event time's day in Tokyo (Hudi's
	// TimestampBasedKeyGenerator), as Flink pipelines derive dt.
	p := &streamProc{t: t, log: lf, args: []string{"stream", "--table", base, "--type", "mor",
		"--key", "uuid", "--precombine", "ts", "--partition", "ts", "--hive-style",
		"--timestamp-type", "EPOCHMILLISECONDS", "--output-dateformat", "yyyy-MM-dd", "--timezone", "Asia/Tokyo",
		"--kinesis-stream", name, "--kinesis-endpoint", ks.Endpoint(), "--kinesis-start", "TRIM_HORIZON",
		"--commit-interval", "1s", "--errors", errFile, "--index-dir", filepath.Join(dir, "idx")}}
	p.start()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
		}
		if t.Failed() {
			b, _ := os.ReadFile(lf.Name())
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("log tail:\n%s", b)
		}
	})
	cl := ks.Client(t)
	malformed := map[string]bool{}
	shardSeen := map[string]bool{}
	const rounds = 4
	per := len(evs) / rounds
	rng := rand.New(rand.NewSource(26))
	for r := 0; r < rounds; r++ {
		for _, e := range evs[r*per : min((r+1)*per, len(evs))] {
			shard, seq := ks.Put(t, name, e.key, e.payload())
			shardSeen[shard] = true
			e.unit, e.pos = name+"/"+shard, seq
			if e.malformed {
				malformed[e.unit+"@"+e.pos] = true
			}
		}
		if r == 1 {
			splitShard(t, cl, name)
		}
		if r < rounds-1 {
			time.Sleep(time.Duration(300+rng.Intn(1200)) * time.Millisecond)
			p.kill()
			p.start()
		}
	}
	// Done when every record put is behind the table's position of its shard.
	last := map[string]string{}
	for _, e := range evs {
		if stream.ComparePositions(e.pos, last[e.unit]) > 0 {
			last[e.unit] = e.pos
		}
	}
	waitPositions(t, base, last, 3*time.Minute)
	p.stop()
	require.GreaterOrEqual(t, len(shardSeen), 3, "records went to the split shard's children")
	requireStreamTable(t, base, expected(evs), false)
	parts, err := filepath.Glob(filepath.Join(base, "ts=*"))
	require.NoError(t, err)
	require.NotEmpty(t, parts)
	for _, p := range parts {
		require.Regexp(t, `ts=\d{4}-\d{2}-\d{2}$`, p, "partitions are days of the event time")
	}
	got := errorPositions(t, []string{errFile})
	require.Equal(t, len(malformed), len(got))
	for k := range malformed {
		require.True(t, got[k], "malformed record %s missing from the error output", k)
	}
	keys := make([]string, 0, len(shardSeen))
	for s := range shardSeen {
		keys = append(keys, s)
	}
	sort.Strings(keys)
	t.Logf("shards written: %s", strings.Join(keys, ", "))
}

// splitShard splits the stream's first open shard at the middle of its hash
// key range and waits until the stream is active again.
func splitShard(t *testing.T, cl *kinesis.Client, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := cl.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name)})
	require.NoError(t, err)
	for _, s := range out.Shards {
		if s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
			continue // closed
		}
		lo, ok1 := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
		hi, ok2 := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
		require.True(t, ok1 && ok2)
		mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1)
		_, err := cl.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(name),
			ShardToSplit: s.ShardId, NewStartingHashKey: aws.String(mid.String())})
		require.NoError(t, err)
		testbroker.Kinesalite(t).WaitStreamActive(t, name)
		return
	}
	t.Fatalf("stream %s has no open shard", name)
}

// TestStreamSignals: SIGTERM in the middle of a busy stream stops fetching,
// commits what was buffered and exits 0; a second signal right after the
// first aborts (exit status not 0) and leaves nothing half-applied. After
// two graceful stops and an abort, each followed by a restart, a last run
// serving --metrics-addr reads new events while /healthz answers 200 and
// /metrics shows commits, lag 0 per partition and the index's entries; the
// table then equals the model.
func TestStreamSignals(t *testing.T) {
	kb := testbroker.Kafka(t)
	topic := "signals"
	kb.CreateTopic(t, topic, 3)
	dir := t.TempDir()
	base := filepath.Join(dir, "events")
	evs := streamModel(40_000, 35)
	produce := func(from, to int, end map[string]string) {
		recs := make([]*kgo.Record, 0, to-from)
		for _, e := range evs[from:to] {
			recs = append(recs, &kgo.Record{Partition: e.partition(3), Key: []byte(e.key), Value: e.payload()})
		}
		kb.Produce(t, topic, recs...)
		for _, rec := range recs {
			end[fmt.Sprintf("%s/%d", topic, rec.Partition)] = strconv.FormatInt(rec.Offset+1, 10)
		}
	}
	lf, err := os.Create(filepath.Join(dir, "proc.log"))
	require.NoError(t, err)
	defer lf.Close()
	p := &streamProc{t: t, log: lf, args: []string{"stream", "--table", base, "--type", "cow",
		"--key", "uuid", "--precombine", "ts", "--partition", "region",
		"--kafka-brokers", kb.Addr(), "--topic", topic, "--group", "signals",
		"--commit-interval", "30s", "--commit-records", "1000000",
		"--errors", filepath.Join(dir, "errors.jsonl"), "--index-dir", filepath.Join(dir, "idx")}}
	t.Cleanup(func() {
		if p.cmd != nil && p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
		}
		if t.Failed() {
			b, _ := os.ReadFile(lf.Name())
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("log tail:\n%s", b)
		}
	})
	end := map[string]string{}
	const rounds, per = 3, 10_000
	for r := 0; r < rounds; r++ {
		produce(r*per, (r+1)*per, end)
		p.start()
		// Long commit interval: whatever it read is only in its buffer
		// until the signal.
		time.Sleep(2 * time.Second)
		before := tablePositions(t, base)
		switch r {
		case 1: // SIGTERM, then SIGINT at once: abort.
			require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
			require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
			select {
			case <-p.done:
				require.Error(t, p.err, "a second signal aborts: exit status not 0")
			case <-time.After(time.Minute):
				t.Fatal("no exit within a minute of the second signal")
			}
		default:
			p.stop()
			after := tablePositions(t, base)
			require.NotEqual(t, before, after, "SIGTERM committed what was buffered")
		}
	}
	// The last run serves its metrics and health.
	mlog, err := os.Create(filepath.Join(dir, "metrics-run.log"))
	require.NoError(t, err)
	defer mlog.Close()
	p.log = mlog
	p.args = append(p.args, "--metrics-addr", "127.0.0.1:0", "--commit-interval", "1s")
	p.start()
	produce(rounds*per, len(evs), end)
	waitPositions(t, base, end, 2*time.Minute)
	requireStreamMetrics(t, mlog.Name(), topic)
	p.stop()
	requireStreamTable(t, base, expected(evs), false)
}

// requireStreamMetrics reads the address a stream logged, then checks
// /healthz and the metrics a caught-up stream exposes.
func requireStreamMetrics(t *testing.T, logFile, topic string) {
	t.Helper()
	re := regexp.MustCompile(`metrics on http://([^/\s]+)/metrics`)
	var addr string
	for deadline := time.Now().Add(30 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		b, err := os.ReadFile(logFile)
		require.NoError(t, err)
		if m := re.FindSubmatch(b); m != nil {
			addr = string(m[1])
		}
	}
	require.NotEmpty(t, addr, "the stream logged its metrics address")
	get := func(path string) (int, string) {
		cl := http.Client{Timeout: 10 * time.Second}
		resp, err := cl.Get("http://" + addr + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, body := get("/healthz")
	require.Equal(t, http.StatusOK, code, body)
	// Lag reaches 0 once the commits are done and the fetches caught up.
	var text string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		_, text = get("/metrics")
		if strings.Contains(text, `hoodie_stream_lag{unit="`+topic+`/0"} 0`) {
			break
		}
	}
	for _, want := range []string{
		`hoodie_stream_lag{unit="` + topic + `/0"} 0`,
		"hoodie_stream_commits_total{",
		"hoodie_stream_commit_duration_seconds_bucket{",
		"hoodie_stream_records_total{",
		"hoodie_stream_rejected_records_total{",
		"hoodie_stream_buffer_bytes{",
		"hoodie_stream_index_entries{",
	} {
		require.Contains(t, text, want, "metrics:\n%s", text)
	}
	m := regexp.MustCompile(`(?m)^hoodie_stream_index_entries\{[^}]*\} (\d+)`).FindStringSubmatch(text)
	require.NotNil(t, m, text)
	n, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	require.Positive(t, n, "index entries")
}
