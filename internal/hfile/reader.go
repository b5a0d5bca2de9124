package hfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"iter"
	"sort"
)

// indexEntry is one entry of a root block index.
type indexEntry struct {
	offset int64
	size   int64 // on-disk size with header
	key    []byte
}

// Reader reads an HFile v3. It holds the load-on-open section (indexes, file
// info) in memory and reads data and meta blocks on demand; it is safe for
// concurrent use if the io.ReaderAt is.
type Reader struct {
	r            io.ReaderAt
	size         int64
	dataEnd      int64 // first byte of the trailer
	t            trailer
	root         []indexEntry // root data index, key = row of the entry
	levels       int          // data index levels (1: root entries are data blocks)
	meta         []indexEntry // meta index, key = block name
	fileInfo     map[string][]byte
	includesMvcc bool
	includesTags bool
}

// NewReader opens the HFile of size bytes read through r: it reads the
// trailer and the load-on-open section (root data index, meta index, file
// info). Errors wrap ErrCorrupt or ErrUnsupported.
func NewReader(r io.ReaderAt, size int64) (*Reader, error) {
	if size < trailerSize {
		return nil, corruptf("file of %d bytes is shorter than the trailer", size)
	}
	rd := &Reader{r: r, size: size, dataEnd: size - trailerSize}
	if err := rd.readTrailer(); err != nil {
		return nil, err
	}
	if err := rd.readLoadOnOpen(); err != nil {
		return nil, err
	}
	return rd, nil
}

func (rd *Reader) readAt(p []byte, off int64) error {
	n, err := rd.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		return corruptf("short read of %d bytes at %d", len(p), off)
	}
	return fmt.Errorf("hfile: read at %d: %w", off, err)
}

func (rd *Reader) readTrailer() error {
	buf := make([]byte, trailerSize)
	if err := rd.readAt(buf, rd.dataEnd); err != nil {
		return err
	}
	v := binary.BigEndian.Uint32(buf[trailerSize-4:])
	major, minor := v&0xffffff, v>>24
	if major < 1 || major > majorVersion {
		return corruptf("not an HFile: version word %08x", v)
	}
	if major != majorVersion {
		return unsupportedf("HFile major version %d (minor %d)", major, minor)
	}
	if minor < 1 {
		return unsupportedf("HFile v3 minor version %d (no block checksums)", minor)
	}
	if string(buf[:8]) != magicTrailer {
		return corruptf("bad trailer magic %q", buf[:8])
	}
	l, n := binary.Uvarint(buf[8:])
	if n <= 0 || l > uint64(trailerSize-4-8-n) {
		return corruptf("trailer length")
	}
	t, err := unmarshalTrailer(buf[8+n : 8+n+int(l)])
	if err != nil {
		return fmt.Errorf("trailer: %w", err)
	}
	switch {
	case t.codec != codecGZ && t.codec != codecNone:
		return unsupportedf("compression codec %d", t.codec)
	case t.numDataIndexLevels < 1 || t.numDataIndexLevels > maxIndexLevels:
		return corruptf("data index of %d levels", t.numDataIndexLevels)
	case t.loadOnOpenOffset < 0 || t.loadOnOpenOffset >= rd.dataEnd,
		t.fileInfoOffset < t.loadOnOpenOffset || t.fileInfoOffset >= rd.dataEnd:
		return corruptf("trailer offsets %d/%d in a file of %d bytes", t.loadOnOpenOffset, t.fileInfoOffset, rd.size)
	case t.entryCount < 0, t.dataIndexCount < 0, t.metaIndexCount < 0:
		return corruptf("negative counts in the trailer")
	}
	rd.t = t
	return nil
}

// block is a decoded block.
type block struct {
	h    blockHeader
	data []byte // uncompressed, without header and checksums
	end  int64  // offset of the next block
}

