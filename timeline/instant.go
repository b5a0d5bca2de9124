// Package timeline owns Hudi's active timeline (table version 6, timeline
// layout 1): instant times, actions and states, the exact file names under
// .hoodie/, the requested → inflight → completed transitions, and the JSON
// HoodieCommitMetadata that completed commit, deltacommit and replacecommit
// instants hold.
//
// The active timeline is flat in .hoodie/:
//
//	20240418173213674.commit.requested   requested (empty)
//	20240418173213674.inflight           inflight (workload profile JSON)
//	20240418173213674.commit             completed (HoodieCommitMetadata JSON): the commit point
//
// An instant is completed iff its completed file exists. hoodie writes the
// completed file with create-if-absent, so it appears atomically and only
// once. Loading the timeline is one LIST of .hoodie/ with a "/" delimiter;
// instant contents are read only when asked for.
//
// The package owns the write protocol: Txn takes every instant from its
// claimed time through requested, inflight, the markers of its data files
// (.hoodie/.temp/<instant>/) and the commit point to the deletion of its
// markers, or withdraws it (Abort). Writers, the compactor, the cleaner and
// rollbacks all go through it:
//
//	tx, err := timeline.Begin(ctx, st, timeline.DeltaCommit, nil, timeline.BeginOptions{})
//	err = tx.Inflight(ctx, profile)
//	err = tx.Marker(ctx, "p1/"+logName, timeline.MarkerAppend) // before each data file
//	err = tx.Complete(ctx, commitMetadata)                     // the commit point
//	err = tx.Finish(ctx)                                       // markers go
//
// It also owns the one visibility rule (Timeline.Visible): which instants'
// data a read as of an instant sees.
//
// timeline depends on storage only; it never imports table or filegroup.
package timeline

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Action is a timeline action, spelled as Hudi spells it.
type Action string

// The v6 timeline actions.
const (
	Commit        Action = "commit"
	DeltaCommit   Action = "deltacommit"
	ReplaceCommit Action = "replacecommit"
	Compaction    Action = "compaction"
	LogCompaction Action = "logcompaction"
	Clean         Action = "clean"
	Rollback      Action = "rollback"
	Restore       Action = "restore"
	Indexing      Action = "indexing"
	Savepoint     Action = "savepoint"
)

// Actions lists every action hoodie recognises.
var Actions = []Action{Commit, DeltaCommit, ReplaceCommit, Compaction, LogCompaction, Clean, Rollback, Restore, Indexing, Savepoint}

// State is an instant's state.
type State int

// Instant states, in lifecycle order.
const (
	Requested State = iota
	Inflight
	Completed
)

func (s State) String() string {
	switch s {
	case Requested:
		return "REQUESTED"
	case Inflight:
		return "INFLIGHT"
	case Completed:
		return "COMPLETED"
	default:
		return fmt.Sprintf("State(%d)", int(s))
	}
}

// Errors returned by this package; use errors.Is.
var (
	ErrInvalidInstant   = errors.New("timeline: invalid instant")
	ErrInstantExists    = errors.New("timeline: instant exists")
	ErrAlreadyCompleted = errors.New("timeline: instant already completed")
	ErrNotFound         = errors.New("timeline: instant not found")
	ErrBadTransition    = errors.New("timeline: invalid state transition")
)

// Instant is one action at one instant time in one state.
//
// A compaction (logcompaction) that completed is reported as Action Commit
// (DeltaCommit), as Hudi's timeline does, because its completed file is
// T.commit (T.deltacommit).
type Instant struct {
	Timestamp string
	Action    Action
	State     State
}

func (i Instant) String() string {
	return fmt.Sprintf("[%s__%s__%s]", i.Timestamp, i.Action, i.State)
}

// IsCompleted reports whether the instant is in the completed state.
func (i Instant) IsCompleted() bool { return i.State == Completed }

// IsWriteAction reports whether the action writes data files that readers
// see (commit, deltacommit, replacecommit, compaction, logcompaction).
func (i Instant) IsWriteAction() bool {
	switch i.Action {
	case Commit, DeltaCommit, ReplaceCommit, Compaction, LogCompaction:
		return true
	}
	return false
}

// WithState returns the same instant in state s. Moving a compaction to
// Completed turns it into a commit (logcompaction into a deltacommit).
func (i Instant) WithState(s State) Instant {
	i.State = s
	if s == Completed {
		switch i.Action {
		case Compaction:
			i.Action = Commit
		case LogCompaction:
			i.Action = DeltaCommit
		}
	}
	return i
}

