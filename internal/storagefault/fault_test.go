package storagefault_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/storage"
)

// commitWorkload mimics a Hudi commit: data file, inflight instant, listing,
// completed instant (create-if-absent), then a read back. It returns the
// first error.
func commitWorkload(ctx context.Context, st storage.Storage) error {
	if err := storage.WriteFile(ctx, st, "p1/f1.parquet", []byte("data"), storage.CreateOptions{}); err != nil {
		return err
	}
	if err := storage.WriteFile(ctx, st, ".hoodie/1.commit.inflight", nil, storage.CreateOptions{IfAbsent: true}); err != nil {
		return err
	}
	for _, err := range st.List(ctx, ".hoodie/", "/") {
		if err != nil {
			return err
		}
	}
	if _, err := st.Stat(ctx, "p1/f1.parquet"); err != nil {
		return err
	}
	if err := storage.WriteFile(ctx, st, ".hoodie/1.commit", []byte("{}"), storage.CreateOptions{IfAbsent: true}); err != nil {
		return err
	}
	if _, err := storage.ReadFile(ctx, st, ".hoodie/1.commit"); err != nil {
		return err
	}
	return st.Delete(ctx, ".hoodie/1.commit.inflight")
}

func keys(t *testing.T, st storage.Storage) []string {
	t.Helper()
	var out []string
	for o, err := range st.List(t.Context(), "", "") {
		require.NoError(t, err)
		out = append(out, o.Path)
	}
	return out
}

func TestFaultCounter(t *testing.T) {
	all := storagefault.Counter(storagefault.Match{})
	closes := storagefault.Counter(storagefault.Match{Kinds: []storagefault.OpKind{storagefault.OpClose}})
	commits := storagefault.Counter(storagefault.Match{Path: "*.commit"})
	hoodie := storagefault.Counter(storagefault.Match{Path: ".hoodie/*"})
	inj := storagefault.InjectorFunc(func(op storagefault.Op) error {
		for _, c := range []*storagefault.IndexInjector{all, closes, commits, hoodie} {
			if err := c.MaybeError(op); err != nil {
				return err
			}
		}
		return nil
	})
	mem := storage.NewMem()
	require.NoError(t, commitWorkload(t.Context(), storagefault.NewFaulty(mem, inj)))
	// create, write, close x3; list; stat; read; delete.
	assert.Equal(t, 13, all.Count())
	assert.Equal(t, 3, closes.Count())
	assert.Equal(t, 4, commits.Count(), "create, write, close and read of .hoodie/1.commit")
	assert.Equal(t, 9, hoodie.Count(), "every op on a direct child of .hoodie; the list prefix .hoodie/ is not one")
	_, fired := all.Fired()
	assert.False(t, fired)
	assert.Equal(t, []string{".hoodie/1.commit", "p1/f1.parquet"}, keys(t, mem))
}

func TestFaultMatch(t *testing.T) {
	for _, tc := range []struct {
		m    storagefault.Match
		op   storagefault.Op
		want bool
	}{
		{storagefault.Match{}, storagefault.Op{Kind: storagefault.OpList, Path: ""}, true},
		{storagefault.Match{Kinds: []storagefault.OpKind{storagefault.OpRead}}, storagefault.Op{Kind: storagefault.OpStat, Path: "x"}, false},
		{storagefault.Match{Kinds: []storagefault.OpKind{storagefault.OpRead, storagefault.OpStat}}, storagefault.Op{Kind: storagefault.OpStat, Path: "x"}, true},
		{storagefault.Match{Path: "*.commit"}, storagefault.Op{Kind: storagefault.OpClose, Path: ".hoodie/1.commit"}, true},
		{storagefault.Match{Path: "*.commit"}, storagefault.Op{Kind: storagefault.OpClose, Path: ".hoodie/1.commit.inflight"}, false},
		{storagefault.Match{Path: ".hoodie/*"}, storagefault.Op{Kind: storagefault.OpClose, Path: ".hoodie/1.commit"}, true},
		{storagefault.Match{Path: ".hoodie/*"}, storagefault.Op{Kind: storagefault.OpClose, Path: ".hoodie/metadata/files"}, false},
		{storagefault.Match{Path: "p*/*.parquet"}, storagefault.Op{Kind: storagefault.OpCreate, Path: "p1/f.parquet"}, true},
		{storagefault.Match{Path: "p*/*.parquet"}, storagefault.Op{Kind: storagefault.OpCreate, Path: "a/p1/f.parquet"}, false},
		{storagefault.Match{Path: "[", Kinds: nil}, storagefault.Op{Kind: storagefault.OpCreate, Path: "["}, false}, // bad pattern matches nothing
	} {
		assert.Equal(t, tc.want, tc.m.Matches(tc.op), "%+v on %s", tc.m, tc.op)
	}
	assert.Equal(t, "close a/b", storagefault.Op{Kind: storagefault.OpClose, Path: "a/b"}.String())
}

