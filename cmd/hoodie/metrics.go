package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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

	mu struct {
		sync.Mutex
		buckets []int64 // cumulative counts per commitBuckets
		count   int64
		sum     float64
	}
}

func newMetrics(verb string) *metrics {
	m := &metrics{verb: verb}
	m.mu.buckets = make([]int64, len(commitBuckets))
	return m
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
	secs := s.Duration.Seconds()
	m.mu.Lock()
	for i, b := range commitBuckets {
		if secs <= b {
			m.mu.buckets[i]++
		}
	}
	m.mu.count++
	m.mu.sum += secs
	m.mu.Unlock()
}

func (m *metrics) commitFailed() {
	if m != nil {
		m.commitFailures.Add(1)
	}
}

// write renders the metrics in the Prometheus text format.
func (m *metrics) write(w io.Writer) error {
	var b strings.Builder
	verb := `verb="` + m.verb + `"`
	metric := func(name, typ, help string, samples ...string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, s := range samples {
			b.WriteString(s)
			b.WriteByte('\n')
		}
	}
	sample := func(name, labels string, v int64) string {
		return name + "{" + labels + "} " + strconv.FormatInt(v, 10)
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
	metric("hoodie_last_commit_timestamp_seconds", "gauge", "Unix time of the last completed commit (0: none yet).",
		fmt.Sprintf("hoodie_last_commit_timestamp_seconds{%s} %g", verb, float64(last)/1000))

	m.mu.Lock()
	fmt.Fprintf(&b, "# HELP hoodie_commit_duration_seconds Commit latency: from Commit to the completed instant.\n# TYPE hoodie_commit_duration_seconds histogram\n")
	for i, ub := range commitBuckets {
		fmt.Fprintf(&b, "hoodie_commit_duration_seconds_bucket{%s,le=\"%s\"} %d\n", verb, strconv.FormatFloat(ub, 'g', -1, 64), m.mu.buckets[i])
	}
	fmt.Fprintf(&b, "hoodie_commit_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", verb, m.mu.count)
	fmt.Fprintf(&b, "hoodie_commit_duration_seconds_sum{%s} %s\n", verb, strconv.FormatFloat(m.mu.sum, 'g', -1, 64))
	fmt.Fprintf(&b, "hoodie_commit_duration_seconds_count{%s} %d\n", verb, m.mu.count)
	m.mu.Unlock()
	_, err := io.WriteString(w, b.String())
	return err
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
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = m.write(w)
	})
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
