package stream_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/promtext"
	"github.com/hoodie-lake/hoodie/stream"
	"github.com/hoodie-lake/hoodie/writer"
)

func scrape(t *testing.T, h http.Handler) map[string]*promtext.Family {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, promtext.ContentType, rec.Header().Get("Content-Type"))
	fams, err := promtext.Parse(strings.NewReader(rec.Body.String()))
	require.NoError(t, err, rec.Body.String())
	return fams
}

// value returns the sample of family name whose labels include want.
func value(t *testing.T, fams map[string]*promtext.Family, family, sample string, want map[string]string) float64 {
	t.Helper()
	f := fams[family]
	require.NotNil(t, f, "family %s", family)
next:
	for _, s := range f.Samples {
		if s.Name != sample {
			continue
		}
		for k, v := range want {
			if s.Labels[k] != v {
				continue next
			}
		}
		return s.Value
	}
	t.Fatalf("no sample %s%v", sample, want)
	return 0
}

func TestMetricsExposition(t *testing.T) {
	m := stream.NewMetrics()
	odd := `s3://b/lake/"quoted"\path` + "\nx"
	m.Records("/t/a", 10)
	m.Records("/t/a", 5)
	m.Records(odd, 1)
	m.Rejected("/t/a", 2)
	res := &writer.CommitResult{Instant: "20261206120000000", Stats: writer.Stats{Inserts: 7, Updates: 5, Deletes: 1, LateDropped: 2, Duplicates: 3, BytesWritten: 4096}}
	m.Commit("/t/a", 300*time.Millisecond, res, nil)
	m.Commit("/t/a", 3*time.Second, res, nil)
	m.Commit("/t/a", 200*time.Second, res, nil)
	m.Commit("/t/a", time.Second, nil, errors.New("conflict"))
	m.Commit("/t/a", time.Millisecond, &writer.CommitResult{}, nil) // nothing buffered: not a commit
	m.Lag(map[string]int64{"orders/0": 12, "orders/1": 0})
	m.Lag(map[string]int64{"orders/1": 3}) // orders/0 revoked
	m.BufferBytes("/t/a", 1234)
	m.Index("/t/a", 1000, 30, 40)
	m.Index("/t/a", 1010, 10, 20)
	m.Tables(2, 3)

	fams := scrape(t, m.Handler())
	for name, f := range fams {
		require.True(t, strings.HasPrefix(name, "hoodie_stream_"), name)
		require.NotEmpty(t, f.Help, name)
		require.NotEmpty(t, f.Type, name)
		if f.Type == "counter" {
			require.True(t, strings.HasSuffix(name, "_total"), name)
		}
	}
	a := map[string]string{"table": "/t/a"}
	require.Equal(t, 15.0, value(t, fams, "hoodie_stream_records_total", "hoodie_stream_records_total", a))
	require.Equal(t, 1.0, value(t, fams, "hoodie_stream_records_total", "hoodie_stream_records_total", map[string]string{"table": odd}))
	require.Equal(t, 2.0, value(t, fams, "hoodie_stream_rejected_records_total", "hoodie_stream_rejected_records_total", a))
	require.Equal(t, 3.0, value(t, fams, "hoodie_stream_commits_total", "hoodie_stream_commits_total", a))
	require.Equal(t, 1.0, value(t, fams, "hoodie_stream_commit_failures_total", "hoodie_stream_commit_failures_total", a))
	for outcome, want := range map[string]float64{"insert": 21, "update": 15, "delete": 3, "late_ignored": 6, "combined": 9} {
		require.Equal(t, want, value(t, fams, "hoodie_stream_written_records_total", "hoodie_stream_written_records_total",
			map[string]string{"table": "/t/a", "outcome": outcome}), outcome)
	}
	require.Equal(t, 3*4096.0, value(t, fams, "hoodie_stream_bytes_written_total", "hoodie_stream_bytes_written_total", a))
	require.InDelta(t, float64(time.Now().Unix()), value(t, fams, "hoodie_stream_last_commit_timestamp_seconds", "hoodie_stream_last_commit_timestamp_seconds", a), 60)
	require.Equal(t, 0.0, value(t, fams, "hoodie_stream_last_commit_timestamp_seconds", "hoodie_stream_last_commit_timestamp_seconds", map[string]string{"table": odd}))
	require.Equal(t, 1234.0, value(t, fams, "hoodie_stream_buffer_bytes", "hoodie_stream_buffer_bytes", a))
	require.Equal(t, 1010.0, value(t, fams, "hoodie_stream_index_entries", "hoodie_stream_index_entries", a))
	require.Equal(t, 40.0, value(t, fams, "hoodie_stream_index_hits_total", "hoodie_stream_index_hits_total", a))
	require.Equal(t, 60.0, value(t, fams, "hoodie_stream_index_lookups_total", "hoodie_stream_index_lookups_total", a))
	require.InDelta(t, 40.0/60, value(t, fams, "hoodie_stream_index_hit_ratio", "hoodie_stream_index_hit_ratio", a), 1e-9)
	require.Len(t, fams["hoodie_stream_lag"].Samples, 1)
	require.Equal(t, 3.0, value(t, fams, "hoodie_stream_lag", "hoodie_stream_lag", map[string]string{"unit": "orders/1"}))
	require.Equal(t, 2.0, value(t, fams, "hoodie_stream_tables_open", "hoodie_stream_tables_open", nil))
	require.Equal(t, 3.0, value(t, fams, "hoodie_stream_tables", "hoodie_stream_tables", nil))

	// The histogram: buckets ascending by le, counts cumulative, +Inf last
	// and equal to _count; 0.3 s, 3 s and 200 s observed.
	h := fams["hoodie_stream_commit_duration_seconds"]
	require.Equal(t, "histogram", h.Type)
	var les []string
	var prev float64
	var counts = map[string]float64{}
	for _, s := range h.Samples {
		if s.Name != "hoodie_stream_commit_duration_seconds_bucket" || s.Labels["table"] != "/t/a" {
			continue
		}
		require.GreaterOrEqual(t, s.Value, prev, "cumulative at le=%s", s.Labels["le"])
		prev = s.Value
		les = append(les, s.Labels["le"])
		counts[s.Labels["le"]] = s.Value
	}
	require.Equal(t, "+Inf", les[len(les)-1])
	require.Equal(t, 0.0, counts["0.25"])
	require.Equal(t, 1.0, counts["0.5"])
	require.Equal(t, 2.0, counts["5"])
	require.Equal(t, 2.0, counts["120"])
	require.Equal(t, 3.0, counts["+Inf"])
	require.Equal(t, 3.0, value(t, fams, "hoodie_stream_commit_duration_seconds", "hoodie_stream_commit_duration_seconds_count", a))
	require.InDelta(t, 203.3, value(t, fams, "hoodie_stream_commit_duration_seconds", "hoodie_stream_commit_duration_seconds_sum", a), 1e-9)
}

