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
// null. Parquet files bring their own schema.
package ingest

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
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

// FormatOf guesses a file's format from its extension.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".json", ".ndjson":
		return JSONL, nil
	case ".csv":
		return CSV, nil
	case ".parquet":
		return Parquet, nil
	}
	return FormatUnknown, fmt.Errorf("ingest: %s: unknown extension (use --format)", path)
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
	Bad   []BadRow
}

// Reader yields batches from one input.
type Reader interface {
	// Next returns the next batch, or io.EOF.
	Next() (*Batch, error)
	// Schema is the Arrow schema of the batches.
	Schema() *arrow.Schema
	Close() error
}

// ErrSchema reports input that cannot produce a schema (e.g. an empty
// file with no schema given).
var ErrSchema = errors.New("ingest: no schema")

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
