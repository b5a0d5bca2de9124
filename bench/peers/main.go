// Command peers writes the bench's game events with other Go writers, the
// peers `hoodie bench` compares hoodie against in the same run: parquet-go
// alone (GenericWriter, snappy, one goroutine, one file per
// dt/game_id/region partition) and iceberg-go appending to a table of a
// Hadoop-style catalog on the local filesystem (snappy), unpartitioned and
// partitioned by dt (identity). It is a module of its own so that the
// library does not depend on iceberg-go.
//
// It runs one case and prints one JSON line: rows, seconds, rows/s, bytes
// written and the peak RSS the write added (VmHWM after the write minus
// VmRSS before it, the high-water mark reset first).
//
//	peers --case iceberg_append --records 1000000 --dir /tmp/x
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/hadoop"
	"github.com/apache/iceberg-go/table"
	"github.com/hoodie-lake/hoodie/bench/workload"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
)

// Cases this program runs.
const (
	CaseParquet       = "parquet_go"
	CaseIceberg       = "iceberg_append"
	CaseIcebergByDate = "iceberg_append_dt"
)

// Result is the JSON line printed for a case; its fields match the ones
// `hoodie bench` reads for its own cases.
type Result struct {
	Case           string  `json:"case"`
	Rows           int64   `json:"rows"`
	Bytes          int64   `json:"bytes"`
	Seconds        float64 `json:"seconds"`
	RowsPerSec     float64 `json:"rowsPerSec"`
	RSSBeforeMB    float64 `json:"rssBeforeMB"`
	PeakRSSAddedMB float64 `json:"peakRssAddedMB"`
	Note           string  `json:"note,omitempty"`
}

