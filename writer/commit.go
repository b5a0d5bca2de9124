package writer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hoodie-lake/hoodie/index"
	"github.com/hoodie-lake/hoodie/internal/schema"
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
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.closed {
		return nil, ErrClosed
	}
	if len(w.mu.batches) == 0 {
		return &CommitResult{}, nil
	}
	start := time.Now()
	res, err := w.commit(ctx, w.mu.batches, w.mu.schema, checkpoint)
	for retry := 1; errors.Is(err, ErrConflict) && retry <= w.opts.ConflictRetries; retry++ {
		select {
		case <-ctx.Done():
			return nil, errors.Join(err, ctx.Err())
		case <-time.After(conflictBackoff(retry)):
		}
		res, err = w.commit(ctx, w.mu.batches, w.mu.schema, checkpoint)
	}
	if err != nil {
		return nil, err
	}
	res.Stats.Duration = time.Since(start)
	w.releaseLocked()
	return res, nil
}

// plan is the work of one commit: a handle per touched file group.
type plan struct {
	handles []*handle
	byID    map[table.FileGroupID]*handle
	// mor: merge-on-read; slices are the latest slices of routed groups,
	// pending the groups of pending compaction plans (-> their instant).
	mor     bool
	slices  map[table.FileGroupID]*table.FileSlice
	pending map[table.FileGroupID]string
	// pendingMoves are records whose key moved partition (global index):
	// deleted from the old group, inserted into the new partition.
	pendingMoves []ref
}

func (p *plan) handleFor(id table.FileGroupID, old *table.BaseFileInfo) *handle {
	if h, ok := p.byID[id]; ok {
		return h
	}
	h := &handle{id: id, old: old, upd: map[string]ref{}, task: len(p.handles)}
	p.byID[id] = h
	p.handles = append(p.handles, h)
	return h
}

