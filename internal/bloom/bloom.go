// Package bloom owns Hudi-compatible bloom filters: the SIMPLE and DYNAMIC_V0
// (HoodieDynamicBoundedBloomFilter) kinds that Java Hudi stores, Base64
// encoded, in the Parquet footer of every base file and that the BLOOM index
// reads back to skip files that cannot hold a record key.
//
// Filters built here are bit-for-bit identical to the ones Java Hudi 0.14/0.15
// writes for the same keys and parameters, so a Java writer or index can use
// files written by hoodie and vice versa.
//
// Wire format (all integers big-endian, as java.io.DataOutput writes them):
//
//	SIMPLE (org.apache.hudi.common.bloom.InternalBloomFilter):
//	+-----------+-----------+----------+------------+---------------------------+
//	| int32 -1  | int32     | byte     | int32      | ceil(vectorSize/8) bytes  |
//	| (version) | numHashes | hashType | vectorSize | bit i: byte i/8, 1<<(i%8) |
//	+-----------+-----------+----------+------------+---------------------------+
//
//	DYNAMIC_V0 (InternalDynamicBloomFilter):
//	+--------------------+---------------+-----------+----------+------------------+
//	| header as above    | int32         | int32     | int32    | rowCount SIMPLE  |
//	| (13 bytes, no bits)| entriesPerRow | keysAdded | rowCount | filters (header  |
//	|                    |               | (cur. row)|          | + bits each)     |
//	+--------------------+---------------+-----------+----------+------------------+
//
// hashType 1 is Hadoop's MurmurHash (the only one Hudi writes). The positions
// of a key k (its UTF-8 bytes) are
//
//	h := 0
//	repeat numHashes: h = murmur(k, seed=h); set bit |h % vectorSize|
//
// Usage:
//
//	f := bloom.NewDefault() // DYNAMIC_V0, 60000 entries/row, fpp 1e-9, max 100000
//	f.AddString("uuid-1")
//	footer[bloom.FooterKey] = f.Base64()
//	footer[bloom.TypeCodeKey] = f.TypeCode()
//	...
//	g, err := bloom.FromFooter(footer[bloom.TypeCodeKey], footer[bloom.FooterKey])
//	g.MightContainString("uuid-1") // true
package bloom

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Parquet footer keys, spelled as Hudi spells them.
const (
	// FooterKey holds the Base64-encoded serialized filter.
	FooterKey = "org.apache.hudi.bloomfilter"
	// TypeCodeKey holds the filter's type code (TypeSimple or TypeDynamicV0).
	TypeCodeKey = "hoodie_bloom_filter_type_code"
)

// Type codes (org.apache.hudi.common.bloom.BloomFilterTypeCode).
const (
	TypeSimple    = "SIMPLE"
	TypeDynamicV0 = "DYNAMIC_V0"
)

// Defaults of hoodie.index.bloom.num_entries, hoodie.index.bloom.fpp and
// hoodie.bloom.index.filter.dynamic.max.entries.
const (
	DefaultNumEntries = 60000
	DefaultFPP        = 1e-9
	DefaultMaxEntries = 100000
)

// HashMurmur is the hash type byte of Hadoop's MurmurHash
// (org.apache.hudi.common.util.hash.Hash.MURMUR_HASH).
const HashMurmur = 1

// version is the (negative) serialization version InternalFilter writes;
// versionBits is its two's complement encoding.
const (
	version     = -1
	versionBits = 0xFFFFFFFF
)

// headerLen is the size of the InternalFilter header: version, numHashes,
// hashType, vectorSize.
const headerLen = 4 + 4 + 1 + 4

// maxHashes bounds numHashes accepted by the parser; Hudi's defaults give 30
// and fpp 1e-300 still gives under 1000.
const maxHashes = 4096

// ErrCorrupt marks serialized filters that cannot be parsed. Use errors.Is.
var ErrCorrupt = errors.New("bloom: corrupt filter")

// ErrUnsupported marks filters hoodie cannot read (unknown type code, legacy
// Jenkins hash). Use errors.Is.
var ErrUnsupported = errors.New("bloom: unsupported filter")

