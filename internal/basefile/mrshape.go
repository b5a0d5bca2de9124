//lint:file-ignore SA1019 parquet-mr 1.x writes the deprecated PLAIN_DICTIONARY encoding id, which this file reproduces on purpose.

package basefile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// mrShaper sits between parquet-go and the destination and gives the file
// the shape parquet-mr 1.13 writes with writer version PARQUET_1_0 (see the
// package documentation for the whole list):
//
//   - page headers: parquet-go always names the dictionary encoding
//     RLE_DICTIONARY and encodes the dictionary page PLAIN; parquet-mr's v1
//     writer names both PLAIN_DICTIONARY (the bytes are the same: a bit width
//     and RLE/bit-packed ids; a PLAIN dictionary). Each header's encoding
//     fields are renamed in place (both are one-byte varints).
//   - footer: the format version is 1, the column chunks' encoding lists and
//     encoding stats are rebuilt from the pages actually written, statistics
//     follow parquet-mr's rules (ParquetMetadataConverter.toParquetStatistics),
//     and decimals stored as binary get signed min/max (parquet-go compares
//     their bytes unsigned, which makes negative decimals look largest).
//
// Pages stream through unbuffered; only the footer and page index (written
// by Close) are held in memory to be rewritten.
type mrShaper struct {
	dst  io.Writer
	n    int64 // bytes handed to dst
	skip int   // magic bytes still to pass through

	hdr     []byte // a page header split across writes
	body    int64  // page body bytes still to pass through
	scratch []byte

	pages []pageSeen // every page header seen, in file order

	tail    bool
	tailBuf []byte
	err     error
}

// pageSeen records one page: where its header starts, its type and the value
// encoding written (after renaming).
type pageSeen struct {
	offset   int64
	typ      format.PageType
	encoding format.Encoding
}

// maxPageHeader bounds a page header's size (parquet-go writes no page
// statistics, so a header is a few dozen bytes).
const maxPageHeader = 1 << 20

// errShortHeader marks a page header cut short by the end of the buffer.
var errShortHeader = errors.New("short")

func newMRShaper(dst io.Writer) *mrShaper {
	return &mrShaper{dst: dst, skip: 4}
}

func (m *mrShaper) emit(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	n, err := m.dst.Write(p)
	m.n += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		m.err = err
	}
	return err
}

// Write passes pages through, renaming the encodings in their headers; once
// tail is set it holds everything back for finish.
func (m *mrShaper) Write(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	total := len(p)
	if m.tail {
		m.tailBuf = append(m.tailBuf, p...)
		return total, nil
	}
	for len(p) > 0 {
		switch {
		case m.skip > 0:
			k := min(m.skip, len(p))
			if err := m.emit(p[:k]); err != nil {
				return 0, err
			}
			m.skip -= k
			p = p[k:]
		case m.body > 0:
			k := int(min(m.body, int64(len(p))))
			if err := m.emit(p[:k]); err != nil {
				return 0, err
			}
			m.body -= int64(k)
			p = p[k:]
		default:
			var consumed int
			var err error
			if len(m.hdr) == 0 {
				consumed, err = m.header(p, 0)
			} else {
				prev := len(m.hdr)
				m.hdr = append(m.hdr, p[:min(len(p), maxPageHeader)]...)
				consumed, err = m.header(m.hdr, prev)
			}
			if errors.Is(err, errShortHeader) {
				if len(m.hdr) == 0 {
					m.hdr = append(m.hdr, p...)
				}
				if len(m.hdr) > maxPageHeader {
					m.err = fmt.Errorf("basefile: page header longer than %d bytes", maxPageHeader)
					return 0, m.err
				}
				return total, nil
			}
			if err != nil {
				m.err = err
				return 0, err
			}
			p = p[consumed:]
		}
	}
	return total, nil
}

