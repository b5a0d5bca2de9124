package keygen

import (
	"fmt"
	"math/big"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// makeAppender returns the value-string appender for one array; see the
// package doc for the rules.
func makeAppender(arr arrow.Array) (appender, error) {
	switch a := arr.(type) {
	case *array.Boolean:
		return func(dst []byte, i int) ([]byte, bool) {
			if a.IsNull(i) {
				return dst, false
			}
			return strconv.AppendBool(dst, a.Value(i)), true
		}, nil
	case *array.Int8:
		return intAppender(a), nil
	case *array.Int16:
		return intAppender(a), nil
	case *array.Int32:
		return intAppender(a), nil
	case *array.Int64:
		return intAppender(a), nil
	case *array.Uint8:
		return uintAppender(a), nil
	case *array.Uint16:
		return uintAppender(a), nil
	case *array.Uint32:
		return uintAppender(a), nil
	case *array.Uint64:
		return uintAppender(a), nil
	case *array.Float32:
		return func(dst []byte, i int) ([]byte, bool) {
			if a.IsNull(i) {
				return dst, false
			}
			return appendJavaDouble(dst, float64(a.Value(i)), 32), true
		}, nil
	case *array.Float64:
		return func(dst []byte, i int) ([]byte, bool) {
			if a.IsNull(i) {
				return dst, false
			}
			return appendJavaDouble(dst, a.Value(i), 64), true
		}, nil
	case *array.String:
		return stringAppender(a), nil
	case *array.LargeString:
		return stringAppender(a), nil
	case *array.StringView:
		return stringAppender(a), nil
	case *array.Date32:
		// Dates repeat (they are typical partition values): remember the
		// last one formatted.
		var (
			last    arrow.Date32
			lastStr []byte
		)
		return func(dst []byte, i int) ([]byte, bool) {
			if a.IsNull(i) {
				return dst, false
			}
			v := a.Value(i)
			if lastStr == nil || v != last {
				last, lastStr = v, appendLocalDate(lastStr[:0], int64(v))
			}
			return append(dst, lastStr...), true
		}, nil
	case *array.Date64:
		return func(dst []byte, i int) ([]byte, bool) {
			if a.IsNull(i) {
				return dst, false
			}
			return appendLocalDate(dst, floorDiv(int64(a.Value(i)), 86400000)), true
		}, nil
	case *array.Timestamp:
		return timestampAppender(a), nil
	case *array.Decimal32:
		scale := int(a.DataType().(*arrow.Decimal32Type).Scale)
		return func(dst []byte, i int) ([]byte, bool) {
			if a.IsNull(i) {
				return dst, false
			}
			return appendDecimalInt64(dst, int64(a.Value(i)), scale), true
		}, nil
	case *array.Decimal64:
		scale := int(a.DataType().(*arrow.Decimal64Type).Scale)
		return func(dst []byte, i int) ([]byte, bool) {
			if a.IsNull(i) {
				return dst, false
			}
			return appendDecimalInt64(dst, int64(a.Value(i)), scale), true
		}, nil
	case *array.Decimal128:
		scale := int(a.DataType().(*arrow.Decimal128Type).Scale)
		return func(dst []byte, i int) ([]byte, bool) {
			if a.IsNull(i) {
				return dst, false
			}
			v := decimal128.Num(a.Value(i))
			lo, hi := v.LowBits(), v.HighBits()
			if (hi == 0 && lo < 1<<63) || (hi == -1 && lo >= 1<<63) {
				return appendDecimalInt64(dst, int64(lo), scale), true
			}
			return appendDecimalBig(dst, v.BigInt(), scale), true
		}, nil
	case *array.Decimal256:
		scale := int(a.DataType().(*arrow.Decimal256Type).Scale)
		return func(dst []byte, i int) ([]byte, bool) {
			if a.IsNull(i) {
				return dst, false
			}
			var b *big.Int = a.Value(i).BigInt()
			return appendDecimalBig(dst, b, scale), true
		}, nil
	case *array.Dictionary:
		inner, err := makeAppender(a.Dictionary())
		if err != nil {
			return nil, err
		}
		return func(dst []byte, i int) ([]byte, bool) {
			if a.IsNull(i) {
				return dst, false
			}
			return inner(dst, a.GetValueIndex(i))
		}, nil
	}
	return nil, fmt.Errorf("unsupported array type %s", arr.DataType())
}

type valuer[T any] interface {
	IsNull(int) bool
	NullN() int
	Value(int) T
}

func intAppender[T int8 | int16 | int32 | int64](a valuer[T]) appender {
	nulls := a.NullN() > 0
	return func(dst []byte, i int) ([]byte, bool) {
		if nulls && a.IsNull(i) {
			return dst, false
		}
		return strconv.AppendInt(dst, int64(a.Value(i)), 10), true
	}
}

func uintAppender[T uint8 | uint16 | uint32 | uint64](a valuer[T]) appender {
	nulls := a.NullN() > 0
	return func(dst []byte, i int) ([]byte, bool) {
		if nulls && a.IsNull(i) {
			return dst, false
		}
		return strconv.AppendUint(dst, uint64(a.Value(i)), 10), true
	}
}

func stringAppender(a valuer[string]) appender {
	nulls := a.NullN() > 0
	return func(dst []byte, i int) ([]byte, bool) {
		if nulls && a.IsNull(i) {
			return dst, false
		}
		return append(dst, a.Value(i)...), true
	}
}

// timestampAppender renders epoch microseconds whatever the unit: seconds
// and milliseconds gain zeros (as digits, so nothing overflows),
// nanoseconds are floored to microseconds.
func timestampAppender(a *array.Timestamp) appender {
	unit := a.DataType().(*arrow.TimestampType).Unit
	return func(dst []byte, i int) ([]byte, bool) {
		if a.IsNull(i) {
			return dst, false
		}
		v := int64(a.Value(i))
		switch unit {
		case arrow.Second, arrow.Millisecond:
			dst = strconv.AppendInt(dst, v, 10)
			if v != 0 {
				zeros := "000000"
				if unit == arrow.Millisecond {
					zeros = "000"
				}
				dst = append(dst, zeros...)
			}
			return dst, true
		case arrow.Nanosecond:
			return strconv.AppendInt(dst, floorDiv(v, 1000), 10), true
		default:
			return strconv.AppendInt(dst, v, 10), true
		}
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
