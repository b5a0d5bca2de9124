package logfile_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"
)

// threeBlocks writes an Avro data block, a delete block and a rollback
// block and returns the file and each block's start offset.
func threeBlocks(t testing.TB) ([]byte, []int64) {
	t.Helper()
	var buf bytes.Buffer
	var offs []int64
	for _, b := range []logfile.Block{
		logfile.NewDeleteBlock("20250101000000001", tripsSchema, []logfile.DeleteRecord{{RecordKey: "a", PartitionPath: "p"}}),
		logfile.NewDeleteBlock("20250101000000002", "", []logfile.DeleteRecord{{RecordKey: "b", PartitionPath: "p", OrderingVal: int64(5)}}),
		logfile.NewRollbackBlock("20250101000000003", "20250101000000002"),
	} {
		offs = append(offs, int64(buf.Len()))
		_, err := logfile.WriteBlock(&buf, b)
		require.NoError(t, err)
	}
	return buf.Bytes(), offs
}

type got struct {
	typ       logfile.BlockType
	off, size int64
	instant   string
}

func scan(t *testing.T, data []byte) []got {
	t.Helper()
	var out []got
	r := logfile.NewReader(bytes.NewReader(data), int64(len(data)))
	for b, err := range r.All() {
		require.NoError(t, err)
		if b.Type == logfile.CorruptBlock {
			assert.ErrorIs(t, b.Err, logfile.ErrCorrupt)
		}
		out = append(out, got{b.Type, b.Offset, b.Size, b.Header.Value(logfile.InstantTime)})
	}
	return out
}

func TestTornTail(t *testing.T) {
	data, offs := threeBlocks(t)
	for cut := offs[2] + 1; cut < int64(len(data)); cut += 7 {
		blocks := scan(t, data[:cut])
		require.Len(t, blocks, 3, "cut at %d", cut)
		assert.Equal(t, got{logfile.DeleteBlock, 0, offs[1], "20250101000000001"}, blocks[0])
		assert.Equal(t, got{logfile.DeleteBlock, offs[1], offs[2] - offs[1], "20250101000000002"}, blocks[1])
		assert.Equal(t, got{logfile.CorruptBlock, offs[2], cut - offs[2], ""}, blocks[2], "cut at %d", cut)
	}
	// Cut exactly at a block boundary: nothing corrupt.
	assert.Len(t, scan(t, data[:offs[2]]), 2)
}

func TestGarbageInTheMiddle(t *testing.T) {
	data, offs := threeBlocks(t)
	garbage := bytes.Repeat([]byte("garbage!"), 13)
	var f []byte
	f = append(f, data[:offs[1]]...)
	f = append(f, garbage...)
	f = append(f, data[offs[1]:]...)
	g := int64(len(garbage))
	blocks := scan(t, f)
	require.Len(t, blocks, 4)
	assert.Equal(t, got{logfile.DeleteBlock, 0, offs[1], "20250101000000001"}, blocks[0])
	assert.Equal(t, got{logfile.CorruptBlock, offs[1], g, ""}, blocks[1])
	assert.Equal(t, logfile.DeleteBlock, blocks[2].typ)
	assert.Equal(t, offs[1]+g, blocks[2].off)
	assert.Equal(t, got{logfile.CommandBlock, offs[2] + g, int64(len(data)) - offs[2], "20250101000000003"}, blocks[3])

	// Garbage before the first block too.
	blocks = scan(t, append(append([]byte{}, garbage[:5]...), data...))
	require.Len(t, blocks, 4)
	assert.Equal(t, got{logfile.CorruptBlock, 0, 5, ""}, blocks[0])
	assert.Equal(t, int64(5), blocks[1].off)
}

