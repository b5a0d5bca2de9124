package keygen

import (
	"math"
	"math/big"
	"strconv"
	"time"
)

// appendJavaDouble appends v as java.lang.Double.toString (bitSize 64) or
// java.lang.Float.toString (bitSize 32) render it on the JDKs Hudi 0.14/0.15
// and Spark 3.x run on (8, 11, 17), formatted as Java does: plain with at
// least one fraction digit for 1e-3 <= |v| < 1e7 ("1.0", "0.001",
// "1234567.5"), otherwise computerized scientific ("1.0E7", "1.0E-4",
// "-4.9E-324"). NaN, Infinity and -0.0 as in Java.
//
// Digits are the shortest decimal that rounds to v (when that is one digit,
// the closest of the one- and two-digit decimals), which is what JDK 19+
// specifies and what older JDKs' FloatingDecimal produces, except:
//   - integral values below 2^63 above 2^24 (float) / 2^53 (double): old
//     JDKs print the exact integer with only a table-driven number of
//     low digits rounded away (Float.toString(3.04961664E9f) is
//     "3.04961664E9", not "3.0496166E9"); reproduced here;
//   - floats above 2^63 (about 9.2E18): old JDKs sometimes print a
//     different last digit; not reproduced (JDK 19+ digits).
//
// Checked against JDK 17 on 200,000 random doubles and floats.
func appendJavaDouble(dst []byte, v float64, bitSize int) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	case math.IsInf(v, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(v, -1):
		return append(dst, "-Infinity"...)
	case v == 0:
		if math.Signbit(v) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	var scratch [32]byte
	digits, exp, ok := legacyIntegerDigits(scratch[:0], v, bitSize)
	if !ok {
		digits, exp = shortestDigits(scratch[:0], v, bitSize)
	}
	if !ok && len(digits) == 1 {
		// Java considers two-digit candidates too when the shortest has one
		// digit and picks the closest (Double.MIN_VALUE is "4.9E-324").
		var s2 [32]byte
		two := strconv.AppendFloat(s2[:0], v, 'e', 1, bitSize)
		if f, err := strconv.ParseFloat(string(two), bitSize); err == nil && f == v {
			d2, e2 := splitE(two)
			if len(d2) == 2 {
				digits, exp = append(scratch[:0], d2...), e2
			}
		}
	}
	if exp >= -3 && exp < 7 {
		if exp < 0 {
			dst = append(dst, '0', '.')
			for i := -1; i > exp; i-- {
				dst = append(dst, '0')
			}
			return append(dst, digits...)
		}
		intLen := exp + 1
		if len(digits) <= intLen {
			dst = append(dst, digits...)
			for i := len(digits); i < intLen; i++ {
				dst = append(dst, '0')
			}
			return append(dst, '.', '0')
		}
		dst = append(dst, digits[:intLen]...)
		dst = append(dst, '.')
		return append(dst, digits[intLen:]...)
	}
	dst = append(dst, digits[0], '.')
	if len(digits) > 1 {
		dst = append(dst, digits[1:]...)
	} else {
		dst = append(dst, '0')
	}
	dst = append(dst, 'E')
	return strconv.AppendInt(dst, int64(exp), 10)
}

// insignificantDigits is FloatingDecimal's insignificantDigitsNumber table:
// for an integral value 2^p2 past the significand's precision, how many low
// decimal digits carry no information.
var insignificantDigits = [...]int{
	0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7,
	8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 11, 11, 11, 12, 12, 12, 12, 13, 13, 13, 14, 14, 14,
	15, 15, 15, 15, 16, 16, 16, 17, 17, 17, 18, 18, 18, 19,
}

// legacyIntegerDigits reproduces the "easy case" of pre-19 JDKs'
// FloatingDecimal.dtoa for integral 1 <= v < 2^63: the exact integer, with
// insignificantDigits[binExp-precision-1] low digits rounded off half-up.
// It reports false for other values.
func legacyIntegerDigits(dst []byte, v float64, bitSize int) ([]byte, int, bool) {
	if v < 1 || v >= 1<<63 || v != math.Trunc(v) {
		return dst, 0, false
	}
	_, e := math.Frexp(v)
	binExp := e - 1
	precision := 53
	if bitSize == 32 {
		precision = 24
	}
	insig := 0
	if p2 := binExp - precision - 1; binExp > precision && p2 > 1 && p2 < len(insignificantDigits) {
		insig = insignificantDigits[p2]
	}
	l := uint64(v)
	if insig > 0 {
		pow10 := uint64(1)
		for range insig {
			pow10 *= 10
		}
		residue := l % pow10
		l /= pow10
		if residue >= pow10>>1 {
			l++
		}
	}
	var s [24]byte
	b := strconv.AppendUint(s[:0], l, 10)
	exp := len(b) - 1 + insig
	for len(b) > 1 && b[len(b)-1] == '0' {
		b = b[:len(b)-1]
	}
	return append(dst, b...), exp, true
}

