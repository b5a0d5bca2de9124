package hfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/hfile"
)

func write(t testing.TB, opts hfile.WriterOptions, kvs []hfile.KeyValue) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := hfile.NewWriter(&buf, opts)
	for _, kv := range kvs {
		require.NoError(t, w.Append(kv.Key, kv.Value))
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func readAll(t testing.TB, b []byte) (*hfile.Reader, []hfile.KeyValue) {
	t.Helper()
	r, err := hfile.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	var kvs []hfile.KeyValue
	for kv, err := range r.All() {
		require.NoError(t, err)
		kvs = append(kvs, kv)
	}
	return r, kvs
}

func genKVs(n, valueLen int, seed uint64) []hfile.KeyValue {
	rng := rand.New(rand.NewPCG(seed, 1))
	kvs := make([]hfile.KeyValue, n)
	for i := range kvs {
		v := make([]byte, valueLen)
		for j := range v {
			v[j] = byte(rng.IntN(16)) // compressible, not constant
		}
		kvs[i] = hfile.KeyValue{Key: fmt.Appendf(nil, "key-%08d", i), Value: v}
	}
	return kvs
}

func TestRoundTrip(t *testing.T) {
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	cases := []struct {
		name string
		opts hfile.WriterOptions
		kvs  []hfile.KeyValue
	}{
		{"empty", hfile.WriterOptions{}, nil},
		{"empty-none", hfile.WriterOptions{Compression: hfile.NoCompression}, nil},
		{"one", hfile.WriterOptions{}, []hfile.KeyValue{{Key: []byte("k"), Value: []byte("v")}}},
		{"empty-key-and-value", hfile.WriterOptions{}, []hfile.KeyValue{{Key: []byte{}, Value: []byte{}}, {Key: []byte("a"), Value: nil}}},
		{"many-blocks-gz", hfile.WriterOptions{BlockSize: 4096}, genKVs(2000, 100, 1)},
		{"many-blocks-none", hfile.WriterOptions{BlockSize: 4096, Compression: hfile.NoCompression}, genKVs(2000, 100, 2)},
		{"large-values", hfile.WriterOptions{BlockSize: 1 << 16}, []hfile.KeyValue{
			{Key: []byte("a"), Value: big}, {Key: []byte("b"), Value: []byte("small")}, {Key: []byte("c"), Value: big[:70000]},
		}},
		{"non-ascii", hfile.WriterOptions{BlockSize: 64}, []hfile.KeyValue{
			{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("é"), Value: []byte("2")}, {Key: []byte("日本"), Value: []byte("3")},
			{Key: []byte("日本語"), Value: []byte("4")}, {Key: []byte{0xff, 0xff}, Value: []byte("5")}, {Key: []byte{0xff, 0xff, 0}, Value: []byte("6")},
		}},
		{"file-info-and-meta", hfile.WriterOptions{
			FileInfo:   map[string][]byte{"schema": []byte(`{"type":"record"}`), "minRecordKey": []byte("a"), "empty": {}},
			MetaBlocks: map[string][]byte{"bloomFilter": bytes.Repeat([]byte("AB"), 40000), "other": []byte("x"), "empty": {}},
		}, genKVs(10, 5, 3)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := write(t, c.opts, c.kvs)
			r, got := readAll(t, b)
			require.Equal(t, int64(len(c.kvs)), r.EntryCount())
			require.Len(t, got, len(c.kvs))
			for i, kv := range c.kvs {
				require.Equal(t, kv.Key, got[i].Key)
				require.Equal(t, len(kv.Value), len(got[i].Value))
				require.True(t, bytes.Equal(kv.Value, got[i].Value))
				v, ok, err := r.Get(kv.Key)
				require.NoError(t, err)
				require.True(t, ok, "%q", kv.Key)
				require.True(t, bytes.Equal(kv.Value, v))
			}
			_, ok, err := r.Get([]byte("zzz-absent"))
			require.NoError(t, err)
			require.False(t, ok)
			fi := r.FileInfo()
			for k, v := range c.opts.FileInfo {
				require.Equal(t, v, fi[k], k)
			}
			for k, v := range c.opts.MetaBlocks {
				got, ok, err := r.MetaBlock(k)
				require.NoError(t, err)
				require.True(t, ok)
				require.Equal(t, len(v), len(got))
				require.True(t, bytes.Equal(v, got))
			}
			_, ok, err = r.MetaBlock("absent")
			require.NoError(t, err)
			require.False(t, ok)
		})
	}
}

