package writer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// Concurrency is how a writer shares a table with other writers.
type Concurrency int

const (
	// SingleWriter (the default, Hudi's SINGLE_WRITER): one writer at a
	// time. Open rolls back every pending write whose writer is gone (no
	// live heartbeat) as a crashed one. Another writer is refused with
	// ErrConcurrentWriter instead of being written over: at Open and at the
	// start of each commit, a pending write of another writer whose
	// heartbeat is live, or a write completed since Open; right before the
	// commit point, the same again (the refused commit's files are rolled
	// back, nothing is visible). So two writers never both commit from
	// views that miss each other, and a key is never inserted twice.
	// Table services (compaction, clean) may run alongside.
	SingleWriter Concurrency = iota
	// Optimistic (Hudi's OPTIMISTIC_CONCURRENCY_CONTROL, without a lock
	// service): writers commit concurrently. Each commit takes the next
	// commit slot, a create-if-absent object in .hoodie/.aux/.commit-slots,
	// after checking every commit it did not see (a slot whose instant was
	// not completed in its view): the loser of an overlap fails with
	// ErrConflict and rolls its files back (Options.ConflictRetries
	// retries it from a fresh view). Overlaps are Hudi's (both write a
	// file group) and one Hudi cannot see: both insert the same new key,
	// each into a new file group of its own (see the new keys recorded
	// next to the slots). A write completed by a writer not in this mode
	// (no slot) also conflicts. Pending writes are rolled back only once
	// their writer is gone (heartbeat older than HeartbeatTimeout, or its
	// process ended). Every writer of the table must use it.
	Optimistic
)

// ErrConflict reports a commit that overlapped a concurrent commit (same
// file group, or same new key) in optimistic mode; nothing of it is
// visible. Retry it (Options.ConflictRetries).
var ErrConflict = errors.New("writer: conflict with a concurrent commit")

// DefaultHeartbeatTimeout is when a writer's pending instant counts as
// failed, unless its process is known to be gone (Hudi: heartbeat interval
// 60 s).
const DefaultHeartbeatTimeout = 60 * time.Second

const (
	heartbeatFolder = timeline.MetaFolder + "/.heartbeat/"
	slotFolder      = timeline.MetaFolder + "/.aux/.commit-slots/"
)

// slot is the content of one commit slot.
type slot struct {
	Instant string                 `json:"instant"`
	Groups  []timeline.FileGroupID `json:"groups"`
	// InsertKeys: the commit's new keys are in keysPath(Instant).
	InsertKeys bool `json:"insertKeys,omitempty"`
	// InsertPartitions: the partitions it inserts new keys into, when it
	// has too many to record.
	InsertPartitions []string `json:"insertPartitions,omitempty"`
}

func slotName(seq int64) string { return fmt.Sprintf("%s%020d", slotFolder, seq) }

// claimSlot takes the next commit slot for instant T touching groups and
// inserting the new keys ins, after checking every slot whose instant the
// commit's view tl had not completed. check is this commit's new keys to
// check against other slots' (nil: it did not route keys by the index, as
// inserts do not). A slot whose instant is no longer on the timeline
// (rolled back) is ignored, and a write completed since tl that took no
// slot (a writer not in optimistic mode) conflicts.
func (w *Writer) claimSlot(ctx context.Context, tl *timeline.Timeline, T string, groups []timeline.FileGroupID, ins, check *newKeys) error {
	mine := map[timeline.FileGroupID]bool{}
	for _, g := range groups {
		mine[g] = true
	}
	me := slot{Instant: T, Groups: groups}
	if ins != nil {
		if err := ins.record(ctx, w.st, T, &me); err != nil {
			return err
		}
	}
	content, err := json.Marshal(me)
	if err != nil {
		return err
	}
	for attempt := 0; attempt < 1000; attempt++ {
		var top int64 = -1
		var others []slot
		slotted := map[string]bool{}
		for obj, err := range w.st.List(ctx, slotFolder, "/") {
			if err != nil {
				return fmt.Errorf("writer: commit slots: %w", err)
			}
			seq, err := strconv.ParseInt(path.Base(obj.Path), 10, 64)
			if err != nil {
				continue
			}
			top = max(top, seq)
			s, ok := w.slots[seq]
			if !ok {
				b, err := storage.ReadFile(ctx, w.st, obj.Path)
				if err != nil {
					return fmt.Errorf("writer: commit slot %d: %w", seq, err)
				}
				if err := json.Unmarshal(b, &s); err != nil {
					return fmt.Errorf("writer: commit slot %d: %w", seq, err)
				}
				w.slots[seq] = s
			}
			slotted[s.Instant] = true
			if s.Instant != T && !tl.IsCompleted(s.Instant) {
				others = append(others, s) // not part of our view
			}
		}
		// Listed after the slots: a slot's instant, pending before the
		// slot was taken, is missing only when it was rolled back.
		now, err := timeline.Load(ctx, w.st)
		if err != nil {
			return err
		}
		if err := ownStillPending(now, T); err != nil {
			return err
		}
		for _, s := range others {
			if _, ok := now.Find(s.Instant); !ok {
				continue // rolled back (or long archived): nothing of it is visible
			}
			for _, g := range s.Groups {
				if mine[g] {
					return fmt.Errorf("%w: %s and %s both write file group %s", ErrConflict, T, s.Instant, g)
				}
			}
			what, err := w.overlap(ctx, check, s, w.opts.GlobalIndex)
			if err != nil {
				return err
			}
			if what != "" {
				return fmt.Errorf("%w: %s and %s both insert %s (it would be stored twice)", ErrConflict, T, s.Instant, what)
			}
		}
		for _, inst := range now.Completed() {
			if tl.IsCompleted(inst.Timestamp) || slotted[inst.Timestamp] || !inst.IsWriteAction() {
				continue
			}
			service, err := isServiceCommit(ctx, w.st, now, inst)
			if err != nil {
				return err
			}
			if !service {
				return fmt.Errorf("%w: %s %s was committed meanwhile by a writer not in optimistic mode", ErrConflict, inst.Action, inst.Timestamp)
			}
		}
		err = storage.WriteFile(ctx, w.st, slotName(top+1), content, storage.CreateOptions{IfAbsent: true})
		if errors.Is(err, storage.ErrExist) {
			continue // another writer took it: check its groups, then try the next
		}
		if err != nil {
			return fmt.Errorf("writer: commit slot: %w", err)
		}
		w.slots[top+1] = me
		return nil
	}
	return fmt.Errorf("writer: commit slot: too many concurrent commits")
}

// touchedGroups lists the existing file groups a commit writes (new file
// groups cannot overlap anything).
func touchedGroups(work []*handle) []timeline.FileGroupID {
	var out []timeline.FileGroupID
	for _, h := range work {
		out = append(out, h.id)
	}
	slices.SortFunc(out, func(a, b table.FileGroupID) int {
		if a.PartitionPath != b.PartitionPath {
			if a.PartitionPath < b.PartitionPath {
				return -1
			}
			return 1
		}
		if a.FileID < b.FileID {
			return -1
		}
		if a.FileID > b.FileID {
			return 1
		}
		return 0
	})
	return out
}
