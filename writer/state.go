package writer

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strconv"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// state is what a long-lived writer keeps across commits so that a
// commit's reads follow its batch, not the table's history: each instant
// file and compaction plan is read once (they never change once written;
// an instant time is never reused), and the commit slots are listed from
// the last one seen on. What others change between commits still reaches
// every commit: the timeline is listed anew at each (catchUp, and again
// before the commit point), and a cached entry is only ever about an
// instant by its time, action and state, dropped once the instant leaves
// the active timeline.
type state struct {
	// meta holds commit metadata read (file sizing, service commits,
	// index catch-up) and the writer's own commits'.
	meta timeline.MetadataCache
	// plans holds the plans of pending compactions.
	plans filegroup.PlanCache
	// slotsListed: the commit slots were listed once (optimistic mode);
	// slotTop is then the highest slot seen. Slots are taken in sequence
	// (create-if-absent at the highest listed + 1), so every slot up to
	// slotTop is in Writer.slots or settled.
	slotsListed bool
	slotTop     int64
}

// refreshed drops what the writer keeps about instants no longer on the
// active timeline tl (archived, rolled back).
func (s *state) refreshed(tl *timeline.Timeline) { s.meta.Prune(tl) }

// committed records the writer's own commit so that no later commit reads
// it back (file sizing reads the latest commits' metadata). The metadata is
// copied: the caller owns res.
func (s *state) committed(action timeline.Action, res *CommitResult) {
	if res == nil || res.Instant == "" || res.Metadata == nil {
		return
	}
	b, err := res.Metadata.Marshal()
	if err != nil {
		return
	}
	md, err := timeline.ParseCommitMetadata(b)
	if err != nil {
		return
	}
	s.meta.Put(timeline.Instant{Timestamp: res.Instant, Action: action, State: timeline.Completed}, md)
}

// slotBlock is the number of slots one incremental listing covers: the
// listing prefix is a slot name without its last digit.
const slotBlock = 10

// listNewSlots reads the commit slots taken since the last listing into
// w.slots and returns the highest slot taken (-1 for none). The first
// call lists every slot; later ones list only the blocks of slotBlock
// names from the highest slot seen on, so the cost of a commit does not
// grow with the commits before it.
func (w *Writer) listNewSlots(ctx context.Context) (int64, error) {
	if !w.state.slotsListed {
		top, err := w.readSlotListing(ctx, slotFolder, -1)
		if err != nil {
			return top, err
		}
		w.state.slotsListed, w.state.slotTop = true, top
		return top, nil
	}
	for {
		block := (w.state.slotTop + 1) / slotBlock
		name := slotName(block * slotBlock)
		top, err := w.readSlotListing(ctx, name[:len(name)-1], w.state.slotTop)
		if err != nil {
			return w.state.slotTop, err
		}
		w.state.slotTop = max(w.state.slotTop, top)
		if w.state.slotTop != block*slotBlock+slotBlock-1 {
			return w.state.slotTop, nil
		}
	}
}

// readSlotListing lists the slots under prefix, reads those above after
// into w.slots and returns the highest slot listed (after, if none is
// above it).
func (w *Writer) readSlotListing(ctx context.Context, prefix string, after int64) (int64, error) {
	top := after
	for obj, err := range w.st.List(ctx, prefix, "/") {
		if err != nil {
			return top, fmt.Errorf("writer: commit slots: %w", err)
		}
		seq, err := strconv.ParseInt(path.Base(obj.Path), 10, 64)
		if err != nil || obj.IsDir || seq <= after {
			continue
		}
		top = max(top, seq)
		if _, ok := w.slots[seq]; ok {
			continue // our own
		}
		b, err := storage.ReadFile(ctx, w.st, obj.Path)
		if err != nil {
			return top, fmt.Errorf("writer: commit slot %d: %w", seq, err)
		}
		var s slot
		if err := json.Unmarshal(b, &s); err != nil {
			return top, fmt.Errorf("writer: commit slot %d: %w", seq, err)
		}
		w.slots[seq] = s
	}
	return top, nil
}

// settleSlots forgets the slots whose instants are completed on tl, the
// timeline a commit plans from: every later plan's timeline has them
// completed too (or archived), so no later check needs them; and those of
// instants older than tl's active timeline that are not on it (rolled
// back, then archived past): checkSlots ignores instants not on the
// timeline.
func (w *Writer) settleSlots(tl *timeline.Timeline) {
	first := tl.FirstInstantTime()
	for seq, s := range w.slots {
		_, onTimeline := tl.Find(s.Instant)
		if tl.IsCompleted(s.Instant) || (!onTimeline && s.Instant < first) {
			delete(w.slots, seq)
		}
	}
}
