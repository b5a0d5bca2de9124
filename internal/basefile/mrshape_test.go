//lint:file-ignore SA1019 the tests check the deprecated PLAIN_DICTIONARY id parquet-mr 1.x writes.

package basefile_test

import (
	"bytes"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeBytes(t *testing.T, s *schema.Schema, rec arrow.RecordBatch, opts basefile.WriterOptions) []byte {
	t.Helper()
	n := int(rec.NumRows())
	var buf bytes.Buffer
	w, err := basefile.NewWriter(&buf, s, opts)
	require.NoError(t, err)
	require.NoError(t, w.Write(constMeta(n, "p"), rec))
	info, err := w.Close()
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), info.Size)
	return buf.Bytes()
}

func openParquet(t *testing.T, b []byte) *parquet.File {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	return f
}

// chunkPages returns the page headers of a column chunk.
func chunkPages(t *testing.T, b []byte, cm *format.ColumnMetaData) []basefile.PageForTest {
	t.Helper()
	start := cm.DataPageOffset
	if cm.DictionaryPageOffset > 0 && cm.DictionaryPageOffset < start {
		start = cm.DictionaryPageOffset
	}
	pages, err := basefile.PagesForTest(b, start, start+cm.TotalCompressedSize)
	require.NoError(t, err)
	return pages
}

// TestParquetMRShape checks every column chunk and page of a file with every
// type against what parquet-mr 1.13 writes with writer version PARQUET_1_0:
// format version 1, v1 data pages, value encodings PLAIN or PLAIN_DICTIONARY
// only (never DELTA_*), no dictionary for BOOLEAN and FIXED_LEN_BYTE_ARRAY,
// a PLAIN_DICTIONARY dictionary page before dictionary-encoded pages, and
// encoding lists and stats that match the pages.
func TestParquetMRShape(t *testing.T) {
	s, rec := allTypes(t, 20000)
	defer rec.Release()
	b := writeBytes(t, s, rec, basefile.WriterOptions{PageSize: 16 << 10, RowGroupRows: 7000})
	f := openParquet(t, b)
	md := f.Metadata()
	assert.EqualValues(t, 1, md.Version)
	require.Len(t, md.RowGroups, 3)
	allowed := []format.Encoding{format.Plain, format.PlainDictionary, format.RLE, format.BitPacked}
	multiPage := false
	for ri, rg := range md.RowGroups {
		for ci := range rg.Columns {
			cm := &rg.Columns[ci].MetaData
			name := fmt.Sprintf("row group %d column %s (%v)", ri, strings.Join(cm.PathInSchema, "."), cm.Type)
			for _, e := range cm.Encoding {
				assert.Contains(t, allowed, e, name)
			}
			noDict := cm.Type == format.Boolean || cm.Type == format.FixedLenByteArray
			if noDict {
				assert.NotContains(t, cm.Encoding, format.PlainDictionary, name)
				assert.Zero(t, cm.DictionaryPageOffset, name)
			}
			pages := chunkPages(t, b, cm)
			require.NotEmpty(t, pages, name)
			if len(pages) > 2 {
				multiPage = true
			}
			counts := map[[2]int]int32{}
			for pi, p := range pages {
				counts[[2]int{int(p.Type), int(p.Encoding)}]++
				assert.NotEqual(t, format.DataPageV2, p.Type, name)
				switch p.Type {
				case format.DictionaryPage:
					assert.Zero(t, pi, "%s: dictionary page first", name)
					assert.Equal(t, format.PlainDictionary, p.Encoding, name)
					assert.False(t, noDict, name)
				case format.DataPage:
					assert.Contains(t, []format.Encoding{format.Plain, format.PlainDictionary}, p.Encoding, name)
					if p.Encoding == format.PlainDictionary {
						assert.Equal(t, format.DictionaryPage, pages[0].Type, "%s: dictionary ids without a dictionary", name)
					}
					assert.Contains(t, cm.Encoding, p.Encoding, name)
				default:
					t.Errorf("%s: page type %v", name, p.Type)
				}
			}
			for _, st := range cm.EncodingStats {
				assert.Equal(t, counts[[2]int{int(st.PageType), int(st.Encoding)}], st.Count, "%s: encoding stats %v", name, st)
			}
		}
	}
	assert.True(t, multiPage, "pages small enough to make several per chunk")

	// What went in comes out.
	r := openBytes(t, b)
	got, err := r.ReadColumns(nil)
	require.NoError(t, err)
	defer got.Release()
	assert.Equal(t, rowsJSON(t, rec), rowsJSON(t, dataColumns(t, got)))
}

// stringsRecord is a one-column batch of nullable strings.
func stringsRecord(t *testing.T, vals []*string) (*schema.Schema, arrow.RecordBatch) {
	t.Helper()
	as := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	s, err := schema.FromArrow(as, "strs")
	require.NoError(t, err)
	b := array.NewRecordBuilder(memory.DefaultAllocator, as)
	defer b.Release()
	for _, v := range vals {
		if v == nil {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.StringBuilder).Append(*v)
		}
	}
	return s, b.NewRecordBatch()
}

