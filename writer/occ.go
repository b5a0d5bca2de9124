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

	"github.com/hoodie-lake/hoodie/internal/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// Concurrency is how a writer shares a table with other writers.
type Concurrency int

const (
	// SingleWriter (the default, Hudi's SINGLE_WRITER): one writer at a
	// time; Open rolls back every pending write as a crashed one.
	SingleWriter Concurrency = iota
	// Optimistic (Hudi's OPTIMISTIC_CONCURRENCY_CONTROL, without a lock
	// service): writers commit concurrently. Each commit takes the next
	// commit slot, a create-if-absent object in .hoodie/.aux/.commit-slots,
	// after checking that no commit it did not see (a slot whose instant
	// was not completed in its view) touched the same file groups; the
	// loser of an overlap fails with ErrConflict and rolls its files back.
	// Pending writes are rolled back only once their heartbeat
	// (.hoodie/.heartbeat/<instant>) is older than HeartbeatTimeout.
	// Concurrent inserts of the same new key into different file groups
	// are not detected (as in Hudi). Every writer of the table must use it.
	Optimistic
)

// ErrConflict reports a commit that overlapped a concurrent commit's file
// groups; nothing of it is visible. Retry it (Options.ConflictRetries).
var ErrConflict = errors.New("writer: conflict with a concurrent commit")

// DefaultHeartbeatTimeout is when an optimistic writer's pending instant
// counts as failed (Hudi: heartbeat interval 60 s).
const DefaultHeartbeatTimeout = 60 * time.Second

const (
	heartbeatFolder = timeline.MetaFolder + "/.heartbeat/"
	slotFolder      = timeline.MetaFolder + "/.aux/.commit-slots/"
)

// slot is the content of one commit slot.
type slot struct {
	Instant string                 `json:"instant"`
	Groups  []timeline.FileGroupID `json:"groups"`
}

func slotName(seq int64) string { return fmt.Sprintf("%s%020d", slotFolder, seq) }

// heartbeat writes the instant's heartbeat now and then every timeout/4
// until stop is called.
func (w *Writer) heartbeat(ctx context.Context, instant string) (stop func()) {
	p := heartbeatFolder + instant
	beat := func() {
		_ = storage.WriteFile(ctx, w.st, p, []byte(time.Now().UTC().Format(time.RFC3339Nano)), storage.CreateOptions{})
	}
	beat()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(w.opts.HeartbeatTimeout / 4)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				beat()
			}
		}
	}()
	return func() {
		close(done)
		_ = w.st.Delete(context.WithoutCancel(ctx), p)
	}
}

// expired reports whether a pending instant's writer is gone: no heartbeat
// (and its timeline file older than the timeout), or a stale one.
func expired(ctx context.Context, st storage.Storage, inst timeline.Instant, timeout time.Duration) (bool, error) {
	info, err := st.Stat(ctx, heartbeatFolder+inst.Timestamp)
	if errors.Is(err, storage.ErrNotExist) {
		p, perr := timeline.InstantPath(inst)
		if perr != nil {
			return true, nil
		}
		if info, err = st.Stat(ctx, p); err != nil {
			return true, nil
		}
	} else if err != nil {
		return false, err
	}
	return time.Since(info.ModTime) > timeout, nil
}

// claimSlot takes the next commit slot for instant T touching groups, after
// checking every slot whose instant view's timeline tl had not completed.
func (w *Writer) claimSlot(ctx context.Context, tl *timeline.Timeline, T string, groups []timeline.FileGroupID) error {
	mine := map[timeline.FileGroupID]bool{}
	for _, g := range groups {
		mine[g] = true
	}
	content, err := json.Marshal(slot{Instant: T, Groups: groups})
	if err != nil {
		return err
	}
	for attempt := 0; attempt < 1000; attempt++ {
		var top int64 = -1
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
			if s.Instant == T || tl.IsCompleted(s.Instant) {
				continue // our own, or part of our view
			}
			for _, g := range s.Groups {
				if mine[g] {
					return fmt.Errorf("%w: %s and %s both write file group %s", ErrConflict, T, s.Instant, g)
				}
			}
		}
		err := storage.WriteFile(ctx, w.st, slotName(top+1), content, storage.CreateOptions{IfAbsent: true})
		if errors.Is(err, storage.ErrExist) {
			continue // another writer took it: check its groups, then try the next
		}
		if err != nil {
			return fmt.Errorf("writer: commit slot: %w", err)
		}
		w.slots[top+1] = slot{Instant: T, Groups: groups}
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
