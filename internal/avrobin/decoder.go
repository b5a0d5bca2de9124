// Package avrobin decodes Avro binary primitives (Avro 1.11 specification,
// "Binary Encoding") from a byte slice, for the hand-written decoders of
// Hudi's log blocks (internal/logfile) and metadata records
// (internal/mdtrecord). It never reads past the slice nor allocates more
// than the slice holds, and never panics: the first error sticks, later
// reads return zero values, and Err reports it.
package avrobin

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Decoder reads Avro binary values from the front of a byte slice.
type Decoder struct {
	b       []byte
	err     error
	corrupt error
}

// NewDecoder returns a Decoder of b whose errors wrap corrupt (the
// caller's corruption sentinel; nil: unwrapped "avro: ..." errors).
func NewDecoder(b []byte, corrupt error) *Decoder {
	return &Decoder{b: b, corrupt: corrupt}
}

// Err is the first error met, nil if none.
func (d *Decoder) Err() error { return d.err }

// Len is the number of bytes not read yet.
func (d *Decoder) Len() int { return len(d.b) }

// Fail records what went wrong, unless an error was met before.
func (d *Decoder) Fail(what string) {
	if d.err != nil {
		return
	}
	if d.corrupt != nil {
		d.err = fmt.Errorf("%w: avro: %s", d.corrupt, what)
	} else {
		d.err = fmt.Errorf("avro: %s", what)
	}
}

// Long reads a zig-zag varint long.
func (d *Decoder) Long() int64 {
	if d.err != nil {
		return 0
	}
	var u uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if len(d.b) == 0 {
			d.Fail("truncated varint")
			return 0
		}
		c := d.b[0]
		d.b = d.b[1:]
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1)
		}
	}
	d.Fail("varint overflow")
	return 0
}

// LongIn reads a long and checks lo <= v <= hi.
func (d *Decoder) LongIn(lo, hi int64) int64 {
	v := d.Long()
	if d.err == nil && (v < lo || v > hi) {
		d.Fail("int out of range")
		return 0
	}
	return v
}

// Int reads an int (a long within int32's range).
func (d *Decoder) Int() int32 {
	return int32(d.LongIn(math.MinInt32, math.MaxInt32))
}

// Bool reads a boolean (one byte, 0 or 1).
func (d *Decoder) Bool() bool {
	b := d.Fixed(1)
	if b == nil {
		return false
	}
	if b[0] > 1 {
		d.Fail("bad boolean")
	}
	return b[0] == 1
}

// Float reads a float (4 bytes, little-endian IEEE 754).
func (d *Decoder) Float() float32 {
	b := d.Fixed(4)
	if b == nil {
		return 0
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(b))
}

// Double reads a double (8 bytes, little-endian IEEE 754).
func (d *Decoder) Double() float64 {
	b := d.Fixed(8)
	if b == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b))
}

// Fixed returns the next n bytes (aliasing the input), nil on error.
func (d *Decoder) Fixed(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.Fail("truncated data")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// Bytes returns the next length-prefixed bytes (aliasing the input).
func (d *Decoder) Bytes() []byte {
	n := d.Long()
	if d.err != nil {
		return nil
	}
	if n < 0 || n > int64(len(d.b)) {
		d.Fail("bad bytes length")
		return nil
	}
	return d.Fixed(int(n))
}

// String reads a string (length-prefixed bytes; not checked for UTF-8).
func (d *Decoder) String() string { return string(d.Bytes()) }

// BlockCount reads an array/map block header: the item count (0 ends the
// sequence). A negative count is followed by the block's byte size. A
// count beyond the remaining input is corrupt, as every item takes at
// least one byte.
func (d *Decoder) BlockCount() int64 {
	n := d.Long()
	if n < 0 {
		if n == math.MinInt64 {
			d.Fail("bad block count")
			return 0
		}
		n = -n
		d.Long()
	}
	if d.err == nil && n > int64(len(d.b)) {
		d.Fail("block count exceeds data")
		return 0
	}
	return n
}

// UnionIndex reads a union branch index and checks it against n branches.
func (d *Decoder) UnionIndex(n int) int {
	i := d.Long()
	if d.err == nil && (i < 0 || i >= int64(n)) {
		d.Fail("union index out of range")
		return 0
	}
	return int(i)
}
