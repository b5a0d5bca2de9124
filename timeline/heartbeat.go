package timeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hoodie-lake/hoodie/storage"
)

// Heartbeats. Every writer (in both concurrency modes) keeps a heartbeat for
// the instant it is writing: .hoodie/.heartbeat/<instant>, written before
// the instant's requested file exists (Begin's BeforeRequested) and
// rewritten every timeout/4 until the instant is completed or rolled back,
// then deleted. Its modification time is Hudi's heartbeat (Hudi reads
// nothing else); hoodie also puts in it who writes (host, pid and, on
// Linux, the identity of the kernel and pid namespace and the process start
// time), so that a process on the same machine can tell at once that a
// crashed writer's process is gone instead of waiting for its heartbeat to
// expire. Writers start heartbeats (StartHeartbeat); rollbacks ask whether a
// pending write's writer is alive (ProbeWriter) and delete the heartbeats
// of what they rolled back.

// HeartbeatFolder holds the heartbeat of every pending write instant,
// relative to the table base: .hoodie/.heartbeat/<instant>.
const HeartbeatFolder = MetaFolder + "/.heartbeat"

// CommitKeysFolder holds, per optimistic writer's commit, the hashes of the
// new keys it inserts (.hoodie/.aux/.commit-keys/<instant>; package writer
// writes and reads them next to its commit slot). Like the heartbeat, the
// file belongs to the instant: a rollback of the instant deletes it.
const CommitKeysFolder = MetaFolder + "/.aux/.commit-keys"

// DefaultHeartbeatTimeout is when a write instant whose heartbeat was not
// rewritten counts as failed, unless its process is known to be gone
// (Hudi: heartbeat interval 60 s).
const DefaultHeartbeatTimeout = 60 * time.Second

// ErrHeartbeatExpired reports a heartbeat that was not rewritten within its
// timeout: other processes may take its instant for a failed write and roll
// it back.
var ErrHeartbeatExpired = errors.New("timeline: heartbeat expired")

// HeartbeatPath is the key of the heartbeat of instant instantTime.
func HeartbeatPath(instantTime string) string { return HeartbeatFolder + "/" + instantTime }

// CommitKeysPath is the key of the new keys recorded by the commit of
// instant instantTime.
func CommitKeysPath(instantTime string) string { return CommitKeysFolder + "/" + instantTime }

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
var activeBeats sync.Map // instant -> *Heartbeat

// Heartbeat is the running heartbeat of one instant (StartHeartbeat). Its
// methods are safe for concurrent use.
type Heartbeat struct {
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

// StartHeartbeat writes the first heartbeat of instantTime (an error if that
// fails: a pending instant must never be seen without one) and keeps it
// fresh, rewriting it every timeout/4 from a goroutine, until Stop. A writer
// calls it from Begin's BeforeRequested.
func StartHeartbeat(ctx context.Context, st storage.Storage, instantTime string, timeout time.Duration) (*Heartbeat, error) {
	if timeout <= 0 {
		return nil, fmt.Errorf("timeline: heartbeat of %s: timeout %s is not positive", instantTime, timeout)
	}
	h := &Heartbeat{st: st, instant: instantTime, path: HeartbeatPath(instantTime), timeout: timeout,
		done: make(chan struct{}), exited: make(chan struct{})}
	activeBeats.Store(instantTime, h)
	if err := h.Beat(ctx); err != nil {
		activeBeats.Delete(instantTime)
		return nil, err
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
				_ = h.Beat(ctx) // best effort; Check reports a heartbeat gone stale
			}
		}
	}()
	return h, nil
}

// Beat rewrites the heartbeat now.
func (h *Heartbeat) Beat(ctx context.Context) error {
	start := time.Now()
	info := self()
	info.Time = start.UTC().Format(time.RFC3339Nano)
	b, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("timeline: heartbeat of %s: %w", h.instant, err)
	}
	if err := storage.WriteFile(ctx, h.st, h.path, b, storage.CreateOptions{}); err != nil {
		return fmt.Errorf("timeline: heartbeat of %s: %w", h.instant, err)
	}
	h.mu.Lock()
	h.last = start
	h.mu.Unlock()
	return nil
}

// Check fails with ErrHeartbeatExpired when the heartbeat has not been
// written for longer than its timeout: other processes may have taken the
// instant for a failed write. A writer checks right before its commit
// point.
func (h *Heartbeat) Check() error {
	h.mu.Lock()
	age := time.Since(h.last)
	h.mu.Unlock()
	if age > h.timeout {
		return fmt.Errorf("%w: the heartbeat of %s was last written %s ago (timeout %s): other writers may have rolled it back",
			ErrHeartbeatExpired, h.instant, age.Round(time.Millisecond), h.timeout)
	}
	return nil
}

