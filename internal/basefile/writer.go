package basefile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hoodie-lake/hoodie/internal/bloom"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/parquet-go/parquet-go"
)

// chunkRows bounds the rows shredded before handing values to parquet-go;
// it also bounds how far a row group may overshoot RowGroupBytes.
const chunkRows = 4096

// Writer writes one base file. Use Write for each batch, then Close; on any
// error the Writer is unusable and the caller must discard (abort) the
// destination: Close then returns the error without writing a footer.
type Writer struct {
	out    *countingWriter
	shape  *mrShaper
	buf    *bufio.Writer
	pw     *parquet.Writer //lint:ignore SA1019 the untyped Writer takes a runtime schema; GenericWriter needs a Go type
	cols   []*parquet.ColumnWriter
	schema *schema.Schema
	root   *pnode
	opts   WriterOptions

	vals  [][]parquet.Value
	arena arena
	sel   []int // rows of the batch being written (WriteRows), or nil

	bindings map[*arrow.Schema]*bound
	pages    *pagePool // nil: parquet-go's in-memory page buffers

	// leafNodes lists the leaves by column index; decLeaves the decimal
	// leaves stored as binary, whose signed min/max the writer tracks per
	// row group (rgDec, then decStats) for the footer.
	leafNodes []*pnode
	decLeaves []int
	rgDec     map[int]minMax
	decStats  []map[int]minMax
	// pageRaw is, per leaf, the PLAIN size of the values written since the
	// last page cut; pageLimit where writeColumn cuts the next page.
	pageRaw   []int64
	pageLimit []int64

	rows, rgRows int64
	rgStart      int64
	minKey       []byte
	maxKey       []byte
	hasKey       bool

	err    error
	closed bool
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// NewWriter returns a Writer of a base file for table schema s (data columns,
// without meta fields) to w.
func NewWriter(w io.Writer, s *schema.Schema, opts WriterOptions) (_ *Writer, err error) {
	if w == nil || s == nil {
		return nil, fmt.Errorf("%w: nil writer or schema", ErrUnsupported)
	}
	if err := opts.ensureDefaults(); err != nil {
		return nil, err
	}
	codec, err := opts.Compression.codec()
	if err != nil {
		return nil, err
	}
	ps, root, err := buildTree(s)
	if err != nil {
		return nil, err
	}
	options := []parquet.WriterOption{
		ps,
		parquet.Compression(codec),
		parquet.PageBufferSize(opts.PageSize),
		parquet.DataPageVersion(1),
		// Hudi sets the dictionary page size to the page size
		// (HoodieBaseParquetWriter: withDictionaryPageSize(pageSize)).
		// parquet-go checks the limit only when it cuts a page, so the
		// limit is half of it and dictionary-encoded pages are cut every
		// half page size of values (writeColumn): the dictionary never
		// passes the page size.
		parquet.DictionaryMaxBytes(int64(opts.PageSize / 2)),
		// parquet-mr's column index truncate length (64 bytes).
		parquet.ColumnIndexSizeLimit(func([]string) int { return columnIndexTruncateLength }),
		// Unbuffered: pages go straight to the shaper, so everything
		// written by Close is the page index and the footer.
		parquet.WriteBufferSize(-1),
		// No statistics in page headers: parquet-mr stopped writing them
		// (PARQUET-1365) once the page index holds them; parquet-go's put
		// whole values (a 1 MiB string twice) and unsigned decimal bounds
		// there.
		parquet.DataPageStatistics(false),
		parquet.CreatedBy("hoodie", "0.1.0", ""),
		parquet.KeyValueMetadata(AvroSchemaKey, s.WithMetaFieldsJSON()),
		parquet.KeyValueMetadata(WriterModelKey, WriterModelAvro),
	}
	for k, v := range opts.ExtraMetadata {
		options = append(options, parquet.KeyValueMetadata(k, v))
	}
	var pages *pagePool
	if opts.PageBufferMemory >= 0 {
		pages = newPagePool(opts.PageBufferDir, opts.PageBufferMemory)
		options = append(options, parquet.ColumnPageBuffers(pages))
	}
	// Validated here (NewWriter panics on a bad config), then handed to
	// NewWriter as options: a *WriterConfig passed as an option is merged
	// into the defaults with boolean ORs, which would turn
	// DataPageStatistics(false) back on.
	if _, err := parquet.NewWriterConfig(options...); err != nil {
		return nil, fmt.Errorf("basefile: writer config: %w", err)
	}
	defer func() {
		// parquet-go panics on schema shapes it cannot write.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: parquet-go: %v", ErrUnsupported, r)
		}
	}()
	cw := &countingWriter{w: w}
	buf := bufio.NewWriterSize(cw, 64<<10)
	shape := newMRShaper(buf)
	// The plain Writer, not GenericWriter[any]: the latter builds reflection
	// write funcs that reject 2-level LIST groups, and we never use them.
	pw := parquet.NewWriter(shape, options...) //nolint:staticcheck // see above
	bw := &Writer{
		out:      cw,
		shape:    shape,
		buf:      buf,
		rgDec:    map[int]minMax{},
		pw:       pw,
		cols:     pw.ColumnWriters(),
		schema:   s,
		root:     root,
		opts:     opts,
		vals:     make([][]parquet.Value, len(root.leaves)),
		bindings: map[*arrow.Schema]*bound{},
		pages:    pages,
	}
	if len(bw.cols) != len(root.leaves) {
		return nil, fmt.Errorf("%w: parquet-go built %d columns, want %d", ErrUnsupported, len(bw.cols), len(root.leaves))
	}
	bw.pageRaw = make([]int64, len(root.leaves))
	bw.pageLimit = make([]int64, len(root.leaves))
	bw.leafNodes = make([]*pnode, len(root.leaves))
	collectLeafNodes(root, bw.leafNodes)
	for i, n := range bw.leafNodes {
		if n == nil {
			return nil, fmt.Errorf("%w: leaf %d missing from the column tree", ErrUnsupported, i)
		}
		if isDecimal(n) && isBinary(n) {
			bw.decLeaves = append(bw.decLeaves, i)
		}
		bw.pageLimit[i] = int64(opts.PageSize)
		if n.dict {
			bw.pageLimit[i] = int64(opts.PageSize / 2)
		}
	}
	return bw, nil
}

