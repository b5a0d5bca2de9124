// Command mor-service is a long-running writer of a merge-on-read Hudi
// table with its table services in the same process: it upserts a batch of
// events and commits it on every tick, while a second goroutine compacts
// the table (merging log files into new base files) and cleans it
// (deleting file slices no reader needs any more) on its own ticker. It
// stops cleanly — the last commit finished, the writer closed, the
// services done — on SIGINT or SIGTERM, or after --duration.
//
//	go run . [--dir DIR] [--duration 5s] [--commit-every 250ms] [--services-every 1s]
//
// The table is DIR/events (DIR defaults to a new temporary directory), its
// record-key index DIR/events-index.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// config is the command line.
type config struct {
	dir           string
	duration      time.Duration
	commitEvery   time.Duration
	servicesEvery time.Duration
	keys          int // distinct event keys
	batch         int // events per commit
	deltaCommits  int // compaction schedules after this many deltacommits
	retain        int // completed commits whose readers cleaning keeps working
}

func main() {
	var c config
	flag.StringVar(&c.dir, "dir", "", "directory of the table (default: a new temporary directory)")
	flag.DurationVar(&c.duration, "duration", 5*time.Second, "stop after this long (0: run until SIGINT or SIGTERM)")
	flag.DurationVar(&c.commitEvery, "commit-every", 250*time.Millisecond, "commit interval")
	flag.DurationVar(&c.servicesEvery, "services-every", time.Second, "compaction and cleaning interval")
	flag.IntVar(&c.keys, "keys", 200, "distinct event keys")
	flag.IntVar(&c.batch, "batch", 50, "events per commit")
	flag.IntVar(&c.deltaCommits, "delta-commits", 3, "schedule a compaction after this many deltacommits")
	flag.IntVar(&c.retain, "retain", 2, "commits whose readers cleaning keeps working")
	flag.Parse()
	if c.dir == "" {
		d, err := os.MkdirTemp("", "hoodie-mor-service-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "mor-service:", err)
			os.Exit(1)
		}
		c.dir = d
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.duration)
		defer cancel()
	}
	context.AfterFunc(ctx, stop) // once stopping, a second signal kills at once
	if err := run(ctx, c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mor-service:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done, then shuts down and reports.
func run(ctx context.Context, c config, out io.Writer) error {
	location := filepath.Join(c.dir, "events")
	if err := createTable(context.WithoutCancel(ctx), location, out); err != nil {
		return err
	}
	log := &logger{out: out, start: time.Now()}

	// The writer and the services each open their own handle on the table,
	// as they would in separate processes.
	var wg sync.WaitGroup
	var svc services
	wg.Go(func() { svc.run(ctx, c, location, log) })
	n, keys, ingestErr := ingest(ctx, c, location, log)
	wg.Wait()

	// Once stopped: what a reader sees now.
	shutdown := context.WithoutCancel(ctx)
	tbl, err := table.OpenLocationForRead(shutdown, location, storage.Options{})
	if err != nil {
		return err
	}
	rows, err := countRows(shutdown, tbl)
	if err != nil {
		return err
	}
	log.printf("stopped: %d commits, %d compactions, %d files cleaned; the table holds %d rows for %d keys inserted",
		n, svc.compactions, svc.cleaned, rows, keys)
	return errors.Join(ingestErr, svc.err)
}

// createTable creates the merge-on-read table, or uses the one there.
func createTable(ctx context.Context, location string, out io.Writer) error {
	_, err := table.CreateLocation(ctx, location, storage.Options{}, table.CreateOptions{
		Name:            "events",
		Type:            table.MergeOnRead,
		RecordKeyFields: []string{"event_id"},
		PrecombineField: "ts",
	})
	switch {
	case errors.Is(err, table.ErrTableExists):
		fmt.Fprintf(out, "Using the existing table %s\n", location)
		return nil
	case err != nil:
		return err
	}
	fmt.Fprintf(out, "Created the merge-on-read table %s\n", location)
	return nil
}

// ingest upserts a batch and commits it on every tick until ctx is done,
// and returns the number of commits and of keys inserted. The writer is
// closed before it returns; a commit under way when ctx ends is finished
// first.
func ingest(ctx context.Context, c config, location string, log *logger) (commits int, inserted int64, err error) {
	// Table operations run on a context that outlives ctx: stopping means
	// not starting another commit, not abandoning one half written.
	work := context.WithoutCancel(ctx)
	tbl, err := table.OpenLocation(work, location, storage.Options{})
	if err != nil {
		return 0, 0, err
	}
	// Without small-file packing, updates of stored keys go to log files
	// (which compaction merges) instead of rewriting small base files.
	w, err := writer.Open(work, tbl, writer.Options{IndexDir: location + "-index", SmallFileLimit: -1})
	if err != nil {
		return 0, 0, err
	}
	tick := time.NewTicker(c.commitEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return commits, inserted, w.Close()
		case <-tick.C:
		}
		batch := events(c, commits)
		err := w.Upsert(batch)
		batch.Release()
		if err != nil {
			return commits, inserted, errors.Join(err, w.Close())
		}
		res, err := w.Commit(work)
		if err != nil {
			return commits, inserted, errors.Join(err, w.Close())
		}
		commits++
		inserted += res.Stats.Inserts
		log.printf("deltacommit %s: %d inserted, %d updated", res.Instant, res.Stats.Inserts, res.Stats.Updates)
	}
}