// Stop ends the heartbeat and deletes its file (best effort: a leftover
// file names this process, which other processes find gone). Stop on a nil
// Heartbeat and repeated calls do nothing.
func (h *Heartbeat) Stop(ctx context.Context) {
	if h == nil {
		return
	}
	h.once.Do(func() {
		close(h.done)
		<-h.exited
		activeBeats.Delete(h.instant)
		_ = h.st.Delete(context.WithoutCancel(ctx), h.path)
	})
}

// WriterState is what the heartbeat of a pending write instant says of its
// writer (ProbeWriter).
type WriterState struct {
	Instant Instant
	// Live: the writer is taken to be alive (its instant must not be rolled
	// back).
	Live bool
	// HasHeartbeat: a heartbeat file exists.
	HasHeartbeat bool
	// Age of the heartbeat or, without one, of the instant file.
	Age time.Duration
	// Host and PID name the writer's process when hoodie wrote the
	// heartbeat (PID 0 otherwise).
	Host string
	PID  int
}

// String renders the writer for messages: "instant T, pid 1234 on host h,
// heartbeat 2s ago".
func (ws WriterState) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "instant %s", ws.Instant.Timestamp)
	if ws.PID > 0 {
		fmt.Fprintf(&sb, ", pid %d", ws.PID)
		if ws.Host != "" {
			sb.WriteString(" on host " + ws.Host)
		}
	}
	if ws.HasHeartbeat {
		fmt.Fprintf(&sb, ", heartbeat %s ago", roundAge(ws.Age))
	} else {
		fmt.Fprintf(&sb, ", no heartbeat, started %s ago", roundAge(ws.Age))
	}
	return sb.String()
}

func roundAge(d time.Duration) time.Duration {
	if d >= 10*time.Second {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}

// ProbeWriter reports whether the writer of pending instant inst is alive:
// its heartbeat is at most timeout old and, when the heartbeat names a
// process of this machine (Linux: same host name, kernel boot and pid
// namespace), that process still runs (in this process: the heartbeat is
// still running). Without a heartbeat the writer is gone when
// noBeatIsFailed (hoodie's writers heartbeat before their instant exists,
// so only a crashed or foreign single writer leaves none); else the
// instant file's age stands in for it (Hudi's rule).
func ProbeWriter(ctx context.Context, st storage.Storage, inst Instant, timeout time.Duration, noBeatIsFailed bool) (WriterState, error) {
	ws := WriterState{Instant: inst}
	p := HeartbeatPath(inst.Timestamp)
	fi, err := st.Stat(ctx, p)
	switch {
	case errors.Is(err, storage.ErrNotExist):
		if noBeatIsFailed {
			return ws, nil
		}
		ip, perr := InstantPath(inst)
		if perr != nil {
			return ws, nil
		}
		ifi, err := st.Stat(ctx, ip)
		if err != nil {
			return ws, nil // gone meanwhile
		}
		ws.Age = time.Since(ifi.ModTime)
		ws.Live = ws.Age <= timeout
		return ws, nil
	case err != nil:
		return ws, fmt.Errorf("timeline: heartbeat of %s: %w", inst.Timestamp, err)
	}
	ws.HasHeartbeat = true
	ws.Age = max(time.Since(fi.ModTime), 0)
	var info beatInfo
	if b, err := storage.ReadFile(ctx, st, p); err == nil {
		_ = json.Unmarshal(b, &info) // Hudi's heartbeats are empty
	}
	ws.Host, ws.PID = info.Host, info.PID
	ws.Live = ws.Age <= timeout
	if ws.Live && sameMachine(info) {
		me := self()
		if info.PID == me.PID && info.Start == me.Start {
			_, running := activeBeats.Load(inst.Timestamp)
			ws.Live = running
		} else if !processAlive(info.PID, info.Start) {
			ws.Live = false
		}
	}
	return ws, nil
}

// PruneHeartbeats deletes heartbeat files left behind (by a writer that
// could not delete its own): those older than timeout whose instant is not
// pending (a writer writes its heartbeat just before its instant appears,
// so the timeline is read after the listing) and that this process does
// not run.
func PruneHeartbeats(ctx context.Context, st storage.Storage, timeout time.Duration) error {
	var stale []string
	for obj, err := range st.List(ctx, HeartbeatFolder+"/", "/") {
		if err != nil {
			return fmt.Errorf("timeline: heartbeats: %w", err)
		}
		if !obj.IsDir && time.Since(obj.ModTime) > timeout {
			stale = append(stale, obj.Path)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	tl, err := Load(ctx, st)
	if err != nil {
		return err
	}
	for _, p := range stale {
		if inst, ok := tl.Find(path.Base(p)); ok && inst.State != Completed {
			continue // its instant's fate is a rollback's business
		}
		if _, ok := activeBeats.Load(path.Base(p)); ok {
			continue
		}
		if err := st.Delete(ctx, p); err != nil && !errors.Is(err, storage.ErrNotExist) {
			return fmt.Errorf("timeline: heartbeats: %w", err)
		}
	}
	return nil
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
