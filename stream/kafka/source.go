package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/hoodie-lake/hoodie/stream"
)

// pollWait bounds one poll, so that the handler's Tick comes at least once
// a second while nothing arrives.
const pollWait = 400 * time.Millisecond

// tickEvery is the handler's Tick cadence while messages arrive.
const tickEvery = time.Second

// ErrClosed is returned by Run and Commit after Close; use errors.Is.
var ErrClosed = errors.New("kafka: source closed")

// Source is a Kafka consumer group member: a stream.Source. Partitions are
// balanced over the group's members with the cooperative-sticky balancer;
// on assignment the Handler says where each partition starts (the table's
// positions), and the group's committed offsets are never read, only
// written by Commit after the table committed. Rebalances happen between
// polls (franz-go's BlockRebalanceOnPoll), so the Handler's Assigned and
// Revoked never overlap its Messages.
type Source struct {
	opts  Options
	base  []kgo.Opt
	start kgo.Offset

	mu      sync.Mutex // guards cl, lag, next, running, closed
	cl      *kgo.Client
	lag     map[string]int64
	next    map[string]int64 // per owned unit, the next offset to read, once known
	running bool
	closed  bool

	// hmu serializes the handler's calls (Run's loop and the group's
	// callbacks) and guards the fields below.
	hmu     sync.Mutex
	h       stream.Handler
	runCtx  context.Context
	cancel  context.CancelFunc // ends Run's polling
	owned   map[string]struct{}
	herr    error // the handler's first error, returned by Run
	stopped bool  // Run is done with the handler

	smu    sync.Mutex // guards starts
	starts map[string]string
}

var _ stream.Source = (*Source)(nil)

// New returns a Source; it connects when Run starts.
func New(opts Options) (*Source, error) {
	opts.Brokers = slices.Clone(opts.Brokers)
	opts.Topics = slices.Clone(opts.Topics)
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	sec, err := securityOpts(opts.TLS, opts.SASL)
	if err != nil {
		return nil, err
	}
	s := &Source{
		opts:   opts,
		start:  kgo.NewOffset().AtStart(),
		lag:    map[string]int64{},
		next:   map[string]int64{},
		owned:  map[string]struct{}{},
		starts: map[string]string{},
	}
	if opts.StartOffset == StartLatest {
		s.start = kgo.NewOffset().AtEnd()
	}
	topics := opts.Topics
	if opts.TopicRegex != "" {
		topics = []string{"^(?:" + opts.TopicRegex + ")$"}
	}
	s.base = append(sec,
		kgo.SeedBrokers(opts.Brokers...),
		kgo.ClientID(opts.ClientID),
		kgo.DialTimeout(opts.DialTimeout),
		kgo.RequestTimeoutOverhead(opts.RequestTimeout),
		kgo.RetryTimeout(opts.RequestTimeout),
		kgo.WithLogger(slogLogger{opts.Logger}),
		kgo.MetadataMaxAge(opts.TopicRefresh),
		kgo.ConsumeTopics(topics...),
		kgo.FetchMaxBytes(opts.FetchMaxBytes),
		kgo.ConsumeResetOffset(s.start),
		kgo.ConsumerGroup(opts.Group),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.SessionTimeout(opts.SessionTimeout),
		kgo.RebalanceTimeout(opts.RebalanceTimeout),
		kgo.HeartbeatInterval(opts.HeartbeatInterval),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(s.onAssigned),
		kgo.OnPartitionsRevoked(s.onRevoked),
		kgo.OnPartitionsLost(s.onRevoked),
		kgo.AdjustFetchOffsetsFn(s.adjustOffsets),
	)
	if opts.TopicRegex != "" {
		s.base = append(s.base, kgo.ConsumeRegex())
	}
	return s, nil
}

