package merge

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Ordering is one precombine (Ordering) value, comparable across batches
// whose column types differ only by width (int32 vs int64 after schema
// widening, float vs double).
type Ordering struct {
	kind byte // 'i' int64, 'f' float64, 's' string, 0 = null/absent
	i    int64
	f    float64
	s    string
}

// Pack splits o into a kind (0 null, 'i', 'f', 's'), the bits of an int
// or float value, and a string value; Unpack inverts it. Compact stores of
// orderings use them.
func (o Ordering) Pack() (kind byte, bits int64, s string) {
	switch o.kind {
	case 'i':
		return o.kind, o.i, ""
	case 'f':
		return o.kind, int64(math.Float64bits(o.f)), ""
	}
	return o.kind, 0, o.s
}

// Unpack is the Ordering Pack split.
func Unpack(kind byte, bits int64, s string) Ordering {
	switch kind {
	case 'i':
		return Ordering{kind: kind, i: bits}
	case 'f':
		return Ordering{kind: kind, f: math.Float64frombits(uint64(bits))}
	case 's':
		return Ordering{kind: kind, s: s}
	}
	return Ordering{}
}

// Compare orders two values: -1, 0, 1. A null sorts before any
// value. Ints and floats compare numerically with each other.
func Compare(a, b Ordering) int {
	if a.kind == 0 || b.kind == 0 {
		switch {
		case a.kind == b.kind:
			return 0
		case a.kind == 0:
			return -1
		default:
			return 1
		}
	}
	if a.kind == 'i' && b.kind == 'i' {
		return cmp3(a.i, b.i)
	}
	if a.kind == 's' || b.kind == 's' {
		as, bs := a.str(), b.str()
		switch {
		case as < bs:
			return -1
		case as > bs:
			return 1
		}
		return 0
	}
	af, bf := a.float(), b.float()
	switch {
	case af < bf:
		return -1
	case af > bf:
		return 1
	}
	return 0
}

func cmp3(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (o Ordering) float() float64 {
	if o.kind == 'i' {
		return float64(o.i)
	}
	return o.f
}

func (o Ordering) str() string {
	switch o.kind {
	case 'i':
		return fmt.Sprint(o.i)
	case 'f':
		return fmt.Sprint(o.f)
	}
	return o.s
}

// OrderingReader extracts Ordering values from one column.
type OrderingReader func(i int) Ordering

// NewOrderingReader binds a reader to an Arrow column of a supported
// Ordering type: integers, floats, strings, dates, timestamps, decimals
// (compared as float64) and booleans.
func NewOrderingReader(col arrow.Array) (OrderingReader, error) {
	null := func(i int) bool { return col.IsNull(i) }
	switch a := col.(type) {
	case *array.Int64:
		return func(i int) Ordering {
			if null(i) {
				return Ordering{}
			}
			return Ordering{kind: 'i', i: a.Value(i)}
		}, nil
	case *array.Int32:
		return func(i int) Ordering {
			if null(i) {
				return Ordering{}
			}
			return Ordering{kind: 'i', i: int64(a.Value(i))}
		}, nil
	case *array.Int16:
		return func(i int) Ordering {
			if null(i) {
				return Ordering{}
			}
			return Ordering{kind: 'i', i: int64(a.Value(i))}
		}, nil
	case *array.Int8:
		return func(i int) Ordering {
			if null(i) {
				return Ordering{}
			}
			return Ordering{kind: 'i', i: int64(a.Value(i))}
		}, nil
	case *array.Uint32:
		return func(i int) Ordering {
			if null(i) {
				return Ordering{}
			}
			return Ordering{kind: 'i', i: int64(a.Value(i))}
		}, nil
	case *array.Uint16:
		return func(i int) Ordering {
			if null(i) {
				return Ordering{}
			}
			return Ordering{kind: 'i', i: int64(a.Value(i))}
		}, nil
	case *array.Uint8:
		return func(i int) Ordering {
			if null(i) {
				return Ordering{}
			}
			return Ordering{kind: 'i', i: int64(a.Value(i))}
		}, nil
	case *array.Uint64:
		return func(i int) Ordering {
			if null(i) {
				return Ordering{}
			}
			v := a.Value(i)
			if v > math.MaxInt64 {
				return Ordering{kind: 'f', f: float64(v)}
			}
			return Ordering{kind: 'i', i: int64(v)}
		}, nil
	case *array.Float64:
		return func(i int) Ordering {
			if null(i) {
				return Ordering{}
			}
			return Ordering{kind: 'f', f: a.Value(i)}
		}, nil
	case *array.Float32:
		return func(i int) Ordering {
			if null(i) {
				return Ordering{}
			}
			return Ordering{kind: 'f', f: float64(a.Value(i))}
		}, nil
	case *array.String:
		return func(i int) Ordering {
			if null(i) {
				return Ordering{}
			}
			return Ordering{kind: 's', s: a.Value(i)}
		}, nil
	case *array.LargeString:
		return func(i int) Ordering {
			if null(i) {
				return Ordering{}
			}
			return Ordering{kind: 's', s: a.Value(i)}
		}, nil
	case *array.Date32:
		return func(i int) Ordering {
			if null(i) {
				return Ordering{}
			}
			return Ordering{kind: 'i', i: int64(a.Value(i))}
		}, nil
	case *array.Date64:
		return func(i int) Ordering {
			if null(i) {
				return Ordering{}
			}
			return Ordering{kind: 'i', i: int64(a.Value(i)) * 1000}
		}, nil
	case *array.Timestamp:
		// Normalise to microseconds so files written with different units
		// compare correctly.
		unit := a.DataType().(*arrow.TimestampType).Unit
		return func(i int) Ordering {
			if null(i) {
				return Ordering{}
			}
			v := int64(a.Value(i))
			switch unit {
			case arrow.Second:
				v *= 1_000_000
			case arrow.Millisecond:
				v *= 1000
			case arrow.Nanosecond:
				v /= 1000
			}
			return Ordering{kind: 'i', i: v}
		}, nil
	case *array.Decimal128:
		scale := a.DataType().(*arrow.Decimal128Type).Scale
		return func(i int) Ordering {
			if null(i) {
				return Ordering{}
			}
			return Ordering{kind: 'f', f: a.Value(i).ToFloat64(scale)}
		}, nil
	case *array.Boolean:
		return func(i int) Ordering {
			if null(i) {
				return Ordering{}
			}
			if a.Value(i) {
				return Ordering{kind: 'i', i: 1}
			}
			return Ordering{kind: 'i'}
		}, nil
	}
	return nil, fmt.Errorf("writer: precombine column of type %s is not supported as an Ordering field", col.DataType())
}