// header parses the page header at the start of b, whose first prev bytes
// were already buffered in m.hdr, writes it out renamed, and returns how many
// bytes of the current write it took.
func (m *mrShaper) header(b []byte, prev int) (int, error) {
	h, err := scanPageHeader(b)
	if err != nil {
		return 0, err
	}
	m.scratch = append(m.scratch[:0], b[:h.size]...)
	for _, at := range h.patch {
		m.scratch[at] = zigzag1(format.PlainDictionary)
	}
	m.pages = append(m.pages, pageSeen{offset: m.n, typ: h.typ, encoding: h.encoding})
	if err := m.emit(m.scratch); err != nil {
		return 0, err
	}
	m.body = int64(h.compressed)
	m.hdr = m.hdr[:0]
	return h.size - prev, nil
}

// zigzag1 is the one-byte compact-protocol encoding of a small enum value.
func zigzag1(e format.Encoding) byte { return byte(e << 1) }

type pageHeaderScan struct {
	size         int
	typ          format.PageType
	uncompressed int32
	compressed   int32
	encoding     format.Encoding
	patch        []int // offsets of encoding bytes to rename PLAIN_DICTIONARY
}

// scanPageHeader walks a Thrift compact PageHeader: type (1), compressed size
// (3), data_page_header (5: encoding is field 2) and dictionary_page_header
// (7: encoding is field 2). It reports errShortHeader when b ends inside it.
func scanPageHeader(b []byte) (pageHeaderScan, error) {
	var h pageHeaderScan
	r := compactReader{b: b}
	last := int16(0)
	for {
		id, typ, err := r.fieldHeader(&last)
		if err != nil {
			return h, err
		}
		if typ == 0 {
			break
		}
		switch {
		case id == 1 && typ == ctI32:
			v, err := r.varint()
			if err != nil {
				return h, err
			}
			h.typ = format.PageType(unzigzag(v))
		case id == 2 && typ == ctI32:
			v, err := r.varint()
			if err != nil {
				return h, err
			}
			h.uncompressed = int32(unzigzag(v))
		case id == 3 && typ == ctI32:
			v, err := r.varint()
			if err != nil {
				return h, err
			}
			h.compressed = int32(unzigzag(v))
		case (id == 5 || id == 7) && typ == ctStruct:
			dict := id == 7
			inner := int16(0)
			for {
				fid, ft, err := r.fieldHeader(&inner)
				if err != nil {
					return h, err
				}
				if ft == 0 {
					break
				}
				if fid == 2 && ft == ctI32 {
					at := r.pos
					v, err := r.varint()
					if err != nil {
						return h, err
					}
					enc := format.Encoding(unzigzag(v))
					rename := (!dict && enc == format.RLEDictionary) || (dict && enc == format.Plain)
					if rename {
						if r.pos != at+1 {
							return h, fmt.Errorf("basefile: unexpected encoding varint in page header")
						}
						h.patch = append(h.patch, at)
						enc = format.PlainDictionary
					}
					h.encoding = enc
					continue
				}
				if err := r.skip(ft); err != nil {
					return h, err
				}
			}
		default:
			if err := r.skip(typ); err != nil {
				return h, err
			}
		}
	}
	if h.compressed < 0 {
		return h, fmt.Errorf("basefile: negative page size %d", h.compressed)
	}
	h.size = r.pos
	return h, nil
}

// Thrift compact protocol element types.
const (
	ctTrue   = 1
	ctFalse  = 2
	ctByte   = 3
	ctI16    = 4
	ctI32    = 5
	ctI64    = 6
	ctDouble = 7
	ctBinary = 8
	ctList   = 9
	ctSet    = 10
	ctMap    = 11
	ctStruct = 12
)

type compactReader struct {
	b   []byte
	pos int
}

func (r *compactReader) byte1() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, errShortHeader
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

func (r *compactReader) varint() (uint64, error) {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c, err := r.byte1()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("basefile: varint too long in page header")
}

func unzigzag(v uint64) int64 { return int64(v>>1) ^ -int64(v&1) }

// fieldHeader reads a field header; typ 0 is the struct's stop byte.
func (r *compactReader) fieldHeader(last *int16) (int16, byte, error) {
	c, err := r.byte1()
	if err != nil {
		return 0, 0, err
	}
	if c == 0 {
		return 0, 0, nil
	}
	typ := c & 0x0f
	if d := c >> 4; d != 0 {
		*last += int16(d)
	} else {
		v, err := r.varint()
		if err != nil {
			return 0, 0, err
		}
		*last = int16(unzigzag(v))
	}
	return *last, typ, nil
}

