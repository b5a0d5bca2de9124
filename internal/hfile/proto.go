package hfile

import (
	"encoding/binary"
	"fmt"
)

// The trailer and the file info are protobuf (proto2) messages of HBase's
// HFile.proto:
//
//	message FileTrailerProto {
//	  optional uint64 file_info_offset = 1;
//	  optional uint64 load_on_open_data_offset = 2;
//	  optional uint64 uncompressed_data_index_size = 3;
//	  optional uint64 total_uncompressed_bytes = 4;
//	  optional uint32 data_index_count = 5;
//	  optional uint32 meta_index_count = 6;
//	  optional uint64 entry_count = 7;
//	  optional uint32 num_data_index_levels = 8;
//	  optional uint64 first_data_block_offset = 9;
//	  optional uint64 last_data_block_offset = 10;
//	  optional string comparator_class_name = 11;
//	  optional uint32 compression_codec = 12;
//	  optional bytes encryption_key = 13;
//	}
//	message FileInfoProto { repeated BytesBytesPair map_entry = 1; }
//	message BytesBytesPair { required bytes first = 1; required bytes second = 2; }

// trailer holds the FileTrailerProto fields this package uses.
type trailer struct {
	fileInfoOffset        int64
	loadOnOpenOffset      int64
	uncompressedIndexSize int64
	totalUncompressed     int64
	dataIndexCount        int64
	metaIndexCount        int64
	entryCount            int64
	numDataIndexLevels    int64
	firstDataBlockOffset  int64
	lastDataBlockOffset   int64
	comparator            string
	codec                 int64
}

func appendTag(dst []byte, field, wire int) []byte {
	return binary.AppendUvarint(dst, uint64(field<<3|wire))
}

func appendVarintField(dst []byte, field int, v int64) []byte {
	return binary.AppendUvarint(appendTag(dst, field, 0), uint64(v))
}

func appendBytesField(dst []byte, field int, b []byte) []byte {
	dst = binary.AppendUvarint(appendTag(dst, field, 2), uint64(len(b)))
	return append(dst, b...)
}

// marshal encodes t as HBase's FixedFileTrailer.toProtobuf does (every
// field but the encryption key set).
func (t trailer) marshal() []byte {
	var b []byte
	b = appendVarintField(b, 1, t.fileInfoOffset)
	b = appendVarintField(b, 2, t.loadOnOpenOffset)
	b = appendVarintField(b, 3, t.uncompressedIndexSize)
	b = appendVarintField(b, 4, t.totalUncompressed)
	b = appendVarintField(b, 5, t.dataIndexCount)
	b = appendVarintField(b, 6, t.metaIndexCount)
	b = appendVarintField(b, 7, t.entryCount)
	b = appendVarintField(b, 8, t.numDataIndexLevels)
	b = appendVarintField(b, 9, t.firstDataBlockOffset)
	b = appendVarintField(b, 10, t.lastDataBlockOffset)
	b = appendBytesField(b, 11, []byte(t.comparator))
	b = appendVarintField(b, 12, t.codec)
	return b
}

// protoField is one decoded protobuf field.
type protoField struct {
	num   int
	wire  int
	value uint64 // varint / fixed
	bytes []byte // length-delimited
}

// parseProto calls fn for each field of the message b.
func parseProto(b []byte, fn func(protoField) error) error {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return corruptf("protobuf tag")
		}
		b = b[n:]
		f := protoField{num: int(tag >> 3), wire: int(tag & 7)}
		switch f.wire {
		case 0:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return corruptf("protobuf varint of field %d", f.num)
			}
			f.value, b = v, b[n:]
		case 1:
			if len(b) < 8 {
				return corruptf("protobuf fixed64 of field %d", f.num)
			}
			f.value, b = binary.LittleEndian.Uint64(b), b[8:]
		case 5:
			if len(b) < 4 {
				return corruptf("protobuf fixed32 of field %d", f.num)
			}
			f.value, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return corruptf("protobuf length of field %d", f.num)
			}
			f.bytes, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return corruptf("protobuf wire type %d", f.wire)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// unmarshalTrailer decodes a FileTrailerProto.
func unmarshalTrailer(b []byte) (trailer, error) {
	t := trailer{numDataIndexLevels: 1, firstDataBlockOffset: -1, lastDataBlockOffset: -1, codec: codecNone}
	err := parseProto(b, func(f protoField) error {
		if f.wire != 0 && f.num != 11 && f.num != 13 {
			return corruptf("trailer field %d has wire type %d", f.num, f.wire)
		}
		v := int64(f.value)
		switch f.num {
		case 1:
			t.fileInfoOffset = v
		case 2:
			t.loadOnOpenOffset = v
		case 3:
			t.uncompressedIndexSize = v
		case 4:
			t.totalUncompressed = v
		case 5:
			t.dataIndexCount = v
		case 6:
			t.metaIndexCount = v
		case 7:
			t.entryCount = v
		case 8:
			t.numDataIndexLevels = v
		case 9:
			t.firstDataBlockOffset = v
		case 10:
			t.lastDataBlockOffset = v
		case 11:
			t.comparator = string(f.bytes)
		case 12:
			t.codec = v
		case 13:
			if len(f.bytes) > 0 {
				return unsupportedf("encrypted HFile")
			}
		}
		return nil
	})
	return t, err
}

// marshalFileInfo encodes the file info block content: "PBUF", then a
// varint-delimited FileInfoProto with the entries in key order.
func marshalFileInfo(keys []string, m map[string][]byte) []byte {
	var msg []byte
	for _, k := range keys {
		var pair []byte
		pair = appendBytesField(pair, 1, []byte(k))
		pair = appendBytesField(pair, 2, m[k])
		msg = appendBytesField(msg, 1, pair)
	}
	out := append([]byte(pbufMagic), binary.AppendUvarint(nil, uint64(len(msg)))...)
	return append(out, msg...)
}

// unmarshalFileInfo decodes a file info block.
func unmarshalFileInfo(b []byte) (map[string][]byte, error) {
	if len(b) < len(pbufMagic) || string(b[:len(pbufMagic)]) != pbufMagic {
		return nil, corruptf("file info without PBUF magic")
	}
	b = b[len(pbufMagic):]
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return nil, corruptf("file info length")
	}
	m := map[string][]byte{}
	err := parseProto(b[n:n+int(l)], func(f protoField) error {
		if f.num != 1 || f.wire != 2 {
			return nil
		}
		var k, v []byte
		var hasK, hasV bool
		if err := parseProto(f.bytes, func(p protoField) error {
			if p.wire != 2 {
				return nil
			}
			switch p.num {
			case 1:
				k, hasK = p.bytes, true
			case 2:
				v, hasV = p.bytes, true
			}
			return nil
		}); err != nil {
			return err
		}
		if !hasK || !hasV {
			return corruptf("file info entry without key or value")
		}
		m[string(k)] = append([]byte(nil), v...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("file info: %w", err)
	}
	return m, nil
}
