package stream_test

import (
	"context"

	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/stream"
	"github.com/hoodie-lake/hoodie/stream/payload"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
	"github.com/stretchr/testify/require"
)

// model is what a table of JSON events {id, ts, v} holds: per id, the
// event with the largest ts (on a tie, the later one), as the writer's
// event-time ordering keeps.
type model map[string]event

type event struct {
	ID string `json:"id"`
	Ts int64  `json:"ts"`
	V  string `json:"v"`
}

func (m model) apply(e event) {
	if cur, ok := m[e.ID]; !ok || e.Ts >= cur.Ts {
		m[e.ID] = e
	}
}

func partitionOf(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// produceEvents appends n events over keys ids to topic's partitions
// (by key hash): ts grows, and late of them carry an older ts than the
// key's latest (late events must never win).
func produceEvents(log *fakeLog, m model, topic string, parts, n, keys int, late float64, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 7))
	ts := map[string]int64{}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("k%03d", r.IntN(keys))
		t := ts[id] + 1 + int64(r.IntN(5))
		if r.Float64() < late && ts[id] > 3 {
			t = ts[id] - 1 - int64(r.IntN(3))
		} else {
			ts[id] = t
		}
		e := event{ID: id, Ts: t, V: fmt.Sprintf("v%d-%d", seed, i)}
		// Events of one key go to one partition, in order.
		log.produce(fmt.Sprintf("%s/%d", topic, partitionOf(id, parts)), []byte(id),
			fmt.Appendf(nil, `{"id":%q,"ts":%d,"v":%q}`, e.ID, e.Ts, e.V))
		m.apply(e)
	}
}

func jsonTable(loc string) stream.Table {
	return stream.Table{Location: loc, Payload: payload.Options{Format: payload.JSON},
		Create: &table.CreateOptions{Name: "events", RecordKeyFields: []string{"id"}, PrecombineField: "ts"}}
}

func baseOptions(t *testing.T, src stream.Source) stream.Options {
	return stream.Options{Source: src, Writer: writer.Options{IndexDir: t.TempDir()}, CommitInterval: time.Hour}
}

func requireModel(t *testing.T, loc string, m model) {
	t.Helper()
	rows := readRows(t, loc, "id")
	require.Len(t, rows, len(m))
	for id, e := range m {
		row, ok := rows[id]
		require.True(t, ok, "key %s missing", id)
		require.Equal(t, e.V, row["v"], "key %s", id)
		require.EqualValues(t, e.Ts, row["ts"], "key %s", id)
	}
}

func run(t *testing.T, opts stream.Options) (*stream.Service, error) {
	t.Helper()
	svc, err := stream.New(opts)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return svc, svc.Run(ctx)
}

// messagesCommitted sums the messages the services' commits covered.
func messagesCommitted(svcs ...*stream.Service) int64 {
	var n int64
	for _, s := range svcs {
		for _, ts := range s.Stats().Tables {
			n += ts.Messages
		}
	}
	return n
}

