package logfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/hoodie-lake/hoodie/internal/basefile"
)

// minBlockSize is the smallest blockSize a version 1 block can have: format
// version, type, empty header, content length, empty footer, reverse pointer.
const minBlockSize = 4 + 4 + 4 + 8 + 4 + 8

// scanChunk is how much the reader reads at a time when looking for a magic.
const scanChunk = 64 << 10

// Reader reads the blocks of one log file in order.
type Reader struct {
	r    io.ReaderAt
	size int64
	off  int64
}

// NewReader returns a Reader of the size bytes of r.
func NewReader(r io.ReaderAt, size int64) *Reader {
	return &Reader{r: r, size: max(size, 0)}
}

// Offset is where the next block starts.
func (r *Reader) Offset() int64 { return r.off }

// Next returns the next block, or io.EOF after the last one.
//
// Bytes that do not frame a block (no magic, a reverse pointer that
// disagrees with blockSize, a block running past the end of the file,
// fields that overrun the block) come back as a CorruptBlock, with Err
// saying why, covering the bytes up to the next magic; the next call
// continues there. A block framed correctly whose content does not decode
// comes back with its raw Content and an error wrapping ErrCorrupt or
// ErrUnsupported; the next call continues with the following block. Read
// errors of r are returned as they are and end the iteration.
func (r *Reader) Next() (Block, error) {
	if r.off >= r.size {
		return Block{}, io.EOF
	}
	start := r.off
	var pre [14]byte
	n, err := r.readAt(pre[:], start)
	if err != nil {
		return Block{}, err
	}
	if n < len(Magic) || string(pre[:len(Magic)]) != Magic {
		return r.corrupt(start, start+1, "no magic")
	}
	if n < len(pre) {
		return r.corrupt(start, start+int64(len(Magic)), "truncated block size")
	}
	blockSize := int64(binary.BigEndian.Uint64(pre[6:]))
	end := start + 14 + blockSize
	if blockSize < minBlockSize || blockSize > r.size-start-14 {
		return r.corrupt(start, start+int64(len(Magic)), fmt.Sprintf("block size %d at offset %d overruns the file of %d bytes", blockSize, start, r.size))
	}
	var rp [8]byte
	if _, err := r.readFull(rp[:], end-8); err != nil {
		return Block{}, err
	}
	if got := int64(binary.BigEndian.Uint64(rp[:])); got-int64(len(Magic)) != blockSize {
		return r.corrupt(start, start+int64(len(Magic)), fmt.Sprintf("reverse pointer %d, block size %d", got, blockSize))
	}
	buf := make([]byte, blockSize-8)
	if _, err := r.readFull(buf, start+14); err != nil {
		return Block{}, err
	}
	b, ok, why := parseFrame(buf)
	if !ok {
		// The framing disagrees with itself: skip the whole block, as its
		// size fields are consistent.
		r.off = end
		return Block{Type: CorruptBlock, Offset: start, Size: end - start, Err: corruptf("block at offset %d: %s", start, why)}, nil
	}
	r.off = end
	b.Offset, b.Size = start, end-start
	if err := decodeContent(&b); err != nil {
		return b, fmt.Errorf("logfile: %v block at offset %d: %w", b.Type, start, err)
	}
	return b, nil
}

// All iterates the remaining blocks. After an error from r itself the
// iteration ends; after a content decoding error it goes on if the loop body
// does.
func (r *Reader) All() iter.Seq2[Block, error] {
	return func(yield func(Block, error) bool) {
		for {
			b, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if !yield(b, err) {
				return
			}
			if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
				return
			}
		}
	}
}

// corrupt returns a CorruptBlock from start to the next magic at or after
// from (or the end of the file) and moves there.
func (r *Reader) corrupt(start, from int64, why string) (Block, error) {
	next, err := r.nextMagic(from)
	if err != nil {
		return Block{}, err
	}
	r.off = next
	return Block{Type: CorruptBlock, Offset: start, Size: next - start, Err: corruptf("at offset %d: %s", start, why)}, nil
}

// nextMagic returns the offset of the first magic at or after from, or the
// file size.
func (r *Reader) nextMagic(from int64) (int64, error) {
	buf := make([]byte, scanChunk+len(Magic)-1)
	for off := from; off < r.size; off += scanChunk {
		n, err := r.readAt(buf, off)
		if err != nil {
			return 0, err
		}
		if i := bytes.Index(buf[:n], []byte(Magic)); i >= 0 {
			return off + int64(i), nil
		}
	}
	return r.size, nil
}

