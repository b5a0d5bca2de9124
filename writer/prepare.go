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
	// logInserts: merge-on-read inserts go to log files of small groups
	// (unless Options.InsertsToBaseFiles).
	mor        bool
	logInserts bool
	slices     map[filegroup.FileGroupID]*filegroup.FileSlice
	pending    map[filegroup.FileGroupID]string
	// pendingMoves are records whose key moved partition (global index):
	// deleted from the old group, inserted into the new partition.
	pendingMoves []ref
	// footers caches the base file footers planning read.
	footers *footerLookup
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
	p.logInserts = p.mor && !w.opts.InsertsToBaseFiles
	winners, dupes := dedup(batches, w.opts.GlobalIndex)
	p.stats.Duplicates = int64(dupes)
	if p.view, err = w.planView(ctx, winners); err != nil {
		return nil, err
	}
	if p.mor {
		if p.pending, err = w.state.plans.PendingGroups(ctx, w.st, tl); err != nil {
			return nil, fmt.Errorf("writer: %w", err)
		}
	}
	inserts := winners
	if !p.inserting() {
		if inserts, err = w.tag(ctx, p, winners); err != nil {
			return nil, err
		}
	}
	if err := w.assignInserts(ctx, p, inserts); err != nil {
		return nil, err
	}
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
			// A merge-on-read slice may hold only log files (inserts
			// appended to a log-only group by another writer).
			if s, ok := latest[id]; ok && (s.Base != nil || p.mor) {
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
		fl = newFooterLookup(w.st, p.view, &w.footers)
		p.footers = fl
		if p.mor {
			fl.withLogs(p.tl.Visible(""), w.logKeySchema())
		}
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
func (w *Writer) assignInserts(ctx context.Context, p *plan, inserts []ref) error {
	inserts = append(inserts, p.pendingMoves...)
	if len(inserts) == 0 {
		return nil
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
			var err error
			if recs, err = w.fillSmallFiles(ctx, p, part, recs, recSize); err != nil {
				return err
			}
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
	return nil
}

// fillSmallFiles sends records of partition part to small file groups, up
// to the target size each, and returns the records left over.
//
// Copy-on-write: the latest base files under the small-file limit, merged
// into a rewritten base file. Merge-on-read follows Hudi's path for an
// index that sees log files (SparkUpsertDeltaCommitPartitioner with
// canIndexLogFiles, Flink's writer): every latest slice not in a pending
// compaction whose estimated size (smallFileSize) is under the target
// size takes inserts into new log files, so that a deltacommit never
// rewrites a base file; compaction merges them into the base file later.
// With Options.InsertsToBaseFiles, merge-on-read takes Hudi's path for an
// index that cannot: small base files of slices without logs, merged.
func (w *Writer) fillSmallFiles(ctx context.Context, p *plan, part string, recs []ref, recSize int64) ([]ref, error) {
	for _, s := range p.view.LatestSlicesIn(part) {
		if len(recs) == 0 {
			break
		}
		var size int64
		if p.logInserts {
			if _, pending := p.pending[s.FileGroupID]; pending {
				continue
			}
			size = w.smallFileSize(s)
		} else {
			if s.Base == nil || s.Base.Size >= w.opts.SmallFileLimit {
				continue
			}
			if _, pending := p.pending[s.FileGroupID]; p.mor && (pending || len(s.Logs) > 0) {
				// Options.InsertsToBaseFiles: Hudi's rule for an index that
				// cannot see log files; the merged base file would drop
				// the logs.
				continue
			}
			size = s.Base.Size
		}
		room := (w.opts.TargetFileSize - size) / recSize
		if room <= 0 {
			continue
		}
		n := min(int64(len(recs)), room)
		take := recs[:n]
		recs = recs[n:]
		if p.logInserts && s.Base != nil {
			var err error
			if take, recs, err = w.notInBase(ctx, p, s, recs, take); err != nil {
				return nil, err
			}
		}
		if p.logInserts {
			p.slices[s.FileGroupID] = s
		}
		if len(take) == 0 {
			continue
		}
		h := p.handleFor(s.FileGroupID, s.Base)
		h.ins = append(h.ins, take...)
	}
	return recs, nil
}

// notInBase keeps out of take, the records bound for the logs of
// merge-on-read slice s, those whose key its base file may hold (its
// footer's key range and bloom filter say so), and refills take from rest
// up to its length. Such a key was deleted by the slice's logs (else the
// index or the footer lookup had routed it as an update): as a log record
// it would follow the delete, and a reader would compare it with the base
// record by ordering value (Hudi's merge), bringing the deleted record back
// if that one orders higher. Elsewhere it is a plain insert.
func (w *Writer) notInBase(ctx context.Context, p *plan, s *filegroup.FileSlice, rest, take []ref) (kept, left []ref, err error) {
	if p.footers == nil {
		p.footers = newFooterLookup(w.st, p.view, &w.footers)
	}
	fi, err := p.footers.footer(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	want := len(take)
	var out []ref
	for len(take) > 0 {
		var diverted []ref
		for _, r := range take {
			if fi.mayHold(r.key()) {
				diverted = append(diverted, r)
			} else {
				out = append(out, r)
			}
		}
		n := min(len(rest), want-len(out))
		take, rest = rest[:n], rest[n:]
		left = append(left, diverted...)
	}
	return out, append(left, rest...), nil
}

// smallFileSize estimates the base file size a merge-on-read slice will
// compact to, as Hudi does: its base file's size plus its log files' total
// size times the log-to-Parquet compression ratio
// (hoodie.logfile.to.parquet.compression.ratio).
func (w *Writer) smallFileSize(s *filegroup.FileSlice) int64 {
	var size, logs int64
	if s.Base != nil {
		size = s.Base.Size
	}
	for _, l := range s.Logs {
		if l.Size > 0 {
			logs += l.Size
		}
	}
	return size + int64(float64(logs)*w.opts.LogToParquetRatio)
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
// are not stored). Merge-on-read groups that exist get log files (a log
// target) for their updates, deletes and inserts alike; new groups get a
// base file (and with Options.InsertsToBaseFiles, groups receiving
// inserts a merged one).
func (p *plan) keepWork() {
	var work []*handle
	for _, h := range p.handles {
		if len(h.upd) == 0 && len(h.ins) == 0 && len(h.moved) == 0 {
			continue
		}
		if _, ok := p.slices[h.id]; p.mor && ok && (p.logInserts || len(h.ins) == 0) {
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
		md, err := w.state.meta.CommitMetadata(ctx, w.st, commits[i])
		if err != nil {
			continue
		}
		writes, bytes := baseFileTotals(md)
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
