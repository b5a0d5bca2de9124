//lint:file-ignore SA1019 the tests check the deprecated PLAIN_DICTIONARY id parquet-mr 1.x writes.

package interop_test

// The reader matrix's footer check: every Parquet file hoodie writes must
// use only what parquet-mr 1.13 writes with writer version PARQUET_1_0 (the
// Parquet Hudi 0.15 writes through parquet-avro), the encodings every
// reader of Hudi tables has been exercised against.

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// parquetV1Encodings are the encodings parquet-mr's v1 writer uses: PLAIN
// and the dictionary encoding (spelled PLAIN_DICTIONARY by parquet-mr,
// RLE_DICTIONARY by newer writers; both accepted) for values, RLE and
// BIT_PACKED for levels (and RLE for booleans nowhere: v1 writes them PLAIN).
var parquetV1Encodings = map[format.Encoding]bool{
	format.Plain: true, format.PlainDictionary: true, format.RLEDictionary: true,
	format.RLE: true, format.BitPacked: true,
}

// parquetMRDictionaryLimit is the dictionary page size Hudi gives
// parquet-mr (HoodieBaseParquetWriter: withDictionaryPageSize(pageSize),
// hoodie.parquet.page.size = 1 MiB): once a dictionary passes it, parquet-mr
// writes the rest of the chunk PLAIN.
const parquetMRDictionaryLimit = 1 << 20

func isDictEncoding(e format.Encoding) bool {
	return e == format.PlainDictionary || e == format.RLEDictionary
}

// footerStats describes a table's column chunks, for the log: whether the
// matrix spans pages at all, and how dictionaries grow.
type footerStats struct {
	chunks    int
	multiPage int   // chunks with more than one data page
	maxPages  int   // data pages of the chunk with the most
	fallback  int   // chunks with dictionary-encoded and PLAIN data pages
	maxDict   int32 // largest dictionary page, uncompressed bytes
}

func (s footerStats) String() string {
	return fmt.Sprintf("%d column chunks; %d span more than one data page (at most %d); %d fall back from dictionary to PLAIN; largest dictionary page %d bytes",
		s.chunks, s.multiPage, s.maxPages, s.fallback, s.maxDict)
}

// footerFinding is one problem, found in files (counted) of a table.
type footerFinding struct {
	column, problem string
	files           []string
}

