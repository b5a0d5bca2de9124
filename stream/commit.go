package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/keygen"
	"github.com/hoodie-lake/hoodie/internal/truncate"
	"github.com/hoodie-lake/hoodie/stream/payload"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// ErrTruncate is the error of Run at a Debezium truncate with
// TruncateFail; use errors.Is. The message names the table, the unit and
// the position.
var ErrTruncate = errors.New("stream: truncate refused")

// claimPatience bounds how long a table's commit keeps retrying while
// another commit that claims one of its units is in flight (it completes,
// or its writer's heartbeat expires and it is rolled back).
func (s *Service) claimPatience() time.Duration {
	return 2*s.opts.Writer.HeartbeatTimeout + 10*time.Second
}

// commitTable commits the table's buffered messages (in several commits
// when a truncate splits them).
func (s *Service) commitTable(ctx context.Context, ts *tableState) error {
	if len(ts.raw) == 0 {
		return nil
	}
	start := time.Now()
	deadline := start.Add(s.claimPatience())
	failures := 0
	for attempt := 1; ; attempt++ {
		if len(ts.raw) == 0 {
			return nil
		}
		err := s.commitOnce(ctx, ts)
		if err == nil {
			return nil
		}
		if ts.w != nil {
			ts.w.Abort()
		}
		if !errors.Is(err, writer.ErrClaimed) {
			if !retryable(ctx, err) || failures >= commitRetries {
				s.commitFailed(ts, err)
				return err
			}
			// A storage error, a conflict the writer's own retries did not
			// resolve: nothing of the attempt is visible. Reopen the
			// writer (fresh view; Open rolls back what crashed writers
			// left) and try again.
			failures++
			s.opts.Logger.Warn("stream: commit failed; retrying", "table", ts.loc, "err", err, "retry", failures)
			_ = ts.closeWriter(s)
			select {
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			case <-time.After(min(time.Duration(failures)*time.Second, 10*time.Second)):
			}
			continue
		}
		if time.Now().After(deadline) {
			s.commitFailed(ts, err)
			return err
		}
		// Another commit consumed one of our units: read the positions
		// again and drop what it covered. While it is in flight nothing
		// moves: wait, and reopen the writer now and then (Open rolls back
		// the pending writes of writers that are gone).
		before := len(ts.raw)
		if serr := s.sync(ctx, ts); serr != nil {
			s.commitFailed(ts, serr)
			return serr
		}
		s.opts.Logger.Warn("stream: a unit of the commit was consumed by another commit; positions read again",
			"table", ts.loc, "err", err, "attempt", attempt, "dropped", before-len(ts.raw))
		if len(ts.raw) == before {
			wait := min(time.Duration(attempt)*200*time.Millisecond, 2*time.Second)
			select {
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			case <-time.After(wait):
			}
			if attempt%5 == 0 {
				_ = ts.closeWriter(s)
			}
		}
	}
}

// commitRetries is how many times a table's commit is tried again after
// an error that may pass (storage, conflicts) before Run fails.
const commitRetries = 5

// retryable tells the errors of a commit that a new attempt may not
// meet: not bad input or configuration (schema, records, unsupported
// tables), not the end of ctx, not an abort.
func retryable(ctx context.Context, err error) bool {
	switch {
	case ctx.Err() != nil, errors.Is(err, context.Canceled), errors.Is(err, ErrAborted), errors.Is(err, ErrBadMessage),
		errors.Is(err, writer.ErrSchema), errors.Is(err, writer.ErrBadRecord), errors.Is(err, writer.ErrUnsupported),
		errors.Is(err, writer.ErrMixedOperations), errors.Is(err, writer.ErrClosed), errors.Is(err, ErrTruncate):
		return false
	}
	return true
}

func (s *Service) commitFailed(ts *tableState, err error) {
	ts.lastErr = err
	s.updateStats(ts, func(st *TableStats) { st.LastError = err.Error() })
}

