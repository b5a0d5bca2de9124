// Command race writes the same game events into a Hudi table with hoodie
// and (through bench/race/spark_race.py) with Apache Hudi 0.15 on Spark 3.5,
// and compares records/s, wall time and peak RSS. scripts/race.sh runs both
// halves and prints the comparison; see bench/README.md.
//
//	go run ./bench/race gen    --dir D            # events for Spark: D/insert.jsonl, D/upsert.jsonl
//	go run ./bench/race hoodie --dir D            # hoodie's insert and upsert phases, JSON results on stdout
//	go run ./bench/race gen    --dir D --stream-commits 100   # also D/stream_000.jsonl ... (the MOR stream)
//
// With --stream-commits N, a third phase streams N batches of --stream-rows
// events (the first all new, the others 10 % updates of earlier batches' events)
// into a new merge-on-read table, one upsert deltacommit each, through one
// long-lived writer: the stream shape of issue 14.
//
// The workload is bench's: Records events (2 % in-batch retries, 30 % of
// them late) inserted into a new table, then an upsert batch of Records
// events of which UpdateShare update inserted events (later time, new
// payload) and the rest are new. Record key uuid, ordering field time,
// partitions dt/game_id/region (hive-style), one day.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/bench"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

type config struct {
	dir         string
	records     int
	updateShare float64
	seed        uint64
	batch       int
	tableType   string
	// streamCommits and streamRows shape the stream phase (0 commits: none).
	streamCommits int
	streamRows    int
}

// Result is one timed phase; spark_race.py prints the same shape.
type Result struct {
	Engine        string  `json:"engine"`
	Phase         string  `json:"phase"`
	Records       int     `json:"records"`
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"recordsPerSec"`
	PeakRSSMB     float64 `json:"peakRssMB"`
	TableRows     int64   `json:"tableRows,omitempty"`
	// The stream phase's commit latencies.
	Commits             int     `json:"commits,omitempty"`
	MedianCommitSeconds float64 `json:"medianCommitSeconds,omitempty"`
	P99CommitSeconds    float64 `json:"p99CommitSeconds,omitempty"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: race gen|hoodie --dir DIR [--records N] [--update-share F] [--seed S] [--table-type T]")
		os.Exit(2)
	}
	var cfg config
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	fs.StringVar(&cfg.dir, "dir", "", "working directory (required)")
	fs.IntVar(&cfg.records, "records", 1_000_000, "events inserted, and the size of the upsert batch")
	fs.Float64Var(&cfg.updateShare, "update-share", 0.10, "share of the upsert batch that updates inserted events")
	fs.Uint64Var(&cfg.seed, "seed", 7, "workload seed")
	fs.IntVar(&cfg.batch, "batch", 100_000, "Arrow batch size handed to hoodie's writer")
	fs.StringVar(&cfg.tableType, "table-type", string(table.CopyOnWrite), "COPY_ON_WRITE or MERGE_ON_READ")
	fs.IntVar(&cfg.streamCommits, "stream-commits", 0, "deltacommits of the MOR stream phase (0: no stream phase)")
	fs.IntVar(&cfg.streamRows, "stream-rows", 10_000, "events per deltacommit of the stream phase")
	_ = fs.Parse(os.Args[2:])
	if cfg.dir == "" {
		fmt.Fprintln(os.Stderr, "race: --dir is required")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(cfg)
	case "hoodie":
		err = runHoodie(context.Background(), cfg)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "race:", err)
		os.Exit(1)
	}
}

// workload returns the insert events and the upsert batch.
func workload(cfg config) (ins, ups []bench.Event) {
	g := bench.NewGenerator(bench.WorkloadConfig{Seed: cfg.seed, Days: 1, DupShare: 0.02})
	ins = g.Next(cfg.records)
	nUpd := int(float64(cfg.records) * cfg.updateShare)
	ups = append(g.Updates(ins, nUpd), g.Next(cfg.records-nUpd)...)
	return ins, ups
}

