package index

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncodingRoundTrip(t *testing.T) {
	for _, g := range []group{{"", ""}, {"a/b", "f-0"}, {"p\x00q", "\x00"}} {
		got, ok := decodeGroup(encodeGroup(g))
		require.True(t, ok)
		assert.Equal(t, g, got)
	}
	_, ok := decodeGroup([]byte{5, 'a'})
	assert.False(t, ok)
	for _, global := range []bool{false, true} {
		x := &Index{opts: Options{Global: global}}
		seen := map[string]Key{}
		for _, k := range []Key{{"p", "k"}, {"", "k\x00x"}, {"dt=1/2", "\xff"}, {"p", "k\x00x"}, {"pk", "x"}} {
			if global {
				k.PartitionPath = ""
			}
			enc := x.appendKey(nil, k)
			assert.Len(t, enc, x.keyLen(k))
			if prev, dup := seen[string(enc)]; dup {
				assert.Equal(t, prev, k, "two keys encode alike")
			}
			seen[string(enc)] = k
		}
	}
	ids := []uint64{7, 1, 300}
	runs := make([]*run, len(ids))
	for i, id := range ids {
		runs[i] = &run{id: id}
	}
	got, ok := decodeRuns(encodeRuns(runs))
	require.True(t, ok)
	assert.Equal(t, ids, got)
	_, ok = decodeRuns(append(encodeRuns(runs), 0))
	assert.False(t, ok)
}

// TestRunFindAndMerge checks the run directory on every size around the
// bucket boundaries, and that merges keep the newest version.
func TestRunFindAndMerge(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 17, 33, 1000, 5000} {
		recs := make([]rec, n)
		for i := range recs {
			k := hashKey([]byte{byte(i), byte(i >> 8), byte(n)})
			recs[i] = rec{h1: k.h1, h2: k.h2, gid: uint32(i)}
		}
		slices.SortFunc(recs, cmpRec)
		r := newRun(1, recs)
		for i := range recs {
			got := r.find(hkey{recs[i].h1, recs[i].h2})
			require.NotNil(t, got, "n=%d i=%d", n, i)
			require.Equal(t, recs[i].gid, got.gid)
		}
		for i := range 100 {
			require.Nil(t, r.find(hashKey([]byte{byte(i), 0xff, 0xfe, byte(n)})))
		}
	}
	// sortRecs is stable and dedupe keeps the last of equal keys.
	var recs []rec
	for i := range 5000 {
		k := hashKey([]byte{byte(i % 1500), byte(i % 1500 >> 8)})
		recs = append(recs, rec{h1: k.h1, h2: k.h2, gid: uint32(i)})
	}
	sortRecs(recs)
	recs = dedupe(recs)
	require.Len(t, recs, 1500)
	for i := range recs {
		if i > 0 {
			require.True(t, recs[i-1].less(&recs[i]))
		}
		require.GreaterOrEqual(t, recs[i].gid, uint32(3500), "the last write of a key wins")
	}
	k1, k2, k3 := hashKey([]byte("1")), hashKey([]byte("2")), hashKey([]byte("3"))
	mk := func(k hkey, gid, exp uint32) rec { return rec{h1: k.h1, h2: k.h2, gid: gid, exp: exp} }
	newer := []rec{mk(k1, tombstoneGID, 0), mk(k2, 5, 10)}
	older := []rec{mk(k1, 1, 0), mk(k2, 2, 0), mk(k3, 3, 0)}
	slices.SortFunc(newer, cmpRec)
	slices.SortFunc(older, cmpRec)
	collect := func(last bool) map[hkey]uint32 {
		out := map[hkey]uint32{}
		var prev *rec
		require.NoError(t, mergeRuns([][]rec{newer, older}, last, 20, nil, func(r rec) error {
			if prev != nil {
				require.True(t, prev.less(&r), "merge output sorted")
			}
			prev = &r
			out[hkey{r.h1, r.h2}] = r.gid
			return nil
		}))
		return out
	}
	// Not the oldest run: the tombstone and the expired entry shadow k1
	// and k2.
	assert.Equal(t, map[hkey]uint32{k1: tombstoneGID, k2: 5, k3: 3}, collect(false))
	assert.Equal(t, map[hkey]uint32{k3: 3}, collect(true))
}

// TestCrashMidRebuild simulates a process that died after writing the
// rebuilding marker: the reopened index needs a rebuild.
func TestCrashMidRebuild(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	x, err := Open(Options{Dir: dir})
	require.NoError(t, err)
	require.NoError(t, x.Put(ctx, "20250101000000001", []Entry{{Key{"p", "k"}, Location{"p", "f", "20250101000000001"}}}))
	require.NoError(t, x.db.Update(func(txn *badger.Txn) error { return txn.Set(metaRebuilding, nil) }))
	require.NoError(t, x.Close())

	x, err = Open(Options{Dir: dir})
	require.NoError(t, err)
	defer x.Close()
	assert.True(t, x.NeedsRebuild())
	_, _, err = x.Lookup(ctx, []Key{{"p", "k"}}, LookupOptions{})
	assert.ErrorIs(t, err, ErrNeedsRebuild)
	st, err := x.Stats()
	require.NoError(t, err)
	assert.True(t, st.NeedsRebuild)
}