// readAt reads up to len(p) bytes at off, fewer only at the end of the file.
func (r *Reader) readAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, nil
	}
	if rem := r.size - off; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := r.r.ReadAt(p, off)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(p)) {
		if errors.Is(err, io.EOF) {
			// The file is shorter than size: treat the rest as missing.
			r.size = off + int64(n)
			return n, nil
		}
		return n, fmt.Errorf("logfile: reading at offset %d: %w", off, err)
	}
	return n, nil
}

func (r *Reader) readFull(p []byte, off int64) (int, error) {
	n, err := r.readAt(p, off)
	if err == nil && n < len(p) {
		err = fmt.Errorf("logfile: reading at offset %d: %w", off, io.ErrUnexpectedEOF)
	}
	return n, err
}

// parseFrame parses a block from its format version to its footer (buf ends
// just before the reverse pointer).
func parseFrame(buf []byte) (b Block, ok bool, why string) {
	p := parser{b: buf}
	if v := p.u32(); v != FormatVersion {
		return b, false, fmt.Sprintf("log format version %d", int32(v))
	}
	b.Type = BlockType(p.u32())
	b.Header = p.headers()
	cl := p.u64()
	if p.bad || cl > uint64(len(p.b)) {
		return b, false, "header or content length overruns the block"
	}
	b.Content = p.b[:cl:cl]
	p.b = p.b[cl:]
	b.Footer = p.headers()
	if p.bad {
		return b, false, "footer overruns the block"
	}
	if len(p.b) != 0 {
		return b, false, fmt.Sprintf("%d stray bytes before the reverse pointer", len(p.b))
	}
	if b.Type == CorruptBlock {
		return b, false, "block of type CORRUPT_BLOCK"
	}
	return b, true, ""
}

type parser struct {
	b   []byte
	bad bool
}

func (p *parser) u32() uint32 {
	if p.bad || len(p.b) < 4 {
		p.bad = true
		return 0
	}
	v := binary.BigEndian.Uint32(p.b)
	p.b = p.b[4:]
	return v
}

func (p *parser) u64() uint64 {
	if p.bad || len(p.b) < 8 {
		p.bad = true
		return 0
	}
	v := binary.BigEndian.Uint64(p.b)
	p.b = p.b[8:]
	return v
}

func (p *parser) headers() Headers {
	n := p.u32()
	if p.bad || uint64(n)*8 > uint64(len(p.b)) {
		p.bad = true
		return nil
	}
	if n == 0 {
		return nil
	}
	h := make(Headers, 0, n)
	for range n {
		k := HeaderKey(p.u32())
		l := p.u32()
		if p.bad || uint64(l) > uint64(len(p.b)) {
			p.bad = true
			return nil
		}
		h = append(h, Header{Key: k, Value: string(p.b[:l])})
		p.b = p.b[l:]
	}
	return h
}

// decodeContent fills Records or Deletes from Content.
func decodeContent(b *Block) error {
	switch b.Type {
	case AvroDataBlock:
		rec, err := decodeAvroContent(b.Content, b.Header.Value(SchemaHeader))
		if err != nil {
			return err
		}
		b.Records = []arrow.RecordBatch{rec}
	case DeleteBlock:
		d, err := decodeDeleteContent(b.Content)
		if err != nil {
			return err
		}
		b.Deletes = d
	case ParquetDataBlock:
		recs, err := decodeParquet(b.Content)
		if err != nil {
			return err
		}
		b.Records = conformRecords(recs, b.Header.Value(SchemaHeader))
	}
	return nil
}

func decodeParquet(content []byte) (recs []arrow.RecordBatch, err error) {
	if len(content) == 0 {
		return nil, nil // a block of no records, as Hudi writes it
	}
	defer func() {
		if rv := recover(); rv != nil {
			for _, r := range recs {
				r.Release()
			}
			recs, err = nil, fmt.Errorf("%w: Parquet content: %v", ErrCorrupt, rv)
		}
	}()
	f, err := basefile.Open(bytes.NewReader(content), int64(len(content)))
	if err != nil {
		return nil, fmt.Errorf("%w: Parquet content: %w", ErrCorrupt, err)
	}
	for rec, err := range f.Records(context.Background(), 0, nil) {
		if err != nil {
			for _, r := range recs {
				r.Release()
			}
			return nil, fmt.Errorf("%w: Parquet content: %w", ErrCorrupt, err)
		}
		rec.Retain()
		recs = append(recs, rec)
	}
	return recs, nil
}
