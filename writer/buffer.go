package writer

import (
	"errors"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// DefaultBufferBytes is the default of Options.BufferBytes: the Arrow data
// a writer keeps in memory between commits before it spills.
const DefaultBufferBytes = 256 << 20

// spillPattern names a writer's spill directory inside Options.SpillDir.
const spillPattern = "hoodie-spill-*"

// Buffer bound. The batches a writer buffers between commits stay Arrow
// records until a handle encodes their rows. Options.BufferBytes bounds the
// Arrow bytes held in memory: past it, the row data of the oldest batches
// still in memory is written to an Arrow IPC file in the writer's spill
// directory and released; a handle that writes rows of a spilled batch
// reads the file back (one batch at a time), and the file is removed when
// the buffer is dropped (Commit, Abort, Close). What dedup and routing need
// stays in memory: each row's record key and partition path, and the
// precombine and _hoodie_is_deleted columns. The spill files are outside
// the table: a crash leaves them behind in the spill directory (under
// Options.SpillDir, named hoodie-spill-*) but cannot damage the table.

// pin records what the buffer bound needs of a new batch (its schema, rows
// and Arrow size) and retains the columns dedup reads, which outlive the
// record's row data when the batch is spilled.
func (b *batch) pin(precombine string) {
	b.sch = b.rec.Schema()
	b.bytes = recordBytes(b.rec)
	if b.ordering != nil {
		if i := b.sch.FieldIndices(precombine); len(i) > 0 {
			b.ordCol = b.rec.Column(i[0])
			b.ordCol.Retain()
		}
	}
	if b.deleted != nil {
		b.deleted.Retain()
	}
}

// release drops the batch: its record, the retained columns, its spill
// file.
func (b *batch) release() error {
	if b.rec != nil {
		b.rec.Release()
		b.rec = nil
	}
	if b.ordCol != nil {
		b.ordCol.Release()
		b.ordCol = nil
	}
	if b.deleted != nil {
		b.deleted.Release()
		b.deleted = nil
	}
	if b.spilled != "" {
		path := b.spilled
		b.spilled = ""
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("writer: removing spill file: %w", err)
		}
	}
	return nil
}

// record returns the batch's rows as a record the caller releases: the
// buffered one, or, for a spilled batch, a copy read back from its spill
// file.
func (b *batch) record() (arrow.RecordBatch, error) {
	if b.rec != nil {
		b.rec.Retain()
		return b.rec, nil
	}
	if b.spilled == "" {
		return nil, errors.New("writer: buffered batch was released")
	}
	f, err := os.Open(b.spilled)
	if err != nil {
		return nil, fmt.Errorf("writer: reading spill file: %w", err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		return nil, fmt.Errorf("writer: reading spill file %s: %w", b.spilled, err)
	}
	defer r.Close()
	rec, err := r.RecordBatchAt(0)
	if err != nil {
		return nil, fmt.Errorf("writer: reading spill file %s: %w", b.spilled, err)
	}
	if rec.NumRows() != int64(len(b.keys)) {
		rec.Release()
		return nil, fmt.Errorf("writer: spill file %s holds %d rows, want %d", b.spilled, rec.NumRows(), len(b.keys))
	}
	if !rec.Schema().Equal(b.sch) {
		return rec, nil
	}
	// The buffered schema pointer, so that the base file writer reuses its
	// column binding across reads.
	out := array.NewRecordBatch(b.sch, rec.Columns(), rec.NumRows())
	rec.Release()
	return out, nil
}

// admit adds batch b to the buffer and enforces Options.BufferBytes:
// while the Arrow bytes in memory exceed it, the oldest batches in memory
// (b last) are spilled. On error b is not buffered (and released).
func (w *Writer) admit(b *batch) error {
	w.mu.memBytes += b.bytes
	limit := w.opts.BufferBytes
	for i := 0; limit >= 0 && w.mu.memBytes > limit && i <= len(w.mu.batches); i++ {
		c := b
		if i < len(w.mu.batches) {
			c = w.mu.batches[i]
		}
		if c.rec == nil {
			continue
		}
		if err := w.spill(c); err != nil {
			w.mu.memBytes -= b.bytes
			_ = b.release()
			return err
		}
	}
	w.mu.batches = append(w.mu.batches, b)
	w.mu.rows += len(b.keys)
	return nil
}

// spill writes b's record to an Arrow IPC file in the writer's spill
// directory and releases it.
func (w *Writer) spill(b *batch) (err error) {
	dir, err := w.spillDir()
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "batch-*.arrow")
	if err != nil {
		return fmt.Errorf("writer: spilling the buffer: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	iw, err := ipc.NewFileWriter(f, ipc.WithSchema(b.rec.Schema()))
	if err != nil {
		return fmt.Errorf("writer: spilling the buffer: %w", err)
	}
	if err := iw.Write(b.rec); err != nil {
		return fmt.Errorf("writer: spilling the buffer: %w", err)
	}
	if err := iw.Close(); err != nil {
		return fmt.Errorf("writer: spilling the buffer: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writer: spilling the buffer: %w", err)
	}
	b.spilled = f.Name()
	b.rec.Release()
	b.rec = nil
	w.mu.memBytes -= b.bytes
	w.mu.spills++
	return nil
}

// spillDir is the writer's spill directory, created on first use under
// Options.SpillDir.
func (w *Writer) spillDir() (string, error) {
	if w.mu.spillDir != "" {
		return w.mu.spillDir, nil
	}
	base := w.opts.SpillDir
	if base == "" {
		base = os.TempDir()
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("writer: spill directory: %w", err)
	}
	dir, err := os.MkdirTemp(base, spillPattern)
	if err != nil {
		return "", fmt.Errorf("writer: spill directory: %w", err)
	}
	w.mu.spillDir = dir
	return dir, nil
}

// removeSpillDir removes the writer's spill directory (Close).
func (w *Writer) removeSpillDir() error {
	if w.mu.spillDir == "" {
		return nil
	}
	dir := w.mu.spillDir
	w.mu.spillDir = ""
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("writer: removing spill directory: %w", err)
	}
	return nil
}

// recordBytes is the size of the buffers rec references (each counted
// once, whole even when rec is a slice of it).
func recordBytes(rec arrow.RecordBatch) int64 {
	seen := map[*memory.Buffer]bool{}
	var n int64
	var walk func(d arrow.ArrayData)
	walk = func(d arrow.ArrayData) {
		if d == nil {
			return
		}
		if p, ok := d.(*array.Data); ok && p == nil {
			return
		}
		for _, b := range d.Buffers() {
			if b != nil && !seen[b] {
				seen[b] = true
				n += int64(b.Len())
			}
		}
		for _, c := range d.Children() {
			walk(c)
		}
		walk(d.Dictionary())
	}
	for _, c := range rec.Columns() {
		walk(c.Data())
	}
	return n
}
