// Package basefile owns Hudi base files: Parquet files whose first five
// columns are the Hudi meta fields, followed by the table's data columns, with
// the footer key-value metadata Hudi and parquet-avro readers expect. It
// writes them with parquet-go, column by column straight from Arrow arrays
// (no per-row reflection), and reads them (Spark-written or ours) back into
// Arrow.
//
// File layout, as parquet-avro writes it for Spark:
//
//	message <namespace>.<table>_record {
//	  optional binary _hoodie_commit_time (STRING);     <- dictionary encoded
//	  optional binary _hoodie_commit_seqno (STRING);
//	  optional binary _hoodie_record_key (STRING);
//	  optional binary _hoodie_partition_path (STRING);  <- dictionary encoded
//	  optional binary _hoodie_file_name (STRING);       <- dictionary encoded
//	  optional int32 id (INT(32,true));                 <- data columns, nullable = optional
//	  optional fixed_len_byte_array(5) d (DECIMAL(10,5));
//	  optional int64 ts (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS));
//	  optional group arr (LIST) { repeated group array { ...element fields } }
//	  optional group m (MAP) { repeated group key_value { required binary key (STRING); optional ... value } }
//	  optional group s { ...fields }
//	}
//	footer: parquet.avro.schema (Avro schema with meta fields), writer.model.name=avro,
//	        hoodie_min_record_key, hoodie_max_record_key, + WriterOptions.ExtraMetadata
//	        (the caller adds org.apache.hudi.bloomfilter and hoodie_bloom_filter_type_code).
//
// # Byte shape: what parquet-mr writes for Hudi
//
// Every Hudi reader (Spark's vectorized and parquet-mr readers, Hive, Trino,
// Athena, Impala, hudi-rs) is tested against files written by parquet-mr
// 1.12/1.13 as Hudi 0.14/0.15 configures it, so this package writes exactly
// those shapes and nothing newer. The choices, and where each comes from:
//
//	choice                          value                          source
//	------------------------------  -----------------------------  -----------------------------------------------
//	writer version / data pages     PARQUET_1_0, DATA_PAGE (v1)    HoodieBaseParquetWriter: withWriterVersion(
//	                                                               ParquetWriter.DEFAULT_WRITER_VERSION = v1)
//	file format version             1                              parquet-mr ParquetFileWriter.CURRENT_VERSION
//	INT32/INT64/FLOAT/DOUBLE/BINARY  PLAIN_DICTIONARY, then PLAIN   parquet-mr DefaultV1ValuesWriterFactory:
//	values                          once the dictionary is full    dictWriterWithFallBack(PLAIN_DICTIONARY, Plain)
//	BOOLEAN values                  PLAIN                          same: "no dictionary encoding for boolean"
//	FIXED_LEN_BYTE_ARRAY values     PLAIN (fixed, decimal fixed)   same: "dictionary encoding was not enabled in
//	                                                               PARQUET 1.0"
//	dictionary page                 PLAIN_DICTIONARY, first page   parquet-mr v1 getEncodingForDictionaryPage
//	dictionary size limit           = page size (1 MiB default)    HoodieBaseParquetWriter: withDictionaryPageSize(
//	                                                               pageSize); hoodie.parquet.page.size = 1 MiB
//	_hoodie_commit_seqno,           PLAIN                          parquet-mr's first-page check (FallbackValues-
//	_hoodie_record_key                                             Writer.isCompressionSatisfying) drops the
//	                                                               dictionary of all-distinct columns
//	levels                          RLE/bit-packed hybrid          v1 pages (parquet-mr's RunLengthBitPacking)
//	page size                       1 MiB                          hoodie.parquet.page.size
//	row group size                  120 MiB                        hoodie.parquet.block.size
//	compression                     SNAPPY (GZIP, ZSTD, none)      hoodie.parquet.compression.codec (0.x: gzip;
//	                                                               Spark writers usually snappy)
//	page header statistics          none                           parquet-mr >= 1.11 writes the page index instead
//	chunk statistics                null_count; min_value/         ParquetMetadataConverter.toParquetStatistics
//	                                max_value; deprecated min/max
//	                                only for signed-order types
//	                                (or min == max)
//	statistics size                 no min/max if min+max >= 4096  ParquetMetadataConverter.MAX_STATS_SIZE
//	                                bytes (null_count kept)
//	string/binary order             unsigned bytes                 parquet-format ColumnOrder (TypeDefinedOrder)
//	decimal order (binary, fixed)   signed big-endian              SortOrder.SIGNED for DECIMAL; parquet-go
//	                                                               compares bytes unsigned, so this package
//	                                                               tracks decimal bounds itself
//	page index                      column + offset index,         parquet-mr >= 1.11 (truncate length 64,
//	                                binary bounds cut to 64 bytes  parquet.columnindex.truncate.length)
//	lists                           2-level "repeated ... array"   parquet-avro write-old-list-structure = true
//	                                (no null elements)             (Hudi 0.15's default through parquet-avro)
//	maps                            MAP { repeated key_value {     parquet-avro AvroSchemaConverter
//	                                required binary key (STRING);
//	                                value } }
//	footer key-values               parquet.avro.schema,           parquet-avro AvroWriteSupport,
//	                                writer.model.name=avro, hoodie HoodieAvroWriteSupport
//	                                keys (min/max key, bloom)
//
// parquet-go writes the pages; mrshape.go renames its RLE_DICTIONARY (the same
// bytes) to PLAIN_DICTIONARY in each page header as the file streams out, and
// rewrites the footer and page index at Close (see mrShaper). Encodings
// parquet-go would otherwise choose and parquet-mr never writes with v1 pages —
// DELTA_LENGTH_BYTE_ARRAY above all, which Spark 3.5's vectorized reader
// misreads in pages holding nulls — never appear. parquet-go checks the
// dictionary's size only when it cuts a page, and cuts dictionary-encoded
// pages only when their ids fill one; so pages are cut by the PLAIN size of
// their values (writeColumn: half the page size while dictionary-encoded,
// with the fallback at half the dictionary page size), which keeps every
// dictionary page within the dictionary page size, as parquet-mr's. Remaining differences, invisible to readers: created_by
// names hoodie; the chunk's column_orders and size statistics are
// parquet-go's; page headers declare RLE levels where parquet-mr declares
// BIT_PACKED for absent levels; and parquet-mr drops the dictionary of a
// high-cardinality data column after its first page (when ids plus
// dictionary are not smaller than the plain values), where this package
// keeps it until it fills — both shapes are ones parquet-mr itself writes. Compaction writes through this package;
// hoodie writes no Parquet log blocks (only Avro data blocks; it reads both).
// Lists use parquet-avro's old 2-level structure, which cannot hold a null
// element: Write rejects one.
//
// Codecs take io.Writer / io.ReaderAt, never storage.
package basefile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/gzip"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// Errors returned by this package; test with errors.Is.
var (
	// ErrUnsupported marks a type or file shape this package cannot handle.
	ErrUnsupported = errors.New("basefile: unsupported")
	// ErrSchemaMismatch marks an Arrow batch that does not fit the schema.
	ErrSchemaMismatch = errors.New("basefile: record does not match schema")
	// ErrInvalidMeta marks missing or mis-sized meta column values.
	ErrInvalidMeta = errors.New("basefile: invalid meta columns")
	// ErrClosed is returned by a Writer used after Close, Abort or a failure.
	ErrClosed = errors.New("basefile: writer closed")
	// ErrCorrupt marks a file that cannot be decoded.
	ErrCorrupt = errors.New("basefile: corrupt file")
)