func (r *compactReader) skipN(n uint64) error {
	if uint64(len(r.b)-r.pos) < n {
		return errShortHeader
	}
	r.pos += int(n)
	return nil
}

func (r *compactReader) skip(typ byte) error {
	switch typ {
	case ctTrue, ctFalse:
		return nil
	case ctByte:
		return r.skipN(1)
	case ctI16, ctI32, ctI64:
		_, err := r.varint()
		return err
	case ctDouble:
		return r.skipN(8)
	case ctBinary:
		n, err := r.varint()
		if err != nil {
			return err
		}
		return r.skipN(n)
	case ctList, ctSet:
		c, err := r.byte1()
		if err != nil {
			return err
		}
		n := uint64(c >> 4)
		if n == 15 {
			if n, err = r.varint(); err != nil {
				return err
			}
		}
		for range n {
			if err := r.skip(c & 0x0f); err != nil {
				return err
			}
		}
		return nil
	case ctMap:
		n, err := r.varint()
		if err != nil || n == 0 {
			return err
		}
		kv, err := r.byte1()
		if err != nil {
			return err
		}
		for range n {
			if err := r.skip(kv >> 4); err != nil {
				return err
			}
			if err := r.skip(kv & 0x0f); err != nil {
				return err
			}
		}
		return nil
	case ctStruct:
		last := int16(0)
		for {
			_, ft, err := r.fieldHeader(&last)
			if err != nil {
				return err
			}
			if ft == 0 {
				return nil
			}
			if err := r.skip(ft); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("basefile: unknown thrift type %d in page header", typ)
}

// maxStatsSize is parquet-mr's ParquetMetadataConverter.MAX_STATS_SIZE: a
// chunk whose min and max together take this many bytes or more gets no
// min/max at all ("don't write stats larger than the max size rather than
// truncating").
const maxStatsSize = 4096

// columnIndexTruncateLength is parquet-mr's default
// parquet.columnindex.truncate.length: page index bounds of binary columns
// are cut to 64 bytes (the max rounded up).
const columnIndexTruncateLength = 64

// finish rewrites the footer held back since tail was set and writes the
// page index and the footer. leaves describes the file's leaf columns in
// order; decStats holds, per row group, the signed min/max of each decimal
// leaf stored as binary.
func (m *mrShaper) finish(leaves []*pnode, decStats []map[int]minMax) error {
	if m.err != nil {
		return m.err
	}
	b := m.tailBuf
	if len(b) < 8 || string(b[len(b)-4:]) != "PAR1" {
		return fmt.Errorf("basefile: parquet-go wrote no footer")
	}
	flen := int(binary.LittleEndian.Uint32(b[len(b)-8:]))
	if flen > len(b)-8 {
		return fmt.Errorf("basefile: footer length %d beyond the %d bytes written at close", flen, len(b))
	}
	prefix, footer := b[:len(b)-8-flen], b[len(b)-8-flen:len(b)-8]
	if m.n == 0 {
		// No page was written before close (an empty file): the magic is in
		// the held-back bytes.
		if !bytes.HasPrefix(prefix, []byte("PAR1")) {
			return fmt.Errorf("basefile: missing magic")
		}
	}
	var md format.FileMetaData
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), footer, &md); err != nil {
		return fmt.Errorf("basefile: decoding parquet-go's footer: %w", err)
	}
	if err := m.reshape(&md, leaves, decStats); err != nil {
		return err
	}
	prefix, err := m.pageIndex(&md, prefix, decStats)
	if err != nil {
		return err
	}
	out, err := thrift.Marshal(new(thrift.CompactProtocol), &md)
	if err != nil {
		return fmt.Errorf("basefile: encoding footer: %w", err)
	}
	if err := m.emit(prefix); err != nil {
		return err
	}
	if err := m.emit(out); err != nil {
		return err
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], uint32(len(out)))
	copy(trailer[4:], "PAR1")
	return m.emit(trailer[:])
}

