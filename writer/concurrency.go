package writer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// ErrConcurrentWriter reports, in single-writer mode, another writer of the
// table: a pending write instant whose heartbeat is live, or a write that
// completed since this writer opened the table (its index and schema would
// be stale). Nothing of the refused commit is visible; its files are
// rolled back. Run one writer at a time, or every writer in Optimistic
// mode.
var ErrConcurrentWriter = errors.New("writer: another writer is writing this table")

// concurrentAdvice ends ErrConcurrentWriter messages.
const concurrentAdvice = "hoodie's default mode allows one writer at a time: stop it, or run every writer with --concurrency optimistic (writer.Optimistic)"

// noteSeen records the completed instants of tl as part of this writer's
// view (at Open).
func (w *Writer) noteSeen(tl *timeline.Timeline) {
	for _, inst := range tl.Completed() {
		w.seen[inst.Timestamp] = true
	}
}

// isServiceCommit reports whether completed commit inst is a table
// service's (a compaction) rather than a writer's. The compaction's
// requested file says so, but archival deletes it before the completed
// file, so the commit's operation type is asked too.
func (w *Writer) isServiceCommit(ctx context.Context, tl *timeline.Timeline, inst timeline.Instant) (bool, error) {
	if tl.IsCompaction(inst.Timestamp) {
		return true, nil
	}
	if inst.Action == timeline.ReplaceCommit {
		return false, nil // clustering and insert overwrite move records
	}
	md, err := w.state.meta.CommitMetadata(ctx, w.st, inst)
	if errors.Is(err, storage.ErrNotExist) {
		return true, nil // archived meanwhile: old, not news
	}
	if err != nil {
		return false, err
	}
	return md.OperationType == timeline.OpCompact || md.OperationType == "LOG_COMPACT", nil
}

// liveWriter returns the first pending write instant of tl other than own
// whose writer is alive (see timeline.ProbeWriter), or ok false.
func (w *Writer) liveWriter(ctx context.Context, tl *timeline.Timeline, own string) (timeline.WriterState, bool, error) {
	for _, inst := range tl.Pending() {
		if inst.Timestamp == own || !tl.IsWriterInstant(inst) {
			continue
		}
		ws, err := timeline.ProbeWriter(ctx, w.st, inst, w.opts.HeartbeatTimeout, w.opts.Concurrency == SingleWriter)
		if err != nil {
			return ws, false, err
		}
		if ws.Live {
			return ws, true, nil
		}
	}
	return timeline.WriterState{}, false, nil
}

// unseenCommit returns a completed write of tl that this writer's view
// (the table at Open plus its own commits) does not hold.
func (w *Writer) unseenCommit(ctx context.Context, tl *timeline.Timeline) (timeline.Instant, bool, error) {
	for _, inst := range tl.Completed() {
		if w.seen[inst.Timestamp] || !inst.IsWriteAction() {
			continue
		}
		service, err := w.isServiceCommit(ctx, tl, inst)
		if err != nil {
			return inst, false, err
		}
		if service {
			w.seen[inst.Timestamp] = true
			continue
		}
		return inst, true, nil
	}
	return timeline.Instant{}, false, nil
}

func liveWriterError(ws timeline.WriterState, timeout time.Duration) error {
	return fmt.Errorf("%w (%s); %s; if it crashed, its write is rolled back once its heartbeat is %s old",
		ErrConcurrentWriter, ws, concurrentAdvice, timeout)
}

func unseenCommitError(inst timeline.Instant) error {
	return fmt.Errorf("%w: %s %s was committed by another writer after this writer opened the table (its index would be stale); %s",
		ErrConcurrentWriter, inst.Action, inst.Timestamp, concurrentAdvice)
}

// checkAlone is the single-writer check: no other live writer, no write
// this writer did not see. At the start of a commit (own == "") it checks
// tl, the timeline the commit plans from. Right before the commit point
// (own = the commit's instant, tl nil) it refreshes the timeline twice: pending
// writers first, then completed writes, so a writer that completes
// between the two reads (and deletes its heartbeat) is still caught; and
// it checks that own is still pending (not rolled back by another
// process).
func (w *Writer) checkAlone(ctx context.Context, tl *timeline.Timeline, own string) error {
	var err error
	if tl == nil {
		if tl, err = w.refresh(ctx); err != nil {
			return err
		}
	}
	if ws, ok, err := w.liveWriter(ctx, tl, own); err != nil {
		return err
	} else if ok {
		return liveWriterError(ws, w.opts.HeartbeatTimeout)
	}
	if own != "" {
		if tl, err = w.refresh(ctx); err != nil {
			return err
		}
		if err := ownStillPending(tl, own); err != nil {
			return err
		}
	}
	if inst, ok, err := w.unseenCommit(ctx, tl); err != nil {
		return err
	} else if ok {
		return unseenCommitError(inst)
	}
	return nil
}

// ownStillPending checks that instant own is pending on tl: another
// process that took it for a failed write rolls it back.
func ownStillPending(tl *timeline.Timeline, own string) error {
	inst, ok := tl.Find(own)
	if !ok || inst.State == timeline.Completed {
		return fmt.Errorf("%w: instant %s was rolled back by another process while it was being written (its heartbeat went stale?)", ErrConcurrentWriter, own)
	}
	return nil
}

