package mdtrecord

import (
	"bytes"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/bloom"
)

// bloomRaw returns a type 4 value as Hudi writes it (BloomFilterMetadata
// set, the rest null).
func bloomRaw() []byte {
	var e avroEnc
	for range numMetaFields {
		e.long(0)
	}
	e.str("")
	e.long(TypeBloomFilter)
	e.long(0) // filesystemMetadata
	e.long(1) // BloomFilterMetadata
	e.str("DYNAMIC_V0")
	e.str("20240101000000000")
	e.str("\x01\x02\x03") // bytes
	e.bool(false)
	e.long(0) // ColumnStatsMetadata
	e.long(0) // recordIndexMetadata
	return e.b
}

// columnStatsRaw returns a type 3 value with an int min and a string max.
func columnStatsRaw() []byte {
	var e avroEnc
	for range numMetaFields {
		e.long(0)
	}
	e.str("")
	e.long(TypeColumnStats)
	e.long(0)
	e.long(0)
	e.long(1)
	e.long(1)
	e.str("f.parquet")
	e.long(1)
	e.str("c")
	e.long(2) // IntWrapper
	e.long(-5)
	e.long(7) // StringWrapper
	e.str("zz")
	for range 4 {
		e.long(1)
		e.long(42)
	}
	e.bool(false)
	e.long(0)
	return e.b
}

func testRecords() []Record {
	return []Record{
		{Key: "2024/01/02", Type: TypeFiles, Files: map[string]FileInfo{"f1.parquet": live(100), ".f1.log.1_0-1-1": live(7), "old.parquet": gone}},
		{Key: AllPartitionsKey, Type: TypePartitionList, Files: map[string]FileInfo{"2024/01/02": {}, "2024/01/01": {}, "gone": gone}},
		{Key: NonPartitionedName, Type: TypeFiles, Files: map[string]FileInfo{}},
		{Key: "uuid-1", Type: TypeRecordIndex, RecordIndex: &RecordIndexInfo{PartitionName: "2024/01/02", FileIDHighBits: -42, FileIDLowBits: 1 << 62, FileIndex: 3, InstantTime: 1704067200000}},
		{Key: "uuid-2", Type: TypeRecordIndex, RecordIndex: &RecordIndexInfo{PartitionName: "", FileIDHighBits: -1, FileIDLowBits: -1, FileIndex: -1, FileID: "raw-file-id", InstantTime: 1, FileIDEncoding: 1}},
		{Key: "bloomkey", Type: TypeBloomFilter, Raw: bloomRaw()},
		{Key: "colstats", Type: TypeColumnStats, Raw: columnStatsRaw()},
		{Key: "ünïcode/é", Type: TypeFiles, Files: map[string]FileInfo{"ä.parquet": live(1)}},
	}
}

func sortedByKey(recs []Record) []Record {
	out := slices.Clone(recs)
	slices.SortFunc(out, func(a, b Record) int { return bytes.Compare([]byte(a.Key), []byte(b.Key)) })
	return out
}

func TestLogBlockContentRoundTrip(t *testing.T) {
	recs := testRecords()
	b, err := EncodeLogBlockContent(recs)
	require.NoError(t, err)
	got, err := DecodeLogBlockContent(b)
	require.NoError(t, err)
	require.Equal(t, sortedByKey(recs), got)

	hr := openHFile(t, b)
	info := hr.FileInfo()
	require.Equal(t, WriterSchema, string(info[schemaKey]))
	for _, k := range []string{minRecordKeyKey, maxRecordKeyKey, bloomFilterTypeCodeKey} {
		require.NotContains(t, info, k)
	}
	_, ok, err := hr.MetaBlock(bloomFilterMetaBlock)
	require.NoError(t, err)
	require.False(t, ok)
	require.EqualValues(t, len(recs), hr.EntryCount())

	// No records: an HFile without entries.
	b, err = EncodeLogBlockContent(nil)
	require.NoError(t, err)
	got, err = DecodeLogBlockContent(b)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestBaseFileRoundTrip(t *testing.T) {
	recs := testRecords()
	var buf bytes.Buffer
	require.NoError(t, WriteBaseFile(&buf, recs))
	got, err := ReadBaseFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	require.Equal(t, sortedByKey(recs), got)

	hr := openHFile(t, buf.Bytes())
	info := hr.FileInfo()
	sorted := sortedByKey(recs)
	require.Equal(t, WriterSchema, string(info[schemaKey]))
	require.Equal(t, sorted[0].Key, string(info[minRecordKeyKey]))
	require.Equal(t, sorted[len(sorted)-1].Key, string(info[maxRecordKeyKey]))
	require.Equal(t, bloom.TypeDynamicV0, string(info[bloomFilterTypeCodeKey]))
	mb, ok, err := hr.MetaBlock(bloomFilterMetaBlock)
	require.NoError(t, err)
	require.True(t, ok)
	f, err := bloom.FromFooter(string(info[bloomFilterTypeCodeKey]), string(mb))
	require.NoError(t, err)
	for _, r := range recs {
		require.True(t, f.MightContainString(r.Key), r.Key)
	}
	for _, r := range recs {
		v, ok, err := hr.Get([]byte(r.Key))
		require.NoError(t, err)
		require.True(t, ok)
		back, err := DecodeValue(r.Key, v)
		require.NoError(t, err)
		require.Equal(t, r, back)
	}

	// Empty: min/max keys are "".
	buf.Reset()
	require.NoError(t, WriteBaseFile(&buf, nil))
	info = openHFile(t, buf.Bytes()).FileInfo()
	require.Equal(t, "", string(info[minRecordKeyKey]))
	require.Equal(t, "", string(info[maxRecordKeyKey]))
	got, err = ReadBaseFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	require.Empty(t, got)
}

// TestBaseFileMatchesSamples rewrites each Spark-written base file from its
// records and compares what Hudi compares: the file info entries Hudi
// writes, the bloom filter meta block byte for byte, and every value byte
// for byte (apart from the map order, which is a Java HashMap's; the
// sample's order is replayed here).
func TestBaseFileMatchesSamples(t *testing.T) {
	for _, p := range sampleBaseFiles(t) {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		want := openHFile(t, b)
		recs, err := ReadBaseFile(bytes.NewReader(b), int64(len(b)))
		require.NoError(t, err)

		var buf bytes.Buffer
		require.NoError(t, writeBaseFile(&buf, filepath.Base(p), recs))
		got := openHFile(t, buf.Bytes())

		wi, gi := want.FileInfo(), got.FileInfo()
		require.Equal(t, slices.Sorted(maps.Keys(wi)), slices.Sorted(maps.Keys(gi)), p)
		for _, k := range []string{schemaKey, minRecordKeyKey, maxRecordKeyKey, bloomFilterTypeCodeKey} {
			require.Equal(t, string(wi[k]), string(gi[k]), "%s %s", p, k)
		}
		wb, ok, err := want.MetaBlock(bloomFilterMetaBlock)
		require.NoError(t, err)
		require.True(t, ok)
		gb, ok, err := got.MetaBlock(bloomFilterMetaBlock)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, wb, gb, p)

		for kv, err := range want.All() {
			require.NoError(t, err)
			r, order, err := decodeValue(string(kv.Key), kv.Value)
			require.NoError(t, err)
			v, ok, err := got.Get(kv.Key)
			require.NoError(t, err)
			require.True(t, ok)
			require.Len(t, v, len(kv.Value))
			require.Equal(t, kv.Value, withFileName(encodeValue(r, order), filepath.Base(p)))
		}
	}
}