// Footer metadata keys.
const (
	AvroSchemaKey    = "parquet.avro.schema"
	WriterModelKey   = "writer.model.name"
	WriterModelAvro  = "avro"
	MinRecordKeyKey  = "hoodie_min_record_key"
	MaxRecordKeyKey  = "hoodie_max_record_key"
	BloomFilterKey   = "org.apache.hudi.bloomfilter"
	BloomFilterTypeK = "hoodie_bloom_filter_type_code"
)

// Compression is a Parquet compression codec.
type Compression int

// Codecs. The zero value is Snappy, Hudi's default (hoodie.parquet.compression.codec
// is gzip in Hudi 0.x Spark configs, snappy in most deployments).
const (
	Snappy Compression = iota
	Zstd
	Gzip
	Uncompressed
)

func (c Compression) codec() (compress.Codec, error) {
	switch c {
	case Snappy:
		return &snappy.Codec{}, nil
	case Zstd:
		return &zstd.Codec{Level: zstd.DefaultLevel}, nil
	case Gzip:
		return &gzip.Codec{Level: gzip.DefaultCompression}, nil
	case Uncompressed:
		return &uncompressed.Codec{}, nil
	}
	return nil, fmt.Errorf("%w: compression %d", ErrUnsupported, c)
}

// Defaults of WriterOptions.
const (
	DefaultRowGroupBytes = 120 << 20 // hoodie.parquet.block.size
	DefaultPageSize      = 1 << 20   // hoodie.parquet.page.size
)

