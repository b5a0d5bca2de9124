package writer

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hoodie-lake/hoodie/storage"
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
const DefaultHeartbeatTimeout = timeline.DefaultHeartbeatTimeout

const slotFolder = timeline.MetaFolder + "/.aux/.commit-slots/"

// slot is the content of one commit slot.
type slot struct {
	Instant string                 `json:"instant"`
	Groups  []timeline.FileGroupID `json:"groups"`
	// InsertKeys: the commit's new keys are in keysPath(Instant).
	InsertKeys bool `json:"insertKeys,omitempty"`
	// InsertPartitions: the partitions it inserts new keys into, when it
	// has too many to record.
	InsertPartitions []string `json:"insertPartitions,omitempty"`
	// Claims are the source units the commit consumed
	// (CommitOptions.Claims).
	Claims []string `json:"claims,omitempty"`
}

func slotName(seq int64) string { return fmt.Sprintf("%s%020d", slotFolder, seq) }

// claimSlot takes the next commit slot for instant T of plan p, after
// checking every slot whose instant the plan's timeline had not completed.
// The plan's new keys are recorded for other writers and, when it routed
// keys by the index (inserts do not), checked against other slots' (a
// retry would change nothing for an insert). A slot whose instant is no
// longer on the timeline (rolled back) is ignored, and a write completed
// since the plan's timeline that took no slot (a writer not in optimistic
// mode) conflicts.
func (w *Writer) claimSlot(ctx context.Context, p *plan, T string, claims []string) error {
	if w.knobs.beforeSlot != nil {
		w.knobs.beforeSlot()
	}
	ins := insertedKeys(p.handles)
	check := ins
	if p.inserting() {
		check = nil
	}
	me := slot{Instant: T, Groups: touchedGroups(p.handles), Claims: claims}
	if err := ins.record(ctx, w.st, T, &me); err != nil {
		return err
	}
	content, err := json.Marshal(me)
	if err != nil {
		return err
	}
	for attempt := 0; attempt < 1000; attempt++ {
		seen, err := w.readSlots(ctx, p.tl, T)
		if err != nil {
			return err
		}
		// Loaded after the slots were listed: a slot's instant, pending
		// before the slot was taken, is missing only when it was rolled
		// back.
		now, err := w.refresh(ctx)
		if err != nil {
			return err
		}
		if err := ownStillPending(now, T); err != nil {
			return err
		}
		if err := w.checkSlots(ctx, now, me, seen.others, check); err != nil {
			return err
		}
		if err := w.checkUnslotted(ctx, p.tl, now, seen.slotted); err != nil {
			// A concurrent writer may have taken its slot and completed
			// between the listing and the reload: then its commit only
			// looks unslotted. Check again with the slots listed anew.
			again, rerr := w.readSlots(ctx, p.tl, T)
			if rerr == nil && again.top > seen.top {
				continue
			}
			return err
		}
		err = storage.WriteFile(ctx, w.st, slotName(seen.top+1), content, storage.CreateOptions{IfAbsent: true})
		if errors.Is(err, storage.ErrExist) {
			continue // another writer took it: check its groups, then try the next
		}
		if err != nil {
			return fmt.Errorf("writer: commit slot: %w", err)
		}
		w.slots[seen.top+1] = me
		w.state.slotTop = max(w.state.slotTop, seen.top+1)
		return nil
	}
	return fmt.Errorf("writer: commit slot: too many concurrent commits")
}

// slotsSeen is what one listing of the commit slots found.
type slotsSeen struct {
	top     int64           // the highest slot taken, -1 for none
	others  []slot          // slots of instants not completed on the plan's timeline (not T's)
	slotted map[string]bool // instants that took a slot
}

// readSlots lists the commit slots taken since the last listing (reading
// each once: w.slots keeps those that are not settled, see settleSlots)
// and sorts out those of instants tl had not completed, other than T.
func (w *Writer) readSlots(ctx context.Context, tl *timeline.Timeline, T string) (slotsSeen, error) {
	seen := slotsSeen{top: -1, slotted: map[string]bool{}}
	top, err := w.listNewSlots(ctx)
	if err != nil {
		return seen, err
	}
	seen.top = top
	w.settleSlots(tl)
	for _, s := range w.slots {
		seen.slotted[s.Instant] = true
		if s.Instant != T {
			seen.others = append(seen.others, s) // not part of our view
		}
	}
	slices.SortFunc(seen.others, func(a, b slot) int { return strings.Compare(a.Instant, b.Instant) })
	return seen, nil
}

// checkSlots fails with ErrConflict when slot me overlaps one of others
// that is still on the timeline now: both write a file group, or both
// insert a new key of check.
func (w *Writer) checkSlots(ctx context.Context, now *timeline.Timeline, me slot, others []slot, check *newKeys) error {
	mine := map[timeline.FileGroupID]bool{}
	for _, g := range me.Groups {
		mine[g] = true
	}
	claimed := claimSet(me.Claims)
	for _, s := range others {
		if _, ok := now.Find(s.Instant); !ok {
			continue // rolled back (or long archived): nothing of it is visible
		}
		if u := slotClaimOverlap(claimed, s); u != "" {
			return fmt.Errorf("%w: %s and %s both consume %s", ErrClaimed, me.Instant, s.Instant, u)
		}
		for _, g := range s.Groups {
			if mine[g] {
				return fmt.Errorf("%w: %s and %s both write file group %s", ErrConflict, me.Instant, s.Instant, g)
			}
		}
		what, err := w.overlap(ctx, check, s, w.opts.GlobalIndex)
		if err != nil {
			return err
		}
		if what != "" {
			return fmt.Errorf("%w: %s and %s both insert %s (it would be stored twice)", ErrConflict, me.Instant, s.Instant, what)
		}
	}
	return nil
}

// checkUnslotted fails with ErrConflict on a write completed on now but
// not on tl that took no slot: a writer not in optimistic mode. Table
// services' commits (compactions) take none and are no conflict.
func (w *Writer) checkUnslotted(ctx context.Context, tl, now *timeline.Timeline, slotted map[string]bool) error {
	for _, inst := range now.Completed() {
		if tl.IsCompleted(inst.Timestamp) || slotted[inst.Timestamp] || !inst.IsWriteAction() {
			continue
		}
		service, err := w.isServiceCommit(ctx, now, inst)
		if err != nil {
			return err
		}
		if !service {
			return fmt.Errorf("%w: %s %s was committed meanwhile by a writer not in optimistic mode", ErrConflict, inst.Action, inst.Timestamp)
		}
	}
	return nil
}

// touchedGroups lists the file groups a commit writes, sorted (new ones
// too, though no other commit can write them).
func touchedGroups(work []*handle) []timeline.FileGroupID {
	var out []timeline.FileGroupID
	for _, h := range work {
		out = append(out, h.id)
	}
	slices.SortFunc(out, func(a, b timeline.FileGroupID) int {
		return cmp.Or(strings.Compare(a.PartitionPath, b.PartitionPath), strings.Compare(a.FileID, b.FileID))
	})
	return out
}
