package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// machine describes where the benchmark ran.
type machine struct {
	cpus                  int
	cpuModel              string
	memBytes              int64
	goVersion             string
	loadBefore, loadAfter string
}

func machineInfo() machine {
	m := machine{cpus: runtime.NumCPU(), goVersion: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpuModel = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fs := strings.Fields(sc.Text()); len(fs) >= 2 && fs[0] == "MemTotal:" {
				kb, _ := strconv.ParseInt(fs[1], 10, 64)
				m.memBytes = kb * 1024
				break
			}
		}
		_ = f.Close()
	}
	return m
}

func (m machine) describe() string {
	s := fmt.Sprintf("%d CPUs", m.cpus)
	if m.cpuModel != "" {
		s += " (" + m.cpuModel + ")"
	}
	return s + fmt.Sprintf(", %.1f GiB, %s %s/%s", float64(m.memBytes)/(1<<30), m.goVersion, runtime.GOOS, runtime.GOARCH)
}

// uptime is `uptime`'s line (else /proc/loadavg).
func uptime() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "uptime").Output(); err == nil {
		return strings.Join(strings.Fields(string(out)), " ")
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		return "load average " + strings.TrimSpace(string(b))
	}
	return "load unknown"
}

// durStats summarises durations.
type durStats struct {
	n                        int
	p50, p90, p99, max, mean time.Duration
}