// Run joins the group and reads until ctx ends or a fatal error; see
// stream.Source. It may be called once.
func (s *Source) Run(ctx context.Context, h stream.Handler) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrClosed
	case s.running:
		s.mu.Unlock()
		return errors.New("kafka: Run called twice")
	}
	s.running = true
	s.mu.Unlock()

	pollCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.hmu.Lock()
	s.h, s.runCtx, s.cancel = h, ctx, cancel
	s.hmu.Unlock()

	cl, err := kgo.NewClient(s.base...)
	if err != nil {
		return fmt.Errorf("kafka: client: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cl.Close()
		return ErrClosed
	}
	s.cl = cl
	s.mu.Unlock()
	s.opts.Logger.Info("kafka: joining group", "group", s.opts.Group, "brokers", s.opts.Brokers)
	if err := s.preflight(pollCtx, cl); err != nil {
		return s.shutdown(ctx, cl, err)
	}

	lastTick, lastLag := time.Now(), time.Now()
	for {
		pctx, cancelPoll := context.WithTimeout(pollCtx, pollWait)
		fetches := cl.PollRecords(pctx, s.opts.MaxPollRecords)
		cancelPoll()
		err := s.deliver(ctx, fetches, &lastTick)
		if err == nil && pollCtx.Err() == nil && time.Since(lastLag) >= lagRefresh {
			s.refreshLag(pollCtx, cl)
			lastLag = time.Now()
		}
		cl.AllowRebalance()
		if err != nil || pollCtx.Err() != nil {
			return s.shutdown(ctx, cl, err)
		}
	}
}

// deliver hands a poll's messages to the handler, and ticks.
func (s *Source) deliver(ctx context.Context, fetches kgo.Fetches, lastTick *time.Time) error {
	if err := s.fetchError(fetches); err != nil {
		return err
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if s.herr != nil {
		return s.herr
	}
	if ctx.Err() != nil {
		// Not consumed: the positions stay before these messages.
		return nil
	}
	var msgs []stream.Message
	lag, next := map[string]int64{}, map[string]int64{}
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		unit := Unit(p.Topic, p.Partition)
		if _, ok := s.owned[unit]; !ok {
			return
		}
		for _, r := range p.Records {
			msgs = append(msgs, message(unit, r))
		}
		lag[unit] = max(0, p.HighWatermark-(p.Records[len(p.Records)-1].Offset+1))
		next[unit] = p.Records[len(p.Records)-1].Offset + 1
	})
	s.mu.Lock()
	maps.Copy(s.lag, lag)
	maps.Copy(s.next, next)
	s.mu.Unlock()
	if len(msgs) > 0 {
		if err := s.h.Messages(ctx, msgs); err != nil {
			s.herr = fmt.Errorf("kafka: handler: %w", err)
			return s.herr
		}
	}
	if len(msgs) == 0 || time.Since(*lastTick) >= tickEvery {
		*lastTick = time.Now()
		if err := s.h.Tick(ctx); err != nil {
			s.herr = fmt.Errorf("kafka: handler tick: %w", err)
			return s.herr
		}
	}
	return nil
}

// fetchError returns a poll's fatal error: a closed client, a failed
// authentication or authorization. Other errors (a poll's own timeout, a
// transient broker error the client retries) are logged.
func (s *Source) fetchError(fetches kgo.Fetches) error {
	var fatal error
	fetches.EachError(func(topic string, partition int32, err error) {
		switch {
		case fatal != nil, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		case errors.Is(err, kgo.ErrClientClosed):
			fatal = ErrClosed
		case securityErr(err), errors.Is(err, kerr.TopicAuthorizationFailed),
			errors.Is(err, kerr.GroupAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
			fatal = fmt.Errorf("kafka: %s: %w", Unit(topic, partition), err)
		default:
			s.opts.Logger.Warn("kafka: fetch error", "topic", topic, "partition", partition, "err", err)
		}
	})
	return fatal
}

// preflight asks the brokers for metadata once, so that a failed
// authentication or a refused certificate ends Run at once: franz-go
// retries those in its metadata refreshes and group joins without ever
// reporting them to a poll. Other errors (a broker not up yet) are left to
// the client's retries.
func (s *Source) preflight(ctx context.Context, cl *kgo.Client) error {
	pctx, cancel := context.WithTimeout(ctx, s.opts.DialTimeout+s.opts.RequestTimeout)
	defer cancel()
	err := cl.Ping(pctx)
	switch {
	case err == nil, ctx.Err() != nil:
		return nil
	case securityErr(err):
		return fmt.Errorf("kafka: connecting to %s: %w", strings.Join(s.opts.Brokers, ","), err)
	}
	s.opts.Logger.Warn("kafka: brokers not reachable yet", "brokers", s.opts.Brokers, "err", err)
	return nil
}

// securityErr tells whether err is one no retry cures: a failed or
// unsupported SASL authentication, a broker certificate the client does not
// trust, or a TLS alert from the broker (a client certificate it refused
// or did not get).
func securityErr(err error) bool {
	if errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.UnsupportedSaslMechanism) {
		return true
	}
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return true
	}
	op, ok := errors.AsType[*net.OpError](err)
	return ok && op.Op == "remote error"
}