// FileName is the instant's file name under .hoodie/ (v6, layout 1).
func (i Instant) FileName() (string, error) {
	if err := ValidateInstantTime(i.Timestamp); err != nil {
		return "", err
	}
	t := i.Timestamp
	switch i.Action {
	case Commit:
		switch i.State {
		case Requested:
			return t + ".commit.requested", nil
		case Inflight:
			return t + ".inflight", nil
		case Completed:
			return t + ".commit", nil
		}
	case DeltaCommit, ReplaceCommit, Clean, Rollback, Restore, Indexing:
		switch i.State {
		case Requested:
			return t + "." + string(i.Action) + ".requested", nil
		case Inflight:
			return t + "." + string(i.Action) + ".inflight", nil
		case Completed:
			return t + "." + string(i.Action), nil
		}
	case Compaction, LogCompaction:
		switch i.State {
		case Requested:
			return t + "." + string(i.Action) + ".requested", nil
		case Inflight:
			return t + "." + string(i.Action) + ".inflight", nil
		case Completed:
			return i.WithState(Completed).FileName()
		}
	case Savepoint:
		switch i.State {
		case Inflight:
			return t + ".savepoint.inflight", nil
		case Completed:
			return t + ".savepoint", nil
		}
	}
	return "", fmt.Errorf("%w: no file name for %s", ErrInvalidInstant, i)
}

// ParseFileName parses an instant file name. ok is false for names that are
// not instants (hoodie.properties, directories, unknown actions), which the
// timeline ignores as Hudi does.
func ParseFileName(name string) (inst Instant, ok bool) {
	dot := strings.IndexByte(name, '.')
	if dot <= 0 {
		return Instant{}, false
	}
	ts, rest := name[:dot], name[dot+1:]
	if ValidateInstantTime(ts) != nil {
		return Instant{}, false
	}
	inst.Timestamp = ts
	switch rest {
	case "inflight":
		inst.Action, inst.State = Commit, Inflight
		return inst, true
	case "savepoint.inflight":
		inst.Action, inst.State = Savepoint, Inflight
		return inst, true
	}
	action, state := rest, Completed
	if a, ok := strings.CutSuffix(rest, ".requested"); ok {
		action, state = a, Requested
	} else if a, ok := strings.CutSuffix(rest, ".inflight"); ok {
		action, state = a, Inflight
	}
	switch Action(action) {
	case Commit, DeltaCommit, ReplaceCommit, Clean, Rollback, Restore, Indexing:
	case Compaction, LogCompaction:
		if state == Completed {
			return Instant{}, false // completes as T.commit / T.deltacommit
		}
	case Savepoint:
		if state == Requested {
			return Instant{}, false
		}
	default:
		return Instant{}, false
	}
	if Action(action) == Commit && state == Inflight {
		return Instant{}, false // commit inflight is the bare "T.inflight"
	}
	inst.Action, inst.State = Action(action), state
	return inst, true
}

// InstantTimeFormat is the Go layout of 17-digit instant times (millisecond
// precision, yyyyMMddHHmmssSSS without separators).
const InstantTimeFormat = "20060102150405.000"

// FormatInstantTime formats t in UTC as a 17-digit instant time.
func FormatInstantTime(t time.Time) string {
	return strings.Replace(t.UTC().Format(InstantTimeFormat), ".", "", 1)
}

// ParseInstantTime parses a 17-digit (or legacy 14-digit) instant time as UTC.
func ParseInstantTime(ts string) (time.Time, error) {
	if err := ValidateInstantTime(ts); err != nil {
		return time.Time{}, err
	}
	if len(ts) == 14 {
		ts += "000"
	}
	t, err := time.ParseInLocation(InstantTimeFormat, ts[:14]+"."+ts[14:17], time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %q: %v", ErrInvalidInstant, ts, err)
	}
	return t, nil
}

// ValidateInstantTime checks that ts is 14 or 17 ASCII digits, or 17
// digits followed by one or two 3-digit suffixes: the instants Hudi's
// metadata table derives from a data instant (compaction "001", rollback
// "006", initialisation "010", and e.g. "010001" for a compaction based on
// an initialisation). Such times sort right after the instant they extend.
func ValidateInstantTime(ts string) error {
	if len(ts) != 14 && len(ts) != 17 && len(ts) != 20 && len(ts) != 23 {
		return fmt.Errorf("%w: %q is not 14 or 17 digits (+ metadata table suffixes)", ErrInvalidInstant, ts)
	}
	for i := 0; i < len(ts); i++ {
		if ts[i] < '0' || ts[i] > '9' {
			return fmt.Errorf("%w: %q is not 14 or 17 digits (+ metadata table suffixes)", ErrInvalidInstant, ts)
		}
	}
	return nil
}

// NextInstantTime returns the instant time for now, or one millisecond after
// last when now does not sort after it, so instant times strictly increase
// even when the clock stands still or steps back.
func NextInstantTime(now time.Time, last string) string {
	t := FormatInstantTime(now)
	if last == "" || t > last {
		return t
	}
	lt, err := ParseInstantTime(last)
	if err != nil {
		return t
	}
	return FormatInstantTime(lt.Add(time.Millisecond))
}