// Filter is a Hudi bloom filter. Add and MightContain never allocate.
//
// Java Hudi refuses empty keys (HashFunction throws); hoodie's key generator
// never produces them, and here they hash like any other byte string.
type Filter interface {
	// Add records key (the UTF-8 bytes of a record key).
	Add(key []byte)
	// AddString records key.
	AddString(key string)
	// MightContain reports false only if key was never added.
	MightContain(key []byte) bool
	// MightContainString reports false only if key was never added.
	MightContainString(key string) bool
	// TypeCode is the value for the TypeCodeKey footer entry.
	TypeCode() string
	// Bytes is the serialized filter, as Java's InternalFilter.write produces it.
	Bytes() []byte
	// Base64 is Bytes in standard Base64 with padding, the FooterKey value.
	Base64() string
}

// Params computes the vector size (bits) and number of hashes Hudi derives
// from an expected entry count and false positive probability
// (BloomFilterUtils.getBitSize / getNumHashes). For the defaults it returns
// 2587966 and 30.
func Params(numEntries int, fpp float64) (vectorSize, numHashes int, err error) {
	if numEntries <= 0 || numEntries > math.MaxInt32 {
		return 0, 0, fmt.Errorf("bloom: numEntries %d out of range", numEntries)
	}
	if !(fpp > 0 && fpp < 1) {
		return 0, 0, fmt.Errorf("bloom: fpp %v not in (0, 1)", fpp)
	}
	log2Squared := math.Log(2) * math.Log(2)
	bits := math.Ceil(float64(numEntries) * (-math.Log(fpp) / log2Squared))
	if bits > math.MaxInt32 {
		return 0, 0, fmt.Errorf("bloom: %d entries at fpp %v need %v bits, over the Java int limit", numEntries, fpp, bits)
	}
	vectorSize = int(bits)
	numHashes = int(math.Ceil(math.Log(2) * float64(vectorSize) / float64(numEntries)))
	return vectorSize, numHashes, nil
}

// New builds an empty filter of the given type code. maxEntries is used by
// DYNAMIC_V0 only.
func New(typeCode string, numEntries int, fpp float64, maxEntries int) (Filter, error) {
	switch typeCode {
	case TypeSimple:
		return NewSimple(numEntries, fpp)
	case TypeDynamicV0:
		return NewDynamicV0(numEntries, fpp, maxEntries)
	default:
		return nil, fmt.Errorf("%w: type code %q", ErrUnsupported, typeCode)
	}
}

// NewDefault returns the filter Hudi writes by default: DYNAMIC_V0 with
// DefaultNumEntries per row, DefaultFPP and DefaultMaxEntries.
func NewDefault() *DynamicV0 {
	f, err := NewDynamicV0(DefaultNumEntries, DefaultFPP, DefaultMaxEntries)
	if err != nil {
		// Unreachable: the defaults are valid (TestParamsDefaults); fall back
		// to their known parameters rather than fail.
		h := header{numHashes: 30, hashType: HashMurmur, vectorSize: 2587966}
		return &DynamicV0{header: h, entriesPerRow: DefaultNumEntries, maxEntries: DefaultMaxEntries, rows: []*Simple{newSimple(h)}}
	}
	return f
}

// FromFooter parses the two footer values Hudi writes: the type code
// (TypeCodeKey; empty means SIMPLE, as for files written before type codes
// existed) and the Base64 filter (FooterKey).
func FromFooter(typeCode, b64 string) (Filter, error) {
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%w: base64: %w", ErrCorrupt, err)
	}
	return Parse(typeCode, data)
}

// Parse reads a serialized filter of the given type code. Bytes after the
// filter are ignored, as Java ignores them.
func Parse(typeCode string, data []byte) (Filter, error) {
	switch typeCode {
	case TypeSimple, "":
		s, _, err := parseSimple(data)
		if err != nil {
			return nil, err
		}
		return s, nil
	case TypeDynamicV0:
		return parseDynamic(data)
	default:
		return nil, fmt.Errorf("%w: type code %q", ErrUnsupported, typeCode)
	}
}

