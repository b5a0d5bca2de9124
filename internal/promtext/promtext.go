// Package promtext writes the Prometheus text exposition format (version
// 0.0.4) without a client library, and parses it back for tests: metric
// families with HELP and TYPE lines, samples with escaped label values,
// and histograms with cumulative buckets.
package promtext

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// ContentType is the Content-Type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Builder accumulates an exposition.
type Builder struct {
	b strings.Builder
}

// Family starts a metric family: its HELP and TYPE lines.
func (b *Builder) Family(name, typ, help string) {
	help = strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(help)
	fmt.Fprintf(&b.b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// Int writes one integer sample; labels is the inside of the braces (see
// Labels), "" for none.
func (b *Builder) Int(name, labels string, v int64) {
	b.sample(name, labels, strconv.FormatInt(v, 10))
}

// Float writes one float sample.
func (b *Builder) Float(name, labels string, v float64) {
	b.sample(name, labels, FormatFloat(v))
}

func (b *Builder) sample(name, labels, v string) {
	b.b.WriteString(name)
	if labels != "" {
		b.b.WriteByte('{')
		b.b.WriteString(labels)
		b.b.WriteByte('}')
	}
	b.b.WriteByte(' ')
	b.b.WriteString(v)
	b.b.WriteByte('\n')
}

// String is the exposition written so far.
func (b *Builder) String() string { return b.b.String() }

// WriteTo writes the exposition to w.
func (b *Builder) WriteTo(w io.Writer) (int64, error) {
	n, err := io.WriteString(w, b.b.String())
	return int64(n), err
}

// FormatFloat renders a sample value as Prometheus does (+Inf, -Inf, NaN).
func FormatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// EscapeLabel escapes a label value: backslash, double quote and line feed.
func EscapeLabel(v string) string {
	if !strings.ContainsAny(v, "\\\"\n") {
		return v
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

// Labels renders name/value pairs as the inside of a sample's braces
// (a="x",b="y"), escaping the values. An odd trailing name is dropped.
func Labels(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i])
		b.WriteString(`="`)
		b.WriteString(EscapeLabel(kv[i+1]))
		b.WriteByte('"')
	}
	return b.String()
}

// join appends extra label pairs to rendered labels.
func join(labels, extra string) string {
	if labels == "" {
		return extra
	}
	return labels + "," + extra
}

// Histogram counts observations into buckets with fixed upper bounds. It
// is safe for concurrent use.
type Histogram struct {
	bounds []float64
	mu     struct {
		sync.Mutex
		counts []int64 // per bucket, not cumulative
		count  int64
		sum    float64
	}
}

// NewHistogram returns a histogram with the given ascending upper bounds
// (the +Inf bucket is implicit).
func NewHistogram(bounds []float64) *Histogram {
	h := &Histogram{bounds: append([]float64(nil), bounds...)}
	h.mu.counts = make([]int64, len(bounds))
	return h
}

// Observe adds one observation.
func (h *Histogram) Observe(v float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, ub := range h.bounds {
		if v <= ub {
			h.mu.counts[i]++
			break
		}
	}
	h.mu.count++
	h.mu.sum += v
}

// Write writes the histogram's samples (name_bucket with cumulative counts
// per le, name_sum, name_count) under labels; the caller writes the
// family's HELP and TYPE lines once.
func (h *Histogram) Write(b *Builder, name, labels string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var cum int64
	for i, ub := range h.bounds {
		cum += h.mu.counts[i]
		b.Int(name+"_bucket", join(labels, `le="`+FormatFloat(ub)+`"`), cum)
	}
	b.Int(name+"_bucket", join(labels, `le="+Inf"`), h.mu.count)
	b.Float(name+"_sum", labels, h.mu.sum)
	b.Int(name+"_count", labels, h.mu.count)
}

// Handler serves the exposition write renders on every GET.
func Handler(write func(b *Builder)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var b Builder
		write(&b)
		w.Header().Set("Content-Type", ContentType)
		_, _ = b.WriteTo(w)
	})
}

// Sample is one parsed sample line.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Family is one parsed metric family.
type Family struct {
	Name, Type, Help string
	Samples          []Sample
}