// commitOnce decodes the buffer against the table's schema, writes the
// bad messages to the error output, buffers the rows in the writer and
// commits them (a truncate splits them into the commit before it, its
// own, and the rest).
func (s *Service) commitOnce(ctx context.Context, ts *tableState) error {
	w, err := s.writer(ctx, ts)
	if err != nil {
		return err
	}
	if len(ts.raw) == 0 {
		return nil // creating or opening the table moved the positions past everything
	}
	cfg := ts.tbl.Config()
	excluded := map[int]bool{}
	var res *payload.Result
	var index []int // input index → raw index
	var badRecs []ErrorRecord
	for round := 0; ; round++ {
		var in []payload.Input
		index = index[:0]
		for i, m := range ts.raw {
			if !m.Control && !excluded[i] {
				in = append(in, payload.Input{Key: m.Key, Value: m.Value})
				index = append(index, i)
			}
		}
		res, err = ts.dec.Decode(in, w.Schema())
		if err != nil {
			return fmt.Errorf("stream: table %s: decoding: %w", ts.loc, err)
		}
		for _, b := range res.Bad {
			excluded[index[b.Index]] = true
			badRecs = append(badRecs, ts.errorRecord(index[b.Index], b.Field, b.Reason))
		}
		// Rows the writer would refuse (a missing key, a null ordering
		// value): find their messages, one at a time, and decode again
		// without them.
		more, err := s.refused(ts, cfg, w, res, in, index)
		if err != nil {
			res.Release()
			return err
		}
		if len(more) == 0 {
			break
		}
		res.Release()
		for _, b := range more {
			excluded[b.idx] = true
			badRecs = append(badRecs, ts.errorRecord(b.idx, b.field, b.reason))
		}
		if round == 3 {
			return fmt.Errorf("stream: table %s: rows refused after decoding the messages one by one", ts.loc)
		}
	}
	defer res.Release()
	if res.Tombstones > 0 || res.Messages > 0 {
		s.opts.Logger.Debug("stream: skipped", "table", ts.loc, "tombstones", res.Tombstones, "messages", res.Messages)
	}
	sort.Slice(badRecs, func(i, j int) bool { return badRecs[i].Unit < badRecs[j].Unit })
	if err := s.reject(ctx, ts.loc, badRecs); err != nil {
		return err
	}
	done := 0 // raw messages committed by this call
	for i := range res.Parts {
		p := &res.Parts[i]
		if !p.Truncate {
			if p.Upserts != nil && p.Upserts.NumRows() > 0 {
				if err := w.Upsert(p.Upserts); err != nil {
					return fmt.Errorf("stream: table %s: %w", ts.loc, err)
				}
			}
			if p.Deletes != nil && p.Deletes.NumRows() > 0 {
				if err := w.Delete(p.Deletes); err != nil {
					return fmt.Errorf("stream: table %s: %w", ts.loc, err)
				}
			}
			continue
		}
		at := index[p.At] - done
		if err := s.commitPrefix(ctx, ts, w, at); err != nil {
			return err
		}
		done += at
		m := ts.raw[0]
		if s.opts.OnTruncate != TruncateDeleteAll {
			return fmt.Errorf("%w: table %s: unit %s position %s: truncate%s: the messages before it are committed; neither it nor any later message of the table is applied (OnTruncate delete-all deletes every row and goes on)",
				ErrTruncate, ts.loc, m.Unit, m.Position, ofTable(p.Table))
		}
		if err := ts.tbl.Refresh(ctx); err != nil {
			return fmt.Errorf("stream: table %s: %w", ts.loc, err)
		}
		n, err := truncate.DeleteAll(ctx, ts.tbl, w)
		if err != nil {
			return fmt.Errorf("stream: table %s: unit %s position %s: truncate: %w", ts.loc, m.Unit, m.Position, err)
		}
		s.opts.Logger.Info("stream: truncate: deleting every row of the table", "table", ts.loc, "unit", m.Unit, "position", m.Position, "rows", n)
		if err := s.commitPrefix(ctx, ts, w, 1); err != nil {
			return err
		}
		done++
	}
	return s.commitPrefix(ctx, ts, w, len(ts.raw))
}

func ofTable(t string) string {
	if t == "" {
		return ""
	}
	return " of " + t
}

// errorRecord is the ErrorRecord of buffered message i.
func (ts *tableState) errorRecord(i int, field, reason string) ErrorRecord {
	m := ts.raw[i]
	return ErrorRecord{Table: ts.loc, Unit: m.Unit, Position: m.Position, Field: field, Reason: reason, Key: m.Key, Value: m.Value, Time: m.Time}
}