func TestFaultErrorMode(t *testing.T) {
	// Fail the close of the completed instant; everything else goes on.
	inj := storagefault.OnIndex(0, storagefault.ModeError, storagefault.Match{Kinds: []storagefault.OpKind{storagefault.OpClose}, Path: "*.commit"})
	mem := storage.NewMem()
	f := storagefault.NewFaulty(mem, inj)
	err := commitWorkload(t.Context(), f)
	require.ErrorIs(t, err, storagefault.ErrInjected)
	assert.NotErrorIs(t, err, storagefault.ErrCrashed)
	op, ok := inj.Fired()
	require.True(t, ok)
	assert.Equal(t, storagefault.Op{Kind: storagefault.OpClose, Path: ".hoodie/1.commit"}, op)
	_, crashed := f.Crashed()
	assert.False(t, crashed)
	assert.Equal(t, []string{".hoodie/1.commit.inflight", "p1/f1.parquet"}, keys(t, mem), "the failed close published nothing")

	// The store is still usable: a retry of the commit succeeds.
	require.NoError(t, storage.WriteFile(t.Context(), f, ".hoodie/1.commit", []byte("{}"), storage.CreateOptions{IfAbsent: true}))
	assert.Equal(t, []string{".hoodie/1.commit", ".hoodie/1.commit.inflight", "p1/f1.parquet"}, keys(t, mem))
}

func TestFaultErrorModeEachKind(t *testing.T) {
	ctx := t.Context()
	for _, kind := range []storagefault.OpKind{storagefault.OpRead, storagefault.OpCreate, storagefault.OpWrite, storagefault.OpClose, storagefault.OpList, storagefault.OpDelete, storagefault.OpStat} {
		t.Run(kind.String(), func(t *testing.T) {
			mem := storage.NewMem()
			require.NoError(t, storage.WriteFile(ctx, mem, "old", []byte("old"), storage.CreateOptions{}))
			f := storagefault.NewFaulty(mem, storagefault.OnIndex(0, storagefault.ModeError, storagefault.Match{Kinds: []storagefault.OpKind{kind}}))
			var err error
			switch kind {
			case storagefault.OpRead:
				_, err = storage.ReadFile(ctx, f, "old")
			case storagefault.OpCreate, storagefault.OpWrite, storagefault.OpClose:
				err = storage.WriteFile(ctx, f, "new", []byte("new"), storage.CreateOptions{})
			case storagefault.OpList:
				for _, lerr := range f.List(ctx, "", "") {
					if lerr != nil {
						err = lerr
					}
				}
			case storagefault.OpDelete:
				err = f.Delete(ctx, "old")
			case storagefault.OpStat:
				_, err = f.Stat(ctx, "old")
			}
			require.ErrorIs(t, err, storagefault.ErrInjected)
			assert.Contains(t, err.Error(), kind.String())
			// The op had no effect.
			assert.Equal(t, []string{"old"}, keys(t, mem))
			// The next op of the same kind succeeds.
			require.NoError(t, storage.WriteFile(ctx, f, "new", []byte("new"), storage.CreateOptions{}))
			assert.Equal(t, []string{"new", "old"}, keys(t, mem))
		})
	}
}

func TestFaultCrashMode(t *testing.T) {
	mem := storage.NewMem()
	inj := storagefault.OnIndex(1, storagefault.ModeCrash, storagefault.Match{Kinds: []storagefault.OpKind{storagefault.OpClose}})
	f := storagefault.NewFaulty(mem, inj)
	err := commitWorkload(t.Context(), f)
	require.ErrorIs(t, err, storagefault.ErrCrashed)
	require.ErrorIs(t, err, storagefault.ErrInjected)
	op, ok := f.Crashed()
	require.True(t, ok)
	assert.Equal(t, storagefault.Op{Kind: storagefault.OpClose, Path: ".hoodie/1.commit.inflight"}, op)
	assert.Equal(t, []string{"p1/f1.parquet"}, keys(t, mem), "the crashed close published nothing")

	// Everything afterwards fails with ErrCrashed and has no effect.
	ctx := t.Context()
	_, err = f.Stat(ctx, "p1/f1.parquet")
	assert.ErrorIs(t, err, storagefault.ErrCrashed)
	assert.NotErrorIs(t, err, storagefault.ErrInjected)
	_, err = f.OpenRange(ctx, "p1/f1.parquet", 0, -1)
	assert.ErrorIs(t, err, storagefault.ErrCrashed)
	assert.ErrorIs(t, f.Delete(ctx, "p1/f1.parquet"), storagefault.ErrCrashed)
	_, err = f.Create(ctx, "x", storage.CreateOptions{})
	assert.ErrorIs(t, err, storagefault.ErrCrashed)
	for _, err := range f.List(ctx, "", "") {
		assert.ErrorIs(t, err, storagefault.ErrCrashed)
	}
	assert.Equal(t, []string{"p1/f1.parquet"}, keys(t, mem))
	assert.Equal(t, 2, inj.Count(), "the injector is not consulted after the crash")
}