// shutdown ends Run: with no error, the handler gives every owned unit up
// (Revoked with a context that is not cancelled); the member leaves the
// group either way.
func (s *Source) shutdown(ctx context.Context, cl *kgo.Client, err error) error {
	s.hmu.Lock()
	if err == nil && s.herr != nil {
		err = s.herr
	}
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		err = nil // the handler saw Run's context end: a shutdown
	}
	units := slices.Sorted(maps.Keys(s.owned))
	if err == nil && len(units) > 0 {
		if rerr := s.h.Revoked(context.WithoutCancel(ctx), units); rerr != nil {
			err = fmt.Errorf("kafka: handler revoke: %w", rerr)
		}
	}
	clear(s.owned)
	s.stopped = true
	s.hmu.Unlock()
	s.mu.Lock()
	clear(s.lag)
	s.mu.Unlock()

	if !errors.Is(err, ErrClosed) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.RequestTimeout)
		if lerr := cl.LeaveGroupContext(lctx); lerr != nil {
			s.opts.Logger.Warn("kafka: leaving the group", "group", s.opts.Group, "err", lerr)
		}
		cancel()
	}
	s.opts.Logger.Info("kafka: left group", "group", s.opts.Group, "err", err)
	return err
}

// onAssigned asks the handler where the new partitions start.
func (s *Source) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if s.stopped || s.herr != nil {
		return
	}
	units := unitsOf(assigned)
	if len(units) == 0 {
		return
	}
	s.opts.Logger.Info("kafka: assigned", "units", units)
	pos, err := s.h.Assigned(s.runCtx, units)
	if err != nil {
		s.fail(fmt.Errorf("kafka: handler assign: %w", err))
		return
	}
	s.smu.Lock()
	defer s.smu.Unlock()
	for _, u := range units {
		p := pos[u]
		if p != "" && p != stream.PositionSource {
			if _, err := parseOffset(p); err != nil {
				s.fail(fmt.Errorf("kafka: handler assign: unit %s: %w", u, err))
				return
			}
		}
		s.starts[u] = p
		s.owned[u] = struct{}{}
	}
}

// adjustOffsets replaces the group's committed offsets of newly assigned
// partitions by the handler's positions. A partition the handler answers
// stream.PositionSource for starts at the group's committed offset when
// there is one (Commit writes it only after the table committed that far,
// so it is never past the table), else at the start offset, as one the
// handler has no position for.
func (s *Source) adjustOffsets(_ context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	s.smu.Lock()
	defer s.smu.Unlock()
	for topic, parts := range offsets {
		for p, committed := range parts {
			u := Unit(topic, p)
			parts[p] = s.start
			if eo := committed.EpochOffset(); eo.Offset >= 0 && s.starts[u] == stream.PositionSource {
				parts[p] = kgo.NewOffset().At(eo.Offset)
			}
			if n, err := parseOffset(s.starts[u]); err == nil && s.starts[u] != "" {
				parts[p] = kgo.NewOffset().At(n)
				s.mu.Lock()
				s.next[u] = n
				s.mu.Unlock()
			}
			delete(s.starts, u)
		}
	}
	return offsets, nil
}

// onRevoked tells the handler that partitions go (revoked or lost).
func (s *Source) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	var units []string
	for _, u := range unitsOf(revoked) {
		if _, ok := s.owned[u]; ok {
			units = append(units, u)
			delete(s.owned, u)
		}
	}
	s.mu.Lock()
	for _, u := range units {
		delete(s.lag, u)
		delete(s.next, u)
	}
	s.mu.Unlock()
	if len(units) == 0 || s.stopped || s.herr != nil {
		return
	}
	s.opts.Logger.Info("kafka: revoked", "units", units)
	if err := s.h.Revoked(context.WithoutCancel(s.runCtx), units); err != nil {
		s.fail(fmt.Errorf("kafka: handler revoke: %w", err))
	}
}

// fail records the handler's first error and ends Run's polling; hmu held.
func (s *Source) fail(err error) {
	if s.herr == nil {
		s.herr = err
	}
	s.cancel()
}