// commitPrefix commits what the writer buffered as covering the first n
// buffered messages: their units' positions are recorded and claimed,
// and the messages leave the buffer.
func (s *Service) commitPrefix(ctx context.Context, ts *tableState, w *writer.Writer, n int) error {
	if n == 0 && w.Buffered() == 0 {
		return nil
	}
	moved := map[string]string{}
	for _, m := range ts.raw[:n] {
		moved[m.Unit] = m.Next
	}
	positions := make(map[string]string, len(ts.positions)+len(moved))
	for u, p := range ts.positions {
		positions[u] = p
	}
	claims := make([]string, 0, len(moved))
	for u, p := range moved {
		if ComparePositions(p, positions[u]) > 0 {
			positions[u] = p
		}
		claims = append(claims, u)
	}
	sort.Strings(claims)
	js, err := json.Marshal(positions)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := w.CommitWith(ctx, writer.CommitOptions{Checkpoint: checkpoint(positions), Extra: map[string]string{PositionsKey: string(js)},
		Claims: claims, Accounted: ts.accounted})
	s.opts.Metrics.Commit(ts.loc, time.Since(start), res, err)
	if err != nil {
		return fmt.Errorf("stream: table %s: commit: %w", ts.loc, err)
	}
	ts.clearBuffer(s, n)
	if res.Instant == "" {
		s.pending[ts] += n
		return nil // nothing was buffered: the messages were bad or skipped; the next commit records their positions
	}
	ts.metas[res.Instant] = commitMeta{positions: positions}
	for u, p := range moved {
		if ComparePositions(p, ts.positions[u]) > 0 {
			ts.positions[u] = p
		}
		if us := ts.units[u]; us != nil && ComparePositions(p, us.committed) > 0 {
			us.committed = p
		}
	}
	ts.lastOK, ts.lastErr = time.Now(), nil
	ts.commits++
	st := res.Stats
	// Keys looked up: the records left after combining (deletes too).
	// Entries count every run's records (superseded ones until a merge).
	var entries int64
	if s.opts.Metrics != nil {
		if is, err := w.IndexStats(); err == nil {
			entries = is.Entries
		}
	}
	s.opts.Metrics.Index(ts.loc, entries, st.IndexHits, st.Inserts+st.Updates+st.Deletes+st.LateDropped)
	covered := int64(n + s.pending[ts])
	delete(s.pending, ts)
	s.updateStats(ts, func(t *TableStats) {
		t.Messages += covered
		t.Commits++
		t.Records += st.Inserts + st.Updates + st.Deletes
		t.LastCommit = ts.lastOK
		t.LastInstant = res.Instant
		t.LastError = ""
	})
	s.opts.Logger.Info("stream: committed", "table", ts.loc, "instant", res.Instant, "inserts", st.Inserts, "updates", st.Updates,
		"deletes", st.Deletes, "late", st.LateDropped, "duration", time.Since(start))
	if cerr := s.opts.Source.Commit(ctx, moved); cerr != nil {
		s.opts.Logger.Warn("stream: committing the source's offsets (the table holds the positions)", "err", cerr)
	}
	if !s.opts.NoArchive {
		if _, aerr := cleaner.Archive(ctx, ts.tbl, s.opts.Archive); aerr != nil {
			s.opts.Logger.Warn("stream: archiving the timeline after the commit failed (the commit stands; the next commit retries)", "table", ts.loc, "err", aerr)
		}
	}
	// Read what others committed meanwhile, and account our commit.
	if err := s.sync(ctx, ts); err != nil {
		return err
	}
	s.maybeServices(ts)
	return nil
}

