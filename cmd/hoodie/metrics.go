package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/hoodie-lake/hoodie/internal/promtext"
	"github.com/hoodie-lake/hoodie/writer"
)

// commitBuckets are the upper bounds (seconds) of the commit latency
// histogram.
var commitBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// metrics are the Prometheus metrics of a long-running write (`ingest -`,
// `cdc`), served in the text exposition format (version 0.0.4) on
// --metrics-addr at /metrics. A nil *metrics records nothing.
type metrics struct {
	verb string

	recordsRead    atomic.Int64 // rows buffered for writing
	deletesRead    atomic.Int64 // of which deletes
	badRecords     atomic.Int64
	tombstones     atomic.Int64
	commits        atomic.Int64
	commitFailures atomic.Int64
	inserts        atomic.Int64
	updates        atomic.Int64
	deletes        atomic.Int64
	late           atomic.Int64
	combined       atomic.Int64
	bytesWritten   atomic.Int64
	filesWritten   atomic.Int64
	indexHits      atomic.Int64
	footerHits     atomic.Int64
	buffered       atomic.Int64
	lastCommitUnix atomic.Int64 // unix milliseconds

	latency *promtext.Histogram // commit latency, seconds
}

func newMetrics(verb string) *metrics {
	return &metrics{verb: verb, latency: promtext.NewHistogram(commitBuckets)}
}

// read counts rows buffered for writing.
func (m *metrics) read(rows, deletes int64) {
	if m == nil {
		return
	}
	m.recordsRead.Add(rows)
	m.deletesRead.Add(deletes)
	m.buffered.Add(rows)
}

func (m *metrics) bad(n int64) {
	if m != nil {
		m.badRecords.Add(n)
	}
}

func (m *metrics) tombstone() {
	if m != nil {
		m.tombstones.Add(1)
	}
}

// committed records a successful commit.
func (m *metrics) committed(res *writer.CommitResult) {
	if m == nil {
		return
	}
	s := res.Stats
	m.commits.Add(1)
	m.inserts.Add(s.Inserts)
	m.updates.Add(s.Updates)
	m.deletes.Add(s.Deletes)
	m.late.Add(s.LateDropped)
	m.combined.Add(s.Duplicates)
	m.bytesWritten.Add(s.BytesWritten)
	m.filesWritten.Add(int64(s.FilesWritten))
	m.indexHits.Add(s.IndexHits)
	m.footerHits.Add(s.FooterHits)
	m.buffered.Store(0)
	m.lastCommitUnix.Store(time.Now().UnixMilli())
	m.latency.Observe(s.Duration.Seconds())
}

func (m *metrics) commitFailed() {
	if m != nil {
		m.commitFailures.Add(1)
	}
}

// build renders the metrics into b in the Prometheus text format.
func (m *metrics) build(b *promtext.Builder) {
	verb := promtext.Labels("verb", m.verb)
	type sampleValue struct {
		name, labels string
		v            int64
	}
	metric := func(name, typ, help string, samples ...sampleValue) {
		b.Family(name, typ, help)
		for _, s := range samples {
			b.Int(s.name, s.labels, s.v)
		}
	}
	sample := func(name, labels string, v int64) sampleValue {
		return sampleValue{name, labels, v}
	}
	metric("hoodie_records_read_total", "counter", "Input records buffered for writing, by kind.",
		sample("hoodie_records_read_total", verb+`,kind="upsert"`, m.recordsRead.Load()-m.deletesRead.Load()),
		sample("hoodie_records_read_total", verb+`,kind="delete"`, m.deletesRead.Load()))
	metric("hoodie_records_written_total", "counter", "Records applied to the table by committed writes, by outcome.",
		sample("hoodie_records_written_total", verb+`,outcome="insert"`, m.inserts.Load()),
		sample("hoodie_records_written_total", verb+`,outcome="update"`, m.updates.Load()),
		sample("hoodie_records_written_total", verb+`,outcome="delete"`, m.deletes.Load()),
		sample("hoodie_records_written_total", verb+`,outcome="late_ignored"`, m.late.Load()),
		sample("hoodie_records_written_total", verb+`,outcome="combined"`, m.combined.Load()))
	metric("hoodie_errors_total", "counter", "Errors: bad input records (sent to the error output) and failed commits.",
		sample("hoodie_errors_total", verb+`,kind="bad_record"`, m.badRecords.Load()),
		sample("hoodie_errors_total", verb+`,kind="commit"`, m.commitFailures.Load()))
	metric("hoodie_tombstones_skipped_total", "counter", "Tombstone (null) input lines skipped.",
		sample("hoodie_tombstones_skipped_total", verb, m.tombstones.Load()))
	metric("hoodie_commits_total", "counter", "Completed commits (instants).",
		sample("hoodie_commits_total", verb, m.commits.Load()))
	metric("hoodie_bytes_written_total", "counter", "Bytes of base and log files written by completed commits.",
		sample("hoodie_bytes_written_total", verb, m.bytesWritten.Load()))
	metric("hoodie_files_written_total", "counter", "Base and log files written by completed commits.",
		sample("hoodie_files_written_total", verb, m.filesWritten.Load()))
	metric("hoodie_index_hits_total", "counter", "Record keys located by the record-key index, and by file footers when the index missed.",
		sample("hoodie_index_hits_total", verb+`,source="index"`, m.indexHits.Load()),
		sample("hoodie_index_hits_total", verb+`,source="footer"`, m.footerHits.Load()))
	metric("hoodie_buffered_records", "gauge", "Records buffered for the next commit.",
		sample("hoodie_buffered_records", verb, m.buffered.Load()))
	last := m.lastCommitUnix.Load()
	b.Family("hoodie_last_commit_timestamp_seconds", "gauge", "Unix time of the last completed commit (0: none yet).")
	b.Float("hoodie_last_commit_timestamp_seconds", verb, float64(last)/1000)

	b.Family("hoodie_commit_duration_seconds", "histogram", "Commit latency: from Commit to the completed instant.")
	m.latency.Write(b, "hoodie_commit_duration_seconds", verb)
}

// serveMetrics serves m on addr (HOST:PORT; port 0 picks a free one) at
// /metrics until the returned stop function is called, and returns the
// address it listens on.
func serveMetrics(addr string, m *metrics) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promtext.Handler(m.build))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A failed listener leaves the write running without metrics.
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return
		}
	}()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}
	return ln.Addr().String(), stop, nil
}

// startMetrics starts the endpoint when addr is set, logging its URL to
// stderr. It returns nil metrics (recording nothing) without an address.
func startMetrics(addr, verb string, stderr io.Writer) (*metrics, func(), error) {
	if addr == "" {
		return nil, func() {}, nil
	}
	m := newMetrics(verb)
	bound, stop, err := serveMetrics(addr, m)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(stderr, "hoodie: metrics on http://%s/metrics\n", bound)
	return m, stop, nil
}
