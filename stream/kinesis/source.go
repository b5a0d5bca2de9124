// Package kinesis is the stream.Source of an Amazon Kinesis data stream,
// read with aws-sdk-go-v2's Kinesis client (GetShardIterator and
// GetRecords polling; no enhanced fan-out).
//
// # One reader per stream
//
// Kinesis has no consumer-group protocol: coordinating readers takes a
// lease table (the KCL's DynamoDB table), which hoodie does not keep. A
// Source therefore owns every shard of its stream, and one process reads a
// stream. Its units are "stream/shardId" ("events/shardId-000000000001").
//
// # Positions
//
// A unit's position is the sequence number of the last record consumed
// (Message.Next): a shard resumes AFTER_SEQUENCE_NUMBER it. The table's
// commit metadata is the only store of positions: Commit is a no-op, as
// there is no checkpoint store on the Kinesis side. A shard read to its end
// (closed by resharding, every record consumed) ends with a Control message
// whose Next is stream.PositionEnd; a shard at PositionEnd is never read
// again.
//
// # Resharding
//
// SplitShard and MergeShards close shards and open children. Records of one
// partition key move from the parent to a child, so to keep them in order a
// child shard is read only once each of its parents is at
// stream.PositionEnd: by the position the handler returned from Assigned,
// or by being read to its end in this run (its Control message handed to
// the handler). A parent no longer listed (expired past the retention
// period) does not hold its children back. A child whose parents were
// consumed starts at its oldest record, whatever Options.StartPosition
// says. New shards are found by ListShards every
// Options.ShardSyncInterval, and at once when a shard ends without known
// children; the handler's Assigned is called with them before they are
// read.
//
// Records written by the Kinesis Producer Library in its aggregated format
// are delivered as they are stored (one aggregated record per message).
package kinesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/hoodie-lake/hoodie/stream"
)

const (
	// tickInterval keeps Tick within the contract's once a second.
	tickInterval = 500 * time.Millisecond
	// fastPoll caps the pause before polling a shard that returned
	// records or is behind: 5 GetRecords per second per shard.
	fastPoll = 200 * time.Millisecond
	// Backoff after a throttling error (ProvisionedThroughputExceeded,
	// LimitExceeded), doubling per consecutive one; throttling is
	// retried for as long as it lasts.
	throttleBackoffMin = 500 * time.Millisecond
	throttleBackoffMax = 5 * time.Second
	// Other failures of a shard's calls are retried with backoff up to
	// maxFailures times in a row; then Run fails.
	failureBackoffMin = 200 * time.Millisecond
	failureBackoffMax = 5 * time.Second
	maxFailures       = 8
	// listAttempts bounds the tries of one shard listing.
	listAttempts = 5
)

// Source reads every shard of one Kinesis stream. Create it with New.
type Source struct {
	opts    Options
	client  *awskinesis.Client
	log     *slog.Logger
	running atomic.Bool

	lagMu sync.Mutex
	lag   map[string]int64
}

var _ stream.Source = (*Source)(nil)

// New returns a Source of opts.Stream. It loads the AWS configuration
// (region and credentials from the default chain unless given) and makes
// no call to Kinesis: a missing stream or bad credentials surface in Run.
func New(ctx context.Context, opts Options) (*Source, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	load := []func(*config.LoadOptions) error{
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(opts.RequestTimeout)),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.MaxBackoff = time.Second
			})
		}),
	}
	if opts.Region != "" {
		load = append(load, config.WithRegion(opts.Region))
	}
	if opts.AccessKeyID != "" {
		load = append(load, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, opts.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("kinesis: load AWS config: %w", err)
	}
	if cfg.Region == "" {
		if opts.Endpoint == "" {
			return nil, errors.New("kinesis: no region: set Options.Region or AWS_REGION")
		}
		cfg.Region = DefaultEndpointRegion
	}
	client := awskinesis.NewFromConfig(cfg, func(o *awskinesis.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
	})
	return &Source{opts: opts, client: client, log: opts.Logger.With("stream", opts.Stream), lag: map[string]int64{}}, nil
}

// Commit does nothing and returns nil: Kinesis keeps no reader positions,
// the table's commits are their only store.
func (s *Source) Commit(context.Context, map[string]string) error { return nil }

// Lag reports MillisBehindLatest of each owned shard's last GetRecords (0
// for a shard read to its end).
func (s *Source) Lag() map[string]int64 {
	s.lagMu.Lock()
	defer s.lagMu.Unlock()
	out := make(map[string]int64, len(s.lag))
	for k, v := range s.lag {
		out[k] = v
	}
	return out
}

