package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"

	"github.com/dgraph-io/badger/v4"
)

// Stats describe the index.
type Stats struct {
	// Entries approximates the number of entries: the key count of the
	// LSM tables, which still counts overwritten, deleted and expired
	// versions until compaction drops them, and does not count the latest
	// writes, still in memtables (up to MemTableSize*NumMemtables bytes).
	// Count gives the exact number.
	Entries int64
	// FileGroups and Instants are the sizes of the dictionaries.
	FileGroups int
	Instants   int
	// Applied is the number of applied instants; LastApplied the greatest.
	Applied      int
	LastApplied  string
	NeedsRebuild bool
	// LSMBytes and VLogBytes are Badger's on-disk sizes.
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
	for _, t := range x.db.Tables() {
		s.Entries += int64(t.KeyCount)
	}
	d := x.dict.Load()
	s.FileGroups, s.Instants = len(d.groups), len(d.instants)
	x.mu.RLock()
	s.Applied, s.LastApplied, s.NeedsRebuild = len(x.mu.applied), x.mu.last, x.mu.needsRebuild
	x.mu.RUnlock()
	s.LSMBytes, s.VLogBytes = x.db.Size()
	return s, nil
}

// Count returns the exact number of live entries, reading every key.
func (x *Index) Count(ctx context.Context) (int64, error) {
	if err := x.enter(); err != nil {
		return 0, err
	}
	defer x.leave()
	var n int64
	err := x.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixEntry}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if n%lookupChunk == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("index: count: %w", err)
	}
	return n, nil
}

// RunGC rewrites value-log files that are at least half garbage, until
// none is left or ctx is done. Entries are small enough to live in the LSM
// tree, so the value log only holds Badger's write-ahead records; call it
// periodically from long-running writers anyway (e.g. after each commit).
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

// Compact merges the LSM tables into one level,
// dropping overwritten, deleted and expired entries. It makes lookups
// after a large Put or Rebuild faster; it blocks Badger's background
// compactions while it runs and cannot be interrupted.
func (x *Index) Compact(ctx context.Context) error {
	if err := x.enter(); err != nil {
		return err
	}
	defer x.leave()
	if err := ctx.Err(); err != nil {
		return err
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
