package keygen

import (
	"math"
	"math/big"
	"strconv"
	"time"
)

// appendJavaDouble appends v as java.lang.Double.toString (bitSize 64) or
// java.lang.Float.toString (bitSize 32) render it, per the JDK 19+
// specification (shortest decimal that rounds to v; when that is one digit,
// the closest of the one- and two-digit decimals), formatted as Java does:
// plain with at least one fraction digit for 1e-3 <= |v| < 1e7
// ("1.0", "0.001", "1234567.5"), otherwise computerized scientific
// ("1.0E7", "1.0E-4", "-4.9E-324"). NaN, Infinity and -0.0 as in Java.
//
// JDKs before 19 (which Spark 3.x runs on) occasionally printed a digit more
// than the shortest (JDK-4511638); those rare values differ.
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
	digits, exp := shortestDigits(scratch[:0], v, bitSize)
	if len(digits) == 1 {
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