// TestOtherLayoutNeedsRebuild: an index written without (or with another)
// layout version is not trusted.
func TestOtherLayoutNeedsRebuild(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(Options{Dir: dir})
	require.NoError(t, err)
	assert.False(t, x.NeedsRebuild())
	require.NoError(t, x.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set([]byte("ep\x00k"), []byte("old value")); err != nil {
			return err
		}
		return txn.Set(metaVersion, []byte("0"))
	}))
	require.NoError(t, x.Close())
	x, err = Open(Options{Dir: dir})
	require.NoError(t, err)
	defer x.Close()
	assert.True(t, x.NeedsRebuild())
}

// crash closes the index's databases without writing the front, as a
// killed process would leave them.
func crash(t *testing.T, x *Index) {
	t.Helper()
	x.stopMerges.Store(true)
	x.mergeMu.Lock()
	defer x.mergeMu.Unlock()
	require.NoError(t, x.closeRuns())
	require.NoError(t, x.db.Close())
}

// TestCrashLeavesIndexBehind: entries still in the memory front are lost
// in a crash, and so are the applied marks of their instants; instants
// written as a run survive with their marks.
func TestCrashLeavesIndexBehind(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	x, err := Open(Options{Dir: dir})
	require.NoError(t, err)
	put := func(x *Index, inst, key string) {
		require.NoError(t, x.Put(ctx, inst, []Entry{{Key{"p", key}, Location{"p", "f", inst}}}))
	}
	put(x, "20250101000000001", "a")
	assert.True(t, x.IsApplied("20250101000000001"), "applied in memory")
	crash(t, x)

	x, err = Open(Options{Dir: dir})
	require.NoError(t, err)
	assert.False(t, x.IsApplied("20250101000000001"), "the mark went with the front")
	assert.True(t, x.IsEmpty())
	_, found, err := x.Lookup(ctx, []Key{{"p", "a"}}, LookupOptions{})
	require.NoError(t, err)
	assert.False(t, found[0])
	// maxPendingInstants instants write the front as a run.
	for i := range maxPendingInstants {
		put(x, fmt.Sprintf("2025010100000001%d", i), fmt.Sprintf("k%d", i))
	}
	put(x, "20250101000000020", "late")
	crash(t, x)

	x, err = Open(Options{Dir: dir})
	require.NoError(t, err)
	defer x.Close()
	for i := range maxPendingInstants {
		assert.True(t, x.IsApplied(fmt.Sprintf("2025010100000001%d", i)))
	}
	assert.False(t, x.IsApplied("20250101000000020"))
	assert.Equal(t, fmt.Sprintf("2025010100000001%d", maxPendingInstants-1), x.LastApplied())
	_, found, err = x.Lookup(ctx, []Key{{"p", "k0"}, {"p", "late"}}, LookupOptions{})
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false}, found)
}

// TestRunFiles: run files not on the list (a crash between writing a run
// and recording it, or after recording its merge) are deleted at open; a
// listed run that is missing makes the index need a rebuild.
func TestRunFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	x, err := Open(Options{Dir: dir})
	require.NoError(t, err)
	require.NoError(t, x.Put(ctx, "20250101000000001", []Entry{{Key{"p", "k"}, Location{"p", "f", "20250101000000001"}}}))
	require.NoError(t, x.Close())
	runs := filepath.Join(dir, runsDirName)
	orphan := runPath(runs, 999)
	require.NoError(t, os.WriteFile(orphan, []byte("partial"), 0o644))
	require.NoError(t, os.WriteFile(orphan+".tmp", []byte("partial"), 0o644))

	x, err = Open(Options{Dir: dir})
	require.NoError(t, err)
	assert.NoFileExists(t, orphan)
	assert.NoFileExists(t, orphan+".tmp")
	assert.False(t, x.NeedsRebuild())
	require.Len(t, x.data.runs, 1)
	listed := x.data.runs[0].path
	require.NoError(t, x.Close())

	require.NoError(t, os.Remove(listed))
	x, err = Open(Options{Dir: dir})
	require.NoError(t, err)
	assert.True(t, x.NeedsRebuild())
	require.NoError(t, x.Rebuild(ctx, "20250101000000002", func(func(Entry) bool) error { return nil }, nil))
	assert.False(t, x.NeedsRebuild())
	require.NoError(t, x.Close())

	// A damaged run is caught by its checksum.
	x, err = Open(Options{Dir: dir})
	require.NoError(t, err)
	require.NoError(t, x.Put(ctx, "20250101000000003", []Entry{{Key{"p", "k"}, Location{"p", "f", "20250101000000003"}}}))
	require.NoError(t, x.Close())
	des, err := os.ReadDir(runs)
	require.NoError(t, err)
	require.Len(t, des, 1)
	p := filepath.Join(runs, des[0].Name())
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	b[len(b)-1] ^= 0xff
	require.NoError(t, os.WriteFile(p, b, 0o644))
	x, err = Open(Options{Dir: dir})
	require.NoError(t, err)
	defer x.Close()
	assert.True(t, x.NeedsRebuild())
}