func ptr(s string) *string { return &s }

// TestDictionaryFallsBackToPlain: a high-cardinality string column starts
// with a dictionary and falls back to PLAIN once the dictionary outgrows the
// dictionary page size (= page size, as Hudi configures parquet-mr).
func TestDictionaryFallsBackToPlain(t *testing.T) {
	var vals []*string
	for i := range 4000 {
		if i%7 == 3 {
			vals = append(vals, nil)
			continue
		}
		vals = append(vals, ptr(fmt.Sprintf("%08d-%s", i, strings.Repeat("v", i%50))))
	}
	s, rec := stringsRecord(t, vals)
	defer rec.Release()
	b := writeBytes(t, s, rec, basefile.WriterOptions{PageSize: 8 << 10})
	md := openParquet(t, b).Metadata()
	cm := &md.RowGroups[0].Columns[len(schema.MetaFields)].MetaData
	pages := chunkPages(t, b, cm)
	var encs []format.Encoding
	for _, p := range pages {
		encs = append(encs, p.Encoding)
	}
	require.Equal(t, format.DictionaryPage, pages[0].Type)
	assert.Contains(t, encs[1:], format.PlainDictionary)
	assert.Contains(t, encs[1:], format.Plain)
	assert.Equal(t, []format.Encoding{format.Plain, format.PlainDictionary, format.RLE, format.BitPacked}, []format.Encoding(cm.Encoding))
	r := openBytes(t, b)
	got, err := r.ReadColumns(nil)
	require.NoError(t, err)
	defer got.Release()
	assert.Equal(t, rowsJSON(t, rec), rowsJSON(t, dataColumns(t, got)))
}

// TestStatisticsAsParquetMR: parquet-mr writes no min/max when they take 4096
// bytes or more together (the null count stays), and fills the deprecated
// min/max only for signed-ordered types.
func TestStatisticsAsParquetMR(t *testing.T) {
	long := strings.Repeat("é", 1500) // 3000 bytes
	s, rec := stringsRecord(t, []*string{nil, ptr(long + "a"), ptr(long + "b"), nil})
	defer rec.Release()
	md := openParquet(t, writeBytes(t, s, rec, basefile.WriterOptions{})).Metadata()
	st := md.RowGroups[0].Columns[len(schema.MetaFields)].MetaData.Statistics
	assert.Nil(t, st.MinValue)
	assert.Nil(t, st.MaxValue)
	assert.EqualValues(t, 2, st.NullCount)

	s, rec = stringsRecord(t, []*string{nil, ptr("b"), ptr(""), ptr("é"), nil})
	defer rec.Release()
	md = openParquet(t, writeBytes(t, s, rec, basefile.WriterOptions{})).Metadata()
	st = md.RowGroups[0].Columns[len(schema.MetaFields)].MetaData.Statistics
	assert.Equal(t, []byte(""), st.MinValue)
	assert.Equal(t, []byte("é"), st.MaxValue)
	assert.Nil(t, st.Min, "strings are unsigned: no deprecated min")
	assert.Nil(t, st.Max)
	assert.EqualValues(t, 2, st.NullCount)
}

// bigSigned decodes a big-endian two's-complement integer.
func bigSigned(b []byte) *big.Int {
	v := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return v
}

// TestDecimalStatisticsSigned: decimals stored as fixed or variable bytes are
// ordered as signed numbers (parquet-mr's SortOrder.SIGNED); unsigned bytes
// would make -1 the largest value and let a reader skip row groups and pages
// that hold matches.
func TestDecimalStatisticsSigned(t *testing.T) {
	for _, prec := range []int32{5, 10, 18, 38} {
		t.Run(fmt.Sprint(prec), func(t *testing.T) {
			dt := &arrow.Decimal128Type{Precision: prec, Scale: 2}
			as := arrow.NewSchema([]arrow.Field{{Name: "d", Type: dt, Nullable: true}}, nil)
			s, err := schema.FromArrow(as, "decs")
			require.NoError(t, err)
			bld := array.NewRecordBuilder(memory.DefaultAllocator, as)
			defer bld.Release()
			vals := []int64{-1, 5, 0, -999, 999, -3, 42, 1}
			var want [2][2]int64 // per row group: min, max
			const perRG = 4
			for i, v := range vals {
				if i == 2 {
					bld.Field(0).AppendNull()
					continue
				}
				bld.Field(0).(*array.Decimal128Builder).Append(decimal128.FromI64(v))
				g := i / perRG
				if i%perRG == 0 || (i == 3 && want[g] == [2]int64{}) {
					want[g] = [2]int64{v, v}
				}
				want[g][0], want[g][1] = min(want[g][0], v), max(want[g][1], v)
			}
			rec := bld.NewRecordBatch()
			defer rec.Release()
			b := writeBytes(t, s, rec, basefile.WriterOptions{RowGroupRows: perRG})
			f := openParquet(t, b)
			md := f.Metadata()
			require.Len(t, md.RowGroups, 2)
			cols, _, err := f.ReadPageIndex()
			require.NoError(t, err)
			for ri, rg := range md.RowGroups {
				ci := len(schema.MetaFields)
				st := rg.Columns[ci].MetaData.Statistics
				assert.Equal(t, want[ri][0], bigSigned(st.MinValue).Int64(), "row group %d min", ri)
				assert.Equal(t, want[ri][1], bigSigned(st.MaxValue).Int64(), "row group %d max", ri)
				assert.Equal(t, st.MinValue, st.Min, "decimals are signed: deprecated min too")
				assert.Equal(t, st.MaxValue, st.Max)
				idx := cols[ri*len(rg.Columns)+ci]
				for p := range idx.NullPages {
					if idx.NullPages[p] {
						continue
					}
					assert.LessOrEqual(t, bigSigned(idx.MinValues[p]).Int64(), want[ri][0])
					assert.GreaterOrEqual(t, bigSigned(idx.MaxValues[p]).Int64(), want[ri][1])
				}
			}
			r := openBytes(t, b)
			got, err := r.ReadColumns(nil)
			require.NoError(t, err)
			defer got.Release()
			assert.Equal(t, rowsJSON(t, rec), rowsJSON(t, dataColumns(t, got)))
		})
	}
}

