package timeline

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/storage"
)

func newHeartbeatStore(t *testing.T) storage.Storage {
	t.Helper()
	st, err := storage.NewLocal(t.TempDir())
	require.NoError(t, err)
	return st
}

// writeBeat writes a heartbeat file for ts naming process b.
func writeBeat(t *testing.T, st storage.Storage, ts string, b beatInfo) {
	t.Helper()
	b.Time = time.Now().UTC().Format(time.RFC3339Nano)
	js, err := json.Marshal(b)
	require.NoError(t, err)
	require.NoError(t, storage.WriteFile(context.Background(), st, HeartbeatPath(ts), js, storage.CreateOptions{}))
}

// TestHeartbeatLifecycle: the heartbeat file names this process while the
// heartbeat runs, is rewritten, and goes with Stop; Check fails once the
// heartbeat was not rewritten within its timeout.
func TestHeartbeatLifecycle(t *testing.T) {
	ctx := context.Background()
	st := newHeartbeatStore(t)
	const ts = "20240101000000000"
	h, err := StartHeartbeat(ctx, st, ts, 40*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, ".hoodie/.heartbeat/"+ts, HeartbeatPath(ts))
	b, err := storage.ReadFile(ctx, st, HeartbeatPath(ts))
	require.NoError(t, err)
	var info beatInfo
	require.NoError(t, json.Unmarshal(b, &info))
	require.Equal(t, os.Getpid(), info.PID)
	require.NotEmpty(t, info.Time)
	first, err := st.Stat(ctx, HeartbeatPath(ts))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		fi, err := st.Stat(ctx, HeartbeatPath(ts))
		return err == nil && fi.ModTime.After(first.ModTime)
	}, 5*time.Second, 5*time.Millisecond, "rewritten every timeout/4")
	require.NoError(t, h.Check())

	h.mu.Lock()
	h.last = time.Now().Add(-time.Second)
	h.mu.Unlock()
	require.ErrorIs(t, h.Check(), ErrHeartbeatExpired)

	h.Stop(ctx)
	h.Stop(ctx) // again: nothing
	_, err = st.Stat(ctx, HeartbeatPath(ts))
	require.ErrorIs(t, err, storage.ErrNotExist)
	var none *Heartbeat
	none.Stop(ctx)

	_, err = StartHeartbeat(ctx, st, ts, 0)
	require.Error(t, err)
}

// TestProbeWriter covers the rules of ProbeWriter: a heartbeat counts while
// it is younger than the timeout, unless it names a process of this
// machine that is gone; without one, the instant file's age stands in, or
// the writer is gone when noBeatIsFailed.
func TestProbeWriter(t *testing.T) {
	ctx := context.Background()
	st := newHeartbeatStore(t)
	tx, err := Begin(ctx, st, Commit, nil, BeginOptions{})
	require.NoError(t, err)
	inst := tx.Instant()

	ws, err := ProbeWriter(ctx, st, inst, time.Hour, true)
	require.NoError(t, err)
	require.False(t, ws.Live, "no heartbeat, single writer: failed")
	ws, err = ProbeWriter(ctx, st, inst, time.Hour, false)
	require.NoError(t, err)
	require.True(t, ws.Live, "no heartbeat, optimistic: the instant is young")
	require.Contains(t, ws.String(), "instant "+inst.Timestamp+", no heartbeat, started ")
	time.Sleep(20 * time.Millisecond)
	ws, err = ProbeWriter(ctx, st, inst, 10*time.Millisecond, false)
	require.NoError(t, err)
	require.False(t, ws.Live, "no heartbeat, optimistic: the instant is old")

	writeBeat(t, st, inst.Timestamp, beatInfo{Host: "elsewhere", PID: 4242})
	ws, err = ProbeWriter(ctx, st, inst, time.Hour, true)
	require.NoError(t, err)
	require.True(t, ws.Live)
	require.True(t, ws.HasHeartbeat)
	require.Equal(t, 4242, ws.PID)
	require.Contains(t, ws.String(), "instant "+inst.Timestamp+", pid 4242 on host elsewhere, heartbeat ")
	time.Sleep(20 * time.Millisecond)
	ws, err = ProbeWriter(ctx, st, inst, 10*time.Millisecond, true)
	require.NoError(t, err)
	require.False(t, ws.Live, "expired")

	// Hudi's heartbeats are empty files: only their age counts.
	require.NoError(t, storage.WriteFile(ctx, st, HeartbeatPath(inst.Timestamp), nil, storage.CreateOptions{}))
	ws, err = ProbeWriter(ctx, st, inst, time.Hour, true)
	require.NoError(t, err)
	require.True(t, ws.Live)
	require.Zero(t, ws.PID)
}

