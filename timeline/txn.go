package timeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hoodie-lake/hoodie/storage"
)

// The write protocol. Every change to a table's data — a writer's commit or
// deltacommit, a compaction, a clean, a rollback — is one instant, and Txn
// is the one owner of its steps:
//
//	Begin       claim an instant time T (create-if-absent claim), write
//	            T.<action>.requested with its content (a plan, or empty)
//	Inflight    write T's inflight file (a writer's workload profile)
//	Marker      before each data file: .hoodie/.temp/T/<path>.marker.<TYPE>,
//	            so a rollback of T finds every file T wrote
//	Complete    the commit point: T's completed file, create-if-absent, so
//	            it appears atomically and only once
//	Finish      after Complete: delete T's markers, as Hudi does
//	Abort       withdraw a pending T: delete its markers, then its inflight
//	            and requested files (after a rollback deleted its data)
//
// Resume opens a Txn on an instant that exists already: a table service
// finishing a plan another process scheduled, a rollback withdrawing a
// failed write, or a compaction adding a carried-over log file to a pending
// writer's instant (so the writer's rollback removes the copy too).

// MarkerFolder is the folder holding the markers of every instant, relative
// to the table base: .hoodie/.temp/<instant>/.
const MarkerFolder = MetaFolder + "/.temp"

// MarkerType says how a data file was written (Hudi's IOType), the suffix of
// its marker.
type MarkerType string

// Marker types.
const (
	MarkerCreate MarkerType = "CREATE" // a new base file
	MarkerMerge  MarkerType = "MERGE"  // a base file rewriting an older one
	MarkerAppend MarkerType = "APPEND" // a log file
)

// Marker is one marker of an instant: the data file it stands for.
type Marker struct {
	// DataPath is the data file's key relative to the table base,
	// "<partition>/<name>" or "<name>".
	DataPath string
	Type     MarkerType
}

// MarkerPath is the key of the marker of the data file at dataPath (relative
// to the table base) written by instant instantTime:
// .hoodie/.temp/<instantTime>/<dataPath>.marker.<typ>.
func MarkerPath(instantTime, dataPath string, typ MarkerType) string {
	return markerDir(instantTime) + dataPath + ".marker." + string(typ)
}

func markerDir(instantTime string) string { return MarkerFolder + "/" + instantTime + "/" }

// BeginOptions are the options of Begin.
type BeginOptions struct {
	// BeforeRequested, if set, runs once the instant time is claimed and
	// before the instant's first timeline file is written (a writer starts
	// its heartbeat there, so no other process ever sees its pending
	// instant without one). An error abandons the claimed time: no
	// timeline file is written and Begin returns the error.
	BeforeRequested func(instantTime string) error

	now func() time.Time // tests (export_test.go); default time.Now
}

// EnsureDefaults fills the zero values with defaults (the system clock).
func (o *BeginOptions) EnsureDefaults() {
	if o.now == nil {
		o.now = time.Now
	}
}

// Validate checks the options; every combination is valid.
func (o *BeginOptions) Validate() error { return nil }

// Txn is the write protocol of one instant (see the steps above). Markers
// may be written from several goroutines at once; the state changes
// (Inflight, Complete, Abort, RevertToInflight) are the caller's sequence.
type Txn struct {
	st storage.Storage
	ts string
	mu struct {
		sync.Mutex
		inst Instant
	}
}

// Begin claims a new instant time for the table, strictly greater than every
// instant on the timeline and than every earlier claim, with a
// create-if-absent claim object (.hoodie/.aux/.instant-claims/<time>) so no
// other process or action takes the same time. It then writes the requested
// file of action with content (a plan for compaction, clean and rollback;
// empty for commits) and returns the Txn of the requested instant.
//
// Savepoints have no requested state; Begin writes their inflight file.
func Begin(ctx context.Context, st storage.Storage, action Action, content []byte, opts BeginOptions) (*Txn, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	tl, err := Load(ctx, st)
	if err != nil {
		return nil, err
	}
	last := tl.LastInstantTime()
	for attempt := 0; attempt < 1000; attempt++ {
		ts := NextInstantTime(opts.now(), last)
		err := storage.WriteFile(ctx, st, claimFolder+"/"+ts, nil, storage.CreateOptions{IfAbsent: true})
		if errors.Is(err, storage.ErrExist) {
			last = ts
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("timeline: claim instant: %w", err)
		}
		inst := Instant{Timestamp: ts, Action: action, State: Requested}
		if action == Savepoint {
			inst.State = Inflight
		}
		if opts.BeforeRequested != nil {
			if err := opts.BeforeRequested(ts); err != nil {
				return nil, err
			}
		}
		if err := writeInstant(ctx, st, inst, content); err != nil {
			return nil, err
		}
		return newTxn(st, inst), nil
	}
	return nil, fmt.Errorf("timeline: claim instant: too many collisions after %s", last)
}