func newDurStats(ds []time.Duration) durStats {
	if len(ds) == 0 {
		return durStats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(f float64) time.Duration { return s[max(0, int(math.Ceil(f*float64(len(s))))-1)] }
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return durStats{n: len(s), p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s[len(s)-1], mean: sum / time.Duration(len(s))}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// report is everything the benchmark prints.
type report struct {
	cfg     *config
	machine machine
	commit  string
	produce produceInfo
	runs    []runResult
	fresh   []freshResult
}

// table is one printed table.
type table struct {
	title  string
	header []string
	rows   [][]string
}

func (t table) text(w io.Writer) {
	fmt.Fprintln(w, t.title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(t.header, "\t")+"\t")
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
}

func (t table) markdown(w io.Writer) {
	fmt.Fprintln(w, "| "+strings.Join(t.header, " | ")+" |")
	seps := make([]string, len(t.header))
	for i := range seps {
		seps[i] = "---"
	}
	fmt.Fprintln(w, "|"+strings.Join(seps, "|")+"|")
	for _, r := range t.rows {
		fmt.Fprintln(w, "| "+strings.Join(r, " | ")+" |")
	}
	fmt.Fprintln(w)
}

func (r *report) print(w io.Writer) {
	c := r.cfg
	tables := r.tables()
	fmt.Fprintf(w, "\nhoodie stream from Kafka, %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "machine: %s\ncommit: %s\nload before: %s\nload after:  %s\n\n", r.machine.describe(), r.commit, r.machine.loadBefore, r.machine.loadAfter)
	for _, t := range tables {
		t.text(w)
	}
	fmt.Fprintf(w, "---- markdown ----\n\n")
	fmt.Fprintf(w, "Machine: %s; commit %q. Load (`uptime`) before: %s; after: %s.\n\n", r.machine.describe(), r.commit, r.machine.loadBefore, r.machine.loadAfter)
	if len(r.runs) > 0 {
		fmt.Fprintf(w, "Throughput: %s events (%.0f MB of JSON, %.0f %% updates) produced before the consumers start to a topic of %d partitions (%s events/s produced), read by `hoodie stream` processes of one consumer group into a new MOR table, `--commit-interval %s`%s; medians of %d rounds.\n\n",
			grouped(int64(r.produce.events)), float64(r.produce.bytes)/1e6, 100*c.updateShare, c.partitions,
			grouped(int64(float64(r.produce.events)/r.produce.took.Seconds())), c.commitInterval, extraArgs(c), c.rounds)
	}
	for _, t := range tables {
		if t.title != "" {
			fmt.Fprintln(w, "**"+strings.TrimSuffix(t.title, ":")+"**")
			fmt.Fprintln(w)
		}
		t.markdown(w)
	}
}

func extraArgs(c *config) string {
	if len(c.streamArgs) == 0 {
		return ""
	}
	return " `" + strings.Join(c.streamArgs, " ") + "`"
}

func (r *report) tables() []table {
	var out []table
	c := r.cfg
	if len(r.runs) > 0 {
		base := c.procs[0]
		if slices.Contains(c.procs, 1) {
			base = 1
		}
		baseEPS := map[int]float64{} // round → events/s of the base count
		for _, run := range r.runs {
			if run.procs == base {
				baseEPS[run.round] = run.eps(c.events)
			}
		}
		sum := table{title: fmt.Sprintf("Throughput (medians of %d rounds):", c.rounds),
			header: []string{"processes", "events/s", fmt.Sprintf("÷ %d process", base), "per round", "events/s after 1st commit",
				"group stable", "1st commit", "total", "commits", "peak RSS per process", "CPU per process", "events per CPU-second"}}
		for _, np := range c.procs {
			var eps, steady, stable, startup, total, commits, rss, cpu, perCPU, ratios []float64
			for _, run := range r.runs {
				if run.procs != np {
					continue
				}
				eps = append(eps, run.eps(c.events))
				steady = append(steady, run.steadyEPS(c.events))
				startup = append(startup, run.startup.Seconds())
				if run.stable > 0 {
					stable = append(stable, run.stable.Seconds())
				}
				total = append(total, run.total.Seconds())
				commits = append(commits, float64(run.commits))
				var runCPU float64
				for i := range run.rss {
					rss = append(rss, float64(run.rss[i]))
					cpu = append(cpu, run.cpu[i].Seconds())
					runCPU += run.cpu[i].Seconds()
				}
				if runCPU > 0 {
					perCPU = append(perCPU, float64(c.events)/runCPU)
				}
				if b := baseEPS[run.round]; b > 0 {
					ratios = append(ratios, run.eps(c.events)/b)
				}
			}
			var per []string
			for _, x := range ratios {
				per = append(per, fmt.Sprintf("%.2f", x))
			}
			sum.rows = append(sum.rows, []string{strconv.Itoa(np), grouped(int64(median(eps))),
				fmt.Sprintf("%.2f", median(eps)/median(baseEPSList(r.runs, base, c.events))), strings.Join(per, ", "),
				orDash(median(steady)), secsOrDash(median(stable)), fmt.Sprintf("%.1f s", median(startup)), fmt.Sprintf("%.1f s", median(total)),
				fmt.Sprintf("%.0f", median(commits)), fmt.Sprintf("%.0f MB", median(rss)/1e6), fmt.Sprintf("%.1f s", median(cpu)), orDash(median(perCPU))})
		}
		out = append(out, sum)
		runs := table{title: "Every run:",
			header: []string{"round", "processes", "events/s", "total", "group stable", "1st commit", "records in 1st commit", "commits", "peak RSS", "CPU", "rejected"}}
		for _, run := range r.runs {
			var cpus []string
			for _, d := range run.cpu {
				cpus = append(cpus, fmt.Sprintf("%.1f s", d.Seconds()))
			}
			runs.rows = append(runs.rows, []string{strconv.Itoa(run.round), strconv.Itoa(run.procs), grouped(int64(run.eps(c.events))),
				fmt.Sprintf("%.1f s", run.total.Seconds()), secsOrDash(run.stable.Seconds()), fmt.Sprintf("%.1f s", run.startup.Seconds()), grouped(run.firstRecords),
				strconv.Itoa(run.commits), mbList(run.rss), strings.Join(cpus, ", "), strconv.Itoa(run.rejected)})
		}
		out = append(out, runs)
	}
	if len(r.fresh) > 0 {
		ms := func(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
		ft := table{title: fmt.Sprintf("Freshness, produce → visible (one process, %s events/s for %s; visible: the 100 ms poll that found the commit):", grouped(int64(c.rate)), c.duration),
			header: []string{"commit interval", "events", "rate achieved", "commits", "p50", "p90", "p99", "max", "p50 / p99 by instant file time", "peak RSS", "CPU", "missing"}}
		for _, f := range r.fresh {
			ft.rows = append(ft.rows, []string{f.interval.String(), grouped(int64(f.events)), grouped(int64(float64(f.events) / f.produce.Seconds())),
				strconv.Itoa(f.commits), ms(f.seen.p50), ms(f.seen.p90), ms(f.seen.p99), ms(f.seen.max),
				ms(f.written.p50) + " / " + ms(f.written.p99), fmt.Sprintf("%.0f MB", float64(f.rss)/1e6), fmt.Sprintf("%.1f s", f.cpu.Seconds()),
				strconv.Itoa(f.missing)})
		}
		out = append(out, ft)
	}
	return out
}

func baseEPSList(runs []runResult, base, events int) []float64 {
	var out []float64
	for _, r := range runs {
		if r.procs == base {
			out = append(out, r.eps(events))
		}
	}
	return out
}

// orDash formats events/s, "–" when there is none (one commit took
// everything).
func orDash(eps float64) string {
	if eps <= 0 || math.IsNaN(eps) {
		return "–"
	}
	return grouped(int64(eps))
}

func secsOrDash(s float64) string {
	if s <= 0 || math.IsNaN(s) {
		return "–"
	}
	return fmt.Sprintf("%.1f s", s)
}

func mbList(bs []int64) string {
	var s []string
	for _, b := range bs {
		s = append(s, fmt.Sprintf("%.0f MB", float64(b)/1e6))
	}
	return strings.Join(s, ", ")
}

// grouped formats n with thousands separators.
func grouped(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
