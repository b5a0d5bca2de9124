// Package stream is the engine of `hoodie stream`: a long-running service
// that reads a Source (a Kafka consumer group member, a Kinesis stream
// reader), routes each message to a table (one table, or a table per topic
// through Routes: Debezium's topic per database table), decodes payloads
// with package stream/payload, and commits each table's messages every
// CommitRecords records, CommitBytes bytes or CommitInterval, whichever
// comes first, one instant per commit.
//
//	svc, err := stream.New(stream.Options{
//		Source: src, // a kafka or kinesis Source
//		Table: stream.Table{Location: "s3://b/lake/events", Payload: payload.Options{Format: payload.JSON},
//			Create: &table.CreateOptions{Name: "events", RecordKeyFields: []string{"id"}, PrecombineField: "ts"}},
//	})
//	err = svc.Run(ctx) // until ctx ends: commits what it buffered, returns nil
//
// # Exactly once
//
// The table, not the source, is the truth about positions. Every commit
// records, in its extraMetadata, the position (Message.Next) of every unit
// (Kafka topic partition, Kinesis shard) its table has consumed, under
// PositionsKey (JSON, unit → position) and, when the table reads one
// topic, under writer.CheckpointKey in the format Hudi's streamer uses
// ("topic,0:100,1:200"), so Hudi's streamer can take the table over. A
// unit's position is the largest recorded by the table's completed
// commits; messages at or before it are skipped, whatever position the
// source delivers them from. Each commit claims the units whose position
// it moves (writer.CommitOptions.Claims) against the timeline the
// positions were read from: a commit of another process that consumed one
// of those units since (a new owner after a rebalance while this process
// is a zombie) or concurrently makes ours fail with writer.ErrClaimed,
// nothing of it visible. The Service then reads the positions again,
// drops the buffered messages the other commit covered, and commits the
// rest; a message is never committed twice and, as the source delivers
// every unit in order from a position at or before the table's, never
// lost. No source seek is needed: the source's own store (Kafka group
// offsets, written after each table commit through Source.Commit) is only
// a convenience.
//
// # Buffers and tables
//
// Messages are buffered as they came (their payload bytes count against
// CommitBytes and MaxBufferBytes) and decoded when their table commits,
// against the table's current schema: new fields become new nullable
// columns. Bad messages go to the ErrorSink, with their unit and position,
// before the commit that moves past them (Strict fails Run instead). At
// most MaxOpenTables tables keep an open writer; the least recently used
// one is closed (between commits, a writer holds nothing buffered).
//
// # Stopping
//
// When Run's ctx ends, the Source stops fetching and revokes every unit:
// the Service commits everything buffered and Run returns nil. Abort
// cancels commits in flight (they roll back, nothing is half-applied) and
// makes Run return ErrAborted.
package stream

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hoodie-lake/hoodie/stream/payload"
)

// ErrAborted is what Run returns after Abort; use errors.Is.
var ErrAborted = errors.New("stream: aborted")

// Service is a running stream: it implements Handler for its Source.
type Service struct {
	opts   Options
	routes []*route
	single *route // the route of Options.Table, or nil

	abortCtx    context.Context
	abortCancel context.CancelFunc
	aborted     atomic.Bool
	running     atomic.Bool
	bg          sync.WaitGroup // background table services
	bgCtx       context.Context

	// The fields below are used from the Source's goroutine (the
	// Handler's calls) only, except those under mu.
	tables   map[string]*tableState // by location
	byTopic  map[string]*tableState // topics whose table is known
	units    map[string]*unitState
	clock    uint64 // LRU clock
	open     int    // tables with an open writer
	buffered int64  // payload bytes buffered, all tables
	// pending counts, per table, messages left behind by commits that
	// wrote nothing (bad or skipped messages only): the next commit
	// covers them.
	pending map[*tableState]int

	mu struct {
		sync.Mutex
		fatal error // the error Run ended with, for Health
		stats map[string]*TableStats
		// units, open and buffered are copies for Stats.
		units    map[string]UnitStats
		open     int
		buffered int64
	}
}

// unitState is what the Service knows of one source unit.
type unitState struct {
	name  string
	topic string
	// table is the unit's table, once known.
	table *tableState
	// committed is the table's position of the unit: messages at or
	// before it are in the table and are skipped.
	committed string
	// consumed is the position after the last message buffered (or
	// committed).
	consumed string
}

// route is a compiled Route.
type route struct {
	re       *regexp.Regexp // nil for the single table
	template string
	r        Route
	debezium bool
	needsMsg bool // the template needs {db}, {schema} or {table}
}