// TestProbeWriterSameMachine: a fresh heartbeat naming a process of this
// machine is live while that process runs; this process's own heartbeats
// are live while they run.
func TestProbeWriterSameMachine(t *testing.T) {
	if me := self(); runtime.GOOS != "linux" || me.Boot == "" || me.PIDNS == "" {
		t.Skip("process lookup by pid needs Linux's /proc")
	}
	ctx := context.Background()
	st := newHeartbeatStore(t)
	inst := Instant{Timestamp: "20240101000000000", Action: Commit, State: Inflight}

	cmd := exec.Command("sleep", "60")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ps, ok := procStat(cmd.Process.Pid)
	require.True(t, ok)
	other := self()
	other.PID, other.Start = cmd.Process.Pid, ps.start
	writeBeat(t, st, inst.Timestamp, other)
	ws, err := ProbeWriter(ctx, st, inst, time.Hour, true)
	require.NoError(t, err)
	require.True(t, ws.Live, "its process runs")
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	ws, err = ProbeWriter(ctx, st, inst, time.Hour, true)
	require.NoError(t, err)
	require.False(t, ws.Live, "its process is gone")

	other.Start = "1" // the pid of a process that started at another time
	other.PID = os.Getppid()
	writeBeat(t, st, inst.Timestamp, other)
	ws, err = ProbeWriter(ctx, st, inst, time.Hour, true)
	require.NoError(t, err)
	require.False(t, ws.Live, "the pid was reused")

	h, err := StartHeartbeat(ctx, st, inst.Timestamp, time.Hour)
	require.NoError(t, err)
	ws, err = ProbeWriter(ctx, st, inst, time.Hour, true)
	require.NoError(t, err)
	require.True(t, ws.Live, "this process runs it")
	h.Stop(ctx)
	writeBeat(t, st, inst.Timestamp, self())
	ws, err = ProbeWriter(ctx, st, inst, time.Hour, true)
	require.NoError(t, err)
	require.False(t, ws.Live, "this process no longer runs it")
}

// TestPruneHeartbeats: stale heartbeats of instants that are not pending
// go; those of pending instants, fresh ones and running ones stay.
func TestPruneHeartbeats(t *testing.T) {
	ctx := context.Background()
	st := newHeartbeatStore(t)
	tx, err := Begin(ctx, st, Commit, nil, BeginOptions{})
	require.NoError(t, err)
	pending := tx.Instant().Timestamp
	const gone, running = "20200101000000000", "20200102000000000"
	writeBeat(t, st, pending, beatInfo{})
	writeBeat(t, st, gone, beatInfo{})
	h, err := StartHeartbeat(ctx, st, running, time.Hour)
	require.NoError(t, err)
	defer h.Stop(ctx)

	require.NoError(t, PruneHeartbeats(ctx, st, time.Hour))
	requireBeats(t, st, gone, running, pending)
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, PruneHeartbeats(ctx, st, 10*time.Millisecond))
	requireBeats(t, st, running, pending)
}

func requireBeats(t *testing.T, st storage.Storage, want ...string) {
	t.Helper()
	var got []string
	for obj, err := range st.List(context.Background(), HeartbeatFolder+"/", "/") {
		require.NoError(t, err)
		got = append(got, obj.Path)
	}
	var paths []string
	for _, ts := range want {
		paths = append(paths, HeartbeatPath(ts))
	}
	require.Equal(t, paths, got)
}
