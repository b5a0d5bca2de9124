package hfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriterOptions configures a Writer. The zero value writes as Hudi 0.15
// writes metadata table HFiles: 1 MiB blocks, GZ compression.
type WriterOptions struct {
	// BlockSize is the target uncompressed data block size: a block is
	// closed before the entry that would follow once it holds BlockSize
	// bytes or more (HBase's rule). Zero means DefaultBlockSize.
	BlockSize int
	// Compression of every block (data, meta, index, file info).
	Compression Compression
	// FileInfo holds user file info entries (Hudi's "schema", record key
	// range, ...). Keys must not start with "hfile.", which HBase reserves.
	FileInfo map[string][]byte
	// MetaBlocks holds named meta blocks (Hudi's "bloomFilter"), written in
	// name order.
	MetaBlocks map[string][]byte
}

// Writer writes an HFile v3 to an io.Writer in one pass, the way HBase
// 2.4's HFileWriterImpl does with Hudi's settings: entries with an empty
// family and qualifier, timestamp Long.MAX_VALUE, type Put and MVCC 0, no
// tags, a single-level root data index.
type Writer struct {
	w    io.Writer
	opts WriterOptions
	err  error // sticky
	pos  int64

	block          []byte // current data block, uncompressed
	blockFirst     []byte // first row of the current block
	lastRow        []byte // last row appended
	prevBlockLast  []byte // last row of the previous data block
	hasLast        bool
	entries        int64
	totalKeyLen    int64
	totalValueLen  int64
	totalUncomp    int64
	firstDataBlock int64
	lastDataBlock  int64
	dataIndex      []indexEntry // key = serialized KeyValue key
	prevByType     map[string]int64
}

// NewWriter returns a Writer writing to w. Options are copied.
func NewWriter(w io.Writer, opts WriterOptions) *Writer {
	if opts.BlockSize <= 0 {
		opts.BlockSize = DefaultBlockSize
	}
	wr := &Writer{w: w, opts: opts, firstDataBlock: -1, lastDataBlock: -1, prevByType: map[string]int64{}}
	switch {
	case opts.Compression != GzipCompression && opts.Compression != NoCompression:
		wr.err = fmt.Errorf("hfile: unknown compression %v", opts.Compression)
	case opts.BlockSize > maxBlockSize:
		wr.err = fmt.Errorf("hfile: block size %d over %d", opts.BlockSize, maxBlockSize)
	}
	for k := range opts.FileInfo {
		if strings.HasPrefix(k, reservedFI) {
			wr.err = fmt.Errorf("hfile: file info key %q uses the reserved prefix %q", k, reservedFI)
		}
	}
	return wr
}

// Append adds an entry. Keys must be strictly increasing (bytewise) and at
// most 32767 bytes long.
func (w *Writer) Append(key, value []byte) error {
	if w.err != nil {
		return w.err
	}
	switch {
	case len(key) > maxRowLength:
		return fmt.Errorf("hfile: key of %d bytes over %d", len(key), maxRowLength)
	case int64(len(value)) > maxBlockSize:
		return fmt.Errorf("hfile: value of %d bytes over %d", len(value), maxBlockSize)
	case w.hasLast && bytes.Compare(key, w.lastRow) <= 0:
		return fmt.Errorf("%w: %q after %q", ErrKeyOrder, key, w.lastRow)
	}
	if len(w.block) >= w.opts.BlockSize {
		if err := w.finishBlock(); err != nil {
			return err
		}
	}
	if len(w.block) == 0 {
		w.blockFirst = append(w.blockFirst[:0], key...)
	}
	keyLen := 2 + len(key) + 1 + 8 + 1
	w.block = binary.BigEndian.AppendUint32(w.block, uint32(keyLen))
	w.block = binary.BigEndian.AppendUint32(w.block, uint32(len(value)))
	w.block = kvKey(w.block, key, latestTimestamp, keyTypePut)
	w.block = append(w.block, value...)
	w.block = putVLong(w.block, 0) // MVCC / memstore timestamp
	w.lastRow = append(w.lastRow[:0], key...)
	w.hasLast = true
	w.entries++
	w.totalKeyLen += int64(keyLen)
	w.totalValueLen += int64(len(value))
	return nil
}

// writeBlock writes a block of the given magic with raw as its
// uncompressed content and returns its offset and on-disk size with
// header.
func (w *Writer) writeBlock(magic string, raw []byte) (int64, int64, error) {
	comp, err := compress(w.opts.Compression, raw)
	if err != nil {
		return 0, 0, fmt.Errorf("hfile: compress %s block: %w", magic, err)
	}
	dataWithHeader := headerSize + len(comp)
	sums := 4 * numChunks(dataWithHeader, bytesPerChecksum)
	prev, ok := w.prevByType[magic]
	if !ok {
		prev = -1
	}
	buf := make([]byte, headerSize, dataWithHeader+sums)
	blockHeader{
		magic:                magic,
		onDiskSizeNoHeader:   int32(len(comp) + sums),
		uncompressedNoHeader: int32(len(raw)),
		prevOffset:           prev,
		checksumType:         checksumCRC32C,
		bytesPerChecksum:     bytesPerChecksum,
		onDiskDataWithHeader: int32(dataWithHeader),
	}.put(buf)
	buf = append(buf, comp...)
	buf = appendChecksums(buf, buf)
	off := w.pos
	if err := w.write(buf); err != nil {
		return 0, 0, err
	}
	w.prevByType[magic] = off
	return off, int64(len(buf)), nil
}

func (w *Writer) write(b []byte) error {
	n, err := w.w.Write(b)
	w.pos += int64(n)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("hfile: write: %w", err)
	}
	return w.err
}

