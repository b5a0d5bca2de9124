package timeline_test

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"testing"
	"time"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFileNameRoundTrip(t *testing.T) {
	ts := "20240418173213674"
	cases := []struct {
		inst timeline.Instant
		name string
	}{
		{timeline.Instant{ts, timeline.Commit, timeline.Requested}, ts + ".commit.requested"},
		{timeline.Instant{ts, timeline.Commit, timeline.Inflight}, ts + ".inflight"},
		{timeline.Instant{ts, timeline.Commit, timeline.Completed}, ts + ".commit"},
		{timeline.Instant{ts, timeline.DeltaCommit, timeline.Requested}, ts + ".deltacommit.requested"},
		{timeline.Instant{ts, timeline.DeltaCommit, timeline.Inflight}, ts + ".deltacommit.inflight"},
		{timeline.Instant{ts, timeline.DeltaCommit, timeline.Completed}, ts + ".deltacommit"},
		{timeline.Instant{ts, timeline.ReplaceCommit, timeline.Requested}, ts + ".replacecommit.requested"},
		{timeline.Instant{ts, timeline.ReplaceCommit, timeline.Inflight}, ts + ".replacecommit.inflight"},
		{timeline.Instant{ts, timeline.ReplaceCommit, timeline.Completed}, ts + ".replacecommit"},
		{timeline.Instant{ts, timeline.Compaction, timeline.Requested}, ts + ".compaction.requested"},
		{timeline.Instant{ts, timeline.Compaction, timeline.Inflight}, ts + ".compaction.inflight"},
		{timeline.Instant{ts, timeline.LogCompaction, timeline.Requested}, ts + ".logcompaction.requested"},
		{timeline.Instant{ts, timeline.LogCompaction, timeline.Inflight}, ts + ".logcompaction.inflight"},
		{timeline.Instant{ts, timeline.Clean, timeline.Requested}, ts + ".clean.requested"},
		{timeline.Instant{ts, timeline.Clean, timeline.Inflight}, ts + ".clean.inflight"},
		{timeline.Instant{ts, timeline.Clean, timeline.Completed}, ts + ".clean"},
		{timeline.Instant{ts, timeline.Rollback, timeline.Requested}, ts + ".rollback.requested"},
		{timeline.Instant{ts, timeline.Rollback, timeline.Inflight}, ts + ".rollback.inflight"},
		{timeline.Instant{ts, timeline.Rollback, timeline.Completed}, ts + ".rollback"},
		{timeline.Instant{ts, timeline.Restore, timeline.Completed}, ts + ".restore"},
		{timeline.Instant{ts, timeline.Indexing, timeline.Requested}, ts + ".indexing.requested"},
		{timeline.Instant{ts, timeline.Savepoint, timeline.Inflight}, ts + ".savepoint.inflight"},
		{timeline.Instant{ts, timeline.Savepoint, timeline.Completed}, ts + ".savepoint"},
	}
	for _, c := range cases {
		name, err := c.inst.FileName()
		require.NoError(t, err, c.inst)
		assert.Equal(t, c.name, name)
		got, ok := timeline.ParseFileName(name)
		require.True(t, ok, name)
		assert.Equal(t, c.inst, got)
	}
	// A completed compaction is a commit.
	name, err := timeline.Instant{ts, timeline.Compaction, timeline.Completed}.FileName()
	require.NoError(t, err)
	assert.Equal(t, ts+".commit", name)
	name, err = timeline.Instant{ts, timeline.LogCompaction, timeline.Completed}.FileName()
	require.NoError(t, err)
	assert.Equal(t, ts+".deltacommit", name)
	_, err = timeline.Instant{ts, timeline.Savepoint, timeline.Requested}.FileName()
	require.ErrorIs(t, err, timeline.ErrInvalidInstant)
	_, err = timeline.Instant{"2024", timeline.Commit, timeline.Completed}.FileName()
	require.ErrorIs(t, err, timeline.ErrInvalidInstant)
}

