// Package hfile reads and writes HBase HFile format version 3 files as Apache
// Hudi 0.15 writes them for its metadata table: the base files of the
// metadata table (".hfile") and the content of an HFILE_DATA_BLOCK log block.
// Files written here are read by HBase 2.4's reader (shaded in the Hudi
// bundle) and by Hudi's native hudi-io reader (org.apache.hudi.io.hfile).
//
// Sources: HBase 2.4 (HFileWriterImpl, HFileBlock, HFileBlockIndex,
// FixedFileTrailer, HFileInfo, ChecksumUtil, KeyValue), Hudi 0.15 hudi-io
// (HFileReaderImpl, HFileTrailer, HFileBlock, HFileRootIndexBlock,
// HFileFileInfoBlock) and Spark-written samples (testdata/README.md).
//
// Layout (all integers big-endian):
//
//	data blocks        "DATABLK*", KeyValues (see below), ~BlockSize each
//	meta blocks        "METABLKc", one per named meta block, in name order
//	root data index    "IDXROOT2", per data block: int64 offset, int32
//	                   on-disk size with header, vint length + first key
//	                   (a shortened "midpoint" key after the first block)
//	meta index         "IDXROOT2", the same with the meta block name as key
//	file info          "FILEINF2", "PBUF" + varint length + FileInfoProto
//	                   (repeated BytesBytesPair, sorted by key)
//	trailer            4096 bytes: "TRABLK\"$", varint length +
//	                   FileTrailerProto, zero padding, int32 version
//	                   (minor 3 << 24 | major 3)
//
// Every block starts with a 33-byte header: 8-byte magic, int32 on-disk size
// without header (compressed data + checksums), int32 uncompressed size
// without header, int64 offset of the previous block of the same type (-1 if
// none), byte checksum type (2 = CRC32C), int32 bytes per checksum (16384),
// int32 on-disk data size with header. The data (GZ or NONE) follows, then
// one 4-byte checksum per bytesPerChecksum chunk of header + data.
//
// A KeyValue in a data block is int32 key length, int32 value length, the
// key (int16 row length, row, int8 family length = 0, no qualifier, int64
// timestamp = Long.MAX_VALUE, int8 type = 4 Put), the value, then the MVCC
// timestamp as a Hadoop vlong (0). Hudi's record key is the row.
//
// The Reader also reads what HBase writes for large files: multi-level
// data indexes (intermediate "IDXINTE2" and leaf "IDXLEAF2" blocks: int32
// count, int32 entry offsets, then int64 offset, int32 size, key per
// entry), tags (when the file info has hfile.MAX_TAGS_LEN), CRC32 and no
// checksums. It does not read other codecs (LZO, SNAPPY, ...), data block
// encodings or encrypted files (ErrUnsupported). The Writer always writes
// a single-level root index; HBase would switch to a multi-level index once
// the root index passes 128 KiB (thousands of 1 MiB data blocks), which
// Hudi's readers read either way.
package hfile

import (
	"errors"
	"fmt"
)

// Compression is a block compression codec; the values are HBase's
// Compression.Algorithm names.
type Compression int

const (
	// GzipCompression is HBase's "GZ", Hudi's default for HFiles
	// (hoodie.hfile.compression.algorithm). It is the zero value.
	GzipCompression Compression = iota
	// NoCompression is HBase's "NONE".
	NoCompression
)

