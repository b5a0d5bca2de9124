package logfile

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// WriteBlock writes b as one framed block to w and returns the bytes
// written. Content comes from Records (AvroDataBlock, and ParquetDataBlock
// given no Content, in the header SCHEMA),
// Deletes (DeleteBlock), nothing (CommandBlock) or Content (other types, and
// data or delete blocks given no Records/Deletes: written verbatim, which
// re-frames a block read back byte for byte).
// Headers and footers are written in slice order; an empty footer is the
// four zero bytes Spark writes. On a write error n counts the bytes that
// reached w.
func WriteBlock(w io.Writer, b Block) (n int64, err error) {
	var content []byte
	switch b.Type {
	case AvroDataBlock:
		if len(b.Records) == 0 && len(b.Content) > 0 {
			content = b.Content // raw: re-framing a block read back, or pre-encoded content
			break
		}
		s, ok := b.Header.Get(SchemaHeader)
		if !ok {
			return 0, fmt.Errorf("%w: Avro data block without a SCHEMA header", ErrInvalidBlock)
		}
		content, err = encodeAvroContent(s, b.Records)
	case ParquetDataBlock:
		if len(b.Content) > 0 {
			// A block read back keeps its Parquet file byte for byte
			// (re-encoding would change it).
			content = b.Content
			break
		}
		s, ok := b.Header.Get(SchemaHeader)
		if !ok {
			return 0, fmt.Errorf("%w: Parquet data block without a SCHEMA header", ErrInvalidBlock)
		}
		content, err = encodeParquetContent(s, b.Compression, b.Records)
	case DeleteBlock:
		if len(b.Deletes) == 0 && len(b.Content) > 0 {
			content = b.Content
			break
		}
		content, err = encodeDeleteContent(b.Deletes)
	case CommandBlock:
		if len(b.Content) != 0 {
			return 0, fmt.Errorf("%w: command block with content", ErrInvalidBlock)
		}
	case CorruptBlock:
		return 0, fmt.Errorf("%w: cannot write a corrupt block", ErrInvalidBlock)
	default:
		if len(b.Content) == 0 && len(b.Records) > 0 {
			return 0, fmt.Errorf("%w: writing %v from records (give Content)", ErrUnsupported, b.Type)
		}
		content = b.Content
	}
	if err != nil {
		return 0, err
	}
	hdr, err := appendMap(nil, b.Header)
	if err != nil {
		return 0, err
	}
	ftr, err := appendMap(nil, b.Footer)
	if err != nil {
		return 0, err
	}
	blockSize := int64(4 + 4 + len(hdr) + 8 + len(content) + len(ftr) + 8)
	head := make([]byte, 0, 22+len(hdr)+8)
	head = append(head, Magic...)
	head = binary.BigEndian.AppendUint64(head, uint64(blockSize))
	head = binary.BigEndian.AppendUint32(head, FormatVersion)
	head = binary.BigEndian.AppendUint32(head, uint32(b.Type))
	head = append(head, hdr...)
	head = binary.BigEndian.AppendUint64(head, uint64(len(content)))
	tail := append(ftr, make([]byte, 8)...)
	binary.BigEndian.PutUint64(tail[len(ftr):], uint64(len(Magic))+uint64(blockSize))
	for _, p := range [][]byte{head, content, tail} {
		m, err := w.Write(p)
		n += int64(m)
		if err != nil {
			return n, fmt.Errorf("logfile: writing block: %w", err)
		}
	}
	return n, nil
}

func appendMap(dst []byte, h Headers) ([]byte, error) {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(h)))
	for _, e := range h {
		if len(e.Value) > math.MaxInt32 {
			return nil, fmt.Errorf("%w: header %v of %d bytes", ErrInvalidBlock, e.Key, len(e.Value))
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.Key))
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(e.Value)))
		dst = append(dst, e.Value...)
	}
	return dst, nil
}
