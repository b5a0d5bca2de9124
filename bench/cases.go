package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/hoodie-lake/hoodie/index"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// The cases of a suite run (RunSuite). The first three are written by the
// peer module (bench/peers), the others by hoodie; each runs in a process
// of its own.
const (
	CaseParquet       = "parquet_go"        // parquet-go alone, snappy, one goroutine (peer)
	CaseIceberg       = "iceberg_append"    // iceberg-go v0.7 append, unpartitioned (peer)
	CaseIcebergByDate = "iceberg_append_dt" // iceberg-go v0.7 append, partitioned by dt (peer)
	CaseInsert        = "insert"            // hoodie insert, copy-on-write, dt/game_id/region
	CaseUpsertCOW     = "upsert_cow"        // hoodie upsert, 10 % updates, copy-on-write
	CaseUpsertMOR     = "upsert_mor"        // hoodie upsert, 10 % updates, merge-on-read
	CaseStream        = "stream"            // hoodie MOR stream: many small upserts, one writer
	// CaseStreamParquet is the stream with Parquet log blocks, zstd
	// (writer.LogBlockParquet): a streaming writer's byte-lean setting.
	CaseStreamParquet = "stream_parquet"
	CaseIndex         = "index" // the record-key index alone: inserts and lookups
)

// PeerCases are the cases the peer module runs; HoodieCases the ones hoodie
// runs (`hoodie bench --case NAME`).
var (
	PeerCases   = []string{CaseParquet, CaseIceberg, CaseIcebergByDate}
	HoodieCases = []string{CaseInsert, CaseUpsertCOW, CaseUpsertMOR, CaseStream, CaseStreamParquet, CaseIndex}
)

// prepareCase names the untimed build of an upsert case's table: the
// case's name with this prefix.
const prepareCase = "prepare_"

// CaseConfig configures one case run in a process of its own.
type CaseConfig struct {
	// Case is one of HoodieCases, or "prepare_upsert_cow" /
	// "prepare_upsert_mor" (build the upsert case's table in Dir, untimed).
	Case string
	// Dir is the case's working directory. The upsert cases expect the
	// table their prepare case built there.
	Dir string
	// Records is the rows of the insert batch and of the upsert batch.
	// Default 1,000,000.
	Records int
	// Batch is the Arrow batch size handed to the writer. Default 100,000.
	Batch int
	// Seed of the workload; the peers use the same.
	Seed uint64
	// UpdateShare is the share of the upsert and stream batches that
	// updates stored rows. Default 0.10.
	UpdateShare float64
	// TableRows is the size of the upsert cases' table, over Days days
	// (updates hit the most recent one). Default 3,000,000 over 3 days.
	TableRows int
	Days      int
	// StreamCommits and StreamRows shape the stream case. Default 100
	// commits of 10,000 rows.
	StreamCommits int
	StreamRows    int
	// IndexKeys is the size the index case fills the index to. Default
	// 10,000,000.
	IndexKeys int
}

func (c *CaseConfig) defaults() {
	if c.Records == 0 {
		c.Records = 1_000_000
	}
	if c.Batch == 0 {
		c.Batch = 100_000
	}
	if c.UpdateShare == 0 {
		c.UpdateShare = 0.10
	}
	if c.TableRows == 0 {
		c.TableRows = 3_000_000
	}
	if c.Days == 0 {
		c.Days = 3
	}
	if c.StreamCommits == 0 {
		c.StreamCommits = 100
	}
	if c.StreamRows == 0 {
		c.StreamRows = 10_000
	}
	if c.IndexKeys == 0 {
		c.IndexKeys = 10_000_000
	}
}

