package mdtrecord

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/hoodie-lake/hoodie/internal/avrobin"
)

// numMetaFields is the number of Hudi meta fields in front of WriterSchema.
const numMetaFields = 5

// EncodeValue returns the HFile value Hudi stores for r: the Avro binary
// datum of r in WriterSchema with null meta fields and the key field blanked.
// Map entries are written in key order (Hudi writes a Java HashMap's order,
// which carries no meaning). Types 3 and 4 write r.Raw verbatim.
func EncodeValue(r Record) ([]byte, error) {
	if err := validate(r); err != nil {
		return nil, err
	}
	return encodeValue(r, nil), nil
}

// validate checks what EncodeValue needs of r.
func validate(r Record) error {
	switch r.Type {
	case TypePartitionList, TypeFiles:
		if r.RecordIndex != nil || r.Raw != nil {
			return fmt.Errorf("%w: type %d record %q carries another type's payload", ErrInvalid, r.Type, r.Key)
		}
		for name, fi := range r.Files {
			if !utf8.ValidString(name) {
				return fmt.Errorf("%w: %q: name %q is not UTF-8", ErrInvalid, r.Key, name)
			}
			if fi.Size < 0 {
				return fmt.Errorf("%w: %q: negative size for %q", ErrInvalid, r.Key, name)
			}
			if r.Type == TypeFiles && !fi.Deleted && fi.Size == 0 {
				// HoodieMetadataPayload.validatePayload.
				return fmt.Errorf("%w: %q: live file %q has size 0", ErrInvalid, r.Key, name)
			}
		}
	case TypeRecordIndex:
		if r.RecordIndex == nil || r.Files != nil || r.Raw != nil {
			return fmt.Errorf("%w: record index record %q needs RecordIndex alone", ErrInvalid, r.Key)
		}
		if !utf8.ValidString(r.RecordIndex.PartitionName) || !utf8.ValidString(r.RecordIndex.FileID) {
			return fmt.Errorf("%w: record index record %q: strings must be UTF-8", ErrInvalid, r.Key)
		}
	case TypeColumnStats, TypeBloomFilter:
		if r.Raw == nil || r.Files != nil || r.RecordIndex != nil {
			return fmt.Errorf("%w: type %d record %q needs Raw alone", ErrInvalid, r.Type, r.Key)
		}
		d, err := DecodeValue(r.Key, r.Raw)
		if err != nil {
			return fmt.Errorf("%w: Raw: %w", ErrInvalid, err)
		}
		if d.Type != r.Type {
			return fmt.Errorf("%w: %q: Raw holds type %d, record says %d", ErrInvalid, r.Key, d.Type, r.Type)
		}
	default:
		return fmt.Errorf("%w: %q: unknown type %d", ErrInvalid, r.Key, r.Type)
	}
	return nil
}

// encodeValue encodes a validated r. order, if not nil, gives the order of
// the map entries (the order they were read in); keys of r.Files it lacks
// follow in key order.
func encodeValue(r Record, order []string) []byte {
	if r.Type == TypeColumnStats || r.Type == TypeBloomFilter {
		return slices.Clone(r.Raw)
	}
	var e avroEnc
	for range numMetaFields {
		e.long(0) // union branch 0: null
	}
	e.str("") // key, blanked
	e.long(int64(r.Type))
	switch r.Type {
	case TypePartitionList, TypeFiles:
		e.long(1) // filesystemMetadata: the map branch
		names := orderedNames(r.Files, order)
		if len(names) > 0 {
			e.long(int64(len(names)))
			for _, n := range names {
				fi := r.Files[n]
				e.str(n)
				e.long(fi.Size)
				e.bool(fi.Deleted)
			}
		}
		e.long(0) // end of map
		e.long(0) // BloomFilterMetadata null
		e.long(0) // ColumnStatsMetadata null
		e.long(0) // recordIndexMetadata null
	case TypeRecordIndex:
		e.long(0) // filesystemMetadata null
		e.long(0) // BloomFilterMetadata null
		e.long(0) // ColumnStatsMetadata null
		e.long(1)
		ri := r.RecordIndex
		e.long(1)
		e.str(ri.PartitionName)
		e.long(1)
		e.long(ri.FileIDHighBits)
		e.long(1)
		e.long(ri.FileIDLowBits)
		e.long(1)
		e.long(int64(ri.FileIndex))
		e.long(1)
		e.str(ri.FileID)
		e.long(1)
		e.long(ri.InstantTime)
		e.long(int64(ri.FileIDEncoding))
	}
	return e.b
}