// New checks opts and returns a Service; Run starts it.
func New(opts Options) (*Service, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Service{opts: opts, tables: map[string]*tableState{}, byTopic: map[string]*tableState{}, units: map[string]*unitState{},
		pending: map[*tableState]int{}}
	s.mu.stats = map[string]*TableStats{}
	if opts.Table.Location != "" {
		t := opts.Table
		s.single = &route{template: t.Location, r: Route{LocationTemplate: t.Location, Create: t.Create, Payload: t.Payload},
			debezium: t.Payload.Format == payload.Debezium}
	}
	for _, r := range opts.Routes {
		re := regexp.MustCompile(anchor(r.TopicRegex)) // validated
		s.routes = append(s.routes, &route{re: re, template: r.LocationTemplate, r: r, debezium: r.Payload.Format == payload.Debezium,
			needsMsg: strings.Contains(r.LocationTemplate, "{db}") || strings.Contains(r.LocationTemplate, "{schema}") ||
				strings.Contains(r.LocationTemplate, "{table}")})
	}
	s.abortCtx, s.abortCancel = context.WithCancel(context.Background())
	return s, nil
}

// Run reads the Source until ctx ends (then it commits what it buffered
// and returns nil), Abort is called (ErrAborted) or an error stops it.
// The Source is closed when Run returns.
func (s *Service) Run(ctx context.Context) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.abortCtx, cancel)
	defer stop()
	bgCtx, bgCancel := context.WithCancel(context.WithoutCancel(ctx))
	s.bgCtx = bgCtx
	s.running.Store(true)
	s.opts.Logger.Info("stream: starting", "tables", s.describe())
	err = s.opts.Source.Run(ctx, s)
	s.running.Store(false)
	bgCancel()
	s.bg.Wait()
	err = errors.Join(err, s.closeAll())
	if cerr := s.opts.Source.Close(); cerr != nil {
		s.opts.Logger.Warn("stream: closing the source", "err", cerr)
	}
	if s.aborted.Load() {
		return fmt.Errorf("%w: %w", ErrAborted, errOrNil(err))
	}
	if err != nil {
		s.setFatal(err)
		return fmt.Errorf("stream: %w", err)
	}
	s.opts.Logger.Info("stream: stopped")
	return nil
}

func errOrNil(err error) error {
	if err == nil {
		return errors.New("nothing in flight")
	}
	return err
}

// Abort cancels the commits in flight (they roll back: nothing of them is
// visible) and makes Run return ErrAborted soon. Messages buffered and
// not committed are read again by the next run.
func (s *Service) Abort() {
	s.aborted.Store(true)
	s.abortCancel()
}

func (s *Service) describe() string {
	if s.single != nil {
		return s.single.template
	}
	var b []string
	for _, r := range s.routes {
		b = append(b, r.r.TopicRegex+" → "+r.template)
	}
	return strings.Join(b, "; ")
}

// handlerCtx is ctx, also cancelled by Abort.
func (s *Service) handlerCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.abortCtx, cancel)
	return ctx, func() { stop(); cancel() }
}

func (s *Service) checkAborted() error {
	if s.aborted.Load() {
		return ErrAborted
	}
	return nil
}

// topicOf is the topic (or stream) of a unit "topic/partition".
func topicOf(unit string) string {
	if i := strings.LastIndexByte(unit, '/'); i >= 0 {
		return unit[:i]
	}
	return unit
}

// Assigned returns, for each unit, the position its table recorded (""
// when it holds none: the source's start; PositionSource when the table is
// not known yet).
func (s *Service) Assigned(ctx context.Context, units []string) (map[string]string, error) {
	ctx, done := s.handlerCtx(ctx)
	defer done()
	if err := s.checkAborted(); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(units))
	for _, name := range units {
		u := &unitState{name: name, topic: topicOf(name)}
		s.units[name] = u
		ts, err := s.tableForTopic(ctx, u.topic, nil)
		if err != nil {
			return nil, err
		}
		if ts == nil {
			// The table is named by the first message: start where the
			// group committed (never past the table), not at the start.
			out[name] = PositionSource
			continue
		}
		if err := s.attach(ctx, u, ts); err != nil {
			return nil, err
		}
		out[name] = u.committed
	}
	s.opts.Logger.Info("stream: units assigned", "units", units, "positions", out)
	return out, nil
}

// attach makes ts the table of unit u and reads the unit's position.
func (s *Service) attach(ctx context.Context, u *unitState, ts *tableState) error {
	u.table = ts
	ts.units[u.name] = u
	if err := s.sync(ctx, ts); err != nil {
		return err
	}
	u.committed = ts.positions[u.name]
	if ComparePositions(u.consumed, u.committed) < 0 {
		u.consumed = u.committed
	}
	return nil
}

// Revoked commits the buffers of the units' tables, then forgets the
// units.
func (s *Service) Revoked(ctx context.Context, units []string) error {
	ctx, done := s.handlerCtx(ctx)
	defer done()
	if err := s.checkAborted(); err != nil {
		return err
	}
	seen := map[*tableState]bool{}
	for _, name := range units {
		if u := s.units[name]; u != nil && u.table != nil && !seen[u.table] {
			seen[u.table] = true
			if err := s.commitTable(ctx, u.table); err != nil {
				return err
			}
		}
	}
	for _, name := range units {
		if u := s.units[name]; u != nil {
			if u.table != nil {
				u.table.dropUnit(name)
			}
			delete(s.units, name)
		}
	}
	s.opts.Logger.Info("stream: units revoked", "units", units)
	return nil
}

