package writer

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/index"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// plan is the work of one commit, as prepare made it: a handle per file
// group the commit writes, and the table state it was planned against.
// Making a plan writes nothing; execute runs its handles.
type plan struct {
	// tl is the timeline the plan was made against: its completed
	// instants are the commit's view (execute reads slices as of it,
	// publish checks what completed since).
	tl *timeline.Timeline
	// view holds the file groups of the partitions the commit touches
	// (with a global index, of the whole table) as of tl.
	view *filegroup.View
	// op is the buffered operation (inserts and bulk inserts never share a
	// commit); opType the commit's operation type (upserts and deletes
	// together are an UPSERT); action commit or deltacommit.
	op     Operation
	opType string
	action timeline.Action
	// stats are what planning counted: Duplicates, IndexHits, FooterHits.
	stats Stats

	// handles are the file groups to write, each with a task number (its
	// write token) in the order they were created; after prepare, only
	// those with something to do.
	handles []*handle
	byID    map[filegroup.FileGroupID]*handle
	// mor: merge-on-read; slices are the latest slices of routed groups,
	// pending the groups of pending compaction plans (-> their instant).
	mor     bool
	slices  map[filegroup.FileGroupID]*filegroup.FileSlice
	pending map[filegroup.FileGroupID]string
	// pendingMoves are records whose key moved partition (global index):
	// deleted from the old group, inserted into the new partition.
	pendingMoves []ref
}

// newPlan starts the plan of a commit of batches against tl.
func newPlan(tl *timeline.Timeline, batches []*batch, mor bool) *plan {
	p := &plan{tl: tl, op: batches[0].op, opType: batches[0].op.String(), action: timeline.Commit, mor: mor,
		byID: map[filegroup.FileGroupID]*handle{}, slices: map[filegroup.FileGroupID]*filegroup.FileSlice{}}
	for _, b := range batches {
		if b.op != p.op {
			p.opType = timeline.OpUpsert
		}
	}
	if mor {
		p.action = timeline.DeltaCommit
	}
	return p
}

// inserting reports an insert or bulk insert: records are not looked up
// in the index (every one is a new record).
func (p *plan) inserting() bool { return p.op == OpInsert || p.op == OpBulkInsert }

func (p *plan) handleFor(id filegroup.FileGroupID, old *filegroup.BaseFileInfo) *handle {
	if h, ok := p.byID[id]; ok {
		return h
	}
	h := &handle{id: id, old: old, upd: map[string]ref{}, task: len(p.handles)}
	p.byID[id] = h
	p.handles = append(p.handles, h)
	return h
}

// prepare plans a commit of batches against the table as the writer last
// refreshed it (catchUp), in four steps:
//
//	dedup   one record per key (precombine order; see dedup)
//	view    the file groups of the partitions the records touch
//	tag     stored records located: the index, then file footers
//	assign  new records to small base files, then to new file groups
//
// It reads the timeline, the view, the index and file footers, and writes
// nothing: a plan that is dropped leaves no trace.
func (w *Writer) prepare(ctx context.Context, batches []*batch) (*plan, error) {
	tl, err := w.tbl.Timeline(ctx)
	if err != nil {
		return nil, err
	}
	p := newPlan(tl, batches, w.cfg.Type == table.MergeOnRead)
	winners, dupes := dedup(batches, w.opts.GlobalIndex)
	p.stats.Duplicates = int64(dupes)
	if p.view, err = w.planView(ctx, winners); err != nil {
		return nil, err
	}
	if p.mor {
		if p.pending, err = filegroup.PendingCompactionGroups(ctx, w.st, tl); err != nil {
			return nil, fmt.Errorf("writer: %w", err)
		}
	}
	inserts := winners
	if !p.inserting() {
		if inserts, err = w.tag(ctx, p, winners); err != nil {
			return nil, err
		}
	}
	w.assignInserts(ctx, p, inserts)
	p.keepWork()
	return p, nil
}

// planView is the view a commit of winners plans with: the partitions the
// records touch, or with a global index, where a key may live in any
// partition, the whole table.
func (w *Writer) planView(ctx context.Context, winners []ref) (*filegroup.View, error) {
	if w.opts.GlobalIndex {
		return w.tbl.View(ctx)
	}
	vo := filegroup.ViewOptions{Partitions: []string{}}
	seen := map[string]bool{}
	for _, r := range winners {
		if part := r.partition(); !seen[part] {
			seen[part] = true
			vo.Partitions = append(vo.Partitions, part)
		}
	}
	return w.tbl.ViewWith(ctx, vo)
}