// readBlock reads the block at off, which must have the magic want and lie
// in [off, limit).
func (rd *Reader) readBlock(off, limit int64, want string) (block, error) {
	if off < 0 || limit > rd.dataEnd || off+headerSize > limit {
		return block{}, corruptf("%s block at %d outside [0,%d)", want, off, limit)
	}
	hb := make([]byte, headerSize)
	if err := rd.readAt(hb, off); err != nil {
		return block{}, err
	}
	h := parseHeader(hb)
	if h.magic != want {
		return block{}, corruptf("block at %d has magic %q, want %q", off, h.magic, want)
	}
	onDisk := int64(h.onDiskSizeNoHeader)
	dataWithHeader := int64(h.onDiskDataWithHeader)
	switch {
	case onDisk < 0 || off+headerSize+onDisk > limit:
		return block{}, corruptf("%s block at %d: on-disk size %d past %d", want, off, onDisk, limit)
	case h.uncompressedNoHeader < 0 || h.uncompressedNoHeader > maxBlockSize:
		return block{}, corruptf("%s block at %d: uncompressed size %d", want, off, h.uncompressedNoHeader)
	case dataWithHeader < headerSize || dataWithHeader > headerSize+onDisk:
		return block{}, corruptf("%s block at %d: data size %d", want, off, dataWithHeader)
	}
	nsums := int64(0)
	if h.checksumType != checksumNull {
		if h.bytesPerChecksum <= 0 {
			return block{}, corruptf("%s block at %d: bytesPerChecksum %d", want, off, h.bytesPerChecksum)
		}
		nsums = int64(numChunks(int(dataWithHeader), int(h.bytesPerChecksum)))
	}
	if headerSize+onDisk != dataWithHeader+4*nsums {
		return block{}, corruptf("%s block at %d: sizes %d/%d disagree with %d checksums", want, off, onDisk, dataWithHeader, nsums)
	}
	buf := make([]byte, headerSize+onDisk)
	copy(buf, hb)
	if err := rd.readAt(buf[headerSize:], off+headerSize); err != nil {
		return block{}, err
	}
	if err := verifyChecksums(h.checksumType, int(h.bytesPerChecksum), buf[:dataWithHeader], buf[dataWithHeader:]); err != nil {
		return block{}, fmt.Errorf("%s block at %d: %w", want, off, err)
	}
	data, err := decompress(int(rd.t.codec), buf[headerSize:dataWithHeader], int(h.uncompressedNoHeader))
	if err != nil {
		return block{}, fmt.Errorf("%s block at %d: %w", want, off, err)
	}
	return block{h: h, data: data, end: off + headerSize + onDisk}, nil
}

// parseRootIndex decodes n entries of a root index block: int64 offset,
// int32 on-disk size, Hadoop vint length + key.
func parseRootIndex(b []byte, n int64) ([]indexEntry, error) {
	if n > int64(len(b))/13 {
		return nil, corruptf("root index of %d bytes cannot hold %d entries", len(b), n)
	}
	out := make([]indexEntry, 0, n)
	for i := int64(0); i < n; i++ {
		if len(b) < 12 {
			return nil, corruptf("truncated root index entry %d", i)
		}
		e := indexEntry{offset: int64(binary.BigEndian.Uint64(b)), size: int64(int32(binary.BigEndian.Uint32(b[8:])))}
		l, m, err := readVLong(b[12:])
		if err != nil {
			return nil, err
		}
		b = b[12+m:]
		if l < 0 || l > int64(len(b)) {
			return nil, corruptf("root index key of %d bytes", l)
		}
		e.key, b = b[:l], b[l:]
		out = append(out, e)
	}
	return out, nil
}

func (rd *Reader) readLoadOnOpen() error {
	root, err := rd.readBlock(rd.t.loadOnOpenOffset, rd.dataEnd, magicRootIndex)
	if err != nil {
		return fmt.Errorf("root data index: %w", err)
	}
	if rd.root, err = parseRootIndex(root.data, rd.t.dataIndexCount); err != nil {
		return fmt.Errorf("root data index: %w", err)
	}
	if err := rd.checkIndex(rd.root); err != nil {
		return fmt.Errorf("root data index: %w", err)
	}
	rd.levels = int(rd.t.numDataIndexLevels)
	meta, err := rd.readBlock(root.end, rd.dataEnd, magicRootIndex)
	if err != nil {
		return fmt.Errorf("meta index: %w", err)
	}
	if rd.meta, err = parseRootIndex(meta.data, rd.t.metaIndexCount); err != nil {
		return fmt.Errorf("meta index: %w", err)
	}
	for i, e := range rd.meta {
		if e.offset < 0 || e.size < headerSize || e.offset > rd.t.loadOnOpenOffset-e.size {
			return corruptf("meta block %d at %d+%d outside the data section", i, e.offset, e.size)
		}
	}
	fi, err := rd.readBlock(rd.t.fileInfoOffset, rd.dataEnd, magicFileInfo)
	if err != nil {
		return fmt.Errorf("file info: %w", err)
	}
	if rd.fileInfo, err = unmarshalFileInfo(fi.data); err != nil {
		return err
	}
	if v, ok := rd.fileInfo[fiKVVersion]; ok && len(v) == 4 && binary.BigEndian.Uint32(v) == 1 {
		rd.includesMvcc = true
	}
	_, rd.includesTags = rd.fileInfo[fiMaxTagsLen]
	if enc, ok := rd.fileInfo[fiBlockEncoding]; ok && string(enc) != "NONE" {
		return unsupportedf("data block encoding %q", enc)
	}
	return nil
}

