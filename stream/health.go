package stream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
)

// TableStats describe one table of a running Service.
type TableStats struct {
	// Records are the records the table's commits wrote (inserts, updates
	// and deletes); Commits the commits.
	Records, Commits int64
	// Messages are the messages the commits moved the positions past
	// (records, tombstones and bad messages).
	Messages int64
	// LastCommit is when the last commit completed, LastInstant its
	// instant; LastError the error of the last failed commit since then.
	LastCommit  time.Time
	LastInstant string
	LastError   string
	// BufferedBytes and BufferedMessages are what waits for the next
	// commit; Since is when the first of them came.
	BufferedBytes    int64
	BufferedMessages int
	Since            time.Time
	// ServiceError is the last error of the table's background services.
	ServiceError string
}

// UnitStats describe one source unit.
type UnitStats struct {
	// Table is the location of the unit's table ("" until known).
	Table string
	// Committed is the table's position of the unit; Consumed the
	// position after the last message read.
	Committed, Consumed string
	// Lag is the source's lag of the unit (Source.Lag).
	Lag int64
}

// Stats is a snapshot of a Service.
type Stats struct {
	Running bool
	// Tables by location; Units by name (the units the source owns).
	Tables map[string]TableStats
	Units  map[string]UnitStats
	// OpenTables are the tables with an open writer; BufferedBytes the
	// payload bytes buffered across tables.
	OpenTables    int
	BufferedBytes int64
}

func (s *Service) statsFor(loc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.stats[loc] == nil {
		s.mu.stats[loc] = &TableStats{}
	}
}

func (s *Service) updateStats(ts *tableState, f func(*TableStats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.mu.stats[ts.loc]
	if st == nil {
		st = &TableStats{}
		s.mu.stats[ts.loc] = st
	}
	f(st)
}

// publishBuffers copies the buffers' sizes and the units into the stats
// (on the handler's goroutine).
func (s *Service) publishBuffers() {
	units := make(map[string]UnitStats, len(s.units))
	for name, u := range s.units {
		us := UnitStats{Committed: u.committed, Consumed: u.consumed}
		if u.table != nil {
			us.Table = u.table.loc
		}
		units[name] = us
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for loc, ts := range s.tables {
		st := s.mu.stats[loc]
		if st == nil {
			continue
		}
		st.BufferedBytes, st.BufferedMessages, st.Since = ts.rawBytes, len(ts.raw), ts.first
	}
	s.mu.units = units
	s.mu.open, s.mu.buffered = s.open, s.buffered
}

// Stats returns a snapshot of the Service. Safe to call from any
// goroutine.
func (s *Service) Stats() Stats {
	lags := s.opts.Source.Lag()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{Running: s.running.Load(), Tables: make(map[string]TableStats, len(s.mu.stats)), Units: maps.Clone(s.mu.units),
		OpenTables: s.mu.open, BufferedBytes: s.mu.buffered}
	if out.Units == nil {
		out.Units = map[string]UnitStats{}
	}
	for loc, st := range s.mu.stats {
		out.Tables[loc] = *st
	}
	for u, l := range lags {
		us := out.Units[u]
		us.Lag = l
		out.Units[u] = us
	}
	return out
}

// Health returns nil while the Service runs and every table's last
// commit succeeded, or its buffer is younger than 3 commit intervals;
// otherwise an error saying what is wrong. Safe to call from any
// goroutine.
func (s *Service) Health() error {
	if !s.running.Load() {
		if err := s.fatalErr(); err != nil {
			return fmt.Errorf("stream: not running: %w", err)
		}
		return errors.New("stream: not running")
	}
	limit := 3 * s.opts.CommitInterval
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for loc, st := range s.mu.stats {
		if st.LastError != "" {
			return fmt.Errorf("stream: table %s: the last commit failed: %s", loc, st.LastError)
		}
		if !st.Since.IsZero() && now.Sub(st.Since) > limit {
			return fmt.Errorf("stream: table %s: messages buffered since %s are not committed (more than 3 commit intervals)", loc, st.Since.Format(time.RFC3339))
		}
	}
	return nil
}

// maybeServices starts a round of the table's services after every
// Services.Every commits, unless one is running.
func (s *Service) maybeServices(ts *tableState) {
	sv := s.opts.Services
	if sv.Every <= 0 || (!sv.Compact && !sv.Clean) || ts.commits < sv.Every || !ts.servicesIdle.CompareAndSwap(true, false) {
		return
	}
	ts.commits = 0
	st, loc := ts.st, ts.loc
	ctx := s.bgCtx
	if ctx == nil { // the handler driven without Run
		ctx = context.Background()
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		defer ts.servicesIdle.Store(true)
		err := runServices(ctx, st, sv)
		if ctx.Err() != nil {
			return // stopped with the stream: a compaction or clean left pending is finished by the next round
		}
		if err != nil {
			s.opts.Logger.Warn("stream: table services failed (ingestion goes on; the next round retries)", "table", loc, "err", err)
		}
		s.updateStatsLoc(loc, func(t *TableStats) {
			t.ServiceError = ""
			if err != nil {
				t.ServiceError = err.Error()
			}
		})
	}()
}

// runServices is one round of compaction (merge-on-read tables) and
// cleaning, on a table handle of its own. Both follow their packages'
// rules for running alongside writers.
func runServices(ctx context.Context, st storage.Storage, sv Services) error {
	tbl, err := table.Open(ctx, st)
	if err != nil {
		return err
	}
	if sv.Compact && tbl.Config().Type == table.MergeOnRead {
		if _, _, err := compactor.Run(ctx, tbl, sv.Compactor); err != nil {
			return fmt.Errorf("compaction: %w", err)
		}
	}
	if sv.Clean {
		if _, err := cleaner.Clean(ctx, tbl, sv.Cleaner); err != nil {
			return fmt.Errorf("clean: %w", err)
		}
	}
	return nil
}

func (s *Service) updateStatsLoc(loc string, f func(*TableStats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.mu.stats[loc]; st != nil {
		f(st)
	}
}
