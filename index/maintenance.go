package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Stats describe the index.
type Stats struct {
	// Entries approximates the number of entries: the records of the runs
	// and the memory front, which still counts overwritten, deleted and
	// expired versions until merges drop them. Count gives the exact
	// number.
	Entries int64
	// FileGroups and Instants are the sizes of the dictionaries.
	FileGroups int
	Instants   int
	// Applied is the number of applied instants; LastApplied the greatest.
	Applied      int
	LastApplied  string
	NeedsRebuild bool
	// Runs is the number of runs and FrontEntries the entries of the
	// memory front.
	Runs         int
	FrontEntries int
	// LSMBytes is the size of the runs plus Badger's tables, VLogBytes
	// the size of Badger's value log.
	LSMBytes  int64
	VLogBytes int64
}

// Stats returns sizes and the watermark.
func (x *Index) Stats() (Stats, error) {
	if err := x.enter(); err != nil {
		return Stats{}, err
	}
	defer x.leave()
	var s Stats
	x.data.RLock()
	for _, r := range x.data.runs {
		s.Entries += int64(len(r.recs))
		s.LSMBytes += r.size
	}
	s.Runs, s.FrontEntries = len(x.data.runs), x.data.frontRecs
	s.Entries += int64(x.data.frontRecs)
	x.data.RUnlock()
	d := x.dict.Load()
	s.FileGroups, s.Instants = len(d.groups), len(d.instants)
	x.mu.RLock()
	s.Applied, s.LastApplied, s.NeedsRebuild = len(x.mu.applied), x.mu.last, x.mu.needsRebuild
	x.mu.RUnlock()
	lsm, vlog := x.db.Size()
	s.LSMBytes += lsm
	s.VLogBytes = vlog
	return s, nil
}

// Count returns the exact number of live entries, reading every record.
func (x *Index) Count(ctx context.Context) (int64, error) {
	if err := x.enter(); err != nil {
		return 0, err
	}
	defer x.leave()
	x.data.RLock()
	defer x.data.RUnlock()
	var srcs [][]rec
	for _, r := range slices.Concat(x.data.front, x.data.runs) {
		srcs = append(srcs, r.recs)
	}
	var n int64
	err := mergeRuns(srcs, true, uint32(time.Now().Unix()), ctx.Err, func(rec) error {
		n++
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("index: count: %w", err)
	}
	return n, nil
}

// RunGC rewrites value-log files of the Badger database (dictionaries and
// watermark) that are at least half garbage, until none is left or ctx is
// done. Runs need no collection: merges delete the runs they replace.
func (x *Index) RunGC(ctx context.Context) error {
	if err := x.enter(); err != nil {
		return err
	}
	defer x.leave()
	for ctx.Err() == nil {
		err := x.db.RunValueLogGC(0.5)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("index: gc: %w", err)
		}
	}
	return ctx.Err()
}

// Compact writes the memory front as a run and merges every run into
// one, dropping overwritten, deleted and expired entries, then compacts
// Badger's tables. It makes lookups after many small Puts faster; it
// waits for a running background merge and blocks Put meanwhile.
func (x *Index) Compact(ctx context.Context) error {
	x.mergeMu.Lock()
	defer x.mergeMu.Unlock()
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	if err := x.enter(); err != nil {
		return err
	}
	defer x.leave()
	if x.needsRebuild() {
		return ErrNeedsRebuild
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := x.compactAll(ctx); err != nil {
		return fmt.Errorf("index: compact: %w", err)
	}
	if err := x.db.Flatten(max(1, runtime.GOMAXPROCS(0))); err != nil {
		return fmt.Errorf("index: compact: %w", err)
	}
	return nil
}

// logger adapts slog to Badger's Logger; nil logs nothing.
type logger struct{ l *slog.Logger }

func newLogger(l *slog.Logger) badger.Logger {
	if l == nil {
		return nil
	}
	return logger{l.With("component", "index")}
}

func (g logger) Errorf(f string, v ...any)   { g.l.Error(trim(fmt.Sprintf(f, v...))) }
func (g logger) Warningf(f string, v ...any) { g.l.Warn(trim(fmt.Sprintf(f, v...))) }
func (g logger) Infof(f string, v ...any)    { g.l.Debug(trim(fmt.Sprintf(f, v...))) }
func (g logger) Debugf(f string, v ...any)   { g.l.Debug(trim(fmt.Sprintf(f, v...))) }

func trim(s string) string {
	for len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	return s
}