// WriterOptions configure a Writer. The zero value is valid.
type WriterOptions struct {
	// Compression codec of every column. Default Snappy.
	Compression Compression
	// RowGroupBytes closes a row group once its (compressed, buffered) size
	// reaches it. Default DefaultRowGroupBytes; checked between chunks of at
	// most 4096 rows, so a row group may overshoot by one chunk.
	RowGroupBytes int64
	// RowGroupRows, if positive, caps the rows per row group exactly.
	RowGroupRows int64
	// PageSize is the target uncompressed data page size. Default
	// DefaultPageSize.
	PageSize int
	// ExtraMetadata is added to the footer key-value metadata (e.g. the bloom
	// filter keys). It must not override the keys the writer owns.
	ExtraMetadata map[string]string
	// PageBufferMemory bounds the bytes of one column's pages the writer
	// holds in memory until its row group is flushed (a Parquet file stores
	// a row group's column chunks one after the other, so a row group is
	// buffered whole); past it the column's pages go to a temporary file in
	// PageBufferDir, removed when the row group is flushed or the writer
	// closed or aborted. Default DefaultPageBufferMemory; negative: always
	// in memory.
	PageBufferMemory int
	// PageBufferDir is where spilled pages go. Default os.TempDir().
	PageBufferDir string
}

func (o *WriterOptions) ensureDefaults() error {
	if o.RowGroupBytes == 0 {
		o.RowGroupBytes = DefaultRowGroupBytes
	}
	if o.PageSize == 0 {
		o.PageSize = DefaultPageSize
	}
	if o.PageBufferMemory == 0 {
		o.PageBufferMemory = DefaultPageBufferMemory
	}
	if o.RowGroupBytes < 0 || o.RowGroupRows < 0 || o.PageSize < 0 {
		return fmt.Errorf("%w: negative size option", ErrUnsupported)
	}
	for k := range o.ExtraMetadata {
		switch k {
		case AvroSchemaKey, WriterModelKey, MinRecordKeyKey, MaxRecordKeyKey:
			return fmt.Errorf("%w: ExtraMetadata may not set %q", ErrUnsupported, k)
		}
	}
	return nil
}

// FileInfo describes a closed base file.
type FileInfo struct {
	Rows         int64
	Size         int64
	MinRecordKey string
	MaxRecordKey string
}

// CompressionNamed returns the codec Hudi's hoodie.parquet.compression.codec
// names: "snappy" (also ""), "zstd", "gzip" or "uncompressed".
func CompressionNamed(name string) (Compression, error) {
	switch strings.ToLower(name) {
	case "", "snappy":
		return Snappy, nil
	case "zstd":
		return Zstd, nil
	case "gzip":
		return Gzip, nil
	case "uncompressed", "none":
		return Uncompressed, nil
	}
	return 0, fmt.Errorf("%w: compression codec %q (snappy, zstd, gzip or uncompressed)", ErrUnsupported, name)
}
