package hfile

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// layout is the structure of an HFile apart from the compressed bytes:
// the sequence of blocks (magic, uncompressed content, whether the
// previous-block pointer is set), the index keys and the trailer fields
// that do not depend on compressed sizes.
type layout struct {
	magics    []string
	contents  [][]byte
	prevSet   []bool
	dataKeys  [][]byte
	metaKeys  [][]byte
	trailer   trailer
	headerBPC []int32
	csumTypes []byte
}

func fileLayout(t *testing.T, b []byte) layout {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	var l layout
	for off := int64(0); off < r.dataEnd; {
		h := parseHeader(b[off : off+headerSize])
		blk, err := r.readBlock(off, r.dataEnd, h.magic)
		require.NoError(t, err)
		l.magics = append(l.magics, h.magic)
		content := blk.data
		if h.magic == magicRootIndex {
			// Keep the serialized keys (midpoint keys included), drop the
			// offsets and sizes.
			var keys []byte
			for rest := content; len(rest) > 0; {
				es, err := parseRootIndex(rest, 1)
				require.NoError(t, err)
				keys = append(keys, es[0].key...)
				rest = rest[12+len(putVLong(nil, int64(len(es[0].key))))+len(es[0].key):]
			}
			content = keys
		}
		l.contents = append(l.contents, content)
		l.prevSet = append(l.prevSet, h.prevOffset >= 0)
		l.headerBPC = append(l.headerBPC, h.bytesPerChecksum)
		l.csumTypes = append(l.csumTypes, h.checksumType)
		off = blk.end
	}
	for _, e := range r.root {
		l.dataKeys = append(l.dataKeys, e.key)
	}
	for _, e := range r.meta {
		l.metaKeys = append(l.metaKeys, e.key)
	}
	l.trailer = r.t
	// Offsets depend on compressed sizes (Go's deflate is not zlib's).
	l.trailer.fileInfoOffset, l.trailer.loadOnOpenOffset, l.trailer.lastDataBlockOffset = 0, 0, 0
	return l
}

// TestRewriteMatchesSpark rewrites every Spark sample, and the file HBase's
// writer wrote with 256-byte blocks (hundreds of blocks, midpoint index
// keys), with the Writer (same entries, user file info, meta blocks, block
// size) and checks the result has the same structure: same blocks with the
// same uncompressed bytes (data block boundaries, meta blocks, file info
// with HBase's own keys), same index keys, same trailer (counts, levels,
// comparator, codec, total uncompressed bytes, data index size).
func TestRewriteMatchesSpark(t *testing.T) {
	files, err := filepath.Glob("testdata/*.hfile")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		if filepath.Base(f) == "hbase-multilevel.hfile" {
			continue // a multi-level index, which the Writer does not write
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			orig, err := os.ReadFile(f)
			require.NoError(t, err)
			r, err := NewReader(bytes.NewReader(orig), int64(len(orig)))
			require.NoError(t, err)
			opts := WriterOptions{FileInfo: map[string][]byte{}, MetaBlocks: map[string][]byte{}}
			if strings.HasSuffix(f, "-blocks256.hfile") {
				opts.BlockSize = 256
			}
			for k, v := range r.FileInfo() {
				switch k {
				case fiLastKey, fiAvgKeyLen, fiAvgValueLen, fiCreateTime, fiMaxMemstore, fiKVVersion:
				default:
					opts.FileInfo[k] = v
				}
			}
			for _, e := range r.meta {
				v, ok, err := r.MetaBlock(string(e.key))
				require.NoError(t, err)
				require.True(t, ok)
				opts.MetaBlocks[string(e.key)] = v
			}
			var out bytes.Buffer
			w := NewWriter(&out, opts)
			for kv, err := range r.All() {
				require.NoError(t, err)
				require.NoError(t, w.Append(kv.Key, kv.Value))
			}
			require.NoError(t, w.Close())
			want, got := fileLayout(t, orig), fileLayout(t, out.Bytes())
			require.Equal(t, want.magics, got.magics)
			for i := range want.contents {
				require.True(t, bytes.Equal(want.contents[i], got.contents[i]), "block %d (%s) content", i, want.magics[i])
			}
			want.contents, got.contents = nil, nil
			require.Equal(t, want, got)
			// The gzip member header is the one HBase's GZ codec writes.
			require.Equal(t, orig[headerSize:headerSize+10], out.Bytes()[headerSize:headerSize+10])
			// The trailer's fixed part: magic, padding, version.
			ob, nb := orig[len(orig)-trailerSize:], out.Bytes()[out.Len()-trailerSize:]
			require.Equal(t, ob[:8], nb[:8])
			require.Equal(t, ob[trailerSize-4:], nb[trailerSize-4:])
			require.Equal(t, uint32(3<<24|3), binary.BigEndian.Uint32(nb[trailerSize-4:]))
		})
	}
}

func TestMidpointRow(t *testing.T) {
	for _, c := range []struct{ left, right, want string }{
		{"2024-01-01", "2024-01-02", "2024-01-02"},
		{"2024-01-01", "2024-01-09", "2024-01-02"},
		{"abc", "abcd", "abcd"},
		{"a", "c", "b"},
		{"a", "b", "b"},
		{"ab", "b", "b"},
		{"a\xff", "b", "b"},
		{"\x80", "\x90", "\x81"},
	} {
		got := midpointRow([]byte(c.left), []byte(c.right))
		require.Equal(t, c.want, string(got), "%q %q", c.left, c.right)
		require.Negative(t, bytes.Compare([]byte(c.left), got))
		require.LessOrEqual(t, bytes.Compare(got, []byte(c.right)), 0)
	}
}

func TestVLong(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 127, 128, -112, -113, 255, 256, 1 << 20, -(1 << 20), 1<<63 - 1, -1 << 63} {
		b := putVLong(nil, v)
		got, n, err := readVLong(b)
		require.NoError(t, err)
		require.Equal(t, len(b), n)
		require.Equal(t, v, got)
	}
	require.Equal(t, []byte{0x8f, 0x80}, putVLong(nil, 128)) // Hadoop: -113 then one byte
}