// CaseResult is one case's measurement, printed as one JSON line by the
// process that ran it (the peer module prints the same fields).
type CaseResult struct {
	Case       string  `json:"case"`
	Round      int     `json:"round"`
	Rows       int64   `json:"rows"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rowsPerSec"`
	// RSSBeforeMB is the process's resident set once its input was
	// generated; PeakRSSAddedMB is the peak above it during the timed
	// write (VmHWM, reset first, minus RSSBeforeMB).
	RSSBeforeMB    float64 `json:"rssBeforeMB"`
	PeakRSSAddedMB float64 `json:"peakRssAddedMB"`
	// Stages: peak RSS added per stage of a hoodie write (open: the table
	// and the writer; buffer: the Insert/Upsert calls; commit: Commit).
	Stages []StageRSS `json:"stages,omitempty"`
	// CommitHeap is the Go heap's peak in each stage of a commit (prepare,
	// execute, publish) as the writer reports it (writer.Stats.PeakHeap*);
	// the stream's is the largest over its commits.
	CommitHeap []StageHeap   `json:"commitHeap,omitempty"`
	Stream     *StreamResult `json:"stream,omitempty"`
	Index      *IndexResult  `json:"index,omitempty"`
	Note       string        `json:"note,omitempty"`
}

// StageRSS is the peak RSS added during one stage and its duration.
type StageRSS struct {
	Stage          string  `json:"stage"`
	Seconds        float64 `json:"seconds"`
	PeakRSSAddedMB float64 `json:"peakRssAddedMB"`
}

// StageHeap is the Go heap's peak during one stage of a commit.
type StageHeap struct {
	Stage      string  `json:"stage"`
	PeakHeapMB float64 `json:"peakHeapMB"`
}

// commitHeap is a commit's heap peaks per stage.
func commitHeap(st writer.Stats) []StageHeap {
	return []StageHeap{{"prepare", mb(st.PeakHeapPrepare)}, {"execute", mb(st.PeakHeapExecute)}, {"publish", mb(st.PeakHeapPublish)}}
}

// StreamResult is the stream case's commit latencies and bytes.
type StreamResult struct {
	Commits         int       `json:"commits"`
	RowsPerCommit   int       `json:"rowsPerCommit"`
	CommitSeconds   []float64 `json:"commitSeconds"`
	MedianSeconds   float64   `json:"medianSeconds"`
	P90Seconds      float64   `json:"p90Seconds"`
	P99Seconds      float64   `json:"p99Seconds"`
	First10Median   float64   `json:"first10MedianSeconds"`
	Last10Median    float64   `json:"last10MedianSeconds"`
	LastVsFirst     float64   `json:"last10VsFirst10"`
	BytesWritten    int64     `json:"bytesWritten"`
	EncodedBytes    int64     `json:"encodedBytes"` // the batches written by parquet-go, snappy, one file each
	BytesVsEncoded  float64   `json:"bytesVsEncoded"`
	LogFilesWritten int       `json:"logFilesWritten"`
	FilesWritten    int       `json:"filesWritten"`
	TableBytes      int64     `json:"tableBytes"` // data files in the table at the end
}

// IndexResult is the index case's throughput.
type IndexResult struct {
	Keys                int64   `json:"keys"`
	InsertsPerSec       float64 `json:"insertsPerSec"`
	Lookups             int64   `json:"lookups"`
	LookupsPerSec       float64 `json:"lookupsPerSec"`       // 10 % hits: the upsert shape
	LookupsAllHitPerSec float64 `json:"lookupsAllHitPerSec"` // every key stored
}

// RunCase runs one case in this process and returns its measurement. The
// input (events, Arrow batches, the upsert cases' table) is made before the
// timed write and its memory counts in RSSBeforeMB, not in the added peak.
func RunCase(ctx context.Context, cfg CaseConfig) (CaseResult, error) {
	cfg.defaults()
	if cfg.Dir == "" {
		return CaseResult{}, fmt.Errorf("bench: case %s: Dir is required", cfg.Case)
	}
	var r CaseResult
	var err error
	switch cfg.Case {
	case CaseInsert:
		r, err = caseInsert(ctx, cfg)
	case CaseUpsertCOW, CaseUpsertMOR:
		r, err = caseUpsert(ctx, cfg)
	case prepareCase + CaseUpsertCOW, prepareCase + CaseUpsertMOR:
		err = prepareUpsert(ctx, cfg)
	case CaseStream, CaseStreamParquet:
		r, err = caseStream(ctx, cfg)
	case CaseIndex:
		r, err = caseIndex(ctx, cfg)
	default:
		return CaseResult{}, fmt.Errorf("bench: unknown case %q (want one of %v)", cfg.Case, HoodieCases)
	}
	if err != nil {
		return CaseResult{}, fmt.Errorf("bench: case %s: %w", cfg.Case, err)
	}
	r.Case = cfg.Case
	if r.Seconds > 0 {
		r.RowsPerSec = float64(r.Rows) / r.Seconds
	}
	return r, nil
}

