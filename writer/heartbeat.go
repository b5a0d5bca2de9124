package writer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
)

// Heartbeats. Every writer (both concurrency modes) keeps a heartbeat for
// the instant it is writing: .hoodie/.heartbeat/<instant>, written before
// the instant's requested file exists and rewritten every
// HeartbeatTimeout/4 until the instant is completed or rolled back, then
// deleted. Its modification time is Hudi's heartbeat (Hudi reads nothing
// else); hoodie also puts in it who writes (host, pid and, on Linux, the
// identity of the kernel and pid namespace and the process start time), so
// that a writer on the same machine can tell at once that a crashed
// writer's process is gone instead of waiting for its heartbeat to expire.

// beatInfo is the content of a heartbeat file.
type beatInfo struct {
	Time  string `json:"time"`
	Host  string `json:"host,omitempty"`
	PID   int    `json:"pid,omitempty"`
	Start string `json:"start,omitempty"` // Linux: start time of PID (clock ticks since boot)
	Boot  string `json:"boot,omitempty"`  // Linux: kernel boot id
	PIDNS string `json:"pidns,omitempty"` // Linux: pid namespace of PID
}

// self is this process as heartbeats name it.
var self = sync.OnceValue(func() beatInfo {
	b := beatInfo{PID: os.Getpid()}
	b.Host, _ = os.Hostname()
	if runtime.GOOS == "linux" {
		if st, ok := procStat(b.PID); ok {
			b.Start = st.start
		}
		if id, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
			b.Boot = strings.TrimSpace(string(id))
		}
		if ns, err := os.Readlink("/proc/self/ns/pid"); err == nil {
			b.PIDNS = ns
		}
	}
	return b
})

// activeBeats holds the instants whose heartbeat this process runs now.
var activeBeats sync.Map // instant -> *heartbeat

// heartbeat is a running heartbeat of one instant.
type heartbeat struct {
	st      storage.Storage
	instant string
	path    string
	timeout time.Duration
	done    chan struct{}
	exited  chan struct{}
	once    sync.Once

	mu   sync.Mutex
	last time.Time // start of the last successful beat
}

// startHeartbeat writes instant's first heartbeat (an error if that fails:
// a pending instant must never be seen without one) and keeps it fresh
// until stop.
func startHeartbeat(ctx context.Context, st storage.Storage, instant string, timeout time.Duration) (*heartbeat, error) {
	h := &heartbeat{st: st, instant: instant, path: heartbeatFolder + instant, timeout: timeout,
		done: make(chan struct{}), exited: make(chan struct{})}
	activeBeats.Store(instant, h)
	if err := h.beat(ctx); err != nil {
		activeBeats.Delete(instant)
		return nil, fmt.Errorf("writer: heartbeat of %s: %w", instant, err)
	}
	go func() {
		defer close(h.exited)
		t := time.NewTicker(max(timeout/4, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-t.C:
				_ = h.beat(ctx) // best effort; check reports a heartbeat gone stale
			}
		}
	}()
	return h, nil
}

func (h *heartbeat) beat(ctx context.Context) error {
	start := time.Now()
	info := self()
	info.Time = start.UTC().Format(time.RFC3339Nano)
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if err := storage.WriteFile(ctx, h.st, h.path, b, storage.CreateOptions{}); err != nil {
		return err
	}
	h.mu.Lock()
	h.last = start
	h.mu.Unlock()
	return nil
}

// check fails when the heartbeat has not been written for longer than the
// timeout: other writers may take the instant for a failed one.
func (h *heartbeat) check() error {
	h.mu.Lock()
	age := time.Since(h.last)
	h.mu.Unlock()
	if age > h.timeout {
		return fmt.Errorf("%w: the heartbeat of %s was last written %s ago (timeout %s): other writers may have rolled it back",
			ErrConcurrentWriter, h.instant, age.Round(time.Millisecond), h.timeout)
	}
	return nil
}

// stop ends the heartbeat and deletes its file (best effort: a leftover
// file names this process, which other writers find gone).
func (h *heartbeat) stop(ctx context.Context) {
	h.once.Do(func() {
		close(h.done)
		<-h.exited
		activeBeats.Delete(h.instant)
		_ = h.st.Delete(context.WithoutCancel(ctx), h.path)
	})
}

