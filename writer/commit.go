package writer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/hoodie-lake/hoodie/index"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/rollback"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"golang.org/x/sync/errgroup"
)

// Stats summarise one commit.
type Stats struct {
	Inserts      int64 // new keys written
	Updates      int64 // stored records replaced
	Deletes      int64 // stored records deleted
	Writes       int64 // rows in the files written (kept + new)
	Duplicates   int64 // records combined away within the commit
	LateDropped  int64 // records older than the stored version (event-time ordering): not applied, not in Updates, on both table types
	FilesWritten int
	BytesWritten int64
	Partitions   int
	IndexHits    int64 // keys located by the index
	FooterHits   int64 // keys the index missed but a file footer located
	Duration     time.Duration
	// PeakHeapPrepare, PeakHeapExecute and PeakHeapPublish are the largest
	// Go heap (bytes of heap objects, live or not yet swept; the whole
	// process's) seen during each stage of the commit, sampled every few
	// milliseconds; PeakHeapBytes is the largest of the three.
	PeakHeapPrepare int64
	PeakHeapExecute int64
	PeakHeapPublish int64
	PeakHeapBytes   int64
}

// CommitResult is what Commit returns.
type CommitResult struct {
	Instant   string // "" when nothing was buffered
	Operation string
	Stats     Stats
	Metadata  *timeline.CommitMetadata
}

// Commit writes everything buffered as one instant on the timeline and
// returns its instant time and write stats. On error nothing of the
// instant is visible; the buffer is kept so the caller may retry or Abort.
func (w *Writer) Commit(ctx context.Context) (*CommitResult, error) {
	return w.CommitWithCheckpoint(ctx, "")
}

// CommitWithCheckpoint is Commit that also records the source position the
// buffered records end at (a Kafka topic's partition offsets, a Kinesis
// sequence number, a file and line; see KafkaCheckpoint) in the commit's
// extraMetadata under CheckpointKey, atomically with the data. After a
// crash, LastCheckpoint tells a consumer where to resume so that no record
// is committed twice. An empty checkpoint records none.
func (w *Writer) CommitWithCheckpoint(ctx context.Context, checkpoint string) (*CommitResult, error) {
	return w.CommitWith(ctx, CommitOptions{Checkpoint: checkpoint})
}

// CommitOptions are what a commit records besides the data, and the
// source units it claims.
type CommitOptions struct {
	// Checkpoint is recorded under CheckpointKey (see CommitWithCheckpoint).
	Checkpoint string
	// Extra are more extraMetadata entries (a source's positions, say).
	// They must not name hoodie's or Hudi's own keys (the schema, the
	// checkpoint, ClaimsKey).
	Extra map[string]string
	// Claims are the source units the buffered records came from (Kafka
	// topic partitions, Kinesis shards: any strings without commas). A
	// unit is consumed by one commit at a time: the commit fails with
	// ErrClaimed — never retried, nothing of it visible — when another
	// commit that claims one of the same units is in flight (it took its
	// optimistic commit slot first) or completed after Accounted. That is
	// how a consumer that lost its units in a rebalance (a zombie) is kept
	// from committing records the units' new owner also reads. Claims are
	// recorded under ClaimsKey.
	Claims []string
	// Accounted is the timeline the caller read the units' positions from:
	// commits completed on it are known to the caller. nil with Claims:
	// only in-flight commits are checked.
	Accounted *timeline.Timeline
}

// ClaimsKey is the extraMetadata key of a commit's claimed source units
// (CommitOptions.Claims), comma-separated.
const ClaimsKey = "hoodie.source.claims"

// ErrClaimed reports a commit refused because another commit consumed one
// of its source units concurrently or since the caller read the units'
// positions (CommitOptions.Claims). Nothing of it is visible. Retrying
// would commit records twice: the caller drops its buffer (Abort) and
// reads its positions again.
var ErrClaimed = errors.New("writer: a source unit of this commit was consumed by another commit")

func (o *CommitOptions) validate() error {
	for k := range o.Extra {
		if k == CheckpointKey || k == ClaimsKey || k == timeline.SchemaKey {
			return fmt.Errorf("writer: CommitOptions.Extra must not set %s", k)
		}
	}
	for _, c := range o.Claims {
		if c == "" || strings.Contains(c, ",") {
			return fmt.Errorf("writer: CommitOptions.Claims: unit %q: want a non-empty name without commas", c)
		}
	}
	return nil
}

// CommitWith is Commit with the options' metadata and claims.
func (w *Writer) CommitWith(ctx context.Context, o CommitOptions) (*CommitResult, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.closed {
		return nil, ErrClosed
	}
	if len(w.mu.batches) == 0 {
		return &CommitResult{}, nil
	}
	start := time.Now()
	res, err := w.commit(ctx, w.mu.batches, w.mu.schema, &o)
	for retry := 1; errors.Is(err, ErrConflict) && retry <= w.opts.ConflictRetries; retry++ {
		select {
		case <-ctx.Done():
			return nil, errors.Join(err, ctx.Err())
		case <-time.After(conflictBackoff(retry)):
		}
		res, err = w.commit(ctx, w.mu.batches, w.mu.schema, &o)
	}
	if err != nil {
		return nil, err
	}
	res.Stats.Duration = time.Since(start)
	w.releaseLocked()
	return res, nil
}