func TestParseFileNameIgnoresOthers(t *testing.T) {
	for _, n := range []string{
		"hoodie.properties", "hoodie.properties.backup", ".aux", "archived", "20240418173213674",
		"20240418173213674.commit.inflight", "20240418173213674.compaction", "20240418173213674.savepoint.requested",
		"2024041817321367x.commit", "20240418173213674.bogus", "20240418173213674.commit.requested.crc", "",
	} {
		_, ok := timeline.ParseFileName(n)
		assert.False(t, ok, n)
	}
	inst, ok := timeline.ParseFileName("20240418173213.commit") // legacy 14 digits
	require.True(t, ok)
	assert.Equal(t, "20240418173213", inst.Timestamp)
}

func TestInstantTimes(t *testing.T) {
	now := time.Date(2024, 4, 18, 17, 32, 13, 674_999_999, time.UTC)
	assert.Equal(t, "20240418173213674", timeline.FormatInstantTime(now))
	assert.Equal(t, "20240418173213674", timeline.FormatInstantTime(now.In(time.FixedZone("CDT", -5*3600))))
	assert.Equal(t, "20240418173213674", timeline.NextInstantTime(now, "20240418173213673"))
	assert.Equal(t, "20240418173213675", timeline.NextInstantTime(now, "20240418173213674"))
	assert.Equal(t, "20240418173214000", timeline.NextInstantTime(now, "20240418173213999"))
	got, err := timeline.ParseInstantTime("20240418173213674")
	require.NoError(t, err)
	assert.Equal(t, now.Truncate(time.Millisecond), got)
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	tx, err := timeline.Begin(ctx, st, timeline.Commit, nil, timeline.BeginOptions{})
	require.NoError(t, err)
	inst := tx.Instant()
	assert.Equal(t, timeline.Requested, inst.State)

	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	require.Len(t, tl.Instants(), 1)
	assert.Empty(t, tl.CompletedCommits())
	assert.Len(t, tl.Pending(), 1)

	require.NoError(t, tx.Inflight(ctx, []byte("{}")))
	require.ErrorIs(t, tx.Inflight(ctx, []byte("{}")), timeline.ErrBadTransition)
	md := &timeline.CommitMetadata{OperationType: timeline.OpUpsert, ExtraMetadata: map[string]string{"schema": "{}"}}
	b, err := md.Marshal()
	require.NoError(t, err)
	infl := tx.Instant()
	require.NoError(t, tx.Complete(ctx, b))
	done := tx.Instant()
	assert.Equal(t, timeline.Completed, done.State)
	// A retried completion with the same content is the same commit (S3
	// reports a lost-response retry of a conditional PUT as a conflict);
	// any other content is refused: the completed file appears only once.
	again, err := timeline.Resume(st, infl)
	require.NoError(t, err)
	require.NoError(t, again.Complete(ctx, b))
	other, err := timeline.Resume(st, infl)
	require.NoError(t, err)
	require.ErrorIs(t, other.Complete(ctx, []byte(`{"other":1}`)), timeline.ErrAlreadyCompleted)
	got0, err := timeline.ReadInstant(ctx, st, done)
	require.NoError(t, err)
	assert.Equal(t, b, got0)

	tl, err = timeline.Load(ctx, st)
	require.NoError(t, err)
	last, ok := tl.LastCompletedCommit()
	require.True(t, ok)
	assert.Equal(t, done, last)
	assert.True(t, tl.IsCompleted(inst.Timestamp))
	got, err := timeline.ReadCommitMetadata(ctx, st, last)
	require.NoError(t, err)
	assert.Equal(t, "{}", got.Schema())
	assert.Equal(t, timeline.OpUpsert, got.OperationType)

	// Compactions complete as commits.
	c, err := timeline.Begin(ctx, st, timeline.Compaction, []byte("plan"), timeline.BeginOptions{})
	require.NoError(t, err)
	require.Greater(t, c.InstantTime(), inst.Timestamp)
	require.NoError(t, c.Inflight(ctx, nil))
	tl, err = timeline.Load(ctx, st)
	require.NoError(t, err)
	require.Len(t, tl.PendingCompactions(), 1)
	require.NoError(t, c.Complete(ctx, b))
	cc := c.Instant()
	assert.Equal(t, timeline.Commit, cc.Action)
	tl, err = timeline.Load(ctx, st)
	require.NoError(t, err)
	assert.Empty(t, tl.PendingCompactions())
	assert.Len(t, tl.CompletedCommits(), 2)

	// A failed write's pending files can be removed; completed ones cannot.
	f, err := timeline.Begin(ctx, st, timeline.DeltaCommit, nil, timeline.BeginOptions{})
	require.NoError(t, err)
	require.NoError(t, f.Inflight(ctx, nil))
	require.NoError(t, f.Abort(ctx))
	require.ErrorIs(t, c.Abort(ctx), timeline.ErrBadTransition)
	tl, err = timeline.Load(ctx, st)
	require.NoError(t, err)
	_, found := tl.Find(f.InstantTime())
	assert.False(t, found)
}

