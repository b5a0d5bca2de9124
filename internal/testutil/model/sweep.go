package model

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/storage"
)

// SweepOptions configure Sweep.
type SweepOptions struct {
	// Mode is what the injected fault does (storagefault.ModeError or
	// storagefault.ModeCrash).
	Mode storagefault.Mode
	// Match selects the operations that are counted and failed; the zero
	// value selects every operation.
	Match storagefault.Match
	// Deferred leaves the injector unarmed until the run calls Point.Arm:
	// operations before (opening the table, say) are neither counted nor
	// failed.
	Deferred bool
	// MustFail fails the test when a run absorbs its fault (returns nil
	// although an operation failed): every failure must surface.
	MustFail bool
	// Stride, when above 1, runs only the points N with N % Stride ==
	// Offset: a sample of the sweep, for workloads too long to sweep
	// whole on every run. Rotating Offset across runs covers every point.
	Stride, Offset int
}

// Point is one run of a sweep: the workload with operation N failing.
type Point struct {
	// N is the index of the failed operation among those selected.
	N int
	// Mode is the fault's mode.
	Mode storagefault.Mode
	// Mem is the fresh clone of the base store the run works on; after
	// the run it holds the durable state the fault left.
	Mem *storage.Mem
	// Store is Mem behind the fault injector: the run's storage.
	Store *storagefault.Faulty
	// Err is what the run returned.
	Err error
	// Op is the operation that failed (set after the run).
	Op storagefault.Op

	armed atomic.Bool
	inj   *storagefault.IndexInjector
}

// Arm starts counting and failing operations (SweepOptions.Deferred).
func (p *Point) Arm() { p.armed.Store(true) }

// Injected reports whether Err is the injected fault (or, after a crash,
// an operation refused by the dead store).
func (p *Point) Injected() bool {
	return errors.Is(p.Err, storagefault.ErrInjected) || errors.Is(p.Err, storagefault.ErrCrashed)
}

// Sweep runs run once per selected storage operation of the workload, each
// time on a fresh clone of base with that operation failing: N = 0, 1, ...
// until a run performs fewer than N+1 selected operations, so that no
// fault fired. After every run that failed, check is called with the
// point. A run that absorbed its fault (a best-effort operation failed,
// or a crash came after the last operation that mattered) returns nil and
// is not checked (see MustFail); the sweep goes on. Sweep returns the
// number of points checked.
//
// The workload must be sequential for "the N-th operation" to name the
// same operation in every run.
func Sweep(t *testing.T, base *storage.Mem, opts SweepOptions, run func(p *Point) error, check func(t *testing.T, p *Point)) int {
	t.Helper()
	points := 0
	for n := 0; ; n++ {
		if opts.Stride > 1 && n%opts.Stride != opts.Offset%opts.Stride {
			continue
		}
		p := &Point{N: n, Mode: opts.Mode, Mem: base.Clone()}
		p.inj = storagefault.OnIndex(n, opts.Mode, opts.Match)
		p.armed.Store(!opts.Deferred)
		p.Store = storagefault.NewFaulty(p.Mem, storagefault.InjectorFunc(func(op storagefault.Op) error {
			if !p.armed.Load() {
				return nil
			}
			return p.inj.MaybeError(op)
		}))
		p.Err = run(p)
		op, fired := p.inj.Fired()
		if !fired {
			if p.Err != nil {
				t.Fatalf("model: sweep point %d: the run failed with no fault injected: %v", n, p.Err)
			}
			return points
		}
		if p.Err == nil {
			if opts.MustFail {
				t.Fatalf("model: sweep point %d: the run absorbed the fault at %v", n, op)
			}
			continue // absorbed
		}
		p.Op = op
		points++
		check(t, p)
		if t.Failed() {
			return points
		}
	}
}
