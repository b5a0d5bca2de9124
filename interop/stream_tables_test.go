package interop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hoodie-lake/hoodie/internal/testbroker"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// dbzRow is the state of one row of a Debezium-fed table in the model.
type dbzRow struct {
	name string
	qty  int64
	note *string // the column added mid-stream; nil: null
}

// dbzTable is one source table of the many-tables test: the messages of
// its topic and the rows the Hudi table must hold at the end.
type dbzTable struct {
	name      string // t0000
	topic     string
	schema    bool // the schema envelope on values and keys
	evolves   bool // column "note" appears mid-stream
	truncates bool // an op t mid-stream
	recs      []*kgo.Record
	want      map[int64]dbzRow
}

const dbzNewColumnFrom = 12 // the event from which an evolving table carries "note"

// dbzEnvelope returns the Debezium value of one change event, in the
// PostgreSQL connector's shape, with or without the schema envelope.
func (tb *dbzTable) dbzEnvelope(op string, before, after map[string]any, lsn int64, withNote bool) []byte {
	src := map[string]any{"version": "2.7.0.Final", "connector": "postgresql", "name": "dbserver1",
		"ts_ms": 1764578400000 + lsn, "snapshot": "false", "db": "postgres", "sequence": fmt.Sprintf(`[null,"%d"]`, lsn),
		"schema": "inventory", "table": tb.name, "txId": 700 + lsn, "lsn": lsn, "xmin": nil}
	if op == "r" {
		src["snapshot"] = "true"
	}
	p := map[string]any{"before": before, "after": after, "source": src, "op": op, "ts_ms": 1764578400100 + lsn, "transaction": nil}
	if !tb.schema {
		b, _ := json.Marshal(p)
		return b
	}
	rowFields := []any{
		map[string]any{"type": "int32", "optional": false, "field": "id"},
		map[string]any{"type": "string", "optional": true, "field": "name"},
		map[string]any{"type": "int64", "optional": true, "field": "qty"},
	}
	if withNote {
		rowFields = append(rowFields, map[string]any{"type": "string", "optional": true, "field": "note"})
	}
	valueName := "dbserver1.inventory." + tb.name + ".Value"
	sch := map[string]any{"type": "struct", "optional": false, "name": "dbserver1.inventory." + tb.name + ".Envelope", "version": 2,
		"fields": []any{
			map[string]any{"type": "struct", "optional": true, "name": valueName, "field": "before", "fields": rowFields},
			map[string]any{"type": "struct", "optional": true, "name": valueName, "field": "after", "fields": rowFields},
			map[string]any{"type": "struct", "optional": false, "name": "io.debezium.connector.postgresql.Source", "field": "source",
				"fields": []any{
					map[string]any{"type": "string", "optional": false, "field": "connector"},
					map[string]any{"type": "int64", "optional": false, "field": "ts_ms"},
					map[string]any{"type": "string", "optional": false, "field": "db"},
					map[string]any{"type": "string", "optional": false, "field": "schema"},
					map[string]any{"type": "string", "optional": false, "field": "table"},
					map[string]any{"type": "int64", "optional": true, "field": "lsn"},
				}},
			map[string]any{"type": "string", "optional": false, "field": "op"},
			map[string]any{"type": "int64", "optional": true, "field": "ts_ms"},
		}}
	b, _ := json.Marshal(map[string]any{"schema": sch, "payload": p})
	return b
}

func (tb *dbzTable) dbzKey(id int64) []byte {
	if !tb.schema {
		return []byte(fmt.Sprintf(`{"id":%d}`, id))
	}
	return []byte(fmt.Sprintf(`{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"dbserver1.inventory.%s.Key"},"payload":{"id":%d}}`, tb.name, id))
}

