package basefile

import (
	"fmt"
	"strconv"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Meta holds the five Hudi meta columns for the rows of one Write. Each column
// is a Strings: a constant (no per-row allocation), per-row values (a COW
// merge carrying old rows' commit time and sequence number), an Arrow string
// column (values read back from an old file), or a generated sequence.
type Meta struct {
	CommitTime    Strings // _hoodie_commit_time: instant that wrote the record
	SeqNo         Strings // _hoodie_commit_seqno: <instant>_<partition>_<index>
	RecordKey     Strings // _hoodie_record_key
	PartitionPath Strings // _hoodie_partition_path ("" if unpartitioned)
	FileName      Strings // _hoodie_file_name: the base file name
}

type stringsKind uint8

const (
	unset stringsKind = iota
	constKind
	sliceKind
	arrowKind
	seqKind
)

// Strings is one meta column's values for a batch. Build it with Const,
// PerRow, FromArrow or Sequence; the zero value is invalid.
type Strings struct {
	kind  stringsKind
	s     string
	list  []string
	arr   *array.String
	start int64
}

// Const is the same value for every row.
func Const(s string) Strings { return Strings{kind: constKind, s: s} }

// PerRow gives one value per row; its length must equal the batch's rows.
func PerRow(values []string) Strings { return Strings{kind: sliceKind, list: values} }

// FromArrow takes one value per row from an Arrow string column (nulls are
// written as nulls); its length must equal the batch's rows.
func FromArrow(a *array.String) Strings { return Strings{kind: arrowKind, arr: a} }

// Sequence generates prefix + decimal(start+i) for row i, e.g.
// Sequence("20240418172804498_0_", 0) for Hudi sequence numbers.
func Sequence(prefix string, start int64) Strings {
	return Strings{kind: seqKind, s: prefix, start: start}
}

// IsSet reports whether s was built by one of the constructors.
func (s Strings) IsSet() bool { return s.kind != unset }

func (s Strings) check(name string, rows int) error {
	switch s.kind {
	case unset:
		return fmt.Errorf("%w: %s not set", ErrInvalidMeta, name)
	case sliceKind:
		if len(s.list) != rows {
			return fmt.Errorf("%w: %s has %d values for %d rows", ErrInvalidMeta, name, len(s.list), rows)
		}
	case arrowKind:
		if s.arr == nil || s.arr.Len() != rows {
			return fmt.Errorf("%w: %s Arrow column does not have %d rows", ErrInvalidMeta, name, rows)
		}
	}
	return nil
}

// bytesOf returns the bytes of a string without copying; parquet-go copies
// values into its column buffers and never writes through them.
func bytesOf(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// value returns row i's bytes (nil, false for a null). seqBuf is scratch for
// generated sequence values and must outlive the parquet write.
func (s *Strings) value(i int, a *arena) ([]byte, bool) {
	switch s.kind {
	case constKind:
		return bytesOf(s.s), true
	case sliceKind:
		return bytesOf(s.list[i]), true
	case arrowKind:
		if s.arr.IsNull(i) {
			return nil, false
		}
		return bytesOf(s.arr.Value(i)), true
	case seqKind:
		b := a.alloc(len(s.s) + 20)[:0]
		b = append(b, s.s...)
		b = strconv.AppendInt(b, s.start+int64(i), 10)
		return b, true
	}
	return nil, false
}

// arena hands out byte slices that stay valid until reset; earlier chunks are
// never moved, so parquet.Values pointing into them remain valid.
type arena struct {
	buf  []byte
	full [][]byte
}

func (a *arena) alloc(n int) []byte {
	if cap(a.buf)-len(a.buf) < n {
		if a.buf != nil {
			a.full = append(a.full, a.buf)
		}
		a.buf = make([]byte, 0, max(n, 256<<10))
	}
	start := len(a.buf)
	a.buf = a.buf[:start+n]
	return a.buf[start : start+n : start+n]
}

// reset frees all but the current chunk for reuse.
func (a *arena) reset() {
	a.full = a.full[:0]
	a.buf = a.buf[:0]
}

// Column is the string column name of rec as a meta column: its values
// when rec has it as a string column, else "" for every row (a column the
// batch does not carry).
func Column(rec arrow.RecordBatch, name string) Strings {
	if idx := rec.Schema().FieldIndices(name); len(idx) > 0 {
		if c, ok := rec.Column(idx[0]).(*array.String); ok {
			return FromArrow(c)
		}
	}
	return Const("")
}