// commit writes batches as one instant, in three stages after catchUp
// brought the writer level with the table:
//
//	prepare  dedup → view → tag → assign: a plan (reads only)
//	execute  the instant begins (heartbeat, requested, inflight with the
//	         plan's profile) and the plan's handles write their files
//	publish  OCC slot, last checks, the commit point, index, markers
//
// Until the commit point nothing of the instant is visible; an attempt
// that fails before it is rolled back (end).
func (w *Writer) commit(ctx context.Context, batches []*batch, sch *schema.Schema, co *CommitOptions) (*CommitResult, error) {
	if sch == nil {
		return nil, fmt.Errorf("%w: no schema: the table has none and no data batch was given", ErrSchema)
	}
	if err := w.catchUp(ctx); err != nil {
		return nil, err
	}
	w.hook("begun")
	hw := watchHeap()
	defer hw.stop()
	p, err := w.prepare(ctx, batches)
	if err != nil {
		return nil, vanished(err)
	}
	hw.next()
	a, err := w.begin(ctx, p)
	if err != nil {
		return nil, err
	}
	defer w.end(ctx, p, a)
	if err := w.execute(ctx, p, a, sch); err != nil {
		return nil, vanished(err)
	}
	hw.next()
	res, err := w.publish(ctx, p, a, sch, co)
	if res != nil {
		hw.report(&res.Stats)
	}
	w.state.committed(p.action, res)
	return res, err
}

// vanished makes a file of the commit's view that no longer exists a
// conflict: a concurrent writer rolled back a failed write whose log file
// the view listed (log files of writes in flight are listed; their blocks
// are skipped), or a service removed a file. A retry plans from a fresh
// view (Options.ConflictRetries).
func vanished(err error) error {
	if errors.Is(err, fs.ErrNotExist) && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("%w: a file of the table vanished while the commit read it (a concurrent rollback or clean): %w", ErrConflict, err)
	}
	return err
}

// catchUp brings the writer level with the table before a commit plans:
// a fresh timeline, the single-writer check against it, and the index
// caught up with the commits it missed.
func (w *Writer) catchUp(ctx context.Context) error {
	tl, err := w.refresh(ctx)
	if err != nil {
		return err
	}
	if w.opts.Concurrency == SingleWriter {
		if err := w.checkAlone(ctx, tl, ""); err != nil {
			return err
		}
	}
	return w.catchUpIndex(ctx)
}

// refresh reloads the table's timeline (other processes' instants) and
// returns it; the table handle's view is rebuilt on its next use.
func (w *Writer) refresh(ctx context.Context) (*timeline.Timeline, error) {
	if err := w.tbl.Refresh(ctx); err != nil {
		return nil, err
	}
	tl, err := w.tbl.Timeline(ctx)
	if err == nil {
		w.state.refreshed(tl)
	}
	return tl, err
}

// attempt is one try at committing a plan: the instant's Txn and
// heartbeat, and what the plan's handles wrote.
type attempt struct {
	tx *timeline.Txn
	hb *timeline.Heartbeat
	// results are the handles' results, index for index with the plan's
	// handles; nil for a handle that wrote nothing.
	results []*handleResult
	// late counts records older than the stored version (Stats.LateDropped).
	late int64
	// early: the plan's new keys were being indexed before the commit point.
	early bool
	// committed: the commit point passed.
	committed bool
}

// begin starts the instant of plan p: its heartbeat first (no other
// process may see the pending instant without one; end stops it once the
// instant completed or was rolled back), then its requested file.
func (w *Writer) begin(ctx context.Context, p *plan) (*attempt, error) {
	a := &attempt{}
	tx, err := timeline.Begin(ctx, w.st, p.action, nil, timeline.BeginOptions{BeforeRequested: func(ts string) error {
		var err error
		a.hb, err = timeline.StartHeartbeat(ctx, w.st, ts, w.opts.HeartbeatTimeout)
		return err
	}})
	if err != nil {
		a.hb.Stop(ctx)
		return nil, err
	}
	a.tx = tx
	w.seen[tx.InstantTime()] = true // whatever becomes of it, it is not another writer's
	return a, nil
}

// end closes attempt a of plan p. Unless the commit point passed, it
// removes what the attempt wrote (best effort: if this fails too, the next
// writer's Open rolls the instant back), and an insert that indexed keys
// early marks the index for a rebuild (they may have replaced entries of
// stored keys). Then the heartbeat stops.
func (w *Writer) end(ctx context.Context, p *plan, a *attempt) {
	if !a.committed {
		if a.early && p.inserting() {
			w.indexDirty = true
		}
		_ = rollback.Failed(context.WithoutCancel(ctx), w.tbl, a.tx.Instant())
	}
	a.hb.Stop(ctx)
}