// checkpoint is the Hudi streamer checkpoint of positions when they are
// all of one topic: Kafka "topic,partition:offset,..." (next offsets), or
// Kinesis "stream,shardId:sequence,...". "" otherwise.
func checkpoint(positions map[string]string) string {
	topic := ""
	type part struct {
		id  string
		num int64
		pos string
	}
	var parts []part
	numeric := true
	for u, p := range positions {
		t := topicOf(u)
		if topic == "" {
			topic = t
		} else if t != topic {
			return ""
		}
		id := u[len(t)+1:]
		n, err := strconv.ParseInt(id, 10, 32)
		if err != nil {
			numeric = false
		}
		parts = append(parts, part{id: id, num: n, pos: p})
	}
	if topic == "" {
		return ""
	}
	if numeric {
		offsets := map[int32]int64{}
		for _, p := range parts {
			o, err := strconv.ParseInt(p.pos, 10, 64)
			if err != nil {
				return ""
			}
			offsets[int32(p.num)] = o
		}
		return writer.KafkaCheckpoint(topic, offsets)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].id < parts[j].id })
	var b strings.Builder
	b.WriteString(topic)
	for _, p := range parts {
		fmt.Fprintf(&b, ",%s:%s", p.id, p.pos)
	}
	return b.String()
}

// refusedMsg is a message whose row the writer would refuse.
type refusedMsg struct {
	idx           int // raw index
	field, reason string
}

// refused finds the messages whose rows the writer would refuse: it
// checks each Part's rows, and when some fail, decodes the Part's
// messages one at a time (with a decoder of their own) to tell which.
func (s *Service) refused(ts *tableState, cfg *table.Config, w *writer.Writer, res *payload.Result, in []payload.Input, index []int) ([]refusedMsg, error) {
	var out []refusedMsg
	for _, p := range res.Parts {
		if p.Truncate {
			continue
		}
		if rowsOK(cfg, p.Upserts, false) && rowsOK(cfg, p.Deletes, true) {
			continue
		}
		for i := p.From; i < p.To; i++ {
			dec, err := payload.NewDecoder(ts.rt.r.Payload)
			if err != nil {
				return nil, err
			}
			one, err := dec.Decode(in[i:i+1], w.Schema())
			if err != nil {
				return nil, fmt.Errorf("stream: table %s: decoding: %w", ts.loc, err)
			}
			for _, q := range one.Parts {
				if f, r := firstBad(cfg, q.Upserts, false); r != "" {
					out = append(out, refusedMsg{idx: index[i], field: f, reason: r})
					break
				}
				if f, r := firstBad(cfg, q.Deletes, true); r != "" {
					out = append(out, refusedMsg{idx: index[i], field: f, reason: r})
					break
				}
			}
			one.Release()
		}
	}
	return out, nil
}

func rowsOK(cfg *table.Config, rec arrow.RecordBatch, del bool) bool {
	_, r := firstBad(cfg, rec, del)
	return r == ""
}

// firstBad returns the field and reason of the first row of rec the
// writer would refuse ("" when none): a missing or null record key or
// partition value, a null ordering value (upserts), an invalid string.
func firstBad(cfg *table.Config, rec arrow.RecordBatch, del bool) (field, reason string) {
	if rec == nil || rec.NumRows() == 0 {
		return "", ""
	}
	for _, f := range append(append([]string(nil), cfg.RecordKeyFields...), cfg.PartitionFields...) {
		if arrowutil.Column(rec, f) == nil {
			if del && contains(cfg.PartitionFields, f) {
				return f, "delete: the partition field is missing in the deleted row's image, so the row's partition is unknown"
			}
			return f, "record key or partition field is missing"
		}
	}
	if ue := arrowutil.InvalidUTF8Rows(rec); len(ue) > 0 {
		return ue[0].Field, ue[0].Reason()
	}
	if kind, err := keygen.KindFromClass(cfg.KeyGeneratorClass()); err == nil {
		gen, err := keygen.New(keygen.Config{RecordKeyFields: cfg.RecordKeyFields, PartitionFields: cfg.PartitionFields, Kind: kind,
			HiveStyle: cfg.HiveStylePartitioning, URLEncode: cfg.URLEncodePartitioning, Timestamp: keygen.TimestampOptions(cfg.Timestamp)}, rec.Schema())
		// When it cannot be built, the writer's own error says why.
		if err == nil {
			if _, _, bad := gen.KeysLenient(rec); len(bad) > 0 {
				return bad[0].Field, bad[0].Reason
			}
		}
	}
	if !del && cfg.PrecombineField != "" {
		col := arrowutil.Column(rec, cfg.PrecombineField)
		if col == nil || col.NullN() > 0 {
			return cfg.PrecombineField, "precombine field is missing or null"
		}
	}
	return "", ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