// Request writes the requested file of action at time ts, which the caller
// chose, create-if-absent and without a claim: for Hudi's metadata table,
// whose instants take the times of the data table's instants (or derive
// from them with a suffix). An existing requested file with other content
// fails with ErrInstantExists.
func Request(ctx context.Context, st storage.Storage, ts string, action Action, content []byte) (*Txn, error) {
	if err := ValidateInstantTime(ts); err != nil {
		return nil, err
	}
	inst := Instant{Timestamp: ts, Action: action, State: Requested}
	if err := writeInstant(ctx, st, inst, content); err != nil {
		return nil, err
	}
	return newTxn(st, inst), nil
}

// Resume opens the Txn of an instant that exists on the timeline in the
// given state (as Load or Find report it): to move a scheduled plan on, to
// withdraw a failed write after its rollback, or to add a marker for a file
// written on the instant's behalf.
func Resume(st storage.Storage, inst Instant) (*Txn, error) {
	if err := ValidateInstantTime(inst.Timestamp); err != nil {
		return nil, err
	}
	return newTxn(st, inst), nil
}

func newTxn(st storage.Storage, inst Instant) *Txn {
	tx := &Txn{st: st, ts: inst.Timestamp}
	tx.mu.inst = inst
	return tx
}

// Instant is the instant in the state the Txn last moved it to.
func (tx *Txn) Instant() Instant {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.mu.inst
}

// InstantTime is the instant's time.
func (tx *Txn) InstantTime() string { return tx.ts }

// transition writes the file of state to (create-if-absent) with content.
func (tx *Txn) transition(ctx context.Context, to State, content []byte) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	inst := tx.mu.inst
	if to <= inst.State {
		return fmt.Errorf("%w: %s to %s", ErrBadTransition, inst, to)
	}
	next := inst.WithState(to)
	if err := writeInstant(ctx, tx.st, next, content); err != nil {
		if to == Inflight && errors.Is(err, ErrInstantExists) {
			tx.mu.inst = next // inflight it is, whoever moved it
		}
		return err
	}
	tx.mu.inst = next
	return nil
}

// Inflight moves a requested instant to inflight, writing content (a
// writer's workload profile: CommitMetadata JSON; a clean's plan; empty for
// compactions and rollbacks). An inflight file that exists with the same
// content is no error; with other content the error wraps ErrInstantExists
// and the Txn is inflight all the same (another executor of the same plan
// moved it first).
func (tx *Txn) Inflight(ctx context.Context, content []byte) error {
	return tx.transition(ctx, Inflight, content)
}

// Complete writes the instant's completed file with content (commit
// metadata; a clean's or rollback's Avro metadata): the commit point. The
// file is created if absent, so it appears atomically and only once: a
// second completion fails with ErrAlreadyCompleted, unless its content is
// the same (an S3 retry of a PUT that took effect).
func (tx *Txn) Complete(ctx context.Context, content []byte) error {
	return tx.transition(ctx, Completed, content)
}

// Marker writes the marker of the data file at dataPath (relative to the
// table base) before the file is written, so that a rollback of the instant
// finds the file (Markers) even when it was never committed.
func (tx *Txn) Marker(ctx context.Context, dataPath string, typ MarkerType) error {
	if err := storage.WriteFile(ctx, tx.st, MarkerPath(tx.ts, dataPath, typ), nil, storage.CreateOptions{}); err != nil {
		return fmt.Errorf("timeline: marker of %s: %w", dataPath, err)
	}
	return nil
}