// (a) JSON events: dedup by key, event-time ordering with late events,
// commits by records, bytes and interval, the streamer checkpoint.
func TestJSONEventsCommitTriggers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(o *stream.Options, f *fakeSource)
		check func(t *testing.T, commits int)
	}{
		{"records", func(o *stream.Options, f *fakeSource) { o.CommitRecords = 100 }, func(t *testing.T, c int) { require.GreaterOrEqual(t, c, 5) }},
		{"bytes", func(o *stream.Options, f *fakeSource) { o.CommitBytes = 8 << 10 }, func(t *testing.T, c int) { require.GreaterOrEqual(t, c, 4) }},
		{"buffer bound", func(o *stream.Options, f *fakeSource) { o.MaxBufferBytes = 8 << 10 }, func(t *testing.T, c int) { require.GreaterOrEqual(t, c, 4) }},
		{"interval", func(o *stream.Options, f *fakeSource) {
			o.CommitInterval = 30 * time.Millisecond
			f.tickEvery, f.pause = 1, 8*time.Millisecond
		}, func(t *testing.T, c int) { require.GreaterOrEqual(t, c, 3) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := newFakeLog()
			m := model{}
			produceEvents(log, m, "ev", 3, 600, 80, 0.1, 1)
			loc := filepath.Join(t.TempDir(), "events")
			src := &fakeSource{log: log, batch: 20, stopDrained: 1}
			opts := baseOptions(t, src)
			opts.Table = jsonTable(loc)
			tc.set(&opts, src)
			svc, err := run(t, opts)
			require.NoError(t, err)
			requireModel(t, loc, m)
			tc.check(t, commits(t, loc))
			require.EqualValues(t, 600, messagesCommitted(svc))
			// The streamer's checkpoint: the next offset per partition.
			st, err := storage.Open(context.Background(), loc, storage.Options{})
			require.NoError(t, err)
			tbl, err := table.Open(context.Background(), st)
			require.NoError(t, err)
			cp, _, err := writer.LastCheckpoint(context.Background(), tbl)
			require.NoError(t, err)
			want := map[int32]int64{}
			for _, u := range log.units() {
				p, _ := strconv.Atoi(u[len("ev/"):])
				want[int32(p)] = int64(len(log.logs[u]))
			}
			require.Equal(t, writer.KafkaCheckpoint("ev", want), cp)
			require.Equal(t, strconv.FormatInt(want[0], 10), src.committed["ev/0"], "group offsets follow the table")
		})
	}
}

// (b) A new Service on the same table resumes from the positions the
// commits recorded: the source is asked to start there, nothing is read
// twice, nothing is lost.
func TestRestartResumesFromCommitMetadata(t *testing.T) {
	log := newFakeLog()
	m := model{}
	loc := filepath.Join(t.TempDir(), "events")
	produceEvents(log, m, "ev", 2, 300, 50, 0.1, 1)
	src1 := &fakeSource{log: log, batch: 25, stopDrained: 1}
	opts := baseOptions(t, src1)
	opts.Table, opts.CommitRecords = jsonTable(loc), 70
	svc1, err := run(t, opts)
	require.NoError(t, err)
	requireModel(t, loc, m)
	end := map[string]string{}
	for _, u := range log.units() {
		end[u] = strconv.Itoa(len(log.logs[u]))
	}

	produceEvents(log, m, "ev", 2, 300, 50, 0.1, 2)
	src2 := &fakeSource{log: log, batch: 25, stopDrained: 1}
	opts.Source = src2
	svc2, err := run(t, opts)
	require.NoError(t, err)
	requireModel(t, loc, m)
	require.Equal(t, end, src2.started, "the second run starts where the table's commits end")
	require.EqualValues(t, 300, messagesCommitted(svc1))
	require.EqualValues(t, 300, messagesCommitted(svc2))
}

