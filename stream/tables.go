package stream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/stream/payload"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
)

// tableState is one destination table: its handle, its positions, its
// buffer of messages and, while it is among the MaxOpenTables most
// recently used, its writer.
type tableState struct {
	loc   string
	rt    *route
	vars  map[string]string // the placeholders' values
	topic string            // the topic that routed here first (names new tables)
	st    storage.Storage
	tbl   *table.Table // nil while the location holds no table
	dec   *payload.Decoder
	w     *writer.Writer
	used  uint64 // LRU clock of the last use

	// metas caches what the completed commits recorded, by instant.
	metas map[string]commitMeta
	// positions are the largest positions the completed commits recorded.
	positions map[string]string
	// accounted is the timeline positions were last read from.
	accounted *timeline.Timeline

	units map[string]*unitState // the assigned units feeding the table

	raw      []Message // buffered messages, in arrival order
	rawBytes int64
	records  int       // buffered messages that are records
	first    time.Time // when the first buffered message came

	commits      int         // commits by this Service since the last services round
	servicesIdle atomic.Bool // no services round is running
	lastOK       time.Time
	lastErr      error
}

// commitMeta is what one completed commit recorded.
type commitMeta struct {
	positions map[string]string
}

// routeError is a message that cannot be routed to a table.
type routeError struct{ reason string }

func (e *routeError) Error() string { return "stream: " + e.reason }

// tableForTopic returns the table of topic, nil when it cannot be known
// without a message (m nil) and the topic has not been seen. A message
// that no route takes, or whose table a template cannot name, is a
// routeError.
func (s *Service) tableForTopic(ctx context.Context, topic string, m *Message) (*tableState, error) {
	if ts := s.byTopic[topic]; ts != nil {
		return ts, nil
	}
	rt := s.single
	if rt == nil {
		for _, r := range s.routes {
			if r.re.MatchString(topic) {
				rt = r
				break
			}
		}
	}
	if rt == nil {
		if m == nil {
			return nil, nil
		}
		return nil, &routeError{reason: fmt.Sprintf("topic %q matches no route", topic)}
	}
	vars := map[string]string{"topic": topic}
	if rt.needsMsg {
		if m == nil {
			return nil, nil
		}
		db, sch, tb, err := payload.DebeziumSource(m.Value)
		if err != nil {
			return nil, &routeError{reason: fmt.Sprintf("routing by %s: %v", rt.template, err)}
		}
		vars["db"], vars["schema"], vars["table"] = db, sch, tb
	}
	loc := expand(rt.template, vars)
	ts := s.tables[loc]
	if ts == nil {
		dec, err := payload.NewDecoder(rt.r.Payload)
		if err != nil {
			return nil, fmt.Errorf("stream: %w", err)
		}
		st, err := s.opts.Open(ctx, loc)
		if err != nil {
			return nil, fmt.Errorf("stream: opening %s: %w", loc, err)
		}
		ts = &tableState{loc: loc, rt: rt, vars: vars, topic: topic, st: st, dec: dec, metas: map[string]commitMeta{},
			positions: map[string]string{}, units: map[string]*unitState{}}
		ts.servicesIdle.Store(true)
		s.tables[loc] = ts
		s.statsFor(loc)
	}
	s.byTopic[topic] = ts
	return ts, nil
}

// expand fills a location template's placeholders; a value is made safe
// as one path segment.
func expand(tmpl string, vars map[string]string) string {
	out := tmpl
	for k, v := range vars {
		out = strings.ReplaceAll(out, "{"+k+"}", segment(v))
	}
	return out
}

var unsafeSegment = regexp.MustCompile(`[^A-Za-z0-9_.\-]`)

func segment(v string) string {
	v = unsafeSegment.ReplaceAllString(v, "_")
	if v == "" || v == "." || v == ".." {
		v = "_" + v
	}
	return v
}

var badName = regexp.MustCompile(`[^A-Za-z0-9_]`)

// tableName makes a valid table (or database) name of s.
func tableName(s string) string {
	s = badName.ReplaceAllString(s, "_")
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		s = "t_" + s
	}
	return s
}

// openTable opens the table at ts's location when it exists (ts.tbl stays
// nil otherwise).
func (ts *tableState) openTable(ctx context.Context) error {
	if ts.tbl != nil {
		return nil
	}
	tbl, err := table.Open(ctx, ts.st)
	if errors.Is(err, table.ErrNotHudiTable) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stream: table %s: %w", ts.loc, err)
	}
	ts.tbl = tbl
	return nil
}

