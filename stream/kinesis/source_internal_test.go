package kinesis

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/require"
)

func TestStartOfShard(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	trim := startSpec{typ: types.ShardIteratorTypeTrimHorizon}
	latest := startSpec{typ: types.ShardIteratorTypeLatest}
	atTS := startSpec{typ: types.ShardIteratorTypeAtTimestamp, ts: ts}

	// What children inherit from a parent started at start.
	require.Equal(t, trim, childStart(startSpec{typ: types.ShardIteratorTypeAfterSequenceNumber, seq: "5"}, true))
	require.Equal(t, trim, childStart(trim, true))
	require.Equal(t, atTS, childStart(atTS, false))
	require.Equal(t, latest, childStart(latest, true), "closed before the run: nothing of it or its children was read")
	require.Equal(t, trim, childStart(latest, false), "open when read at LATEST: the children's records came later")

	for _, tc := range []struct {
		name    string
		start   string
		shard   *shard
		parents []*shard
		want    startSpec
	}{
		{"position", StartLatest, &shard{pos: "42"}, nil, startSpec{typ: types.ShardIteratorTypeAfterSequenceNumber, seq: "42"}},
		{"no parent latest", StartLatest, &shard{}, nil, latest},
		{"no parent timestamp", StartAtTimestamp, &shard{}, nil, atTS},
		{"no parent default", StartTrimHorizon, &shard{}, nil, trim},
		{"parent gone", StartLatest, &shard{parents: []string{"p0"}}, nil, latest},
		{"parent inherits", StartLatest, &shard{parents: []string{"p0"}}, []*shard{{id: "p0", childStart: trim}}, trim},
		{"merge earliest wins", StartLatest, &shard{parents: []string{"p0", "p1"}},
			[]*shard{{id: "p0", childStart: latest}, {id: "p1", childStart: trim}}, trim},
		{"merge timestamp over latest", StartLatest, &shard{parents: []string{"p0", "p1"}},
			[]*shard{{id: "p0", childStart: latest}, {id: "p1", childStart: atTS}}, atTS},
	} {
		r := &run{src: &Source{opts: Options{StartPosition: tc.start, StartTimestamp: ts}}, shards: map[string]*shard{}}
		for _, p := range tc.parents {
			p.state = shardDone
			r.shards[p.id] = p
		}
		require.Equal(t, tc.want, r.startOf(tc.shard), tc.name)
	}
}

func TestParentsDone(t *testing.T) {
	r := &run{shards: map[string]*shard{
		"p0": {id: "p0", state: shardDone},
		"p1": {id: "p1", state: shardReading},
	}}
	require.True(t, r.parentsDone(&shard{parents: []string{"p0"}}))
	require.False(t, r.parentsDone(&shard{parents: []string{"p0", "p1"}}))
	require.True(t, r.parentsDone(&shard{parents: []string{"gone"}}), "a parent no longer listed does not hold a child back")
	require.True(t, r.parentsDone(&shard{}))
}

func TestBackoff(t *testing.T) {
	require.Equal(t, 500*time.Millisecond, backoff(throttleBackoffMin, throttleBackoffMax, 1))
	require.Equal(t, time.Second, backoff(throttleBackoffMin, throttleBackoffMax, 2))
	require.Equal(t, 4*time.Second, backoff(throttleBackoffMin, throttleBackoffMax, 4))
	require.Equal(t, 5*time.Second, backoff(throttleBackoffMin, throttleBackoffMax, 5))
	require.Equal(t, 5*time.Second, backoff(throttleBackoffMin, throttleBackoffMax, 100))
}