// header is InternalFilter's state.
type header struct {
	numHashes  int32
	hashType   byte
	vectorSize int32
}

func (h header) append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, versionBits)
	b = binary.BigEndian.AppendUint32(b, uint32(h.numHashes))
	b = append(b, h.hashType)
	return binary.BigEndian.AppendUint32(b, uint32(h.vectorSize))
}

func (h header) nBytes() int { return int((int64(h.vectorSize) + 7) / 8) }

func parseHeader(data []byte) (header, []byte, error) {
	if len(data) < 4 {
		return header{}, nil, fmt.Errorf("%w: %d bytes, want a header", ErrCorrupt, len(data))
	}
	ver := int32(binary.BigEndian.Uint32(data))
	if ver > 0 {
		// Pre-versioned Hadoop format: the int is numHashes and the hash is Jenkins.
		return header{}, nil, fmt.Errorf("%w: legacy unversioned filter (Jenkins hash)", ErrUnsupported)
	}
	if ver != version {
		return header{}, nil, fmt.Errorf("%w: version %d", ErrCorrupt, ver)
	}
	if len(data) < headerLen {
		return header{}, nil, fmt.Errorf("%w: %d bytes, want a %d-byte header", ErrCorrupt, len(data), headerLen)
	}
	h := header{
		numHashes:  int32(binary.BigEndian.Uint32(data[4:])),
		hashType:   data[8],
		vectorSize: int32(binary.BigEndian.Uint32(data[9:])),
	}
	if h.hashType != HashMurmur {
		return header{}, nil, fmt.Errorf("%w: hash type %d (only murmur, 1)", ErrUnsupported, h.hashType)
	}
	if h.numHashes <= 0 || h.numHashes > maxHashes {
		return header{}, nil, fmt.Errorf("%w: numHashes %d", ErrCorrupt, h.numHashes)
	}
	if h.vectorSize <= 0 {
		return header{}, nil, fmt.Errorf("%w: vectorSize %d", ErrCorrupt, h.vectorSize)
	}
	return h, data[headerLen:], nil
}

// Simple is a SIMPLE filter (Hudi's SimpleBloomFilter, Hadoop's BloomFilter).
// Build one with NewSimple or Parse; the zero value ignores Add and answers
// true to every MightContain.
type Simple struct {
	header
	// bits is the vector in its serialized layout: bit i in bits[i/8], mask 1<<(i%8).
	bits []byte
}

// NewSimple builds an empty SIMPLE filter sized by Params.
func NewSimple(numEntries int, fpp float64) (*Simple, error) {
	vs, nh, err := Params(numEntries, fpp)
	if err != nil {
		return nil, err
	}
	return newSimple(header{numHashes: int32(nh), hashType: HashMurmur, vectorSize: int32(vs)}), nil
}

func newSimple(h header) *Simple {
	return &Simple{header: h, bits: make([]byte, h.nBytes())}
}

func parseSimple(data []byte) (*Simple, []byte, error) {
	h, rest, err := parseHeader(data)
	if err != nil {
		return nil, nil, err
	}
	n := h.nBytes()
	if len(rest) < n {
		return nil, nil, fmt.Errorf("%w: %d bit-vector bytes, want %d", ErrCorrupt, len(rest), n)
	}
	s := &Simple{header: h, bits: make([]byte, n)}
	copy(s.bits, rest[:n])
	// Java's readFields drops bits at or past vectorSize in the last byte.
	if r := h.vectorSize % 8; r != 0 {
		s.bits[n-1] &= byte(1<<r) - 1
	}
	return s, rest[n:], nil
}

// VectorSize is the number of bits.
func (s *Simple) VectorSize() int { return int(s.vectorSize) }

// NumHashes is the number of hash positions per key.
func (s *Simple) NumHashes() int { return int(s.numHashes) }

// Add implements Filter.
func (s *Simple) Add(key []byte) { add(s, key) }

// AddString implements Filter.
func (s *Simple) AddString(key string) { add(s, key) }

// MightContain implements Filter.
func (s *Simple) MightContain(key []byte) bool { return test(s, key) }

