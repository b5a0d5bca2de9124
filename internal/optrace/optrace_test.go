package optrace_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/optrace"
	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/storage"
)

func TestTrace(t *testing.T) {
	ctx := context.Background()
	mem := storage.NewMem()
	tr := optrace.New()
	st := tr.Wrap(mem, "")
	w1 := tr.Wrap(mem, "w1")

	const (
		t1  = "20240102030405006"
		t2  = "20240102030405007"
		fid = "0a1b2c3d-1111-2222-3333-444455556666-0"
	)
	put := func(s storage.Storage, p string, ifAbsent bool) error {
		return storage.WriteFile(ctx, s, p, []byte("x"), storage.CreateOptions{IfAbsent: ifAbsent})
	}
	require.NoError(t, put(st, ".hoodie/"+t2+".commit.requested", true))
	require.NoError(t, put(w1, "a/"+fid+"_0-1-0_"+t1+".parquet", true))
	require.ErrorIs(t, put(w1, "a/"+fid+"_0-1-0_"+t1+".parquet", true), storage.ErrExist)
	_, err := st.Stat(ctx, ".hoodie/"+t1+".commit")
	require.ErrorIs(t, err, storage.ErrNotExist)
	for range st.List(ctx, "", "") {
	}
	for range st.List(ctx, ".hoodie/", "/") {
	}
	// A run of ranged reads of one object is one line.
	for range 3 {
		rc, err := st.OpenRange(ctx, ".hoodie/"+t2+".commit.requested", 0, 1)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
	}
	_, err = storage.ReadFile(ctx, st, ".hoodie/"+t2+".commit.requested")
	require.NoError(t, err)
	// A heartbeat's first write and its deletion are traced, its rewrites
	// are not.
	hb := optrace.HeartbeatPrefix + t1
	require.NoError(t, put(st, hb, false))
	require.NoError(t, put(st, hb, false))
	require.NoError(t, st.Delete(ctx, hb))
	require.NoError(t, put(st, hb, false))
	// An aborted writer.
	w, err := st.Create(ctx, "b/x", storage.CreateOptions{})
	require.NoError(t, err)
	require.NoError(t, w.Abort())

	require.Equal(t, []string{
		"put .hoodie/<T1>.commit.requested if-absent",
		"w1: put a/<F1>_<W>_<T2>.parquet if-absent",
		"w1: put a/<F1>_<W>_<T2>.parquet if-absent -> exist",
		"stat .hoodie/<T2>.commit -> not-exist",
		`list ""`,
		"list .hoodie/ delim=/",
		"read-range .hoodie/<T1>.commit.requested",
		"read .hoodie/<T1>.commit.requested",
		"put .hoodie/.heartbeat/<T2>",
		"delete .hoodie/.heartbeat/<T2>",
		"put .hoodie/.heartbeat/<T2>",
		"abort b/x",
	}, tr.Take())
	require.Empty(t, tr.Lines())

	// Placeholders persist across Take and apply to other text.
	require.Equal(t, "<T2> <T3> <F1>", tr.Normalize(t1+" 20991231235959999 "+fid))
	raw, ok := tr.Raw("<T3>")
	require.True(t, ok)
	require.Equal(t, "20991231235959999", raw)
	_, ok = tr.Raw("<T9>")
	require.False(t, ok)
	// Numbers that are not instants stay.
	require.Equal(t, ".hoodie/.aux/.commit-slots/00000000000000000001 .log.12", tr.Normalize(".hoodie/.aux/.commit-slots/00000000000000000001 .log.12"))
}

func TestTraceErrors(t *testing.T) {
	ctx := context.Background()
	tr := optrace.New()
	f := storagefault.NewFaulty(storage.NewMem(), storagefault.OnIndex(1, storagefault.ModeCrash, storagefault.Match{}))
	st := tr.Wrap(f, "")
	for range st.List(ctx, "a/", "") {
	}
	for _, err := range st.List(ctx, "b/", "") {
		require.ErrorIs(t, err, storagefault.ErrCrashed)
	}
	require.ErrorIs(t, st.Delete(ctx, "c"), storagefault.ErrCrashed)
	require.Equal(t, []string{
		"list a/",
		"list b/ -> crashed",
		"delete c -> crashed",
	}, tr.Lines())
	require.Equal(t, "injected", storagefault.ErrClass(storagefault.ErrInjected))
}