// rssMeter measures the RSS a write adds above a baseline taken after GC.
type rssMeter struct{ before int64 }

func startRSS() rssMeter {
	runtime.GC()
	debug.FreeOSMemory()
	m := rssMeter{before: procStatus("VmRSS")}
	resetPeakRSS()
	return m
}

// added is the peak RSS since the last reset above the baseline, in MB;
// reset starts a new stage.
func (m rssMeter) added(reset bool) float64 {
	p := procStatus("VmHWM") - m.before
	if reset {
		resetPeakRSS()
	}
	return mb(max(0, p))
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// caseInsert times Insert + Commit of the insert batch into a new
// copy-on-write table with the default writer options, creating the table
// and opening the writer included (as iceberg-go's case creates its table).
func caseInsert(ctx context.Context, cfg CaseConfig) (CaseResult, error) {
	events := NewGenerator(WorkloadConfig{Seed: cfg.Seed, Days: 1, DupShare: 0.02}).Next(cfg.Records)
	batches := toBatches(events, cfg.Batch)
	events = nil
	defer releaseAll(batches)
	r, res, err := timeWrite(ctx, batches, writer.OpInsert, func() (*writer.Writer, error) {
		tbl, err := newTable(ctx, filepath.Join(cfg.Dir, "table"), table.CopyOnWrite)
		if err != nil {
			return nil, err
		}
		return writer.Open(ctx, tbl, writer.Options{IndexDir: filepath.Join(cfg.Dir, "index"), Compression: table.Snappy})
	})
	if err != nil {
		return CaseResult{}, err
	}
	r.Rows = int64(cfg.Records)
	r.Note = fmt.Sprintf("%d rows written, %d files, %d in-batch duplicates combined", res.Stats.Writes, res.Stats.FilesWritten, res.Stats.Duplicates)
	return r, nil
}

// timeWrite opens a writer with open, buffers the batches (Insert or
// Upsert) and commits, measuring the open, buffer and commit stages' time
// and peak RSS; it closes the writer afterwards, untimed.
func timeWrite(ctx context.Context, batches []arrowBatch, op writer.Operation, open func() (*writer.Writer, error)) (CaseResult, *writer.CommitResult, error) {
	m := startRSS()
	start := time.Now()
	w, err := open()
	if err != nil {
		return CaseResult{}, nil, err
	}
	defer w.Close()
	opened := time.Now()
	openPeak := m.added(true)
	for _, b := range batches {
		add := w.Insert
		if op == writer.OpUpsert {
			add = w.Upsert
		}
		if err := add(b); err != nil {
			return CaseResult{}, nil, err
		}
	}
	buffered := time.Now()
	bufPeak := m.added(true)
	res, err := w.Commit(ctx)
	if err != nil {
		return CaseResult{}, nil, err
	}
	end := time.Now()
	commitPeak := m.added(false)
	if err := w.Close(); err != nil {
		return CaseResult{}, nil, err
	}
	return CaseResult{
		Bytes: res.Stats.BytesWritten, Seconds: end.Sub(start).Seconds(), RSSBeforeMB: mb(m.before), CommitHeap: commitHeap(res.Stats),
		PeakRSSAddedMB: max(openPeak, bufPeak, commitPeak),
		Stages: []StageRSS{
			{Stage: "open", Seconds: opened.Sub(start).Seconds(), PeakRSSAddedMB: openPeak},
			{Stage: "buffer", Seconds: buffered.Sub(opened).Seconds(), PeakRSSAddedMB: bufPeak},
			{Stage: "commit", Seconds: end.Sub(buffered).Seconds(), PeakRSSAddedMB: commitPeak},
		},
	}, res, nil
}

func releaseAll(bs []arrowBatch) {
	for _, b := range bs {
		b.Release()
	}
}

// upsertType is the table type of an upsert case (or its prepare case).
func upsertType(name string) table.TableType {
	if name == CaseUpsertMOR || name == prepareCase+CaseUpsertMOR {
		return table.MergeOnRead
	}
	return table.CopyOnWrite
}

// dayGenerator is the generator of the upsert table's day d: one per day,
// so the upsert case regenerates only the most recent day.
func dayGenerator(cfg CaseConfig, d int) *Generator {
	base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	return NewGenerator(WorkloadConfig{Seed: cfg.Seed + 1 + uint64(d), Days: 1, DupShare: 0.0001,
		Start: base.Add(time.Duration(d) * 24 * time.Hour)})
}

// prepareUpsert builds the upsert case's table in cfg.Dir: TableRows rows
// over Days days, one bulk insert commit per day (untimed).
func prepareUpsert(ctx context.Context, cfg CaseConfig) error {
	typ := upsertType(cfg.Case)
	tbl, err := newTable(ctx, filepath.Join(cfg.Dir, "table"), typ)
	if err != nil {
		return err
	}
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: filepath.Join(cfg.Dir, "index"), Compression: table.Snappy})
	if err != nil {
		return err
	}
	defer w.Close()
	perDay := cfg.TableRows / cfg.Days
	for d := 0; d < cfg.Days; d++ {
		evs := dayGenerator(cfg, d).Next(perDay)
		for off := 0; off < len(evs); off += cfg.Batch {
			b := ToArrow(evs[off:min(len(evs), off+cfg.Batch)])
			err := w.BulkInsert(b)
			b.Release()
			if err != nil {
				return err
			}
		}
		if _, err := w.Commit(ctx); err != nil {
			return err
		}
	}
	return w.Close()
}