func TestContainerErrors(t *testing.T) {
	dup := []Record{files("p", map[string]FileInfo{"a": live(1)}), files("p", map[string]FileInfo{"b": live(1)})}
	_, err := EncodeLogBlockContent(dup)
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorIs(t, WriteBaseFile(&bytes.Buffer{}, dup), ErrInvalid)
	_, err = EncodeLogBlockContent([]Record{files("", nil)})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = EncodeLogBlockContent([]Record{files("p", map[string]FileInfo{"a": live(0)})})
	require.ErrorIs(t, err, ErrInvalid)

	_, err = DecodeLogBlockContent([]byte("not an hfile"))
	require.Error(t, err)
	_, err = ReadBaseFile(bytes.NewReader(nil), 0)
	require.Error(t, err)
}

func TestEncodeValueValidates(t *testing.T) {
	for _, r := range []Record{
		{Key: "k", Type: 0},
		{Key: "k", Type: TypeRecordIndex},
		{Key: "k", Type: TypeFiles, RecordIndex: &RecordIndexInfo{}},
		{Key: "k", Type: TypeFiles, Files: map[string]FileInfo{"a": {Size: -1}}},
		{Key: "k", Type: TypeBloomFilter},
		{Key: "k", Type: TypeBloomFilter, Raw: columnStatsRaw()},
		{Key: "k", Type: TypeColumnStats, Raw: []byte{1, 2, 3}},
		{Key: "k", Type: TypeFiles, Files: map[string]FileInfo{"\xff": live(1)}},
		{Key: "k", Type: TypeRecordIndex, RecordIndex: &RecordIndexInfo{FileID: "\xff"}},
	} {
		_, err := EncodeValue(r)
		require.ErrorIs(t, err, ErrInvalid, "%+v", r)
	}
}

// TestDecodeValueCorrupt feeds every truncation and random corruptions of
// valid values: each must decode or fail with ErrCorrupt, never panic.
func TestDecodeValueCorrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, r := range testRecords() {
		v, err := EncodeValue(r)
		require.NoError(t, err)
		for n := range len(v) {
			_, err := DecodeValue(r.Key, v[:n])
			require.ErrorIs(t, err, ErrCorrupt, "%q truncated to %d", r.Key, n)
		}
		_, err = DecodeValue(r.Key, append(slices.Clone(v), 0))
		require.ErrorIs(t, err, ErrCorrupt, "%q with a trailing byte", r.Key)
		for range 200 {
			c := slices.Clone(v)
			c[rng.IntN(len(c))] ^= byte(1 + rng.IntN(255))
			if _, err := DecodeValue(r.Key, c); err != nil {
				require.ErrorIs(t, err, ErrCorrupt)
			}
		}
	}
	// A map count far beyond the value.
	var e avroEnc
	for range numMetaFields {
		e.long(0)
	}
	e.str("")
	e.long(TypeFiles)
	e.long(1)
	e.long(1 << 40)
	_, err := DecodeValue("p", e.b)
	require.ErrorIs(t, err, ErrCorrupt)
	// A stored key that is not the HFile key.
	v, err := EncodeValue(files("p", nil))
	require.NoError(t, err)
	v = append([]byte{0, 0, 0, 0, 0, 2, 'q'}, v[numMetaFields+1:]...)
	_, err = DecodeValue("p", v)
	require.ErrorIs(t, err, ErrCorrupt)
}

func FuzzDecodeValue(f *testing.F) {
	for _, r := range testRecords() {
		v, err := EncodeValue(r)
		require.NoError(f, err)
		f.Add(r.Key, v)
	}
	f.Fuzz(func(t *testing.T, key string, v []byte) {
		r, err := DecodeValue(key, v)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		if _, err := EncodeValue(r); err != nil {
			require.ErrorIs(t, err, ErrInvalid)
		}
	})
}