// streamWorkload returns the stream phase's batches: the first all new
// events, each later one UpdateShare new versions of earlier batches'
// events and the rest new.
func streamWorkload(cfg config) [][]bench.Event {
	g := bench.NewGenerator(bench.WorkloadConfig{Seed: cfg.seed + 100, Days: 1, DupShare: 0.0001})
	var out [][]bench.Event
	var seen []bench.Event
	for i := 0; i < cfg.streamCommits; i++ {
		var evs []bench.Event
		if i > 0 {
			evs = g.Updates(seen, int(float64(cfg.streamRows)*cfg.updateShare))
		}
		evs = append(evs, g.Next(cfg.streamRows-len(evs))...)
		seen = append(seen, evs...)
		out = append(out, evs)
	}
	return out
}

func gen(cfg config) error {
	ins, ups := workload(cfg)
	files := map[string][]bench.Event{"insert.jsonl": ins, "upsert.jsonl": ups}
	for i, evs := range streamWorkload(cfg) {
		files[fmt.Sprintf("stream_%03d.jsonl", i)] = evs
	}
	for name, evs := range files {
		if err := writeJSONL(filepath.Join(cfg.dir, name), evs); err != nil {
			return err
		}
	}
	return nil
}

// writeJSONL writes the events as JSON Lines for Spark. (A parquet-go file
// of them, snappy, data pages v1 or v2, failed in Spark 3.5's reader with
// "ParquetDecodingException: Failed to read 56 bytes"; the input format is
// not part of the race, Spark reads and caches it before the timed write.)
func writeJSONL(path string, evs []bench.Event) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(bw)
	for _, e := range evs {
		if err := enc.Encode(jsonEvent{e.Schema, e.Type, e.UUID, e.Time, e.ID, e.GameID, e.Meta, e.CustomMeta, e.Dt, e.Region}); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

type jsonEvent struct {
	Schema     string `json:"schema"`
	Type       string `json:"type"`
	UUID       string `json:"uuid"`
	Time       int64  `json:"time"`
	ID         int64  `json:"id"`
	GameID     string `json:"game_id"`
	Meta       string `json:"meta"`
	CustomMeta string `json:"custom_meta"`
	Dt         string `json:"dt"`
	Region     string `json:"region"`
}

func toBatches(evs []bench.Event, size int) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	for off := 0; off < len(evs); off += size {
		out = append(out, bench.ToArrow(evs[off:min(len(evs), off+size)]))
	}
	return out
}

func runHoodie(ctx context.Context, cfg config) error {
	ins, ups := workload(cfg)
	base := filepath.Join(cfg.dir, "hoodie_table")
	if err := os.RemoveAll(base); err != nil {
		return fmt.Errorf("clean %s: %w", base, err)
	}
	st, err := storage.NewLocal(base)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	tbl, err := table.Create(ctx, st, table.CreateOptions{
		Name: "race_events", Type: table.TableType(cfg.tableType),
		RecordKeyFields: []string{"uuid"}, PrecombineField: "time",
		PartitionFields: []string{"dt", "game_id", "region"}, HiveStylePartitioning: true,
	})
	if err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: filepath.Join(cfg.dir, "hoodie_index"), Compression: table.Snappy})
	if err != nil {
		return fmt.Errorf("open writer: %w", err)
	}
	defer w.Close()
	enc := json.NewEncoder(os.Stdout)
	for _, ph := range []struct {
		name string
		evs  []bench.Event
		add  func(arrow.RecordBatch) error
	}{{"insert", ins, w.Insert}, {"upsert", ups, w.Upsert}} {
		batches := toBatches(ph.evs, cfg.batch)
		runtime.GC()
		resetPeakRSS()
		start := time.Now()
		for _, b := range batches {
			if err := ph.add(b); err != nil {
				return fmt.Errorf("%s: %w", ph.name, err)
			}
		}
		if _, err := w.Commit(ctx); err != nil {
			return fmt.Errorf("%s commit: %w", ph.name, err)
		}
		secs := time.Since(start).Seconds()
		r := Result{Engine: "hoodie", Phase: ph.name, Records: len(ph.evs), Seconds: secs,
			RecordsPerSec: float64(len(ph.evs)) / secs, PeakRSSMB: float64(peakRSS()) / (1 << 20)}
		for _, b := range batches {
			b.Release()
		}
		if ph.name == "upsert" {
			n, err := countRows(ctx, tbl)
			if err != nil {
				return err
			}
			r.TableRows = n
		}
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
	}
	if cfg.streamCommits == 0 {
		return nil
	}
	r, err := runStream(ctx, cfg)
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	return nil
}

