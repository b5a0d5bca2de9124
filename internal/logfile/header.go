package logfile

import (
	"encoding/binary"
	"fmt"
	"io"
)

// ReadFirstHeader reads the type and header map of the first block of a log
// file without reading its content: what a planner needs to learn which
// instant wrote a file (INSTANT_TIME) with one small ranged read. It fails
// with ErrCorrupt when the file does not start with a well-framed header.
func ReadFirstHeader(r io.ReaderAt, size int64) (BlockType, Headers, error) {
	n := min(size, 256<<10)
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, 0); err != nil && err != io.EOF {
		return 0, nil, fmt.Errorf("logfile: reading the first block header: %w", err)
	}
	if len(buf) < 22 || string(buf[:len(Magic)]) != Magic {
		return 0, nil, corruptf("no magic at offset 0")
	}
	blockSize := binary.BigEndian.Uint64(buf[6:14])
	p := parser{b: buf[14:]}
	if blockSize < minBlockSize || blockSize > uint64(size-14) {
		return 0, nil, corruptf("first block size %d in a file of %d bytes", blockSize, size)
	}
	if v := p.u32(); v != FormatVersion {
		return 0, nil, fmt.Errorf("%w: log format version %d", ErrUnsupported, int32(v))
	}
	t := BlockType(p.u32())
	h := p.headers()
	if p.bad {
		return 0, nil, corruptf("first block header overruns %d bytes", n)
	}
	return t, h, nil
}