// orderedNames returns the keys of files: those in order first (as given),
// then the rest sorted.
func orderedNames(files map[string]FileInfo, order []string) []string {
	names := make([]string, 0, len(files))
	seen := make(map[string]bool, len(order))
	for _, n := range order {
		if _, ok := files[n]; ok && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	rest := make([]string, 0, len(files)-len(names))
	for n := range files {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	slices.Sort(rest)
	return append(names, rest...)
}

// DecodeValue decodes an HFile value of the metadata table stored under key
// (the HFile key, which restores the blanked key field). A value that does
// not decode in WriterSchema, or has bytes left over, is an ErrCorrupt.
func DecodeValue(key string, v []byte) (Record, error) {
	r, _, err := decodeValue(key, v)
	return r, err
}

// decodeValue is DecodeValue that also returns the order of the map
// entries as read.
func decodeValue(key string, v []byte) (Record, []string, error) {
	d := newAvroDec(v)
	// Hudi leaves the meta fields null in the metadata table; a set one is
	// still a valid datum and is dropped.
	for range numMetaFields {
		d.optString()
	}
	stored := d.str()
	typ := d.Int()
	if d.Err() != nil {
		return Record{}, nil, fmt.Errorf("%w: %q: %w", ErrCorrupt, key, d.Err())
	}
	if stored != "" && stored != key {
		return Record{}, nil, fmt.Errorf("%w: value key %q under HFile key %q", ErrCorrupt, stored, key)
	}
	r := Record{Key: key, Type: typ}
	var order []string
	switch typ {
	case TypePartitionList, TypeFiles:
		switch d.union(2) {
		case 1:
			r.Files, order = d.fileMap()
		}
		if d.nullUnions(3) {
			d.Fail("files record carries another type's payload")
		}
	case TypeRecordIndex:
		if d.nullUnions(3) {
			d.Fail("record index record carries another type's payload")
		}
		if d.union(2) != 1 {
			d.Fail("record index record without recordIndexMetadata")
		}
		ri := &RecordIndexInfo{}
		if s := d.optString(); s != nil {
			ri.PartitionName = *s
		}
		ri.FileIDHighBits = d.optLong()
		ri.FileIDLowBits = d.optLong()
		ri.FileIndex = int32(d.optLongRange(math.MinInt32, math.MaxInt32))
		if s := d.optString(); s != nil {
			ri.FileID = *s
		}
		ri.InstantTime = d.optLong()
		ri.FileIDEncoding = d.Int()
		r.RecordIndex = ri
	case TypeColumnStats, TypeBloomFilter:
		if err := validateRaw(v); err != nil {
			return Record{}, nil, fmt.Errorf("%w: %q: %w", ErrCorrupt, key, err)
		}
		r.Raw = slices.Clone(v)
		return r, nil, nil
	default:
		d.Fail(fmt.Sprintf("unknown record type %d", typ))
	}
	if d.Err() == nil && d.Len() != 0 {
		d.Fail(fmt.Sprintf("%d bytes after the record", d.Len()))
	}
	if d.Err() != nil {
		return Record{}, nil, fmt.Errorf("%w: %q: %w", ErrCorrupt, key, d.Err())
	}
	return r, order, nil
}

// validateRaw checks that v is exactly one datum of WriterSchema whose
// payload is the one of its type (BloomFilterMetadata for type 4,
// ColumnStatsMetadata for type 3).
func validateRaw(v []byte) error {
	d := newAvroDec(v)
	for range numMetaFields {
		d.optString()
	}
	d.str()
	typ := d.Int()
	present := [4]bool{}
	if d.union(2) == 1 {
		present[0] = true
		d.fileMap()
	}
	if d.union(2) == 1 {
		present[1] = true
		d.str()   // type
		d.str()   // timestamp
		d.Bytes() // bloomFilter
		d.Bool()  // isDeleted
	}
	if d.union(2) == 1 {
		present[2] = true
		d.optString() // fileName
		d.optString() // columnName
		d.wrapper()   // minValue
		d.wrapper()   // maxValue
		for range 4 { // valueCount, nullCount, totalSize, totalUncompressedSize
			d.optLong()
		}
		d.Bool() // isDeleted
	}
	if d.union(2) == 1 {
		present[3] = true
		d.optString()
		for range 3 {
			d.optLong()
		}
		d.optString()
		d.optLong()
		d.Int()
	}
	if d.Err() != nil {
		return d.Err()
	}
	if d.Len() != 0 {
		return fmt.Errorf("avro: %d bytes after the record", d.Len())
	}
	want := 1
	if typ == TypeColumnStats {
		want = 2
	}
	for i, p := range present {
		if p != (i == want) {
			return fmt.Errorf("avro: type %d record with payload %d set to %v", typ, i, p)
		}
	}
	return nil
}

// avroEnc appends Avro binary primitives.
type avroEnc struct{ b []byte }

func (e *avroEnc) long(v int64) {
	e.b = binary.AppendUvarint(e.b, uint64(v<<1)^uint64(v>>63))
}

func (e *avroEnc) str(s string) {
	e.long(int64(len(s)))
	e.b = append(e.b, s...)
}

func (e *avroEnc) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

// avroDec is the Avro decoder of metadata record values: avrobin's
// primitives plus the shapes of HoodieMetadata.avsc.
type avroDec struct{ *avrobin.Decoder }

func newAvroDec(v []byte) avroDec { return avroDec{avrobin.NewDecoder(v, nil)} }

// str reads a string, which must be UTF-8 (Java's Avro decodes it so).
func (d avroDec) str() string {
	b := d.Bytes()
	if d.Err() != nil {
		return ""
	}
	if !utf8.Valid(b) {
		d.Fail("string not UTF-8")
		return ""
	}
	return string(b)
}

// wrapper skips a column stats min/max value: a union of null and the
// value wrappers of HoodieMetadata.avsc (BooleanWrapper, IntWrapper,
// LongWrapper, FloatWrapper, DoubleWrapper, BytesWrapper, StringWrapper,
// DateWrapper, DecimalWrapper, TimeMicrosWrapper, TimestampMicrosWrapper).
func (d avroDec) wrapper() {
	switch d.union(12) {
	case 1:
		d.Bool()
	case 2, 8: // int, date as int
		d.Int()
	case 3, 10, 11: // long, time-micros, timestamp-micros as long
		d.Long()
	case 4:
		d.Fixed(4)
	case 5:
		d.Fixed(8)
	case 6, 9: // bytes, decimal bytes
		d.Bytes()
	case 7:
		d.str()
	}
}

// nullUnions reads n [null, T] union indexes and reports whether any of
// them is not null.
func (d avroDec) nullUnions(n int) bool {
	set := false
	for range n {
		if d.union(2) != 0 {
			set = true
		}
	}
	return set
}

// union reads a union branch index below n.
func (d avroDec) union(n int64) int64 {
	return d.LongIn(0, n-1)
}

func (d avroDec) optString() *string {
	if d.union(2) == 0 {
		return nil
	}
	s := d.str()
	return &s
}

func (d avroDec) optLong() int64 {
	if d.union(2) == 0 {
		return 0
	}
	return d.Long()
}

func (d avroDec) optLongRange(lo, hi int64) int64 {
	if d.union(2) == 0 {
		return 0
	}
	return d.LongIn(lo, hi)
}

// fileMap reads a map of HoodieMetadataFileInfo, returning it and its keys
// in the order read.
func (d avroDec) fileMap() (map[string]FileInfo, []string) {
	m := map[string]FileInfo{}
	var order []string
	for d.Err() == nil {
		n := d.Long()
		if n == 0 {
			break
		}
		if n < 0 {
			// A negative count is followed by the block's byte size.
			n = -n
			d.Long()
		}
		// Every entry takes at least 3 bytes (key length, size, flag).
		if n > int64(d.Len())/3+1 {
			d.Fail("map count exceeds the value")
			break
		}
		for range n {
			k := d.str()
			fi := FileInfo{Size: d.Long(), Deleted: d.Bool()}
			if d.Err() != nil {
				break
			}
			if _, dup := m[k]; dup {
				d.Fail(fmt.Sprintf("duplicate map key %q", k))
				break
			}
			m[k] = fi
			order = append(order, k)
		}
	}
	return m, order
}