// DeleteMarker removes the marker of a data file the instant did not write
// after all (a log version another writer took first: a rollback of this
// instant must not delete the other writer's file).
func (tx *Txn) DeleteMarker(ctx context.Context, dataPath string, typ MarkerType) error {
	if err := tx.st.Delete(ctx, MarkerPath(tx.ts, dataPath, typ)); err != nil {
		return fmt.Errorf("timeline: delete marker of %s: %w", dataPath, err)
	}
	return nil
}

// Markers lists the instant's markers, sorted by data path. Keys under the
// instant's marker folder that are not markers are skipped.
func (tx *Txn) Markers(ctx context.Context) ([]Marker, error) {
	dir := markerDir(tx.ts)
	var out []Marker
	for obj, err := range tx.st.List(ctx, dir, "") {
		if err != nil {
			return nil, fmt.Errorf("timeline: markers of %s: %w", tx.ts, err)
		}
		rel := strings.TrimPrefix(obj.Path, dir)
		if i := strings.LastIndex(rel, ".marker."); i > 0 {
			out = append(out, Marker{DataPath: rel[:i], Type: MarkerType(rel[i+len(".marker."):])})
		}
	}
	return out, nil
}

// deleteMarkers deletes every key under the instant's marker folder.
func (tx *Txn) deleteMarkers(ctx context.Context) error {
	dir := markerDir(tx.ts)
	var keys []string
	for obj, err := range tx.st.List(ctx, dir, "") {
		if err != nil {
			return fmt.Errorf("timeline: delete markers of %s: %w", tx.ts, err)
		}
		keys = append(keys, obj.Path)
	}
	for _, k := range keys {
		if err := tx.st.Delete(ctx, k); err != nil {
			return fmt.Errorf("timeline: delete markers of %s: %w", tx.ts, err)
		}
	}
	return nil
}

// Finish deletes the markers of a completed instant (.hoodie/.temp/T), as
// Hudi does once T completed: they are needed only to roll T back.
func (tx *Txn) Finish(ctx context.Context) error {
	if inst := tx.Instant(); inst.State != Completed {
		return fmt.Errorf("%w: finish %s before it completed", ErrBadTransition, inst)
	}
	return tx.deleteMarkers(ctx)
}

// Abort withdraws a pending instant: it deletes the instant's markers, then
// its inflight and requested files — inflight first, as Hudi does, so a
// crash in between leaves a requested instant (which is rolled back again),
// never an inflight without its requested. It deletes no data file: an
// instant that wrote data is rolled back first (its files, found through
// Markers, deleted), and the rollback ends with Abort. A completed instant
// is refused with ErrBadTransition.
func (tx *Txn) Abort(ctx context.Context) error {
	inst := tx.Instant()
	if inst.State == Completed {
		return fmt.Errorf("%w: cannot abort completed %s", ErrBadTransition, inst)
	}
	if err := tx.deleteMarkers(ctx); err != nil {
		return err
	}
	for _, s := range []State{Inflight, Requested} {
		i := inst
		i.State = s
		p, err := InstantPath(i)
		if err != nil {
			continue // e.g. savepoints have no requested file
		}
		if err := tx.st.Delete(ctx, p); err != nil {
			return fmt.Errorf("timeline: delete %s: %w", i, err)
		}
	}
	return nil
}

// RevertToInflight deletes the completed file of a completed instant, which
// is inflight again (Hudi's revertToInflight): the first step of rolling
// back a completed write, taken after markers for every file it wrote exist
// (Marker), so a crash leaves an instant the rollback of failed writes
// finishes.
func (tx *Txn) RevertToInflight(ctx context.Context) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	inst := tx.mu.inst
	if inst.State != Completed {
		return fmt.Errorf("%w: revert %s, which is not completed", ErrBadTransition, inst)
	}
	p, err := InstantPath(inst)
	if err != nil {
		return err
	}
	if err := tx.st.Delete(ctx, p); err != nil {
		return fmt.Errorf("timeline: revert %s: %w", inst, err)
	}
	tx.mu.inst.State = Inflight
	return nil
}
