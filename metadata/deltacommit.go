package metadata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/internal/mdtrecord"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// Operation types of the metadata table's instants, as Hudi writes them.
const (
	opUpsertPrepped = "UPSERT_PREPPED"
	opBulkInsert    = "BULK_INSERT"
	opCompact       = "COMPACT"
)

// Commit records in the metadata table the files that data instant T (a
// commit, deltacommit, replacecommit or compaction commit with metadata
// md) wrote: a metadata deltacommit at T, completed when Commit returns.
// Call it after T's files are written and before T's commit point.
func (m *Table) Commit(ctx context.Context, T string, md *timeline.CommitMetadata) error {
	return m.update(ctx, T, commitChanges(md))
}

// Clean records the files clean T deleted (md is its
// HoodieCleanMetadata). Call it before T completes.
func (m *Table) Clean(ctx context.Context, T string, md *avroplan.HoodieCleanMetadata) error {
	return m.update(ctx, T, cleanChanges(md))
}

// Rollback records rollback R (md is its HoodieRollbackMetadata) before R
// completes: a metadata deltacommit at R with the log files R wrote
// rollback blocks into and the files it deleted, then the rollback of the
// metadata deltacommit of every instant R rolled back (its log file and
// instant files removed), as Hudi's metadata writer does.
func (m *Table) Rollback(ctx context.Context, R string, md *avroplan.HoodieRollbackMetadata) error {
	if err := m.update(ctx, R, rollbackChanges(md)); err != nil {
		return err
	}
	for _, F := range md.CommitsRollback {
		if err := m.RollbackInstant(ctx, F); err != nil {
			return err
		}
	}
	return nil
}

// RollbackInstant removes the metadata deltacommit of data instant F, if
// any, in any state: its completed file first (from then on readers ignore
// its block), then its log files, markers and pending files. Removing what
// is already gone is no error.
func (m *Table) RollbackInstant(ctx context.Context, F string) error {
	s, err := m.load(ctx)
	if err != nil {
		return err
	}
	return m.removeDeltaCommit(ctx, s, F)
}

// update writes a metadata deltacommit at T with the records of c, after
// compacting the metadata table if it is due.
func (m *Table) update(ctx context.Context, T string, c *changes) error {
	data, err := timeline.Load(ctx, m.data)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	s, err := m.load(ctx)
	if err != nil {
		return err
	}
	if _, ok := s.tl.Find(T); ok {
		// An earlier attempt of T (it never completed on the data table:
		// T is still being written): start again.
		if err := m.removeDeltaCommit(ctx, s, T); err != nil {
			return err
		}
		if s, err = m.load(ctx); err != nil {
			return err
		}
	}
	done, err := m.maybeCompact(ctx, s, data, T, c.dead)
	if err != nil {
		return err
	}
	if done {
		if s, err = m.load(ctx); err != nil {
			return err
		}
	}
	return m.writeDeltaCommit(ctx, s, T, c.records(), c.dead)
}

// writeDeltaCommit writes deltacommit T with recs: requested, inflight, a
// marker, a new log file version in the slice of the latest base file, the
// completed file. If a compaction of the metadata table appeared while
// the log file was written, the log is deleted and written again once the
// compaction completed (into its slice) or was withdrawn.
func (m *Table) writeDeltaCommit(ctx context.Context, s *state, T string, recs []mdtrecord.Record, dead map[string]bool) error {
	content, err := mdtrecord.EncodeLogBlockContent(recs)
	if err != nil {
		return fmt.Errorf("metadata: deltacommit %s: %w", T, err)
	}
	var blk bytes.Buffer
	if _, err := logfile.WriteBlock(&blk, logfile.Block{
		Type:    logfile.HFileDataBlock,
		Header:  logfile.Headers{{Key: logfile.InstantTime, Value: T}, {Key: logfile.SchemaHeader, Value: mdtrecord.WriterSchema}},
		Content: content,
	}); err != nil {
		return fmt.Errorf("metadata: deltacommit %s: %w", T, err)
	}
	base, err := s.latestBaseInstant()
	if err != nil {
		return err
	}
	inflight := inflightMetadata(base, len(recs))
	tx, err := timeline.Request(ctx, m.st, T, timeline.DeltaCommit, nil)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if err := tx.Inflight(ctx, inflight); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	for attempt := 0; ; attempt++ {
		if attempt == 10 {
			return fmt.Errorf("metadata: deltacommit %s: the files partition kept changing under it", T)
		}
		lg, err := m.writeLog(ctx, tx, s, base, blk.Bytes())
		if err != nil {
			return err
		}
		// A compaction scheduled meanwhile takes no log it did not list,
		// and one withdrawn would orphan logs written into its slice: if a
		// compaction after base appeared, the log goes, and is written
		// again into the slice of that compaction once it completed (or
		// into base again if it was withdrawn).
		c, err := m.compactionAfter(ctx, base)
		if err != nil {
			return err
		}
		if c == nil {
			return m.completeDeltaCommit(ctx, tx, s, base, lg, len(recs))
		}
		if err := m.st.Delete(ctx, FilesPartition+"/"+lg.name); err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		if !c.IsCompleted() {
			if err := m.awaitCompaction(ctx, *c, dead); err != nil {
				return err
			}
		}
		if s, err = m.load(ctx); err != nil {
			return err
		}
		if base, err = s.latestBaseInstant(); err != nil {
			return err
		}
	}
}

