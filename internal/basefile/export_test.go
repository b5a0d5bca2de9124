package basefile

import "github.com/parquet-go/parquet-go/format"

// PageForTest is one page header of a written file.
type PageForTest struct {
	Offset       int64
	Type         format.PageType
	Encoding     format.Encoding
	Uncompressed int32
}

// PagesForTest walks the page headers of b in [start, end).
func PagesForTest(b []byte, start, end int64) ([]PageForTest, error) {
	var out []PageForTest
	for off := start; off < end; {
		h, err := scanPageHeader(b[off:])
		if err != nil {
			return nil, err
		}
		out = append(out, PageForTest{Offset: off, Type: h.typ, Encoding: h.encoding, Uncompressed: h.uncompressed})
		off += int64(h.size) + int64(h.compressed)
	}
	return out, nil
}