// services compacts and cleans the table on a ticker.
type services struct {
	compactions int
	cleaned     int
	err         error
}

func (s *services) run(ctx context.Context, c config, location string, log *logger) {
	work := context.WithoutCancel(ctx) // as in ingest: finish what was started
	tbl, err := table.OpenLocation(work, location, storage.Options{})
	if err != nil {
		s.err = err
		return
	}
	tick := time.NewTicker(c.servicesEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := s.once(work, c, tbl, log); err != nil {
			s.err = err
			return
		}
	}
}

// once runs one round of the services: every pending compaction, a new one
// if enough deltacommits piled up, then a clean.
func (s *services) once(ctx context.Context, c config, tbl *table.Table, log *logger) error {
	scheduled, results, err := compactor.Run(ctx, tbl, compactor.Options{
		Strategy: compactor.NumCommits, DeltaCommits: c.deltaCommits,
	})
	if err != nil {
		return fmt.Errorf("compaction: %w", err)
	}
	if scheduled != nil {
		log.printf("compaction %s scheduled: %d file groups, %d log files", scheduled.Instant, scheduled.FileGroups, scheduled.LogFiles)
	}
	for _, r := range results {
		if !r.AlreadyDone {
			s.compactions++
			log.printf("compaction %s done: %d log records merged into %d records", r.Instant, r.LogRecords, r.Records)
		}
	}
	res, err := cleaner.Clean(ctx, tbl, cleaner.Options{CommitsRetained: c.retain})
	if err != nil {
		return fmt.Errorf("cleaning: %w", err)
	}
	if len(res.Deleted) > 0 {
		s.cleaned += len(res.Deleted)
		log.printf("clean %s: %d files deleted", res.Instant.Timestamp, len(res.Deleted))
	}
	return nil
}

// schema is the Arrow schema of the events.
var schema = arrow.NewSchema([]arrow.Field{
	{Name: "event_id", Type: arrow.BinaryTypes.String},
	{Name: "ts", Type: arrow.PrimitiveTypes.Int64},
	{Name: "value", Type: arrow.PrimitiveTypes.Int64},
}, nil)

// events makes the batch of commit n: c.batch events of random keys among
// c.keys, each newer than every event of the commits before.
func events(c config, n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := range c.batch {
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("e%05d", rand.IntN(c.keys)))
		b.Field(1).(*array.Int64Builder).Append(int64(n*c.batch + i))
		b.Field(2).(*array.Int64Builder).Append(rand.Int64N(1000))
	}
	return b.NewRecordBatch()
}

// countRows reads the table's latest snapshot (merging log files into
// their base files) and counts its rows.
func countRows(ctx context.Context, tbl *table.Table) (int64, error) {
	batches, err := reader.ReadAll(ctx, tbl, reader.Options{})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, b := range batches {
		n += b.NumRows()
		b.Release()
	}
	return n, nil
}

// logger prints lines with the time since the start, from any goroutine.
type logger struct {
	mu    sync.Mutex
	out   io.Writer
	start time.Time
}

func (l *logger) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.out, "%6.2fs  %s\n", time.Since(l.start).Seconds(), fmt.Sprintf(format, args...))
}
