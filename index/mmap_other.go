//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package index

import (
	"io"
	"os"
	"unsafe"
)

// mmap reads f into memory where this package does not map files; the
// buffer is 8-byte aligned for the records.
func mmap(f *os.File, size int) ([]byte, error) {
	words := make([]uint64, (size+7)/8)
	if len(words) == 0 {
		return []byte{}, nil
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), size)
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, int64(size)), b); err != nil {
		return nil, err
	}
	return b, nil
}

func munmap([]byte) error { return nil }