// MightContainString implements Filter.
func (s *Simple) MightContainString(key string) bool { return test(s, key) }

// TypeCode implements Filter.
func (s *Simple) TypeCode() string { return TypeSimple }

// Bytes implements Filter.
func (s *Simple) Bytes() []byte { return s.append(make([]byte, 0, headerLen+len(s.bits))) }

// Base64 implements Filter.
func (s *Simple) Base64() string { return base64.StdEncoding.EncodeToString(s.Bytes()) }

func (s *Simple) append(b []byte) []byte {
	b = s.header.append(b)
	return append(b, s.bits...)
}

func add[K string | []byte](s *Simple, key K) {
	if s.vectorSize <= 0 || len(s.bits) < s.nBytes() {
		return
	}
	h := int32(0)
	for range s.numHashes {
		h = murmur(key, h)
		p := h % s.vectorSize
		if p < 0 {
			p = -p
		}
		s.bits[p>>3] |= 1 << (p & 7)
	}
}

func test[K string | []byte](s *Simple, key K) bool {
	if s.vectorSize <= 0 || len(s.bits) < s.nBytes() {
		return true
	}
	h := int32(0)
	for range s.numHashes {
		h = murmur(key, h)
		p := h % s.vectorSize
		if p < 0 {
			p = -p
		}
		if s.bits[p>>3]&(1<<(p&7)) == 0 {
			return false
		}
	}
	return true
}

// DynamicV0 is a DYNAMIC_V0 filter (HoodieDynamicBoundedBloomFilter): a list
// of SIMPLE rows of equal size, a new row started whenever the current one has
// received entriesPerRow keys, until maxEntries is reached; after that keys go
// round-robin into the existing rows and the fpp is no longer guaranteed.
// Build one with NewDynamicV0, NewDefault or Parse; the zero value ignores
// Add and answers true to every MightContain.
type DynamicV0 struct {
	header
	entriesPerRow int32
	maxEntries    int32
	// keysAdded counts keys in the current (last) row; it is what Java serializes.
	keysAdded int32
	rows      []*Simple
	// reachedMax and cursor mirror Java's round-robin state after the bound
	// is hit; neither is serialized.
	reachedMax bool
	cursor     int
}

// NewDynamicV0 builds an empty DYNAMIC_V0 filter whose rows are sized by
// Params(numEntries, fpp) and hold numEntries keys each; rows are added up to
// maxEntries keys.
func NewDynamicV0(numEntries int, fpp float64, maxEntries int) (*DynamicV0, error) {
	vs, nh, err := Params(numEntries, fpp)
	if err != nil {
		return nil, err
	}
	if maxEntries <= 0 || maxEntries > math.MaxInt32 {
		return nil, fmt.Errorf("bloom: maxEntries %d out of range", maxEntries)
	}
	h := header{numHashes: int32(nh), hashType: HashMurmur, vectorSize: int32(vs)}
	return &DynamicV0{
		header:        h,
		entriesPerRow: int32(numEntries),
		maxEntries:    int32(maxEntries),
		rows:          []*Simple{newSimple(h)},
	}, nil
}

func parseDynamic(data []byte) (*DynamicV0, error) {
	h, rest, err := parseHeader(data)
	if err != nil {
		return nil, err
	}
	if len(rest) < 12 {
		return nil, fmt.Errorf("%w: %d bytes after dynamic header, want 12", ErrCorrupt, len(rest))
	}
	d := &DynamicV0{
		header:        h,
		entriesPerRow: int32(binary.BigEndian.Uint32(rest)),
		keysAdded:     int32(binary.BigEndian.Uint32(rest[4:])),
		// maxEntries is not serialized; assume Hudi's default.
		maxEntries: DefaultMaxEntries,
	}
	n := int32(binary.BigEndian.Uint32(rest[8:]))
	rest = rest[12:]
	if d.entriesPerRow <= 0 {
		return nil, fmt.Errorf("%w: entriesPerRow %d", ErrCorrupt, d.entriesPerRow)
	}
	if d.keysAdded < 0 {
		return nil, fmt.Errorf("%w: keysAdded %d", ErrCorrupt, d.keysAdded)
	}
	// Every row needs at least its header and bits: bound n by the input
	// before allocating anything.
	if n <= 0 || int64(n)*int64(headerLen+h.nBytes()) > int64(len(rest)) {
		return nil, fmt.Errorf("%w: %d rows do not fit in %d bytes", ErrCorrupt, n, len(rest))
	}
	d.rows = make([]*Simple, 0, n)
	for i := range n {
		var row *Simple
		row, rest, err = parseSimple(rest)
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		if row.header != h {
			return nil, fmt.Errorf("%w: row %d parameters %+v differ from the filter's %+v", ErrCorrupt, i, row.header, h)
		}
		d.rows = append(d.rows, row)
	}
	return d, nil
}

