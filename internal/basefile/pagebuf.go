package basefile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/parquet-go/parquet-go"
)

// DefaultPageBufferMemory is the default of WriterOptions.PageBufferMemory.
const DefaultPageBufferMemory = 2 << 20

// pageBufferPattern names the temporary files of spilled column chunks.
const pageBufferPattern = "hoodie-pages-*"

// pagePool is the writer's parquet.BufferPool for the pages of the row
// group being written. A Parquet file stores each column chunk's pages
// contiguously, so every page of a row group is buffered until the row
// group is flushed; with row groups of Hudi's 120 MB that is the whole file.
// Each column's buffer stays in memory up to limit bytes, then moves to a
// temporary file in dir: a writer's heap holds at most limit bytes per
// column. cleanup removes every file the pool still holds (Abort, Close).
type pagePool struct {
	dir   string
	limit int

	mu    sync.Mutex
	files map[*os.File]bool
}

func newPagePool(dir string, limit int) *pagePool {
	return &pagePool{dir: dir, limit: limit, files: map[*os.File]bool{}}
}

// GetBuffer implements parquet.BufferPool.
func (p *pagePool) GetBuffer() io.ReadWriteSeeker { return &pageBuffer{pool: p} }

// PutBuffer implements parquet.BufferPool.
func (p *pagePool) PutBuffer(b io.ReadWriteSeeker) {
	if pb, ok := b.(*pageBuffer); ok {
		pb.release()
	}
}

func (p *pagePool) createFile() (*os.File, error) {
	dir := p.dir
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, pageBufferPattern)
	if err != nil {
		return nil, fmt.Errorf("basefile: page buffer file: %w", err)
	}
	p.mu.Lock()
	p.files[f] = true
	p.mu.Unlock()
	return f, nil
}

func (p *pagePool) removeFile(f *os.File) error {
	p.mu.Lock()
	delete(p.files, f)
	p.mu.Unlock()
	return errors.Join(f.Close(), os.Remove(f.Name()))
}

// cleanup removes the files of buffers not yet returned.
func (p *pagePool) cleanup() error {
	p.mu.Lock()
	files := p.files
	p.files = map[*os.File]bool{}
	p.mu.Unlock()
	var errs []error
	for f := range files {
		if err := errors.Join(f.Close(), os.Remove(f.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("basefile: removing page buffer files: %w", errors.Join(errs...))
	}
	return nil
}

// memPages is the in-memory pool pageBuffers start in (parquet-go's
// chunked pool, whose chunks are reused across writers).
var memPages = parquet.NewBufferPool()

// pageBuffer is one column chunk's page buffer: in memory (a memPages
// buffer) while it holds up to the pool's limit bytes, then a temporary
// file.
type pageBuffer struct {
	pool *pagePool
	mem  io.ReadWriteSeeker // nil once spilled (or before the first write)
	size int64              // bytes in mem
	off  int64              // mem's position
	f    *os.File
}

func (b *pageBuffer) memBuf() io.ReadWriteSeeker {
	if b.mem == nil {
		b.mem = memPages.GetBuffer()
		b.size, b.off = 0, 0
	}
	return b.mem
}

func (b *pageBuffer) Write(p []byte) (int, error) {
	if b.f == nil && b.off+int64(len(p)) > int64(b.pool.limit) {
		if err := b.spill(); err != nil {
			return 0, err
		}
	}
	if b.f != nil {
		return b.f.Write(p)
	}
	n, err := b.memBuf().Write(p)
	b.off += int64(n)
	b.size = max(b.size, b.off)
	return n, err
}

// spill moves the buffer to a temporary file, at the same offset.
func (b *pageBuffer) spill() (err error) {
	f, err := b.pool.createFile()
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = b.pool.removeFile(f)
			err = fmt.Errorf("basefile: page buffer file: %w", err)
		}
	}()
	if b.mem != nil {
		if _, err := b.mem.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.CopyN(f, b.mem, b.size); err != nil {
			return err
		}
		if _, err := f.Seek(b.off, io.SeekStart); err != nil {
			return err
		}
		memPages.PutBuffer(b.mem)
		b.mem = nil
	}
	b.f = f
	return nil
}

func (b *pageBuffer) Read(p []byte) (int, error) {
	if b.f != nil {
		return b.f.Read(p)
	}
	if b.off >= b.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), b.size-b.off)]
	n, err := b.memBuf().Read(p)
	b.off += int64(n)
	return n, err
}

func (b *pageBuffer) Seek(offset int64, whence int) (int64, error) {
	if b.f != nil {
		return b.f.Seek(offset, whence)
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += b.off
	case io.SeekEnd:
		offset += b.size
	default:
		return 0, fmt.Errorf("basefile: page buffer: bad whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("basefile: page buffer: negative offset %d", offset)
	}
	if _, err := b.memBuf().Seek(offset, io.SeekStart); err != nil {
		return 0, err
	}
	b.off = offset
	return offset, nil
}

// release drops the buffer's memory or file.
func (b *pageBuffer) release() {
	if b.f != nil {
		_ = b.pool.removeFile(b.f)
		b.f = nil
	}
	if b.mem != nil {
		memPages.PutBuffer(b.mem)
		b.mem = nil
	}
	b.size, b.off = 0, 0
}
