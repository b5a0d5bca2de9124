package index

import (
	"context"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncodingRoundTrip(t *testing.T) {
	for _, c := range []struct{ gid, iid uint32 }{{0, 0}, {1, 127}, {128, 16384}, {1<<32 - 1, 1<<32 - 1}} {
		v := appendValue(nil, c.gid, c.iid)
		g, i, ok := decodeValue(v)
		require.True(t, ok)
		assert.Equal(t, c.gid, g)
		assert.Equal(t, c.iid, i)
		_, _, ok = decodeValue(append(v, 0))
		assert.False(t, ok, "trailing bytes")
		_, _, ok = decodeValue(v[:len(v)-1])
		assert.False(t, ok, "truncated")
	}
	for _, g := range []group{{"", ""}, {"a/b", "f-0"}, {"p\x00q", "\x00"}} {
		got, ok := decodeGroup(encodeGroup(g))
		require.True(t, ok)
		assert.Equal(t, g, got)
	}
	_, ok := decodeGroup([]byte{5, 'a'})
	assert.False(t, ok)
	for _, global := range []bool{false, true} {
		x := &Index{opts: Options{Global: global}}
		for _, k := range []Key{{"p", "k"}, {"", "k\x00x"}, {"dt=1/2", "\xff"}} {
			if global {
				k.PartitionPath = ""
			}
			enc := x.appendKey(nil, k)
			assert.Len(t, enc, x.keyLen(k))
			got, ok := x.decodeKey(enc)
			require.True(t, ok)
			assert.Equal(t, k, got)
		}
	}
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