type minMax struct{ min, max []byte }

// pageIndex rebuilds the page index section (prefix: the column indexes,
// then the offset indexes, as parquet-go writes them at close). The column
// indexes of binary decimals carry parquet-go's unsigned page bounds, by
// which a reader would skip pages holding matching negative values: each of
// their non-null pages gets the chunk's signed bounds instead (true bounds,
// if loose) and the boundary order UNORDERED. The other entries are copied.
func (m *mrShaper) pageIndex(md *format.FileMetaData, prefix []byte, decStats []map[int]minMax) ([]byte, error) {
	base := m.n // file offset of prefix[0]
	first := int64(len(prefix))
	for _, rg := range md.RowGroups {
		for _, cc := range rg.Columns {
			for _, off := range []int64{cc.ColumnIndexOffset, cc.OffsetIndexOffset} {
				if off > 0 && off-base < first {
					first = off - base
				}
			}
		}
	}
	if first < 0 {
		return nil, fmt.Errorf("basefile: page index before the end of the pages")
	}
	out := append([]byte(nil), prefix[:first]...)
	slice := func(off int64, n int32) ([]byte, error) {
		rel := off - base
		if rel < first || n < 0 || rel+int64(n) > int64(len(prefix)) {
			return nil, fmt.Errorf("basefile: page index entry [%d,+%d) outside the %d bytes written at close", off, n, len(prefix))
		}
		return prefix[rel : rel+int64(n)], nil
	}
	for ri := range md.RowGroups {
		for ci := range md.RowGroups[ri].Columns {
			cc := &md.RowGroups[ri].Columns[ci]
			if cc.ColumnIndexOffset <= 0 {
				continue
			}
			b, err := slice(cc.ColumnIndexOffset, cc.ColumnIndexLength)
			if err != nil {
				return nil, err
			}
			if mm, ok := decStats[ri][ci]; ok {
				var idx format.ColumnIndex
				if err := thrift.Unmarshal(new(thrift.CompactProtocol), b, &idx); err != nil {
					return nil, fmt.Errorf("basefile: decoding column index: %w", err)
				}
				for p := range idx.NullPages {
					if idx.NullPages[p] || p >= len(idx.MinValues) || p >= len(idx.MaxValues) {
						continue
					}
					idx.MinValues[p], idx.MaxValues[p] = mm.min, mm.max
				}
				idx.BoundaryOrder = format.Unordered
				if b, err = thrift.Marshal(new(thrift.CompactProtocol), &idx); err != nil {
					return nil, fmt.Errorf("basefile: encoding column index: %w", err)
				}
			}
			cc.ColumnIndexOffset = base + int64(len(out))
			cc.ColumnIndexLength = int32(len(b))
			out = append(out, b...)
		}
	}
	for ri := range md.RowGroups {
		for ci := range md.RowGroups[ri].Columns {
			cc := &md.RowGroups[ri].Columns[ci]
			if cc.OffsetIndexOffset <= 0 {
				continue
			}
			b, err := slice(cc.OffsetIndexOffset, cc.OffsetIndexLength)
			if err != nil {
				return nil, err
			}
			cc.OffsetIndexOffset = base + int64(len(out))
			cc.OffsetIndexLength = int32(len(b))
			out = append(out, b...)
		}
	}
	return out, nil
}

