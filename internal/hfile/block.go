package hfile

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"io"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// blockHeader is the fixed 33-byte header of an HFile v3 block.
type blockHeader struct {
	magic                string
	onDiskSizeNoHeader   int32
	uncompressedNoHeader int32
	prevOffset           int64
	checksumType         byte
	bytesPerChecksum     int32
	onDiskDataWithHeader int32
}

func (h blockHeader) put(dst []byte) {
	copy(dst[0:8], h.magic)
	binary.BigEndian.PutUint32(dst[8:], uint32(h.onDiskSizeNoHeader))
	binary.BigEndian.PutUint32(dst[12:], uint32(h.uncompressedNoHeader))
	binary.BigEndian.PutUint64(dst[16:], uint64(h.prevOffset))
	dst[24] = h.checksumType
	binary.BigEndian.PutUint32(dst[25:], uint32(h.bytesPerChecksum))
	binary.BigEndian.PutUint32(dst[29:], uint32(h.onDiskDataWithHeader))
}

func parseHeader(b []byte) blockHeader {
	return blockHeader{
		magic:                string(b[0:8]),
		onDiskSizeNoHeader:   int32(binary.BigEndian.Uint32(b[8:])),
		uncompressedNoHeader: int32(binary.BigEndian.Uint32(b[12:])),
		prevOffset:           int64(binary.BigEndian.Uint64(b[16:])),
		checksumType:         b[24],
		bytesPerChecksum:     int32(binary.BigEndian.Uint32(b[25:])),
		onDiskDataWithHeader: int32(binary.BigEndian.Uint32(b[29:])),
	}
}

// numChunks is the number of checksums over n bytes.
func numChunks(n, per int) int {
	return (n + per - 1) / per
}

// appendChecksums appends one big-endian CRC32C per bytesPerChecksum chunk
// of data (header + on-disk data), as HBase's ChecksumUtil does.
func appendChecksums(dst, data []byte) []byte {
	for off := 0; off < len(data); off += bytesPerChecksum {
		end := min(off+bytesPerChecksum, len(data))
		dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(data[off:end], castagnoli))
	}
	return dst
}

// verifyChecksums checks the checksums following data in sums.
func verifyChecksums(typ byte, per int, data, sums []byte) error {
	var table *crc32.Table
	switch typ {
	case checksumNull:
		return nil
	case checksumCRC32:
		table = crc32.IEEETable
	case checksumCRC32C:
		table = castagnoli
	default:
		return unsupportedf("checksum type %d", typ)
	}
	for i, off := 0, 0; off < len(data); i, off = i+1, off+per {
		end := min(off+per, len(data))
		want := binary.BigEndian.Uint32(sums[4*i:])
		if got := crc32.Checksum(data[off:end], table); got != want {
			return corruptf("block checksum mismatch at chunk %d: %08x != %08x", i, got, want)
		}
	}
	return nil
}

// compress returns raw compressed with c.
func compress(c Compression, raw []byte) ([]byte, error) {
	if c == NoCompression {
		return raw, nil
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decompress returns the n uncompressed bytes of data.
func decompress(codec int, data []byte, n int) ([]byte, error) {
	switch codec {
	case codecNone:
		if len(data) != n {
			return nil, corruptf("uncompressed block of %d bytes, header says %d", len(data), n)
		}
		return data, nil
	case codecGZ:
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, corruptf("gzip block: %v", err)
		}
		// Grow with the data actually decompressed, never to the size the
		// header claims.
		var out bytes.Buffer
		if _, err := io.Copy(&out, io.LimitReader(zr, int64(n)+1)); err != nil {
			return nil, corruptf("gzip block: %v", err)
		}
		if out.Len() != n {
			return nil, corruptf("gzip block of %d bytes, header says %d", out.Len(), n)
		}
		return out.Bytes(), nil
	}
	return nil, unsupportedf("compression codec %d", codec)
}
