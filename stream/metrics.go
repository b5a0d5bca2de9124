package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/hoodie-lake/hoodie/internal/promtext"
	"github.com/hoodie-lake/hoodie/writer"
)

// commitBuckets are the upper bounds (seconds) of the commit latency
// histogram.
var commitBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// Metrics are a stream's Prometheus metrics, served in the text exposition
// format (version 0.0.4) by Handler. Every metric is named hoodie_stream_*
// and labelled by table location or source unit. The recording methods are
// safe for concurrent use, and do nothing on a nil *Metrics.
//
//	hoodie_stream_records_total{table}                 records buffered for writing
//	hoodie_stream_rejected_records_total{table}        records sent to the error output
//	hoodie_stream_commits_total{table}                 completed commits
//	hoodie_stream_commit_failures_total{table}         failed commits
//	hoodie_stream_commit_duration_seconds{table}       commit latency (histogram)
//	hoodie_stream_written_records_total{table,outcome} insert, update, delete, late_ignored, combined
//	hoodie_stream_bytes_written_total{table}           bytes of files written by commits
//	hoodie_stream_last_commit_timestamp_seconds{table} Unix time of the last commit
//	hoodie_stream_buffer_bytes{table}                  payload bytes buffered
//	hoodie_stream_index_entries{table}                 record-key index entries
//	hoodie_stream_index_lookups_total{table}           keys looked up in the index
//	hoodie_stream_index_hits_total{table}              of which found
//	hoodie_stream_index_hit_ratio{table}               hits / lookups
//	hoodie_stream_lag{unit}                            records (Kafka) or ms (Kinesis) behind
//	hoodie_stream_tables_open, hoodie_stream_tables    tables with an open writer, tables seen
type Metrics struct {
	start time.Time
	mu    struct {
		sync.Mutex
		tables      map[string]*tableMetrics
		lag         map[string]int64
		open, total int
	}
}

type tableMetrics struct {
	records, rejected         int64
	commits, failures         int64
	inserts, updates, deletes int64
	late, combined, bytes     int64
	lastCommit                time.Time
	bufferBytes               int64
	indexEntries              int64
	indexHits, indexLookups   int64
	latency                   *promtext.Histogram
}

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	m := &Metrics{start: time.Now()}
	m.mu.tables = map[string]*tableMetrics{}
	m.mu.lag = map[string]int64{}
	return m
}

// table returns the table's metrics; m.mu is held.
func (m *Metrics) table(name string) *tableMetrics {
	t := m.mu.tables[name]
	if t == nil {
		t = &tableMetrics{latency: promtext.NewHistogram(commitBuckets)}
		m.mu.tables[name] = t
	}
	return t
}

// Records counts n records buffered for the table.
func (m *Metrics) Records(table string, n int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.table(table).records += int64(n)
	m.mu.Unlock()
}

// Rejected counts n records of the table sent to the error output.
func (m *Metrics) Rejected(table string, n int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.table(table).rejected += int64(n)
	m.mu.Unlock()
}

// Commit records a commit of the table that took d: a failure when err is
// set, else a completed commit with res's write stats (res may be nil or
// empty: a commit of nothing is not counted).
func (m *Metrics) Commit(table string, d time.Duration, res *writer.CommitResult, err error) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.table(table)
	if err != nil {
		t.failures++
		return
	}
	if res == nil || res.Instant == "" {
		return
	}
	s := res.Stats
	t.commits++
	t.inserts += s.Inserts
	t.updates += s.Updates
	t.deletes += s.Deletes
	t.late += s.LateDropped
	t.combined += s.Duplicates
	t.bytes += s.BytesWritten
	t.lastCommit = time.Now()
	t.latency.Observe(d.Seconds())
}

// Lag replaces the lag of every unit the source owns (Source.Lag): units
// missing from lags are no longer reported.
func (m *Metrics) Lag(lags map[string]int64) {
	if m == nil {
		return
	}
	cp := make(map[string]int64, len(lags))
	for u, l := range lags {
		cp[u] = l
	}
	m.mu.Lock()
	m.mu.lag = cp
	m.mu.Unlock()
}

// BufferBytes sets the payload bytes buffered for the table.
func (m *Metrics) BufferBytes(table string, n int64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.table(table).bufferBytes = n
	m.mu.Unlock()
}

// Index records the table's record-key index: entries is its current size,
// hits and lookups the keys found and looked up since the previous call
// (typically one commit's), added to the running totals.
func (m *Metrics) Index(table string, entries, hits, lookups int64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	t := m.table(table)
	t.indexEntries = entries
	t.indexHits += hits
	t.indexLookups += lookups
	m.mu.Unlock()
}

// Tables sets the number of tables with an open writer and of tables the
// stream has written (open or closed).
func (m *Metrics) Tables(open, total int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.mu.open, m.mu.total = open, total
	m.mu.Unlock()
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promtext.Handler(m.write)
}