// runStream commits the stream's batches into a new merge-on-read table,
// one Upsert + Commit each, through one writer with the default options.
func runStream(ctx context.Context, cfg config) (Result, error) {
	batches := streamWorkload(cfg)
	base := filepath.Join(cfg.dir, "hoodie_stream")
	if err := os.RemoveAll(base); err != nil {
		return Result{}, fmt.Errorf("clean %s: %w", base, err)
	}
	st, err := storage.NewLocal(base)
	if err != nil {
		return Result{}, fmt.Errorf("storage: %w", err)
	}
	tbl, err := table.Create(ctx, st, table.CreateOptions{
		Name: "race_stream", Type: table.MergeOnRead,
		RecordKeyFields: []string{"uuid"}, PrecombineField: "time",
		PartitionFields: []string{"dt", "game_id", "region"}, HiveStylePartitioning: true,
	})
	if err != nil {
		return Result{}, fmt.Errorf("create table: %w", err)
	}
	runtime.GC()
	resetPeakRSS()
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: filepath.Join(cfg.dir, "hoodie_stream_index"), Compression: table.Snappy})
	if err != nil {
		return Result{}, fmt.Errorf("open writer: %w", err)
	}
	defer w.Close()
	var total float64
	var lat []float64
	n := 0
	for i, evs := range batches {
		b := bench.ToArrow(evs)
		start := time.Now()
		err := w.Upsert(b)
		if err == nil {
			_, err = w.Commit(ctx)
		}
		d := time.Since(start).Seconds()
		b.Release()
		if err != nil {
			return Result{}, fmt.Errorf("commit %d: %w", i+1, err)
		}
		total += d
		lat = append(lat, d)
		n += len(evs)
	}
	r := Result{Engine: "hoodie", Phase: "stream", Records: n, Seconds: total, RecordsPerSec: float64(n) / total,
		PeakRSSMB: float64(peakRSS()) / (1 << 20), Commits: len(lat)}
	if err := w.Close(); err != nil {
		return Result{}, err
	}
	slices.Sort(lat)
	r.MedianCommitSeconds = lat[len(lat)/2]
	if len(lat)%2 == 0 {
		r.MedianCommitSeconds = (lat[len(lat)/2-1] + lat[len(lat)/2]) / 2
	}
	r.P99CommitSeconds = lat[max(0, int(math.Ceil(0.99*float64(len(lat))))-1)]
	if r.TableRows, err = countRows(ctx, tbl); err != nil {
		return Result{}, err
	}
	return r, nil
}

func countRows(ctx context.Context, tbl *table.Table) (int64, error) {
	s, err := reader.Plan(ctx, tbl, reader.Options{})
	if err != nil {
		return 0, fmt.Errorf("count rows: %w", err)
	}
	var n int64
	for rec, err := range s.Records(ctx) {
		if err != nil {
			return 0, fmt.Errorf("count rows: %w", err)
		}
		n += rec.NumRows()
		rec.Release()
	}
	return n, nil
}

// resetPeakRSS resets VmHWM (Linux clear_refs 5); peakRSS reads it.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