// (c) A crash before a commit (an injected failure) and an Abort in the
// middle of the stream lose nothing and duplicate nothing after a
// restart.
func TestCrashAndAbortThenRestart(t *testing.T) {
	t.Run("crash", func(t *testing.T) {
		log := newFakeLog()
		m := model{}
		loc := filepath.Join(t.TempDir(), "events")
		produceEvents(log, m, "ev", 3, 600, 60, 0.1, 3)
		src := &fakeSource{log: log, batch: 10, failAt: 25}
		opts := baseOptions(t, src)
		opts.Table, opts.CommitRecords = jsonTable(loc), 60
		svc1, err := run(t, opts)
		require.ErrorContains(t, err, "injected crash")
		require.NotZero(t, commits(t, loc))

		src2 := &fakeSource{log: log, batch: 10, stopDrained: 1}
		opts.Source = src2
		svc2, err := run(t, opts)
		require.NoError(t, err)
		requireModel(t, loc, m)
		require.EqualValues(t, 600, messagesCommitted(svc1, svc2))
	})
	t.Run("abort", func(t *testing.T) {
		log := newFakeLog()
		m := model{}
		loc := filepath.Join(t.TempDir(), "events")
		produceEvents(log, m, "ev", 3, 900, 60, 0.1, 4)
		src := &fakeSource{log: log, batch: 10, pause: 2 * time.Millisecond}
		opts := baseOptions(t, src)
		opts.Table, opts.CommitRecords = jsonTable(loc), 50
		svc1, err := stream.New(opts)
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- svc1.Run(context.Background()) }()
		require.Eventually(t, func() bool { return svc1.Stats().Tables[loc].Commits >= 3 }, 30*time.Second, time.Millisecond)
		svc1.Abort()
		select {
		case err = <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return after Abort")
		}
		require.ErrorIs(t, err, stream.ErrAborted)
		require.Less(t, messagesCommitted(svc1), int64(900))

		src2 := &fakeSource{log: log, batch: 10, stopDrained: 1}
		opts.Source = src2
		svc2, err := run(t, opts)
		require.NoError(t, err)
		requireModel(t, loc, m)
		require.EqualValues(t, 900, messagesCommitted(svc1, svc2))
	})
}