// writerState is what a pending instant's heartbeat says of its writer.
type writerState struct {
	inst  timeline.Instant
	beat  bool          // a heartbeat file exists
	age   time.Duration // of the heartbeat (or, without one, of the instant file)
	info  beatInfo      // its content, if hoodie wrote it
	live  bool
	where string // "pid 1234 on host h" when known
}

// probeWriter reports whether the writer of pending instant inst is alive:
// its heartbeat is younger than timeout, and, when the heartbeat names a
// process of this machine (Linux), that process still runs (in this
// process: the heartbeat is still running). Without a heartbeat the writer
// is gone when noBeatIsFailed (hoodie's writers heartbeat before their
// instant exists, so only a crashed or foreign single writer leaves none);
// else the instant file's age stands in for it (Hudi's rule).
func probeWriter(ctx context.Context, st storage.Storage, inst timeline.Instant, timeout time.Duration, noBeatIsFailed bool) (writerState, error) {
	ws := writerState{inst: inst}
	p := heartbeatFolder + inst.Timestamp
	info, err := st.Stat(ctx, p)
	switch {
	case errors.Is(err, storage.ErrNotExist):
		if noBeatIsFailed {
			return ws, nil
		}
		ip, perr := timeline.InstantPath(inst)
		if perr != nil {
			return ws, nil
		}
		fi, err := st.Stat(ctx, ip)
		if err != nil {
			return ws, nil // gone meanwhile
		}
		ws.age = time.Since(fi.ModTime)
		ws.live = ws.age <= timeout
		return ws, nil
	case err != nil:
		return ws, fmt.Errorf("writer: heartbeat of %s: %w", inst.Timestamp, err)
	}
	ws.beat = true
	ws.age = max(time.Since(info.ModTime), 0)
	if b, err := storage.ReadFile(ctx, st, p); err == nil {
		_ = json.Unmarshal(b, &ws.info)
	}
	if ws.info.PID > 0 {
		ws.where = "pid " + strconv.Itoa(ws.info.PID)
		if ws.info.Host != "" {
			ws.where += " on host " + ws.info.Host
		}
	}
	ws.live = ws.age <= timeout
	if ws.live && sameMachine(ws.info) {
		me := self()
		if ws.info.PID == me.PID && ws.info.Start == me.Start {
			_, running := activeBeats.Load(inst.Timestamp)
			ws.live = running
		} else if !processAlive(ws.info.PID, ws.info.Start) {
			ws.live = false
		}
	}
	return ws, nil
}

// sameMachine reports whether a heartbeat was written by a process that
// this process can look up by pid: same host name, kernel boot and pid
// namespace (Linux only).
func sameMachine(b beatInfo) bool {
	me := self()
	return runtime.GOOS == "linux" && b.PID > 0 && me.Boot != "" && me.PIDNS != "" &&
		b.Host == me.Host && b.Boot == me.Boot && b.PIDNS == me.PIDNS
}

// processAlive reports whether process pid, started at start, still runs;
// true when it cannot tell.
func processAlive(pid int, start string) bool {
	st, ok := procStat(pid)
	if !ok {
		_, err := os.Stat("/proc/" + strconv.Itoa(pid))
		return !errors.Is(err, os.ErrNotExist)
	}
	if st.state == "Z" || st.state == "X" {
		return false // exited, not reaped yet
	}
	return start == "" || st.start == start // else the pid was reused
}

type pstat struct{ state, start string }

// procStat reads the state and start time of process pid from
// /proc/<pid>/stat.
func procStat(pid int) (pstat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return pstat{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return pstat{}, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return pstat{}, false
	}
	return pstat{state: f[0], start: f[19]}, true
}

// describe renders a pending instant's writer for messages.
func (ws writerState) describe() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "instant %s", ws.inst.Timestamp)
	if ws.where != "" {
		sb.WriteString(", " + ws.where)
	}
	if ws.beat {
		fmt.Fprintf(&sb, ", heartbeat %s ago", roundAge(ws.age))
	} else {
		fmt.Fprintf(&sb, ", no heartbeat, started %s ago", roundAge(ws.age))
	}
	return sb.String()
}

func roundAge(d time.Duration) time.Duration {
	if d >= 10*time.Second {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}