// Close releases the client (an HTTP client with nothing to close).
func (s *Source) Close() error { return nil }

func (s *Source) setLag(unit string, ms int64) {
	s.lagMu.Lock()
	s.lag[unit] = ms
	s.lagMu.Unlock()
}

func (s *Source) dropLag(unit string) {
	s.lagMu.Lock()
	delete(s.lag, unit)
	s.lagMu.Unlock()
}

func (s *Source) unit(shardID string) string { return s.opts.Stream + "/" + shardID }

// Run reads the stream until ctx ends (then it calls Revoked with every
// unit and returns nil), a handler call fails (its error is returned), or
// Kinesis fails for good (Revoked, then the error). One Run at a time.
func (s *Source) Run(ctx context.Context, h stream.Handler) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("kinesis: Run is already running")
	}
	defer s.running.Store(false)
	readCtx, cancel := context.WithCancel(ctx)
	r := &run{
		src: s, h: h, readCtx: readCtx,
		shards: map[string]*shard{}, owned: map[string]bool{},
		events: make(chan event),
	}
	cause := r.loop(ctx)
	cancel()
	r.wg.Wait()
	err := r.stop(ctx, cause)
	s.lagMu.Lock()
	clear(s.lag)
	s.lagMu.Unlock()
	return err
}

// shard states.
const (
	shardPending = iota // waiting for its parents
	shardReading        // a reader polls it
	shardDone           // at PositionEnd
)

// shard is the run's view of one shard (touched by Run's goroutine only).
type shard struct {
	id, unit string
	parents  []string
	closed   bool // closed at the last listing (an ending sequence number)
	pos      string
	state    int
	// childStart is where a child without a position starts once this
	// shard is done (set when the shard starts or is found done).
	childStart startSpec
}

// startSpec is where a shard iterator starts.
type startSpec struct {
	typ types.ShardIteratorType
	seq string
	ts  time.Time
}

// event is what a reader hands to Run's goroutine.
type event struct {
	shard string
	msgs  []stream.Message
	end   bool  // the shard is read to its end; msgs ends with the Control message
	gone  bool  // the shard no longer exists
	err   error // Kinesis failed for good
}

// handlerError marks an error returned by the handler: Run returns it
// without calling Revoked.
type handlerError struct{ err error }

func (e handlerError) Error() string { return e.err.Error() }
func (e handlerError) Unwrap() error { return e.err }

type run struct {
	src     *Source
	h       stream.Handler
	readCtx context.Context
	wg      sync.WaitGroup
	shards  map[string]*shard
	owned   map[string]bool
	events  chan event
	// syncNow asks for a shard listing before the next wait.
	syncNow bool
}

func (r *run) loop(ctx context.Context) error {
	if err := r.sync(ctx, true); err != nil {
		return err
	}
	tick := time.NewTicker(tickInterval)
	defer tick.Stop()
	syncT := time.NewTicker(r.src.opts.ShardSyncInterval)
	defer syncT.Stop()
	for {
		if ctx.Err() != nil {
			return nil
		}
		if r.syncNow {
			r.syncNow = false
			if err := r.sync(ctx, false); err != nil {
				return err
			}
			continue
		}
		var err error
		select {
		case <-ctx.Done():
			continue
		case ev := <-r.events:
			err = r.handle(ctx, ev)
		case <-tick.C:
			if herr := r.h.Tick(ctx); herr != nil {
				err = handlerError{herr}
			}
		case <-syncT.C:
			err = r.sync(ctx, false)
		}
		if err != nil {
			return err
		}
	}
}