// Inserted keys (optimistic concurrency). Hudi's conflict check compares
// file groups, which cannot see two writers inserting the same new key
// into two new file groups: each routes it by its own view of the table,
// which the other's commit is not in yet, and the table ends with the key
// twice. hoodie records each optimistic commit's new keys next to its
// commit slot (.hoodie/.aux/.commit-keys/<instant>: sorted 48-bit FNV-1a
// hashes of the record keys, delta-encoded; kept keysRetention) before
// taking the slot, and a commit that routed keys as new (upserts) checks
// them against the keys of every slot it did not see completed: a common
// key is an ErrConflict, and
// the retry (Options.ConflictRetries) plans again from a timeline that
// holds the other commit, so the key is an update. A hash collision costs
// a needless retry, never a duplicate. Commits with more than
// maxRecordedKeys new keys record the partitions they insert into instead,
// and then any new key of a concurrent commit in those partitions (with a
// global index: anywhere) conflicts.

const (
	keysFolder  = timeline.CommitKeysFolder + "/"
	keyHashBits = 48
)

// maxRecordedKeys bounds the new keys a commit records (4-5 bytes each);
// a variable for tests.
var maxRecordedKeys = 1 << 20

func keysPath(instant string) string { return keysFolder + instant }

// keyHash is the 48-bit hash of a record key.
func keyHash(key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return h.Sum64() >> (64 - keyHashBits)
}

// encodeKeyHashes encodes sorted, distinct hashes.
func encodeKeyHashes(hs []uint64) []byte {
	b := binary.AppendUvarint(nil, uint64(len(hs)))
	var prev uint64
	for _, h := range hs {
		b = binary.AppendUvarint(b, h-prev)
		prev = h
	}
	return b
}

func decodeKeyHashes(b []byte) ([]uint64, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("bad key list header")
	}
	b = b[k:]
	out := make([]uint64, 0, n)
	var prev uint64
	for i := uint64(0); i < n; i++ {
		d, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, fmt.Errorf("truncated key list")
		}
		b = b[k:]
		prev += d
		out = append(out, prev)
	}
	return out, nil
}

// newKeys is what one commit inserts as new keys.
type newKeys struct {
	keys  map[uint64]string // hash -> a key with it
	parts []string          // partitions inserted into, sorted
}

// insertedKeys collects the new keys of a commit's handles.
func insertedKeys(work []*handle) *newKeys {
	nk := &newKeys{keys: map[uint64]string{}}
	seen := map[string]bool{}
	for _, h := range work {
		if len(h.ins) == 0 {
			continue
		}
		if !seen[h.id.PartitionPath] {
			seen[h.id.PartitionPath] = true
			nk.parts = append(nk.parts, h.id.PartitionPath)
		}
		for _, r := range h.ins {
			nk.keys[keyHash(r.key())] = r.key()
		}
	}
	slices.Sort(nk.parts)
	return nk
}

// record writes the commit's new keys for concurrent writers to check and
// fills the slot's fields that point at them.
func (nk *newKeys) record(ctx context.Context, st storage.Storage, instant string, s *slot) error {
	if len(nk.keys) == 0 {
		return nil
	}
	if len(nk.keys) > maxRecordedKeys {
		s.InsertPartitions = nk.parts
		return nil
	}
	hs := make([]uint64, 0, len(nk.keys))
	for h := range nk.keys {
		hs = append(hs, h)
	}
	slices.Sort(hs)
	if err := storage.WriteFile(ctx, st, keysPath(instant), encodeKeyHashes(hs), storage.CreateOptions{}); err != nil {
		return fmt.Errorf("writer: recording new keys: %w", err)
	}
	s.InsertKeys = true
	return nil
}

// overlap reports a key (or partition) both this commit's new keys mine and
// slot s's insert, "" if none. global: keys are unique across partitions.
func (w *Writer) overlap(ctx context.Context, mine *newKeys, s slot, global bool) (string, error) {
	if mine == nil || len(mine.keys) == 0 {
		return "", nil
	}
	if len(s.InsertPartitions) > 0 {
		for _, p := range mine.parts {
			if global || slices.Contains(s.InsertPartitions, p) {
				return fmt.Sprintf("new keys in partition %q", p), nil
			}
		}
		return "", nil
	}
	if !s.InsertKeys {
		return "", nil
	}
	b, err := storage.ReadFile(ctx, w.st, keysPath(s.Instant))
	if errors.Is(err, storage.ErrNotExist) {
		// Pruned (keysRetention): which keys it inserted is unknown now,
		// so assume the worst.
		return "new keys (no longer recorded)", nil
	}
	if err != nil {
		return "", fmt.Errorf("writer: new keys of %s: %w", s.Instant, err)
	}
	hs, err := decodeKeyHashes(b)
	if err != nil {
		return "", fmt.Errorf("writer: new keys of %s: %w", s.Instant, err)
	}
	for _, h := range hs {
		if k, ok := mine.keys[h]; ok {
			return fmt.Sprintf("new key %q", k), nil
		}
	}
	return "", nil
}

// keysRetention is how long the new keys of a commit are kept for
// concurrent writers: one whose view is older and that has not taken its
// slot yet finds them gone and takes it for a conflict (it retries).
const keysRetention = 6 * time.Hour

// pruneCommitKeys deletes recorded new keys older than keysRetention.
func pruneCommitKeys(ctx context.Context, st storage.Storage) error {
	var stale []string
	for obj, err := range st.List(ctx, keysFolder, "/") {
		if err != nil {
			return fmt.Errorf("writer: recorded new keys: %w", err)
		}
		if !obj.IsDir && time.Since(obj.ModTime) > keysRetention {
			stale = append(stale, obj.Path)
		}
	}
	for _, p := range stale {
		if err := st.Delete(ctx, p); err != nil {
			return fmt.Errorf("writer: recorded new keys: %w", err)
		}
	}
	return nil
}

// conflictBackoff is the pause before retry n (from 1) of a conflicting
// commit: the winner is completing its commit meanwhile.
func conflictBackoff(n int) time.Duration {
	return time.Duration(min(n, 5)) * 50 * time.Millisecond
}