// Messages buffers msgs and commits the tables whose triggers fire.
func (s *Service) Messages(ctx context.Context, msgs []Message) error {
	ctx, done := s.handlerCtx(ctx)
	defer done()
	if err := s.checkAborted(); err != nil {
		return err
	}
	var unrouted []ErrorRecord
	touched := map[*tableState]bool{}
	for i := range msgs {
		m := &msgs[i]
		u := s.units[m.Unit]
		if u == nil { // a source that did not announce the unit
			u = &unitState{name: m.Unit, topic: m.Topic}
			if u.topic == "" {
				u.topic = topicOf(m.Unit)
			}
			s.units[m.Unit] = u
		}
		if u.table == nil {
			if m.Control || m.Value == nil {
				continue // nothing to route by; its position is recorded with the unit's first record
			}
			ts, err := s.tableForTopic(ctx, u.topic, m)
			if err != nil {
				var re *routeError
				if !errors.As(err, &re) {
					return err
				}
				unrouted = append(unrouted, ErrorRecord{Unit: m.Unit, Position: m.Position, Reason: re.reason,
					Key: m.Key, Value: m.Value, Time: m.Time})
				continue
			}
			if err := s.attach(ctx, u, ts); err != nil {
				return err
			}
		}
		if ComparePositions(m.Next, u.committed) <= 0 {
			continue // in the table already
		}
		ts := u.table
		ts.add(s, *m)
		u.consumed = m.Next
		touched[ts] = true
	}
	if len(unrouted) > 0 {
		if err := s.reject(ctx, "", unrouted); err != nil {
			return err
		}
	}
	for ts := range touched {
		if ts.due(s, time.Now()) {
			if err := s.commitTable(ctx, ts); err != nil {
				return err
			}
		}
	}
	err := s.bound(ctx)
	s.publishBuffers()
	return err
}

// Tick commits the tables whose interval elapsed and reports lag.
func (s *Service) Tick(ctx context.Context) error {
	ctx, done := s.handlerCtx(ctx)
	defer done()
	if err := s.checkAborted(); err != nil {
		return err
	}
	now := time.Now()
	for _, ts := range s.tables {
		if ts.due(s, now) {
			if err := s.commitTable(ctx, ts); err != nil {
				return err
			}
		}
	}
	s.opts.Metrics.Lag(s.opts.Source.Lag())
	s.opts.Metrics.Tables(s.open, len(s.tables))
	s.publishBuffers()
	return nil
}

// bound commits the largest buffers while the buffered bytes exceed
// MaxBufferBytes.
func (s *Service) bound(ctx context.Context) error {
	for s.buffered > s.opts.MaxBufferBytes {
		var big *tableState
		for _, ts := range s.tables {
			if len(ts.raw) > 0 && (big == nil || ts.rawBytes > big.rawBytes) {
				big = ts
			}
		}
		if big == nil {
			return nil
		}
		s.opts.Logger.Debug("stream: buffer bound reached, committing the largest buffer", "table", big.loc, "bytes", big.rawBytes)
		if err := s.commitTable(ctx, big); err != nil {
			return err
		}
		if len(big.raw) > 0 {
			return nil // nothing could be committed (all skipped); do not spin
		}
	}
	return nil
}

// reject writes bad messages to the ErrorSink (or, Strict, fails).
func (s *Service) reject(ctx context.Context, loc string, recs []ErrorRecord) error {
	if len(recs) == 0 {
		return nil
	}
	s.opts.Metrics.Rejected(loc, len(recs))
	if s.opts.Strict {
		r := recs[0]
		field := ""
		if r.Field != "" {
			field = "field " + r.Field + ": "
		}
		return fmt.Errorf("%w: %s position %s: %s%s (strict: nothing since the table's last commit was written)", ErrBadMessage, r.Unit, r.Position, field, r.Reason)
	}
	for _, r := range recs {
		s.opts.Logger.Warn("stream: bad message", "table", r.Table, "unit", r.Unit, "position", r.Position, "field", r.Field, "reason", r.Reason)
	}
	if s.opts.ErrorSink == nil {
		return nil
	}
	if err := s.opts.ErrorSink.Write(ctx, recs); err != nil {
		return fmt.Errorf("stream: error output: %w", err)
	}
	return nil
}

// ErrBadMessage is the error of Run with Options.Strict at a message that
// failed to decode or route; use errors.Is.
var ErrBadMessage = errors.New("stream: bad message")

func (s *Service) setFatal(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.fatal == nil {
		s.mu.fatal = err
	}
}

func (s *Service) fatalErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.fatal
}

// closeAll commits nothing: it closes every open writer.
func (s *Service) closeAll() error {
	var err error
	for _, ts := range s.tables {
		err = errors.Join(err, ts.closeWriter(s))
	}
	return err
}
