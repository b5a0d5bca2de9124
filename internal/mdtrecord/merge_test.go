package mdtrecord

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func files(key string, entries map[string]FileInfo) Record {
	return Record{Key: key, Type: TypeFiles, Files: entries}
}

func live(size int64) FileInfo { return FileInfo{Size: size} }

var gone = FileInfo{Deleted: true}

func TestMergeFiles(t *testing.T) {
	tests := []struct {
		name         string
		older, newer map[string]FileInfo
		want         map[string]FileInfo
		wantLive     map[string]int64
	}{{
		name:     "add",
		older:    map[string]FileInfo{"a": live(10)},
		newer:    map[string]FileInfo{"b": live(20)},
		want:     map[string]FileInfo{"a": live(10), "b": live(20)},
		wantLive: map[string]int64{"a": 10, "b": 20},
	}, {
		name:     "grow keeps the larger size",
		older:    map[string]FileInfo{"a": live(30)},
		newer:    map[string]FileInfo{"a": live(20)},
		want:     map[string]FileInfo{"a": live(30)},
		wantLive: map[string]int64{"a": 30},
	}, {
		name:     "delete drops entry and tombstone",
		older:    map[string]FileInfo{"a": live(10), "b": live(20)},
		newer:    map[string]FileInfo{"a": gone},
		want:     map[string]FileInfo{"b": live(20)},
		wantLive: map[string]int64{"b": 20},
	}, {
		name:     "delete of unknown file keeps the tombstone",
		older:    map[string]FileInfo{"b": live(20)},
		newer:    map[string]FileInfo{"a": gone},
		want:     map[string]FileInfo{"a": gone, "b": live(20)},
		wantLive: map[string]int64{"b": 20},
	}, {
		name:     "repeated delete keeps the tombstone",
		older:    map[string]FileInfo{"a": gone},
		newer:    map[string]FileInfo{"a": gone},
		want:     map[string]FileInfo{"a": gone},
		wantLive: map[string]int64{},
	}, {
		name:     "re-add after delete",
		older:    map[string]FileInfo{"a": gone},
		newer:    map[string]FileInfo{"a": live(5)},
		want:     map[string]FileInfo{"a": live(5)},
		wantLive: map[string]int64{"a": 5},
	}, {
		name:     "empty older",
		newer:    map[string]FileInfo{"a": live(5), "b": gone},
		want:     map[string]FileInfo{"a": live(5), "b": gone},
		wantLive: map[string]int64{"a": 5},
	}, {
		name:     "empty newer",
		older:    map[string]FileInfo{"a": live(5)},
		want:     map[string]FileInfo{"a": live(5)},
		wantLive: map[string]int64{"a": 5},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			older, newer := files("p", tc.older), files("p", tc.newer)
			got, err := Merge(older, newer)
			require.NoError(t, err)
			require.Equal(t, files("p", tc.want), got)
			require.Equal(t, tc.wantLive, Live(got))
			// The inputs are left alone.
			require.Equal(t, files("p", tc.older), older)
			require.Equal(t, files("p", tc.newer), newer)
		})
	}
}

// TestMergeLogsThenBase replays Hudi's two-stage merge: the log records are
// merged first, then the base file's record under them. A file deleted in
// the logs but written before the base file must disappear, which needs
// the tombstone kept in the first stage.
func TestMergeLogsThenBase(t *testing.T) {
	base := files("p", map[string]FileInfo{"a": live(10), "b": live(20)})
	log1 := files("p", map[string]FileInfo{"c": live(30)})
	log2 := files("p", map[string]FileInfo{"a": gone, "c": live(31)})
	logs, err := Merge(log1, log2)
	require.NoError(t, err)
	require.Equal(t, map[string]FileInfo{"a": gone, "c": live(31)}, logs.Files)
	got, err := Merge(base, logs)
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"b": 20, "c": 31}, Live(got))
	require.Equal(t, map[string]FileInfo{"b": live(20), "c": live(31)}, got.Files)
}

func TestMergePartitionList(t *testing.T) {
	older := Record{Key: AllPartitionsKey, Type: TypePartitionList, Files: map[string]FileInfo{"p1": {}, "p2": {}}}
	// A dropped partition is an isDeleted entry of the partition list.
	drop := Record{Key: AllPartitionsKey, Type: TypePartitionList, Files: map[string]FileInfo{"p1": gone}}
	got, err := Merge(older, drop)
	require.NoError(t, err)
	require.Equal(t, map[string]FileInfo{"p2": {}}, got.Files)
	require.Equal(t, map[string]int64{"p2": 0}, Live(got))

	// Dropped in the logs before the base file lists it: the tombstone
	// survives the log merge and removes it from the base.
	add := Record{Key: AllPartitionsKey, Type: TypePartitionList, Files: map[string]FileInfo{"p3": {}}}
	logs, err := Merge(add, drop)
	require.NoError(t, err)
	require.Equal(t, map[string]FileInfo{"p1": gone, "p3": {}}, logs.Files)
	got, err = Merge(older, logs)
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"p2": 0, "p3": 0}, Live(got))

	// Re-created later.
	got, err = Merge(got, Record{Key: AllPartitionsKey, Type: TypePartitionList, Files: map[string]FileInfo{"p1": {}}})
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"p1": 0, "p2": 0, "p3": 0}, Live(got))
}

func TestMergeRecordIndexNewerWins(t *testing.T) {
	older := Record{Key: "k1", Type: TypeRecordIndex, RecordIndex: &RecordIndexInfo{PartitionName: "p", FileIDHighBits: 1, FileIDLowBits: 2, FileIndex: 0, InstantTime: 100}}
	newer := Record{Key: "k1", Type: TypeRecordIndex, RecordIndex: &RecordIndexInfo{PartitionName: "q", FileIDHighBits: -1, FileIDLowBits: -1, FileIndex: -1, FileID: "f1", InstantTime: 50, FileIDEncoding: 1}}
	got, err := Merge(older, newer)
	require.NoError(t, err)
	require.Equal(t, newer, got)
	require.NotSame(t, newer.RecordIndex, got.RecordIndex)
	require.Empty(t, Live(got))
}

func TestMergeErrors(t *testing.T) {
	p := files("p", map[string]FileInfo{"a": live(1)})
	_, err := Merge(p, files("q", nil))
	require.ErrorIs(t, err, ErrInvalid)
	_, err = Merge(p, Record{Key: "p", Type: TypePartitionList})
	require.ErrorIs(t, err, ErrInvalid)
	// A live file of size 0 (Hudi's validatePayload).
	_, err = Merge(p, files("p", map[string]FileInfo{"b": live(0)}))
	require.ErrorIs(t, err, ErrInvalid)
	_, err = Merge(Record{Key: "c", Type: TypeColumnStats}, Record{Key: "c", Type: TypeColumnStats})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = Merge(Record{Key: "c", Type: 9}, Record{Key: "c", Type: 9})
	require.ErrorIs(t, err, ErrInvalid)
}

func TestLiveOfOtherTypes(t *testing.T) {
	require.Empty(t, Live(Record{Key: "k", Type: TypeRecordIndex, RecordIndex: &RecordIndexInfo{}}))
	require.Empty(t, Live(Record{}))
}