// dbzTables generates n tables' change streams: a snapshot (op r) of
// five rows, creates, updates, one delete followed by its tombstone, on
// every tenth table a column appearing mid-stream (with and without the
// schema envelope), on table t0001 a
// truncate. The model is the last event per id; deleted ids absent; a
// truncate empties the table.
func dbzTables(n int, seed int64) []*dbzTable {
	rng := rand.New(rand.NewSource(seed))
	out := make([]*dbzTable, n)
	for i := range out {
		tb := &dbzTable{name: fmt.Sprintf("t%04d", i), schema: i%2 == 0, evolves: i%10 == 3+(i/10)%2, truncates: i == 1,
			want: map[int64]dbzRow{}}
		tb.topic = "dbserver1.inventory." + tb.name
		row := func(id int64, r dbzRow) map[string]any {
			m := map[string]any{"id": id, "name": r.name, "qty": r.qty}
			if r.note != nil {
				m["note"] = *r.note
			}
			return m
		}
		lsn := int64(1000)
		ev := 0
		emit := func(op string, id int64, before, after map[string]any) {
			lsn += 8 + int64(rng.Intn(40))
			withNote := tb.evolves && ev >= dbzNewColumnFrom
			if after != nil && withNote {
				if _, ok := after["note"]; !ok && tb.schema {
					after["note"] = nil
				}
			}
			tb.recs = append(tb.recs, &kgo.Record{Topic: tb.topic, Partition: 0, Key: tb.dbzKey(id),
				Value: tb.dbzEnvelope(op, before, after, lsn, withNote)})
			ev++
		}
		nextID := int64(1)
		upsert := func(op string, id int64) {
			r := dbzRow{name: fmt.Sprintf("%s-%d-%d-ü", tb.name, id, ev), qty: int64(rng.Intn(1000))}
			if tb.evolves && ev >= dbzNewColumnFrom && rng.Intn(3) > 0 {
				s := fmt.Sprintf("note %d/%d", id, ev)
				r.note = &s
			}
			var before map[string]any
			if op == "u" {
				before = row(id, tb.want[id])
			}
			emit(op, id, before, row(id, r))
			tb.want[id] = r
		}
		for ; nextID <= 5; nextID++ { // the snapshot
			upsert("r", nextID)
		}
		for ev < 20 {
			switch {
			case tb.truncates && ev == 9:
				lsn += 10
				b, _ := json.Marshal(map[string]any{"op": "t", "ts_ms": 1764578400100 + lsn, "before": nil, "after": nil,
					"source": map[string]any{"connector": "postgresql", "name": "dbserver1", "db": "postgres", "schema": "inventory",
						"table": tb.name, "lsn": lsn, "ts_ms": 1764578400000 + lsn}})
				tb.recs = append(tb.recs, &kgo.Record{Topic: tb.topic, Partition: 0, Value: b})
				ev++
				tb.want = map[int64]dbzRow{}
			case ev == 14: // a delete and its tombstone
				ids := make([]int64, 0, len(tb.want))
				for id := range tb.want {
					ids = append(ids, id)
				}
				sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
				id := ids[rng.Intn(len(ids))]
				before := row(id, tb.want[id])
				emit("d", id, before, nil)
				tb.recs = append(tb.recs, &kgo.Record{Topic: tb.topic, Partition: 0, Key: tb.dbzKey(id)}) // tombstone
				delete(tb.want, id)
			case rng.Intn(2) == 0 && len(tb.want) > 0: // update
				ids := make([]int64, 0, len(tb.want))
				for id := range tb.want {
					ids = append(ids, id)
				}
				sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
				upsert("u", ids[rng.Intn(len(ids))])
			default:
				upsert("c", nextID)
				nextID++
			}
		}
		out[i] = tb
	}
	return out
}