// SetMetadata sets a footer key-value pair (e.g. the bloom filter, known only
// once all keys are written). Call it before Close.
func (w *Writer) SetMetadata(key, value string) error {
	if w.closed || w.err != nil {
		return ErrClosed
	}
	switch key {
	case AvroSchemaKey, WriterModelKey, MinRecordKeyKey, MaxRecordKeyKey:
		return fmt.Errorf("%w: metadata key %q is owned by the writer", ErrUnsupported, key)
	}
	w.pw.SetKeyValueMetadata(key, value)
	return nil
}

// Rows returns the rows written so far.
func (w *Writer) Rows() int64 { return w.rows }

// EstimatedSize returns the bytes written so far plus the buffered row group
// (an upper bound before compression of the last pages), for file sizing.
func (w *Writer) EstimatedSize() int64 { return w.pw.Size() }

// Write appends rec's rows, in order, with the given meta column values. rec's
// columns are matched to the schema's fields by name; a nullable schema field
// missing from rec is written as nulls.
func (w *Writer) Write(meta Meta, rec arrow.RecordBatch) error {
	return w.write(meta, rec, nil)
}

// WriteRows appends the rows of rec at the given indices, in that order,
// without materialising them (meta values are per written row, as for
// Write). It saves a copy of the data when a file takes scattered rows of a
// batch.
func (w *Writer) WriteRows(meta Meta, rec arrow.RecordBatch, rows []int) error {
	for _, r := range rows {
		if r < 0 || int64(r) >= rec.NumRows() {
			return fmt.Errorf("%w: row %d out of range [0, %d)", ErrSchemaMismatch, r, rec.NumRows())
		}
	}
	return w.write(meta, rec, rows)
}