// parquetFiles lists the Parquet files under a table's base path (the
// timeline and its temporary and auxiliary folders excluded).
func parquetFiles(base string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".hoodie" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".parquet") {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// footerCheck checks every Parquet file of a table: the footer's version,
// each column chunk's encodings, and every page header: v1 data pages
// (DATA_PAGE, never DATA_PAGE_V2) with parquet-mr v1 value and level
// encodings, a dictionary page only first and only when pages use it, no
// dictionary for BOOLEAN and FIXED_LEN_BYTE_ARRAY columns (parquet-mr's v1
// writer has no dictionary for them), and no dictionary past Hudi's
// dictionary page size without a fallback to PLAIN. It returns the findings by
// column and problem, and statistics of the column chunks checked.
func footerCheck(base string) ([]*footerFinding, footerStats, error) {
	var stats footerStats
	files, err := parquetFiles(base)
	if err != nil {
		return nil, stats, err
	}
	if len(files) == 0 {
		return nil, stats, fmt.Errorf("no Parquet files under %s", base)
	}
	byKey := map[[2]string]*footerFinding{}
	var order []*footerFinding
	for _, path := range files {
		rel, _ := filepath.Rel(base, path)
		problems, err := fileFooterProblems(path, &stats)
		if err != nil {
			return nil, stats, fmt.Errorf("%s: %w", rel, err)
		}
		for _, p := range problems {
			k := [2]string{p[0], p[1]}
			f := byKey[k]
			if f == nil {
				f = &footerFinding{column: p[0], problem: p[1]}
				byKey[k] = f
				order = append(order, f)
			}
			f.files = append(f.files, rel)
		}
	}
	return order, stats, nil
}

// fileFooterProblems returns (column, problem) pairs for one file, and
// adds its chunks to stats.
func fileFooterProblems(path string, stats *footerStats) ([][2]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, err
	}
	md := pf.Metadata()
	var out [][2]string
	add := func(col, format string, args ...any) { out = append(out, [2]string{col, fmt.Sprintf(format, args...)}) }
	if md.Version != 1 {
		add("(file)", "footer version %d, parquet-mr's v1 writer writes 1", md.Version)
	}
	for _, rg := range md.RowGroups {
		for _, cc := range rg.Columns {
			stats.chunks++
			m := cc.MetaData
			col := strings.Join(m.PathInSchema, ".")
			leaf, ok := pf.Schema().Lookup(m.PathInSchema...)
			if !ok {
				add(col, "column chunk path not in the file schema")
				continue
			}
			// A level whose maximum is 0 is not written at all: its
			// encoding in a page header means nothing (parquet-mr says
			// BIT_PACKED, other writers RLE) and is not checked.
			levels := []struct {
				enc func(format.DataPageHeader) format.Encoding
				max int
			}{
				{func(d format.DataPageHeader) format.Encoding { return d.DefinitionLevelEncoding }, leaf.MaxDefinitionLevel},
				{func(d format.DataPageHeader) format.Encoding { return d.RepetitionLevelEncoding }, leaf.MaxRepetitionLevel},
			}
			noDict := m.Type == format.Boolean || m.Type == format.FixedLenByteArray
			for _, e := range m.Encoding {
				if !parquetV1Encodings[e] {
					add(col, "%s column chunk lists encoding %s", m.Type, e)
				}
				if noDict && isDictEncoding(e) {
					add(col, "%s column chunk lists dictionary encoding %s (parquet-mr v1 never dictionary-encodes %s)", m.Type, e, m.Type)
				}
			}
			start := m.DataPageOffset
			if m.DictionaryPageOffset > 0 && m.DictionaryPageOffset < start {
				start = m.DictionaryPageOffset
			}
			buf := make([]byte, m.TotalCompressedSize)
			if _, err := f.ReadAt(buf, start); err != nil {
				return nil, fmt.Errorf("column %s: read chunk at %d (%d bytes): %w", col, start, len(buf), err)
			}
			used := map[format.Encoding]bool{}
			hasDict, dictUsed, plainUsed, dataPages := false, false, false, 0
			var dictBytes int32
			var proto thrift.CompactProtocol
			for off, page := 0, 0; off < len(buf); page++ {
				var h format.PageHeader
				r := proto.NewReaderFromBytes(buf[off:])
				if err := thrift.NewDecoder(r).Decode(&h); err != nil {
					add(col, "page %d: unreadable page header: %v", page, err)
					break
				}
				off += r.BytesRead() + int(h.CompressedPageSize)
				switch h.Type {
				case format.DictionaryPage:
					d, _ := h.DictionaryPageHeader.Get()
					if page != 0 {
						add(col, "dictionary page is page %d, not the first", page)
					}
					if noDict {
						add(col, "%s column has a dictionary page", m.Type)
					}
					if d.Encoding != format.Plain && d.Encoding != format.PlainDictionary {
						add(col, "dictionary page encoded %s", d.Encoding)
					}
					hasDict = true
					used[d.Encoding] = true
					stats.maxDict = max(stats.maxDict, h.UncompressedPageSize)
					dictBytes = h.UncompressedPageSize
				case format.DataPage:
					d, _ := h.DataPageHeader.Get()
					used[d.Encoding] = true
					dataPages++
					plainUsed = plainUsed || d.Encoding == format.Plain
					switch {
					case isDictEncoding(d.Encoding):
						dictUsed = true
						if noDict {
							add(col, "%s data page dictionary-encoded (%s)", m.Type, d.Encoding)
						}
					case d.Encoding != format.Plain:
						add(col, "%s data page encoded %s (parquet-mr v1: PLAIN or dictionary)", m.Type, d.Encoding)
					}
					for _, l := range levels {
						if l.max == 0 {
							continue
						}
						le := l.enc(d)
						used[le] = true
						if le != format.RLE && le != format.BitPacked {
							add(col, "levels encoded %s", le)
						}
					}
				default:
					add(col, "%s page (parquet-mr v1 writes DATA_PAGE and DICTIONARY_PAGE only)", h.Type)
				}
			}
			if dataPages > 1 {
				stats.multiPage++
			}
			stats.maxPages = max(stats.maxPages, dataPages)
			if dictUsed && plainUsed {
				stats.fallback++
			}
			if dictBytes > parquetMRDictionaryLimit && !plainUsed {
				add(col, "dictionary page of %d bytes and no PLAIN fallback (parquet-mr falls back to PLAIN once the dictionary passes %d bytes)",
					dictBytes, parquetMRDictionaryLimit)
			}
			if dictUsed && !hasDict {
				add(col, "dictionary-encoded data pages without a dictionary page")
			}
			for e := range used {
				if !slices.Contains(m.Encoding, e) {
					add(col, "pages use %s, which the column chunk's encodings %v do not list", e, []format.Encoding(m.Encoding))
				}
			}
		}
	}
	return out, nil
}

// encodingSummary is each physical type's sets of chunk encodings seen in
// a table's files, e.g. "BYTE_ARRAY: [PLAIN_DICTIONARY PLAIN RLE BIT_PACKED]
// (12 chunks)", for the log.
func encodingSummary(base string) (string, error) {
	files, err := parquetFiles(base)
	if err != nil {
		return "", err
	}
	count := map[string]int{}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		st, _ := f.Stat()
		pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
		if err != nil {
			f.Close()
			return "", err
		}
		for _, rg := range pf.Metadata().RowGroups {
			for _, cc := range rg.Columns {
				count[fmt.Sprintf("%s: %v", cc.MetaData.Type, []format.Encoding(cc.MetaData.Encoding))]++
			}
		}
		f.Close()
	}
	var lines []string
	for k, n := range count {
		lines = append(lines, fmt.Sprintf("  %s (%d chunks)", k, n))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n"), nil
}
