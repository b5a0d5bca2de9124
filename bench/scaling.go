package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// ScalingConfig configures RunScaling: the same small upsert committed
// into tables that differ only in how many partitions they have.
type ScalingConfig struct {
	// Dir is the working directory. Default: a new temporary directory,
	// removed afterwards.
	Dir string
	// Partitions are the table sizes compared, in partitions
	// (dt/game_id/region). Default 10 and 7,000.
	Partitions []int
	// RowsPerPartition is the rows of each partition (one base file each)
	// when the table is built. Default 200.
	RowsPerPartition int
	// Records is the size of each upsert. Default 10,000.
	Records int
	// UpdateShare is the share of each upsert that updates stored rows of
	// the touched partitions; the rest are new rows in them. Default 0.10.
	UpdateShare float64
	// Touched is how many partitions each upsert touches (the same ones in
	// every table). Default 5.
	Touched int
	// Commits is how many upserts are timed per table (their median is
	// compared). Default 5.
	Commits int
	// TableTypes to measure. Default copy-on-write and merge-on-read.
	TableTypes []table.TableType
	// Seed of the workload.
	Seed uint64
}

func (c *ScalingConfig) defaults() {
	if len(c.Partitions) == 0 {
		c.Partitions = []int{10, 7000}
	}
	if c.RowsPerPartition == 0 {
		c.RowsPerPartition = 200
	}
	if c.Records == 0 {
		c.Records = 10_000
	}
	if c.UpdateShare == 0 {
		c.UpdateShare = 0.10
	}
	if c.Touched == 0 {
		c.Touched = 5
	}
	if c.Commits == 0 {
		c.Commits = 5
	}
	if len(c.TableTypes) == 0 {
		c.TableTypes = []table.TableType{table.CopyOnWrite, table.MergeOnRead}
	}
}

// ScalingResult is one table's commits.
type ScalingResult struct {
	TableType     string    `json:"tableType"`
	Partitions    int       `json:"partitions"`
	TableRows     int       `json:"tableRows"`
	BuildSeconds  float64   `json:"buildSeconds"` // bulk insert of the table (one commit), not part of the comparison
	OpenSeconds   float64   `json:"openSeconds"`  // writer.Open on the built table
	CommitSeconds []float64 `json:"commitSeconds"`
	MedianSeconds float64   `json:"medianSeconds"`
	RecordsPerSec float64   `json:"recordsPerSec"` // Records / MedianSeconds
	// VsSmallest is MedianSeconds over the smallest table's of the same
	// type: the growth of commit time with the table's partitions.
	VsSmallest float64 `json:"vsSmallest"`
	Note       string  `json:"note,omitempty"`
}