func (w *Writer) write(meta Meta, rec arrow.RecordBatch, sel []int) (err error) {
	if w.closed || w.err != nil {
		return ErrClosed
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("basefile: parquet-go panic: %v", r)
		}
		if err != nil {
			w.err = err
		}
	}()
	n := int(rec.NumRows())
	if sel != nil {
		n = len(sel)
	}
	w.sel = sel
	defer func() { w.sel = nil }()
	for _, c := range []struct {
		name string
		s    Strings
	}{
		{schema.CommitTimeField, meta.CommitTime}, {schema.CommitSeqNoField, meta.SeqNo},
		{schema.RecordKeyField, meta.RecordKey}, {schema.PartitionPathField, meta.PartitionPath},
		{schema.FileNameField, meta.FileName},
	} {
		if err := c.s.check(c.name, n); err != nil {
			return err
		}
	}
	b, err := w.bind(rec.Schema())
	if err != nil {
		return err
	}
	cols := rec.Columns()
	for off := 0; off < n; {
		end := min(n, off+chunkRows)
		if w.opts.RowGroupRows > 0 {
			end = min(end, off+int(w.opts.RowGroupRows-w.rgRows))
		}
		if err := w.writeChunk(&meta, b, cols, off, end); err != nil {
			return err
		}
		w.rows += int64(end - off)
		w.rgRows += int64(end - off)
		off = end
		if (w.opts.RowGroupRows > 0 && w.rgRows >= w.opts.RowGroupRows) ||
			w.pw.Size()-w.rgStart >= w.opts.RowGroupBytes {
			if err := w.flushRowGroup(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *Writer) writeChunk(meta *Meta, b *bound, cols []arrow.Array, from, to int) error {
	for i := range w.vals {
		w.vals[i] = w.vals[i][:0]
	}
	w.arena.reset()
	metas := [5]*Strings{&meta.CommitTime, &meta.SeqNo, &meta.RecordKey, &meta.PartitionPath, &meta.FileName}
	for leaf, s := range metas {
		vals := w.vals[leaf]
		for i := from; i < to; i++ {
			v, ok := s.value(i, &w.arena)
			if !ok {
				if leaf == 2 {
					return fmt.Errorf("%w: null record key at row %d", ErrInvalidMeta, i)
				}
				vals = append(vals, parquet.Value{}.Level(0, 0, leaf))
				continue
			}
			if leaf == 2 {
				w.trackKey(v)
			}
			vals = append(vals, parquet.ByteArrayValue(v).Level(0, 1, leaf))
		}
		w.vals[leaf] = vals
	}
	for ci, cb := range b.children {
		var col arrow.Array
		if cb.col >= 0 {
			col = cols[cb.col]
		}
		if err := w.shredColumn(cb, col, from, to); err != nil {
			return fmt.Errorf("%w: column %q: %w", ErrSchemaMismatch, w.root.children[ci+len(schema.MetaFields)].name, err)
		}
	}
	w.trackDecimals()
	for leaf, vals := range w.vals {
		if err := w.writeColumn(leaf, vals); err != nil {
			return fmt.Errorf("basefile: writing column %d: %w", leaf, err)
		}
	}
	return nil
}

func (w *Writer) trackKey(k []byte) {
	if !w.hasKey {
		w.minKey = append(w.minKey[:0], k...)
		w.maxKey = append(w.maxKey[:0], k...)
		w.hasKey = true
		return
	}
	if bytes.Compare(k, w.minKey) < 0 {
		w.minKey = append(w.minKey[:0], k...)
	} else if bytes.Compare(k, w.maxKey) > 0 {
		w.maxKey = append(w.maxKey[:0], k...)
	}
}

// writeColumn hands whole rows to parquet-go in slices of at most pageRows
// rows, and cuts a page once the values written since the last cut take
// PageSize bytes in PLAIN encoding. parquet-go only cuts a page when its
// buffer is full, and the buffer of a dictionary-encoded column holds 4-byte
// ids, not values: a column of long strings would grow one page and one
// dictionary without bound. parquet-mr cuts pages by size and falls back
// from the dictionary to PLAIN once the dictionary exceeds the dictionary
// page size; cutting at PageSize of raw values lets parquet-go's fallback
// (checked at every page cut, WriterConfig DictionaryMaxBytes = PageSize/2)
// keep the dictionary within PageSize: dictionary-encoded leaves are cut at
// PageSize/2 of values, PLAIN-only leaves at PageSize.
func (w *Writer) writeColumn(leaf int, vals []parquet.Value) error {
	const pageRows = 1024
	cw := w.cols[leaf]
	limit := w.pageLimit[leaf]
	for len(vals) > 0 {
		if w.pageRaw[leaf] >= limit {
			if err := cw.Flush(); err != nil {
				return err
			}
			w.pageRaw[leaf] = 0
		}
		n, rows := 0, 0
		var raw int64
		for n < len(vals) {
			if vals[n].RepetitionLevel() == 0 {
				if rows == pageRows || (rows > 0 && w.pageRaw[leaf]+raw >= limit) {
					break
				}
				rows++
			}
			raw += plainSize(vals[n])
			n++
		}
		if _, err := cw.WriteRowValues(vals[:n]); err != nil {
			return err
		}
		w.pageRaw[leaf] += raw
		vals = vals[n:]
	}
	return nil
}

// plainSize is a value's size in PLAIN encoding.
func plainSize(v parquet.Value) int64 {
	if v.IsNull() {
		return 0
	}
	switch v.Kind() {
	case parquet.ByteArray:
		return 4 + int64(len(v.ByteArray()))
	case parquet.FixedLenByteArray:
		return int64(len(v.ByteArray()))
	case parquet.Int64, parquet.Double:
		return 8
	case parquet.Int96:
		return 12
	case parquet.Boolean:
		return 1
	}
	return 4
}

// Close flushes the last row group, writes the footer and returns the file's
// description. After a failed Write it returns that error and writes nothing.
func (w *Writer) Close() (FileInfo, error) {
	if w.closed {
		return FileInfo{}, ErrClosed
	}
	w.closed = true
	if w.err != nil {
		return FileInfo{}, errors.Join(fmt.Errorf("%w: earlier write failed: %w", ErrClosed, w.err), w.removePages())
	}
	w.pw.SetKeyValueMetadata(MinRecordKeyKey, string(w.minKey))
	w.pw.SetKeyValueMetadata(MaxRecordKeyKey, string(w.maxKey))
	err := w.closeParquet()
	if err := errors.Join(err, w.removePages()); err != nil {
		return FileInfo{}, err
	}
	return FileInfo{Rows: w.rows, Size: w.out.n, MinRecordKey: string(w.minKey), MaxRecordKey: string(w.maxKey)}, nil
}

func (w *Writer) closeParquet() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("basefile: parquet-go panic: %v", r)
		}
	}()
	if w.rgRows > 0 {
		if err := w.flushRowGroup(); err != nil {
			return err
		}
	}
	w.shape.tail = true
	if err := w.pw.Close(); err != nil {
		return fmt.Errorf("basefile: closing parquet writer: %w", err)
	}
	if err := w.shape.finish(w.leafNodes, w.decStats); err != nil {
		return err
	}
	if err := w.buf.Flush(); err != nil {
		return fmt.Errorf("basefile: writing: %w", err)
	}
	return nil
}

