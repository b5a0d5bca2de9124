package bench

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
)

// streamInput is the stream case's batches, made before the timed commits.
type streamInput struct {
	batches []arrowBatch
	encoded []int64 // each batch written by parquet-go, snappy, one file
}

// makeStream generates cfg.StreamCommits batches of cfg.StreamRows events:
// the first all new, the others UpdateShare new versions of events of
// earlier batches and the rest new events.
func makeStream(cfg CaseConfig) (streamInput, error) {
	gen := NewGenerator(WorkloadConfig{Seed: cfg.Seed + 7, Days: 1, DupShare: 0.0001})
	var in streamInput
	var seen []Event
	for i := 0; i < cfg.StreamCommits; i++ {
		var evs []Event
		if i > 0 {
			evs = gen.Updates(seen, int(float64(cfg.StreamRows)*cfg.UpdateShare))
		}
		evs = append(evs, gen.Next(cfg.StreamRows-len(evs))...)
		seen = append(seen, evs...)
		n, err := encodedSize(evs)
		if err != nil {
			return streamInput{}, err
		}
		in.batches = append(in.batches, ToArrow(evs))
		in.encoded = append(in.encoded, n)
	}
	return in, nil
}

// countWriter counts the bytes written to it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// encodedSize is the size of the events written by parquet-go alone,
// snappy, as one file: the batch's encoded size.
func encodedSize(events []Event) (int64, error) {
	var c countWriter
	w := parquet.NewGenericWriter[Event](io.Writer(&c), parquet.Compression(&snappy.Codec{}))
	if _, err := w.Write(events); err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return c.n, nil
}

// caseStream commits the stream's batches with Upsert + Commit, one commit
// each, into a new merge-on-read table through one long-lived writer with
// the default options (what `hoodie ingest` would use), and reports the
// commit latencies, the bytes written against the batches' encoded size,
// and the peak RSS the stream added.
func caseStream(ctx context.Context, cfg CaseConfig) (CaseResult, error) {
	in, err := makeStream(cfg)
	if err != nil {
		return CaseResult{}, err
	}
	defer releaseAll(in.batches)
	dir := filepath.Join(cfg.Dir, "table")
	tbl, err := newTable(ctx, dir, table.MergeOnRead)
	if err != nil {
		return CaseResult{}, err
	}
	m := startRSS() // the writer's open counts in the peak, not in the latencies
	wo := writer.Options{IndexDir: filepath.Join(cfg.Dir, "index"), Compression: table.Snappy}
	if cfg.Case == CaseStreamParquet {
		wo.LogBlockFormat, wo.Compression = writer.LogBlockParquet, table.Zstd
	}
	w, err := writer.Open(ctx, tbl, wo)
	if err != nil {
		return CaseResult{}, err
	}
	defer w.Close()
	s := &StreamResult{Commits: cfg.StreamCommits, RowsPerCommit: cfg.StreamRows}
	var total time.Duration
	var heap []StageHeap
	for i, b := range in.batches {
		start := time.Now()
		if err := w.Upsert(b); err != nil {
			return CaseResult{}, err
		}
		res, err := w.Commit(ctx)
		if err != nil {
			return CaseResult{}, fmt.Errorf("commit %d: %w", i+1, err)
		}
		d := time.Since(start)
		total += d
		s.CommitSeconds = append(s.CommitSeconds, d.Seconds())
		s.BytesWritten += res.Stats.BytesWritten
		s.FilesWritten += res.Stats.FilesWritten
		s.LogFilesWritten += logFiles(res)
		s.EncodedBytes += in.encoded[i]
		for j, h := range commitHeap(res.Stats) {
			if j >= len(heap) {
				heap = append(heap, h)
			}
			heap[j].PeakHeapMB = max(heap[j].PeakHeapMB, h.PeakHeapMB)
		}
	}
	peak := m.added(false)
	if err := w.Close(); err != nil {
		return CaseResult{}, err
	}
	s.summarize()
	if s.TableBytes, err = dataFileBytes(dir); err != nil {
		return CaseResult{}, err
	}
	return CaseResult{Rows: int64(cfg.StreamCommits * cfg.StreamRows), Bytes: s.BytesWritten, Seconds: total.Seconds(),
		RSSBeforeMB: mb(m.before), PeakRSSAddedMB: peak, Stream: s, CommitHeap: heap,
		Note: fmt.Sprintf("%d commits of %d rows (%.0f %% updates), MOR, default writer options; %d files written, %d of them log files",
			cfg.StreamCommits, cfg.StreamRows, 100*cfg.UpdateShare, s.FilesWritten, s.LogFilesWritten)}, nil
}

// summarize fills the latency percentiles and ratios from CommitSeconds.
func (s *StreamResult) summarize() {
	c := s.CommitSeconds
	s.MedianSeconds = percentile(c, 0.5)
	s.P90Seconds = percentile(c, 0.9)
	s.P99Seconds = percentile(c, 0.99)
	k := min(10, len(c))
	s.First10Median = percentile(c[:k], 0.5)
	s.Last10Median = percentile(c[len(c)-k:], 0.5)
	if s.First10Median > 0 {
		s.LastVsFirst = s.Last10Median / s.First10Median
	}
	if s.EncodedBytes > 0 {
		s.BytesVsEncoded = float64(s.BytesWritten) / float64(s.EncodedBytes)
	}
}

// percentile is the nearest-rank percentile p (0..1) of xs; p 0.5 is the
// median (of an even count: the mean of the two middle values).
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	if p == 0.5 {
		return median(xs)
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(len(s)-1, i))]
}

// dataFileBytes sums the sizes of the table's data files (base and log
// files, outside .hoodie).
func dataFileBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".hoodie" {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".parquet") || strings.Contains(d.Name(), ".log.") {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}