func main() {
	var c config
	flag.StringVar(&c.name, "case", "", "case: "+strings.Join([]string{CaseParquet, CaseIceberg, CaseIcebergByDate}, ", "))
	flag.IntVar(&c.records, "records", 1_000_000, "events to write")
	flag.IntVar(&c.batch, "batch", 100_000, "Arrow batch size (iceberg-go)")
	flag.Uint64Var(&c.seed, "seed", 0, "workload seed (the same as hoodie bench's)")
	flag.StringVar(&c.dir, "dir", "", "working directory (required; the case writes below it)")
	flag.Parse()
	res, err := run(context.Background(), c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

type config struct {
	name, dir      string
	records, batch int
	seed           uint64
}

// run generates the events (untimed) and times the case's write.
func run(ctx context.Context, c config) (Result, error) {
	if c.dir == "" {
		return Result{}, errors.New("--dir is required")
	}
	if c.records <= 0 || c.batch <= 0 {
		return Result{}, errors.New("--records and --batch must be positive")
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return Result{}, err
	}
	// The same events as hoodie bench's insert case: same generator, seed
	// and shape.
	events := workload.NewGenerator(workload.Config{Seed: c.seed, Days: 1, DupShare: 0.02}).Next(c.records)
	var write func() (int64, error)
	switch c.name {
	case CaseParquet:
		write = func() (int64, error) { return writeParquet(filepath.Join(c.dir, "parquet"), events) }
	case CaseIceberg, CaseIcebergByDate:
		var batches []arrow.RecordBatch
		for off := 0; off < len(events); off += c.batch {
			batches = append(batches, workload.ToArrow(events[off:min(len(events), off+c.batch)]))
		}
		events = nil
		write = func() (int64, error) { return appendIceberg(ctx, c.dir, batches, c.name == CaseIcebergByDate) }
	default:
		return Result{}, fmt.Errorf("unknown case %q", c.name)
	}
	runtime.GC()
	debug.FreeOSMemory()
	before := procStatus("VmRSS")
	resetPeakRSS()
	start := time.Now()
	bytes, err := write()
	secs := time.Since(start).Seconds()
	peak := procStatus("VmHWM")
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", c.name, err)
	}
	r := Result{Case: c.name, Rows: int64(c.records), Bytes: bytes, Seconds: secs, RSSBeforeMB: mb(before), PeakRSSAddedMB: mb(max(0, peak-before))}
	if secs > 0 {
		r.RowsPerSec = float64(r.Rows) / secs
	}
	return r, nil
}

// writeParquet writes the events with parquet-go alone, snappy, one file
// per dt/game_id/region partition, one goroutine: the floor. Rows are
// grouped by index and handed to each file's writer in slices of a small
// reused buffer, so the write adds little beyond the encoders' buffers.
func writeParquet(dir string, events []workload.Event) (int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	byPart := map[string][]int32{}
	for i, e := range events {
		p := e.Dt + "/" + e.GameID + "/" + e.Region
		byPart[p] = append(byPart[p], int32(i))
	}
	parts := make([]string, 0, len(byPart))
	for p := range byPart {
		parts = append(parts, p)
	}
	sort.Strings(parts)
	buf := make([]workload.Event, 0, 4096)
	var bytes int64
	for i, p := range parts {
		n, err := writeParquetFile(filepath.Join(dir, strconv.Itoa(i)+".parquet"), events, byPart[p], buf)
		if err != nil {
			return 0, err
		}
		bytes += n
	}
	return bytes, nil
}

// writeParquetFile writes events[rows] to one file at path.
func writeParquetFile(path string, events []workload.Event, rows []int32, buf []workload.Event) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := parquet.NewGenericWriter[workload.Event](f, parquet.Compression(&snappy.Codec{}))
	for off := 0; off < len(rows); off += cap(buf) {
		buf = buf[:0]
		for _, r := range rows[off:min(len(rows), off+cap(buf))] {
			buf = append(buf, events[r])
		}
		if _, err := w.Write(buf); err != nil {
			f.Close()
			return 0, err
		}
	}
	if err := w.Close(); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// appendIceberg creates a table in a Hadoop catalog (a warehouse directory
// on the local filesystem, no service) and appends the batches as one
// snapshot; byDate partitions it by dt (identity). It returns the bytes of
// the data files written.
func appendIceberg(ctx context.Context, dir string, batches []arrow.RecordBatch, byDate bool) (int64, error) {
	warehouse := filepath.Join(dir, "warehouse")
	cat, err := hadoop.NewCatalog("bench", warehouse, iceberg.Properties{})
	if err != nil {
		return 0, err
	}
	defer cat.Close()
	if err := cat.CreateNamespace(ctx, table.Identifier{"bench"}, nil); err != nil {
		return 0, err
	}
	sc, err := table.ArrowSchemaToIcebergWithFreshIDs(workload.EventSchema, false)
	if err != nil {
		return 0, err
	}
	opts := []catalog.CreateTableOpt{catalog.WithProperties(iceberg.Properties{table.ParquetCompressionKey: "snappy"})}
	if byDate {
		spec, err := iceberg.NewPartitionSpecOpts(iceberg.AddPartitionFieldByName("dt", "dt", iceberg.IdentityTransform{}, sc, nil))
		if err != nil {
			return 0, err
		}
		opts = append(opts, catalog.WithPartitionSpec(&spec))
	}
	tbl, err := cat.CreateTable(ctx, table.Identifier{"bench", "game_events"}, sc, opts...)
	if err != nil {
		return 0, err
	}
	rdr, err := array.NewRecordReader(workload.EventSchema, batches)
	if err != nil {
		return 0, err
	}
	defer rdr.Release()
	if _, err := tbl.Append(ctx, rdr, nil); err != nil {
		return 0, err
	}
	return dataBytes(warehouse)
}

// dataBytes sums the sizes of the Parquet files under dir.
func dataBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	return n, err
}

// resetPeakRSS resets the process's VmHWM (Linux clear_refs 5).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// procStatus reads a kB field of /proc/self/status in bytes (0 if unknown).
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }
