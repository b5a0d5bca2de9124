package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// pollEvery is how often the benchmark loads the table's timeline, as a
// reader waiting for new commits would.
const pollEvery = 100 * time.Millisecond

// stopWithin bounds a process's drain after SIGTERM.
const stopWithin = 2 * time.Minute

// produceInfo is the throughput topic's production.
type produceInfo struct {
	events int
	took   time.Duration
	bytes  int64
}

// runResult is one throughput run.
type runResult struct {
	round, procs int
	// total is from the processes' start to the table's positions at the
	// topic's end; startup to the first completed commit; stable to the
	// consumer group's being Stable with every process a member and every
	// partition assigned.
	total, startup, stable time.Duration
	firstRecords           int64 // records the first commit covered
	commits                int
	rss                    []int64 // per process, bytes
	cpu                    []time.Duration
	rejected               int // records in the error outputs
}

func (r runResult) eps(events int) float64 { return float64(events) / r.total.Seconds() }

// steadyEPS is events/s after the first commit.
func (r runResult) steadyEPS(events int) float64 {
	d := r.total - r.startup
	if d <= 0 {
		return 0
	}
	return float64(int64(events)-r.firstRecords) / d.Seconds()
}

// throughput produces the events, then runs every process count once per
// round (alternating the order between rounds).
func throughput(ctx context.Context, c *config, kc *kafkaClient, addr, bin string) (produceInfo, []runResult, error) {
	const topic = "events"
	var pi produceInfo
	if err := kc.createTopic(ctx, topic, c.partitions); err != nil {
		return pi, nil, err
	}
	logf("producing %d events to %s (%d partitions)", c.events, topic, c.partitions)
	src := newEventSource(c.seed, c.updateShare)
	p := &producer{cl: kc.cl, topic: topic}
	var bytes int64
	start := time.Now()
	for i := 0; i < c.events; i++ {
		if err := ctx.Err(); err != nil {
			return pi, nil, err
		}
		k, v, err := src.Next()
		if err != nil {
			return pi, nil, err
		}
		bytes += int64(len(k) + len(v))
		p.produce(ctx, k, v, time.Now())
	}
	if err := p.flush(ctx); err != nil {
		return pi, nil, err
	}
	pi = produceInfo{events: c.events, took: time.Since(start), bytes: bytes}
	end, err := kc.endOffsets(ctx, topic)
	if err != nil {
		return pi, nil, err
	}
	var n int64
	for _, off := range end {
		n += off
	}
	if n != int64(c.events) {
		return pi, nil, fmt.Errorf("streambench: the topic holds %d records, want %d", n, c.events)
	}
	logf("produced in %s (%.0f events/s, %.0f MB)", pi.took.Round(time.Millisecond), float64(c.events)/pi.took.Seconds(), float64(bytes)/1e6)

	var runs []runResult
	for round := 1; round <= c.rounds; round++ {
		order := slices.Clone(c.procs)
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, np := range order {
			r, err := throughputRun(ctx, c, kc, addr, bin, topic, end, round, np)
			if err != nil {
				return pi, nil, err
			}
			logf("round %d, %d process(es): %.0f events/s (%s; group stable after %s, first commit after %s, %d commits, peak RSS %s)",
				round, np, r.eps(c.events), r.total.Round(time.Millisecond), r.stable.Round(time.Millisecond), r.startup.Round(time.Millisecond), r.commits, mbList(r.rss))
			runs = append(runs, r)
		}
	}
	return pi, runs, nil
}

func throughputRun(ctx context.Context, c *config, kc *kafkaClient, addr, bin, topic string, end map[string]int64, round, np int) (runResult, error) {
	r := runResult{round: round, procs: np}
	name := fmt.Sprintf("tp-r%d-p%d", round, np)
	dir := filepath.Join(c.dir, name)
	base := filepath.Join(dir, "table")
	w, err := newTableWatch(base)
	if err != nil {
		return r, err
	}
	if !c.keep {
		defer os.RemoveAll(dir)
	}
	var ps []*proc
	defer func() {
		for _, p := range ps {
			p.kill()
		}
	}()
	t0 := time.Now()
	for i := 0; i < np; i++ {
		args := streamCmd(c, base, addr, topic, name, filepath.Join(dir, fmt.Sprintf("index%d", i)),
			filepath.Join(dir, fmt.Sprintf("errors%d.jsonl", i)), c.commitInterval)
		p, err := startProc(bin, args, filepath.Join(dir, fmt.Sprintf("stream%d.log", i)))
		if err != nil {
			return r, err
		}
		ps = append(ps, p)
	}
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-tick.C:
		}
		cs, err := w.poll(ctx)
		if err != nil {
			return r, err
		}
		if len(cs) > 0 && r.startup == 0 {
			r.startup = cs[0].seen.Sub(t0)
			for _, a := range cs[0].advances {
				r.firstRecords += a.to - a.from
			}
		}
		if r.stable == 0 && kc.stable(ctx, name, np, c.partitions) {
			r.stable = time.Since(t0)
		}
		if w.reached(end) {
			r.total = time.Since(t0)
			break
		}
		if err := checkAlive(ps); err != nil {
			return r, err
		}
		if time.Since(t0) > c.runTimeout {
			return r, fmt.Errorf("streambench: %s: the table did not reach the topic's end within %s (at %d of %d records; logs in %s)",
				name, c.runTimeout, w.records(), sumOffsets(end), dir)
		}
	}
	r.commits = w.commits
	if err := stopAll(ps, stopWithin); err != nil {
		return r, err
	}
	for _, p := range ps {
		rss, cpu := p.usage()
		r.rss, r.cpu = append(r.rss, rss), append(r.cpu, cpu)
	}
	ps = nil
	for i := 0; i < np; i++ {
		r.rejected += countLines(filepath.Join(dir, fmt.Sprintf("errors%d.jsonl", i)))
	}
	return r, nil
}

// freshResult is one freshness run.
type freshResult struct {
	interval time.Duration
	events   int
	produce  time.Duration // how long producing took (the rate achieved)
	commits  int
	seen     durStats // visible (the poll that found the commit) − produced
	written  durStats // visible (the completed instant file's mtime) − produced
	missing  int      // visible records without a produce time (must be 0)
	rss      int64
	cpu      time.Duration
	rejected int
}

// produceTimes keeps each record's produce time by partition and offset.
type produceTimes struct {
	mu struct {
		sync.Mutex
		t map[int32][]time.Time // partition → offset → time (offsets start at 0)
	}
}

func (pt *produceTimes) set(partition int32, offset int64, t time.Time) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	s := pt.mu.t[partition]
	for int64(len(s)) <= offset {
		s = append(s, time.Time{})
	}
	s[offset] = t
	pt.mu.t[partition] = s
}

func (pt *produceTimes) get(partition int32, offset int64) (time.Time, bool) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	s := pt.mu.t[partition]
	if offset < 0 || offset >= int64(len(s)) || s[offset].IsZero() {
		return time.Time{}, false
	}
	return s[offset], true
}

// visibility is a range of records that became visible with a commit.
type visibility struct {
	advance
	seen, written time.Time
}