func TestWriterErrors(t *testing.T) {
	var buf bytes.Buffer
	w := hfile.NewWriter(&buf, hfile.WriterOptions{})
	require.NoError(t, w.Append([]byte("b"), nil))
	require.ErrorIs(t, w.Append([]byte("b"), nil), hfile.ErrKeyOrder)
	require.ErrorIs(t, w.Append([]byte("a"), nil), hfile.ErrKeyOrder)
	require.Error(t, w.Append(make([]byte, 1<<15), nil))
	require.NoError(t, w.Close())
	require.ErrorIs(t, w.Append([]byte("c"), nil), hfile.ErrClosed)

	w = hfile.NewWriter(&buf, hfile.WriterOptions{FileInfo: map[string][]byte{"hfile.LASTKEY": nil}})
	require.Error(t, w.Close())
	w = hfile.NewWriter(&buf, hfile.WriterOptions{Compression: 7})
	require.Error(t, w.Append([]byte("a"), nil))

	w = hfile.NewWriter(failWriter{}, hfile.WriterOptions{BlockSize: 1})
	require.NoError(t, w.Append([]byte("a"), nil)) // buffered
	require.Error(t, w.Append([]byte("b"), nil))   // writes block a
	require.Error(t, w.Close())
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestCorrupt flips and truncates bytes of valid files: every result is an
// error or a successful read, never a panic; checksummed regions must
// report ErrCorrupt.
func TestCorrupt(t *testing.T) {
	good := write(t, hfile.WriterOptions{BlockSize: 512, MetaBlocks: map[string][]byte{"m": []byte("meta")}}, genKVs(50, 20, 4))
	sample, err := os.ReadFile(filepath.Join("testdata", "mer-base-compacted.hfile"))
	require.NoError(t, err)
	for _, b := range [][]byte{good, sample} {
		for _, n := range []int{0, 1, 100, len(b) - 4096, len(b) - 1} {
			_, err := hfile.NewReader(bytes.NewReader(b[:n]), int64(n))
			require.ErrorIs(t, err, hfile.ErrCorrupt, "truncated to %d", n)
		}
		for i := 0; i < len(b); i += 7 {
			c := append([]byte(nil), b...)
			c[i] ^= 0x5a
			readEverything(c)
		}
		// A flip inside the first data block's payload is a checksum error.
		c := append([]byte(nil), b...)
		c[40] ^= 1
		r, err := hfile.NewReader(bytes.NewReader(c), int64(len(c)))
		require.NoError(t, err)
		var gotErr error
		for _, err := range r.All() {
			if err != nil {
				gotErr = err
			}
		}
		require.ErrorIs(t, gotErr, hfile.ErrCorrupt)
	}
	// Wrong version.
	c := append([]byte(nil), good...)
	c[len(c)-1] = 2
	_, err = hfile.NewReader(bytes.NewReader(c), int64(len(c)))
	require.ErrorIs(t, err, hfile.ErrUnsupported)
}

// readEverything reads all of b through the Reader, ignoring errors.
func readEverything(b []byte) {
	r, err := hfile.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return
	}
	var keys [][]byte
	for kv, err := range r.All() {
		if err != nil {
			break
		}
		keys = append(keys, kv.Key)
	}
	for _, k := range keys {
		_, _, _ = r.Get(k)
	}
	_, _, _ = r.Get([]byte("zz"))
	_, _, _ = r.MetaBlock("bloomFilter")
	_, _, _ = r.MetaBlock("m")
	_ = r.FileInfo()
}

func FuzzReader(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.hfile"))
	for _, fn := range files {
		b, err := os.ReadFile(fn)
		if err == nil {
			f.Add(b)
		}
	}
	var buf bytes.Buffer
	w := hfile.NewWriter(&buf, hfile.WriterOptions{BlockSize: 64, Compression: hfile.NoCompression, MetaBlocks: map[string][]byte{"m": []byte("x")}})
	for _, kv := range genKVs(20, 8, 5) {
		_ = w.Append(kv.Key, kv.Value)
	}
	_ = w.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		readEverything(b)
	})
}
