package basefile

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/parquet-go/parquet-go"
)

// DefaultBatchRows is the batch size Records uses when given 0.
const DefaultBatchRows = 8192

// Reader reads a base file (any Parquet file: Spark-written or ours) into
// Arrow. It is safe for sequential use only.
type Reader struct {
	f      *parquet.File
	md     map[string]string
	root   *pnode
	schema *arrow.Schema
	mem    memory.Allocator
}

// Open reads the footer of the Parquet file of the given size in r.
func Open(r io.ReaderAt, size int64) (_ *Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: parquet-go: %v", ErrCorrupt, p)
		}
	}()
	f, err := parquet.OpenFile(r, size, parquet.SkipBloomFilters(true), parquet.SkipPageIndex(true))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	root, err := treeFromFile(f.Schema())
	if err != nil {
		return nil, err
	}
	md := make(map[string]string, len(f.Metadata().KeyValueMetadata))
	for _, kv := range f.Metadata().KeyValueMetadata {
		md[kv.Key] = kv.Value
	}
	fields := make([]arrow.Field, len(root.children))
	for i, c := range root.children {
		fields[i] = arrow.Field{Name: c.name, Type: c.arrowType(), Nullable: c.optional}
	}
	return &Reader{f: f, md: md, root: root, schema: arrow.NewSchema(fields, nil), mem: memory.DefaultAllocator}, nil
}

// Metadata returns the footer key-value metadata (do not modify).
func (r *Reader) Metadata() map[string]string { return r.md }

// NumRows returns the file's row count.
func (r *Reader) NumRows() int64 { return r.f.NumRows() }

// Schema returns the Arrow schema of every column, meta columns included.
// Arrow types derive from the Parquet types (see schema.Schema.ToArrow for the
// same mapping); 2-level list elements are non-nullable.
func (r *Reader) Schema() *arrow.Schema { return r.schema }

// TableSchema parses the footer's parquet.avro.schema (meta fields dropped).
func (r *Reader) TableSchema() (*schema.Schema, error) {
	js, ok := r.md[AvroSchemaKey]
	if !ok {
		return nil, fmt.Errorf("%w: no %s in footer", ErrCorrupt, AvroSchemaKey)
	}
	return schema.ParseAvro([]byte(js))
}

// RecordKeys returns the _hoodie_record_key of every row, in file order,
// reading only that column.
func (r *Reader) RecordKeys() (_ []string, err error) {
	defer recoverCorrupt(&err)
	idx := -1
	for i, c := range r.root.children {
		if c.name == schema.RecordKeyField && c.kind == pLeaf {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("%w: no %s column", ErrCorrupt, schema.RecordKeyField)
	}
	leaf := r.root.children[idx].leaf
	keys := make([]string, 0, r.NumRows())
	var buf []parquet.Value
	for _, rg := range r.f.RowGroups() {
		buf, err = readChunk(rg.ColumnChunks()[leaf], buf[:0])
		if err != nil {
			return nil, err
		}
		for _, v := range buf {
			if v.IsNull() {
				keys = append(keys, "")
				continue
			}
			keys = append(keys, string(v.ByteArray()))
		}
	}
	return keys, nil
}

func recoverCorrupt(err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("%w: parquet-go: %v", ErrCorrupt, p)
	}
}

