package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/ingest"
	"github.com/hoodie-lake/hoodie/writer"
)

// ingestCheckpointPrefix marks hoodie ingest checkpoints among the values
// of the commit checkpoint key.
const ingestCheckpointPrefix = "hoodie-ingest:"

// ingestCheckpoint is the source position of `hoodie ingest` and `hoodie
// cdc`: per input (absolute file path, or --source-id for stdin), the last
// line committed.
type ingestCheckpoint struct {
	Inputs map[string]int64 `json:"inputs"`
}

func (c *ingestCheckpoint) String() string {
	b, _ := json.Marshal(c)
	return ingestCheckpointPrefix + string(b)
}

// merged is c with the lines of progress.
func (c *ingestCheckpoint) merged(progress map[string]int64) *ingestCheckpoint {
	out := &ingestCheckpoint{Inputs: map[string]int64{}}
	for k, v := range c.Inputs {
		out.Inputs[k] = v
	}
	for k, v := range progress {
		out.Inputs[k] = max(out.Inputs[k], v)
	}
	return out
}

// loadIngestCheckpoint reads the table's last ingest checkpoint; other
// checkpoints (e.g. Hudi's streamer's) start from scratch.
func loadIngestCheckpoint(ctx context.Context, w *writer.Writer) (*ingestCheckpoint, error) {
	cp := &ingestCheckpoint{Inputs: map[string]int64{}}
	s, _, err := w.LastCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	if rest, ok := strings.CutPrefix(s, ingestCheckpointPrefix); ok {
		if err := json.Unmarshal([]byte(rest), cp); err != nil {
			return nil, fmt.Errorf("ingest checkpoint %q: %w", s, err)
		}
		if cp.Inputs == nil {
			cp.Inputs = map[string]int64{}
		}
	}
	return cp, nil
}

// checkpointID names an input in checkpoints: its absolute path, or the
// --source-id for stdin ("" = not checkpointed).
func checkpointID(src source, sourceID string) string {
	if src.path == "-" {
		return sourceID
	}
	if abs, err := filepath.Abs(src.path); err == nil {
		return abs
	}
	return src.path
}

// lineTracker skips lines already committed and records the last line
// read since the last commit.
type lineTracker struct {
	id       string
	done     int64            // last line committed by earlier runs
	progress map[string]int64 // shared with the commit function
}

// skipDone drops the rows (and bad rows) of lines up to t.done and notes
// the batch's last line.
func (t *lineTracker) skipDone(ctx context.Context, b *ingest.Batch) (*ingest.Batch, []ingest.BadRow, error) {
	last := int64(0)
	for _, l := range b.Lines {
		last = max(last, l)
	}
	var bad []ingest.BadRow
	for _, r := range b.Bad {
		last = max(last, r.Line)
		if r.Line > t.done {
			bad = append(bad, r)
		}
	}
	if last > t.progress[t.id] {
		t.progress[t.id] = last
	}
	if b.Rec == nil || t.done == 0 {
		return b, bad, nil
	}
	var keep []int64
	var lines []int64
	for i, l := range b.Lines {
		if l > t.done {
			keep = append(keep, int64(i))
			lines = append(lines, l)
		}
	}
	if len(keep) == len(b.Lines) {
		return b, bad, nil
	}
	rec, err := arrowutil.Take(ctx, b.Rec, keep)
	b.Rec.Release()
	if err != nil {
		return nil, nil, err
	}
	if len(keep) == 0 {
		rec.Release()
		rec = nil
	}
	b.Rec, b.Lines = rec, lines
	return b, bad, nil
}