// tag locates each winner's stored record. Records found go to their file
// group's handle; the rest are returned as inserts (deletes of unknown keys
// are dropped).
func (w *Writer) tag(ctx context.Context, p *plan, winners []ref) ([]ref, error) {
	keys := make([]index.Key, len(winners))
	for i, r := range winners {
		keys[i] = index.Key{PartitionPath: r.partition(), RecordKey: r.key()}
	}
	locs, found, err := w.idx.Lookup(ctx, keys, index.LookupOptions{Trust: p.tl.Visible("")})
	if err != nil {
		return nil, fmt.Errorf("writer: index lookup: %w", err)
	}
	latest := map[filegroup.FileGroupID]*filegroup.FileSlice{}
	for _, s := range p.view.LatestSlices() {
		latest[s.FileGroupID] = s
	}
	var misses []int
	for i, r := range winners {
		if found[i] {
			id := filegroup.FileGroupID{PartitionPath: locs[i].PartitionPath, FileID: locs[i].FileID}
			if s, ok := latest[id]; ok && s.Base != nil {
				p.stats.IndexHits++
				p.route(s, r)
				continue
			}
		}
		misses = append(misses, i)
	}
	var inserts []ref
	var fl *footerLookup
	if w.opts.IndexTTL > 0 && !w.opts.DisableFooterLookup && len(misses) > 0 {
		fl = newFooterLookup(w.st, p.view)
	}
	for _, i := range misses {
		r := winners[i]
		if fl != nil {
			s, err := fl.find(ctx, r.partition(), r.key(), w.opts.GlobalIndex)
			if err != nil {
				return nil, err
			}
			if s != nil {
				p.stats.FooterHits++
				p.route(s, r)
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
func (p *plan) route(s *filegroup.FileSlice, r ref) {
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

// assignInserts spreads inserts (and the records whose key moved
// partition) over file groups, per partition: first into the latest base
// files under the small-file limit, then into new file groups of at most
// the target size. A bulk insert skips small files and sorts each
// partition's records by key, so that each new file covers a narrow key
// range, which makes footer key-range checks effective.
func (w *Writer) assignInserts(ctx context.Context, p *plan, inserts []ref) {
	inserts = append(inserts, p.pendingMoves...)
	if len(inserts) == 0 {
		return
	}
	recSize := w.averageRecordSize(ctx, p.tl)
	perFile := max(w.opts.TargetFileSize/recSize, 1)
	bulk := p.op == OpBulkInsert
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
			sortByKey(recs)
		}
		if !bulk && w.opts.SmallFileLimit > 0 {
			recs = w.fillSmallFiles(p, part, recs, recSize)
		}
		for len(recs) > 0 {
			n := min(int64(len(recs)), perFile)
			id := filegroup.FileGroupID{PartitionPath: part, FileID: filegroup.NewFileID()}
			h := p.handleFor(id, nil)
			h.ins = append(h.ins, recs[:n]...)
			recs = recs[n:]
		}
	}
	p.orderMoved()
}

// fillSmallFiles sends records of partition part to the latest base files
// under the small-file limit, up to the target size each, and returns the
// records left over.
func (w *Writer) fillSmallFiles(p *plan, part string, recs []ref, recSize int64) []ref {
	for _, s := range p.view.LatestSlicesIn(part) {
		if len(recs) == 0 {
			break
		}
		if s.Base == nil || s.Base.Size >= w.opts.SmallFileLimit {
			continue
		}
		if p.mor {
			// Hudi's rule for indexes that do not index log files: only
			// slices without logs, and not in a pending compaction, take
			// inserts (as a merged new base file).
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
	return recs
}

// orderMoved puts the keys that moved partition last in each handle's
// inserts: h.ins[:h.fresh] are keys the index has no trusted entry for.
func (p *plan) orderMoved() {
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
}

// keepWork drops the handles with nothing to do (e.g. deletes of keys that
// are not stored). Merge-on-read groups that receive no inserts get log
// files (a log target); the others (new groups, small files without logs)
// a base file.
func (p *plan) keepWork() {
	var work []*handle
	for _, h := range p.handles {
		if len(h.upd) == 0 && len(h.ins) == 0 && len(h.moved) == 0 {
			continue
		}
		if p.mor && h.old != nil && len(h.ins) == 0 {
			h.log = p.logTarget(h.id)
		}
		work = append(work, h)
	}
	p.handles = work
}

// averageRecordSize estimates bytes per record from the latest commit that
// wrote data, as Hudi does for file sizing.
func (w *Writer) averageRecordSize(ctx context.Context, tl *timeline.Timeline) int64 {
	if w.knobs.recordSize > 0 {
		return w.knobs.recordSize
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
// slice, with the base instant new log files carry and the versions taken
// (visible or not: a hidden log of a pending write holds its version).
func (p *plan) logTarget(id filegroup.FileGroupID) *logTarget {
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
	for _, f := range p.view.Hidden {
		if pathDir(f.Path) != id.PartitionPath {
			continue
		}
		if l, err := filegroup.ParseLogFileName(f.Name); err == nil && l.FileID == id.FileID && l.BaseInstant == lt.baseInstant {
			lt.taken[l.Version] = true
		}
	}
	return lt
}
