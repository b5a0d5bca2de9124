// Package storagetest is the conformance suite every storage backend passes:
// the behaviour hoodie relies on (atomic publish on Close, create-if-absent
// with exactly one winner, sorted prefix listings, normalised errors) checked
// the same way against each.
//
//	func TestConformance(t *testing.T) {
//		t.Run("Mem", func(t *testing.T) {
//			storagetest.Run(t, func(t *testing.T) storage.Storage { return storage.NewMem() })
//		})
//	}
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/storage"
)

// LargeSize is the size of the large-object test: more than two 5 MiB parts,
// so an S3 store configured with the minimum part size uploads it in three
// parts.
const LargeSize = 12 << 20

// Run runs the suite. newStore returns a fresh, empty store for each subtest.
func Run(t *testing.T, newStore func(t *testing.T) storage.Storage) {
	tests := []struct {
		name string
		fn   func(t *testing.T, st storage.Storage)
	}{
		{"WriteRead", testWriteRead},
		{"RangedRead", testRangedRead},
		{"ReaderAt", testReaderAt},
		{"InvisibleUntilClose", testInvisibleUntilClose},
		{"Abort", testAbort},
		{"AbortAfterClose", testAbortAfterClose},
		{"WriteAfterClose", testWriteAfterClose},
		{"IfAbsent", testIfAbsent},
		{"Overwrite", testOverwrite},
		{"ListRecursive", testListRecursive},
		{"ListDelimiter", testListDelimiter},
		{"ListMissing", testListMissing},
		{"ListEarlyStop", testListEarlyStop},
		{"Delete", testDelete},
		{"Stat", testStat},
		{"LargeObject", testLargeObject},
		{"ContextCancelled", testContextCancelled},
		{"InvalidKeys", testInvalidKeys},
		{"ConcurrentIfAbsent", testConcurrentIfAbsent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

func write(t *testing.T, st storage.Storage, p string, data []byte) {
	t.Helper()
	require.NoError(t, storage.WriteFile(t.Context(), st, p, data, storage.CreateOptions{}))
}

func read(t *testing.T, st storage.Storage, p string) []byte {
	t.Helper()
	b, err := storage.ReadFile(t.Context(), st, p)
	require.NoError(t, err)
	return b
}

func readRange(t *testing.T, st storage.Storage, p string, off, length int64) []byte {
	t.Helper()
	rc, err := st.OpenRange(t.Context(), p, off, length)
	require.NoError(t, err, "OpenRange(%q, %d, %d)", p, off, length)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b
}

// entry is an ObjectInfo without ModTime, for comparing listings.
type entry struct {
	Path  string
	Size  int64
	IsDir bool
}

func list(t *testing.T, st storage.Storage, prefix, delim string) []entry {
	t.Helper()
	out := []entry{}
	for o, err := range st.List(t.Context(), prefix, delim) {
		require.NoError(t, err, "List(%q, %q)", prefix, delim)
		if !o.IsDir {
			assert.False(t, o.ModTime.IsZero(), "ModTime of %s", o.Path)
		}
		out = append(out, entry{o.Path, o.Size, o.IsDir})
	}
	return out
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func testWriteRead(t *testing.T, st storage.Storage) {
	write(t, st, "a/b/c.txt", []byte("hello world"))
	assert.Equal(t, []byte("hello world"), read(t, st, "a/b/c.txt"))

	write(t, st, "empty", nil)
	assert.Empty(t, read(t, st, "empty"))
	info, err := st.Stat(t.Context(), "empty")
	require.NoError(t, err)
	assert.Equal(t, int64(0), info.Size)

	// Several writes make one object.
	w, err := st.Create(t.Context(), ".hoodie/hoodie.properties", storage.CreateOptions{})
	require.NoError(t, err)
	for _, s := range []string{"a=1\n", "b=2\n", "", "c=3\n"} {
		n, err := w.Write([]byte(s))
		require.NoError(t, err)
		assert.Equal(t, len(s), n)
	}
	require.NoError(t, w.Close())
	assert.Equal(t, "a=1\nb=2\nc=3\n", string(read(t, st, ".hoodie/hoodie.properties")))

	_, err = storage.ReadFile(t.Context(), st, "a/b/missing")
	assert.ErrorIs(t, err, storage.ErrNotExist)
	_, err = storage.ReadFile(t.Context(), st, "a/b")
	assert.ErrorIs(t, err, storage.ErrNotExist, "a directory-like prefix is not an object")
}

func testRangedRead(t *testing.T, st storage.Storage) {
	data := pattern(1000)
	write(t, st, "f.bin", data)
	for _, tc := range []struct {
		off, length int64
		want        []byte
	}{
		{0, -1, data},
		{0, 1000, data},
		{0, 1, data[:1]},
		{10, 5, data[10:15]},
		{10, -1, data[10:]},
		{999, -1, data[999:]},
		{999, 1, data[999:]},
		{500, 1000, data[500:]}, // runs past the end: the tail
		{0, 0, nil},
		{1000, -1, nil}, // off == size
		{1000, 10, nil},
		{2000, -1, nil}, // off beyond the end
		{2000, 5, nil},
	} {
		got := readRange(t, st, "f.bin", tc.off, tc.length)
		assert.Equal(t, len(tc.want), len(got), "OpenRange(%d, %d) length", tc.off, tc.length)
		assert.True(t, bytes.Equal(tc.want, got), "OpenRange(%d, %d) content", tc.off, tc.length)
	}
	_, err := st.OpenRange(t.Context(), "missing.bin", 0, -1)
	assert.ErrorIs(t, err, storage.ErrNotExist)
	_, err = st.OpenRange(t.Context(), "missing.bin", 10, 5)
	assert.ErrorIs(t, err, storage.ErrNotExist)
	_, err = st.OpenRange(t.Context(), "missing.bin", 0, 0)
	assert.ErrorIs(t, err, storage.ErrNotExist)
}

func testReaderAt(t *testing.T, st storage.Storage) {
	data := pattern(4096)
	write(t, st, "p/file.parquet", data)
	ra, err := storage.NewReaderAt(t.Context(), st, "p/file.parquet")
	require.NoError(t, err)
	assert.Equal(t, int64(4096), ra.Size())
	buf := make([]byte, 8)
	n, err := ra.ReadAt(buf, 4088)
	require.NoError(t, err)
	assert.Equal(t, 8, n)
	assert.Equal(t, data[4088:], buf)
	n, err = ra.ReadAt(buf, 4092)
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, 4, n)
	assert.Equal(t, data[4092:], buf[:4])
	_, err = storage.NewReaderAt(t.Context(), st, "p/missing.parquet")
	assert.ErrorIs(t, err, storage.ErrNotExist)
}

func testInvisibleUntilClose(t *testing.T, st storage.Storage) {
	for _, ifAbsent := range []bool{false, true} {
		p := fmt.Sprintf("dir%v/obj", ifAbsent)
		w, err := st.Create(t.Context(), p, storage.CreateOptions{IfAbsent: ifAbsent})
		require.NoError(t, err)
		_, err = w.Write([]byte("pending"))
		require.NoError(t, err)

		_, err = st.Stat(t.Context(), p)
		assert.ErrorIs(t, err, storage.ErrNotExist, "Stat before Close")
		_, err = storage.ReadFile(t.Context(), st, p)
		assert.ErrorIs(t, err, storage.ErrNotExist, "read before Close")
		assert.Empty(t, list(t, st, "", ""), "recursive List before Close")
		assert.Empty(t, list(t, st, "", "/"), "delimited List before Close")
		assert.Empty(t, list(t, st, fmt.Sprintf("dir%v/", ifAbsent), "/"), "List of the parent before Close")

		require.NoError(t, w.Close())
		assert.Equal(t, []byte("pending"), read(t, st, p))
		require.NoError(t, st.Delete(t.Context(), p))
	}
}

func testAbort(t *testing.T, st storage.Storage) {
	w, err := st.Create(t.Context(), "x/aborted", storage.CreateOptions{IfAbsent: true})
	require.NoError(t, err)
	_, err = w.Write([]byte("discard me"))
	require.NoError(t, err)
	require.NoError(t, w.Abort())
	require.NoError(t, w.Abort(), "second Abort")

	_, err = w.Write([]byte("more"))
	assert.ErrorIs(t, err, storage.ErrClosed, "Write after Abort")
	assert.Error(t, w.Close(), "Close after Abort")

	_, err = st.Stat(t.Context(), "x/aborted")
	assert.ErrorIs(t, err, storage.ErrNotExist)
	assert.Empty(t, list(t, st, "", ""))

	// The key is still free for a create-if-absent.
	require.NoError(t, storage.WriteFile(t.Context(), st, "x/aborted", []byte("second"), storage.CreateOptions{IfAbsent: true}))
	assert.Equal(t, []byte("second"), read(t, st, "x/aborted"))
}

func testAbortAfterClose(t *testing.T, st storage.Storage) {
	w, err := st.Create(t.Context(), "kept", storage.CreateOptions{})
	require.NoError(t, err)
	_, err = w.Write([]byte("kept"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, w.Abort(), "Abort after Close is a no-op")
	assert.Equal(t, []byte("kept"), read(t, st, "kept"))
}

func testWriteAfterClose(t *testing.T, st storage.Storage) {
	w, err := st.Create(t.Context(), "closed", storage.CreateOptions{})
	require.NoError(t, err)
	_, err = w.Write([]byte("once"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	_, err = w.Write([]byte("twice"))
	assert.ErrorIs(t, err, storage.ErrClosed)
	assert.ErrorIs(t, w.Close(), storage.ErrClosed, "second Close")
	assert.Equal(t, []byte("once"), read(t, st, "closed"))
}

func testIfAbsent(t *testing.T, st storage.Storage) {
	p := ".hoodie/20240101000000000.commit"
	require.NoError(t, storage.WriteFile(t.Context(), st, p, []byte("first"), storage.CreateOptions{IfAbsent: true}))
	err := storage.WriteFile(t.Context(), st, p, []byte("second"), storage.CreateOptions{IfAbsent: true})
	require.Error(t, err)
	assert.ErrorIs(t, err, storage.ErrExist)
	assert.NotErrorIs(t, err, storage.ErrNotExist)
	assert.Equal(t, []byte("first"), read(t, st, p))

	// An empty object counts as existing too.
	require.NoError(t, storage.WriteFile(t.Context(), st, "empty", nil, storage.CreateOptions{IfAbsent: true}))
	err = storage.WriteFile(t.Context(), st, "empty", []byte("x"), storage.CreateOptions{IfAbsent: true})
	assert.ErrorIs(t, err, storage.ErrExist)
	assert.Empty(t, read(t, st, "empty"))

	// After a delete the key is free again.
	require.NoError(t, st.Delete(t.Context(), p))
	require.NoError(t, storage.WriteFile(t.Context(), st, p, []byte("third"), storage.CreateOptions{IfAbsent: true}))
	assert.Equal(t, []byte("third"), read(t, st, p))
}

func testOverwrite(t *testing.T, st storage.Storage) {
	write(t, st, "o", []byte("original content"))
	write(t, st, "o", []byte("new"))
	assert.Equal(t, []byte("new"), read(t, st, "o"))
	info, err := st.Stat(t.Context(), "o")
	require.NoError(t, err)
	assert.Equal(t, int64(3), info.Size)
	err = storage.WriteFile(t.Context(), st, "o", []byte("if-absent"), storage.CreateOptions{IfAbsent: true})
	assert.ErrorIs(t, err, storage.ErrExist)
	assert.Equal(t, []byte("new"), read(t, st, "o"))
}

// listFixture is a small tree with a dot-directory, nesting and keys that
// share a prefix without a "/" ("dir", "dir2", "dirx").
func listFixture(t *testing.T, st storage.Storage) {
	for p, size := range map[string]int{
		".hoodie/hoodie.properties": 3,
		".hoodie/1.commit":          4,
		"a.txt":                     1,
		"dir/b.txt":                 2,
		"dir/sub/c.txt":             5,
		"dir/sub/deeper/d.txt":      6,
		"dir2/e.txt":                7,
		"dirx":                      8,
	} {
		write(t, st, p, pattern(size))
	}
}

func testListRecursive(t *testing.T, st storage.Storage) {
	listFixture(t, st)
	assert.Equal(t, []entry{
		{".hoodie/1.commit", 4, false},
		{".hoodie/hoodie.properties", 3, false},
		{"a.txt", 1, false},
		{"dir/b.txt", 2, false},
		{"dir/sub/c.txt", 5, false},
		{"dir/sub/deeper/d.txt", 6, false},
		{"dir2/e.txt", 7, false},
		{"dirx", 8, false},
	}, list(t, st, "", ""))
	assert.Equal(t, []entry{
		{"dir/b.txt", 2, false},
		{"dir/sub/c.txt", 5, false},
		{"dir/sub/deeper/d.txt", 6, false},
	}, list(t, st, "dir/", ""))
	assert.Equal(t, []entry{
		{"dir/b.txt", 2, false},
		{"dir/sub/c.txt", 5, false},
		{"dir/sub/deeper/d.txt", 6, false},
		{"dir2/e.txt", 7, false},
		{"dirx", 8, false},
	}, list(t, st, "dir", ""), "a prefix that is not a directory")
	assert.Equal(t, []entry{{"dir/sub/c.txt", 5, false}}, list(t, st, "dir/sub/c", ""))
	assert.Equal(t, []entry{{".hoodie/1.commit", 4, false}}, list(t, st, ".hoodie/1", ""))
	assert.Equal(t, []entry{{"a.txt", 1, false}}, list(t, st, "a.txt", ""), "a prefix equal to a key")
}

func testListDelimiter(t *testing.T, st storage.Storage) {
	listFixture(t, st)
	assert.Equal(t, []entry{
		{".hoodie/", 0, true},
		{"a.txt", 1, false},
		{"dir/", 0, true},
		{"dir2/", 0, true},
		{"dirx", 8, false},
	}, list(t, st, "", "/"))
	assert.Equal(t, []entry{
		{"dir/b.txt", 2, false},
		{"dir/sub/", 0, true},
	}, list(t, st, "dir/", "/"))
	assert.Equal(t, []entry{
		{"dir/sub/c.txt", 5, false},
		{"dir/sub/deeper/", 0, true},
	}, list(t, st, "dir/sub/", "/"))
	assert.Equal(t, []entry{
		{"dir/", 0, true},
		{"dir2/", 0, true},
		{"dirx", 8, false},
	}, list(t, st, "dir", "/"), "a prefix that is not a directory")
	assert.Equal(t, []entry{
		{".hoodie/1.commit", 4, false},
		{".hoodie/hoodie.properties", 3, false},
	}, list(t, st, ".hoodie/", "/"))
}

func testListMissing(t *testing.T, st storage.Storage) {
	assert.Empty(t, list(t, st, "", ""), "empty store")
	assert.Empty(t, list(t, st, "", "/"), "empty store")
	write(t, st, "present/x", []byte("x"))
	assert.Empty(t, list(t, st, "nope/", ""))
	assert.Empty(t, list(t, st, "nope/", "/"))
	assert.Empty(t, list(t, st, "present/x/", ""), "below an object")
	assert.Empty(t, list(t, st, "present/y", "/"))
}

func testListEarlyStop(t *testing.T, st storage.Storage) {
	for i := range 5 {
		write(t, st, fmt.Sprintf("k/%d", i), []byte{byte(i)})
	}
	var got []string
	for o, err := range st.List(t.Context(), "k/", "") {
		require.NoError(t, err)
		got = append(got, o.Path)
		if len(got) == 2 {
			break
		}
	}
	assert.Equal(t, []string{"k/0", "k/1"}, got)
}

func testDelete(t *testing.T, st storage.Storage) {
	write(t, st, "d/one", []byte("1"))
	write(t, st, "d/two", []byte("2"))
	require.NoError(t, st.Delete(t.Context(), "d/one"))
	_, err := st.Stat(t.Context(), "d/one")
	assert.ErrorIs(t, err, storage.ErrNotExist)
	_, err = storage.ReadFile(t.Context(), st, "d/one")
	assert.ErrorIs(t, err, storage.ErrNotExist)
	assert.Equal(t, []entry{{"d/two", 1, false}}, list(t, st, "", ""))
	require.NoError(t, st.Delete(t.Context(), "d/one"), "delete again")
	require.NoError(t, st.Delete(t.Context(), "never/existed"), "delete missing")
	require.NoError(t, st.Delete(t.Context(), "d/two"))
	assert.Empty(t, list(t, st, "", "/"), "no directory is left behind in listings")
}

func testStat(t *testing.T, st storage.Storage) {
	write(t, st, "s/file", pattern(1234))
	info, err := st.Stat(t.Context(), "s/file")
	require.NoError(t, err)
	assert.Equal(t, "s/file", info.Path)
	assert.Equal(t, int64(1234), info.Size)
	assert.False(t, info.IsDir)
	assert.False(t, info.ModTime.IsZero())

	_, err = st.Stat(t.Context(), "s/missing")
	assert.ErrorIs(t, err, storage.ErrNotExist)
	_, err = st.Stat(t.Context(), "s")
	assert.ErrorIs(t, err, storage.ErrNotExist, "a prefix is not an object")
	ok, err := storage.Exists(t.Context(), st, "s/file")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = storage.Exists(t.Context(), st, "s/missing")
	require.NoError(t, err)
	assert.False(t, ok)
}

func testLargeObject(t *testing.T, st storage.Storage) {
	data := make([]byte, LargeSize)
	rng := rand.NewChaCha8([32]byte{1, 2, 3})
	_, _ = rng.Read(data) // ChaCha8.Read never fails
	want := sha256.Sum256(data)

	writeChunks := func(p string, opts storage.CreateOptions) error {
		w, err := st.Create(t.Context(), p, opts)
		if err != nil {
			return err
		}
		// Odd chunk sizes so part boundaries fall inside writes.
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1<<20+7)
			if _, err := w.Write(rest[:n]); err != nil {
				return errors.Join(err, w.Abort())
			}
			rest = rest[n:]
		}
		return w.Close()
	}
	require.NoError(t, writeChunks("big/object.parquet", storage.CreateOptions{IfAbsent: true}))

	info, err := st.Stat(t.Context(), "big/object.parquet")
	require.NoError(t, err)
	assert.Equal(t, int64(LargeSize), info.Size)
	assert.Equal(t, want, sha256.Sum256(read(t, st, "big/object.parquet")), "content hash")

	// A range across the first 5 MiB part boundary, and the tail.
	const boundary = 5 << 20
	assert.Equal(t, data[boundary-10:boundary+10], readRange(t, st, "big/object.parquet", boundary-10, 20))
	assert.Equal(t, data[LargeSize-100:], readRange(t, st, "big/object.parquet", LargeSize-100, -1))

	// A large create-if-absent that loses leaves the object alone.
	err = writeChunks("big/object.parquet", storage.CreateOptions{IfAbsent: true})
	assert.ErrorIs(t, err, storage.ErrExist)
	assert.Equal(t, want, sha256.Sum256(read(t, st, "big/object.parquet")), "content hash after lost race")

	// An aborted large write leaves nothing.
	w, err := st.Create(t.Context(), "big/aborted", storage.CreateOptions{})
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Abort())
	_, err = st.Stat(t.Context(), "big/aborted")
	assert.ErrorIs(t, err, storage.ErrNotExist)
	assert.Equal(t, []entry{{"big/object.parquet", LargeSize, false}}, list(t, st, "", ""))
}

func testContextCancelled(t *testing.T, st storage.Storage) {
	write(t, st, "c/obj", []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	_, err := st.OpenRange(ctx, "c/obj", 0, -1)
	assert.ErrorIs(t, err, context.Canceled, "OpenRange")
	_, err = st.Create(ctx, "c/new", storage.CreateOptions{})
	assert.ErrorIs(t, err, context.Canceled, "Create")
	_, err = st.Stat(ctx, "c/obj")
	assert.ErrorIs(t, err, context.Canceled, "Stat")
	assert.ErrorIs(t, st.Delete(ctx, "c/obj"), context.Canceled, "Delete")
	var listErr error
	for _, err := range st.List(ctx, "", "") {
		if err != nil {
			listErr = err
			break
		}
	}
	assert.ErrorIs(t, listErr, context.Canceled, "List")

	// Nothing happened.
	assert.Equal(t, []byte("x"), read(t, st, "c/obj"))
	_, err = st.Stat(t.Context(), "c/new")
	assert.ErrorIs(t, err, storage.ErrNotExist)
}

func testInvalidKeys(t *testing.T, st storage.Storage) {
	write(t, st, "x", []byte("x"))
	for _, k := range []string{"../x", "/abs", "a//b", "", "a/", "a/./b", "a/../x", ".", "..", "a/.."} {
		_, err := st.OpenRange(t.Context(), k, 0, -1)
		assert.Error(t, err, "OpenRange(%q)", k)
		_, err = st.Create(t.Context(), k, storage.CreateOptions{})
		assert.Error(t, err, "Create(%q)", k)
		_, err = st.Stat(t.Context(), k)
		assert.Error(t, err, "Stat(%q)", k)
		assert.Error(t, st.Delete(t.Context(), k), "Delete(%q)", k)
	}
	for _, prefix := range []string{"../", "/", "/abs", "a//", "../x", "a/../"} {
		var listErr error
		for _, err := range st.List(t.Context(), prefix, "") {
			if err != nil {
				listErr = err
				break
			}
		}
		assert.Error(t, listErr, "List(%q)", prefix)
	}
	assert.Equal(t, []byte("x"), read(t, st, "x"), "nothing was deleted")
	assert.Equal(t, []entry{{"x", 1, false}}, list(t, st, "", ""))
}

func testConcurrentIfAbsent(t *testing.T, st storage.Storage) {
	const n = 16
	p := ".hoodie/20240101000000000.deltacommit.requested"
	writers := make([]storage.Writer, n)
	contents := make([][]byte, n)
	for i := range n {
		w, err := st.Create(t.Context(), p, storage.CreateOptions{IfAbsent: true})
		require.NoError(t, err)
		contents[i] = fmt.Appendf(nil, "writer %d %s", i, bytes.Repeat([]byte{byte('a' + i)}, 100*i))
		_, err = w.Write(contents[i])
		require.NoError(t, err)
		writers[i] = w
	}
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = writers[i].Close()
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "writers %d and %d both won", winner, i)
			winner = i
			continue
		}
		assert.ErrorIs(t, err, storage.ErrExist, "writer %d", i)
	}
	require.NotEqual(t, -1, winner, "no writer won")
	assert.Equal(t, contents[winner], read(t, st, p), "content is the winner's")
	assert.Equal(t, []entry{{p, int64(len(contents[winner])), false}}, list(t, st, "", ""))
}
