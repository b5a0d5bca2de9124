package promtext

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	var b Builder
	b.Family("x_total", "counter", "Help with a \\ and\na line feed.")
	weird := "a\"b\\c\nd,e=f}"
	b.Int("x_total", Labels("table", weird, "kind", "k"), 3)
	b.Int("x_total", Labels("table", "plain"), 4)
	b.Family("g", "gauge", "A gauge.")
	b.Float("g", "", math.Inf(1))
	h := NewHistogram([]float64{0.1, 1, 10})
	for _, v := range []float64{0.05, 0.5, 0.5, 5, 50} {
		h.Observe(v)
	}
	b.Family("h_seconds", "histogram", "A histogram.")
	h.Write(&b, "h_seconds", Labels("table", "t"))

	fams, err := Parse(strings.NewReader(b.String()))
	require.NoError(t, err, b.String())
	require.Len(t, fams, 3)
	x := fams["x_total"]
	require.Equal(t, "counter", x.Type)
	require.Equal(t, `Help with a \\ and\na line feed.`, x.Help)
	require.Equal(t, weird, x.Samples[0].Labels["table"])
	require.Equal(t, "k", x.Samples[0].Labels["kind"])
	require.Equal(t, 3.0, x.Samples[0].Value)
	require.True(t, math.IsInf(fams["g"].Samples[0].Value, 1))

	var les []string
	var counts []float64
	for _, s := range fams["h_seconds"].Samples {
		if s.Name == "h_seconds_bucket" {
			les = append(les, s.Labels["le"])
			counts = append(counts, s.Value)
		}
	}
	require.Equal(t, []string{"0.1", "1", "10", "+Inf"}, les)
	require.Equal(t, []float64{1, 3, 4, 5}, counts, "cumulative")
	require.Equal(t, "h_seconds_sum", fams["h_seconds"].Samples[4].Name)
	require.InDelta(t, 56.05, fams["h_seconds"].Samples[4].Value, 1e-9)
	require.Equal(t, 5.0, fams["h_seconds"].Samples[5].Value)
}

func TestParseRejects(t *testing.T) {
	for name, in := range map[string]string{
		"no family":    "x 1\n",
		"bad escape":   "# HELP x h\n# TYPE x gauge\nx{a=\"\\t\"} 1\n",
		"unterminated": "# HELP x h\n# TYPE x gauge\nx{a=\"b} 1\n",
		"bad value":    "# HELP x h\n# TYPE x gauge\nx one\n",
		"repeated":     "# HELP x h\n# TYPE x gauge\nx 1\n# HELP x h\n# TYPE x gauge\n",
		"other family": "# HELP x h\n# TYPE x gauge\ny 1\n",
		"bare histo":   "# HELP x h\n# TYPE x histogram\nx 1\n",
		"bad type":     "# HELP x h\n# TYPE x thing\n",
		"dup label":    "# HELP x h\n# TYPE x gauge\nx{a=\"1\",a=\"2\"} 1\n",
		"bad name":     "# HELP x h\n# TYPE x gauge\n9x 1\n",
	} {
		_, err := Parse(strings.NewReader(in))
		require.Error(t, err, name)
	}
}

func TestHandler(t *testing.T) {
	h := Handler(func(b *Builder) {
		b.Family("up", "gauge", "Up.")
		b.Int("up", "", 1)
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, ContentType, rec.Header().Get("Content-Type"))
	require.Equal(t, "# HELP up Up.\n# TYPE up gauge\nup 1\n", rec.Body.String())
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/metrics", nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}