// stop runs once the readers are gone: unless the handler failed, it hands
// every owned unit back with Revoked on a context that is not cancelled. A
// Kinesis error after ctx ended is the end's doing, not a failure.
func (r *run) stop(ctx context.Context, cause error) error {
	var he handlerError
	if errors.As(cause, &he) {
		return he.err
	}
	if ctx.Err() != nil {
		cause = nil
	}
	units := make([]string, 0, len(r.owned))
	for u := range r.owned {
		units = append(units, u)
	}
	slices.Sort(units)
	if len(units) == 0 {
		return cause
	}
	if err := r.h.Revoked(context.WithoutCancel(ctx), units); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// handle delivers a reader's event.
func (r *run) handle(ctx context.Context, ev event) error {
	sh := r.shards[ev.shard]
	if sh == nil {
		return nil
	}
	switch {
	case ev.err != nil:
		return ev.err
	case ev.gone:
		// Expired past the retention period or deleted: nothing more to
		// read, and its children need not wait for it.
		r.src.log.Warn("kinesis: shard no longer exists", "shard", sh.id)
		delete(r.shards, sh.id)
		delete(r.owned, sh.unit)
		r.src.dropLag(sh.unit)
		if err := r.h.Revoked(ctx, []string{sh.unit}); err != nil {
			return handlerError{err}
		}
		r.schedule()
		return nil
	}
	if len(ev.msgs) > 0 {
		if err := r.h.Messages(ctx, ev.msgs); err != nil {
			return handlerError{err}
		}
	}
	if ev.end {
		r.src.log.Info("kinesis: shard read to its end", "shard", sh.id)
		sh.state = shardDone
		r.src.setLag(sh.unit, 0)
		if !r.hasChildren(sh.id) {
			r.syncNow = true
		}
		r.schedule()
	}
	return nil
}

func (r *run) hasChildren(id string) bool {
	for _, sh := range r.shards {
		if slices.Contains(sh.parents, id) {
			return true
		}
	}
	return false
}

// sync lists the shards, asks the handler where new ones start and starts
// those whose parents are done. A failed listing is fatal at the start of
// Run and retried at the next interval later on.
func (r *run) sync(ctx context.Context, initial bool) error {
	listed, err := r.src.listShards(ctx)
	if err != nil {
		if initial || ctx.Err() != nil {
			return err
		}
		r.src.log.Warn("kinesis: shard listing failed; retrying at the next sync", "err", err)
		return nil
	}
	var fresh []*shard
	for _, l := range listed {
		id := aws.ToString(l.ShardId)
		closed := l.SequenceNumberRange != nil && l.SequenceNumberRange.EndingSequenceNumber != nil
		if sh := r.shards[id]; sh != nil {
			sh.closed = closed
			continue
		}
		sh := &shard{id: id, unit: r.src.unit(id), closed: closed}
		for _, p := range []*string{l.ParentShardId, l.AdjacentParentShardId} {
			if p != nil && *p != "" {
				sh.parents = append(sh.parents, *p)
			}
		}
		fresh = append(fresh, sh)
	}
	if len(fresh) == 0 {
		return nil
	}
	units := make([]string, len(fresh))
	for i, sh := range fresh {
		units[i] = sh.unit
	}
	r.src.log.Info("kinesis: assigning shards", "units", units)
	positions, err := r.h.Assigned(ctx, units)
	if err != nil {
		return handlerError{err}
	}
	for _, sh := range fresh {
		r.shards[sh.id] = sh
		r.owned[sh.unit] = true
		sh.pos = positions[sh.unit]
		if sh.pos == stream.PositionSource {
			sh.pos = "" // Kinesis keeps no positions of its own
		}
		if sh.pos == stream.PositionEnd {
			sh.state = shardDone
			sh.childStart = startSpec{typ: types.ShardIteratorTypeTrimHorizon}
			r.src.setLag(sh.unit, 0)
		}
	}
	r.schedule()
	return nil
}

// schedule starts every pending shard whose listed parents are done, in
// shard ID order.
func (r *run) schedule() {
	ids := make([]string, 0, len(r.shards))
	for id := range r.shards {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		sh := r.shards[id]
		if sh.state != shardPending || !r.parentsDone(sh) {
			continue
		}
		start := r.startOf(sh)
		sh.state = shardReading
		sh.childStart = childStart(start, sh.closed)
		r.src.log.Info("kinesis: reading shard", "shard", sh.id, "start", string(start.typ), "after", start.seq)
		r.src.setLag(sh.unit, 0)
		rd := &shardReader{src: r.src, id: sh.id, unit: sh.unit, start: start, events: r.events}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			rd.read(r.readCtx)
		}()
	}
}

// childStart is where the children of a shard started at start begin
// once it is done (closed: the shard was closed when it started).
func childStart(start startSpec, closed bool) startSpec {
	switch {
	case start.typ == types.ShardIteratorTypeLatest && closed:
		// Closed before this run could read any of it: its children were
		// too, so they start at LATEST as well.
		return start
	case start.typ == types.ShardIteratorTypeAtTimestamp:
		return start
	default:
		// Read from a position or its oldest record, or open when this
		// run started reading it at LATEST: whatever its children hold is
		// to be read.
		return startSpec{typ: types.ShardIteratorTypeTrimHorizon}
	}
}

