package mdtrecord

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"

	"github.com/hoodie-lake/hoodie/internal/bloom"
	"github.com/hoodie-lake/hoodie/internal/hfile"
)

// HFile file info keys and the meta block name Hudi uses
// (HoodieAvroHFileReaderImplBase).
const (
	schemaKey              = "schema"
	minRecordKeyKey        = "minRecordKey"
	maxRecordKeyKey        = "maxRecordKey"
	bloomFilterTypeCodeKey = "bloomFilterTypeCode"
	bloomFilterMetaBlock   = "bloomFilter"
)

// EncodeLogBlockContent returns the content of an HFILE_DATA_BLOCK holding
// recs, as HFileUtils.serializeRecordsToLogBlock writes it: an HFile with
// GZ-compressed data blocks of 1 MiB, one entry per record in key order,
// and file info "schema" = WriterSchema (the block's SCHEMA header). Two
// records with one key are an ErrInvalid: merge them first.
func EncodeLogBlockContent(recs []Record) ([]byte, error) {
	var buf bytes.Buffer
	err := writeHFile(&buf, recs, "", map[string][]byte{schemaKey: []byte(WriterSchema)}, nil)
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeLogBlockContent decodes the content of an HFILE_DATA_BLOCK of the
// metadata table, in key order.
func DecodeLogBlockContent(b []byte) ([]Record, error) {
	return readHFile(bytes.NewReader(b), int64(len(b)))
}

// WriteBaseFile writes a metadata table base file (".hfile") holding recs,
// as HoodieAvroHFileWriter writes it for the metadata table: GZ-compressed
// data blocks of 1 MiB (hoodie.hfile.block.size), one entry per record in
// key order, file info "schema" = WriterSchema, "minRecordKey" and
// "maxRecordKey" (first and last key, "" when empty), "bloomFilterTypeCode"
// = "DYNAMIC_V0", and the meta block "bloomFilter" holding the Base64 text of
// a DYNAMIC_V0 filter (60000 entries, fpp 1e-9, at most 100000 entries) of
// every key. Hudi's merge handle also sets the _hoodie_file_name meta field
// of each value to the file's name; this leaves it null, which no reader
// of the metadata table looks at.
func WriteBaseFile(w io.Writer, recs []Record) error {
	return writeBaseFile(w, "", recs)
}

// writeBaseFile is WriteBaseFile that sets _hoodie_file_name to fileName
// when not empty, as Hudi does.
func writeBaseFile(w io.Writer, fileName string, recs []Record) error {
	sorted, err := sortRecords(recs)
	if err != nil {
		return err
	}
	f := bloom.NewDefault()
	minKey, maxKey := "", ""
	if len(sorted) > 0 {
		minKey, maxKey = sorted[0].Key, sorted[len(sorted)-1].Key
	}
	for _, r := range sorted {
		f.AddString(r.Key)
	}
	info := map[string][]byte{
		schemaKey:              []byte(WriterSchema),
		minRecordKeyKey:        []byte(minKey),
		maxRecordKeyKey:        []byte(maxKey),
		bloomFilterTypeCodeKey: []byte(f.TypeCode()),
	}
	meta := map[string][]byte{bloomFilterMetaBlock: []byte(f.Base64())}
	return writeHFile(w, sorted, fileName, info, meta)
}

// ReadBaseFile reads every record of a metadata table base file, in key
// order.
func ReadBaseFile(r io.ReaderAt, size int64) ([]Record, error) {
	return readHFile(r, size)
}

// sortRecords returns recs sorted by key (bytewise, the HFile order),
// rejecting duplicate keys.
func sortRecords(recs []Record) ([]Record, error) {
	sorted := slices.Clone(recs)
	slices.SortStableFunc(sorted, func(a, b Record) int { return cmp.Compare(a.Key, b.Key) })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Key == sorted[i-1].Key {
			return nil, fmt.Errorf("%w: two records with key %q", ErrInvalid, sorted[i].Key)
		}
	}
	return sorted, nil
}

// writeHFile writes recs as HFile entries keyed by record key.
func writeHFile(w io.Writer, recs []Record, fileName string, info, meta map[string][]byte) error {
	sorted, err := sortRecords(recs)
	if err != nil {
		return err
	}
	hw := hfile.NewWriter(w, hfile.WriterOptions{
		BlockSize:   hfile.DefaultBlockSize,
		Compression: hfile.GzipCompression,
		FileInfo:    info,
		MetaBlocks:  meta,
	})
	for _, r := range sorted {
		if r.Key == "" {
			return fmt.Errorf("%w: empty record key", ErrInvalid)
		}
		if err := validate(r); err != nil {
			return err
		}
		v := encodeValue(r, nil)
		if fileName != "" && r.Raw == nil {
			v = withFileName(v, fileName)
		}
		if err := hw.Append([]byte(r.Key), v); err != nil {
			return fmt.Errorf("mdtrecord: %q: %w", r.Key, err)
		}
	}
	if err := hw.Close(); err != nil {
		return fmt.Errorf("mdtrecord: %w", err)
	}
	return nil
}

// withFileName replaces the null _hoodie_file_name (the fifth meta field)
// at the start of an encoded value by fileName.
func withFileName(v []byte, fileName string) []byte {
	var e avroEnc
	for range numMetaFields - 1 {
		e.long(0)
	}
	e.long(1)
	e.str(fileName)
	return append(e.b, v[numMetaFields:]...)
}

// readHFile decodes every entry of a metadata table HFile.
func readHFile(r io.ReaderAt, size int64) ([]Record, error) {
	hr, err := hfile.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("mdtrecord: %w", err)
	}
	var recs []Record
	for kv, err := range hr.All() {
		if err != nil {
			return nil, fmt.Errorf("mdtrecord: %w", err)
		}
		rec, err := DecodeValue(string(kv.Key), kv.Value)
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}