// flushRowGroup ends the current row group.
func (w *Writer) flushRowGroup() error {
	if err := w.pw.Flush(); err != nil {
		return fmt.Errorf("basefile: flushing row group: %w", err)
	}
	w.decStats = append(w.decStats, w.rgDec)
	w.rgDec = map[int]minMax{}
	clear(w.pageRaw)
	w.rgRows = 0
	w.rgStart = w.pw.Size()
	return nil
}

// trackDecimals folds the chunk's values of binary decimal leaves into the
// row group's signed min/max.
func (w *Writer) trackDecimals() {
	for _, leaf := range w.decLeaves {
		mm, seen := w.rgDec[leaf]
		for _, v := range w.vals[leaf] {
			if v.IsNull() {
				continue
			}
			b := v.ByteArray()
			if !seen {
				mm = minMax{min: bytes.Clone(b), max: bytes.Clone(b)}
				seen = true
				continue
			}
			if cmpSignedBE(b, mm.min) < 0 {
				mm.min = append(mm.min[:0], b...)
			} else if cmpSignedBE(b, mm.max) > 0 {
				mm.max = append(mm.max[:0], b...)
			}
		}
		if seen {
			w.rgDec[leaf] = mm
		}
	}
}

// collectLeafNodes fills out[leaf] with each leaf of the tree.
func collectLeafNodes(n *pnode, out []*pnode) {
	if n.kind == pLeaf {
		if n.leaf >= 0 && n.leaf < len(out) {
			out[n.leaf] = n
		}
		return
	}
	for _, c := range n.children {
		collectLeafNodes(c, out)
	}
}

