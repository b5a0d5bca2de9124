package hfile_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHBaseMultiLevelIndex reads a file HBase wrote with a 3-level data
// index (testdata/README.md): every entry in order, Get of every key
// through the intermediate and leaf index blocks, file info, meta block.
func TestHBaseMultiLevelIndex(t *testing.T) {
	r, b := openSample(t, "hbase-multilevel.hfile")
	require.True(t, bytes.Contains(b, []byte("IDXINTE2")))
	require.True(t, bytes.Contains(b, []byte("IDXLEAF2")))
	const n = 1500
	require.Equal(t, int64(n), r.EntryCount())
	i := 0
	for kv, err := range r.All() {
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("key-%08d", i), string(kv.Key))
		require.Equal(t, string(bytes.Repeat(fmt.Appendf(nil, "value-%d", i), 1+i%3)), string(kv.Value))
		i++
	}
	require.Equal(t, n, i)
	for i := range n {
		v, ok, err := r.Get(fmt.Appendf(nil, "key-%08d", i))
		require.NoError(t, err)
		require.True(t, ok, i)
		require.Equal(t, string(bytes.Repeat(fmt.Appendf(nil, "value-%d", i), 1+i%3)), string(v))
		_, ok, err = r.Get(fmt.Appendf(nil, "key-%08d!", i))
		require.NoError(t, err)
		require.False(t, ok)
	}
	for _, k := range []string{"", "a", "key-", "zzz"} {
		_, ok, err := r.Get([]byte(k))
		require.NoError(t, err)
		require.False(t, ok, k)
	}
	require.Equal(t, "multi", string(r.FileInfo()["schema"]))
	m, ok, err := r.MetaBlock("bloomFilter")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "bloom", string(m))
}
