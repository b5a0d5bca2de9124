package logfile

import (
	"bytes"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/schema"
)

// parquetRowGroupBytes is the row group size of a Parquet data block: Hudi's
// HoodieParquetDataBlock.serializeRecords writes with parquet-mr's
// ParquetWriter.DEFAULT_BLOCK_SIZE (128 MiB) and DEFAULT_PAGE_SIZE (1 MiB).
const parquetRowGroupBytes = 128 << 20

// NewParquetDataBlock returns a Parquet data block (Hudi's
// HoodieParquetDataBlock, hoodie.logfile.data.block.format=parquet) written
// by the deltacommit instant: the headers of an Avro data block, and as
// content a whole Parquet file of the records, meta fields included, in the
// Avro record schema schemaJSON, compressed with codec (Hudi uses
// hoodie.parquet.compression.codec, the base files' codec).
func NewParquetDataBlock(instant, schemaJSON string, codec basefile.Compression, records ...arrow.RecordBatch) Block {
	return Block{
		Type:        ParquetDataBlock,
		Header:      Headers{{InstantTime, instant}, {SchemaHeader, schemaJSON}},
		Records:     records,
		Compression: codec,
	}
}

// encodeParquetContent writes recs (every column of the header schema,
// meta fields included) as one Parquet file, the way base files are
// written. No records make empty content, as Hudi writes it.
func encodeParquetContent(schemaJSON string, codec basefile.Compression, recs []arrow.RecordBatch) ([]byte, error) {
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	if rows == 0 {
		return nil, nil
	}
	if _, err := parseRecordSchema(schemaJSON); err != nil {
		return nil, err
	}
	s, err := schema.ParseAvro([]byte(schemaJSON))
	if err != nil {
		return nil, fmt.Errorf("%w: SCHEMA header: %w", ErrInvalidBlock, err)
	}
	var buf bytes.Buffer
	w, err := basefile.NewWriter(&buf, s, basefile.WriterOptions{
		Compression:      codec,
		RowGroupBytes:    parquetRowGroupBytes,
		PageSize:         basefile.DefaultPageSize,
		PageBufferMemory: -1,
	})
	if err != nil {
		return nil, fmt.Errorf("logfile: Parquet data block: %w", err)
	}
	for _, rec := range recs {
		if rec.NumRows() == 0 {
			continue
		}
		meta, data, err := splitMeta(rec)
		if err != nil {
			w.Abort()
			return nil, err
		}
		err = w.Write(meta, data)
		data.Release()
		if err != nil {
			w.Abort()
			return nil, fmt.Errorf("%w: Parquet data block: %w", ErrInvalidBlock, err)
		}
	}
	if _, err := w.Close(); err != nil {
		return nil, fmt.Errorf("logfile: Parquet data block: %w", err)
	}
	return buf.Bytes(), nil
}

// splitMeta separates the five meta columns of rec (strings, nulls kept)
// from its data columns.
func splitMeta(rec arrow.RecordBatch) (basefile.Meta, arrow.RecordBatch, error) {
	var meta basefile.Meta
	slots := map[string]*basefile.Strings{
		schema.CommitTimeField: &meta.CommitTime, schema.CommitSeqNoField: &meta.SeqNo,
		schema.RecordKeyField: &meta.RecordKey, schema.PartitionPathField: &meta.PartitionPath,
		schema.FileNameField: &meta.FileName,
	}
	var fields []arrow.Field
	var cols []arrow.Array
	for i, f := range rec.Schema().Fields() {
		slot, ok := slots[f.Name]
		if !ok {
			fields = append(fields, f)
			cols = append(cols, rec.Column(i))
			continue
		}
		s, ok := rec.Column(i).(*array.String)
		if !ok {
			return meta, nil, fmt.Errorf("%w: meta column %q of Arrow type %v", ErrInvalidBlock, f.Name, f.Type)
		}
		*slot = basefile.FromArrow(s)
	}
	for name, slot := range slots {
		if !slot.IsSet() {
			return meta, nil, fmt.Errorf("%w: record batch lacks meta column %q", ErrInvalidBlock, name)
		}
	}
	return meta, array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows()), nil
}

// conformRecords gives the batches read from a Parquet data block the Arrow
// schema of the header SCHEMA, as an Avro data block's: the Parquet file
// knows no nullable list elements (parquet-avro's 2-level lists), so
// nullability may differ there. Columns whose layout differs otherwise, or
// batches whose columns are not the schema's, are left as read.
func conformRecords(recs []arrow.RecordBatch, schemaJSON string) []arrow.RecordBatch {
	rs, err := parseRecordSchema(schemaJSON)
	if err != nil {
		return recs
	}
	for i, rec := range recs {
		if rec.Schema().Equal(rs.arrow) || int(rec.NumCols()) != rs.arrow.NumFields() {
			continue
		}
		cols := make([]arrow.Array, rec.NumCols())
		ok := true
		for j, f := range rs.arrow.Fields() {
			c := rec.Column(j)
			if rec.Schema().Field(j).Name != f.Name || !sameLayout(c.DataType(), f.Type) {
				ok = false
				break
			}
			d := retype(c.Data(), f.Type)
			cols[j] = array.MakeFromData(d)
			d.Release()
		}
		if !ok {
			for _, c := range cols {
				if c != nil {
					c.Release()
				}
			}
			continue
		}
		out := array.NewRecordBatch(rs.arrow, cols, rec.NumRows())
		for _, c := range cols {
			c.Release()
		}
		rec.Release()
		recs[i] = out
	}
	return recs
}

// sameLayout reports whether a and b differ at most in the nullability of
// nested fields.
func sameLayout(a, b arrow.DataType) bool {
	if arrow.TypeEqual(a, b) {
		return true
	}
	na, ok1 := a.(arrow.NestedType)
	nb, ok2 := b.(arrow.NestedType)
	if !ok1 || !ok2 || a.ID() != b.ID() {
		return false
	}
	fa, fb := na.Fields(), nb.Fields()
	if len(fa) != len(fb) {
		return false
	}
	for i := range fa {
		if fa[i].Name != fb[i].Name || !sameLayout(fa[i].Type, fb[i].Type) {
			return false
		}
	}
	return true
}

// retype returns d with data type dt, of the same layout (sameLayout).
func retype(d arrow.ArrayData, dt arrow.DataType) arrow.ArrayData {
	if arrow.TypeEqual(d.DataType(), dt) {
		d.Retain()
		return d
	}
	fs := dt.(arrow.NestedType).Fields()
	children := make([]arrow.ArrayData, len(d.Children()))
	for i, c := range d.Children() {
		children[i] = retype(c, fs[i].Type)
	}
	out := array.NewData(dt, d.Len(), d.Buffers(), children, d.NullN(), d.Offset())
	for _, c := range children {
		c.Release()
	}
	return out
}
