package writer

import (
	"context"
	"fmt"
	"strings"

	"github.com/hoodie-lake/hoodie/index"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/timeline"
)

// publish makes attempt a of plan p visible. In optimistic mode it first
// takes a commit slot (claimSlot: ErrConflict on an overlap with a
// concurrent commit). Then the last checks: the heartbeat stayed fresh (no
// other writer may take the instant for a failed write) and, in
// single-writer mode, no other writer appeared (the check reads the
// timeline after this commit's heartbeat and instant exist, so of two
// concurrent writers at least the later one sees the other). Then the
// commit point: the completed file, through the Txn. After it, the index
// records the commit and the markers go; a failure there loses nothing
// (the index catches up on the next open), but is returned with the
// result.
func (w *Writer) publish(ctx context.Context, p *plan, a *attempt, sch *schema.Schema, co *CommitOptions) (*CommitResult, error) {
	T := a.tx.InstantTime()
	if w.opts.Concurrency == Optimistic {
		if err := w.claimSlot(ctx, p, T, co.Claims); err != nil {
			return nil, err
		}
	}
	if err := w.checkClaims(ctx, T, co); err != nil {
		return nil, err
	}
	written := a.written()
	md := commitMetadata(p, written, sch, co)
	b, err := md.Marshal()
	if err != nil {
		return nil, err
	}
	if err := a.hb.Check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConcurrentWriter, err)
	}
	if w.opts.Concurrency == SingleWriter {
		w.hook("before-check")
		if err := w.checkAlone(ctx, nil, T); err != nil {
			return nil, err
		}
	}
	// Hudi's metadata table: its deltacommit at T completes first
	// (readers ignore it until T completes; T's rollback removes it).
	if err := w.updateMetadataTable(ctx, T, md); err != nil {
		return nil, err
	}
	w.hook("before-complete")
	// The commit point.
	if err := a.tx.Complete(ctx, b); err != nil {
		return nil, err
	}
	a.committed = true
	for _, r := range written {
		w.orders.apply(r.order, r.stat.LogFiles)
	}
	res := &CommitResult{Instant: T, Operation: p.opType, Stats: commitStats(p, a, written), Metadata: md}
	if err := w.indexCommit(ctx, T, written); err != nil {
		return res, fmt.Errorf("writer: committed %s, but updating the index failed (it catches up on the next open): %w", T, err)
	}
	if err := a.tx.Finish(ctx); err != nil {
		return res, fmt.Errorf("writer: %w", err)
	}
	return res, nil
}

// updateMetadataTable records commit T (metadata md) in the table's Hudi
// metadata table, if it keeps one (checked at every commit: another
// writer may have created or deleted it).
func (w *Writer) updateMetadataTable(ctx context.Context, T string, md *timeline.CommitMetadata) error {
	mdt, err := metadata.For(ctx, w.tbl, metadata.Options{})
	if err != nil {
		return fmt.Errorf("writer: %w", err)
	}
	if mdt == nil {
		return nil
	}
	w.hook("before-metadata")
	if err := mdt.Commit(ctx, T, md); err != nil {
		return fmt.Errorf("writer: %s: %w", T, err)
	}
	return nil
}

// written is the results of the handles that wrote a file.
func (a *attempt) written() []*handleResult {
	var out []*handleResult
	for _, r := range a.results {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// commitMetadata is the completed file's content: the write stats of the
// files written, the writer schema and the source checkpoint.
func commitMetadata(p *plan, written []*handleResult, sch *schema.Schema, co *CommitOptions) *timeline.CommitMetadata {
	md := &timeline.CommitMetadata{
		OperationType: p.opType,
		ExtraMetadata: map[string]string{timeline.SchemaKey: sch.AvroJSON()},
	}
	for k, v := range co.Extra {
		md.ExtraMetadata[k] = v
	}
	if co.Checkpoint != "" {
		md.ExtraMetadata[CheckpointKey] = co.Checkpoint
	}
	if len(co.Claims) > 0 {
		md.ExtraMetadata[ClaimsKey] = strings.Join(co.Claims, ",")
	}
	for _, r := range written {
		md.AddStat(r.stat)
	}
	return md
}

// commitStats are the stats of a commit: what planning counted, late
// records, and the files written.
func commitStats(p *plan, a *attempt, written []*handleResult) Stats {
	st := p.stats
	st.LateDropped += a.late
	parts := map[string]bool{}
	for _, r := range written {
		parts[r.stat.PartitionPath] = true
		st.Inserts += r.stat.NumInserts
		st.Updates += r.stat.NumUpdateWrites
		st.Deletes += r.stat.NumDeletes
		st.Writes += r.stat.NumWrites
		st.BytesWritten += r.stat.TotalWriteBytes
		st.FilesWritten++
	}
	st.Partitions = len(parts)
	return st
}

// indexCommit records completed instant T in the index: the entries its
// handles made (new keys not indexed early, refreshed ones) and the keys
// it deleted.
func (w *Writer) indexCommit(ctx context.Context, T string, written []*handleResult) error {
	n := 0
	for _, r := range written {
		n += len(r.entries)
	}
	entries := make([]index.Entry, 0, n)
	var removed []index.Key
	for _, r := range written {
		entries = append(entries, r.entries...)
		removed = append(removed, r.removed...)
	}
	if err := w.idx.Put(ctx, T, entries); err != nil {
		return err
	}
	if len(removed) > 0 {
		return w.idx.Delete(ctx, T, removed)
	}
	return nil
}