// caseUpsert times opening the writer, Upsert and Commit of Records rows, UpdateShare of them
// new versions of rows of the table's most recent day, the rest new rows
// of that day, into the table prepareUpsert built in cfg.Dir, with the
// default writer options.
func caseUpsert(ctx context.Context, cfg CaseConfig) (CaseResult, error) {
	last := cfg.Days - 1
	gen := dayGenerator(cfg, last)
	recent := gen.Next(cfg.TableRows / cfg.Days)
	updates := int(float64(cfg.Records) * cfg.UpdateShare)
	batch := gen.Updates(recent, updates)
	batch = append(batch, gen.Next(cfg.Records-updates)...)
	recent = nil
	batches := toBatches(batch, cfg.Batch)
	batch = nil
	defer releaseAll(batches)

	r, res, err := timeWrite(ctx, batches, writer.OpUpsert, func() (*writer.Writer, error) {
		st, err := storage.NewLocal(filepath.Join(cfg.Dir, "table"))
		if err != nil {
			return nil, err
		}
		tbl, err := table.Open(ctx, st)
		if err != nil {
			return nil, err
		}
		return writer.Open(ctx, tbl, writer.Options{IndexDir: filepath.Join(cfg.Dir, "index"), Compression: table.Snappy})
	})
	if err != nil {
		return CaseResult{}, err
	}
	r.Rows = int64(cfg.Records)
	r.Note = fmt.Sprintf("table %d rows over %d days; %d updates, %d inserts; %d files written (%d log files); index hits %d",
		cfg.TableRows, cfg.Days, res.Stats.Updates, res.Stats.Inserts, res.Stats.FilesWritten, logFiles(res), res.Stats.IndexHits)
	return r, nil
}