// RunScaling builds, for each table type and size, a table of
// cfg.Partitions partitions and times cfg.Commits upserts of cfg.Records
// records into cfg.Touched of its partitions.
func RunScaling(ctx context.Context, cfg ScalingConfig, log io.Writer) ([]ScalingResult, error) {
	cfg.defaults()
	if cfg.Touched > slices.Min(cfg.Partitions) {
		return nil, fmt.Errorf("bench: scaling: %d touched partitions but a table of %d", cfg.Touched, slices.Min(cfg.Partitions))
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "hoodie-scaling-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	var out []ScalingResult
	for _, typ := range cfg.TableTypes {
		var smallest float64
		for i, n := range cfg.Partitions {
			tdir := filepath.Join(dir, fmt.Sprintf("%s-%d", typeName(typ), n))
			st, err := storage.NewLocal(filepath.Join(tdir, "table"))
			if err != nil {
				return out, err
			}
			r, err := scaleOne(ctx, st, filepath.Join(tdir, "index"), typ, n, cfg, log)
			if err != nil {
				return out, fmt.Errorf("bench: scaling %s %d partitions: %w", typeName(typ), n, err)
			}
			if i == 0 {
				smallest = r.MedianSeconds
			}
			if smallest > 0 {
				r.VsSmallest = r.MedianSeconds / smallest
			}
			fmt.Fprintf(log, "bench: scaling %s %5d partitions: median commit %.3fs (%.2fx the %d-partition table's); commits %v\n",
				r.TableType, n, r.MedianSeconds, r.VsSmallest, cfg.Partitions[0], roundAll(r.CommitSeconds))
			out = append(out, r)
			// The next table is the larger one: free the disk as we go.
			if cfg.Dir == "" {
				_ = os.RemoveAll(tdir)
			}
		}
	}
	return out, nil
}

func scaleOne(ctx context.Context, st storage.Storage, indexDir string, typ table.TableType, n int, cfg ScalingConfig, log io.Writer) (ScalingResult, error) {
	r := ScalingResult{TableType: typeName(typ), Partitions: n, TableRows: n * cfg.RowsPerPartition}
	wl := newPartitionedWorkload(cfg.Seed, n, cfg.RowsPerPartition, cfg.Touched)
	tbl, build, err := wl.build(ctx, st, typ, indexDir)
	if err != nil {
		return r, err
	}
	r.BuildSeconds = build
	fmt.Fprintf(log, "bench: scaling %s %5d partitions: table of %d rows built in %.1fs\n", r.TableType, n, r.TableRows, build)
	start := time.Now()
	w, err := writer.Open(ctx, tbl, writerOptions(indexDir, typ))
	if err != nil {
		return r, err
	}
	defer w.Close()
	r.OpenSeconds = time.Since(start).Seconds()
	var files, logs int
	for range cfg.Commits {
		secs, res, err := wl.commit(ctx, w, cfg.Records, cfg.UpdateShare)
		if err != nil {
			return r, err
		}
		r.CommitSeconds = append(r.CommitSeconds, secs)
		files += res.Stats.FilesWritten
		logs += logFiles(res)
	}
	r.MedianSeconds = median(r.CommitSeconds)
	if r.MedianSeconds > 0 {
		r.RecordsPerSec = float64(cfg.Records) / r.MedianSeconds
	}
	r.Note = fmt.Sprintf("%d commits of %d records (%.0f%% updates) into %d partitions; %d files written (%d log files)",
		cfg.Commits, cfg.Records, 100*cfg.UpdateShare, cfg.Touched, files, logs)
	return r, w.Close()
}

// partitionedWorkload lays game events out over n partitions
// (dt/game_id/region): partition i has day i%5, region (i/5)%2 and game
// i/10, so the first partitions are the same in tables of every size.
// Upserts touch the first `touched` partitions.
type partitionedWorkload struct {
	gen     *Generator
	n       int
	rowsPer int
	touched int
	stored  []Event // the touched partitions' rows
	rng     *rand.Rand
}

func newPartitionedWorkload(seed uint64, n, rowsPer, touched int) *partitionedWorkload {
	return &partitionedWorkload{
		gen: NewGenerator(WorkloadConfig{Seed: seed + 2, Days: 1, DupShare: 1e-9}),
		n:   n, rowsPer: rowsPer, touched: touched,
		rng: rand.New(rand.NewPCG(seed, 7)),
	}
}

var scalingStart = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// place moves an event into partition i.
func (p *partitionedWorkload) place(e *Event, i int) {
	e.Dt = scalingStart.Add(time.Duration(i%5) * 24 * time.Hour).Format("2006-01-02")
	e.Region = regions[(i/5)%2]
	e.GameID = fmt.Sprintf("game-%04d", i/10)
}

// build creates the table and bulk-inserts every partition's rows in one
// commit; it returns the table and the seconds the load took.
func (p *partitionedWorkload) build(ctx context.Context, st storage.Storage, typ table.TableType, indexDir string) (*table.Table, float64, error) {
	tbl, err := createTable(ctx, st, typ)
	if err != nil {
		return nil, 0, err
	}
	start := time.Now()
	w, err := writer.Open(ctx, tbl, writerOptions(indexDir, typ))
	if err != nil {
		return nil, 0, err
	}
	defer w.Close()
	const chunk = 100_000
	var buf []Event
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		b := ToArrow(buf)
		defer b.Release()
		buf = buf[:0]
		return w.BulkInsert(b)
	}
	for i := range p.n {
		evs := p.gen.Next(p.rowsPer)
		for j := range evs {
			p.place(&evs[j], i)
		}
		if i < p.touched {
			p.stored = append(p.stored, evs...)
		}
		buf = append(buf, evs...)
		if len(buf) >= chunk {
			if err := flush(); err != nil {
				return nil, 0, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, 0, err
	}
	if _, err := w.Commit(ctx); err != nil {
		return nil, 0, err
	}
	if err := w.Close(); err != nil {
		return nil, 0, err
	}
	return tbl, time.Since(start).Seconds(), nil
}

// batch is one upsert: records*updateShare updates of distinct stored rows
// of the touched partitions (later time, new payload), the rest new rows
// spread over the touched partitions.
func (p *partitionedWorkload) batch(records int, updateShare float64) []Event {
	nUpd := min(int(float64(records)*updateShare), len(p.stored))
	out := make([]Event, 0, records)
	for _, i := range p.rng.Perm(len(p.stored))[:nUpd] {
		e := p.stored[i]
		e.Time += int64(1 + p.rng.IntN(3_600_000))
		e.CustomMeta = fmt.Sprintf(`{"score":%d,"level":%d,"updated":true}`, p.rng.IntN(100000), p.rng.IntN(100))
		out = append(out, e)
	}
	news := p.gen.Next(records - nUpd)
	for j := range news {
		p.place(&news[j], j%p.touched)
	}
	return append(out, news...)
}

// commit times one Upsert + Commit of a new batch.
func (p *partitionedWorkload) commit(ctx context.Context, w *writer.Writer, records int, updateShare float64) (float64, *writer.CommitResult, error) {
	b := ToArrow(p.batch(records, updateShare))
	defer b.Release()
	start := time.Now()
	if err := w.Upsert(b); err != nil {
		return 0, nil, err
	}
	res, err := w.Commit(ctx)
	if err != nil {
		return 0, nil, err
	}
	return time.Since(start).Seconds(), res, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func roundAll(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(int(x*1000+0.5)) / 1000
	}
	return out
}
