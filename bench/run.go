package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hoodie-lake/hoodie/index"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
)

// Config of a benchmark run.
type Config struct {
	// Dir is the working directory (tables and the raw files go below it).
	// Default: a new temporary directory, removed afterwards.
	Dir string
	// Records is the number of events written by the raw, bulk insert and
	// insert phases, and the size of the upsert batch. Default 1,000,000.
	Records int
	// TableRows is the size of the existing table the upsert phase writes
	// into. Default 10,000,000.
	TableRows int
	// UpdateShare is the share of the upsert batch that updates stored
	// events (the rest are new). Default 0.10.
	UpdateShare float64
	// Days is how many days (dt partitions) the existing table spans;
	// updates hit the most recent day, as late and corrected events do in
	// event pipelines. Default 30.
	Days int
	// Batch is the Arrow batch size handed to the writer. Default 100,000.
	Batch int
	// Seed of the workload.
	Seed uint64
	// TableType of the tables the bulk_insert, insert and upsert phases
	// write: table.CopyOnWrite (default) or table.MergeOnRead. Merge-on-read
	// writers run with small-file packing off (SmallFileLimit -1), so the
	// upsert's updates become Avro log blocks and its inserts new file
	// groups, as a streaming MOR writer's do. A phase name may pin its type
	// with a suffix: "upsert_cow", "upsert_mor" (both in one run compare
	// the two against the same raw write).
	TableType table.TableType
	// Phases to run: raw, bulk_insert, insert, upsert, compact (merge-on-read
	// only: compactor.Run with Force over the table of the run's last
	// merge-on-read upsert). Default raw, bulk_insert, insert, upsert, and
	// compact when TableType is merge-on-read.
	Phases []string
}

func (c *Config) defaults() {
	if c.Records == 0 {
		c.Records = 1_000_000
	}
	if c.TableRows == 0 {
		c.TableRows = 10_000_000
	}
	if c.UpdateShare == 0 {
		c.UpdateShare = 0.10
	}
	if c.Days == 0 {
		c.Days = 30
	}
	if c.Batch == 0 {
		c.Batch = 100_000
	}
	if c.TableType == "" {
		c.TableType = table.CopyOnWrite
	}
	if len(c.Phases) == 0 {
		c.Phases = []string{"raw", "bulk_insert", "insert", "upsert"}
		if c.TableType == table.MergeOnRead {
			c.Phases = append(c.Phases, "compact")
		}
	}
}

// phaseType splits a phase name into the phase and its table type: a
// "_cow" or "_mor" suffix pins the type, otherwise it is def.
func phaseType(phase string, def table.TableType) (string, table.TableType) {
	if p, ok := strings.CutSuffix(phase, "_mor"); ok {
		return p, table.MergeOnRead
	}
	if p, ok := strings.CutSuffix(phase, "_cow"); ok {
		return p, table.CopyOnWrite
	}
	return phase, def
}

// typeName is the short name of a table type: cow or mor.
func typeName(t table.TableType) string {
	if t == table.MergeOnRead {
		return "mor"
	}
	return "cow"
}