// Commit writes positions (unit → next offset) as the group's committed
// offsets. It needs Run to be running (a member of the group commits).
// Without a deadline in ctx it is bounded by Options.RequestTimeout.
func (s *Source) Commit(ctx context.Context, positions map[string]string) error {
	s.mu.Lock()
	cl, closed := s.cl, s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if cl == nil {
		return errors.New("kafka: commit: the source is not running")
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for unit, pos := range positions {
		if pos == "" {
			continue
		}
		topic, part, err := SplitUnit(unit)
		if err != nil {
			return fmt.Errorf("kafka: commit: %w", err)
		}
		n, err := parseOffset(pos)
		if err != nil {
			return fmt.Errorf("kafka: commit: unit %s: %w", unit, err)
		}
		if offsets[topic] == nil {
			offsets[topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[topic][part] = kgo.EpochOffset{Epoch: -1, Offset: n}
	}
	if len(offsets) == 0 {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.RequestTimeout)
		defer cancel()
	}
	var cerr error
	cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil && cerr == nil {
					cerr = fmt.Errorf("%s: %w", Unit(t.Topic, p.Partition), e)
				}
			}
		}
	})
	if cerr != nil {
		return fmt.Errorf("kafka: commit group %s: %w", s.opts.Group, cerr)
	}
	return nil
}

// Lag reports, per owned partition whose records arrived, the high
// watermark minus the next offset of the last fetch.
func (s *Source) Lag() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.lag)
}

// lagRefresh is how often the lag of every owned partition is computed
// from the partitions' end offsets (the fetches only tell it for
// partitions that returned records).
const lagRefresh = 5 * time.Second

// refreshLag sets the lag of every owned partition whose next offset is
// known: its end offset minus the next offset to read. Bounded by
// RequestTimeout; a failure keeps the old figures.
func (s *Source) refreshLag(ctx context.Context, cl *kgo.Client) {
	s.mu.Lock()
	next := maps.Clone(s.next)
	s.mu.Unlock()
	if len(next) == 0 {
		return
	}
	topics := map[string]bool{}
	for u := range next {
		if t, _, err := SplitUnit(u); err == nil {
			topics[t] = true
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, slices.Sorted(maps.Keys(topics))...)
	if err != nil {
		s.opts.Logger.Debug("kafka: end offsets for the lag", "err", err)
		return
	}
	lag := map[string]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		u := Unit(o.Topic, o.Partition)
		if n, ok := next[u]; ok && o.Err == nil {
			lag[u] = max(0, o.Offset-n)
		}
	})
	s.mu.Lock()
	for u, l := range lag {
		if _, owned := s.next[u]; owned {
			s.lag[u] = l
		}
	}
	s.mu.Unlock()
}

// Close releases the client (leaving the group if Run did not). Run, if
// still running, returns ErrClosed.
func (s *Source) Close() error {
	s.mu.Lock()
	cl := s.cl
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if cl != nil && !already {
		cl.Close()
	}
	return nil
}

// Unit names a Kafka partition as a stream unit: "topic/partition".
func Unit(topic string, partition int32) string {
	return topic + "/" + strconv.FormatInt(int64(partition), 10)
}

// SplitUnit parses a unit "topic/partition".
func SplitUnit(unit string) (topic string, partition int32, err error) {
	i := strings.LastIndexByte(unit, '/')
	if i <= 0 {
		return "", 0, fmt.Errorf("unit %q is not topic/partition", unit)
	}
	p, err := strconv.ParseInt(unit[i+1:], 10, 32)
	if err != nil || p < 0 {
		return "", 0, fmt.Errorf("unit %q is not topic/partition", unit)
	}
	return unit[:i], int32(p), nil
}

func parseOffset(pos string) (int64, error) {
	n, err := strconv.ParseInt(pos, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("position %q is not a Kafka offset", pos)
	}
	return n, nil
}

func unitsOf(m map[string][]int32) []string {
	var units []string
	for topic, parts := range m {
		for _, p := range parts {
			units = append(units, Unit(topic, p))
		}
	}
	slices.Sort(units)
	return units
}

func message(unit string, r *kgo.Record) stream.Message {
	m := stream.Message{
		Unit:      unit,
		Topic:     r.Topic,
		Partition: r.Partition,
		Position:  strconv.FormatInt(r.Offset, 10),
		Next:      strconv.FormatInt(r.Offset+1, 10),
		Key:       r.Key,
		Value:     r.Value,
		Time:      r.Timestamp,
	}
	if len(r.Headers) > 0 {
		m.Headers = make(map[string][]byte, len(r.Headers))
		for _, h := range r.Headers {
			m.Headers[h.Key] = h.Value
		}
	}
	return m
}