func TestFaultCrashOpenWriter(t *testing.T) {
	// A writer opened before the crash can neither write nor publish after it.
	mem := storage.NewMem()
	f := storagefault.NewFaulty(mem, storagefault.OnIndex(0, storagefault.ModeCrash, storagefault.Match{Kinds: []storagefault.OpKind{storagefault.OpStat}}))
	w, err := f.Create(t.Context(), "open", storage.CreateOptions{})
	require.NoError(t, err)
	_, err = w.Write([]byte("before"))
	require.NoError(t, err)
	_, err = f.Stat(t.Context(), "open")
	require.ErrorIs(t, err, storagefault.ErrCrashed)
	_, err = w.Write([]byte("after"))
	assert.ErrorIs(t, err, storagefault.ErrCrashed)
	assert.ErrorIs(t, w.Close(), storagefault.ErrCrashed)
	assert.NoError(t, w.Abort(), "Abort after a (failed) Close is a no-op")
	assert.Empty(t, keys(t, mem))

	w2, err := storagefault.NewFaulty(storage.NewMem(), storagefault.Counter(storagefault.Match{})).Create(t.Context(), "x", storage.CreateOptions{})
	require.NoError(t, err)
	require.NoError(t, w2.Close())
	_, err = w2.Write(nil)
	assert.ErrorIs(t, err, storage.ErrClosed)
}

// TestFaultSweep is the crash-test pattern: count the ops, then crash at each
// one in turn and check the durable state is a prefix of the workload's
// effects (the instant is never complete without its data file).
func TestFaultSweep(t *testing.T) {
	counter := storagefault.Counter(storagefault.Match{})
	require.NoError(t, commitWorkload(t.Context(), storagefault.NewFaulty(storage.NewMem(), counter)))
	n := counter.Count()
	require.Equal(t, 13, n)

	seen := map[string]bool{}
	for i := range n {
		for _, mode := range []storagefault.Mode{storagefault.ModeError, storagefault.ModeCrash} {
			mem := storage.NewMem()
			inj := storagefault.OnIndex(i, mode, storagefault.Match{})
			err := commitWorkload(t.Context(), storagefault.NewFaulty(mem, inj))
			require.ErrorIs(t, err, storagefault.ErrInjected, "op %d mode %d", i, mode)
			op, ok := inj.Fired()
			require.True(t, ok)
			got := keys(t, mem)
			if slices.Contains(got, ".hoodie/1.commit") {
				assert.Contains(t, got, "p1/f1.parquet", "crash at %s", op)
			}
			seen[fmt.Sprint(got)] = true
		}
	}
	assert.Equal(t, map[string]bool{
		"[]":              true,
		"[p1/f1.parquet]": true,
		"[.hoodie/1.commit.inflight p1/f1.parquet]":                  true,
		"[.hoodie/1.commit .hoodie/1.commit.inflight p1/f1.parquet]": true,
	}, seen)
}

func TestFaultConcurrent(t *testing.T) {
	counter := storagefault.Counter(storagefault.Match{Kinds: []storagefault.OpKind{storagefault.OpClose}})
	f := storagefault.NewFaulty(storage.NewMem(), counter)
	errs := make(chan error, 32)
	for i := range 32 {
		go func() {
			errs <- storage.WriteFile(t.Context(), f, fmt.Sprintf("k/%d", i), []byte("x"), storage.CreateOptions{})
		}()
	}
	for range 32 {
		require.NoError(t, <-errs)
	}
	assert.Equal(t, 32, counter.Count())
}

func TestLogging(t *testing.T) {
	mem := storage.NewMem()
	l := storagefault.NewLogging(storagefault.NewFaulty(mem, storagefault.OnIndex(0, storagefault.ModeError, storagefault.Match{Kinds: []storagefault.OpKind{storagefault.OpDelete}})))
	err := commitWorkload(t.Context(), l)
	require.ErrorIs(t, err, storagefault.ErrInjected, "the final delete fails")
	_, err = l.Stat(t.Context(), "missing")
	require.ErrorIs(t, err, storage.ErrNotExist)
	err = storage.WriteFile(t.Context(), l, ".hoodie/1.commit", []byte("again"), storage.CreateOptions{IfAbsent: true})
	require.ErrorIs(t, err, storage.ErrExist)
	_, err = storage.ReadFile(t.Context(), l, ".hoodie/1.commit")
	require.NoError(t, err)
	rc, err := l.OpenRange(t.Context(), "p1/f1.parquet", 1, 2)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	w, err := l.Create(t.Context(), "tmp", storage.CreateOptions{})
	require.NoError(t, err)
	require.NoError(t, w.Abort())
	assert.Equal(t, `create p1/f1.parquet
close p1/f1.parquet 4 bytes
create .hoodie/1.commit.inflight if-absent
close .hoodie/1.commit.inflight 0 bytes
list .hoodie/ delim "/"
stat p1/f1.parquet
create .hoodie/1.commit if-absent
close .hoodie/1.commit 2 bytes
read .hoodie/1.commit
delete .hoodie/1.commit.inflight -> injected
stat missing -> not-exist
create .hoodie/1.commit if-absent
close .hoodie/1.commit 5 bytes -> exist
read .hoodie/1.commit
read p1/f1.parquet [1,2]
create tmp
abort tmp
`, l.String())
	assert.Len(t, l.Lines(), 17)
	l.Reset()
	assert.Empty(t, l.String())
}
