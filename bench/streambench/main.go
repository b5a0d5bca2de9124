// Command streambench measures `hoodie stream` from Kafka: throughput with
// one and with several processes in one consumer group, and end-to-end
// freshness (produce → visible to a reader polling the table's timeline).
// It is a program, not a test: speeds are printed, never asserted.
//
//	go run ./bench/streambench                                  # the README's run (about 7 minutes here)
//	go run ./bench/streambench --events 500000 --fresh-intervals 5s   # about 4 minutes
//	go run ./bench/streambench --events 200000 --rounds 1 --duration 20s --fresh-intervals 5s
//	go run ./bench/streambench --procs 1,2,3 --stream-args '--commit-records 200000'
//	go run ./bench/streambench --keep --dir /tmp/sb              # keep the tables and each process's log
//
// It starts a Kafka broker with scripts/kafka.sh (in a temporary directory,
// stopped at the end), builds cmd/hoodie with `go build -o`, and runs:
//
// Throughput. --events game events (bench/workload's generator: uuid keys,
// event times over two days, dt/game_id/region partitions, 2 % in-batch
// retries, and --update-share new versions of earlier events) are produced
// to a topic of --partitions partitions, keyed by uuid, before any consumer
// starts. Then, for each round (--rounds) and each process count of
// --procs, that many `hoodie stream` processes in a fresh consumer group
// write a fresh merge-on-read table (key uuid, precombine time, partitions
// dt/game_id/region, hive-style) with --commit-interval and the command's
// other defaults. The run ends when the table's merged positions (the
// largest per partition over the completed commits' hoodie.stream.positions)
// reach the topic's end offsets, found by polling the timeline every 100 ms.
// Reported: events/s (events ÷ time from the processes' start), the time to
// the first commit (startup), events/s after the first commit, commits,
// each process's peak RSS (wait4's maxrss) and CPU time, events per
// CPU-second of all the processes; medians over the rounds, and the ratio
// of each process count's events/s to one process's (of the medians, and
// per round), and the time until the group is stable with every process a
// member and every partition assigned. The last commit of a run waits for
// --commit-interval after its first record, so a run's time includes up to
// one interval of tail.
//
// Freshness. One process with commit interval I (each of
// --fresh-intervals) reads a new topic; once its group is stable, events are
// produced at --rate per second for --duration, each record's produce time
// kept by (partition, offset) from the produce results. A poller loads the
// timeline every 100 ms: when a commit completes, every record between the
// previous and the new position of its partition became visible at that
// moment (the poll that found it; also reported: the completed instant
// file's modification time). Freshness = visible − produced: p50, p90, p99,
// max.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	events         int
	rounds         int
	procs          []int
	partitions     int
	updateShare    float64
	seed           uint64
	commitInterval time.Duration
	rate           int
	duration       time.Duration
	freshIntervals []time.Duration
	dir            string
	keep           bool
	runTimeout     time.Duration
	streamArgs     []string
	root           string
	script         string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func parseFlags() (*config, error) {
	c := &config{}
	var procs, intervals, extra string
	flag.IntVar(&c.events, "events", 1_000_000, "throughput: events produced before the consumers start (0: no throughput runs)")
	flag.IntVar(&c.rounds, "rounds", 3, "throughput: rounds (each runs every process count once); medians over them")
	flag.StringVar(&procs, "procs", "1,2", "throughput: process counts, comma-separated")
	flag.IntVar(&c.partitions, "partitions", 6, "partitions of the topics")
	flag.Float64Var(&c.updateShare, "update-share", 0.1, "share of events that are new versions of earlier events")
	flag.Uint64Var(&c.seed, "seed", 1, "generator seed")
	flag.DurationVar(&c.commitInterval, "commit-interval", 5*time.Second, "throughput: hoodie stream --commit-interval")
	flag.IntVar(&c.rate, "rate", 5000, "freshness: events produced per second")
	flag.DurationVar(&c.duration, "duration", time.Minute, "freshness: how long to produce (0: no freshness runs)")
	flag.StringVar(&intervals, "fresh-intervals", "5s,1s", "freshness: commit intervals, comma-separated, one run each")
	flag.StringVar(&c.dir, "dir", "", "working directory (default: a new temporary directory, removed at the end)")
	flag.BoolVar(&c.keep, "keep", false, "keep the working directory (tables, logs)")
	flag.DurationVar(&c.runTimeout, "run-timeout", 10*time.Minute, "longest a single run may take")
	flag.StringVar(&extra, "stream-args", "", "more hoodie stream flags for every process, space-separated")
	flag.Parse()
	if flag.NArg() > 0 {
		return nil, fmt.Errorf("streambench: unexpected arguments %q", flag.Args())
	}
	for _, s := range strings.Split(procs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("streambench: --procs %q: want positive counts", procs)
		}
		c.procs = append(c.procs, n)
	}
	for _, s := range strings.Split(intervals, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("streambench: --fresh-intervals %q: want durations", intervals)
		}
		c.freshIntervals = append(c.freshIntervals, d)
	}
	c.streamArgs = strings.Fields(extra)
	switch {
	case c.events < 0 || c.rounds < 1 || c.partitions < 1 || c.rate < 1 || c.duration < 0:
		return nil, fmt.Errorf("streambench: --events, --rounds, --partitions, --rate and --duration must be positive")
	case c.updateShare < 0 || c.updateShare >= 1:
		return nil, fmt.Errorf("streambench: --update-share must be in [0, 1)")
	case c.commitInterval <= 0 || c.runTimeout <= 0:
		return nil, fmt.Errorf("streambench: --commit-interval and --run-timeout must be positive")
	}
	return c, nil
}