func TestEmptyFileShape(t *testing.T) {
	s, rec := stringsRecord(t, nil)
	defer rec.Release()
	b := writeBytes(t, s, rec, basefile.WriterOptions{})
	md := openParquet(t, b).Metadata()
	assert.EqualValues(t, 1, md.Version)
	assert.Empty(t, md.RowGroups)
	assert.True(t, slices.Equal([]byte("PAR1"), b[:4]))
}

// TestDictionaryCappedAtDefaultPageSize: with Hudi's default page size
// (1 MiB, also the dictionary page size), a column of long distinct strings
// gets pages cut by size and its dictionary capped: parquet-go alone cuts a
// dictionary-encoded page only when its 4-byte ids fill the page, so the
// dictionary (and the one page) would grow to the whole column.
func TestDictionaryCappedAtDefaultPageSize(t *testing.T) {
	var vals []*string
	for i := range 3000 {
		if i%11 == 5 {
			vals = append(vals, nil)
			continue
		}
		vals = append(vals, ptr(fmt.Sprintf("%06d", i)+strings.Repeat("x", 2000)))
	}
	s, rec := stringsRecord(t, vals)
	defer rec.Release()
	b := writeBytes(t, s, rec, basefile.WriterOptions{})
	md := openParquet(t, b).Metadata()
	cm := &md.RowGroups[0].Columns[len(schema.MetaFields)].MetaData
	pages := chunkPages(t, b, cm)
	require.Equal(t, format.DictionaryPage, pages[0].Type)
	assert.LessOrEqual(t, pages[0].Uncompressed, int32(1<<20)+8192, "dictionary page: at most the dictionary page size (and one value)")
	plain := 0
	for _, p := range pages[1:] {
		assert.LessOrEqual(t, p.Uncompressed, int32(2<<20)+4096, "data page")
		if p.Encoding == format.Plain {
			plain++
		}
	}
	assert.Greater(t, plain, 1, "PLAIN pages after the dictionary filled")
	r := openBytes(t, b)
	got, err := r.ReadColumns(nil)
	require.NoError(t, err)
	defer got.Release()
	assert.Equal(t, rowsJSON(t, rec), rowsJSON(t, dataColumns(t, got)))
}

// TestValuesLongerThanAPage: values over the page size each make pages of
// their own, readable back, with small page headers (no page statistics).
func TestValuesLongerThanAPage(t *testing.T) {
	var vals []*string
	for i := range 12 {
		if i%3 == 1 {
			vals = append(vals, nil)
			continue
		}
		vals = append(vals, ptr(strings.Repeat(string(rune('a'+i)), 1_500_000)))
	}
	s, rec := stringsRecord(t, vals)
	defer rec.Release()
	b := writeBytes(t, s, rec, basefile.WriterOptions{})
	md := openParquet(t, b).Metadata()
	cm := &md.RowGroups[0].Columns[len(schema.MetaFields)].MetaData
	pages := chunkPages(t, b, cm)
	assert.Greater(t, len(pages), 3)
	for i := 1; i < len(pages); i++ {
		assert.Less(t, pages[i].Offset-pages[i-1].Offset, int64(3<<20))
	}
	assert.Nil(t, cm.Statistics.MinValue, "min+max over 4096 bytes: none")
	r := openBytes(t, b)
	got, err := r.ReadColumns(nil)
	require.NoError(t, err)
	defer got.Release()
	assert.Equal(t, rowsJSON(t, rec), rowsJSON(t, dataColumns(t, got)))
}
