package ingest

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

type parquetReader struct {
	src  string
	pf   *file.Reader
	rr   pqarrow.RecordReader
	row  int64
	done bool
}

// NewParquet reads a Parquet file (any writer) with its own schema. A
// corrupt file is an error naming the source, never a panic.
func NewParquet(r io.ReaderAt, size int64, source string, opts Options) (_ Reader, err error) {
	defer recoverCorrupt(source, &err)
	opts.defaults()
	pf, err := file.NewParquetReader(readerAtSeeker{r, size})
	if err != nil {
		return nil, fmt.Errorf("ingest: %s: %w", source, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(opts.BatchRows)}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("ingest: %s: %w", source, err)
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("ingest: %s: %w", source, err)
	}
	return &parquetReader{src: source, pf: pf, rr: rr}, nil
}

func (p *parquetReader) Schema() *arrow.Schema { return p.rr.Schema() }

// Position counts rows; Parquet has no byte offsets of rows.
func (p *parquetReader) Position() Position { return Position{Line: p.row, Offset: -1} }

func (p *parquetReader) Close() (err error) {
	defer recoverCorrupt(p.src, &err)
	p.rr.Release()
	return p.pf.Close()
}

func (p *parquetReader) Next() (_ *Batch, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.done = true
			err = fmt.Errorf("ingest: %s: corrupt Parquet file: %v", p.src, r)
		}
	}()
	if p.done || !p.rr.Next() {
		p.done = true
		if err := p.rr.Err(); err != nil && err != io.EOF {
			return nil, fmt.Errorf("ingest: %s: %w", p.src, err)
		}
		return nil, io.EOF
	}
	rec := p.rr.RecordBatch()
	rec.Retain()
	lines := make([]int64, rec.NumRows())
	ends := make([]int64, rec.NumRows())
	for i := range lines {
		p.row++
		lines[i] = p.row
		ends[i] = -1
	}
	return &Batch{Rec: rec, Lines: lines, Ends: ends}, nil
}

// recoverCorrupt turns a panic of arrow-go's Parquet reader, which some
// corrupt files provoke (nil page headers, bad offsets), into an error.
// Deferred directly: recover only works in the deferred function itself.
func recoverCorrupt(source string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("ingest: %s: corrupt Parquet file: %v", source, r)
	}
}

// readerAtSeeker adapts an io.ReaderAt of known size to the
// parquet.ReaderAtSeeker the file reader wants.
type readerAtSeeker struct {
	io.ReaderAt
	size int64
}

func (r readerAtSeeker) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekEnd:
		return r.size + offset, nil
	case io.SeekStart:
		return offset, nil
	}
	return 0, fmt.Errorf("ingest: unsupported seek")
}