func (r *run) parentsDone(sh *shard) bool {
	for _, p := range sh.parents {
		if ps := r.shards[p]; ps != nil && ps.state != shardDone {
			return false
		}
	}
	return true
}

// startOf is where a shard starts: after its position, else where its done
// parents say (their oldest-first rule), else Options.StartPosition.
func (r *run) startOf(sh *shard) startSpec {
	if sh.pos != "" {
		return startSpec{typ: types.ShardIteratorTypeAfterSequenceNumber, seq: sh.pos}
	}
	var inherited []startSpec
	for _, p := range sh.parents {
		if ps := r.shards[p]; ps != nil {
			inherited = append(inherited, ps.childStart)
		}
	}
	if len(inherited) > 0 {
		best := inherited[0]
		for _, st := range inherited[1:] {
			if startRank(st.typ) < startRank(best.typ) {
				best = st
			}
		}
		return best
	}
	o := r.src.opts
	switch o.StartPosition {
	case StartLatest:
		return startSpec{typ: types.ShardIteratorTypeLatest}
	case StartAtTimestamp:
		return startSpec{typ: types.ShardIteratorTypeAtTimestamp, ts: o.StartTimestamp}
	default:
		return startSpec{typ: types.ShardIteratorTypeTrimHorizon}
	}
}

// startRank orders inherited starts, earliest first: of two merged
// parents, the child starts where it reads the most.
func startRank(t types.ShardIteratorType) int {
	switch t {
	case types.ShardIteratorTypeTrimHorizon:
		return 0
	case types.ShardIteratorTypeAtTimestamp:
		return 1
	default:
		return 2
	}
}