// Abort stops the Writer without writing a footer; the destination holds a
// truncated file the caller must discard.
func (w *Writer) Abort() {
	w.closed = true
	w.vals = nil
	_ = w.removePages() // best effort; the files are temporary
}

// removePages removes the page buffer files still held.
func (w *Writer) removePages() error {
	if w.pages == nil {
		return nil
	}
	return w.pages.cleanup()
}

// bound ties a pnode to the Arrow array that feeds it.
type bound struct {
	n        *pnode
	col      int // index in the parent's Arrow columns/struct fields; -1 = absent (nulls)
	children []*bound
	conv     leafConv
}

type leafConv func(a arrow.Array, i int, ar *arena) parquet.Value

func (w *Writer) bind(as *arrow.Schema) (*bound, error) {
	if b, ok := w.bindings[as]; ok {
		return b, nil
	}
	names := make([]string, as.NumFields())
	types := make([]arrow.DataType, as.NumFields())
	for i, f := range as.Fields() {
		names[i], types[i] = f.Name, f.Type
	}
	b := &bound{n: w.root, col: -1}
	data := w.root.children[len(schema.MetaFields):]
	children, err := bindFields(data, names, types, "")
	if err != nil {
		return nil, err
	}
	b.children = children
	w.bindings[as] = b
	return b, nil
}

func bindFields(nodes []*pnode, names []string, types []arrow.DataType, prefix string) ([]*bound, error) {
	idx := make(map[string]int, len(names))
	for i, n := range names {
		idx[n] = i
	}
	out := make([]*bound, len(nodes))
	for i, n := range nodes {
		j, ok := idx[n.name]
		if !ok {
			if !n.optional {
				return nil, fmt.Errorf("%w: non-null field %q missing", ErrSchemaMismatch, prefix+n.name)
			}
			out[i] = &bound{n: n, col: -1}
			continue
		}
		delete(idx, n.name)
		b, err := bindNode(n, types[j], prefix+n.name)
		if err != nil {
			return nil, err
		}
		b.col = j
		out[i] = b
	}
	for name := range idx {
		if schema.IsMetaField(name) && prefix == "" {
			return nil, fmt.Errorf("%w: meta column %q in data (pass it in Meta)", ErrSchemaMismatch, name)
		}
		return nil, fmt.Errorf("%w: field %q not in the table schema", ErrSchemaMismatch, prefix+name)
	}
	return out, nil
}

func bindNode(n *pnode, dt arrow.DataType, path string) (*bound, error) {
	b := &bound{n: n}
	mismatch := func() error {
		return fmt.Errorf("%w: field %q: Arrow %v cannot be written as %v", ErrSchemaMismatch, path, dt, n.avro.Kind)
	}
	switch n.kind {
	case pStruct:
		st, ok := dt.(*arrow.StructType)
		if !ok {
			return nil, mismatch()
		}
		names := make([]string, st.NumFields())
		types := make([]arrow.DataType, st.NumFields())
		for i, f := range st.Fields() {
			names[i], types[i] = f.Name, f.Type
		}
		children, err := bindFields(n.children, names, types, path+".")
		if err != nil {
			return nil, err
		}
		b.children = children
		return b, nil
	case pList:
		var elem arrow.DataType
		switch lt := dt.(type) {
		case *arrow.ListType:
			elem = lt.Elem()
		case *arrow.LargeListType:
			elem = lt.Elem()
		default:
			return nil, mismatch()
		}
		c, err := bindNode(n.children[0], elem, path+".element")
		if err != nil {
			return nil, err
		}
		b.children = []*bound{c}
		return b, nil
	case pMap:
		mt, ok := dt.(*arrow.MapType)
		if !ok {
			return nil, mismatch()
		}
		kvn := n.children[0]
		k, err := bindNode(kvn.children[0], mt.KeyType(), path+".key")
		if err != nil {
			return nil, err
		}
		v, err := bindNode(kvn.children[1], mt.ItemType(), path+".value")
		if err != nil {
			return nil, err
		}
		b.children = []*bound{{n: kvn, children: []*bound{k, v}}}
		return b, nil
	}
	conv := leafConverter(n.avro, dt)
	if conv == nil {
		return nil, mismatch()
	}
	b.conv = conv
	return b, nil
}

func isInt(dt arrow.DataType, allowLong bool) bool {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.UINT8, arrow.UINT16:
		return true
	case arrow.INT64, arrow.UINT32:
		return allowLong
	}
	return false
}

