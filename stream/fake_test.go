package stream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/stream"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/stretchr/testify/require"
)

// fakeLog is an in-memory broker: per unit ("topic/partition"), a log of
// messages whose offset is their index.
type fakeLog struct {
	mu   sync.Mutex
	logs map[string][]stream.Message
}

func newFakeLog() *fakeLog { return &fakeLog{logs: map[string][]stream.Message{}} }

// produce appends a message (key, value; nil value: a tombstone) to unit.
func (l *fakeLog) produce(unit string, key, value []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	topic, part := unit, int32(-1)
	if i := bytes.LastIndexByte([]byte(unit), '/'); i >= 0 {
		topic = unit[:i]
		p, _ := strconv.Atoi(unit[i+1:])
		part = int32(p)
	}
	off := len(l.logs[unit])
	l.logs[unit] = append(l.logs[unit], stream.Message{Unit: unit, Topic: topic, Partition: part,
		Position: strconv.Itoa(off), Next: strconv.Itoa(off + 1), Key: key, Value: value, Time: time.Unix(1700000000, 0)})
}

// produceKinesis appends a record to a Kinesis shard unit
// ("stream/shardId-..."): its position is a sequence number, which is
// also Next (a restart resumes after it); end appends the shard's
// closing control message instead.
func (l *fakeLog) produceKinesis(unit string, key, value []byte, end bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := bytes.LastIndexByte([]byte(unit), '/')
	m := stream.Message{Unit: unit, Topic: unit[:i], Partition: -1, Shard: unit[i+1:], Key: key, Value: value, Time: time.Unix(1700000000, 0)}
	seq := fmt.Sprintf("4959033827149025660855969253836157109592157598913658%04d", len(l.logs[unit]))
	m.Position, m.Next = seq, seq
	if end {
		m.Control, m.Key, m.Value, m.Next = true, nil, nil, stream.PositionEnd
	}
	l.logs[unit] = append(l.logs[unit], m)
}

func (l *fakeLog) read(unit string, from, n int) []stream.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	log := l.logs[unit]
	if from >= len(log) {
		return nil
	}
	return slices.Clone(log[from:min(len(log), from+n)])
}

func (l *fakeLog) units() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Sorted(maps.Keys(l.logs))
}

// fakeSource is one consumer of a fakeLog owning fixed units: it asks the
// handler where to start, seeks there, hands over batches round-robin,
// ticks when drained and, with stopDrained, revokes everything and stops
// after that many drained ticks. failAt, when > 0, makes the handler's
// failAt-th Messages call fail first (a crash before a commit).
type fakeSource struct {
	log         *fakeLog
	own         []string
	batch       int
	stopDrained int
	failAt      int
	tickEvery   int // call Tick after every tickEvery batches (0: only when drained)
	pause       time.Duration
	until       func() bool // with stopDrained: stop only once it holds

	mu        sync.Mutex
	committed map[string]string // Source.Commit's offsets
	started   map[string]string // the positions Assigned returned
	calls     int
}

func (f *fakeSource) Run(ctx context.Context, h stream.Handler) error {
	units := f.own
	if units == nil {
		units = f.log.units()
	}
	start, err := h.Assigned(ctx, units)
	if err != nil {
		return err
	}
	f.started = start
	pos := map[string]int{}
	for _, u := range units {
		// Seek: the first message past the position (Kafka: the offset
		// itself; Kinesis: after the sequence number).
		// PositionSource: the fake keeps no positions of its own.
		if p := start[u]; p != "" && p != stream.PositionSource {
			log := f.log.read(u, 0, 1<<30)
			pos[u] = len(log)
			for i, m := range log {
				if stream.ComparePositions(m.Next, p) > 0 {
					pos[u] = i
					break
				}
			}
		}
	}
	drained, batches := 0, 0
	for {
		if ctx.Err() != nil {
			return h.Revoked(context.WithoutCancel(ctx), units)
		}
		any := false
		for _, u := range units {
			msgs := f.log.read(u, pos[u], f.batch)
			if len(msgs) == 0 {
				continue
			}
			any = true
			f.calls++
			if f.failAt > 0 && f.calls == f.failAt {
				return fmt.Errorf("injected crash")
			}
			if err := h.Messages(ctx, msgs); err != nil {
				return err
			}
			pos[u] += len(msgs)
			batches++
			if f.tickEvery > 0 && batches%f.tickEvery == 0 {
				if err := h.Tick(ctx); err != nil {
					return err
				}
			}
			if f.pause > 0 {
				time.Sleep(f.pause)
			}
		}
		if any {
			drained = 0
			continue
		}
		if err := h.Tick(ctx); err != nil {
			return err
		}
		drained++
		if f.stopDrained > 0 && drained >= f.stopDrained && (f.until == nil || f.until()) {
			return h.Revoked(context.WithoutCancel(ctx), units)
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (f *fakeSource) Commit(_ context.Context, positions map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.committed == nil {
		f.committed = map[string]string{}
	}
	maps.Copy(f.committed, positions)
	return nil
}

func (f *fakeSource) Lag() map[string]int64 { return map[string]int64{} }
func (f *fakeSource) Close() error          { return nil }

// memSink is an ErrorSink in memory.
type memSink struct {
	mu   sync.Mutex
	recs []stream.ErrorRecord
}

func (m *memSink) Write(_ context.Context, recs []stream.ErrorRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs, recs...)
	return nil
}
func (m *memSink) Close() error { return nil }

func (m *memSink) records() []stream.ErrorRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.recs)
}

// readRows reads the table at loc with the reader: key field → row (as
// JSON values, meta columns dropped). It fails on a duplicate key.
func readRows(t *testing.T, loc, key string) map[string]map[string]any {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, loc, storage.Options{})
	require.NoError(t, err)
	tbl, err := table.Open(ctx, st)
	require.NoError(t, err)
	recs, err := reader.ReadAll(ctx, tbl, reader.Options{})
	require.NoError(t, err)
	out := map[string]map[string]any{}
	for _, rec := range recs {
		var buf bytes.Buffer
		require.NoError(t, array.RecordToJSON(rec, &buf))
		rec.Release()
		dec := json.NewDecoder(&buf)
		for dec.More() {
			var row map[string]any
			require.NoError(t, dec.Decode(&row))
			for k := range row {
				if len(k) > 8 && k[:8] == "_hoodie_" {
					delete(row, k)
				}
			}
			k := fmt.Sprint(row[key])
			require.NotContains(t, out, k, "duplicate key %s", k)
			out[k] = row
		}
	}
	return out
}

// commits counts the completed commits of the table at loc.
func commits(t *testing.T, loc string) int {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, loc, storage.Options{})
	require.NoError(t, err)
	tbl, err := table.Open(ctx, st)
	require.NoError(t, err)
	tl, err := tbl.Timeline(ctx)
	require.NoError(t, err)
	return len(tl.CompletedCommits())
}

// syncBuffer is a bytes.Buffer safe for concurrent writes (logs).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