// shortestDigits returns the shortest significant digits of v > 0 (no
// trailing zeros) and the decimal exponent of the first digit.
func shortestDigits(dst []byte, v float64, bitSize int) ([]byte, int) {
	var s [32]byte
	d, e := splitE(strconv.AppendFloat(s[:0], v, 'e', -1, bitSize))
	return append(dst, d...), e
}

// splitE splits strconv's 'e' format "d.ddde±XX" into its digits (trailing
// zeros dropped, at least one kept) and exponent.
func splitE(s []byte) ([]byte, int) {
	var digits []byte
	i := 0
	for ; i < len(s) && s[i] != 'e'; i++ {
		if s[i] != '.' {
			digits = append(digits, s[i])
		}
	}
	exp, _ := strconv.Atoi(string(s[i+1:]))
	for len(digits) > 1 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	return digits, exp
}

// appendLocalDate appends the date days after 1970-01-01 as
// java.time.LocalDate.toString does: yyyy-MM-dd, years outside 0..9999
// with a sign and at least four digits ("+10000-01-01", "-0001-12-31").
func appendLocalDate(dst []byte, days int64) []byte {
	t := time.Unix(days*86400, 0).UTC()
	y, m, d := t.Date()
	switch {
	case y < 0 && y > -1000:
		dst = append(dst, '-')
		dst = appendPadded(dst, int64(-y), 4)
	case y < 0:
		dst = strconv.AppendInt(dst, int64(y), 10)
	case y > 9999:
		dst = append(dst, '+')
		dst = strconv.AppendInt(dst, int64(y), 10)
	default:
		dst = appendPadded(dst, int64(y), 4)
	}
	dst = append(dst, '-')
	dst = appendPadded(dst, int64(m), 2)
	dst = append(dst, '-')
	return appendPadded(dst, int64(d), 2)
}

func appendPadded(dst []byte, v int64, width int) []byte {
	var s [20]byte
	b := strconv.AppendInt(s[:0], v, 10)
	for i := len(b); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, b...)
}

// appendBigDecimal appends unscaled×10^-scale as java.math.BigDecimal.toString
// does: plain when scale >= 0 and the adjusted exponent is >= -6 ("123.45000",
// "0.00001"), else scientific ("1E-7", "1.23E+5" for scale -3).
func appendBigDecimal(dst []byte, unscaledAbs []byte, negative bool, scale int) []byte {
	if negative {
		dst = append(dst, '-')
	}
	coeff := unscaledAbs
	adjusted := -scale + (len(coeff) - 1)
	if scale >= 0 && adjusted >= -6 {
		switch {
		case scale == 0:
			return append(dst, coeff...)
		case len(coeff) > scale:
			dst = append(dst, coeff[:len(coeff)-scale]...)
			dst = append(dst, '.')
			return append(dst, coeff[len(coeff)-scale:]...)
		default:
			dst = append(dst, '0', '.')
			for i := len(coeff); i < scale; i++ {
				dst = append(dst, '0')
			}
			return append(dst, coeff...)
		}
	}
	dst = append(dst, coeff[0])
	if len(coeff) > 1 {
		dst = append(dst, '.')
		dst = append(dst, coeff[1:]...)
	}
	if adjusted != 0 {
		dst = append(dst, 'E')
		if adjusted > 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(adjusted), 10)
	}
	return dst
}

// appendDecimalInt64 formats an unscaled int64 with appendBigDecimal.
func appendDecimalInt64(dst []byte, unscaled int64, scale int) []byte {
	var s [24]byte
	neg := unscaled < 0
	var abs []byte
	if neg {
		abs = strconv.AppendUint(s[:0], uint64(-(unscaled+1))+1, 10)
	} else {
		abs = strconv.AppendUint(s[:0], uint64(unscaled), 10)
	}
	return appendBigDecimal(dst, abs, neg, scale)
}

// appendDecimalBig formats an unscaled big.Int with appendBigDecimal.
func appendDecimalBig(dst []byte, unscaled *big.Int, scale int) []byte {
	neg := unscaled.Sign() < 0
	abs := new(big.Int).Abs(unscaled).Append(nil, 10)
	return appendBigDecimal(dst, abs, neg, scale)
}