// TestClaimSameMillisecond has writers ask for instants with one frozen
// clock, as two processes would in the same millisecond: every instant time
// is unique, and each writer's are strictly increasing.
func TestClaimSameMillisecond(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	frozen := time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	clock := func() time.Time { return frozen }
	const writers, each = 4, 25
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			last := ""
			for i := 0; i < each; i++ {
				action := timeline.Commit
				if i%2 == 1 {
					action = timeline.Clean // different actions must not share a time either
				}
				tx, err := timeline.BeginAt(ctx, st, action, nil, clock)
				if err != nil {
					errs <- err
					return
				}
				inst := tx.Instant()
				if inst.Timestamp <= last {
					errs <- fmt.Errorf("writer %d: %s not after %s", w, inst.Timestamp, last)
					return
				}
				last = inst.Timestamp
				mu.Lock()
				if seen[inst.Timestamp] {
					mu.Unlock()
					errs <- fmt.Errorf("duplicate instant %s", inst.Timestamp)
					return
				}
				seen[inst.Timestamp] = true
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Len(t, seen, writers*each)
	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	assert.Len(t, tl.Instants(), writers*each)

	n, err := timeline.PruneClaims(ctx, st, tl.LastInstantTime())
	require.NoError(t, err)
	assert.Equal(t, writers*each-1, n)
}

// countingStore counts List and OpenRange calls to prove Load lists once.
type countingStore struct {
	storage.Storage
	lists int
}

func (c *countingStore) List(ctx context.Context, prefix, delim string) iter.Seq2[storage.ObjectInfo, error] {
	c.lists++
	return c.Storage.List(ctx, prefix, delim)
}

func TestLoadIsOneList(t *testing.T) {
	ctx := context.Background()
	mem := storage.NewMem()
	for i := 0; i < 20; i++ {
		tx, err := timeline.Begin(ctx, mem, timeline.DeltaCommit, nil, timeline.BeginOptions{})
		require.NoError(t, err)
		require.NoError(t, tx.Complete(ctx, []byte("{}")))
	}
	require.NoError(t, storage.WriteFile(ctx, mem, ".hoodie/hoodie.properties", []byte("x=y"), storage.CreateOptions{}))
	cs := &countingStore{Storage: mem}
	tl, err := timeline.Load(ctx, cs)
	require.NoError(t, err)
	assert.Equal(t, 1, cs.lists)
	assert.Len(t, tl.CompletedCommits(), 20)
	for _, i := range tl.Instants() {
		assert.Equal(t, int64(2), tl.Size(i))
	}
}

func TestIsWriterInstant(t *testing.T) {
	tl := timeline.FromInstants([]timeline.Instant{
		{Timestamp: "20260101000000001", Action: timeline.Commit, State: timeline.Completed},
		{Timestamp: "20260101000000002", Action: timeline.DeltaCommit, State: timeline.Inflight},
		{Timestamp: "20260101000000003", Action: timeline.Compaction, State: timeline.Inflight},
		{Timestamp: "20260101000000004", Action: timeline.Clean, State: timeline.Completed},
		{Timestamp: "20260101000000005", Action: timeline.ReplaceCommit, State: timeline.Requested},
		{Timestamp: "20260101000000006", Action: timeline.Rollback, State: timeline.Completed},
	})
	want := []bool{true, true, false, false, true, false}
	for i, inst := range tl.Instants() {
		if got := tl.IsWriterInstant(inst); got != want[i] {
			t.Errorf("%v: IsWriterInstant = %v, want %v", inst, got, want[i])
		}
	}
}