// Parse reads an exposition strictly: every sample must follow the HELP
// and TYPE lines of its family (histogram samples carry the _bucket, _sum
// and _count suffixes), label values must be quoted and correctly escaped,
// values must parse, and a family may appear once. It returns the families
// by name.
func Parse(r io.Reader) (map[string]*Family, error) {
	fams := map[string]*Family{}
	var cur *Family
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if s == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(s, "# "); ok {
			kind, rest, _ := strings.Cut(rest, " ")
			name, arg, _ := strings.Cut(rest, " ")
			switch kind {
			case "HELP":
				if f, ok := fams[name]; ok && (cur == nil || cur.Name != name || f.Help != "") {
					return nil, fmt.Errorf("promtext: line %d: family %s repeated", line, name)
				}
				if cur == nil || cur.Name != name {
					cur = &Family{Name: name}
					fams[name] = cur
				}
				cur.Help = arg
			case "TYPE":
				switch arg {
				case "counter", "gauge", "histogram", "summary", "untyped":
				default:
					return nil, fmt.Errorf("promtext: line %d: type %q", line, arg)
				}
				if cur == nil || cur.Name != name {
					if _, ok := fams[name]; ok {
						return nil, fmt.Errorf("promtext: line %d: family %s repeated", line, name)
					}
					cur = &Family{Name: name}
					fams[name] = cur
				}
				if cur.Type != "" {
					return nil, fmt.Errorf("promtext: line %d: second TYPE of %s", line, name)
				}
				cur.Type = arg
			}
			continue
		}
		smp, err := parseSample(s)
		if err != nil {
			return nil, fmt.Errorf("promtext: line %d: %w", line, err)
		}
		if cur == nil || !belongs(cur, smp.Name) {
			return nil, fmt.Errorf("promtext: line %d: sample %s outside its family", line, smp.Name)
		}
		cur.Samples = append(cur.Samples, smp)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("promtext: %w", err)
	}
	return fams, nil
}

func belongs(f *Family, name string) bool {
	if name == f.Name {
		return f.Type != "histogram"
	}
	if f.Type == "histogram" {
		return name == f.Name+"_bucket" || name == f.Name+"_sum" || name == f.Name+"_count"
	}
	return false
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

func parseSample(s string) (Sample, error) {
	smp := Sample{Labels: map[string]string{}}
	i := strings.IndexAny(s, "{ ")
	if i < 0 {
		return smp, fmt.Errorf("sample %q without a value", s)
	}
	smp.Name = s[:i]
	if !validName(smp.Name) {
		return smp, fmt.Errorf("metric name %q", smp.Name)
	}
	s = s[i:]
	if s[0] == '{' {
		s = s[1:]
		for {
			if strings.HasPrefix(s, "}") {
				s = s[1:]
				break
			}
			eq := strings.Index(s, `="`)
			if eq < 0 {
				return smp, fmt.Errorf("labels of %s: want name=\"value\"", smp.Name)
			}
			name := s[:eq]
			if !validName(name) || strings.Contains(name, ":") {
				return smp, fmt.Errorf("label name %q", name)
			}
			if _, dup := smp.Labels[name]; dup {
				return smp, fmt.Errorf("label %s repeated", name)
			}
			s = s[eq+2:]
			var v strings.Builder
			closed := false
			for j := 0; j < len(s); j++ {
				c := s[j]
				if c == '"' {
					s, closed = s[j+1:], true
					break
				}
				if c == '\n' {
					return smp, fmt.Errorf("raw line feed in label %s", name)
				}
				if c == '\\' {
					if j+1 >= len(s) {
						break
					}
					j++
					switch s[j] {
					case '\\':
						v.WriteByte('\\')
					case '"':
						v.WriteByte('"')
					case 'n':
						v.WriteByte('\n')
					default:
						return smp, fmt.Errorf("escape \\%c in label %s", s[j], name)
					}
					continue
				}
				v.WriteByte(c)
			}
			if !closed {
				return smp, fmt.Errorf("unterminated label %s", name)
			}
			smp.Labels[name] = v.String()
			s = strings.TrimPrefix(s, ",")
		}
	}
	fields := strings.Fields(s)
	if len(fields) < 1 || len(fields) > 2 {
		return smp, fmt.Errorf("value of %s: %q", smp.Name, s)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return smp, fmt.Errorf("value of %s: %w", smp.Name, err)
	}
	smp.Value = v
	return smp, nil
}