// intValue reads any integer array as int64.
func intValue(a arrow.Array, i int) int64 {
	switch a := a.(type) {
	case *array.Int8:
		return int64(a.Value(i))
	case *array.Int16:
		return int64(a.Value(i))
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Int64:
		return a.Value(i)
	case *array.Uint8:
		return int64(a.Value(i))
	case *array.Uint16:
		return int64(a.Value(i))
	case *array.Uint32:
		return int64(a.Value(i))
	}
	return 0
}

// leafConverter returns the conversion of Arrow values of type dt to the
// Parquet physical values of Avro type t, or nil if they do not fit.
func leafConverter(t *schema.Type, dt arrow.DataType) leafConv {
	switch t.Kind {
	case schema.Boolean:
		if dt.ID() == arrow.BOOL {
			return func(a arrow.Array, i int, _ *arena) parquet.Value {
				return parquet.BooleanValue(a.(*array.Boolean).Value(i))
			}
		}
	case schema.Int:
		if dt.ID() == arrow.INT32 {
			return func(a arrow.Array, i int, _ *arena) parquet.Value {
				return parquet.Int32Value(a.(*array.Int32).Value(i))
			}
		}
		if isInt(dt, false) {
			return func(a arrow.Array, i int, _ *arena) parquet.Value { return parquet.Int32Value(int32(intValue(a, i))) }
		}
	case schema.Long:
		if dt.ID() == arrow.INT64 {
			return func(a arrow.Array, i int, _ *arena) parquet.Value {
				return parquet.Int64Value(a.(*array.Int64).Value(i))
			}
		}
		if isInt(dt, true) {
			return func(a arrow.Array, i int, _ *arena) parquet.Value { return parquet.Int64Value(intValue(a, i)) }
		}
	case schema.Float:
		if dt.ID() == arrow.FLOAT32 {
			return func(a arrow.Array, i int, _ *arena) parquet.Value {
				return parquet.FloatValue(a.(*array.Float32).Value(i))
			}
		}
	case schema.Double:
		switch {
		case dt.ID() == arrow.FLOAT64:
			return func(a arrow.Array, i int, _ *arena) parquet.Value {
				return parquet.DoubleValue(a.(*array.Float64).Value(i))
			}
		case dt.ID() == arrow.FLOAT32:
			return func(a arrow.Array, i int, _ *arena) parquet.Value {
				return parquet.DoubleValue(float64(a.(*array.Float32).Value(i)))
			}
		case isInt(dt, true):
			return func(a arrow.Array, i int, _ *arena) parquet.Value {
				return parquet.DoubleValue(float64(intValue(a, i)))
			}
		}
	case schema.String, schema.Bytes:
		switch dt.ID() {
		case arrow.STRING:
			return func(a arrow.Array, i int, _ *arena) parquet.Value {
				return parquet.ByteArrayValue(bytesOf(a.(*array.String).Value(i)))
			}
		case arrow.LARGE_STRING:
			return func(a arrow.Array, i int, _ *arena) parquet.Value {
				return parquet.ByteArrayValue(bytesOf(a.(*array.LargeString).Value(i)))
			}
		case arrow.BINARY:
			return func(a arrow.Array, i int, _ *arena) parquet.Value {
				return parquet.ByteArrayValue(a.(*array.Binary).Value(i))
			}
		case arrow.LARGE_BINARY:
			return func(a arrow.Array, i int, _ *arena) parquet.Value {
				return parquet.ByteArrayValue(a.(*array.LargeBinary).Value(i))
			}
		}
	case schema.Fixed:
		if ft, ok := dt.(*arrow.FixedSizeBinaryType); ok && ft.ByteWidth == t.Size {
			return func(a arrow.Array, i int, _ *arena) parquet.Value {
				return parquet.FixedLenByteArrayValue(a.(*array.FixedSizeBinary).Value(i))
			}
		}
	case schema.Decimal:
		dec, ok := dt.(*arrow.Decimal128Type)
		if !ok || int(dec.Precision) != t.Precision || int(dec.Scale) != t.Scale {
			return nil
		}
		size := t.Size
		fixed := size > 0
		if !fixed {
			size = schema.MinBytesForPrecision(t.Precision)
		}
		return func(a arrow.Array, i int, ar *arena) parquet.Value {
			v := a.(*array.Decimal128).Value(i)
			var be [16]byte
			binary.BigEndian.PutUint64(be[:8], uint64(v.HighBits()))
			binary.BigEndian.PutUint64(be[8:], v.LowBits())
			b := ar.alloc(size)
			copy(b, be[16-size:])
			if fixed {
				return parquet.FixedLenByteArrayValue(b)
			}
			return parquet.ByteArrayValue(b)
		}
	case schema.Date:
		if dt.ID() == arrow.DATE32 {
			return func(a arrow.Array, i int, _ *arena) parquet.Value {
				return parquet.Int32Value(int32(a.(*array.Date32).Value(i)))
			}
		}
	case schema.TimestampMicros, schema.TimestampMillis, schema.LocalTimestampMicros, schema.LocalTimestampMillis:
		ts, ok := dt.(*arrow.TimestampType)
		if !ok {
			return nil
		}
		target := arrow.Microsecond
		if t.Kind == schema.TimestampMillis || t.Kind == schema.LocalTimestampMillis {
			target = arrow.Millisecond
		}
		mul, div := unitScale(ts.Unit, target)
		return func(a arrow.Array, i int, _ *arena) parquet.Value {
			v := int64(a.(*array.Timestamp).Value(i))
			return parquet.Int64Value(floorDiv(v*mul, div))
		}
	}
	return nil
}

