package hfile_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/hfile"
)

// sample describes a Spark-written golden file in testdata (README.md).
type sample struct {
	file    string
	entries int64
	first   string
	last    string
	meta    bool // has Hudi's bloomFilter meta block
}

var samples = []sample{
	{"mer-base-bootstrap.hfile", 1, "__all_partitions__", "__all_partitions__", true},
	{"mer-base-compacted.hfile", 4, "2024-01-01", "__all_partitions__", true},
	{"mer-logblock.hfile", 3, "2024-01-01", "2024-01-03", false},
	{"cop-logblock.hfile", 4, "2024-01-01", "__all_partitions__", false},
}

func openSample(t *testing.T, name string) (*hfile.Reader, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	r, err := hfile.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	return r, b
}

func TestSparkSamples(t *testing.T) {
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			r, _ := openSample(t, s.file)
			require.Equal(t, s.entries, r.EntryCount())
			var kvs []hfile.KeyValue
			for kv, err := range r.All() {
				require.NoError(t, err)
				kvs = append(kvs, kv)
			}
			require.Len(t, kvs, int(s.entries))
			require.Equal(t, s.first, string(kvs[0].Key))
			require.Equal(t, s.last, string(kvs[len(kvs)-1].Key))
			for i, kv := range kvs {
				if i > 0 {
					require.Negative(t, bytes.Compare(kvs[i-1].Key, kv.Key))
				}
				v, ok, err := r.Get(kv.Key)
				require.NoError(t, err)
				require.True(t, ok, "%s", kv.Key)
				require.Equal(t, kv.Value, v)
				// Keys just before and after are absent.
				_, ok, err = r.Get(append(append([]byte(nil), kv.Key...), 0))
				require.NoError(t, err)
				require.False(t, ok)
			}
			_, ok, err := r.Get([]byte(""))
			require.NoError(t, err)
			require.False(t, ok)

			fi := r.FileInfo()
			require.True(t, strings.HasPrefix(string(fi["schema"]), `{"type":"record","name":"HoodieMetadataRecord"`))
			require.Equal(t, []byte{0, 0, 0, 1}, fi["KEY_VALUE_VERSION"])
			require.Equal(t, make([]byte, 8), fi["hfile.CREATE_TIME_TS"])
			lastKey := fi["hfile.LASTKEY"]
			require.Equal(t, s.last, string(lastKey[2:2+int(binary.BigEndian.Uint16(lastKey))]))

			bloom, ok, err := r.MetaBlock("bloomFilter")
			require.NoError(t, err)
			require.Equal(t, s.meta, ok)
			if s.meta {
				require.Equal(t, "DYNAMIC_V0", string(fi["bloomFilterTypeCode"]))
				require.Equal(t, s.first, string(fi["minRecordKey"]))
				require.Equal(t, s.last, string(fi["maxRecordKey"]))
				require.Len(t, bloom, 431380)
			}
		})
	}
}