func freshness(ctx context.Context, c *config, kc *kafkaClient, addr, bin string, interval time.Duration, i int) (freshResult, error) {
	res := freshResult{interval: interval}
	topic := fmt.Sprintf("fresh%d", i)
	name := fmt.Sprintf("fresh%d-%s", i, interval)
	dir := filepath.Join(c.dir, name)
	base := filepath.Join(dir, "table")
	if err := kc.createTopic(ctx, topic, c.partitions); err != nil {
		return res, err
	}
	w, err := newTableWatch(base)
	if err != nil {
		return res, err
	}
	if !c.keep {
		defer os.RemoveAll(dir)
	}
	logf("freshness at --commit-interval %s: %d events/s for %s", interval, c.rate, c.duration)
	p, err := startProc(bin, streamCmd(c, base, addr, topic, name, filepath.Join(dir, "index"),
		filepath.Join(dir, "errors.jsonl"), interval), filepath.Join(dir, "stream.log"))
	if err != nil {
		return res, err
	}
	defer p.kill()
	if err := kc.waitGroupStable(ctx, name, 1, c.partitions, 2*time.Minute); err != nil {
		return res, fmt.Errorf("%w (log %s)\n%s", err, p.logPath, p.tail())
	}

	// The poller: every 100 ms, the commits completed since the last poll.
	var mu sync.Mutex // guards w and vis
	var vis []visibility
	pctx, stopPoll := context.WithCancel(ctx)
	pollDone := make(chan error, 1)
	go func() {
		tick := time.NewTicker(pollEvery)
		defer tick.Stop()
		for {
			select {
			case <-pctx.Done():
				pollDone <- nil
				return
			case <-tick.C:
			}
			mu.Lock()
			cs, err := w.poll(pctx)
			for _, cm := range cs {
				for _, a := range cm.advances {
					vis = append(vis, visibility{advance: a, seen: cm.seen, written: cm.written})
				}
			}
			mu.Unlock()
			if err != nil && pctx.Err() == nil {
				pollDone <- err
				return
			}
		}
	}()
	defer stopPoll()

	pt := &produceTimes{}
	pt.mu.t = map[int32][]time.Time{}
	pr := &producer{cl: kc.cl, topic: topic, onAck: func(r *kgo.Record) { pt.set(r.Partition, r.Offset, r.Timestamp) }}
	src := newEventSource(c.seed+1000+uint64(i), c.updateShare)
	total := int(float64(c.rate) * c.duration.Seconds())
	tick := time.NewTicker(5 * time.Millisecond)
	start := time.Now()
	for sent := 0; sent < total; {
		select {
		case <-ctx.Done():
			tick.Stop()
			return res, ctx.Err()
		case <-tick.C:
		}
		want := min(total, int(float64(c.rate)*time.Since(start).Seconds()))
		for ; sent < want; sent++ {
			k, v, err := src.Next()
			if err != nil {
				tick.Stop()
				return res, err
			}
			pr.produce(ctx, k, v, time.Now())
		}
	}
	tick.Stop()
	res.produce = time.Since(start)
	if err := pr.flush(ctx); err != nil {
		return res, err
	}
	res.events = total
	end, err := kc.endOffsets(ctx, topic)
	if err != nil {
		return res, err
	}
	deadline := time.Now().Add(2*interval + c.runTimeout)
	for {
		mu.Lock()
		done := w.reached(end)
		mu.Unlock()
		if done {
			break
		}
		select {
		case err := <-pollDone:
			return res, err
		default:
		}
		if err := checkAlive([]*proc{p}); err != nil {
			return res, err
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("streambench: %s: the table did not reach the topic's end (log %s)", name, p.logPath)
		}
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return res, err
		}
	}
	stopPoll()
	if err := <-pollDone; err != nil {
		return res, err
	}
	res.commits = w.commits
	if err := p.stop(stopWithin); err != nil {
		return res, err
	}
	res.rss, res.cpu = p.usage()
	res.rejected = countLines(filepath.Join(dir, "errors.jsonl"))

	var seen, written []time.Duration
	for _, v := range vis {
		part, err := unitPartition(v.unit)
		if err != nil {
			return res, err
		}
		for off := v.from; off < v.to; off++ {
			t, ok := pt.get(part, off)
			if !ok {
				res.missing++
				continue
			}
			seen = append(seen, v.seen.Sub(t))
			written = append(written, v.written.Sub(t))
		}
	}
	res.seen, res.written = newDurStats(seen), newDurStats(written)
	logf("freshness at %s: p50 %s, p99 %s, max %s over %d records, %d commits",
		interval, res.seen.p50.Round(time.Millisecond), res.seen.p99.Round(time.Millisecond), res.seen.max.Round(time.Millisecond), res.seen.n, res.commits)
	return res, nil
}

func unitPartition(unit string) (int32, error) {
	i := strings.LastIndexByte(unit, '/')
	n, err := strconv.ParseInt(unit[i+1:], 10, 32)
	if err != nil {
		return 0, fmt.Errorf("streambench: unit %q: %w", unit, err)
	}
	return int32(n), nil
}

func sumOffsets(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// countLines counts the lines of a file (0 if absent).
func countLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	n := 0
	for sc.Scan() {
		n++
	}
	return n
}