// listShards lists every shard of the stream (following NextToken),
// retrying throttling and transient failures a few times.
func (s *Source) listShards(ctx context.Context) ([]types.Shard, error) {
	var out []types.Shard
	var token *string
	for {
		in := &awskinesis.ListShardsInput{}
		if token == nil {
			in.StreamName = aws.String(s.opts.Stream)
		} else {
			in.NextToken = token
		}
		var page *awskinesis.ListShardsOutput
		var err error
		for attempt := 1; ; attempt++ {
			cctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
			page, err = s.client.ListShards(cctx, in)
			cancel()
			if err == nil || ctx.Err() != nil || attempt == listAttempts || errorCode(err) == "ResourceNotFoundException" {
				break
			}
			if !sleep(ctx, backoff(failureBackoffMin, failureBackoffMax, attempt)) {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("kinesis: list shards of %s: %w", s.opts.Stream, err)
		}
		out = append(out, page.Shards...)
		if page.NextToken == nil || *page.NextToken == "" {
			return out, nil
		}
		token = page.NextToken
	}
}

// shardReader polls one shard and hands its records to Run's goroutine.
type shardReader struct {
	src    *Source
	id     string
	unit   string
	start  startSpec
	events chan<- event

	iter       *string
	last       string    // sequence number of the last record fetched
	latestAt   time.Time // when a LATEST iterator was first taken
	failures   int
	throttled  int
	nextPollAt time.Time
}

func (rd *shardReader) read(ctx context.Context) {
	for ctx.Err() == nil {
		if rd.iter == nil {
			it, err := rd.iterator(ctx)
			if err != nil {
				if rd.fail(ctx, "get shard iterator", err) {
					return
				}
				continue
			}
			rd.iter = it
		}
		if !sleep(ctx, time.Until(rd.nextPollAt)) {
			return
		}
		cctx, cancel := context.WithTimeout(ctx, rd.src.opts.RequestTimeout)
		out, err := rd.src.client.GetRecords(cctx, &awskinesis.GetRecordsInput{
			ShardIterator: rd.iter, Limit: aws.Int32(int32(rd.src.opts.MaxRecords)),
		})
		cancel()
		if err != nil {
			if rd.fail(ctx, "get records", err) {
				return
			}
			continue
		}
		rd.failures, rd.throttled = 0, 0
		behind := aws.ToInt64(out.MillisBehindLatest)
		rd.src.setLag(rd.unit, behind)
		msgs := rd.messages(out.Records)
		rd.iter = out.NextShardIterator
		end := rd.iter == nil
		if end {
			msgs = append(msgs, stream.Message{
				Unit: rd.unit, Topic: rd.src.opts.Stream, Partition: -1, Shard: rd.id,
				Position: stream.PositionEnd, Next: stream.PositionEnd, Time: time.Now(), Control: true,
			})
		}
		if len(msgs) > 0 && !rd.send(ctx, event{shard: rd.id, msgs: msgs, end: end}) {
			return
		}
		if end {
			return
		}
		wait := rd.src.opts.PollInterval
		if len(out.Records) > 0 || behind > 0 {
			wait = min(wait, fastPoll)
		}
		rd.nextPollAt = time.Now().Add(wait)
	}
}

func (rd *shardReader) messages(recs []types.Record) []stream.Message {
	if len(recs) == 0 {
		return nil
	}
	msgs := make([]stream.Message, len(recs))
	for i, rec := range recs {
		seq := aws.ToString(rec.SequenceNumber)
		msgs[i] = stream.Message{
			Unit: rd.unit, Topic: rd.src.opts.Stream, Partition: -1, Shard: rd.id,
			Position: seq, Next: seq,
			Key: []byte(aws.ToString(rec.PartitionKey)), Value: rec.Data,
			Time: aws.ToTime(rec.ApproximateArrivalTimestamp),
		}
	}
	rd.last = msgs[len(msgs)-1].Position
	return msgs
}

// iterator gets a shard iterator after the last record fetched, or at the
// shard's start.
func (rd *shardReader) iterator(ctx context.Context) (*string, error) {
	in := &awskinesis.GetShardIteratorInput{StreamName: aws.String(rd.src.opts.Stream), ShardId: aws.String(rd.id)}
	switch {
	case rd.last != "":
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.StartingSequenceNumber = aws.String(rd.last)
	case rd.start.typ == types.ShardIteratorTypeLatest && !rd.latestAt.IsZero():
		// The LATEST iterator expired before a record came: resume from
		// when it was taken, so nothing written since is skipped.
		in.ShardIteratorType = types.ShardIteratorTypeAtTimestamp
		in.Timestamp = aws.Time(rd.latestAt)
	default:
		in.ShardIteratorType = rd.start.typ
		if rd.start.seq != "" {
			in.StartingSequenceNumber = aws.String(rd.start.seq)
		}
		if rd.start.typ == types.ShardIteratorTypeAtTimestamp {
			in.Timestamp = aws.Time(rd.start.ts)
		}
	}
	taken := time.Now()
	cctx, cancel := context.WithTimeout(ctx, rd.src.opts.RequestTimeout)
	defer cancel()
	out, err := rd.src.client.GetShardIterator(cctx, in)
	if err != nil {
		return nil, err
	}
	if rd.start.typ == types.ShardIteratorTypeLatest && rd.latestAt.IsZero() {
		rd.latestAt = taken
	}
	if out.ShardIterator == nil {
		return nil, errors.New("no shard iterator in the answer")
	}
	return out.ShardIterator, nil
}

// fail handles a failed call; it reports whether the reader must stop.
func (rd *shardReader) fail(ctx context.Context, op string, err error) bool {
	if ctx.Err() != nil {
		return true
	}
	log := rd.src.log.With("shard", rd.id, "op", op)
	switch errorCode(err) {
	case "ProvisionedThroughputExceededException", "LimitExceededException", "KMSThrottlingException":
		rd.throttled++
		wait := backoff(throttleBackoffMin, throttleBackoffMax, rd.throttled)
		log.Debug("kinesis: throttled", "wait", wait, "err", err)
		return !sleep(ctx, wait)
	case "ExpiredIteratorException":
		log.Info("kinesis: shard iterator expired; getting a new one", "after", rd.last)
		rd.iter = nil
		return false
	case "ResourceNotFoundException":
		return !rd.send(ctx, event{shard: rd.id, gone: true})
	}
	rd.failures++
	if rd.failures > maxFailures {
		rd.send(ctx, event{shard: rd.id, err: fmt.Errorf("kinesis: %s of shard %s failed %d times in a row: %w", op, rd.id, rd.failures, err)})
		return true
	}
	wait := backoff(failureBackoffMin, failureBackoffMax, rd.failures)
	log.Warn("kinesis: call failed; retrying", "attempt", rd.failures, "wait", wait, "err", err)
	return !sleep(ctx, wait)
}

func (rd *shardReader) send(ctx context.Context, ev event) bool {
	select {
	case rd.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// backoff is min·2^(n-1), capped at max.
func backoff(lo, hi time.Duration, n int) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