// unitScale returns the factors converting from one time unit to another.
func unitScale(from, to arrow.TimeUnit) (mul, div int64) {
	f := from.Multiplier().Nanoseconds()
	t := to.Multiplier().Nanoseconds()
	if f >= t {
		return f / t, 1
	}
	return 1, t / f
}

// floorDiv divides rounding toward negative infinity, so pre-1970 instants
// truncate to the earlier unit like Spark.
func floorDiv(a, b int64) int64 {
	if b == 1 {
		return a
	}
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// shredColumn appends the levels and values of rows [from, to) of one
// top-level column.
func (w *Writer) shredColumn(b *bound, col arrow.Array, from, to int) error {
	n := b.n
	if col == nil {
		for range to - from {
			w.nulls(n, 0, 0)
		}
		return nil
	}
	if n.kind == pLeaf {
		return w.shredFlat(b, col, from, to)
	}
	for j := from; j < to; j++ {
		i := j
		if w.sel != nil {
			i = w.sel[j]
		}
		if err := w.shred(b, col, i, 0); err != nil {
			return err
		}
	}
	return nil
}

// shredFlat handles top-level primitive columns with tight loops for the
// common types.
func (w *Writer) shredFlat(b *bound, col arrow.Array, from, to int) error {
	n := b.n
	leaf := n.leaf
	vals := w.vals[leaf]
	defer func() { w.vals[leaf] = vals }()
	def := n.def
	sel := w.sel
	noNulls := col.NullN() == 0
	if !n.optional && !noNulls {
		for j := from; j < to; j++ {
			i := j
			if sel != nil {
				i = sel[j]
			}
			if col.IsNull(i) {
				return fmt.Errorf("null at row %d in a non-null column", i)
			}
		}
	}
	null := parquet.Value{}.Level(0, 0, leaf)
	switch a := col.(type) {
	case *array.String:
		if n.avro.Kind != schema.String && n.avro.Kind != schema.Bytes {
			break
		}
		offs := a.ValueOffsets()
		data := a.ValueBytes()
		for j := from; j < to; j++ {
			i := j
			if sel != nil {
				i = sel[j]
			}
			if !noNulls && a.IsNull(i) {
				vals = append(vals, null)
				continue
			}
			s, e := offs[i], offs[i+1]
			vals = append(vals, parquet.ByteArrayValue(data[s-offs[0]:e-offs[0]:e-offs[0]]).Level(0, def, leaf))
		}
		return nil
	case *array.Int64:
		if n.avro.Kind != schema.Long {
			break
		}
		raw := a.Int64Values()
		for j := from; j < to; j++ {
			i := j
			if sel != nil {
				i = sel[j]
			}
			if !noNulls && a.IsNull(i) {
				vals = append(vals, null)
				continue
			}
			vals = append(vals, parquet.Int64Value(raw[i]).Level(0, def, leaf))
		}
		return nil
	case *array.Int32:
		if n.avro.Kind != schema.Int {
			break
		}
		raw := a.Int32Values()
		for j := from; j < to; j++ {
			i := j
			if sel != nil {
				i = sel[j]
			}
			if !noNulls && a.IsNull(i) {
				vals = append(vals, null)
				continue
			}
			vals = append(vals, parquet.Int32Value(raw[i]).Level(0, def, leaf))
		}
		return nil
	case *array.Float64:
		if n.avro.Kind != schema.Double {
			break
		}
		raw := a.Float64Values()
		for j := from; j < to; j++ {
			i := j
			if sel != nil {
				i = sel[j]
			}
			if !noNulls && a.IsNull(i) {
				vals = append(vals, null)
				continue
			}
			vals = append(vals, parquet.DoubleValue(raw[i]).Level(0, def, leaf))
		}
		return nil
	}
	for j := from; j < to; j++ {
		i := j
		if sel != nil {
			i = sel[j]
		}
		if !noNulls && col.IsNull(i) {
			vals = append(vals, null)
			continue
		}
		vals = append(vals, b.conv(col, i, &w.arena).Level(0, def, leaf))
	}
	return nil
}

// nulls appends one null (or empty) entry with the given levels to every leaf
// under n.
func (w *Writer) nulls(n *pnode, rep, def int) {
	for _, l := range n.leaves {
		w.vals[l] = append(w.vals[l], parquet.Value{}.Level(rep, def, l))
	}
}

var errNullElement = errors.New("null list element (parquet-avro 2-level lists cannot hold nulls)")

// shred appends value i of arr (the array feeding b) at repetition level rep.
func (w *Writer) shred(b *bound, arr arrow.Array, i, rep int) error {
	n := b.n
	if arr == nil || arr.IsNull(i) {
		switch {
		case n.repeated:
			return errNullElement
		case !n.optional:
			return fmt.Errorf("null in non-null field %q", n.name)
		}
		w.nulls(n, rep, n.def-1)
		return nil
	}
	switch n.kind {
	case pLeaf:
		w.vals[n.leaf] = append(w.vals[n.leaf], b.conv(arr, i, &w.arena).Level(rep, n.def, n.leaf))
	case pStruct:
		sa, ok := arr.(*array.Struct)
		if !ok {
			return fmt.Errorf("field %q: %T is not a struct array", n.name, arr)
		}
		for _, c := range b.children {
			var ca arrow.Array
			if c.col >= 0 {
				ca = sa.Field(c.col)
			}
			if err := w.shred(c, ca, i, rep); err != nil {
				return err
			}
		}
	case pList:
		la, ok := arr.(array.ListLike)
		if !ok {
			return fmt.Errorf("field %q: %T is not a list array", n.name, arr)
		}
		start, end := la.ValueOffsets(i)
		eb := b.children[0]
		if start == end {
			w.nulls(eb.n, rep, n.def)
			return nil
		}
		values := la.ListValues()
		for j := start; j < end; j++ {
			r := rep
			if j > start {
				r = eb.n.rep
			}
			if err := w.shred(eb, values, int(j), r); err != nil {
				return err
			}
		}
	case pMap:
		ma, ok := arr.(*array.Map)
		if !ok {
			return fmt.Errorf("field %q: %T is not a map array", n.name, arr)
		}
		start, end := ma.ValueOffsets(i)
		kv := b.children[0]
		if start == end {
			w.nulls(kv.n, rep, n.def)
			return nil
		}
		keys, items := ma.Keys(), ma.Items()
		for j := start; j < end; j++ {
			r := rep
			if j > start {
				r = kv.n.rep
			}
			if err := w.shred(kv.children[0], keys, int(j), r); err != nil {
				return err
			}
			if err := w.shred(kv.children[1], items, int(j), r); err != nil {
				return err
			}
		}
	}
	return nil
}

// SetBloomFilter stores a bloom filter of the file's record keys in the
// footer, under the two keys Hudi's readers look up (the serialized filter
// and its type code).
func (w *Writer) SetBloomFilter(f *bloom.DynamicV0) error {
	if err := w.SetMetadata(BloomFilterKey, f.Base64()); err != nil {
		return err
	}
	return w.SetMetadata(BloomFilterTypeK, f.TypeCode())
}
