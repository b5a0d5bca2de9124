// Package mdtrecord owns the records of Hudi's metadata table (table version
// 6, as Hudi 0.14/0.15 writes it): the HoodieMetadataRecord Avro schema, the
// Avro value codec Hudi uses inside HFiles, HoodieMetadataPayload's merge
// rules, and the two HFile containers of the metadata table, the content of
// an HFILE_DATA_BLOCK log block and a base ".hfile".
//
// Sources: Hudi 0.15.0 hudi-common HoodieMetadata.avsc (embedded as AVSC),
// HoodieMetadataPayload (preCombine, combineFileSystemMetadata,
// createPartitionListRecord, createPartitionFilesRecord,
// createRecordIndexUpdate), HoodieHFileDataBlock and HFileUtils
// (serializeRecordsToLogBlock), hudi-hadoop-common HoodieAvroHFileWriter,
// HoodieAvroFileWriterFactory and HoodieHFileConfig, hudi-client-common
// HoodieMetadataWriteUtils; checked against Spark 3.5 + Hudi 0.15 written
// metadata tables.
//
// Record types and keys (HoodieMetadataPayload):
//
//	1 partition list  key "__all_partitions__"; filesystemMetadata maps each
//	                  partition ("." for a non-partitioned table) to
//	                  {size 0, isDeleted}; a dropped partition is an entry
//	                  with isDeleted true
//	2 file list       key = partition path ("."); filesystemMetadata maps
//	                  file name to {size, isDeleted}
//	3 column stats    kept as raw Avro (Raw)
//	4 bloom filter    kept as raw Avro (Raw)
//	5 record index    key = data record key; recordIndexMetadata
//
// HFile values. Both containers key an HFile entry by the record key (UTF-8)
// and store as value the Avro binary datum of the record in WriterSchema
// (the five meta fields, then the HoodieMetadataRecord fields) with the
// "key" field blanked to "" (Hudi truncates it to avoid storing the key
// twice; readers restore it from the HFile key). The meta fields are null,
// except that Hudi's merge handle sets _hoodie_file_name to the base file's
// name in base files; no reader looks at it, and this package writes null:
//
//	value = null x5 (union index 0) | key "" | type int | filesystemMetadata
//	        union | BloomFilterMetadata union | ColumnStatsMetadata union |
//	        recordIndexMetadata union
//
// Log block content (HFileUtils.serializeRecordsToLogBlock): an HFile with
// GZ-compressed 1 MiB data blocks, keys sorted, file info "schema" =
// WriterSchema (the block's SCHEMA header), no bloom filter.
//
// Base file (HoodieAvroHFileWriter, as the metadata table configures it):
// the same entries and blocks, file info "schema" = WriterSchema,
// "minRecordKey" / "maxRecordKey" = first and last key,
// "bloomFilterTypeCode" = "DYNAMIC_V0", and a meta block "bloomFilter" whose
// bytes are the UTF-8 Base64 of a DYNAMIC_V0 bloom filter (60000 entries,
// fpp 1e-9, max 100000) of all keys.
//
// Record-level deletes (a record index entry removed, a whole metadata
// record dropped) are not values: Hudi writes them as DELETE_BLOCKs of the
// log file, which internal/logfile frames.
package mdtrecord

import (
	_ "embed"
	"errors"
)

// AVSC is hudi-common/src/main/avro/HoodieMetadata.avsc of Hudi 0.15.0
// (comments included; Java's Avro parser accepts them). It was taken from
// apache/hudi commit b0349f0928c9d89960cd079683ec14a1236caf00, whose copy
// differs from 0.15.0's only by a "basePathForPartition" field that 0.15.0
// does not have and that is left out here; it parses to exactly the schema
// of Hudi 0.15.0's generated HoodieMetadataRecord class (RecordSchema),
// docs and defaults included.
//
//go:embed HoodieMetadata.avsc
var AVSC []byte

// Metadata record types (HoodieMetadataPayload.METADATA_TYPE_*).
const (
	TypePartitionList = 1
	TypeFiles         = 2
	TypeColumnStats   = 3
	TypeBloomFilter   = 4
	TypeRecordIndex   = 5
)

// AllPartitionsKey is the key of the partition list record
// (HoodieTableMetadata.RECORDKEY_PARTITION_LIST).
const AllPartitionsKey = "__all_partitions__"

// NonPartitionedName is the partition identifier of a non-partitioned table
// in the files partition (HoodieTableMetadata.NON_PARTITIONED_NAME).
const NonPartitionedName = "."

// ErrCorrupt marks a value or container that does not decode; test with
// errors.Is.
var ErrCorrupt = errors.New("mdtrecord: corrupt metadata record")

// ErrInvalid marks a record that Hudi would refuse to write or merge (a
// type mismatch, a live file of size 0, a missing payload); test with
// errors.Is.
var ErrInvalid = errors.New("mdtrecord: invalid metadata record")

// FileInfo is HoodieMetadataFileInfo: a file's size and whether this record
// marks it deleted. In the partition list record the size is 0.
type FileInfo struct {
	Size    int64
	Deleted bool
}

// RecordIndexInfo is HoodieRecordIndexInfo, the location of a data record in
// the record_index partition. With FileIDEncoding 0 the file id is the UUID
// FileIDHighBits/FileIDLowBits plus "-FileIndex" (FileIndex -1: no suffix)
// and FileID is ""; with 1 FileID holds the file id as is and the other
// three are -1. InstantTime is the commit time in epoch milliseconds.
// Nulls, which Hudi 0.15 never writes, decode as zero values.
type RecordIndexInfo struct {
	PartitionName                 string
	FileIDHighBits, FileIDLowBits int64
	FileIndex                     int32
	FileID                        string
	InstantTime                   int64
	FileIDEncoding                int32
}

// Record is one HoodieMetadataRecord.
type Record struct {
	Key  string
	Type int32
	// Files is filesystemMetadata for types 1 and 2: partition name (type
	// 1) or file name (type 2) to its info. A nil map is written as an
	// empty map.
	Files map[string]FileInfo
	// RecordIndex is recordIndexMetadata for type 5.
	RecordIndex *RecordIndexInfo
	// Raw is, for types 3 and 4, the whole Avro value (WriterSchema, key
	// blanked) as read; EncodeValue writes it back verbatim.
	Raw []byte
}