// repoRoot is the directory of the main module's go.mod.
func repoRoot(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("streambench: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("streambench: not inside the hoodie module (run it from the repository)")
	}
	root := filepath.Dir(gomod)
	if _, err := os.Stat(filepath.Join(root, "scripts", "kafka.sh")); err != nil {
		return "", fmt.Errorf("streambench: %s has no scripts/kafka.sh: run it from the hoodie repository", root)
	}
	return root, nil
}

func run() error {
	c, err := parseFlags()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.root, err = repoRoot(ctx); err != nil {
		return err
	}
	c.script = filepath.Join(c.root, "scripts", "kafka.sh")
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "streambench-"); err != nil {
			return fmt.Errorf("streambench: %w", err)
		}
		if !c.keep {
			defer os.RemoveAll(c.dir)
		}
	} else if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("streambench: %w", err)
	}
	m := machineInfo()
	m.loadBefore = uptime()
	logf("machine: %s; %s", m.describe(), m.loadBefore)

	bin := filepath.Join(c.dir, "hoodie")
	logf("building cmd/hoodie")
	bctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	out, err := exec.CommandContext(bctx, "go", "-C", c.root, "build", "-o", bin, "./cmd/hoodie").CombinedOutput()
	cancel()
	if err != nil {
		return fmt.Errorf("streambench: go build ./cmd/hoodie: %w\n%s", err, out)
	}
	commit := gitDescribe(ctx, c.root)

	logf("starting Kafka (scripts/kafka.sh)")
	b, err := startBroker(ctx, c.script, filepath.Join(c.dir, "kafka"))
	if err != nil {
		return err
	}
	defer func() {
		if err := b.stop(); err != nil {
			logf("%v", err)
		}
	}()
	logf("broker at %s", b.addr)
	kc, err := newKafkaClient(b.addr)
	if err != nil {
		return err
	}
	defer kc.close()

	rep := &report{cfg: c, machine: m, commit: commit}
	if c.events > 0 {
		if rep.produce, rep.runs, err = throughput(ctx, c, kc, b.addr, bin); err != nil {
			return err
		}
	}
	if c.duration > 0 {
		for i, iv := range c.freshIntervals {
			f, err := freshness(ctx, c, kc, b.addr, bin, iv, i)
			if err != nil {
				return err
			}
			rep.fresh = append(rep.fresh, f)
		}
	}
	rep.machine.loadAfter = uptime()
	logf("done; %s", rep.machine.loadAfter)
	rep.print(os.Stdout)
	return nil
}

// streamCmd is the command line of one hoodie stream process.
func streamCmd(c *config, base, addr, topic, group, idx, errs string, interval time.Duration) []string {
	args := []string{"stream", "--table", base, "--type", "mor",
		"--key", "uuid", "--precombine", "time", "--partition", "dt,game_id,region", "--hive-style",
		"--kafka-brokers", addr, "--topic", topic, "--group", group,
		"--commit-interval", interval.String(), "--index-dir", idx, "--errors", errs}
	return append(args, c.streamArgs...)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s streambench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func gitDescribe(ctx context.Context, root string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "-C", root, "log", "-1", "--format=%h %s").Output()
	if err != nil {
		return "unknown"
	}
	s := strings.TrimSpace(string(out))
	if r := []rune(s); len(r) > 70 {
		s = string(r[:69]) + "…"
	}
	if st, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		s += " + uncommitted changes"
	}
	return s
}