func (w *Writer) commit(ctx context.Context, batches []*batch, sch *schema.Schema, checkpoint string) (*CommitResult, error) {
	if sch == nil {
		return nil, fmt.Errorf("%w: no schema: the table has none and no data batch was given", ErrSchema)
	}
	// Upserts and deletes may share a commit (then it is an UPSERT);
	// inserts and bulk inserts never share one (buffer refuses it).
	op := batches[0].op
	opType := op.String()
	for _, b := range batches {
		if b.op != op {
			opType = timeline.OpUpsert
		}
	}

	winners, dupes := dedup(batches, w.opts.GlobalIndex)
	res := &CommitResult{Operation: opType}
	res.Stats.Duplicates = int64(dupes)

	tl, err := timeline.Load(ctx, w.st)
	if err != nil {
		return nil, err
	}
	if w.opts.Concurrency == SingleWriter {
		if err := w.checkAlone(ctx, tl, ""); err != nil {
			return nil, err
		}
	}
	if err := w.catchUpIndex(ctx, tl); err != nil {
		return nil, err
	}
	w.hook("begun")
	// The view covers the partitions this commit touches (with a global
	// index, where a key may live in any partition, the whole table).
	vo := table.ViewOptions{}
	if !w.opts.GlobalIndex {
		vo.Partitions = []string{}
		seen := map[string]bool{}
		for _, r := range winners {
			if part := r.partition(); !seen[part] {
				seen[part] = true
				vo.Partitions = append(vo.Partitions, part)
			}
		}
	}
	view, err := table.BuildView(ctx, w.st, tl, vo)
	if err != nil {
		return nil, err
	}

	p := &plan{byID: map[table.FileGroupID]*handle{}, mor: w.cfg.Type == table.MergeOnRead, slices: map[table.FileGroupID]*table.FileSlice{}}
	action := timeline.Commit
	if p.mor {
		action = timeline.DeltaCommit
		if p.pending, err = table.PendingCompactionGroups(ctx, w.st, tl); err != nil {
			return nil, fmt.Errorf("writer: %w", err)
		}
	}
	var inserts []ref
	if op == OpInsert || op == OpBulkInsert {
		inserts = winners
	} else {
		if inserts, err = w.tag(ctx, tl, view, winners, p, &res.Stats); err != nil {
			return nil, err
		}
	}
	if err := w.assignInserts(ctx, tl, view, inserts, op == OpBulkInsert, p); err != nil {
		return nil, err
	}
	// Handles with nothing to do (e.g. deletes of keys that are not stored)
	// are dropped. Merge-on-read groups that receive no inserts get log
	// files; the others (new groups, small files without logs) a base file.
	var work []*handle
	for _, h := range p.handles {
		if len(h.upd) > 0 || len(h.ins) > 0 || len(h.moved) > 0 {
			work = append(work, h)
		}
		if p.mor && h.old != nil && len(h.ins) == 0 {
			h.log = p.logTarget(view, h.id)
		}
	}

	// The heartbeat starts before the instant appears on the timeline and
	// stops after it completed or was rolled back.
	var hb *heartbeat
	tx, err := timeline.Begin(ctx, w.st, action, nil, timeline.BeginOptions{BeforeRequested: func(ts string) error {
		var err error
		hb, err = startHeartbeat(ctx, w.st, ts, w.opts.HeartbeatTimeout)
		return err
	}})
	if err != nil {
		if hb != nil {
			hb.stop(ctx)
		}
		return nil, err
	}
	defer hb.stop(ctx)
	T := tx.InstantTime()
	w.seen[T] = true // whatever becomes of it, it is not another writer's
	committed := false
	earlyStarted := false
	defer func() {
		if !committed {
			if earlyStarted && (op == OpInsert || op == OpBulkInsert) {
				w.indexDirty = true
			}
			// Best effort: remove what this attempt wrote. If this fails
			// too, the next writer's Open rolls the instant back.
			_ = rollbackInstant(context.WithoutCancel(ctx), w.st, tx.Instant())
		}
	}()

	profile := &timeline.CommitMetadata{OperationType: opType, ExtraMetadata: map[string]string{}}
	for _, h := range work {
		fid := ""
		if h.old != nil {
			fid = h.id.FileID
		}
		profile.AddStat(timeline.WriteStat{FileID: fid, PartitionPath: h.id.PartitionPath, PrevCommit: timeline.NullPrevCommit,
			NumInserts: int64(len(h.ins)), NumUpdateWrites: int64(len(h.upd))})
	}
	pb, err := profile.Marshal()
	if err != nil {
		return nil, err
	}
	if err := tx.Inflight(ctx, pb); err != nil {
		return nil, err
	}

	// Partition metadata for partitions this commit creates.
	existing := map[string]bool{}
	for _, part := range view.Partitions() {
		existing[part] = true
	}
	created := map[string]bool{}
	for _, h := range work {
		if !existing[h.id.PartitionPath] && !created[h.id.PartitionPath] {
			created[h.id.PartitionPath] = true
			if err := table.WritePartitionMetadata(ctx, w.st, h.id.PartitionPath, T); err != nil {
				return nil, fmt.Errorf("writer: %w", err)
			}
		}
	}

	// Index entries of new keys are written while the data files are: they
	// name T, which lookups trust only once T completed. For upserts they
	// are keys the index had no trusted entry for, so a crash leaves them
	// inert. Inserts do not look keys up: an existing key's entry may be
	// replaced, so a failed insert marks the index for a rebuild (here, and
	// at the next Open through the inflight file's operation type).
	earlyStarted = true
	var fresh []index.Entry
	for _, h := range work {
		loc := index.Location{PartitionPath: h.id.PartitionPath, FileID: h.id.FileID, Instant: T}
		for _, r := range h.ins[:h.fresh] {
			fresh = append(fresh, index.Entry{Key: index.Key{PartitionPath: h.id.PartitionPath, RecordKey: r.key()}, Location: loc})
		}
	}
	earlyDone := make(chan error, 1)
	go func() { earlyDone <- w.idx.PutPending(ctx, T, fresh) }()
	earlyErr := func() error { err := <-earlyDone; earlyDone <- err; return err }

	// Write handles in parallel.
	wc := &writeContext{w: w, txn: tx, instant: T, schema: sch, payloadDefault: w.cfg.PayloadClass == table.PayloadDefault,
		include: tl.Visible("")}
	results := make([]*handleResult, len(work))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(w.opts.Parallelism)
	for i, h := range work {
		g.Go(func() error {
			r, err := wc.run(gctx, h)
			if err != nil {
				return fmt.Errorf("writer: file group %s: %w", h.id, err)
			}
			results[i] = r
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		earlyErr()
		return nil, err
	}
	if err := earlyErr(); err != nil {
		return nil, fmt.Errorf("writer: index: %w", err)
	}
	// Late records are counted whether or not their handle wrote anything.
	var late int64
	for i, r := range results {
		if r == nil {
			continue
		}
		late += r.late
		if r.empty {
			results[i] = nil
		}
	}
	res.Stats.LateDropped += late
	if p.mor {
		w.hook("before-relocate")
		if err := w.relocateLogs(ctx, tl, tx, work, results); err != nil {
			return nil, err
		}
		w.hook("after-relocate")
	}
	if w.opts.Concurrency == Optimistic {
		if w.beforeSlot != nil {
			w.beforeSlot()
		}
		ins := insertedKeys(work)
		check := ins
		if op == OpInsert || op == OpBulkInsert {
			check = nil // not routed by the index: a retry would change nothing
		}
		if err := w.claimSlot(ctx, tl, T, touchedGroups(work), ins, check); err != nil {
			return nil, err
		}
	}

	md := &timeline.CommitMetadata{
		OperationType: opType,
		ExtraMetadata: map[string]string{timeline.SchemaKey: sch.AvroJSON()},
	}
	if checkpoint != "" {
		md.ExtraMetadata[CheckpointKey] = checkpoint
	}
	parts := map[string]bool{}
	kept := results[:0]
	for _, r := range results {
		if r != nil {
			kept = append(kept, r)
		}
	}
	results = kept
	for _, r := range results {
		md.AddStat(r.stat)
		parts[r.stat.PartitionPath] = true
		res.Stats.Inserts += r.stat.NumInserts
		res.Stats.Updates += r.stat.NumUpdateWrites
		res.Stats.Deletes += r.stat.NumDeletes
		res.Stats.Writes += r.stat.NumWrites
		res.Stats.BytesWritten += r.stat.TotalWriteBytes
		res.Stats.FilesWritten++
	}
	res.Stats.Partitions = len(parts)
	b, err := md.Marshal()
	if err != nil {
		return nil, err
	}
	// Last checks: the heartbeat stayed fresh (no other writer may take T
	// for a failed write); in single-writer mode, no other writer appeared
	// (the check reads the timeline after this commit's heartbeat and
	// instant exist, so of two concurrent writers at least the later one
	// sees the other); in optimistic mode claimSlot checked.
	if err := hb.check(); err != nil {
		return nil, err
	}
	if w.opts.Concurrency == SingleWriter {
		w.hook("before-check")
		if err := w.checkAlone(ctx, nil, T); err != nil {
			return nil, err
		}
	}
	// The commit point.
	if err := tx.Complete(ctx, b); err != nil {
		return nil, err
	}
	committed = true
	res.Instant = T
	res.Metadata = md

	// After the commit point: index, then markers. A failure here loses
	// nothing: the index catches up on the next open.
	n := 0
	for _, r := range results {
		n += len(r.entries)
	}
	entries := make([]index.Entry, 0, n)
	var removed []index.Key
	for _, r := range results {
		entries = append(entries, r.entries...)
		removed = append(removed, r.removed...)
	}
	if err := w.idx.Put(ctx, T, entries); err != nil {
		return res, fmt.Errorf("writer: committed %s, but updating the index failed (it catches up on the next open): %w", T, err)
	}
	if len(removed) > 0 {
		if err := w.idx.Delete(ctx, T, removed); err != nil {
			return res, fmt.Errorf("writer: committed %s, but updating the index failed (it catches up on the next open): %w", T, err)
		}
	}
	if err := tx.Finish(ctx); err != nil {
		return res, fmt.Errorf("writer: %w", err)
	}
	return res, nil
}

// tag locates each winner's stored record. Records found go to their file
// group's handle; the rest are returned as inserts (deletes of unknown keys
// are dropped).
func (w *Writer) tag(ctx context.Context, tl *timeline.Timeline, view *table.View, winners []ref, p *plan, st *Stats) ([]ref, error) {
	keys := make([]index.Key, len(winners))
	for i, r := range winners {
		keys[i] = index.Key{PartitionPath: r.partition(), RecordKey: r.key()}
	}
	locs, found, err := w.idx.Lookup(ctx, keys, index.LookupOptions{Trust: tl.Visible("")})
	if err != nil {
		return nil, fmt.Errorf("writer: index lookup: %w", err)
	}
	latest := map[table.FileGroupID]*table.FileSlice{}
	for _, s := range view.LatestSlices() {
		latest[s.FileGroupID] = s
	}
	var misses []int
	for i, r := range winners {
		if found[i] {
			id := table.FileGroupID{PartitionPath: locs[i].PartitionPath, FileID: locs[i].FileID}
			if s, ok := latest[id]; ok && s.Base != nil {
				st.IndexHits++
				w.route(p, s, r)
				continue
			}
		}
		misses = append(misses, i)
	}
	var inserts []ref
	var fl *footerLookup
	if w.opts.IndexTTL > 0 && !w.opts.DisableFooterLookup && len(misses) > 0 {
		fl = newFooterLookup(w.st, view)
	}
	for _, i := range misses {
		r := winners[i]
		if fl != nil {
			s, err := fl.find(ctx, r.partition(), r.key(), w.opts.GlobalIndex)
			if err != nil {
				return nil, err
			}
			if s != nil {
				st.FooterHits++
				w.route(p, s, r)
				continue
			}
		}
		if r.isDelete() {
			continue // nothing stored to delete
		}
		inserts = append(inserts, r)
	}
	return inserts, nil
}

// route sends a located record to its file group; with a global index a
// record whose partition changed deletes the stored one and is inserted
// into its new partition.
func (w *Writer) route(p *plan, s *table.FileSlice, r ref) {
	p.slices[s.FileGroupID] = s
	h := p.handleFor(s.FileGroupID, s.Base)
	if s.PartitionPath != r.partition() && !r.isDelete() {
		h.moved = append(h.moved, r.key())
		// The insert into the new partition is assigned later.
		p.pendingMoves = append(p.pendingMoves, r)
		return
	}
	h.upd[r.key()] = r
}

// assignInserts spreads inserts over file groups, per partition: first into
// the latest base files under the small-file limit, then into new file
// groups of at most the target size.
func (w *Writer) assignInserts(ctx context.Context, tl *timeline.Timeline, view *table.View, inserts []ref, bulk bool, p *plan) error {
	inserts = append(inserts, p.pendingMoves...)
	if len(inserts) == 0 {
		return nil
	}
	recSize := w.averageRecordSize(ctx, tl)
	perFile := w.opts.TargetFileSize / recSize
	if perFile < 1 {
		perFile = 1
	}
	byPart := map[string][]ref{}
	var partOrder []string
	for _, r := range inserts {
		part := r.partition()
		if _, ok := byPart[part]; !ok {
			partOrder = append(partOrder, part)
		}
		byPart[part] = append(byPart[part], r)
	}
	sort.Strings(partOrder)
	for _, part := range partOrder {
		recs := byPart[part]
		if bulk {
			// Sorted by key, each new file covers a narrow key range, which
			// makes footer key-range checks effective.
			sortByKey(recs)
		}
		if !bulk && w.opts.SmallFileLimit > 0 {
			for _, s := range view.LatestSlicesIn(part) {
				if len(recs) == 0 {
					break
				}
				if s.Base == nil || s.Base.Size >= w.opts.SmallFileLimit {
					continue
				}
				if p.mor {
					// Hudi's rule for indexes that do not index log files:
					// only slices without logs, and not in a pending
					// compaction, take inserts (as a merged new base file).
					if _, pending := p.pending[s.FileGroupID]; pending || len(s.Logs) > 0 {
						continue
					}
				}
				room := (w.opts.TargetFileSize - s.Base.Size) / recSize
				if room <= 0 {
					continue
				}
				n := min(int64(len(recs)), room)
				h := p.handleFor(s.FileGroupID, s.Base)
				h.ins = append(h.ins, recs[:n]...)
				recs = recs[n:]
			}
		}
		for len(recs) > 0 {
			n := min(int64(len(recs)), perFile)
			id := table.FileGroupID{PartitionPath: part, FileID: table.NewFileID()}
			h := p.handleFor(id, nil)
			h.ins = append(h.ins, recs[:n]...)
			recs = recs[n:]
		}
	}
	// Moved keys last in each handle: h.ins[:h.fresh] are keys the index
	// has no trusted entry for.
	moved := map[string]bool{}
	for _, r := range p.pendingMoves {
		moved[r.key()] = true
	}
	for _, h := range p.handles {
		if len(moved) > 0 {
			slices.SortStableFunc(h.ins, func(a, b ref) int {
				ma, mb := moved[a.key()], moved[b.key()]
				switch {
				case ma == mb:
					return 0
				case mb:
					return -1
				}
				return 1
			})
		}
		h.fresh = len(h.ins)
		for h.fresh > 0 && moved[h.ins[h.fresh-1].key()] {
			h.fresh--
		}
	}
	return nil
}

// averageRecordSize estimates bytes per record from the latest commit that
// wrote data, as Hudi does for file sizing.
func (w *Writer) averageRecordSize(ctx context.Context, tl *timeline.Timeline) int64 {
	if w.opts.recordSize > 0 {
		return w.opts.recordSize
	}
	commits := tl.CompletedCommits()
	for i := len(commits) - 1; i >= 0 && i >= len(commits)-5; i-- {
		md, err := timeline.ReadCommitMetadata(ctx, w.st, commits[i])
		if err != nil {
			continue
		}
		writes, _, _, _, bytes, _ := md.Totals()
		if writes > 0 && bytes > 0 {
			if s := bytes / writes; s > 0 {
				return s
			}
		}
	}
	return DefaultRecordSizeBytes
}

// sortByKey sorts refs by record key.
func sortByKey(recs []ref) {
	type keyed struct {
		k string
		r ref
	}
	ks := make([]keyed, len(recs))
	for i, r := range recs {
		ks[i] = keyed{r.key(), r}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return strings.Compare(a.k, b.k) })
	for i := range ks {
		recs[i] = ks[i].r
	}
}

// logTarget is the log destination of merge-on-read group id: its latest
// slice, with the base instant new log files carry and the versions taken.
func (p *plan) logTarget(view *table.View, id table.FileGroupID) *logTarget {
	s := p.slices[id]
	lt := &logTarget{slice: s, baseInstant: s.BaseInstant, taken: map[int]bool{}}
	if c, ok := p.pending[id]; ok && c > s.BaseInstant {
		lt.baseInstant = c
	}
	for _, l := range s.Logs {
		if l.BaseInstant == lt.baseInstant {
			lt.taken[l.Version] = true
		}
	}
	for _, f := range view.Hidden {
		if pathDir(f.Path) != id.PartitionPath {
			continue
		}
		if l, err := table.ParseLogFileName(f.Name); err == nil && l.FileID == id.FileID && l.BaseInstant == lt.baseInstant {
			lt.taken[l.Version] = true
		}
	}
	return lt
}