// VectorSize is the number of bits per row.
func (d *DynamicV0) VectorSize() int { return int(d.vectorSize) }

// NumHashes is the number of hash positions per key.
func (d *DynamicV0) NumHashes() int { return int(d.numHashes) }

// EntriesPerRow is the number of keys a row takes before a new one starts.
func (d *DynamicV0) EntriesPerRow() int { return int(d.entriesPerRow) }

// KeysAdded is the number of keys in the current (last) row, the count Java
// serializes; it equals the total while there is one row.
func (d *DynamicV0) KeysAdded() int { return int(d.keysAdded) }

// Rows is the number of SIMPLE rows.
func (d *DynamicV0) Rows() int { return len(d.rows) }

// Add implements Filter.
func (d *DynamicV0) Add(key []byte) {
	if r := d.active(); r != nil {
		add(r, key)
	}
}

// AddString implements Filter.
func (d *DynamicV0) AddString(key string) {
	if r := d.active(); r != nil {
		add(r, key)
	}
}

// MightContain implements Filter.
func (d *DynamicV0) MightContain(key []byte) bool {
	if len(d.rows) == 0 {
		return true
	}
	for _, r := range d.rows {
		if test(r, key) {
			return true
		}
	}
	return false
}

// MightContainString implements Filter.
func (d *DynamicV0) MightContainString(key string) bool {
	if len(d.rows) == 0 {
		return true
	}
	for _, r := range d.rows {
		if test(r, key) {
			return true
		}
	}
	return false
}

// active picks the row the next key goes to and counts the key, following
// InternalDynamicBloomFilter.getActiveStandardBF and add exactly so that the
// serialized keysAdded and row contents match Java's.
func (d *DynamicV0) active() *Simple {
	if len(d.rows) == 0 || d.vectorSize <= 0 {
		return nil // zero value
	}
	var r *Simple
	switch {
	case d.reachedMax:
		r = d.rows[d.cursor%len(d.rows)]
		d.cursor++
	case d.keysAdded >= d.entriesPerRow && int64(len(d.rows))*int64(d.entriesPerRow) < int64(d.maxEntries):
		r = newSimple(d.header)
		d.rows = append(d.rows, r)
		d.keysAdded = 0
	case d.keysAdded >= d.entriesPerRow:
		d.reachedMax = true
		r = d.rows[0]
	default:
		r = d.rows[len(d.rows)-1]
	}
	d.keysAdded++
	return r
}

// TypeCode implements Filter.
func (d *DynamicV0) TypeCode() string { return TypeDynamicV0 }

// Bytes implements Filter.
func (d *DynamicV0) Bytes() []byte {
	b := make([]byte, 0, headerLen+12+len(d.rows)*(headerLen+d.nBytes()))
	b = d.header.append(b)
	b = binary.BigEndian.AppendUint32(b, uint32(d.entriesPerRow))
	b = binary.BigEndian.AppendUint32(b, uint32(d.keysAdded))
	b = binary.BigEndian.AppendUint32(b, uint32(len(d.rows)))
	for _, r := range d.rows {
		b = r.append(b)
	}
	return b
}

// Base64 implements Filter.
func (d *DynamicV0) Base64() string { return base64.StdEncoding.EncodeToString(d.Bytes()) }

var (
	_ Filter = (*Simple)(nil)
	_ Filter = (*DynamicV0)(nil)
)
