package avrobin_test

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/avrobin"
)

var errMine = errors.New("mine")

func TestPrimitives(t *testing.T) {
	// long -1, int 150, true, float 1.5, double -2, bytes "hi", string "é",
	// a block count of 2 (negative form with byte size), union index 1.
	b := []byte{0x01, 0xac, 0x02, 0x01, 0, 0, 0xc0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0x04, 'h', 'i', 0x04, 0xc3, 0xa9, 0x03, 0x08, 'x', 'y', 0x02}
	d := avrobin.NewDecoder(b, errMine)
	require.Equal(t, int64(-1), d.Long())
	require.Equal(t, int32(150), d.Int())
	require.True(t, d.Bool())
	require.Equal(t, float32(1.5), d.Float())
	require.Equal(t, -2.0, d.Double())
	require.Equal(t, []byte("hi"), d.Bytes())
	require.Equal(t, "é", d.String())
	require.Equal(t, int64(2), d.BlockCount())
	require.Equal(t, []byte("xy"), d.Fixed(2))
	require.Equal(t, 1, d.UnionIndex(2))
	require.NoError(t, d.Err())
	require.Zero(t, d.Len())
}

func TestErrorsStick(t *testing.T) {
	for name, tc := range map[string]struct {
		b    []byte
		read func(d *avrobin.Decoder)
	}{
		"truncated varint": {[]byte{0x80}, func(d *avrobin.Decoder) { d.Long() }},
		"varint overflow":  {[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, func(d *avrobin.Decoder) { d.Long() }},
		"int out of range": {[]byte{0x80, 0x80, 0x80, 0x80, 0x10}, func(d *avrobin.Decoder) { d.Int() }},
		"bad boolean":      {[]byte{0x02}, func(d *avrobin.Decoder) { d.Bool() }},
		"bad bytes length": {[]byte{0x08, 'a'}, func(d *avrobin.Decoder) { d.Bytes() }},
		"block count":      {[]byte{0x7e}, func(d *avrobin.Decoder) { d.BlockCount() }},
		"union index":      {[]byte{0x04}, func(d *avrobin.Decoder) { d.UnionIndex(2) }},
		"truncated data":   {nil, func(d *avrobin.Decoder) { d.Double() }},
	} {
		t.Run(name, func(t *testing.T) {
			d := avrobin.NewDecoder(tc.b, errMine)
			tc.read(d)
			require.ErrorIs(t, d.Err(), errMine)
			first := d.Err()
			require.Zero(t, d.Long(), "reads after an error return zero values")
			require.Equal(t, first, d.Err(), "the first error sticks")
		})
	}
	d := avrobin.NewDecoder([]byte{0x80}, nil)
	d.Long()
	require.EqualError(t, d.Err(), "avro: truncated varint")
	require.Equal(t, int64(math.MaxInt32), avrobin.NewDecoder([]byte{0xfe, 0xff, 0xff, 0xff, 0x0f}, nil).LongIn(0, math.MaxInt32))
}
