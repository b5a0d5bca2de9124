package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/stream"
	"github.com/hoodie-lake/hoodie/timeline"
)

// advance is one unit's move in a commit: the records at offsets
// [from, to) became visible.
type advance struct {
	unit     string
	from, to int64
}

// commitSeen is a completed commit the watcher found.
type commitSeen struct {
	instant string
	// seen is when the poll found it; written is the completed instant
	// file's modification time (when the commit became visible).
	seen, written time.Time
	advances      []advance
}

// tableWatch follows a table's timeline as a reader polling it would: the
// merged positions of the completed commits (the largest per unit of each
// commit's stream.PositionsKey), and which records each commit made visible.
type tableWatch struct {
	base    string
	st      storage.Storage
	done    map[string]bool  // instant times already accounted
	pos     map[string]int64 // unit → next offset, merged
	commits int              // completed commits carrying positions
}

func newTableWatch(base string) (*tableWatch, error) {
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("streambench: %w", err)
	}
	st, err := storage.NewLocal(base)
	if err != nil {
		return nil, fmt.Errorf("streambench: open %s: %w", base, err)
	}
	return &tableWatch{base: base, st: st, done: map[string]bool{}, pos: map[string]int64{}}, nil
}

// poll loads the timeline once and accounts the commits completed since
// the last poll, oldest first.
func (w *tableWatch) poll(ctx context.Context) ([]commitSeen, error) {
	if _, err := os.Stat(filepath.Join(w.base, timeline.MetaFolder, "hoodie.properties")); err != nil {
		return nil, nil // not created yet
	}
	tl, err := timeline.Load(ctx, w.st)
	if err != nil {
		return nil, fmt.Errorf("streambench: %w", err)
	}
	now := time.Now()
	var out []commitSeen
	for _, inst := range tl.CompletedCommits() {
		if w.done[inst.Timestamp] {
			continue
		}
		w.done[inst.Timestamp] = true
		if inst.Action != timeline.DeltaCommit && inst.Action != timeline.Commit {
			continue
		}
		md, err := timeline.ReadCommitMetadata(ctx, w.st, inst)
		if errors.Is(err, fs.ErrNotExist) {
			continue // archived meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("streambench: commit %s: %w", inst.Timestamp, err)
		}
		js := md.ExtraMetadata[stream.PositionsKey]
		if js == "" {
			continue // a compaction
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(js), &m); err != nil {
			return nil, fmt.Errorf("streambench: commit %s: %s: %w", inst.Timestamp, stream.PositionsKey, err)
		}
		c := commitSeen{instant: inst.Timestamp, seen: now, written: now}
		if name, err := inst.FileName(); err == nil {
			if fi, err := os.Stat(filepath.Join(w.base, timeline.MetaFolder, name)); err == nil {
				c.written = fi.ModTime()
			}
		}
		for u, p := range m {
			off, err := strconv.ParseInt(p, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("streambench: commit %s: position %q of %s: %w", inst.Timestamp, p, u, err)
			}
			if old := w.pos[u]; off > old {
				c.advances = append(c.advances, advance{unit: u, from: old, to: off})
				w.pos[u] = off
			}
		}
		w.commits++
		out = append(out, c)
	}
	return out, nil
}

// reached reports whether the merged positions reach end (unit → offset).
func (w *tableWatch) reached(end map[string]int64) bool {
	for u, off := range end {
		if w.pos[u] < off {
			return false
		}
	}
	return true
}

// records is the number of records the merged positions cover (offsets
// start at 0 on the benchmark's topics).
func (w *tableWatch) records() int64 {
	var n int64
	for _, off := range w.pos {
		n += off
	}
	return n
}