// FileInfo returns the file info entries, the user's and HBase's own
// (hfile.LASTKEY, hfile.AVG_KEY_LEN, ...). The map is a copy.
func (rd *Reader) FileInfo() map[string][]byte {
	out := make(map[string][]byte, len(rd.fileInfo))
	for k, v := range rd.fileInfo {
		out[k] = append([]byte{}, v...)
	}
	return out
}

// EntryCount returns the number of entries the trailer records.
func (rd *Reader) EntryCount() int64 { return rd.t.entryCount }

// MetaBlock returns the content of the named meta block.
func (rd *Reader) MetaBlock(name string) ([]byte, bool, error) {
	for _, e := range rd.meta {
		if string(e.key) != name {
			continue
		}
		b, err := rd.readBlock(e.offset, e.offset+e.size, magicMeta)
		if err != nil {
			return nil, false, fmt.Errorf("meta block %q: %w", name, err)
		}
		return b.data, true, nil
	}
	return nil, false, nil
}

// checkIndex validates index entries (blocks inside the data section,
// keys sorted) and replaces their keys by their rows.
func (rd *Reader) checkIndex(es []indexEntry) error {
	for i := range es {
		e := &es[i]
		if e.offset < 0 || e.size < headerSize || e.offset > rd.t.loadOnOpenOffset-e.size {
			return corruptf("entry %d: block at %d+%d outside the data section", i, e.offset, e.size)
		}
		row, err := keyRow(e.key)
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		if i > 0 && bytes.Compare(es[i-1].key, row) > 0 {
			return corruptf("index not sorted at entry %d", i)
		}
		e.key = row
	}
	return nil
}

// parseNonRootIndex decodes an intermediate or leaf index block: int32
// entry count, int32 offsets of the entries (count + 1, relative to the
// first entry), then per entry int64 offset, int32 on-disk size, key.
func parseNonRootIndex(b []byte) ([]indexEntry, error) {
	if len(b) < 4 {
		return nil, corruptf("truncated non-root index block")
	}
	n := int64(binary.BigEndian.Uint32(b))
	if n > int64(len(b)-4)/(4+12) || 4+4*(n+1) > int64(len(b)) {
		return nil, corruptf("non-root index of %d bytes cannot hold %d entries", len(b), n)
	}
	sec, entries := b[4:4+4*(n+1)], b[4+4*(n+1):]
	out := make([]indexEntry, 0, n)
	for i := int64(0); i < n; i++ {
		from, to := int64(binary.BigEndian.Uint32(sec[4*i:])), int64(binary.BigEndian.Uint32(sec[4*i+4:]))
		if from+12 > to || to > int64(len(entries)) {
			return nil, corruptf("non-root index entry %d at %d..%d of %d bytes", i, from, to, len(entries))
		}
		e := entries[from:to]
		out = append(out, indexEntry{
			offset: int64(binary.BigEndian.Uint64(e)),
			size:   int64(int32(binary.BigEndian.Uint32(e[8:]))),
			key:    e[12:],
		})
	}
	return out, nil
}

// children reads the index block e points to at level lvl (1 = just
// below the root) and returns its entries.
func (rd *Reader) children(e indexEntry, lvl int) ([]indexEntry, error) {
	magic := magicIntIndex
	if lvl == rd.levels-1 {
		magic = magicLeafIndex
	}
	b, err := rd.readBlock(e.offset, e.offset+e.size, magic)
	if err != nil {
		return nil, err
	}
	es, err := parseNonRootIndex(b.data)
	if err != nil {
		return nil, fmt.Errorf("%s block at %d: %w", magic, e.offset, err)
	}
	if err := rd.checkIndex(es); err != nil {
		return nil, fmt.Errorf("%s block at %d: %w", magic, e.offset, err)
	}
	return es, nil
}

