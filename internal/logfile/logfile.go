// Package logfile owns the Hudi log file format (log format version 1, log
// block version 3, as written by Hudi 0.14/0.15 for table version 6): block
// framing, header/footer maps, Avro and Parquet data blocks, delete blocks and
// command (rollback) blocks.
//
// A log file is a sequence of blocks, all integers big-endian:
//
//	offset  size  field
//	0       6     magic "#HUDI#"
//	6       8     blockSize int64: bytes after this field to the end of the block
//	14      4     log format version int32 = 1
//	18      4     block type int32 (BlockType)
//	22      n     header map
//	.       8     content length int64
//	.       c     content
//	.       m     footer map (Spark writes it empty: 00 00 00 00)
//	.       8     reverse pointer int64 = 6 + blockSize
//
//	map     = int32 count, then per entry int32 key ordinal (HeaderKey),
//	          int32 byte length, UTF-8 value
//
// Block content by type:
//
//	AVRO_DATA (3)     int32 version 3, int32 record count, per record int32
//	                  length + Avro binary datum of the header SCHEMA
//	DELETE (1)        int32 version 3, int32 byte length, Avro binary of
//	                  HoodieDeleteRecordList (see DeleteRecordListSchema)
//	COMMAND (0)       empty; header COMMAND_BLOCK_TYPE "0" = ROLLBACK of the
//	                  blocks whose INSTANT_TIME = TARGET_INSTANT_TIME
//	PARQUET_DATA (5)  a whole Parquet file of the records, meta fields
//	                  included (written and read with basefile); no
//	                  records: empty content
//
// WriteBlock frames one block onto an io.Writer. A Reader walks the blocks of
// a file held by an io.ReaderAt. Like Hudi's HoodieLogFileReader, a block
// whose reverse pointer disagrees with its blockSize, that runs past the end
// of the file, or whose framing does not add up, is returned as a
// CorruptBlock covering the bytes up to the next magic, and reading goes on
// from there:
//
//	r := logfile.NewReader(f, size)
//	for b, err := range r.All() {
//		if err != nil { ... } // a block whose content does not decode
//		if b.Type == logfile.CorruptBlock { ... } // skipped, as Hudi does
//	}
package logfile

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/hoodie-lake/hoodie/internal/basefile"
)

// Errors returned by this package; test with errors.Is.
var (
	// ErrCorrupt marks a block whose framing or content does not decode.
	ErrCorrupt = errors.New("logfile: corrupt block")
	// ErrUnsupported marks a valid but unsupported construct (block
	// versions other than 3, log format versions other than 1, unions with
	// "null" second, ...).
	ErrUnsupported = errors.New("logfile: unsupported")
	// ErrInvalidBlock marks a Block that WriteBlock refuses to write.
	ErrInvalidBlock = errors.New("logfile: invalid block")
)

// Magic starts every block.
const Magic = "#HUDI#"

// FormatVersion is the log format version written and read (Hudi's
// HoodieLogFormat.CURRENT_VERSION).
const FormatVersion = 1

// BlockVersion is the content version of data and delete blocks written and
// read (0.13+; versions 1-2 are Kryo/Java-serialized and never written).
const BlockVersion = 3

// BlockType is a block's type, spelled as Hudi's HoodieLogBlockType ordinal.
type BlockType int32

// Block types.
const (
	CommandBlock     BlockType = 0
	DeleteBlock      BlockType = 1
	CorruptBlock     BlockType = 2
	AvroDataBlock    BlockType = 3
	HFileDataBlock   BlockType = 4
	ParquetDataBlock BlockType = 5
	CDCDataBlock     BlockType = 6
)

var blockTypeNames = [...]string{"COMMAND_BLOCK", "DELETE_BLOCK", "CORRUPT_BLOCK",
	"AVRO_DATA_BLOCK", "HFILE_DATA_BLOCK", "PARQUET_DATA_BLOCK", "CDC_DATA_BLOCK"}

func (t BlockType) String() string {
	if t >= 0 && int(t) < len(blockTypeNames) {
		return blockTypeNames[t]
	}
	return "BlockType(" + strconv.Itoa(int(t)) + ")"
}

// HeaderKey is a header or footer map key, Hudi's HeaderMetadataType ordinal.
type HeaderKey int32

// Header keys of table version 6.
const (
	InstantTime         HeaderKey = 0
	TargetInstantTime   HeaderKey = 1
	SchemaHeader        HeaderKey = 2
	CommandBlockType    HeaderKey = 3
	CompactedBlockTimes HeaderKey = 4
	RecordPositions     HeaderKey = 5
	BlockIdentifier     HeaderKey = 6
)

var headerKeyNames = [...]string{"INSTANT_TIME", "TARGET_INSTANT_TIME", "SCHEMA",
	"COMMAND_BLOCK_TYPE", "COMPACTED_BLOCK_TIMES", "RECORD_POSITIONS", "BLOCK_IDENTIFIER"}