func (m *mrShaper) reshape(md *format.FileMetaData, leaves []*pnode, decStats []map[int]minMax) error {
	md.Version = 1
	pagesEnd := m.n
	if len(decStats) != len(md.RowGroups) {
		return fmt.Errorf("basefile: %d row groups written, %d tracked", len(md.RowGroups), len(decStats))
	}
	for ri := range md.RowGroups {
		rg := &md.RowGroups[ri]
		if len(rg.Columns) != len(leaves) {
			return fmt.Errorf("basefile: row group %d has %d columns, want %d", ri, len(rg.Columns), len(leaves))
		}
		for ci := range rg.Columns {
			cc := &rg.Columns[ci]
			cm := &cc.MetaData
			start := cm.DataPageOffset
			if cm.DictionaryPageOffset > 0 && cm.DictionaryPageOffset < start {
				start = cm.DictionaryPageOffset
			}
			end := start + cm.TotalCompressedSize
			if end > pagesEnd {
				return fmt.Errorf("basefile: column chunk %d.%d ends at %d, after the pages seen (%d)", ri, ci, end, pagesEnd)
			}
			m.encodings(cm, start, end, leaves[ci])
			leaf := leaves[ci]
			mm, isDec := decStats[ri][ci]
			if isDec {
				cm.Statistics.MinValue, cm.Statistics.MaxValue = mm.min, mm.max
			}
			mrStatistics(&cm.Statistics, signedOrder(leaf))
		}
	}
	return nil
}

// encodings rebuilds a chunk's encoding list and encoding stats from the
// pages written in [start, end): the value encodings of its pages, and the
// level encoding (RLE; parquet-mr also lists BIT_PACKED for the absent
// repetition levels of a non-repeated column, which says nothing a reader
// uses).
func (m *mrShaper) encodings(cm *format.ColumnMetaData, start, end int64, leaf *pnode) {
	i, _ := slices.BinarySearchFunc(m.pages, start, func(p pageSeen, off int64) int {
		switch {
		case p.offset < off:
			return -1
		case p.offset > off:
			return 1
		}
		return 0
	})
	type key struct {
		t format.PageType
		e format.Encoding
	}
	counts := map[key]int32{}
	var order []key
	encs := []format.Encoding{}
	if leaf.def > 0 || leaf.rep > 0 {
		encs = append(encs, format.RLE)
	}
	if leaf.rep == 0 {
		encs = append(encs, format.BitPacked)
	}
	for ; i < len(m.pages) && m.pages[i].offset < end; i++ {
		p := m.pages[i]
		k := key{p.typ, p.encoding}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
		if !slices.Contains(encs, p.encoding) {
			encs = append(encs, p.encoding)
		}
	}
	slices.Sort(encs)
	cm.Encoding = encs
	stats := make([]format.PageEncodingStats, 0, len(order))
	for _, k := range order {
		stats = append(stats, format.PageEncodingStats{PageType: k.t, Encoding: k.e, Count: counts[k]})
	}
	cm.EncodingStats = stats
}

// mrStatistics applies parquet-mr's rules to a chunk's statistics: no min/max
// when together they take maxStatsSize bytes or more; the deprecated min/max
// fields only for types ordered as signed values (or when min equals max),
// where the old and new orders agree.
func mrStatistics(s *format.Statistics, signed bool) {
	s.Min, s.Max = nil, nil
	if s.MinValue == nil || s.MaxValue == nil {
		s.MinValue, s.MaxValue = nil, nil
		return
	}
	if len(s.MinValue)+len(s.MaxValue) >= maxStatsSize {
		s.MinValue, s.MaxValue = nil, nil
		return
	}
	if signed || bytes.Equal(s.MinValue, s.MaxValue) {
		s.Min, s.Max = s.MinValue, s.MaxValue
	}
}

// signedOrder reports whether parquet-mr orders a leaf's values as signed
// (SortOrder.SIGNED): numbers, booleans, dates, timestamps and decimals, but
// not strings, binary or fixed bytes without a decimal annotation.
func signedOrder(n *pnode) bool {
	return n.ptype != nil && (isDecimal(n) || !isBinary(n))
}

// cmpSignedBE compares two big-endian two's-complement integers of any
// lengths (Parquet decimals stored as binary).
func cmpSignedBE(a, b []byte) int {
	na := len(a) > 0 && a[0]&0x80 != 0
	nb := len(b) > 0 && b[0]&0x80 != 0
	if na != nb {
		if na {
			return -1
		}
		return 1
	}
	var ext byte
	if na {
		ext = 0xff
	}
	n := max(len(a), len(b))
	at := func(x []byte, i int) byte {
		if j := i - (n - len(x)); j >= 0 {
			return x[j]
		}
		return ext
	}
	for i := range n {
		x, y := at(a, i), at(b, i)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