// readChunk appends every value (with levels) of a column chunk to buf.
func readChunk(cc parquet.ColumnChunk, buf []parquet.Value) ([]parquet.Value, error) {
	pages := cc.Pages()
	defer pages.Close()
	for {
		var err error
		buf, err = readPage(pages, buf)
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// readPage appends the values of the next page of pages to buf; io.EOF at
// the end of the chunk.
func readPage(pages parquet.Pages, buf []parquet.Value) ([]parquet.Value, error) {
	p, err := pages.ReadPage()
	if errors.Is(err, io.EOF) {
		return buf, io.EOF
	}
	if err != nil {
		return buf, fmt.Errorf("%w: reading page: %w", ErrCorrupt, err)
	}
	n := int(p.NumValues())
	start := len(buf)
	buf = slices.Grow(buf, n)[:start+n]
	vr := p.Values()
	for got := 0; got < n; {
		k, err := vr.ReadValues(buf[start+got : start+n])
		got += k
		if errors.Is(err, io.EOF) {
			if got != n {
				return buf, fmt.Errorf("%w: page has %d of %d values", ErrCorrupt, got, n)
			}
			break
		}
		if err != nil {
			return buf, fmt.Errorf("%w: decoding page: %w", ErrCorrupt, err)
		}
		if k == 0 {
			return buf, fmt.Errorf("%w: page decoding made no progress", ErrCorrupt)
		}
	}
	return buf, nil
}

// ReadColumns reads the named top-level columns (nil: all) of the whole file
// into one record.
func (r *Reader) ReadColumns(names []string) (arrow.RecordBatch, error) {
	n := int(r.NumRows())
	var recs []arrow.RecordBatch
	defer func() {
		for _, rec := range recs {
			rec.Release()
		}
	}()
	for rec, err := range r.Records(context.Background(), max(n, 1), names) {
		if err != nil {
			return nil, err
		}
		rec.Retain()
		recs = append(recs, rec)
	}
	sch, _, err := r.project(names)
	if err != nil {
		return nil, err
	}
	if len(recs) == 1 {
		recs[0].Retain()
		return recs[0], nil
	}
	// Several row groups: concatenate column by column.
	cols := make([]arrow.Array, sch.NumFields())
	for c := range cols {
		parts := make([]arrow.Array, len(recs))
		for i, rec := range recs {
			parts[i] = rec.Column(c)
		}
		if len(parts) == 0 {
			b := array.NewBuilder(r.mem, sch.Field(c).Type)
			cols[c] = b.NewArray()
			b.Release()
			continue
		}
		a, err := array.Concatenate(parts, r.mem)
		if err != nil {
			return nil, fmt.Errorf("basefile: concatenating %s: %w", sch.Field(c).Name, err)
		}
		cols[c] = a
	}
	rec := array.NewRecordBatch(sch, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}

func (r *Reader) project(names []string) (*arrow.Schema, []int, error) {
	if names == nil {
		idx := make([]int, len(r.root.children))
		for i := range idx {
			idx[i] = i
		}
		return r.schema, idx, nil
	}
	idx := make([]int, len(names))
	fields := make([]arrow.Field, len(names))
	for i, name := range names {
		j := r.schema.FieldIndices(name)
		if len(j) == 0 {
			return nil, nil, fmt.Errorf("%w: no column %q", ErrSchemaMismatch, name)
		}
		idx[i] = j[0]
		fields[i] = r.schema.Field(j[0])
	}
	return arrow.NewSchema(fields, nil), idx, nil
}

// Records iterates the file in batches of at most batchRows rows (0:
// DefaultBatchRows; batches never span row groups) with the named top-level
// columns (nil: all). Each record is released after the loop body; Retain it
// to keep it. Iteration stops at the first error.
func (r *Reader) Records(ctx context.Context, batchRows int, columns []string) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		if batchRows <= 0 {
			batchRows = DefaultBatchRows
		}
		sch, idx, err := r.project(columns)
		if err != nil {
			yield(nil, err)
			return
		}
		cur := make([]cursor, len(r.root.leaves))
		defer closeCursors(cur)
		for _, rg := range r.f.RowGroups() {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			if err := r.loadRowGroup(rg, idx, cur); err != nil {
				yield(nil, err)
				return
			}
			rows := int(rg.NumRows())
			for done := 0; done < rows; {
				if err := ctx.Err(); err != nil {
					yield(nil, err)
					return
				}
				n := min(batchRows, rows-done)
				if err := r.fill(idx, cur, n); err != nil {
					yield(nil, err)
					return
				}
				rec, err := r.assemble(sch, idx, cur, n)
				if err != nil {
					yield(nil, err)
					return
				}
				done += n
				ok := yield(rec, nil)
				rec.Release()
				if !ok {
					return
				}
			}
		}
	}
}

// cursor streams the values (with levels) of one leaf column of the row
// group being read: pages are decoded as assembling needs them (fill), so a
// reader holds about one batch and one page of values per column, not the
// row group.
type cursor struct {
	vals  []parquet.Value
	pos   int
	pages parquet.Pages // nil once the chunk is read (or not streaming)
}

// loadRowGroup points the cursors of the projected columns' leaves at rg's
// column chunks.
func (r *Reader) loadRowGroup(rg parquet.RowGroup, idx []int, cur []cursor) (err error) {
	defer recoverCorrupt(&err)
	chunks := rg.ColumnChunks()
	for _, i := range idx {
		for _, l := range r.root.children[i].leaves {
			c := &cur[l]
			if c.pages != nil {
				c.pages.Close()
			}
			clear(c.vals)
			*c = cursor{vals: c.vals[:0], pages: chunks[l].Pages()}
		}
	}
	return nil
}

// fill makes the cursors of the projected columns hold the next rows rows
// whole (or the rest of the row group).
func (r *Reader) fill(idx []int, cur []cursor, rows int) (err error) {
	defer recoverCorrupt(&err)
	for _, i := range idx {
		for _, l := range r.root.children[i].leaves {
			if err := cur[l].fill(rows); err != nil {
				return fmt.Errorf("column %q: %w", r.root.children[i].name, err)
			}
		}
	}
	return nil
}

// fill drops the consumed values and decodes pages until the cursor holds
// more than rows row starts (so the rows-th row is complete) or the chunk
// ends.
func (c *cursor) fill(rows int) error {
	if c.pos > 0 {
		n := copy(c.vals, c.vals[c.pos:])
		clear(c.vals[n:]) // drop references to decoded pages
		c.vals = c.vals[:n]
		c.pos = 0
	}
	starts := 0
	for _, v := range c.vals {
		if v.RepetitionLevel() == 0 {
			starts++
		}
	}
	for c.pages != nil && starts <= rows {
		from := len(c.vals)
		var err error
		c.vals, err = readPage(c.pages, c.vals)
		if errors.Is(err, io.EOF) {
			c.pages.Close()
			c.pages = nil
			break
		}
		if err != nil {
			return err
		}
		for _, v := range c.vals[from:] {
			if v.RepetitionLevel() == 0 {
				starts++
			}
		}
	}
	return nil
}

// closeCursors closes the page readers the cursors still hold.
func closeCursors(cur []cursor) {
	for i := range cur {
		if cur[i].pages != nil {
			cur[i].pages.Close()
			cur[i].pages = nil
		}
	}
}

func (r *Reader) assemble(sch *arrow.Schema, idx []int, cur []cursor, rows int) (_ arrow.RecordBatch, err error) {
	defer recoverCorrupt(&err)
	cols := make([]arrow.Array, len(idx))
	defer func() {
		if err != nil {
			for _, c := range cols {
				if c != nil {
					c.Release()
				}
			}
		}
	}()
	as := assembler{cur: cur}
	for i, ci := range idx {
		n := r.root.children[ci]
		b := array.NewBuilder(r.mem, sch.Field(i).Type)
		b.Reserve(rows)
		if n.kind == pLeaf {
			err = as.flat(n, b, rows)
		} else {
			for range rows {
				if err = as.read(n, b); err != nil {
					break
				}
			}
		}
		if err != nil {
			b.Release()
			return nil, fmt.Errorf("column %q: %w", n.name, err)
		}
		cols[i] = b.NewArray()
		b.Release()
	}
	rec := array.NewRecordBatch(sch, cols, int64(rows))
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}

type assembler struct {
	cur []cursor
}

var errShort = fmt.Errorf("%w: column ended early", ErrCorrupt)

func (a *assembler) peek(n *pnode) (parquet.Value, error) {
	c := &a.cur[n.leaves[0]]
	if c.pos >= len(c.vals) {
		return parquet.Value{}, errShort
	}
	return c.vals[c.pos], nil
}

// skip consumes the single entry every leaf under n has for a null or empty n.
func (a *assembler) skip(n *pnode) {
	for _, l := range n.leaves {
		a.cur[l].pos++
	}
}

// read appends one value of node n to b.
func (a *assembler) read(n *pnode, b array.Builder) error {
	v, err := a.peek(n)
	if err != nil {
		return err
	}
	d := v.DefinitionLevel()
	if n.optional && d < n.def {
		b.AppendNull()
		a.skip(n)
		return nil
	}
	switch n.kind {
	case pLeaf:
		a.cur[n.leaf].pos++
		return appendLeaf(b, n, v)
	case pStruct:
		sb := b.(*array.StructBuilder)
		sb.Append(true)
		for i, c := range n.children {
			if err := a.read(c, sb.FieldBuilder(i)); err != nil {
				return err
			}
		}
	case pList:
		lb := b.(*array.ListBuilder)
		rn := n.children[0]
		lb.Append(true)
		if d < rn.def {
			a.skip(n)
			return nil
		}
		return a.repeat(rn, func() error { return a.read(n.elem, lb.ValueBuilder()) })
	case pMap:
		mb := b.(*array.MapBuilder)
		kv := n.children[0]
		mb.Append(true)
		if d < kv.def {
			a.skip(n)
			return nil
		}
		return a.repeat(kv, func() error {
			if err := a.read(kv.children[0], mb.KeyBuilder()); err != nil {
				return err
			}
			return a.read(kv.children[1], mb.ItemBuilder())
		})
	}
	return nil
}

// repeat calls elem for each entry of repeated node rn at the current
// position.
func (a *assembler) repeat(rn *pnode, elem func() error) error {
	for {
		if err := elem(); err != nil {
			return err
		}
		c := &a.cur[rn.leaves[0]]
		if c.pos >= len(c.vals) || c.vals[c.pos].RepetitionLevel() != rn.rep {
			return nil
		}
	}
}

// flat reads rows values of a top-level primitive column.
func (a *assembler) flat(n *pnode, b array.Builder, rows int) error {
	c := &a.cur[n.leaf]
	if len(c.vals)-c.pos < rows {
		return errShort
	}
	vals := c.vals[c.pos : c.pos+rows]
	c.pos += rows
	def := n.def
	switch bb := b.(type) {
	case *array.StringBuilder:
		size := 0
		for _, v := range vals {
			size += len(v.ByteArray())
		}
		bb.ReserveData(size)
		for _, v := range vals {
			if v.DefinitionLevel() < def {
				bb.AppendNull()
				continue
			}
			bb.BinaryBuilder.Append(v.ByteArray())
		}
		return nil
	case *array.Int64Builder:
		if n.ptype.Kind() == parquet.Int64 {
			for _, v := range vals {
				if v.DefinitionLevel() < def {
					bb.AppendNull()
					continue
				}
				bb.UnsafeAppend(v.Int64())
			}
			return nil
		}
	case *array.Int32Builder:
		if n.ptype.Kind() == parquet.Int32 {
			for _, v := range vals {
				if v.DefinitionLevel() < def {
					bb.AppendNull()
					continue
				}
				bb.UnsafeAppend(v.Int32())
			}
			return nil
		}
	}
	for _, v := range vals {
		if v.DefinitionLevel() < def {
			b.AppendNull()
			continue
		}
		if err := appendLeaf(b, n, v); err != nil {
			return err
		}
	}
	return nil
}

const julianUnixEpoch = 2440588

func appendLeaf(b array.Builder, n *pnode, v parquet.Value) error {
	kind := n.ptype.Kind()
	switch bb := b.(type) {
	case *array.BooleanBuilder:
		bb.Append(v.Boolean())
	case *array.Int32Builder:
		bb.Append(v.Int32())
	case *array.Int64Builder:
		bb.Append(v.Int64())
	case *array.Float32Builder:
		bb.Append(v.Float())
	case *array.Float64Builder:
		bb.Append(v.Double())
	case *array.Date32Builder:
		bb.Append(arrow.Date32(v.Int32()))
	case *array.TimestampBuilder:
		if kind == parquet.Int96 {
			i96 := v.Int96()
			nanos := int64(i96[1])<<32 | int64(i96[0])
			days := int64(i96[2]) - julianUnixEpoch
			bb.Append(arrow.Timestamp(days*86_400_000_000 + nanos/1000))
			return nil
		}
		bb.Append(arrow.Timestamp(v.Int64()))
	case *array.StringBuilder:
		bb.BinaryBuilder.Append(v.ByteArray())
	case *array.BinaryBuilder:
		bb.Append(v.ByteArray())
	case *array.FixedSizeBinaryBuilder:
		bb.Append(v.ByteArray())
	case *array.Decimal128Builder:
		switch kind {
		case parquet.Int32:
			bb.Append(decimal128.FromI64(int64(v.Int32())))
		case parquet.Int64:
			bb.Append(decimal128.FromI64(v.Int64()))
		default:
			num, err := decimalFromBigEndian(v.ByteArray())
			if err != nil {
				return err
			}
			bb.Append(num)
		}
	default:
		return fmt.Errorf("%w: no Arrow builder for %T", ErrUnsupported, b)
	}
	return nil
}

// decimalFromBigEndian decodes a big-endian two's complement unscaled value.
func decimalFromBigEndian(b []byte) (decimal128.Num, error) {
	if len(b) > 16 {
		return decimal128.Num{}, fmt.Errorf("%w: decimal of %d bytes", ErrUnsupported, len(b))
	}
	var buf [16]byte
	if len(b) > 0 && b[0]&0x80 != 0 {
		for i := range buf {
			buf[i] = 0xff
		}
	}
	copy(buf[16-len(b):], b)
	return decimal128.New(int64(binary.BigEndian.Uint64(buf[:8])), binary.BigEndian.Uint64(buf[8:])), nil
}
