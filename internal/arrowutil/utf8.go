package arrowutil

import (
	"fmt"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// UTF8Error is a string value that is not valid UTF-8.
type UTF8Error struct {
	// Row is the row of the batch (0-based); 0 for a lone value.
	Row int
	// Field is the path of the value: "name" for a column, "address.city"
	// for a struct field, "tags[]" for list elements, "attrs{key}" and
	// "attrs{value}" for map keys and values.
	Field string
	// Offset is the byte offset of the first invalid byte in the value.
	Offset int
	// Bytes are the invalid bytes at Offset (at most 16).
	Bytes string
	// Value is the value around Offset (at most about 64 bytes; "…" marks
	// a cut).
	Value string
}

// Error implements error.
func (e *UTF8Error) Error() string {
	return fmt.Sprintf("arrowutil: row %d: field %q: %s", e.Row, e.Field, e.Reason())
}

// Reason says what is wrong, without the row and field.
func (e *UTF8Error) Reason() string {
	return fmt.Sprintf("string is not valid UTF-8: %q at byte %d of %q", e.Bytes, e.Offset, e.Value)
}

// CheckUTF8 returns nil if v is valid UTF-8, else the position and bytes
// of its first invalid sequence (Row and Field left for the caller).
func CheckUTF8(v string) *UTF8Error {
	if utf8.ValidString(v) {
		return nil
	}
	return describeInvalid(v)
}

// describeInvalid locates the first invalid sequence of v.
func describeInvalid(v string) *UTF8Error {
	off := 0
	for off < len(v) {
		r, size := utf8.DecodeRuneInString(v[off:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		off += size
	}
	end := off
	for end < len(v) && end-off < 16 {
		r, size := utf8.DecodeRuneInString(v[end:])
		if r != utf8.RuneError || size > 1 {
			break
		}
		end++
	}
	const around = 24
	lo, hi := max(0, off-around), min(len(v), end+around)
	snip := v[lo:hi]
	if lo > 0 {
		snip = "…" + snip
	}
	if hi < len(v) {
		snip += "…"
	}
	return &UTF8Error{Offset: off, Bytes: v[off:end], Value: snip}
}

// ValidateUTF8 checks every string value of rec — columns of type string,
// large string and string view, and strings inside structs, lists, maps
// (keys and values), dictionaries and run-end encoded arrays — and returns
// a *UTF8Error for the first row holding one that is not valid UTF-8, or
// nil. Null values, and values under a null struct, list or map, are not
// checked: they are not data.
func ValidateUTF8(rec arrow.RecordBatch) error {
	if bad := scanUTF8(rec, false); len(bad) > 0 {
		return &bad[0]
	}
	return nil
}

// InvalidUTF8Rows returns one *UTF8Error for every row of rec holding a
// string value that is not valid UTF-8 (for the row's first such field,
// in column order), in row order; nil when every value is valid.
func InvalidUTF8Rows(rec arrow.RecordBatch) []UTF8Error {
	return scanUTF8(rec, true)
}

// scanUTF8 first checks every leaf string array as a whole (fast, and
// all a valid batch needs); only columns where that finds an invalid value
// are then walked row by row, to find the row and skip values hidden by a
// null parent.
func scanUTF8(rec arrow.RecordBatch, all bool) []UTF8Error {
	if rec == nil {
		return nil
	}
	var suspect []int
	for c, col := range rec.Columns() {
		if hasInvalidUTF8(col, 0, col.Len()) {
			suspect = append(suspect, c)
		}
	}
	if len(suspect) == 0 {
		return nil
	}
	var out []UTF8Error
	names := rec.Schema().Fields()
	for row := 0; row < int(rec.NumRows()); row++ {
		for _, c := range suspect {
			if e := invalidAt(rec.Column(c), row, names[c].Name); e != nil {
				e.Row = row
				out = append(out, *e)
				break
			}
		}
		if !all && len(out) > 0 {
			break
		}
	}
	return out
}

// stringLike is the accessor string arrays share (Value does not copy).
type stringLike interface {
	arrow.Array
	Value(i int) string
}

// hasInvalidUTF8 reports whether a string anywhere in arr's slots [lo,
// hi) — or in the child slots they refer to — is invalid. Nulls of the
// leaf are skipped; nulls of parents are not (invalidAt sorts that out).
func hasInvalidUTF8(arr arrow.Array, lo, hi int) bool {
	if lo >= hi {
		return false
	}
	switch a := arr.(type) {
	case *array.String:
		return !spanValid(a.ValueBytes(), a.ValueOffsets(), lo, hi) && stringsInvalid(a, lo, hi)
	case *array.LargeString:
		return !spanValid(a.ValueBytes(), a.ValueOffsets(), lo, hi) && stringsInvalid(a, lo, hi)
	case *array.StringView:
		return stringsInvalid(a, lo, hi)
	case *array.Struct:
		for j := 0; j < a.NumField(); j++ {
			if hasInvalidUTF8(a.Field(j), lo, hi) {
				return true
			}
		}
	case *array.Map:
		start, _ := a.ValueOffsets(lo)
		_, end := a.ValueOffsets(hi - 1)
		return hasInvalidUTF8(a.Keys(), int(start), int(end)) || hasInvalidUTF8(a.Items(), int(start), int(end))
	case *array.ListView, *array.LargeListView:
		// Views may point anywhere in the child: check all of it.
		child := a.(array.ListLike).ListValues()
		return hasInvalidUTF8(child, 0, child.Len())
	case array.ListLike: // list, large list, fixed-size list
		start, _ := a.ValueOffsets(lo)
		_, end := a.ValueOffsets(hi - 1)
		return hasInvalidUTF8(a.ListValues(), int(start), int(end))
	case *array.Dictionary:
		d := a.Dictionary()
		return hasInvalidUTF8(d, 0, d.Len())
	case *array.RunEndEncoded:
		v := a.Values()
		return hasInvalidUTF8(v, 0, v.Len())
	}
	return false
}

// spanValid reports whether values [lo, hi) of an offsets-and-data string
// array are all valid, with one pass over their bytes: their span is
// valid UTF-8 and every value starts at a rune boundary (in valid UTF-8,
// exactly the bytes that are not continuation bytes). Null slots are
// checked too, so false only means the values must be checked one by one.
// data starts at offsets[0].
func spanValid[O int32 | int64](data []byte, offsets []O, lo, hi int) bool {
	base := offsets[0]
	if !utf8.Valid(data[offsets[lo]-base : offsets[hi]-base]) {
		return false
	}
	end := offsets[hi] - base
	for _, o := range offsets[lo+1 : hi] {
		if o -= base; o < end && !utf8.RuneStart(data[o]) {
			return false
		}
	}
	return true
}

func stringsInvalid(a stringLike, lo, hi int) bool {
	if a.NullN() == 0 {
		for i := lo; i < hi; i++ {
			if !utf8.ValidString(a.Value(i)) {
				return true
			}
		}
		return false
	}
	for i := lo; i < hi; i++ {
		if a.IsValid(i) && !utf8.ValidString(a.Value(i)) {
			return true
		}
	}
	return false
}

// invalidAt returns the first invalid string of slot i of arr (path is
// arr's field path), or nil.
func invalidAt(arr arrow.Array, i int, path string) *UTF8Error {
	if arr.IsNull(i) {
		return nil
	}
	switch a := arr.(type) {
	case *array.String:
		return fieldUTF8(a.Value(i), path)
	case *array.LargeString:
		return fieldUTF8(a.Value(i), path)
	case *array.StringView:
		return fieldUTF8(a.Value(i), path)
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		for j := 0; j < a.NumField(); j++ {
			if e := invalidAt(a.Field(j), i, path+"."+st.Field(j).Name); e != nil {
				return e
			}
		}
	case *array.Map:
		start, end := a.ValueOffsets(i)
		for k := int(start); k < int(end); k++ {
			if e := invalidAt(a.Keys(), k, path+"{key}"); e != nil {
				return e
			}
			if e := invalidAt(a.Items(), k, path+"{value}"); e != nil {
				return e
			}
		}
	case array.ListLike:
		start, end := a.ValueOffsets(i)
		for k := int(start); k < int(end); k++ {
			if e := invalidAt(a.ListValues(), k, path+"[]"); e != nil {
				return e
			}
		}
	case *array.Dictionary:
		return invalidAt(a.Dictionary(), a.GetValueIndex(i), path)
	case *array.RunEndEncoded:
		return invalidAt(a.Values(), a.GetPhysicalIndex(i), path)
	}
	return nil
}

func fieldUTF8(v, path string) *UTF8Error {
	e := CheckUTF8(v)
	if e != nil {
		e.Field = path
	}
	return e
}

// FieldNameNotUTF8 returns the path of the first field of s (nested
// fields included) whose name is not valid UTF-8, or "".
func FieldNameNotUTF8(s *arrow.Schema) string {
	for _, f := range s.Fields() {
		if !utf8.ValidString(f.Name) {
			return f.Name
		}
		if p := childNameNotUTF8(f.Type, f.Name); p != "" {
			return p
		}
	}
	return ""
}

func childNameNotUTF8(t arrow.DataType, path string) string {
	switch t := t.(type) {
	case arrow.NestedType:
		for _, c := range t.Fields() {
			cp := path + "." + c.Name
			if !utf8.ValidString(c.Name) {
				return cp
			}
			if p := childNameNotUTF8(c.Type, cp); p != "" {
				return p
			}
		}
	case *arrow.DictionaryType:
		return childNameNotUTF8(t.ValueType, path)
	}
	return ""
}