// createTopics creates the topics (one partition each) in batches and
// waits until each has a leader.
func createTopics(t *testing.T, kb *testbroker.KafkaBroker, names []string) {
	t.Helper()
	adm := kb.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for lo := 0; lo < len(names); lo += 100 {
		batch := names[lo:min(lo+100, len(names))]
		res, err := adm.CreateTopics(ctx, 1, 1, nil, batch...)
		require.NoError(t, err)
		for _, r := range res {
			require.NoError(t, r.Err, "create topic %s", r.Topic)
		}
	}
	pending := names
	for len(pending) > 0 {
		md, err := adm.Metadata(ctx, pending...)
		var still []string
		for _, n := range pending {
			td, ok := md.Topics[n]
			if err != nil || !ok || td.Err != nil || len(td.Partitions) != 1 || td.Partitions[0].Err != nil || td.Partitions[0].Leader < 0 {
				still = append(still, n)
			}
		}
		pending = still
		if len(pending) > 0 {
			require.NoError(t, ctx.Err(), "%d topics without a leader", len(pending))
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// readDbzTable reads a table with hoodie's reader: id → row.
func readDbzTable(t *testing.T, base string) (map[int64]dbzRow, *table.Table, bool) {
	t.Helper()
	ctx := context.Background()
	st, err := storage.NewLocal(base)
	require.NoError(t, err)
	tbl, err := table.Open(ctx, st)
	require.NoError(t, err, base)
	recs, err := reader.ReadAll(ctx, tbl, reader.Options{})
	require.NoError(t, err, base)
	got := map[int64]dbzRow{}
	hasNote := false
	for _, r := range recs {
		col := func(n string) int {
			i := r.Schema().FieldIndices(n)
			if len(i) == 0 {
				return -1
			}
			return i[0]
		}
		ic, nc, qc, notec := col("id"), col("name"), col("qty"), col("note")
		require.True(t, ic >= 0 && nc >= 0 && qc >= 0, "%s: columns %v", base, r.Schema())
		hasNote = hasNote || notec >= 0
		for i := 0; i < int(r.NumRows()); i++ {
			id, err := strconv.ParseInt(r.Column(ic).ValueStr(i), 10, 64)
			require.NoError(t, err)
			q, err := strconv.ParseInt(r.Column(qc).ValueStr(i), 10, 64)
			require.NoError(t, err)
			row := dbzRow{name: r.Column(nc).ValueStr(i), qty: q}
			if notec >= 0 && !r.Column(notec).IsNull(i) {
				s := r.Column(notec).ValueStr(i)
				row.note = &s
			}
			_, dup := got[id]
			require.False(t, dup, "%s: id %d stored twice", base, id)
			got[id] = row
		}
		r.Release()
	}
	return got, tbl, hasNote
}

func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// TestStreamDebeziumManyTables: one `hoodie stream` process reads 800
// Debezium topics (PostgreSQL connector shape; half with the schema
// envelope, half without; snapshot reads, creates, updates, a delete and
// its tombstone in each; a column appearing mid-stream on every tenth; a
// truncate on one, applied with --on-truncate delete-all) and routes each
// to its own merge-on-read table, with at most 64 writers open and 64 MiB
// buffered. Every table equals its model for hoodie's reader, five also
// for hudi-rs. Wall time, peak RSS and commits are logged, not asserted
// (the figures in bench/README.md: the peak RSS follows --max-open-tables,
// about 44 MiB per open writer, mostly its index's Badger memtable arena,
// not --max-buffer-bytes). HOODIE_STREAM_TABLES changes the number of
// tables.
func TestStreamDebeziumManyTables(t *testing.T) {
	n := 800
	if s := os.Getenv("HOODIE_STREAM_TABLES"); s != "" {
		var err error
		n, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	start := time.Now()
	hoodieBinary(t) // built before the clock of the run starts
	kb := testbroker.Kafka(t)
	tables := dbzTables(n, 15)
	names := make([]string, n)
	var recs []*kgo.Record
	for i, tb := range tables {
		names[i] = tb.topic
		recs = append(recs, tb.recs...)
	}
	setup := time.Now()
	createTopics(t, kb, names)
	created := time.Since(setup)
	kb.Produce(t, "", recs...)
	t.Logf("%d topics created in %s, %d messages produced in %s", n, created.Round(time.Millisecond), len(recs),
		(time.Since(setup) - created).Round(time.Millisecond))

	dir := t.TempDir()
	lake := filepath.Join(dir, "lake")
	lf, err := os.Create(filepath.Join(dir, "stream.log"))
	require.NoError(t, err)
	t.Cleanup(func() { lf.Close() })
	p := &streamProc{t: t, log: lf, args: []string{"stream",
		"--kafka-brokers", kb.Addr(), "--topic-regex", `dbserver1\.inventory\..*`, "--group", "many-tables",
		"--format", "debezium", "--route", `dbserver1\.inventory\..*=` + lake + "/{db}/{table}", "--type", "mor",
		"--on-truncate", "delete-all", "--max-open-tables", "64", "--max-buffer-bytes", "64MiB",
		"--commit-interval", "2s", "--index-dir", filepath.Join(dir, "idx"),
		"--errors", filepath.Join(dir, "errors.jsonl"), "--log-level", "info"}}
	run := time.Now()
	p.start()
	stopSampling := sampleRSS(p.cmd.Process.Pid)
	t.Cleanup(func() {
		if p.cmd != nil && p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
		}
		if t.Failed() {
			b, _ := os.ReadFile(lf.Name())
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("stream log tail:\n%s", b)
		}
	})

	deadline := time.Now().Add(4 * time.Minute)
	var firstAll time.Duration
	for i, tb := range tables {
		p.requireRunning()
		base := filepath.Join(lake, "postgres", tb.name)
		waitPositions(t, base, map[string]string{tb.topic + "/0": strconv.Itoa(len(tb.recs))}, time.Until(deadline))
		if i == len(tables)-1 {
			firstAll = time.Since(run)
		}
	}
	hwm, err := vmHWM(p.cmd.Process.Pid)
	require.NoError(t, err)
	t.Logf("RSS samples: %s", stopSampling())
	p.stop()
	stopped := time.Since(run)
	maxrss := int64(p.cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) << 10

	// Every table against its model.
	ctx := context.Background()
	check := time.Now()
	commits, rows := 0, 0
	var sample []int
	seenEvolving := map[bool]bool{}
	for i, tb := range tables {
		base := filepath.Join(lake, "postgres", tb.name)
		got, tbl, hasNote := readDbzTable(t, base)
		require.Equal(t, tb.evolves, hasNote, "%s: the new column", tb.name)
		require.Equal(t, len(tb.want), len(got), "%s: rows", tb.name)
		for id, w := range tb.want {
			g, ok := got[id]
			require.True(t, ok, "%s: id %d lost", tb.name, id)
			require.Equal(t, w.name, g.name, "%s: id %d", tb.name, id)
			require.Equal(t, w.qty, g.qty, "%s: id %d", tb.name, id)
			require.Equal(t, w.note, g.note, "%s: id %d: note", tb.name, id)
		}
		tl, err := timeline.Load(ctx, tbl.Storage())
		require.NoError(t, err)
		commits += len(tl.CompletedCommits())
		rows += len(got)
		if evolving := tb.evolves && !seenEvolving[tb.schema]; i == 0 || tb.truncates || evolving || i == n-1 {
			sample = append(sample, i) // the first, the truncated, the first evolving with and without schema, the last
			seenEvolving[tb.schema] = seenEvolving[tb.schema] || evolving
		}
	}
	checked := time.Since(check)
	b, err := os.ReadFile(filepath.Join(dir, "errors.jsonl"))
	if err == nil {
		require.Empty(t, string(b), "no message is bad")
	}
	for _, i := range sample {
		base := filepath.Join(lake, "postgres", tables[i].name)
		st, err := storage.NewLocal(base)
		require.NoError(t, err)
		tbl, err := table.Open(ctx, st)
		require.NoError(t, err)
		compare(t, tbl, base, len(tables[i].want))
	}
	t.Logf("%d tables, %d messages, %d rows: all tables at their topic's end %s after start, stopped (SIGTERM, exit 0) at %s; "+
		"%d commits (%.1f per table); peak RSS %d MiB (VmHWM before SIGTERM %d MiB); model check %s; hudi-rs on tables %v; total %s",
		n, len(recs), rows, firstAll.Round(time.Millisecond), stopped.Round(time.Millisecond), commits, float64(commits)/float64(n),
		maxrss>>20, hwm>>20, checked.Round(time.Millisecond), sample, time.Since(start).Round(time.Millisecond))
}

// sampleRSS samples the process's RssAnon and RssFile every 200 ms until
// the returned function is called, which describes them (the maxima and
// a sample every 2 s, in MiB).
func sampleRSS(pid int) func() string {
	stop := make(chan struct{})
	res := make(chan string, 1)
	go func() {
		var maxAnon, maxFile int64
		var trace []string
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		start := time.Now()
		for i := 0; ; i++ {
			select {
			case <-stop:
				res <- fmt.Sprintf("max RssAnon %d MiB, max RssFile %d MiB; %s", maxAnon>>20, maxFile>>20, strings.Join(trace, " "))
				return
			case <-tick.C:
			}
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				continue
			}
			var anon, file int64
			for _, l := range strings.Split(string(b), "\n") {
				f := strings.Fields(l)
				if len(f) >= 2 && f[0] == "RssAnon:" {
					anon, _ = strconv.ParseInt(f[1], 10, 64)
				}
				if len(f) >= 2 && f[0] == "RssFile:" {
					file, _ = strconv.ParseInt(f[1], 10, 64)
				}
			}
			maxAnon, maxFile = max(maxAnon, anon<<10), max(maxFile, file<<10)
			if i%10 == 0 {
				trace = append(trace, fmt.Sprintf("%ds:%d+%d", int(time.Since(start).Seconds()), anon>>10, file>>10))
			}
		}
	}()
	return func() string { close(stop); return <-res }
}
