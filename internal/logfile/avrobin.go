package logfile

import (
	"encoding/binary"
	"math"
)

// avroDec decodes Avro binary primitives from a byte slice. It never reads
// past the slice nor allocates more than the slice holds; the first error
// sticks and every later read returns zero values.
type avroDec struct {
	b   []byte
	err error
}

func (d *avroDec) fail(what string) {
	if d.err == nil {
		d.err = corruptf("avro: %s", what)
	}
}

func (d *avroDec) long() int64 {
	if d.err != nil {
		return 0
	}
	var u uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if len(d.b) == 0 {
			d.fail("truncated varint")
			return 0
		}
		c := d.b[0]
		d.b = d.b[1:]
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1)
		}
	}
	d.fail("varint overflow")
	return 0
}

func (d *avroDec) int() int32 {
	v := d.long()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail("int out of range")
		return 0
	}
	return int32(v)
}

func (d *avroDec) bool() bool {
	b := d.fixed(1)
	if b == nil {
		return false
	}
	if b[0] > 1 {
		d.fail("bad boolean")
	}
	return b[0] == 1
}

func (d *avroDec) float() float32 {
	b := d.fixed(4)
	if b == nil {
		return 0
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(b))
}

func (d *avroDec) double() float64 {
	b := d.fixed(8)
	if b == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b))
}

// fixed returns the next n bytes (aliasing the input), nil on error.
func (d *avroDec) fixed(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("truncated data")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// bytes returns the next length-prefixed bytes (aliasing the input).
func (d *avroDec) bytes() []byte {
	n := d.long()
	if d.err != nil {
		return nil
	}
	if n < 0 || n > int64(len(d.b)) {
		d.fail("bad bytes length")
		return nil
	}
	return d.fixed(int(n))
}

func (d *avroDec) string() string { return string(d.bytes()) }

// blockCount reads an array/map block header: the item count (0 ends the
// sequence). A negative count is followed by the block's byte size.
func (d *avroDec) blockCount() int64 {
	n := d.long()
	if n < 0 {
		if n == math.MinInt64 {
			d.fail("bad block count")
			return 0
		}
		n = -n
		d.long()
	}
	// Every item of the types the schema model allows takes at least one
	// byte, so a count beyond the remaining input is corrupt.
	if d.err == nil && n > int64(len(d.b)) {
		d.fail("block count exceeds data")
		return 0
	}
	return n
}

// unionIndex reads a union branch index and checks it against n branches.
func (d *avroDec) unionIndex(n int) int {
	i := d.long()
	if d.err == nil && (i < 0 || i >= int64(n)) {
		d.fail("union index out of range")
		return 0
	}
	return int(i)
}