// write renders the metrics.
func (m *Metrics) write(b *promtext.Builder) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.mu.tables))
	for n := range m.mu.tables {
		names = append(names, n)
	}
	sort.Strings(names)
	perTable := func(name, typ, help string, v func(*tableMetrics) int64) {
		b.Family(name, typ, help)
		for _, n := range names {
			b.Int(name, promtext.Labels("table", n), v(m.mu.tables[n]))
		}
	}
	perTable("hoodie_stream_records_total", "counter", "Records decoded and buffered for writing.",
		func(t *tableMetrics) int64 { return t.records })
	perTable("hoodie_stream_rejected_records_total", "counter", "Records that failed to decode or validate, sent to the error output.",
		func(t *tableMetrics) int64 { return t.rejected })
	perTable("hoodie_stream_commits_total", "counter", "Completed commits (instants).",
		func(t *tableMetrics) int64 { return t.commits })
	perTable("hoodie_stream_commit_failures_total", "counter", "Failed commits.",
		func(t *tableMetrics) int64 { return t.failures })
	b.Family("hoodie_stream_written_records_total", "counter", "Records applied by completed commits, by outcome.")
	for _, n := range names {
		t := m.mu.tables[n]
		for _, o := range []struct {
			outcome string
			v       int64
		}{{"insert", t.inserts}, {"update", t.updates}, {"delete", t.deletes}, {"late_ignored", t.late}, {"combined", t.combined}} {
			b.Int("hoodie_stream_written_records_total", promtext.Labels("table", n, "outcome", o.outcome), o.v)
		}
	}
	perTable("hoodie_stream_bytes_written_total", "counter", "Bytes of base and log files written by completed commits.",
		func(t *tableMetrics) int64 { return t.bytes })
	b.Family("hoodie_stream_last_commit_timestamp_seconds", "gauge", "Unix time of the table's last completed commit (0: none yet).")
	for _, n := range names {
		v := 0.0
		if lc := m.mu.tables[n].lastCommit; !lc.IsZero() {
			v = float64(lc.UnixMilli()) / 1000
		}
		b.Float("hoodie_stream_last_commit_timestamp_seconds", promtext.Labels("table", n), v)
	}
	b.Family("hoodie_stream_commit_duration_seconds", "histogram", "Commit latency: from the commit's start to the completed instant.")
	for _, n := range names {
		m.mu.tables[n].latency.Write(b, "hoodie_stream_commit_duration_seconds", promtext.Labels("table", n))
	}
	perTable("hoodie_stream_buffer_bytes", "gauge", "Payload bytes buffered for the next commit.",
		func(t *tableMetrics) int64 { return t.bufferBytes })
	perTable("hoodie_stream_index_entries", "gauge", "Entries of the table's record-key index.",
		func(t *tableMetrics) int64 { return t.indexEntries })
	perTable("hoodie_stream_index_lookups_total", "counter", "Record keys looked up in the record-key index.",
		func(t *tableMetrics) int64 { return t.indexLookups })
	perTable("hoodie_stream_index_hits_total", "counter", "Record keys the record-key index located.",
		func(t *tableMetrics) int64 { return t.indexHits })
	b.Family("hoodie_stream_index_hit_ratio", "gauge", "Index hits / lookups since the start (0 before any lookup).")
	for _, n := range names {
		t, r := m.mu.tables[n], 0.0
		if t.indexLookups > 0 {
			r = float64(t.indexHits) / float64(t.indexLookups)
		}
		b.Float("hoodie_stream_index_hit_ratio", promtext.Labels("table", n), r)
	}
	units := make([]string, 0, len(m.mu.lag))
	for u := range m.mu.lag {
		units = append(units, u)
	}
	sort.Strings(units)
	b.Family("hoodie_stream_lag", "gauge", "How far each owned unit is behind its newest record: records for a Kafka partition, milliseconds for a Kinesis shard.")
	for _, u := range units {
		b.Int("hoodie_stream_lag", promtext.Labels("unit", u), m.mu.lag[u])
	}
	b.Family("hoodie_stream_tables_open", "gauge", "Tables with an open writer.")
	b.Int("hoodie_stream_tables_open", "", int64(m.mu.open))
	b.Family("hoodie_stream_tables", "gauge", "Tables the stream has written to since the start.")
	b.Int("hoodie_stream_tables", "", int64(m.mu.total))
	b.Family("hoodie_stream_start_timestamp_seconds", "gauge", "Unix time the metrics were created.")
	b.Float("hoodie_stream_start_timestamp_seconds", "", float64(m.start.UnixMilli())/1000)
}

// HealthHandler serves a health check: 200 "ok" when check returns nil
// (or is nil), else 503 with the error's text.
func HealthHandler(check func() error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if check != nil {
			if err := check(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, err.Error())
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
}

// Serve timeouts.
const (
	serveReadTimeout     = 10 * time.Second
	serveWriteTimeout    = 30 * time.Second
	serveIdleTimeout     = 60 * time.Second
	serveShutdownTimeout = 5 * time.Second
)

// Serve listens on addr (HOST:PORT; port 0 picks a free one) and serves
// m at /metrics (m may be nil: no metrics) and HealthHandler(health) at
// /healthz, with read and write timeouts, until ctx ends; then it shuts
// the server down (requests in flight get a few seconds). It returns the
// address it listens on.
func Serve(ctx context.Context, addr string, m *Metrics, health func() error) (net.Addr, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("stream: serve metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	mux.Handle("/healthz", HealthHandler(health))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: serveReadTimeout,
		ReadTimeout:       serveReadTimeout,
		WriteTimeout:      serveWriteTimeout,
		IdleTimeout:       serveIdleTimeout,
	}
	go func() {
		// Serve returns ErrServerClosed after Shutdown; another error
		// (the listener failing) leaves the stream running without
		// metrics.
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), serveShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return ln.Addr(), nil
}