// A graceful stop (Run's ctx ends) commits what is buffered and returns
// nil.
func TestGracefulStopCommitsBuffered(t *testing.T) {
	log := newFakeLog()
	m := model{}
	loc := filepath.Join(t.TempDir(), "events")
	produceEvents(log, m, "ev", 2, 200, 40, 0, 5)
	src := &fakeSource{log: log, batch: 50}
	opts := baseOptions(t, src)
	opts.Table = jsonTable(loc) // CommitRecords 100k, interval 1 h: only the stop commits
	svc, err := stream.New(opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	require.Eventually(t, func() bool {
		st := svc.Stats()
		return st.BufferedBytes > 0 && st.Tables[loc].BufferedMessages == 200
	}, 20*time.Second, time.Millisecond)
	require.NoError(t, svc.Health())
	cancel()
	require.NoError(t, <-done)
	requireModel(t, loc, m)
	require.Equal(t, 1, commits(t, loc))
	require.Error(t, svc.Health(), "not running")
}

// member drives a Service as a consumer group member would: the test is
// the group coordinator and the fetcher.
type member struct {
	t    *testing.T
	svc  *stream.Service
	log  *fakeLog
	pos  map[string]int // the next offset this member reads, per unit it owns
	logs *syncBuffer
}

func newMember(t *testing.T, log *fakeLog, loc string) *member {
	opts := baseOptions(t, &fakeSource{log: log})
	opts.Table = jsonTable(loc)
	opts.Writer.IndexDir = t.TempDir()
	logs := &syncBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	svc, err := stream.New(opts)
	require.NoError(t, err)
	return &member{t: t, svc: svc, log: log, pos: map[string]int{}, logs: logs}
}

func (m *member) assign(units ...string) map[string]string {
	start, err := m.svc.Assigned(context.Background(), units)
	require.NoError(m.t, err)
	for _, u := range units {
		n := 0
		if start[u] != "" {
			n, _ = strconv.Atoi(start[u])
		}
		m.pos[u] = n
	}
	return start
}

// feed hands over the next n messages of unit.
func (m *member) feed(unit string, n int) {
	msgs := m.log.read(unit, m.pos[unit], n)
	if len(msgs) == 0 {
		return
	}
	require.NoError(m.t, m.svc.Messages(context.Background(), msgs))
	m.pos[unit] += len(msgs)
}

// commit commits the member's table: the group revokes one of its units
// and gives it back (Revoked commits the buffer of the unit's table).
func (m *member) commit() {
	for u, p := range m.pos {
		m.revoke(u)
		m.assign(u)
		require.GreaterOrEqual(m.t, m.pos[u], p)
		return
	}
}

func (m *member) revoke(units ...string) {
	require.NoError(m.t, m.svc.Revoked(context.Background(), units))
	for _, u := range units {
		delete(m.pos, u)
	}
}

// (d) Two Services share one table; the group moves units between them
// (revoke → commit → assign), and one of them, a zombie, keeps consuming
// and commits a unit it lost: its commit fails with writer.ErrClaimed, it
// reads the positions again and commits only what the new owner did
// not. The table equals the model, and every message is committed once.
func TestGroupRebalanceAndZombie(t *testing.T) {
	log := newFakeLog()
	mod := model{}
	loc := filepath.Join(t.TempDir(), "events")
	produceEvents(log, mod, "ev", 4, 1200, 100, 0.1, 6)
	units := log.units()
	require.Len(t, units, 4)
	u0, u1, u2, u3 := units[0], units[1], units[2], units[3]
	a, b := newMember(t, log, loc), newMember(t, log, loc)

	a.assign(units...)
	for _, u := range units {
		a.feed(u, 30)
	}
	a.commit()
	for _, u := range units {
		a.feed(u, 20) // buffered, committed by the revoke
	}
	a.revoke(u2, u3)
	start := b.assign(u2, u3)
	require.Equal(t, map[string]string{u2: "50", u3: "50"}, start, "the new owner starts where the table's commits end")

	a.feed(u0, 40)
	b.feed(u2, 40)
	b.feed(u3, 40) // u3 at 90, committed below
	a.commit()
	b.commit()
	b.feed(u3, 30) // u3 at 120, buffered

	// The group moves u3 to a; b is not told (a zombie).
	start = a.assign(u3)
	require.Equal(t, "90", start[u3])
	a.feed(u3, 60) // a reads u3 90..150 and commits it
	a.commit()
	b.feed(u3, 50) // the zombie reads on to 170
	b.feed(u2, 10)
	b.commit() // ErrClaimed inside: b drops u3 ≤ 150 and commits 150..170 and its u2
	require.Contains(t, b.logs.String(), "consumed by another commit", "the zombie's commit was refused")
	b.revoke(u3)

	// a goes on from 150: what b committed (150..170) is skipped.
	for _, u := range []string{u0, u1, u3} {
		a.feed(u, 1000)
	}
	b.feed(u2, 1000)
	a.commit()
	b.commit()
	a.revoke(u0, u1, u3)
	b.revoke(u2)

	requireModel(t, loc, mod)
	require.EqualValues(t, 1200, messagesCommitted(a.svc, b.svc), "every message committed exactly once")
	// The table's positions are the ends of the logs.
	c := newMember(t, log, loc)
	end := c.assign(units...)
	for _, u := range units {
		require.Equal(t, strconv.Itoa(len(log.logs[u])), end[u], u)
	}
}

// dbz builds Debezium change events (JSON without the schema envelope,
// PostgreSQL positions) of table inventory.public.<tbl>.
type dbz struct{ lsn int64 }

func (d *dbz) event(tbl, op string, before, after string) []byte {
	d.lsn += 10
	if before == "" {
		before = "null"
	}
	if after == "" {
		after = "null"
	}
	return fmt.Appendf(nil, `{"before":%s,"after":%s,"source":{"db":"inventory","schema":"public","table":%q,"lsn":%d,"ts_ms":1700000000000},"op":%q,"ts_ms":1700000000001}`,
		before, after, tbl, d.lsn, op)
}

func key(id int) []byte { return fmt.Appendf(nil, `{"id":%d}`, id) }

func dbzOptions(t *testing.T, src stream.Source, root string) stream.Options {
	opts := baseOptions(t, src)
	opts.Routes = []stream.Route{{TopicRegex: `dbz\.inventory\..*`, LocationTemplate: root + "/{db}/{table}",
		Create: &table.CreateOptions{}, Payload: payload.Options{Format: payload.Debezium}}}
	opts.MaxOpenTables = 10
	opts.CommitRecords = 7
	return opts
}

// (e) Debezium topics routed to 50 tables by one Service with at most 10
// open writers: tables created with the Debezium key, a new column
// mid-stream, deletes, a truncate applied (delete-all) or refused (fail).
func TestDebeziumManyTables(t *testing.T) {
	root := t.TempDir()
	log := newFakeLog()
	d := &dbz{}
	const tables = 50
	for round := 0; round < 3; round++ {
		for i := 0; i < tables; i++ {
			tbl := fmt.Sprintf("t%02d", i)
			unit := "dbz.inventory." + tbl + "/0"
			for id := round * 3; id < round*3+3; id++ {
				after := fmt.Sprintf(`{"id":%d,"name":"n%d"}`, id, id)
				if i == 0 && round == 2 {
					after = fmt.Sprintf(`{"id":%d,"name":"n%d","email":"e%d@x"}`, id, id, id) // a new column
				}
				log.produce(unit, key(id), d.event(tbl, "c", "", after))
			}
			if round == 1 {
				log.produce(unit, key(0), d.event(tbl, "u", `{"id":0,"name":"n0"}`, `{"id":0,"name":"n0b"}`))
				log.produce(unit, key(1), d.event(tbl, "d", `{"id":1,"name":"n1"}`, ""))
				log.produce(unit, key(1), nil) // Kafka tombstone after a delete
			}
			if round == 1 && i == 1 {
				log.produce(unit, nil, d.event(tbl, "t", "", "")) // truncate of t01: rows 0..5 go
			}
		}
	}
	src := &fakeSource{log: log, batch: 4, stopDrained: 1}
	opts := dbzOptions(t, src, root)
	opts.OnTruncate = stream.TruncateDeleteAll
	svc, err := run(t, opts)
	require.NoError(t, err)
	st := svc.Stats()
	require.Len(t, st.Tables, tables)
	require.LessOrEqual(t, st.OpenTables, 10)

	for i := 0; i < tables; i++ {
		rows := readRows(t, filepath.Join(root, "inventory", fmt.Sprintf("t%02d", i)), "id")
		want := map[string]string{"0": "n0b", "2": "n2", "3": "n3", "4": "n4", "5": "n5", "6": "n6", "7": "n7", "8": "n8"}
		if i == 1 {
			want = map[string]string{"6": "n6", "7": "n7", "8": "n8"}
		}
		got := map[string]string{}
		for k, r := range rows {
			got[k] = fmt.Sprint(r["name"])
		}
		require.Equal(t, want, got, "table t%02d", i)
		if i == 0 {
			require.Equal(t, "e7@x", rows["7"]["email"])
			require.Nil(t, rows["2"]["email"])
		}
	}
	// The key came from the Debezium key, the ordering from the position.
	stg, err := storage.Open(context.Background(), filepath.Join(root, "inventory", "t07"), storage.Options{})
	require.NoError(t, err)
	tb, err := table.Open(context.Background(), stg)
	require.NoError(t, err)
	require.Equal(t, []string{"id"}, tb.Config().RecordKeyFields)
	require.Equal(t, payload.PosField, tb.Config().PrecombineField)
	require.Equal(t, "t07", tb.Config().Name)

	t.Run("truncate fails loudly", func(t *testing.T) {
		root := t.TempDir()
		log := newFakeLog()
		d := &dbz{}
		unit := "dbz.inventory.items/0"
		log.produce(unit, key(1), d.event("items", "c", "", `{"id":1,"name":"a"}`))
		log.produce(unit, key(2), d.event("items", "c", "", `{"id":2,"name":"b"}`))
		log.produce(unit, nil, d.event("items", "t", "", ""))
		log.produce(unit, key(3), d.event("items", "c", "", `{"id":3,"name":"c"}`))
		src := &fakeSource{log: log, batch: 10, stopDrained: 1}
		opts := dbzOptions(t, src, root)
		_, err := run(t, opts)
		require.ErrorIs(t, err, stream.ErrTruncate)
		require.ErrorContains(t, err, unit)
		require.ErrorContains(t, err, "position 2")
		loc := filepath.Join(root, "inventory", "items")
		require.ErrorContains(t, err, loc)
		rows := readRows(t, loc, "id")
		require.Len(t, rows, 2, "the events before the truncate are committed")
		// A restart stops at the truncate again.
		opts.Source = &fakeSource{log: log, batch: 10, stopDrained: 1}
		_, err = run(t, opts)
		require.ErrorIs(t, err, stream.ErrTruncate)
		require.Len(t, readRows(t, loc, "id"), 2)
	})
}

// (f) Bad messages go to the ErrorSink with their unit and position,
// before the commit that moves past them; Strict fails instead.
func TestBadMessages(t *testing.T) {
	produce := func(log *fakeLog) {
		log.produce("ev/0", []byte("a"), []byte(`{"id":"a","ts":1,"v":"x"}`))
		log.produce("ev/0", []byte("b"), []byte(`{"id":"b","ts":1,`))            // not JSON
		log.produce("ev/0", []byte("c"), []byte(`{"ts":1,"v":"no key"}`))        // no record key
		log.produce("ev/0", []byte("d"), []byte(`{"id":"d","ts":null,"v":"x"}`)) // null ordering value
		log.produce("ev/0", []byte("e"), []byte(`{"id":"e","ts":2,"v":"y"}`))
		log.produce("ev/0", []byte("f"), nil) // tombstone
	}
	log := newFakeLog()
	produce(log)
	loc := filepath.Join(t.TempDir(), "events")
	sink := &memSink{}
	src := &fakeSource{log: log, batch: 10, stopDrained: 1}
	opts := baseOptions(t, src)
	opts.Table, opts.ErrorSink = jsonTable(loc), sink
	svc, err := run(t, opts)
	require.NoError(t, err)
	rows := readRows(t, loc, "id")
	require.Len(t, rows, 2)
	recs := sink.records()
	got := map[string]string{}
	for _, r := range recs {
		require.Equal(t, "ev/0", r.Unit)
		require.Equal(t, loc, r.Table)
		require.NotEmpty(t, r.Reason)
		got[r.Position] = string(r.Key)
	}
	require.Equal(t, map[string]string{"1": "b", "2": "c", "3": "d"}, got)
	require.EqualValues(t, 6, messagesCommitted(svc))

	t.Run("strict", func(t *testing.T) {
		log := newFakeLog()
		produce(log)
		loc := filepath.Join(t.TempDir(), "events")
		sink := &memSink{}
		src := &fakeSource{log: log, batch: 10, stopDrained: 1}
		opts := baseOptions(t, src)
		opts.Table, opts.ErrorSink, opts.Strict = jsonTable(loc), sink, true
		_, err := run(t, opts)
		require.ErrorIs(t, err, stream.ErrBadMessage)
		require.ErrorContains(t, err, "ev/0 position 1")
		require.Empty(t, sink.records())
	})

	t.Run("unroutable", func(t *testing.T) {
		log := newFakeLog()
		log.produce("other/0", []byte("k"), []byte(`{}`))
		sink := &memSink{}
		src := &fakeSource{log: log, batch: 10, stopDrained: 1}
		opts := dbzOptions(t, src, t.TempDir())
		opts.ErrorSink = sink
		_, err := run(t, opts)
		require.NoError(t, err)
		recs := sink.records()
		require.Len(t, recs, 1)
		require.Equal(t, "other/0", recs[0].Unit)
		require.Equal(t, "0", recs[0].Position)
		require.Contains(t, recs[0].Reason, "matches no route")
	})
}

// Table services in the process: compaction and cleaning run in the
// background after every Every commits of a merge-on-read table.
func TestServicesCompactAndClean(t *testing.T) {
	log := newFakeLog()
	m := model{}
	loc := filepath.Join(t.TempDir(), "events")
	produceEvents(log, m, "ev", 2, 600, 40, 0.05, 8)
	compacted := func() bool {
		st, err := storage.Open(context.Background(), loc, storage.Options{})
		if err != nil {
			return false
		}
		tl, err := timeline.Load(context.Background(), st)
		if err != nil {
			return false
		}
		for _, inst := range tl.Completed() {
			if inst.Action == timeline.Commit {
				return true
			}
		}
		return false
	}
	src := &fakeSource{log: log, batch: 20, stopDrained: 1, until: compacted}
	opts := baseOptions(t, src)
	opts.Table = jsonTable(loc)
	opts.Table.Create.Type = table.MergeOnRead
	opts.CommitRecords = 60
	opts.Services = stream.Services{Every: 3, Compact: true, Compactor: compactor.Options{DeltaCommits: 2},
		Clean: true, Cleaner: cleaner.Options{CommitsRetained: 2}}
	svc, err := run(t, opts)
	require.NoError(t, err)
	requireModel(t, loc, m)
	for l, ts := range svc.Stats().Tables {
		require.Empty(t, ts.ServiceError, l)
	}
	st, err := storage.Open(context.Background(), loc, storage.Options{})
	require.NoError(t, err)
	tl, err := timeline.Load(context.Background(), st)
	require.NoError(t, err)
	actions := map[timeline.Action]int{}
	for _, inst := range tl.Completed() {
		actions[inst.Action]++
	}
	require.NotZero(t, actions[timeline.Commit], "a compaction completed: %v", actions)
	require.NotZero(t, actions[timeline.DeltaCommit], "%v", actions)
}

func TestOptionsValidate(t *testing.T) {
	src := &fakeSource{log: newFakeLog()}
	js := payload.Options{Format: payload.JSON}
	for _, tc := range []struct {
		name string
		set  func(o *stream.Options)
		want string
	}{
		{"ok", func(o *stream.Options) {}, ""},
		{"no source", func(o *stream.Options) { o.Source = nil }, "no Source"},
		{"no destination", func(o *stream.Options) { o.Table = stream.Table{} }, "no destination"},
		{"both", func(o *stream.Options) {
			o.Routes = []stream.Route{{TopicRegex: "x", LocationTemplate: "/t/{topic}", Payload: js}}
		}, "both"},
		{"bad placeholder", func(o *stream.Options) {
			o.Table = stream.Table{}
			o.Routes = []stream.Route{{TopicRegex: "x", LocationTemplate: "/t/{tbl}", Payload: js}}
		}, "unknown placeholder {tbl}"},
		{"bad regex", func(o *stream.Options) {
			o.Table = stream.Table{}
			o.Routes = []stream.Route{{TopicRegex: "(", LocationTemplate: "/t/{topic}", Payload: js}}
		}, "TopicRegex"},
		{"no format", func(o *stream.Options) { o.Table.Payload = payload.Options{} }, "Format"},
		{"truncate", func(o *stream.Options) { o.OnTruncate = "ignore" }, "OnTruncate"},
		{"overwrite payload", func(o *stream.Options) { o.Table.Create.PayloadClass = table.PayloadOverwriteWithLatest }, "event-time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := stream.Options{Source: src, Table: jsonTable("/tmp/x")}
			tc.set(&o)
			o.EnsureDefaults()
			err := o.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// Kinesis positions: sequence numbers (compared as decimals of any
// length), a closed shard's PositionEnd, and the streamer checkpoint
// "stream,shardId:sequence,...".
func TestKinesisPositions(t *testing.T) {
	log := newFakeLog()
	m := model{}
	const parent, child = "events/shardId-000000000000", "events/shardId-000000000001"
	add := func(unit string, from, n int) {
		for i := from; i < from+n; i++ {
			e := event{ID: fmt.Sprintf("k%02d", i%30), Ts: int64(i), V: fmt.Sprintf("v%d", i)}
			log.produceKinesis(unit, []byte(e.ID), fmt.Appendf(nil, `{"id":%q,"ts":%d,"v":%q}`, e.ID, e.Ts, e.V), false)
			m.apply(e)
		}
	}
	add(parent, 0, 40)
	log.produceKinesis(parent, nil, nil, true) // resharded: the parent is read to its end
	add(child, 40, 40)
	loc := filepath.Join(t.TempDir(), "events")
	src := &fakeSource{log: log, batch: 15, stopDrained: 1}
	opts := baseOptions(t, src)
	opts.Table, opts.CommitRecords = jsonTable(loc), 25
	svc1, err := run(t, opts)
	require.NoError(t, err)
	requireModel(t, loc, m)

	st, err := storage.Open(context.Background(), loc, storage.Options{})
	require.NoError(t, err)
	tbl, err := table.Open(context.Background(), st)
	require.NoError(t, err)
	cp, _, err := writer.LastCheckpoint(context.Background(), tbl)
	require.NoError(t, err)
	require.Equal(t, "events,shardId-000000000000:end,shardId-000000000001:"+log.logs[child][39].Next, cp)

	add(child, 80, 20)
	src2 := &fakeSource{log: log, batch: 15, stopDrained: 1}
	opts.Source = src2
	svc2, err := run(t, opts)
	require.NoError(t, err)
	requireModel(t, loc, m)
	require.Equal(t, map[string]string{parent: stream.PositionEnd, child: log.logs[child][39].Next}, src2.started)
	require.EqualValues(t, 101, messagesCommitted(svc1, svc2))
}

// Two Services that both believe they own every unit (the worst zombie
// case) feed and commit concurrently: each commit that overlaps the
// other's fails with writer.ErrClaimed, in flight or completed, and is
// retried with what the other did not commit. Every message is committed
// exactly once.
func TestConcurrentOwnersOfOneUnit(t *testing.T) {
	log := newFakeLog()
	mod := model{}
	loc := filepath.Join(t.TempDir(), "events")
	produceEvents(log, mod, "ev", 2, 600, 60, 0.1, 9)
	units := log.units()
	a, b := newMember(t, log, loc), newMember(t, log, loc)
	// Create the table first, so both members account against it.
	a.assign(units...)
	a.feed(units[0], 1)
	a.commit()
	b.assign(units...)
	errs := make(chan error, 2)
	for _, m := range []*member{a, b} {
		go func() {
			ctx := context.Background()
			for round := 0; ; round++ {
				fed := false
				for _, u := range units {
					msgs := m.log.read(u, m.pos[u], 15)
					if len(msgs) == 0 {
						continue
					}
					fed = true
					if err := m.svc.Messages(ctx, msgs); err != nil {
						errs <- err
						return
					}
					m.pos[u] += len(msgs)
				}
				// Commit: the group revokes and gives back every unit.
				if err := m.svc.Revoked(ctx, units); err != nil {
					errs <- err
					return
				}
				start, err := m.svc.Assigned(ctx, units)
				if err != nil {
					errs <- err
					return
				}
				for _, u := range units {
					n, _ := strconv.Atoi(start[u])
					m.pos[u] = max(m.pos[u], n)
				}
				if !fed {
					errs <- m.svc.Revoked(ctx, units)
					return
				}
			}
		}()
	}
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	requireModel(t, loc, mod)
	require.EqualValues(t, 600, messagesCommitted(a.svc, b.svc))
	t.Logf("a committed %d messages, b %d; claims refused: a %d, b %d", messagesCommitted(a.svc), messagesCommitted(b.svc),
		strings.Count(a.logs.String(), "consumed by another commit"), strings.Count(b.logs.String(), "consumed by another commit"))
}