// finishBlock writes the current data block and indexes it under HBase's
// midpoint key between the previous block's last row and its first row.
func (w *Writer) finishBlock() error {
	if len(w.block) == 0 {
		return nil
	}
	off, size, err := w.writeBlock(magicData, w.block)
	if err != nil {
		return err
	}
	if w.firstDataBlock < 0 {
		w.firstDataBlock = off
	}
	w.lastDataBlock = off
	var key []byte
	if w.prevBlockLast == nil {
		key = kvKey(nil, w.blockFirst, latestTimestamp, keyTypePut)
	} else {
		key = kvKey(nil, midpointRow(w.prevBlockLast, w.blockFirst), latestTimestamp, keyTypeMaximum)
	}
	w.dataIndex = append(w.dataIndex, indexEntry{offset: off, size: size, key: key})
	w.totalUncomp += int64(headerSize + len(w.block))
	w.prevBlockLast = append([]byte{}, w.lastRow...)
	w.block = w.block[:0]
	return nil
}

// midpointRow is HBase's getMinimumMidpointArray for rows left < right: a
// short row r with left < r <= right.
func midpointRow(left, right []byte) []byte {
	i := 0
	for i < len(left) && i < len(right) && left[i] == right[i] {
		i++
	}
	if i >= len(left) || i >= len(right) {
		return append([]byte{}, right[:i+1]...)
	}
	if left[i] < 0xff && left[i]+1 < right[i] {
		r := append([]byte{}, left[:i+1]...)
		r[i]++
		return r
	}
	return append([]byte{}, right[:i+1]...)
}

// appendRootIndex encodes root index entries.
func appendRootIndex(dst []byte, es []indexEntry) []byte {
	for _, e := range es {
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.offset))
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.size))
		dst = putVLong(dst, int64(len(e.key)))
		dst = append(dst, e.key...)
	}
	return dst
}

// Close writes the last data block, the meta blocks, the load-on-open
// section (root data index, meta index, file info) and the trailer. It
// does not close the underlying io.Writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if err := w.finishBlock(); err != nil {
		return err
	}
	metaIndex, err := w.writeMetaBlocks()
	if err != nil {
		return err
	}
	rootRaw := appendRootIndex(nil, w.dataIndex)
	rootOff, _, err := w.writeBlock(magicRootIndex, rootRaw)
	if err != nil {
		return err
	}
	metaRaw := appendRootIndex(nil, metaIndex)
	if _, _, err := w.writeBlock(magicRootIndex, metaRaw); err != nil {
		return err
	}
	w.totalUncomp += int64(headerSize + len(metaRaw))
	fiRaw := w.fileInfo()
	fiOff, _, err := w.writeBlock(magicFileInfo, fiRaw)
	if err != nil {
		return err
	}
	w.totalUncomp += int64(headerSize + len(fiRaw))
	codec := int64(codecGZ)
	if w.opts.Compression == NoCompression {
		codec = codecNone
	}
	t := trailer{
		fileInfoOffset:        fiOff,
		loadOnOpenOffset:      rootOff,
		uncompressedIndexSize: int64(len(rootRaw)),
		totalUncompressed:     w.totalUncomp + trailerSize,
		dataIndexCount:        int64(len(w.dataIndex)),
		metaIndexCount:        int64(len(metaIndex)),
		entryCount:            w.entries,
		numDataIndexLevels:    1,
		firstDataBlockOffset:  w.firstDataBlock,
		lastDataBlockOffset:   w.lastDataBlock,
		comparator:            ComparatorClassName,
		codec:                 codec,
	}
	pb := t.marshal()
	buf := make([]byte, 0, trailerSize)
	buf = append(buf, magicTrailer...)
	buf = binary.AppendUvarint(buf, uint64(len(pb)))
	buf = append(buf, pb...)
	buf = buf[:trailerSize]
	binary.BigEndian.PutUint32(buf[trailerSize-4:], minorVersion<<24|majorVersion)
	if err := w.write(buf); err != nil {
		return err
	}
	w.err = ErrClosed
	return nil
}

// writeMetaBlocks writes the meta blocks in name order and returns their
// index entries.
func (w *Writer) writeMetaBlocks() ([]indexEntry, error) {
	names := make([]string, 0, len(w.opts.MetaBlocks))
	for n := range w.opts.MetaBlocks {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []indexEntry
	for _, n := range names {
		raw := w.opts.MetaBlocks[n]
		off, size, err := w.writeBlock(magicMeta, raw)
		if err != nil {
			return nil, err
		}
		w.totalUncomp += int64(headerSize + len(raw))
		out = append(out, indexEntry{offset: off, size: size, key: []byte(n)})
	}
	return out, nil
}

// fileInfo returns the file info block content: the user's entries and
// those HBase's writer adds, sorted by key.
func (w *Writer) fileInfo() []byte {
	m := make(map[string][]byte, len(w.opts.FileInfo)+6)
	for k, v := range w.opts.FileInfo {
		m[k] = v
	}
	if w.hasLast {
		m[fiLastKey] = kvKey(nil, w.lastRow, latestTimestamp, keyTypePut)
	}
	var avgKey, avgValue int64
	if w.entries > 0 {
		avgKey, avgValue = w.totalKeyLen/w.entries, w.totalValueLen/w.entries
	}
	m[fiAvgKeyLen] = binary.BigEndian.AppendUint32(nil, uint32(avgKey))
	m[fiCreateTime] = make([]byte, 8) // Hudi leaves HFileContext's create time at 0
	m[fiAvgValueLen] = binary.BigEndian.AppendUint32(nil, uint32(avgValue))
	m[fiMaxMemstore] = make([]byte, 8)
	m[fiKVVersion] = binary.BigEndian.AppendUint32(nil, 1)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return marshalFileInfo(keys, m)
}