// execute runs plan p as attempt a: the instant goes inflight with the
// plan's workload profile, partitions the plan creates get their metadata
// file, the handles write their file groups (Parallelism at a time) while
// the plan's new keys are indexed, and on merge-on-read, logs written to a
// slice that a compaction scheduled meanwhile replaces are moved into the
// compaction's slice.
func (w *Writer) execute(ctx context.Context, p *plan, a *attempt, sch *schema.Schema) error {
	pb, err := p.profile().Marshal()
	if err != nil {
		return err
	}
	if err := a.tx.Inflight(ctx, pb); err != nil {
		return err
	}
	if err := w.createPartitions(ctx, p, a.tx.InstantTime()); err != nil {
		return err
	}
	a.early = true
	indexed := w.indexEarly(ctx, p, a.tx.InstantTime())
	if err := w.runHandles(ctx, p, a, sch); err != nil {
		_ = indexed()
		return err
	}
	if err := indexed(); err != nil {
		return fmt.Errorf("writer: index: %w", err)
	}
	// Late records are counted whether or not their handle wrote anything.
	for i, r := range a.results {
		a.late += r.late
		if r.empty {
			a.results[i] = nil
		}
	}
	if p.mor {
		w.hook("before-relocate")
		if err := w.relocateLogs(ctx, p.tl, a.tx, p.handles, a.results); err != nil {
			return err
		}
		w.hook("after-relocate")
	}
	return nil
}

// profile is the plan's workload profile, the content of the inflight
// file: per file group, the inserts and updates it receives.
func (p *plan) profile() *timeline.CommitMetadata {
	md := &timeline.CommitMetadata{OperationType: p.opType, ExtraMetadata: map[string]string{}}
	for _, h := range p.handles {
		fid := ""
		if h.old != nil {
			fid = h.id.FileID
		}
		md.AddStat(timeline.WriteStat{FileID: fid, PartitionPath: h.id.PartitionPath, PrevCommit: timeline.NullPrevCommit,
			NumInserts: int64(len(h.ins)), NumUpdateWrites: int64(len(h.upd))})
	}
	return md
}

// createPartitions writes the partition metadata of the partitions plan p
// creates.
func (w *Writer) createPartitions(ctx context.Context, p *plan, instant string) error {
	done := map[string]bool{}
	for _, part := range p.view.Partitions() {
		done[part] = true
	}
	for _, h := range p.handles {
		if part := h.id.PartitionPath; !done[part] {
			done[part] = true
			if err := table.WritePartitionMetadata(ctx, w.st, part, instant); err != nil {
				return fmt.Errorf("writer: %w", err)
			}
		}
	}
	return nil
}

// indexEarly starts writing the index entries of the plan's new keys while
// the data files are written, and returns the wait for it. They name the
// instant, which lookups trust only once it completed. For upserts they
// are keys the index had no trusted entry for, so a crash leaves them
// inert. Inserts do not look keys up: an existing key's entry may be
// replaced, so a failed insert marks the index for a rebuild (end, and at
// the next Open through the inflight file's operation type).
func (w *Writer) indexEarly(ctx context.Context, p *plan, instant string) func() error {
	done := make(chan error, 1)
	go func() { done <- w.putFresh(ctx, p, instant) }()
	return sync.OnceValue(func() error { return <-done })
}

// freshChunk bounds the index entries built at once by putFresh.
const freshChunk = 256 << 10

// putFresh writes the index entries of the plan's new keys, freshChunk at
// a time, so that their Go copies never hold more than a chunk.
func (w *Writer) putFresh(ctx context.Context, p *plan, instant string) error {
	n := 0
	for _, h := range p.handles {
		n += h.fresh
	}
	chunk := make([]index.Entry, 0, min(n, freshChunk))
	for _, h := range p.handles {
		loc := index.Location{PartitionPath: h.id.PartitionPath, FileID: h.id.FileID, Instant: instant}
		for _, r := range h.ins[:h.fresh] {
			chunk = append(chunk, index.Entry{Key: index.Key{PartitionPath: h.id.PartitionPath, RecordKey: r.key()}, Location: loc})
			if len(chunk) == freshChunk {
				if err := w.idx.PutPending(ctx, instant, chunk); err != nil {
					return err
				}
				chunk = make([]index.Entry, 0, freshChunk) // the index may keep the last
			}
		}
	}
	if len(chunk) == 0 && n > 0 {
		return nil
	}
	return w.idx.PutPending(ctx, instant, chunk)
}

// runHandles writes the file groups of plan p, Parallelism at a time, and
// keeps their results in a.
func (w *Writer) runHandles(ctx context.Context, p *plan, a *attempt, sch *schema.Schema) error {
	wc := &writeContext{w: w, txn: a.tx, instant: a.tx.InstantTime(), schema: sch,
		payloadDefault: w.cfg.PayloadClass == table.PayloadDefault, include: p.tl.Visible("")}
	a.results = make([]*handleResult, len(p.handles))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(w.opts.Parallelism)
	for i, h := range p.handles {
		g.Go(func() error {
			r, err := wc.execute(gctx, h)
			if err != nil {
				return fmt.Errorf("writer: file group %s: %w", h.id, err)
			}
			a.results[i] = r
			return nil
		})
	}
	return g.Wait()
}