func TestReversePointerMismatch(t *testing.T) {
	data, offs := threeBlocks(t)
	f := bytes.Clone(data)
	// Bump the reverse pointer of the middle block.
	rp := offs[2] - 8
	binary.BigEndian.PutUint64(f[rp:], binary.BigEndian.Uint64(f[rp:])+1)
	blocks := scan(t, f)
	require.Len(t, blocks, 3)
	assert.Equal(t, logfile.DeleteBlock, blocks[0].typ)
	assert.Equal(t, got{logfile.CorruptBlock, offs[1], offs[2] - offs[1], ""}, blocks[1])
	assert.Equal(t, got{logfile.CommandBlock, offs[2], int64(len(data)) - offs[2], "20250101000000003"}, blocks[2])

	// A block size beyond the file: corrupt up to the next magic.
	f = bytes.Clone(data)
	binary.BigEndian.PutUint64(f[offs[1]+6:], 1<<40)
	blocks = scan(t, f)
	require.Len(t, blocks, 3)
	assert.Equal(t, got{logfile.CorruptBlock, offs[1], offs[2] - offs[1], ""}, blocks[1])

	// Header length overrunning a block whose sizes agree: the block is
	// skipped whole.
	f = bytes.Clone(data)
	binary.BigEndian.PutUint32(f[offs[1]+22:], 1<<30)
	blocks = scan(t, f)
	require.Len(t, blocks, 3)
	assert.Equal(t, got{logfile.CorruptBlock, offs[1], offs[2] - offs[1], ""}, blocks[1])
	assert.Equal(t, logfile.CommandBlock, blocks[2].typ)
}

func TestUndecodableContent(t *testing.T) {
	data, offs := threeBlocks(t)
	f := bytes.Clone(data)
	// The second delete block's content version: offset of content is the
	// end of the block minus reverse pointer, footer and content.
	contentLen := 8 + 1 + 1 + 2 + 1 + 2 + 1 + 1 + 1 // version, length, avro
	at := offs[2] - 8 - 4 - int64(contentLen)
	require.Equal(t, uint32(3), binary.BigEndian.Uint32(f[at:]))
	binary.BigEndian.PutUint32(f[at:], 2)
	r := logfile.NewReader(bytes.NewReader(f), int64(len(f)))
	b, err := r.Next()
	require.NoError(t, err)
	assert.Equal(t, logfile.DeleteBlock, b.Type)
	b, err = r.Next()
	assert.ErrorIs(t, err, logfile.ErrUnsupported)
	assert.Equal(t, offs[1], b.Offset)
	assert.Equal(t, "20250101000000002", b.Header.Value(logfile.InstantTime))
	b, err = r.Next()
	require.NoError(t, err, "reading goes on after an undecodable block")
	assert.Equal(t, logfile.CommandBlock, b.Type)
	_, err = r.Next()
	assert.ErrorIs(t, err, io.EOF)

	// Truncated Avro inside a well-framed block.
	f = bytes.Clone(data)
	binary.BigEndian.PutUint32(f[at:], 3)
	f[at+8] = 0x7f // a huge negative-zigzag count
	r = logfile.NewReader(bytes.NewReader(f), int64(len(f)))
	_, _ = r.Next()
	_, err = r.Next()
	assert.ErrorIs(t, err, logfile.ErrCorrupt)
}

type failingReaderAt struct{}

func (failingReaderAt) ReadAt([]byte, int64) (int, error) { return 0, errors.New("boom") }

func TestReadErrorEndsIteration(t *testing.T) {
	r := logfile.NewReader(failingReaderAt{}, 100)
	n := 0
	for _, err := range r.All() {
		require.Error(t, err)
		assert.NotErrorIs(t, err, logfile.ErrCorrupt)
		n++
	}
	assert.Equal(t, 1, n)
}

func FuzzReader(f *testing.F) {
	data, _ := threeBlocks(f)
	f.Add(data)
	f.Add(data[:len(data)-3])
	f.Add([]byte("#HUDI#"))
	f.Add([]byte{})
	var buf bytes.Buffer
	_, err := logfile.WriteBlock(&buf, logfile.NewAvroDataBlock("1", richSchema))
	require.NoError(f, err)
	f.Add(buf.Bytes())
	// The Spark-written samples (Parquet content included).
	for _, fx := range fixtures.All(f) {
		if fx.Type != "mor" {
			continue
		}
		for _, lf := range logFiles(f, fixtures.Unzip(f, fx.Zip)) {
			f.Add(lf.data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := logfile.NewReader(bytes.NewReader(data), int64(len(data)))
		next := int64(0)
		for i := 0; ; i++ {
			require.Less(t, i, len(data)+1, "reader makes progress")
			b, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				require.True(t, errors.Is(err, logfile.ErrCorrupt) || errors.Is(err, logfile.ErrUnsupported), "%v", err)
			}
			// Blocks tile the file.
			require.Equal(t, next, b.Offset)
			require.Positive(t, b.Size)
			next = b.Offset + b.Size
			b.Release()
		}
		require.Equal(t, int64(len(data)), next)
	})
}
