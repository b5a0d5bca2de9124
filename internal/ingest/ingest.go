// Package ingest turns input files — JSON Lines, CSV and Parquet — into
// Arrow record batches for the writer, with the schema either given (the
// table's) or inferred from the input, and every row that cannot be parsed
// reported with its source position and the reason instead of being dropped
// or failing the run.
//
// Inference: JSON numbers become int64 when every sampled value is
// integral, else float64; strings stay strings; booleans booleans; nested
// objects and arrays are kept as their JSON text in a string column (so no
// input shape is refused). CSV cells become int64, float64 or boolean when
// every sampled cell of the column parses so, else string; an empty cell is
// null. With Options.InferDates, string columns whose every sampled value
// is an ISO-8601 date become date32, and those mixing dates and ISO-8601
// timestamps (or holding only timestamps) become timestamp(us, UTC).
// Parquet files bring their own schema.
//
// Dates and timestamps (columns of a given or hinted schema, e.g. a table
// created with an Avro schema holding date and timestamp-micros/-millis
// fields): a date is "YYYY-MM-DD", or an integer number of days since
// 1970-01-01 (Avro's date); a timestamp is "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.fraction]]"
// or the same with a space instead of the T, followed by Z, an offset
// (+02:00, +0200, +02) or nothing, which means UTC; or an integer (JSON
// number, or CSV cell of digits) counted in the column's unit since the
// epoch (microseconds for timestamp-micros, milliseconds for
// timestamp-millis: Avro's encoding).
//
// JSON input is JSON Lines (one object per line) or one JSON array of
// objects (the first byte that is not white space is "["), which may be
// pretty-printed; a row's line is then the line its object starts on.
//
// Compressed input: Decompress reads gzip and zstd streams (detected by
// their magic bytes), and FormatOf sees through the .gz and .zst
// extensions.
//
// Positions: every reader reports, per row, the byte offset just past it
// in the (decompressed) input, and Position reports how far the input was
// consumed, so callers can checkpoint a prefix of the input.
package ingest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Format is an input format.
type Format int

// Formats.
const (
	FormatUnknown Format = iota
	JSONL
	CSV
	Parquet
)

func (f Format) String() string {
	switch f {
	case JSONL:
		return "jsonl"
	case CSV:
		return "csv"
	case Parquet:
		return "parquet"
	}
	return "unknown"
}

// ParseFormat parses a --format value.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "jsonl", "json", "ndjson":
		return JSONL, nil
	case "csv":
		return CSV, nil
	case "parquet":
		return Parquet, nil
	}
	return FormatUnknown, fmt.Errorf("ingest: format %q: want jsonl, csv or parquet", s)
}

// ErrUnknownFormat reports a file whose extension names no input format.
var ErrUnknownFormat = errors.New("not a JSON Lines, CSV or Parquet file")

// FormatOf guesses a file's format from its extension; a compression
// extension (.gz, .zst, .zstd) is looked through (events.jsonl.gz is JSON
// Lines).
func FormatOf(path string) (Format, error) {
	ext := strings.ToLower(filepath.Ext(path))
	switch ext {
	case ".gz", ".zst", ".zstd":
		ext = strings.ToLower(filepath.Ext(strings.TrimSuffix(path, filepath.Ext(path))))
	}
	switch ext {
	case ".jsonl", ".json", ".ndjson":
		return JSONL, nil
	case ".csv":
		return CSV, nil
	case ".parquet":
		return Parquet, nil
	}
	return FormatUnknown, fmt.Errorf("ingest: %s: %w (by its extension; --format reads it as one)", path, ErrUnknownFormat)
}

// Compression is the compression of an input stream.
type Compression int

// Compressions.
const (
	Uncompressed Compression = iota
	Gzip
	Zstd
)

func (c Compression) String() string {
	switch c {
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return "none"
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Decompress returns the content of r: decompressed when it starts with
// the gzip or zstd magic bytes (whatever the file is named), else r's
// bytes as they are. Close releases the decompressor (not r).
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, Uncompressed, fmt.Errorf("ingest: %w", err)
	}
	switch {
	case len(head) >= 2 && string(head[:2]) == string(gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, Gzip, fmt.Errorf("ingest: gzip: %w", err)
		}
		return zr, Gzip, nil
	case len(head) >= 4 && string(head) == string(zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, Zstd, fmt.Errorf("ingest: zstd: %w", err)
		}
		return zr.IOReadCloser(), Zstd, nil
	}
	return io.NopCloser(br), Uncompressed, nil
}

// IsCompressed reports whether the first bytes of a file (at least 4, if
// it has them) are those of a gzip or zstd stream.
func IsCompressed(head []byte) bool {
	return (len(head) >= 2 && string(head[:2]) == string(gzipMagic)) ||
		(len(head) >= 4 && string(head[:4]) == string(zstdMagic))
}

// BadRow is one input row that was not ingested.
type BadRow struct {
	Source string `json:"source"` // file name, or "-" for stdin
	Line   int64  `json:"line"`   // 1-based line (JSONL, CSV) or row (Parquet)
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
	Raw    string `json:"raw,omitempty"` // the line as read (truncated), when there is one
}

// Batch is a parsed batch: the rows that parsed, their source lines, and
// the ones that did not.
type Batch struct {
	Rec   arrow.RecordBatch // nil when every row was bad
	Lines []int64           // Lines[i] is the source line of Rec's row i
	// Ends[i] is the byte offset just past Rec's row i in the
	// (decompressed) input; -1 for Parquet rows.
	Ends []int64
	Bad  []BadRow
}

// Position is how far a reader consumed its input: the last line (for
// CSV, the line the last record starts on; for Parquet, the last row) of
// everything consumed (rows, bad rows, blank lines), and the byte offset
// just past it in the decompressed input (-1 for Parquet). After io.EOF
// the offset is the length of the input.
type Position struct {
	Line, Offset int64
}

// Reader yields batches from one input.
type Reader interface {
	// Next returns the next batch, or io.EOF.
	Next() (*Batch, error)
	// Schema is the Arrow schema of the batches.
	Schema() *arrow.Schema
	// Position is how far the batches returned so far consumed the input.
	Position() Position
	Close() error
}

// ErrSchema reports input that cannot produce a schema (e.g. JSON lines
// none of which is an object, with no schema given).
var ErrSchema = errors.New("ingest: no schema")

// ErrEmpty reports an input with nothing in it: no byte, or only white
// space (JSON), or no header row (CSV). It is an ErrSchema.
var ErrEmpty = fmt.Errorf("%w: empty input", ErrSchema)

const maxRaw = 512

// truncate shortens s to about maxRaw bytes, not splitting a character.
func truncate(s string) string {
	if len(s) <= maxRaw {
		return s
	}
	n := maxRaw
	for n > maxRaw-utf8.UTFMax && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