// String returns HBase's name of the codec.
func (c Compression) String() string {
	switch c {
	case GzipCompression:
		return "GZ"
	case NoCompression:
		return "NONE"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// codec ordinals of HBase's Compression.Algorithm, stored in the trailer.
const (
	codecGZ   = 1
	codecNone = 2
)

// DefaultBlockSize is the target uncompressed data block size Hudi 0.15
// writes (hoodie.hfile.block.size, and HoodieHFileDataBlock's block size).
const DefaultBlockSize = 1 << 20

// ComparatorClassName is the comparator Hudi names in the trailer.
const ComparatorClassName = "org.apache.hudi.io.storage.HoodieHBaseKVComparator"

var (
	// ErrCorrupt marks a file that is not a valid HFile (bad magic, bad
	// checksum, sizes out of range); test with errors.Is.
	ErrCorrupt = errors.New("hfile: corrupt file")
	// ErrUnsupported marks a valid HFile using a feature this package does
	// not read (another version, codec, or a multi-level data index).
	ErrUnsupported = errors.New("hfile: unsupported")
	// ErrKeyOrder is returned by Writer.Append for a key not strictly
	// greater (bytewise) than the previous one.
	ErrKeyOrder = errors.New("hfile: keys not strictly increasing")
	// ErrClosed is returned by a Writer used after Close.
	ErrClosed = errors.New("hfile: writer closed")
)

// KeyValue is one entry of an HFile.
type KeyValue struct {
	// Key is the HBase row, Hudi's record key bytes.
	Key []byte
	// Value is the cell value (for Hudi, an Avro record).
	Value []byte
}

// Block magics (HBase BlockType).
const (
	magicData      = "DATABLK*"
	magicMeta      = "METABLKc"
	magicRootIndex = "IDXROOT2"
	magicLeafIndex = "IDXLEAF2"
	magicIntIndex  = "IDXINTE2"
	magicFileInfo  = "FILEINF2"
	magicTrailer   = "TRABLK\"$"
	pbufMagic      = "PBUF"
)

const (
	headerSize       = 33
	trailerSize      = 4096 // FixedFileTrailer size for version 3
	majorVersion     = 3
	minorVersion     = 3
	bytesPerChecksum = 16384
	checksumNull     = 0
	checksumCRC32    = 1
	checksumCRC32C   = 2
	keyTypePut       = 4
	keyTypeMaximum   = 255
	latestTimestamp  = 1<<63 - 1
	maxRowLength     = 1<<15 - 1
	// maxBlockSize bounds the uncompressed size of one block a reader
	// accepts, so a corrupt header cannot cause a huge allocation.
	maxBlockSize = 1 << 30
	// maxIndexLevels bounds the data index depth a reader accepts.
	maxIndexLevels = 8
)

// File info keys HBase's writer adds.
const (
	fiLastKey     = "hfile.LASTKEY"
	fiAvgKeyLen   = "hfile.AVG_KEY_LEN"
	fiAvgValueLen = "hfile.AVG_VALUE_LEN"
	fiCreateTime  = "hfile.CREATE_TIME_TS"
	fiMaxTagsLen  = "hfile.MAX_TAGS_LEN"
	// fiBlockEncoding is HFileDataBlockEncoderImpl's DATA_BLOCK_ENCODING.
	fiBlockEncoding = "DATA_BLOCK_ENCODING"
	fiMaxMemstore   = "MAX_MEMSTORE_TS_KEY"
	fiKVVersion     = "KEY_VALUE_VERSION"
	reservedFI      = "hfile."
)

// corruptf returns an ErrCorrupt error with context.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// unsupportedf returns an ErrUnsupported error with context.
func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)
}

// kvKey serializes an HBase KeyValue key for row with an empty family and
// qualifier, the given timestamp and type.
func kvKey(dst, row []byte, ts uint64, typ byte) []byte {
	dst = append(dst, byte(len(row)>>8), byte(len(row)))
	dst = append(dst, row...)
	dst = append(dst, 0) // family length
	dst = append(dst, byte(ts>>56), byte(ts>>48), byte(ts>>40), byte(ts>>32),
		byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts))
	return append(dst, typ)
}

// keyRow returns the row of a serialized KeyValue key.
func keyRow(key []byte) ([]byte, error) {
	if len(key) < 2+1+8+1 {
		return nil, corruptf("key of %d bytes", len(key))
	}
	n := int(key[0])<<8 | int(key[1])
	if 2+n+1+8+1 > len(key) {
		return nil, corruptf("row length %d in a key of %d bytes", n, len(key))
	}
	return key[2 : 2+n], nil
}

// putVLong appends v in Hadoop's WritableUtils.writeVLong encoding.
func putVLong(dst []byte, v int64) []byte {
	if v >= -112 && v <= 127 {
		return append(dst, byte(v))
	}
	l := -112
	if v < 0 {
		v = ^v
		l = -120
	}
	for t := v; t != 0; t >>= 8 {
		l--
	}
	dst = append(dst, byte(int8(l)))
	n := -(l + 112)
	if l < -120 {
		n = -(l + 120)
	}
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// readVLong decodes a Hadoop vlong from b, returning it and its length.
func readVLong(b []byte) (int64, int, error) {
	if len(b) == 0 {
		return 0, 0, corruptf("truncated vlong")
	}
	first := int8(b[0])
	if first >= -112 {
		return int64(first), 1, nil
	}
	neg := first < -120
	n := int(-112 - int(first))
	if neg {
		n = int(-120 - int(first))
	}
	if 1+n > len(b) {
		return 0, 0, corruptf("truncated vlong")
	}
	var v int64
	for _, c := range b[1 : 1+n] {
		v = v<<8 | int64(c)
	}
	if neg {
		v = ^v
	}
	return v, 1 + n, nil
}