// sync reads the positions the table's completed commits recorded since
// they were last read (each commit's metadata once), and skips the
// buffered messages at or before them: another process's commits of a
// unit are the truth. The timeline read becomes the one commits are
// accounted against.
func (s *Service) sync(ctx context.Context, ts *tableState) error {
	if err := ts.openTable(ctx); err != nil {
		return err
	}
	if ts.tbl == nil {
		return nil
	}
	tl, err := timeline.Load(ctx, ts.st)
	if err != nil {
		return fmt.Errorf("stream: table %s: %w", ts.loc, err)
	}
	for _, inst := range tl.CompletedCommits() {
		if _, ok := ts.metas[inst.Timestamp]; ok {
			continue
		}
		if inst.Action != timeline.Commit && inst.Action != timeline.DeltaCommit {
			ts.metas[inst.Timestamp] = commitMeta{}
			continue
		}
		md, err := timeline.ReadCommitMetadata(ctx, ts.st, inst)
		if err != nil {
			return fmt.Errorf("stream: table %s: commit %s: %w", ts.loc, inst.Timestamp, err)
		}
		cm := commitMeta{}
		if js := md.ExtraMetadata[PositionsKey]; js != "" {
			if err := json.Unmarshal([]byte(js), &cm.positions); err != nil {
				return fmt.Errorf("stream: table %s: commit %s: %s: %w", ts.loc, inst.Timestamp, PositionsKey, err)
			}
		}
		ts.metas[inst.Timestamp] = cm
		for u, p := range cm.positions {
			if ComparePositions(p, ts.positions[u]) > 0 {
				ts.positions[u] = p
			}
		}
	}
	ts.accounted = tl
	// Forget archived commits: their positions are in ts.positions, and
	// they never come back to the active timeline.
	if len(ts.metas) > 2*len(tl.CompletedCommits())+64 {
		for inst := range ts.metas {
			if !tl.IsCompleted(inst) {
				delete(ts.metas, inst)
			}
		}
	}
	// Skip what the table holds already.
	moved := false
	for name, u := range ts.units {
		if p := ts.positions[name]; ComparePositions(p, u.committed) > 0 {
			u.committed = p
			if ComparePositions(u.consumed, p) < 0 {
				u.consumed = p
			}
			moved = true
		}
	}
	if moved {
		ts.trim(s)
	}
	return nil
}

// trim drops the buffered messages at or before their unit's committed
// position.
func (ts *tableState) trim(s *Service) {
	keep := ts.raw[:0]
	var bytes int64
	records := 0
	for _, m := range ts.raw {
		if u := ts.units[m.Unit]; u != nil && ComparePositions(m.Next, u.committed) <= 0 {
			continue
		}
		keep = append(keep, m)
		bytes += msgBytes(m)
		if !m.Control {
			records++
		}
	}
	clear(ts.raw[len(keep):])
	ts.raw = keep
	s.buffered += bytes - ts.rawBytes
	ts.rawBytes, ts.records = bytes, records
	if len(ts.raw) == 0 {
		ts.first = time.Time{}
	}
	s.opts.Metrics.BufferBytes(ts.loc, ts.rawBytes)
}

func msgBytes(m Message) int64 { return int64(len(m.Key) + len(m.Value) + 64) }

// add buffers a message.
func (ts *tableState) add(s *Service, m Message) {
	if len(ts.raw) == 0 {
		ts.first = time.Now()
	}
	ts.raw = append(ts.raw, m)
	n := msgBytes(m)
	ts.rawBytes += n
	s.buffered += n
	if !m.Control {
		ts.records++
		s.opts.Metrics.Records(ts.loc, 1)
	}
	s.opts.Metrics.BufferBytes(ts.loc, ts.rawBytes)
}

// clearBuffer drops every buffered message (they were committed).
func (ts *tableState) clearBuffer(s *Service, upTo int) {
	var n int64
	records := 0
	for _, m := range ts.raw[:upTo] {
		n += msgBytes(m)
		if !m.Control {
			records++
		}
	}
	rest := copy(ts.raw, ts.raw[upTo:])
	clear(ts.raw[rest:])
	ts.raw = ts.raw[:rest]
	ts.rawBytes -= n
	ts.records -= records
	s.buffered -= n
	if len(ts.raw) == 0 {
		ts.first = time.Time{}
	} else {
		ts.first = time.Now()
	}
	s.opts.Metrics.BufferBytes(ts.loc, ts.rawBytes)
}