// compactionAfter returns the newest compaction of the metadata table
// after base, pending or completed (a completed one lists as a commit, the
// metadata table's only commits), or nil.
func (m *Table) compactionAfter(ctx context.Context, base string) (*timeline.Instant, error) {
	tl, err := timeline.Load(ctx, m.st)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	var out *timeline.Instant
	for _, i := range tl.Instants() {
		if (i.Action == timeline.Compaction || i.Action == timeline.Commit) && i.Timestamp > base {
			i := i
			out = &i
		}
	}
	return out, nil
}

// staleCompaction is how long a pending compaction of the metadata table
// may run before another writer takes it for abandoned (its process died)
// and finishes it. A compaction of the files partition reads and writes a
// few files: seconds at most.
const staleCompaction = 30 * time.Second

// awaitCompaction waits until pending compaction c completes or is
// withdrawn; one pending for longer than staleCompaction is finished here.
func (m *Table) awaitCompaction(ctx context.Context, c timeline.Instant, dead map[string]bool) error {
	for {
		s, err := m.load(ctx)
		if err != nil {
			return err
		}
		cur, ok := s.tl.Find(c.Timestamp)
		if !ok || cur.IsCompleted() {
			return nil
		}
		stale, err := m.stale(ctx, cur, dead)
		if err != nil {
			return err
		}
		if stale {
			return m.resumeCompaction(ctx, s, cur)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("metadata: waiting for compaction %s: %w", c.Timestamp, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stale reports whether pending metadata compaction i was abandoned: the
// data instant that ran it (OwnerKey) is no longer pending or is among
// dead (being rolled back), or it was requested more than
// staleCompaction ago (Java's plans have no owner; a live owner that
// slow is finished alongside: both write the same base file, one
// completes it).
func (m *Table) stale(ctx context.Context, i timeline.Instant, dead map[string]bool) (bool, error) {
	req := i.WithState(timeline.Requested)
	if b, err := timeline.ReadInstant(ctx, m.st, req); err == nil {
		var plan avroplan.HoodieCompactionPlan
		if avroplan.Decode(bytes.NewReader(b), &plan) == nil && plan.ExtraMetadata != nil {
			if owner := (*plan.ExtraMetadata)[OwnerKey]; owner != "" {
				data, err := timeline.Load(ctx, m.data)
				if err != nil {
					return false, fmt.Errorf("metadata: %w", err)
				}
				if o, ok := data.Find(owner); !ok || o.IsCompleted() || dead[owner] {
					return true, nil
				}
			}
		}
	}
	p, err := timeline.InstantPath(req)
	if err != nil {
		return false, fmt.Errorf("metadata: %w", err)
	}
	obj, err := m.st.Stat(ctx, p)
	if errors.Is(err, storage.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("metadata: %w", err)
	}
	return time.Since(obj.ModTime) > staleCompaction, nil
}

// writeLog writes the block as the next log file version of the slice at
// base (create-if-absent: a concurrent writer's version is skipped), with
// its marker first.
func (m *Table) writeLog(ctx context.Context, tx *timeline.Txn, s *state, base string, blk []byte) (logName, error) {
	v := 1
	if sl := s.slices[base]; sl != nil {
		for _, lg := range sl.logs {
			if lg.version >= v {
				v = lg.version + 1
			}
		}
	}
	for ; ; v++ {
		name := logFileName(base, v)
		p := FilesPartition + "/" + name
		if err := tx.Marker(ctx, p, timeline.MarkerAppend); err != nil {
			return logName{}, fmt.Errorf("metadata: %w", err)
		}
		err := storage.WriteFile(ctx, m.st, p, blk, storage.CreateOptions{IfAbsent: true})
		if errors.Is(err, storage.ErrExist) {
			if derr := tx.DeleteMarker(ctx, p, timeline.MarkerAppend); derr != nil {
				return logName{}, fmt.Errorf("metadata: %w", derr)
			}
			continue
		}
		if err != nil {
			return logName{}, fmt.Errorf("metadata: write %s: %w", p, err)
		}
		return logName{name: name, baseInstant: base, version: v, token: writeToken, size: int64(len(blk))}, nil
	}
}

// completeDeltaCommit completes deltacommit T with the commit metadata
// Hudi writes for it (one write stat for the new log file, listing the
// slice's log files), then deletes its markers.
func (m *Table) completeDeltaCommit(ctx context.Context, tx *timeline.Txn, s *state, base string, lg logName, n int) error {
	sl := s.slices[base]
	logs := []string{}
	baseFile := ""
	if sl != nil {
		baseFile = sl.base
		for _, l := range sl.logs {
			if l.name != lg.name {
				logs = append(logs, l.name)
			}
		}
	}
	logs = append(logs, lg.name)
	v := lg.version
	off := int64(0)
	st := timeline.WriteStat{
		FileID:          FilesFileID,
		Path:            FilesPartition + "/" + lg.name,
		PrevCommit:      base,
		NumWrites:       int64(n),
		NumUpdateWrites: int64(n),
		TotalWriteBytes: lg.size,
		PartitionPath:   FilesPartition,
		FileSizeInBytes: lg.size,
		RuntimeStats:    &timeline.RuntimeStats{},
		LogVersion:      &v,
		LogOffset:       &off,
		BaseFile:        &baseFile,
		LogFiles:        logs,
		RecordsStats:    []byte(`{"val":null}`),
	}
	md := &timeline.CommitMetadata{
		OperationType: opUpsertPrepped,
		ExtraMetadata: map[string]string{timeline.SchemaKey: mdtrecord.RecordSchema},
	}
	md.AddStat(st)
	b, err := md.Marshal()
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if err := tx.Complete(ctx, b); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if err := tx.Finish(ctx); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	return nil
}

// inflightMetadata is the inflight file of a deltacommit: the workload
// profile Hudi writes (the file group it updates), which lets Java's
// listing-based rollback of a metadata deltacommit find the file group.
func inflightMetadata(base string, n int) []byte {
	md := &timeline.CommitMetadata{OperationType: opUpsertPrepped, ExtraMetadata: map[string]string{}}
	md.AddStat(timeline.WriteStat{FileID: FilesFileID, PrevCommit: base, NumUpdateWrites: int64(n), PartitionPath: FilesPartition})
	b, err := md.Marshal()
	if err != nil {
		return nil
	}
	return b
}

// removeDeltaCommit removes metadata deltacommit T in whatever state it
// is: the completed file first, then the log files it wrote (its markers,
// or its write stats once the markers are gone), then markers, inflight
// and requested files.
func (m *Table) removeDeltaCommit(ctx context.Context, s *state, T string) error {
	inst, ok := s.tl.Find(T)
	if !ok {
		return nil
	}
	if inst.Action != timeline.DeltaCommit {
		return fmt.Errorf("%w: metadata instant %s is a %s, not a deltacommit", ErrCorrupt, T, inst.Action)
	}
	var files []string
	if inst.IsCompleted() {
		md, err := timeline.ReadCommitMetadata(ctx, m.st, inst)
		if err != nil && !errors.Is(err, storage.ErrNotExist) {
			return fmt.Errorf("metadata: %w", err)
		}
		if md != nil {
			for _, st := range md.Stats() {
				if st.Path != "" {
					files = append(files, st.Path)
				}
			}
		}
		p, err := timeline.InstantPath(inst)
		if err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		if err := m.st.Delete(ctx, p); err != nil {
			return fmt.Errorf("metadata: roll back %s: %w", inst, err)
		}
		inst = inst.WithState(timeline.Inflight)
		if ok, err := storage.Exists(ctx, m.st, mustPath(inst)); err != nil {
			return fmt.Errorf("metadata: %w", err)
		} else if !ok {
			inst = inst.WithState(timeline.Requested)
		}
	}
	tx, err := timeline.Resume(m.st, inst)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	markers, err := tx.Markers(ctx)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	for _, mk := range markers {
		files = append(files, mk.DataPath)
	}
	for _, f := range files {
		// A marker names the file T meant to write; if that write failed,
		// a later deltacommit may have taken the name: delete only a file
		// whose blocks are T's.
		mine, err := m.writtenBy(ctx, f, T)
		if err != nil {
			return err
		}
		if !mine {
			continue
		}
		if err := m.st.Delete(ctx, f); err != nil {
			return fmt.Errorf("metadata: roll back %s: delete %s: %w", T, f, err)
		}
	}
	if err := tx.Abort(ctx); err != nil {
		return fmt.Errorf("metadata: roll back %s: %w", T, err)
	}
	m.log.Info("metadata: rolled back deltacommit", "instant", T, "files", len(files))
	return nil
}

// writtenBy reports whether the log file at key holds blocks of instant T
// (false when it does not exist; true when its header is unreadable: a
// file T created only partly).
func (m *Table) writtenBy(ctx context.Context, key, T string) (bool, error) {
	ts, exists, err := firstInstant(ctx, m.st, key)
	if err != nil || !exists {
		return false, err
	}
	return ts == "" || ts == T, nil
}

// firstInstant is the INSTANT_TIME of the first block of the log file at
// key in st: exists is false when there is no such file, ts is "" when its
// first block does not read.
func firstInstant(ctx context.Context, st storage.Storage, key string) (ts string, exists bool, err error) {
	ra, err := storage.NewReaderAt(ctx, st, key)
	if errors.Is(err, storage.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("metadata: %w", err)
	}
	_, h, err := logfile.ReadFirstHeader(ra, ra.Size())
	if err != nil {
		return "", true, nil
	}
	return h.Value(logfile.InstantTime), true, nil
}

// mustPath is InstantPath for instants known to be well formed.
func mustPath(inst timeline.Instant) string {
	p, _ := timeline.InstantPath(inst)
	return p
}
