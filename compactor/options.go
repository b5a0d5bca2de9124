package compactor

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/table"
)

// Errors returned by this package; test with errors.Is.
var (
	ErrNotMergeOnRead = errors.New("compactor: not a merge-on-read table")
	ErrNoSuchPlan     = errors.New("compactor: no such compaction")
	ErrInvalidOptions = errors.New("compactor: invalid options")
)

// Strategy decides when Schedule writes a plan (Hudi's
// hoodie.compact.inline.trigger.strategy).
type Strategy string

// Strategies.
const (
	NumCommits  Strategy = "NUM_COMMITS"  // DeltaCommits completed deltacommits since the last compaction
	TimeElapsed Strategy = "TIME_ELAPSED" // Elapsed since the last compaction (or the first deltacommit)
	NumOrTime   Strategy = "NUM_OR_TIME"  // either of the above
	NumAndTime  Strategy = "NUM_AND_TIME" // both of the above
	LogSize     Strategy = "LOG_SIZE"     // LogBytes of log files in the latest slices
)

// Mode says which halves of the service Run runs.
type Mode int

// Modes.
const (
	// ScheduleAndRun executes every pending plan, then schedules a new one
	// when the strategy says so and executes it (the default).
	ScheduleAndRun Mode = iota
	// ScheduleOnly only schedules a plan, when the strategy says so (e.g.
	// next to ingestion, leaving execution to another process).
	ScheduleOnly
	// RunOnly only executes the pending plans.
	RunOnly
)

// String names the mode.
func (m Mode) String() string {
	switch m {
	case ScheduleAndRun:
		return "schedule-and-run"
	case ScheduleOnly:
		return "schedule-only"
	case RunOnly:
		return "run-only"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Defaults, as Hudi's.
const (
	DefaultDeltaCommits = 5
	DefaultElapsed      = time.Hour
	DefaultLogBytes     = 512 << 20
)

// Options configure scheduling and execution. The zero value is valid:
// every zero field stands for its default.
type Options struct {
	// Mode restricts Run to scheduling or to execution. Default
	// ScheduleAndRun. Schedule and Execute ignore it.
	Mode Mode
	// Strategy decides when a plan is scheduled. Default NumCommits.
	Strategy Strategy
	// DeltaCommits is the NumCommits threshold. Default
	// DefaultDeltaCommits (zero or negative: the default).
	DeltaCommits int
	// Elapsed is the TimeElapsed threshold. Default DefaultElapsed (zero
	// or negative: the default).
	Elapsed time.Duration
	// LogBytes is the LogSize threshold. Default DefaultLogBytes (zero or
	// negative: the default).
	LogBytes int64
	// Force schedules whenever some slice has log files to compact,
	// whatever the strategy says.
	Force bool
	// Parallelism bounds the file groups merged at once. Default
	// GOMAXPROCS.
	Parallelism int
	// Compression of the new base files. Default table.Snappy.
	Compression table.Compression
	// Progress, if set, receives the operations done per execution.
	Progress func(step string, done, total int64)
}

// EnsureDefaults fills the zero (and negative) fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Strategy == "" {
		o.Strategy = NumCommits
	}
	if o.DeltaCommits <= 0 {
		o.DeltaCommits = DefaultDeltaCommits
	}
	if o.Elapsed <= 0 {
		o.Elapsed = DefaultElapsed
	}
	if o.LogBytes <= 0 {
		o.LogBytes = DefaultLogBytes
	}
	if o.Parallelism <= 0 {
		o.Parallelism = runtime.GOMAXPROCS(0)
	}
	if o.Compression == "" {
		o.Compression = table.Snappy
	}
}

// Validate reports an unknown mode, strategy or compression codec (the
// error wraps ErrInvalidOptions). Zero fields are valid.
func (o *Options) Validate() error {
	switch o.Mode {
	case ScheduleAndRun, ScheduleOnly, RunOnly:
	default:
		return fmt.Errorf("%w: unknown mode %d", ErrInvalidOptions, int(o.Mode))
	}
	switch o.Strategy {
	case "", NumCommits, TimeElapsed, NumOrTime, NumAndTime, LogSize:
	default:
		return fmt.Errorf("%w: unknown strategy %q", ErrInvalidOptions, o.Strategy)
	}
	if _, err := basefile.CompressionNamed(string(o.Compression)); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	return nil
}

// prepare fills the defaults of a copy of the caller's options and
// validates them.
func (o Options) prepare() (Options, error) {
	o.EnsureDefaults()
	return o, o.Validate()
}