func TestMetricsNil(t *testing.T) {
	var m *stream.Metrics
	m.Records("t", 1)
	m.Rejected("t", 1)
	m.Commit("t", time.Second, &writer.CommitResult{Instant: "1"}, nil)
	m.Lag(map[string]int64{"u": 1})
	m.BufferBytes("t", 1)
	m.Index("t", 1, 1, 1)
	m.Tables(1, 1)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Empty(t, rec.Body.String())
}

func TestMetricsConcurrent(t *testing.T) {
	m := stream.NewMetrics()
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 500; i++ {
				m.Records("t", 1)
				m.Commit("t", time.Millisecond, &writer.CommitResult{Instant: "1"}, nil)
				m.Lag(map[string]int64{"u": int64(i)})
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	fams := scrape(t, m.Handler())
	require.Equal(t, 2000.0, value(t, fams, "hoodie_stream_records_total", "hoodie_stream_records_total", map[string]string{"table": "t"}))
}

func TestHealthHandler(t *testing.T) {
	var err error
	h := stream.HealthHandler(func() error { return err })
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "ok\n", rec.Body.String())

	err = errors.New("stream: kafka: no broker reachable")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Contains(t, rec.Body.String(), "no broker reachable")

	rec = httptest.NewRecorder()
	stream.HealthHandler(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	require.Equal(t, http.StatusOK, rec.Code)
}

func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := stream.NewMetrics()
	m.Records("t", 3)
	var unhealthy atomic.Pointer[error]
	addr, err := stream.Serve(ctx, "127.0.0.1:0", m, func() error {
		if e := unhealthy.Load(); e != nil {
			return *e
		}
		return nil
	})
	require.NoError(t, err)
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, string) {
		resp, err := client.Get("http://" + addr.String() + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, body := get("/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `hoodie_stream_records_total{table="t"} 3`)
	code, _ = get("/healthz")
	require.Equal(t, http.StatusOK, code)
	down := errors.New("down")
	unhealthy.Store(&down)
	code, body = get("/healthz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "down\n", body)
	code, _ = get("/other")
	require.Equal(t, http.StatusNotFound, code)

	// The address is taken; a second server on it fails.
	_, err = stream.Serve(ctx, addr.String(), m, nil)
	require.Error(t, err)

	cancel()
	require.Eventually(t, func() bool {
		_, err := client.Get("http://" + addr.String() + "/healthz")
		return err != nil
	}, 10*time.Second, 20*time.Millisecond, "server shut down when ctx ended")
}