// due reports whether a trigger fires: records, bytes or the interval
// since the first buffered message.
func (ts *tableState) due(s *Service, now time.Time) bool {
	if len(ts.raw) == 0 {
		return false
	}
	o := &s.opts
	return ts.records >= o.CommitRecords || ts.rawBytes >= o.CommitBytes || now.Sub(ts.first) >= o.CommitInterval
}

// dropUnit forgets a revoked unit (its buffer was committed).
func (ts *tableState) dropUnit(name string) {
	delete(ts.units, name)
}

// writer returns the table's writer, creating the table first when the
// location holds none, and closing the least recently used other writer
// past MaxOpenTables.
func (s *Service) writer(ctx context.Context, ts *tableState) (*writer.Writer, error) {
	s.clock++
	ts.used = s.clock
	if ts.w != nil {
		return ts.w, nil
	}
	if err := s.sync(ctx, ts); err != nil {
		return nil, err
	}
	if ts.tbl == nil {
		if err := s.create(ctx, ts); err != nil {
			return nil, err
		}
		if err := s.sync(ctx, ts); err != nil {
			return nil, err
		}
	}
	for s.open >= s.opts.MaxOpenTables {
		var lru *tableState
		for _, o := range s.tables {
			if o.w != nil && o != ts && (lru == nil || o.used < lru.used) {
				lru = o
			}
		}
		if lru == nil {
			break
		}
		s.opts.Logger.Debug("stream: closing the least recently used table", "table", lru.loc)
		if err := lru.closeWriter(s); err != nil {
			s.opts.Logger.Warn("stream: closing a table's writer", "table", lru.loc, "err", err)
		}
	}
	wo := s.opts.Writer
	wo.IndexLocation = ts.loc
	if wo.IndexDir != "" {
		sum := sha256.Sum256([]byte(ts.loc))
		wo.IndexDir = filepath.Join(wo.IndexDir, segment(filepath.Base(ts.loc))+"-"+hex.EncodeToString(sum[:6]))
	}
	w, err := writer.Open(ctx, ts.tbl, wo)
	if err != nil {
		return nil, fmt.Errorf("stream: table %s: %w", ts.loc, err)
	}
	ts.w = w
	s.open++
	s.opts.Metrics.Tables(s.open, len(s.tables))
	return w, nil
}

// closeWriter closes the table's writer (nothing is buffered in it
// between commits).
func (ts *tableState) closeWriter(s *Service) error {
	if ts.w == nil {
		return nil
	}
	err := ts.w.Close()
	ts.w = nil
	s.open--
	return err
}

// create creates the table from its route's create options; for
// Debezium, the record key fields come from the first buffered record's
// key.
func (s *Service) create(ctx context.Context, ts *tableState) error {
	c := ts.rt.r.Create
	if c == nil {
		return fmt.Errorf("stream: no table at %s, and nothing to create it from (no create options)", ts.loc)
	}
	co := *c
	if co.Name == "" {
		switch {
		case ts.vars["table"] != "":
			co.Name = tableName(ts.vars["table"])
		default:
			parts := strings.Split(ts.topic, ".")
			co.Name = tableName(parts[len(parts)-1])
		}
	}
	if co.Database == "" && ts.vars["db"] != "" {
		co.Database = tableName(ts.vars["db"])
	}
	if ts.rt.debezium {
		if co.PrecombineField == "" {
			co.PrecombineField = payload.PosField
		}
		if len(co.RecordKeyFields) == 0 {
			for _, m := range ts.raw {
				if m.Control || len(m.Key) == 0 {
					continue
				}
				fs, err := payload.DebeziumKeyFields(m.Key)
				if err == nil && len(fs) > 0 {
					co.RecordKeyFields = fs
					break
				}
			}
			if len(co.RecordKeyFields) == 0 {
				return fmt.Errorf("stream: creating %s: no buffered message has a Debezium key naming the record key fields (give them in the route's create options)", ts.loc)
			}
		}
	}
	tbl, err := table.Create(ctx, ts.st, co)
	if err != nil {
		// Another process may have created it meanwhile.
		if oerr := ts.openTable(ctx); oerr == nil && ts.tbl != nil {
			return nil
		}
		return fmt.Errorf("stream: creating %s: %w", ts.loc, err)
	}
	ts.tbl = tbl
	s.opts.Logger.Info("stream: table created", "table", ts.loc, "name", co.Name, "key", co.RecordKeyFields, "precombine", co.PrecombineField)
	return nil
}