func (k HeaderKey) String() string {
	if k >= 0 && int(k) < len(headerKeyNames) {
		return headerKeyNames[k]
	}
	return "HeaderKey(" + strconv.Itoa(int(k)) + ")"
}

// RollbackCommand is the COMMAND_BLOCK_TYPE value of a rollback block.
const RollbackCommand = "0"

// Header is one header or footer map entry.
type Header struct {
	Key   HeaderKey
	Value string
}

// Headers is a header or footer map in file order. Java writes a HashMap, so
// its order carries no meaning; keeping it makes reads re-write byte-exactly.
type Headers []Header

// Get returns the value of the last entry with key k.
func (h Headers) Get(k HeaderKey) (string, bool) {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Key == k {
			return h[i].Value, true
		}
	}
	return "", false
}

// Value returns the value of key k, "" if absent.
func (h Headers) Value(k HeaderKey) string {
	v, _ := h.Get(k)
	return v
}

// Block is one log block. Which content fields are used depends on Type:
// Records for AvroDataBlock and ParquetDataBlock,
// Deletes for DeleteBlock, nothing for CommandBlock, Content for any other
// type (written verbatim). The reader also sets Content to the raw content
// bytes of every block, and Offset and Size.
type Block struct {
	Type   BlockType
	Header Headers
	Footer Headers

	// Records are the rows of a data block, every column of the header
	// SCHEMA (meta fields included) in schema order. Batches returned by
	// the Reader belong to the caller, who must Release them.
	Records []arrow.RecordBatch
	// Deletes are the records of a delete block.
	Deletes []DeleteRecord
	// Content is the raw block content.
	Content []byte
	// Compression is the codec of a ParquetDataBlock written from Records.
	Compression basefile.Compression

	// Offset is the byte offset of the block's magic (or, for a
	// CorruptBlock, of the first unreadable byte); Size its length in bytes
	// up to the next block. Set by the Reader.
	Offset, Size int64
	// Err says why a CorruptBlock is corrupt; it wraps ErrCorrupt.
	Err error
}

// Release releases the block's record batches.
func (b *Block) Release() {
	for _, r := range b.Records {
		if r != nil {
			r.Release()
		}
	}
	b.Records = nil
}

// NewAvroDataBlock returns an Avro data block written by the deltacommit
// instant, with the records in the Avro record schema schemaJSON (which
// includes the Hudi meta fields; see schema.Schema.WithMetaFieldsJSON).
func NewAvroDataBlock(instant, schemaJSON string, records ...arrow.RecordBatch) Block {
	return Block{
		Type:    AvroDataBlock,
		Header:  Headers{{InstantTime, instant}, {SchemaHeader, schemaJSON}},
		Records: records,
	}
}

// NewDeleteBlock returns a delete block written by the deltacommit instant.
// schemaJSON is the table's record schema with meta fields, as Spark writes
// it in delete block headers; "" leaves the header out.
func NewDeleteBlock(instant, schemaJSON string, deletes []DeleteRecord) Block {
	h := Headers{{InstantTime, instant}}
	if schemaJSON != "" {
		h = append(h, Header{SchemaHeader, schemaJSON})
	}
	return Block{Type: DeleteBlock, Header: h, Deletes: deletes}
}

// NewRollbackBlock returns a command block by which the rollback instant
// rolls back the blocks of target in the same file slice.
func NewRollbackBlock(instant, target string) Block {
	return Block{
		Type: CommandBlock,
		Header: Headers{
			{InstantTime, instant},
			{TargetInstantTime, target},
			{CommandBlockType, RollbackCommand},
		},
	}
}

// DeleteRecord is one entry of a delete block.
//
// OrderingVal is the HoodieDeleteRecord.orderingVal union; its Go type picks
// the branch: nil (null), bool, int32, int64, float32, float64, []byte,
// string, Date, Decimal, TimeMicros, TimestampMicros. WriteBlock writes nil
// as IntWrapper 0, which is what Spark SQL DELETE writes and the only value
// all readers agree on (hudi-rs rejects null); use NullOrdering to write a
// real null. The Reader returns null as nil.
type DeleteRecord struct {
	RecordKey     string
	PartitionPath string
	OrderingVal   any
}

// Ordering value types of DeleteRecord.OrderingVal beyond the Go primitives.
type (
	// Date is days since the Unix epoch (DateWrapper).
	Date int32
	// TimeMicros is microseconds since midnight (TimeMicrosWrapper).
	TimeMicros int64
	// TimestampMicros is microseconds since the Unix epoch
	// (TimestampMicrosWrapper).
	TimestampMicros int64
	// Decimal is a DecimalWrapper value: the unscaled value of a
	// decimal(30,15).
	Decimal struct{ Unscaled *big.Int }
	// nullOrdering is the type of NullOrdering.
	nullOrdering struct{}
)

// NullOrdering as a DeleteRecord.OrderingVal writes an Avro null.
var NullOrdering any = nullOrdering{}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}