// caseIndex fills an index to IndexKeys keys with Puts of 100,000 entries
// (one instant each, as commits do) and times them, then times batched
// lookups (100,000 keys per call) of Records keys in the upsert shape (10 %
// stored) and of as many stored keys.
func caseIndex(ctx context.Context, cfg CaseConfig) (CaseResult, error) {
	const batch = 100_000
	x, err := index.Open(index.Options{Dir: filepath.Join(cfg.Dir, "index")})
	if err != nil {
		return CaseResult{}, err
	}
	defer x.Close()
	m := startRSS()
	var putTime time.Duration
	entries := make([]index.Entry, 0, batch)
	for off, n := 0, 0; off < cfg.IndexKeys; off += batch {
		instant := fmt.Sprintf("2026110100%02d%02d%03d", n/60%60, n%60, n/3600)
		n++
		entries = entries[:0]
		for i := off; i < min(cfg.IndexKeys, off+batch); i++ {
			entries = append(entries, indexEntry(i, instant))
		}
		start := time.Now()
		if err := x.Put(ctx, instant, entries); err != nil {
			return CaseResult{}, err
		}
		putTime += time.Since(start)
	}
	lookups := min(cfg.Records, cfg.IndexKeys)
	mixed, err := timeLookups(ctx, x, lookups, func(i int) int {
		if i%10 == 0 {
			return (i * 7919) % cfg.IndexKeys // stored
		}
		return cfg.IndexKeys + i // never stored
	})
	if err != nil {
		return CaseResult{}, err
	}
	hits, err := timeLookups(ctx, x, lookups, func(i int) int { return (i * 7919) % cfg.IndexKeys })
	if err != nil {
		return CaseResult{}, err
	}
	ir := &IndexResult{Keys: int64(cfg.IndexKeys), InsertsPerSec: float64(cfg.IndexKeys) / putTime.Seconds(),
		Lookups: int64(lookups), LookupsPerSec: float64(lookups) / mixed.Seconds(), LookupsAllHitPerSec: float64(lookups) / hits.Seconds()}
	return CaseResult{Rows: int64(cfg.IndexKeys), Seconds: putTime.Seconds(), RSSBeforeMB: mb(m.before), PeakRSSAddedMB: m.added(false), Index: ir,
		Note: fmt.Sprintf("%d keys put in batches of %d; lookups of %d keys, batches of %d", cfg.IndexKeys, batch, lookups, batch)}, nil
}

// timeLookups looks up n keys (key(i) is the i-th key's number) in
// batches of 100,000 and returns the time the lookups took.
func timeLookups(ctx context.Context, x *index.Index, n int, key func(int) int) (time.Duration, error) {
	const batch = 100_000
	keys := make([]index.Key, 0, batch)
	var d time.Duration
	for off := 0; off < n; off += batch {
		keys = keys[:0]
		for i := off; i < min(n, off+batch); i++ {
			keys = append(keys, indexEntry(key(i), "").Key)
		}
		start := time.Now()
		if _, _, err := x.Lookup(ctx, keys, index.LookupOptions{}); err != nil {
			return 0, err
		}
		d += time.Since(start)
	}
	return d, nil
}

// indexEntry is the i-th key of a 12-partition table (dt/game_id/region,
// as the events) with a UUID-like record key, in a file group of 50,000
// consecutive keys.
func indexEntry(i int, instant string) index.Entry {
	h := uint64(i) * 0x9E3779B97F4A7C15
	part := fmt.Sprintf("dt=2026-11-01/game_id=game-%03d/region=%s", i%4, regions[i/4%3])
	g := i / 50_000
	return index.Entry{
		Key:      index.Key{PartitionPath: part, RecordKey: fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(h>>32), uint16(h>>16), uint16(h)&0xfff, i&0xfff, i)},
		Location: index.Location{PartitionPath: part, FileID: fmt.Sprintf("%08x-0000-0000-0000-%012d-0", g, g), Instant: instant},
	}
}

// procStatus reads a kB field of /proc/self/status in bytes (0 if unknown).
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return statusField(string(b), field)
}