// Result is one measured phase.
type Result struct {
	Phase         string  `json:"phase"`
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"recordsPerSec"`
	MBPerSec      float64 `json:"mbPerSec"`
	PeakRSSMB     float64 `json:"peakRssMB"`
	VsRaw         float64 `json:"vsRaw"` // records/s as a share of the raw write's
	// TableType is cow or mor for the phases that write a table.
	TableType string `json:"tableType,omitempty"`
	// MergedPerSec (compact): log records merged per second.
	MergedPerSec float64 `json:"mergedPerSec,omitempty"`
	Note         string  `json:"note,omitempty"`
}

// Run runs the phases and returns their results; progress lines go to log.
func Run(ctx context.Context, cfg Config, log io.Writer) ([]Result, error) {
	cfg.defaults()
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "hoodie-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	gen := NewGenerator(WorkloadConfig{Seed: cfg.Seed, Days: 1, DupShare: 0.02})
	fmt.Fprintf(log, "bench: generating %d events\n", cfg.Records)
	events := gen.Next(cfg.Records)
	batches := toBatches(events, cfg.Batch)
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()

	var results, extra []Result
	var raw *Result
	var lastMOR *table.Table // the table of the last merge-on-read upsert, for compact
	for _, phase := range cfg.Phases {
		runtime.GC()
		resetPeakRSS()
		var r Result
		var err error
		name, typ := phaseType(phase, cfg.TableType)
		pdir := filepath.Join(dir, phase)
		switch name {
		case "raw":
			r, err = runRaw(filepath.Join(dir, "raw"), events)
		case "bulk_insert", "insert":
			r, err = runInsert(ctx, pdir, name, typ, batches)
			r.TableType = typeName(typ)
		case "upsert":
			var lookup Result
			var tbl *table.Table
			r, lookup, tbl, err = runUpsert(ctx, pdir, typ, cfg, log)
			r.TableType = typeName(typ)
			if err == nil {
				if typ == table.MergeOnRead {
					lastMOR = tbl
				}
				if phase != name {
					lookup.Phase += "_" + typeName(typ)
				}
				fmt.Fprintf(log, "bench: %-12s %10d keys    %8.2fs %10.0f keys/s (%s)\n", lookup.Phase, lookup.Records, lookup.Seconds, lookup.RecordsPerSec, lookup.Note)
				extra = append(extra, lookup)
			}
		case "compact":
			if lastMOR == nil {
				return results, fmt.Errorf("bench: phase compact needs a merge-on-read upsert before it (--type mor, or phase upsert_mor)")
			}
			r, err = runCompact(ctx, lastMOR)
			r.TableType = "mor"
		default:
			return nil, fmt.Errorf("bench: unknown phase %q", phase)
		}
		if err != nil {
			return results, fmt.Errorf("bench: %s: %w", phase, err)
		}
		r.Phase = phase
		r.PeakRSSMB = float64(peakRSS()) / (1 << 20)
		if r.Seconds > 0 {
			r.RecordsPerSec = float64(r.Records) / r.Seconds
			r.MBPerSec = float64(r.Bytes) / (1 << 20) / r.Seconds
		}
		if phase == "raw" {
			rr := r
			raw = &rr
		}
		if raw != nil && raw.RecordsPerSec > 0 {
			r.VsRaw = r.RecordsPerSec / raw.RecordsPerSec
		}
		fmt.Fprintf(log, "bench: %-12s %-3s %10d records %8.2fs %10.0f rec/s %7.1f MB/s peak RSS %6.0f MB  %.2fx raw\n",
			phase, r.TableType, r.Records, r.Seconds, r.RecordsPerSec, r.MBPerSec, r.PeakRSSMB, r.VsRaw)
		if r.Note != "" {
			fmt.Fprintf(log, "bench:   %s\n", r.Note)
		}
		results = append(results, r)
	}
	return append(results, extra...), nil
}

// runRaw writes the events with parquet-go alone (snappy, one file per
// partition, like the table would be laid out): the floor.
func runRaw(dir string, events []Event) (Result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Result{}, err
	}
	start := time.Now()
	byPart := map[string][]Event{}
	for _, e := range events {
		p := e.Dt + "/" + e.GameID + "/" + e.Region
		byPart[p] = append(byPart[p], e)
	}
	parts := make([]string, 0, len(byPart))
	for p := range byPart {
		parts = append(parts, p)
	}
	sort.Strings(parts)
	var bytes int64
	for i, p := range parts {
		f, err := os.Create(filepath.Join(dir, strconv.Itoa(i)+".parquet"))
		if err != nil {
			return Result{}, err
		}
		w := parquet.NewGenericWriter[Event](f, parquet.Compression(&snappy.Codec{}))
		if _, err := w.Write(byPart[p]); err != nil {
			f.Close()
			return Result{}, err
		}
		if err := w.Close(); err != nil {
			f.Close()
			return Result{}, err
		}
		if err := f.Close(); err != nil {
			return Result{}, err
		}
		if st, err := os.Stat(f.Name()); err == nil {
			bytes += st.Size()
		}
	}
	return Result{Records: int64(len(events)), Bytes: bytes, Seconds: time.Since(start).Seconds()}, nil
}

// newTable creates a game-event table of type typ at dir.
func newTable(ctx context.Context, dir string, typ table.TableType) (*table.Table, error) {
	st, err := storage.NewLocal(dir)
	if err != nil {
		return nil, err
	}
	return createTable(ctx, st, typ)
}

// createTable creates a game-event table of type typ in st.
func createTable(ctx context.Context, st storage.Storage, typ table.TableType) (*table.Table, error) {
	return table.Create(ctx, st, table.CreateOptions{
		Name: "game_events", Type: typ, RecordKeyFields: []string{"uuid"}, PrecombineField: "time",
		PartitionFields: []string{"dt", "game_id", "region"}, HiveStylePartitioning: true,
	})
}

// writerOptions are the benchmarks' writer options for a table of type
// typ: snappy; merge-on-read without small-file packing, so updates go to
// log files and inserts to new file groups.
func writerOptions(indexDir string, typ table.TableType) writer.Options {
	o := writer.Options{IndexDir: indexDir, Compression: table.Snappy}
	if typ == table.MergeOnRead {
		o.SmallFileLimit = -1
	}
	return o
}

func runInsert(ctx context.Context, dir, phase string, typ table.TableType, batches []arrowBatch) (Result, error) {
	tbl, err := newTable(ctx, filepath.Join(dir, "table"), typ)
	if err != nil {
		return Result{}, err
	}
	w, err := writer.Open(ctx, tbl, writerOptions(filepath.Join(dir, "index"), typ))
	if err != nil {
		return Result{}, err
	}
	defer w.Close()
	start := time.Now()
	for _, b := range batches {
		if phase == "bulk_insert" {
			err = w.BulkInsert(b)
		} else {
			err = w.Insert(b)
		}
		if err != nil {
			return Result{}, err
		}
	}
	res, err := w.Commit(ctx)
	if err != nil {
		return Result{}, err
	}
	return Result{Records: res.Stats.Writes, Bytes: res.Stats.BytesWritten, Seconds: time.Since(start).Seconds(),
		Note: fmt.Sprintf("%d files, %d in-batch duplicates combined", res.Stats.FilesWritten, res.Stats.Duplicates)}, nil
}

// runUpsert builds a table of type typ of cfg.TableRows events over
// cfg.Days days (not timed), then times one upsert of cfg.Records events of
// which cfg.UpdateShare update events of the most recent day. It returns
// the upsert's result, the index lookups' and the table.
func runUpsert(ctx context.Context, dir string, typ table.TableType, cfg Config, log io.Writer) (Result, Result, *table.Table, error) {
	tbl, err := newTable(ctx, filepath.Join(dir, "table"), typ)
	if err != nil {
		return Result{}, Result{}, nil, err
	}
	opts := writerOptions(filepath.Join(dir, "index"), typ)
	w, err := writer.Open(ctx, tbl, opts)
	if err != nil {
		return Result{}, Result{}, nil, err
	}
	defer w.Close()
	gen := NewGenerator(WorkloadConfig{Seed: cfg.Seed + 1, Days: 1, DupShare: 0.0001})
	perDay := cfg.TableRows / cfg.Days
	var recent []Event
	base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for d := 0; d < cfg.Days; d++ {
		gen.SetStart(base.Add(time.Duration(d) * 24 * time.Hour))
		evs := gen.Next(perDay)
		for off := 0; off < len(evs); off += cfg.Batch {
			b := ToArrow(evs[off:min(len(evs), off+cfg.Batch)])
			err := w.BulkInsert(b)
			b.Release()
			if err != nil {
				return Result{}, Result{}, nil, err
			}
		}
		if _, err := w.Commit(ctx); err != nil {
			return Result{}, Result{}, nil, err
		}
		if d == cfg.Days-1 {
			recent = evs
		}
		fmt.Fprintf(log, "bench: upsert setup: day %d/%d loaded (%d rows)\n", d+1, cfg.Days, (d+1)*perDay)
	}
	updates := int(float64(cfg.Records) * cfg.UpdateShare)
	batch := gen.Updates(recent, updates)
	gen.SetStart(base.Add(time.Duration(cfg.Days-1) * 24 * time.Hour))
	batch = append(batch, gen.Next(cfg.Records-updates)...)
	arrowBatches := toBatches(batch, cfg.Batch)
	defer func() {
		for _, b := range arrowBatches {
			b.Release()
		}
	}()
	runtime.GC()
	resetPeakRSS()
	start := time.Now()
	for _, b := range arrowBatches {
		if err := w.Upsert(b); err != nil {
			return Result{}, Result{}, nil, err
		}
	}
	res, err := w.Commit(ctx)
	if err != nil {
		return Result{}, Result{}, nil, err
	}
	up := Result{Records: int64(len(batch)), Bytes: res.Stats.BytesWritten, Seconds: time.Since(start).Seconds(),
		Note: fmt.Sprintf("table %d rows over %d days; %d updates, %d inserts; %d files rewritten or written; index hits %d",
			cfg.TableRows, cfg.Days, res.Stats.Updates, res.Stats.Inserts, res.Stats.FilesWritten, res.Stats.IndexHits)}
	if typ == table.MergeOnRead {
		up.Note = fmt.Sprintf("table %d rows over %d days; %d updates (log blocks), %d inserts; %d files written (%d log files); index hits %d",
			cfg.TableRows, cfg.Days, res.Stats.Updates, res.Stats.Inserts, res.Stats.FilesWritten, logFiles(res), res.Stats.IndexHits)
	}
	if err := w.Close(); err != nil {
		return Result{}, Result{}, nil, err
	}

	// Index lookups on their own: the upsert batch's keys (10 % stored,
	// 90 % new) against the index of the whole table.
	idx, err := index.Open(index.Options{Dir: opts.IndexDir})
	if err != nil {
		return Result{}, Result{}, nil, err
	}
	defer idx.Close()
	keys := make([]index.Key, len(batch))
	for i, e := range batch {
		keys[i] = index.Key{PartitionPath: "dt=" + e.Dt + "/game_id=" + e.GameID + "/region=" + e.Region, RecordKey: e.UUID}
	}
	lstart := time.Now()
	hits := 0
	for off := 0; off < len(keys); off += cfg.Batch {
		_, found, err := idx.Lookup(ctx, keys[off:min(len(keys), off+cfg.Batch)], index.LookupOptions{})
		if err != nil {
			return Result{}, Result{}, nil, err
		}
		for _, f := range found {
			if f {
				hits++
			}
		}
	}
	secs := time.Since(lstart).Seconds()
	lookup := Result{Phase: "index_lookup", Records: int64(len(keys)), Seconds: secs, RecordsPerSec: float64(len(keys)) / secs,
		Note: fmt.Sprintf("%d of %d keys found, index of %d entries", hits, len(keys), int64(cfg.TableRows)+res.Stats.Inserts)}
	return up, lookup, tbl, nil
}

// resetPeakRSS resets the process's peak resident set size (Linux:
// clear_refs 5), so each phase reports its own peak.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns VmHWM in bytes, or 0 when unknown.
func peakRSS() int64 { return procStatus("VmHWM") }

// statusField returns a kB field of a /proc/PID/status text in bytes, or 0.
func statusField(status, field string) int64 {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