// dataBlocks returns the index entries of every data block, walking the
// intermediate and leaf index levels of a multi-level index.
func (rd *Reader) dataBlocks() ([]indexEntry, error) {
	cur := rd.root
	for lvl := 1; lvl < rd.levels; lvl++ {
		var next []indexEntry
		for _, e := range cur {
			es, err := rd.children(e, lvl)
			if err != nil {
				return nil, err
			}
			next = append(next, es...)
		}
		cur = next
	}
	return cur, nil
}

// readData reads and splits the data block of e.
func (rd *Reader) readData(e indexEntry) ([]KeyValue, error) {
	b, err := rd.readBlock(e.offset, e.offset+e.size, magicData)
	if err != nil {
		return nil, err
	}
	if b.end != e.offset+e.size {
		return nil, corruptf("data block at %d: %d bytes on disk, index says %d", e.offset, b.end-e.offset, e.size)
	}
	kvs, err := rd.parseKeyValues(b.data)
	if err != nil {
		return nil, fmt.Errorf("data block at %d: %w", e.offset, err)
	}
	return kvs, nil
}

// parseKeyValues splits a data block into its entries.
func (rd *Reader) parseKeyValues(b []byte) ([]KeyValue, error) {
	var out []KeyValue
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, corruptf("truncated KeyValue")
		}
		kl, vl := int64(binary.BigEndian.Uint32(b)), int64(binary.BigEndian.Uint32(b[4:]))
		if kl > int64(len(b)-8) || vl > int64(len(b)-8)-kl {
			return nil, corruptf("KeyValue lengths %d/%d past the block", kl, vl)
		}
		key, val := b[8:8+kl], b[8+kl:8+kl+vl]
		b = b[8+kl+vl:]
		row, err := keyRow(key)
		if err != nil {
			return nil, err
		}
		if rd.includesTags {
			if len(b) < 2 {
				return nil, corruptf("truncated tags length")
			}
			tl := int(binary.BigEndian.Uint16(b))
			if tl > len(b)-2 {
				return nil, corruptf("tags of %d bytes past the block", tl)
			}
			b = b[2+tl:]
		}
		if rd.includesMvcc {
			_, n, err := readVLong(b)
			if err != nil {
				return nil, err
			}
			b = b[n:]
		}
		out = append(out, KeyValue{Key: row, Value: val})
	}
	return out, nil
}

// All returns every entry in key order. It stops at the first error.
func (rd *Reader) All() iter.Seq2[KeyValue, error] {
	return func(yield func(KeyValue, error) bool) {
		blocks, err := rd.dataBlocks()
		if err != nil {
			yield(KeyValue{}, err)
			return
		}
		var n int64
		for _, e := range blocks {
			kvs, err := rd.readData(e)
			if err != nil {
				yield(KeyValue{}, err)
				return
			}
			for _, kv := range kvs {
				n++
				if !yield(kv, nil) {
					return
				}
			}
		}
		if n != rd.t.entryCount {
			yield(KeyValue{}, corruptf("%d entries, trailer says %d", n, rd.t.entryCount))
		}
	}
}

// floor returns the index of the last entry whose key (a row <= the first
// row under it) is <= key, or -1.
func floor(es []indexEntry, key []byte) int {
	return sort.Search(len(es), func(i int) bool { return bytes.Compare(es[i].key, key) > 0 }) - 1
}

// Get returns the value of key (the first entry with that row), finding
// its data block through the data index and reading that one block (and
// one index block per level below the root).
func (rd *Reader) Get(key []byte) ([]byte, bool, error) {
	cur := rd.root
	for lvl := 1; lvl < rd.levels; lvl++ {
		i := floor(cur, key)
		if i < 0 {
			return nil, false, nil
		}
		es, err := rd.children(cur[i], lvl)
		if err != nil {
			return nil, false, err
		}
		cur = es
	}
	i := floor(cur, key)
	if i < 0 {
		return nil, false, nil
	}
	kvs, err := rd.readData(cur[i])
	if err != nil {
		return nil, false, err
	}
	j := sort.Search(len(kvs), func(j int) bool { return bytes.Compare(kvs[j].Key, key) >= 0 })
	if j < len(kvs) && bytes.Equal(kvs[j].Key, key) {
		return kvs[j].Value, true, nil
	}
	return nil, false, nil
}
