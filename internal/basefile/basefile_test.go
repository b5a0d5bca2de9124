package basefile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"

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

func openFile(t *testing.T, path string) *basefile.Reader {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	require.NoError(t, err)
	r, err := basefile.Open(f, st.Size())
	require.NoError(t, err, path)
	return r
}

func openBytes(t *testing.T, b []byte) *basefile.Reader {
	t.Helper()
	r, err := basefile.Open(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	return r
}

// rowsJSON decodes a record's JSON into one map per row.
func rowsJSON(t *testing.T, rec arrow.RecordBatch) []map[string]any {
	t.Helper()
	b, err := rec.MarshalJSON()
	require.NoError(t, err)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal(b, &rows))
	return rows
}

// relaxListNulls marks list elements nullable so schemas that differ only by
// 2-level list element nullability compare equal.
func relaxListNulls(dt arrow.DataType) arrow.DataType {
	switch dt := dt.(type) {
	case *arrow.ListType:
		return arrow.ListOfField(arrow.Field{Name: schema.ListElementName, Type: relaxListNulls(dt.Elem()), Nullable: true})
	case *arrow.MapType:
		return arrow.MapOfFields(dt.KeyField(), arrow.Field{Name: "value", Type: relaxListNulls(dt.ItemType()), Nullable: dt.ItemField().Nullable})
	case *arrow.StructType:
		fs := make([]arrow.Field, dt.NumFields())
		for i, f := range dt.Fields() {
			fs[i] = arrow.Field{Name: f.Name, Type: relaxListNulls(f.Type), Nullable: f.Nullable}
		}
		return arrow.StructOf(fs...)
	}
	return dt
}

func relaxSchema(s *arrow.Schema) *arrow.Schema {
	fs := make([]arrow.Field, s.NumFields())
	for i, f := range s.Fields() {
		fs[i] = arrow.Field{Name: f.Name, Type: relaxListNulls(f.Type), Nullable: f.Nullable}
	}
	return arrow.NewSchema(fs, nil)
}

// TestSampleBaseFiles opens every Spark-written base file of every sample
// table, checks its Arrow schema against its parquet.avro.schema and reads all
// rows.
func TestSampleBaseFiles(t *testing.T) {
	var files int
	for _, z := range fixtures.Zips(t) {
		dir := fixtures.Unzip(t, z)
		for _, p := range baseFiles(t, dir) {
			files++
			r := openFile(t, p)
			md := r.Metadata()
			if _, ok := md[basefile.AvroSchemaKey]; ok {
				// Files from Spark's row writer carry no Avro schema.
				assert.Equal(t, "avro", md[basefile.WriterModelKey], p)
				ts, err := r.TableSchema()
				require.NoError(t, err, p)
				want := ts.ToArrow()
				if r.Schema().HasField(schema.RecordKeyField) {
					want = ts.ToArrowWithMeta()
				}
				assert.True(t, relaxSchema(want).Equal(relaxSchema(r.Schema())), "%s\nwant %v\ngot  %v", p, want, r.Schema())
			}

			var rows int64
			for rec, err := range r.Records(context.Background(), 2, nil) {
				require.NoError(t, err, p)
				rows += rec.NumRows()
			}
			assert.Equal(t, r.NumRows(), rows, p)
			if r.Schema().HasField(schema.RecordKeyField) {
				keys, err := r.RecordKeys()
				require.NoError(t, err)
				assert.Len(t, keys, int(r.NumRows()))
			}
		}
	}
	assert.Greater(t, files, 20)
}

// TestSampleValues checks the values of the complexkeygen table against its
// generating SQL.
func TestSampleValues(t *testing.T) {
	dir := fixtures.Unzip(t, sampleZip(t, "sample_table/cow/v6_complexkeygen_hivestyle.zip"))
	commits := commitTimes(t, dir)
	require.Len(t, commits, 2, "two INSERTs")
	// The second INSERT rewrote the file group of Alice and Carol.
	p := latestBaseFile(t, dir, "byteField=10/shortField=300")
	require.True(t, strings.HasSuffix(p, "_"+commits[1]+".parquet"), p)
	r := openFile(t, p)
	keys, err := r.RecordKeys()
	require.NoError(t, err)
	// Row order within the file is Spark's, not fixed by the SQL.
	assert.ElementsMatch(t, []string{"id:1,name:Alice", "id:3,name:Carol"}, keys)
	alice, carol := slices.Index(keys, "id:1,name:Alice"), slices.Index(keys, "id:3,name:Carol")
	assert.Equal(t, "id:1,name:Alice", r.Metadata()[basefile.MinRecordKeyKey])
	assert.Equal(t, "id:3,name:Carol", r.Metadata()[basefile.MaxRecordKeyKey])

	rec, err := r.ReadColumns(nil)
	require.NoError(t, err)
	defer rec.Release()
	col := func(name string) arrow.Array {
		idx := rec.Schema().FieldIndices(name)
		require.NotEmpty(t, idx, name)
		return rec.Column(idx[0])
	}
	// Alice after the second commit's update.
	assert.Equal(t, commits[1], col("_hoodie_commit_time").(*array.String).Value(alice))
	assert.Equal(t, commits[0], col("_hoodie_commit_time").(*array.String).Value(carol), "Carol keeps the first commit")
	assert.False(t, col("isActive").(*array.Boolean).Value(alice))
	assert.Equal(t, int64(1234567890), col("longField").(*array.Int64).Value(alice))
	assert.Equal(t, float32(1.0), col("floatField").(*array.Float32).Value(alice))
	assert.Equal(t, 3.14159, col("doubleField").(*array.Float64).Value(alice))
	assert.Equal(t, decimal128.FromI64(1234567890), col("decimalField").(*array.Decimal128).Value(alice), "12345.67890 at scale 5")
	assert.Equal(t, arrow.Date32FromTime(time.Date(2023, 4, 1, 0, 0, 0, 0, time.UTC)), col("dateField").(*array.Date32).Value(alice))
	// scripts/fixtures.sh runs the SQL with the session time zone UTC.
	assert.Equal(t, time.Date(2023, 4, 1, 12, 1, 0, 0, time.UTC).UnixMicro(), int64(col("timestampField").(*array.Timestamp).Value(alice)))
	assert.Equal(t, []byte("binary data"), col("binaryField").(*array.Binary).Value(alice))
	assert.Equal(t, int32(10), col("byteField").(*array.Int32).Value(alice))

	row := rowsJSON(t, rec)[alice]
	assert.Equal(t, []any{
		map[string]any{"arr_struct_f1": "red", "arr_struct_f2": 100.0},
		map[string]any{"arr_struct_f1": "blue", "arr_struct_f2": 200.0},
		map[string]any{"arr_struct_f1": "green", "arr_struct_f2": 300.0},
	}, row["arrayField"])
	assert.Equal(t, []any{
		map[string]any{"key": "key1", "value": map[string]any{"map_field_value_struct_f1": 123.456, "map_field_value_struct_f2": true}},
		map[string]any{"key": "key2", "value": map[string]any{"map_field_value_struct_f1": 789.012, "map_field_value_struct_f2": false}},
	}, row["mapField"])
	assert.Equal(t, map[string]any{"field1": "Alice", "field2": 30.0,
		"child_struct": map[string]any{"child_field1": 123.456, "child_field2": true}}, row["structField"])

	// Projection reads only what is asked.
	proj, err := r.ReadColumns([]string{"name", "structField"})
	require.NoError(t, err)
	defer proj.Release()
	assert.Equal(t, int64(2), proj.NumCols())
	assert.Equal(t, "Carol", proj.Column(0).(*array.String).Value(carol))
	_, err = r.ReadColumns([]string{"nope"})
	assert.ErrorIs(t, err, basefile.ErrSchemaMismatch)
}

// TestParquetSchemaMatchesSpark writes a file with the schema Spark used and
// compares the Parquet schemas node by node.
func TestParquetSchemaMatchesSpark(t *testing.T) {
	dir := fixtures.Unzip(t, sampleZip(t, "sample_table/cow/v6_complexkeygen_hivestyle.zip"))
	p := latestBaseFile(t, dir, "byteField=10/shortField=300")
	spark := openFile(t, p)
	ts, err := spark.TableSchema()
	require.NoError(t, err)

	rec, err := spark.ReadColumns(nil)
	require.NoError(t, err)
	defer rec.Release()
	data := dataColumns(t, rec)
	defer data.Release()

	var buf bytes.Buffer
	w, err := basefile.NewWriter(&buf, ts, basefile.WriterOptions{})
	require.NoError(t, err)
	require.NoError(t, w.Write(metaFromRecord(rec), data))
	info, err := w.Close()
	require.NoError(t, err)
	assert.Equal(t, int64(2), info.Rows)
	assert.Equal(t, int64(buf.Len()), info.Size)

	ours, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	st, _ := f.Stat()
	theirs, err := parquet.OpenFile(f, st.Size())
	require.NoError(t, err)
	assert.Equal(t, theirs.Schema().String(), ours.Schema().String())

	// Same footer schema and same values.
	assert.JSONEq(t, spark.Metadata()[basefile.AvroSchemaKey], openBytes(t, buf.Bytes()).Metadata()[basefile.AvroSchemaKey])
	back, err := openBytes(t, buf.Bytes()).ReadColumns(nil)
	require.NoError(t, err)
	defer back.Release()
	assert.Equal(t, rowsJSON(t, rec), rowsJSON(t, back))
}

// dataColumns drops the meta columns of a record read from a base file.
func dataColumns(t *testing.T, rec arrow.RecordBatch) arrow.RecordBatch {
	t.Helper()
	var fields []arrow.Field
	var cols []arrow.Array
	for i, f := range rec.Schema().Fields() {
		if schema.IsMetaField(f.Name) {
			continue
		}
		fields = append(fields, f)
		cols = append(cols, rec.Column(i))
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
}

// metaFromRecord carries a record's meta columns over per row, as a merge does.
func metaFromRecord(rec arrow.RecordBatch) basefile.Meta {
	get := func(name string) basefile.Strings {
		return basefile.FromArrow(rec.Column(rec.Schema().FieldIndices(name)[0]).(*array.String))
	}
	return basefile.Meta{
		CommitTime: get(schema.CommitTimeField), SeqNo: get(schema.CommitSeqNoField),
		RecordKey: get(schema.RecordKeyField), PartitionPath: get(schema.PartitionPathField),
		FileName: get(schema.FileNameField),
	}
}

// allTypes builds a batch covering every supported type with nulls and
// nesting; it returns the table schema and the record.
func allTypes(t *testing.T, n int) (*schema.Schema, arrow.RecordBatch) {
	t.Helper()
	mem := memory.DefaultAllocator
	elem := arrow.StructOf(arrow.Field{Name: "f1", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "f2", Type: arrow.PrimitiveTypes.Int32, Nullable: true})
	inner := arrow.StructOf(arrow.Field{Name: "c1", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		arrow.Field{Name: "c2", Type: arrow.FixedWidthTypes.Boolean, Nullable: true})
	nested := arrow.StructOf(arrow.Field{Name: "a", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "inner", Type: inner, Nullable: true})
	as := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "dec", Type: &arrow.Decimal128Type{Precision: 10, Scale: 5}, Nullable: true},
		{Name: "dec38", Type: &arrow.Decimal128Type{Precision: 38, Scale: 2}, Nullable: true},
		{Name: "date", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "ts_ms", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "ints", Type: arrow.ListOfNonNullable(arrow.PrimitiveTypes.Int64), Nullable: true},
		{Name: "structs", Type: arrow.ListOfNonNullable(elem), Nullable: true},
		{Name: "nested_list", Type: arrow.ListOfNonNullable(arrow.ListOfNonNullable(arrow.BinaryTypes.String)), Nullable: true},
		{Name: "m", Type: arrow.MapOfFields(arrow.Field{Name: "key", Type: arrow.BinaryTypes.String},
			arrow.Field{Name: "value", Type: inner, Nullable: true}), Nullable: true},
		{Name: "st", Type: nested, Nullable: true},
		{Name: "req", Type: arrow.BinaryTypes.String},
	}, nil)
	s, err := schema.FromArrow(as, "alltypes")
	require.NoError(t, err)

	b := array.NewRecordBuilder(mem, as)
	defer b.Release()
	for i := range n {
		null := i%5 == 3
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		for f := 1; f < 17; f++ {
			if null {
				b.Field(f).AppendNull()
			}
		}
		b.Field(17).(*array.StringBuilder).Append("req" + string(rune('a'+i%26)))
		if null {
			continue
		}
		b.Field(1).(*array.BooleanBuilder).Append(i%2 == 0)
		b.Field(2).(*array.Int32Builder).Append(int32(-i))
		b.Field(3).(*array.Float32Builder).Append(float32(i) / 2)
		b.Field(4).(*array.Float64Builder).Append(float64(i) * 1.25)
		b.Field(5).(*array.StringBuilder).Append(strings.Repeat("x", i%7))
		b.Field(6).(*array.BinaryBuilder).Append([]byte{byte(i), 0, 255})
		b.Field(7).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(i*1000003) - 5000000))
		b.Field(8).(*array.Decimal128Builder).Append(decimal128.New(int64(-i), uint64(i)*12345))
		b.Field(9).(*array.Date32Builder).Append(arrow.Date32(19000 + i))
		b.Field(10).(*array.TimestampBuilder).Append(arrow.Timestamp(int64(i)*1_000_001 - 3))
		b.Field(11).(*array.TimestampBuilder).Append(arrow.Timestamp(int64(i) * 1001))
		lb := b.Field(12).(*array.ListBuilder)
		lb.Append(true)
		for j := range i % 4 {
			lb.ValueBuilder().(*array.Int64Builder).Append(int64(j * i))
		}
		sl := b.Field(13).(*array.ListBuilder)
		sl.Append(true)
		for j := range i % 3 {
			sb := sl.ValueBuilder().(*array.StructBuilder)
			sb.Append(true)
			if j == 1 {
				sb.FieldBuilder(0).AppendNull()
			} else {
				sb.FieldBuilder(0).(*array.StringBuilder).Append("e")
			}
			sb.FieldBuilder(1).(*array.Int32Builder).Append(int32(j))
		}
		nl := b.Field(14).(*array.ListBuilder)
		nl.Append(true)
		for j := range i % 3 {
			il := nl.ValueBuilder().(*array.ListBuilder)
			il.Append(true)
			for k := range j {
				il.ValueBuilder().(*array.StringBuilder).Append(strings.Repeat("n", k+1))
			}
		}
		mb := b.Field(15).(*array.MapBuilder)
		mb.Append(true)
		for j := range i % 3 {
			mb.KeyBuilder().(*array.StringBuilder).Append("k" + string(rune('0'+j)))
			vb := mb.ItemBuilder().(*array.StructBuilder)
			if j == 1 {
				vb.AppendNull()
				continue
			}
			vb.Append(true)
			vb.FieldBuilder(0).(*array.Float64Builder).Append(float64(j) + 0.5)
			vb.FieldBuilder(1).AppendNull()
		}
		stb := b.Field(16).(*array.StructBuilder)
		stb.Append(true)
		stb.FieldBuilder(0).(*array.StringBuilder).Append("a")
		ib := stb.FieldBuilder(1).(*array.StructBuilder)
		if i%2 == 0 {
			ib.AppendNull()
		} else {
			ib.Append(true)
			ib.FieldBuilder(0).(*array.Float64Builder).Append(1.5)
			ib.FieldBuilder(1).(*array.BooleanBuilder).Append(true)
		}
	}
	return s, b.NewRecordBatch()
}

func constMeta(n int, partition string) basefile.Meta {
	keys := perRowKeys(0, n)
	return basefile.Meta{
		CommitTime:    basefile.Const("20240418172804498"),
		SeqNo:         basefile.Sequence("20240418172804498_0_", 0),
		RecordKey:     basefile.PerRow(keys),
		PartitionPath: basefile.Const(partition),
		FileName:      basefile.Const("ff32ab89-5ad0-4968-83b4-89a34c95d32f-0_0-1-1_20240418172804498.parquet"),
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts basefile.WriterOptions
		want format.CompressionCodec
	}{
		{"snappy", basefile.WriterOptions{}, format.Snappy},
		{"zstd", basefile.WriterOptions{Compression: basefile.Zstd}, format.Zstd},
		{"gzip", basefile.WriterOptions{Compression: basefile.Gzip}, format.Gzip},
		{"none small row groups", basefile.WriterOptions{Compression: basefile.Uncompressed, RowGroupRows: 7}, format.Uncompressed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 50
			s, rec := allTypes(t, n)
			defer rec.Release()
			meta := constMeta(n, "dt=2024-01-01")
			tc.opts.ExtraMetadata = map[string]string{basefile.BloomFilterTypeK: "DYNAMIC_V0"}

			var buf bytes.Buffer
			w, err := basefile.NewWriter(&buf, s, tc.opts)
			require.NoError(t, err)
			// Two writes: batches append in order.
			require.NoError(t, w.Write(sliceMeta(meta, 0, 20), rec.NewSlice(0, 20)))
			require.NoError(t, w.Write(sliceMeta(meta, 20, n), rec.NewSlice(20, n)))
			require.NoError(t, w.SetMetadata(basefile.BloomFilterKey, "AAAA"))
			info, err := w.Close()
			require.NoError(t, err)
			assert.Equal(t, int64(n), info.Rows)
			assert.Equal(t, int64(buf.Len()), info.Size)

			r := openBytes(t, buf.Bytes())
			md := r.Metadata()
			assert.Equal(t, s.WithMetaFieldsJSON(), md[basefile.AvroSchemaKey])
			assert.Equal(t, "avro", md[basefile.WriterModelKey])
			assert.Equal(t, "DYNAMIC_V0", md[basefile.BloomFilterTypeK])
			assert.Equal(t, "AAAA", md[basefile.BloomFilterKey])
			assert.Equal(t, info.MinRecordKey, md[basefile.MinRecordKeyKey])
			assert.Equal(t, info.MaxRecordKey, md[basefile.MaxRecordKeyKey])
			sorted := slices.Sorted(slices.Values(perRowKeys(0, n)))
			assert.Equal(t, sorted[0], info.MinRecordKey)
			assert.Equal(t, sorted[n-1], info.MaxRecordKey)

			pf, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			require.NoError(t, err)
			for _, rg := range pf.Metadata().RowGroups {
				for _, c := range rg.Columns {
					assert.Equal(t, tc.want, c.MetaData.Codec)
				}
			}
			if tc.opts.RowGroupRows > 0 {
				assert.Len(t, pf.Metadata().RowGroups, (n+6)/7)
			}

			got, err := r.ReadColumns(nil)
			require.NoError(t, err)
			defer got.Release()
			gotRows := rowsJSON(t, got)
			wantRows := rowsJSON(t, rec)
			require.Len(t, gotRows, n)
			gotKeys, err := r.RecordKeys()
			require.NoError(t, err)
			for i := range n {
				assert.Equal(t, "20240418172804498", gotRows[i][schema.CommitTimeField])
				assert.Equal(t, "20240418172804498_0_"+itoa(i), gotRows[i][schema.CommitSeqNoField])
				assert.Equal(t, gotKeys[i], gotRows[i][schema.RecordKeyField])
				assert.Equal(t, "dt=2024-01-01", gotRows[i][schema.PartitionPathField])
				for k := range gotRows[i] {
					if schema.IsMetaField(k) {
						delete(gotRows[i], k)
					}
				}
				assert.Equal(t, wantRows[i], gotRows[i], "row %d", i)
			}
		})
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func sliceMeta(m basefile.Meta, from, to int) basefile.Meta {
	m.RecordKey = basefile.PerRow(perRowKeys(from, to))
	m.SeqNo = basefile.Sequence("20240418172804498_0_", int64(from))
	return m
}

func perRowKeys(from, to int) []string {
	all := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		all = append(all, "key"+string(rune('a'+(i*7)%26))+string(rune('a'+i%26)))
	}
	return all
}

func TestWriterErrors(t *testing.T) {
	s, rec := allTypes(t, 10)
	defer rec.Release()

	t.Run("missing meta", func(t *testing.T) {
		w, err := basefile.NewWriter(&bytes.Buffer{}, s, basefile.WriterOptions{})
		require.NoError(t, err)
		m := constMeta(10, "")
		m.FileName = basefile.Strings{}
		assert.ErrorIs(t, w.Write(m, rec), basefile.ErrInvalidMeta)
		m = constMeta(10, "")
		m.RecordKey = basefile.PerRow([]string{"a"})
		w, err = basefile.NewWriter(&bytes.Buffer{}, s, basefile.WriterOptions{})
		require.NoError(t, err)
		assert.ErrorIs(t, w.Write(m, rec), basefile.ErrInvalidMeta, "key count differs from rows")
	})

	t.Run("null list element poisons the writer", func(t *testing.T) {
		ls, err := schema.FromArrow(arrow.NewSchema([]arrow.Field{
			{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true}}, nil), "t")
		require.NoError(t, err)
		b := array.NewListBuilder(memory.DefaultAllocator, arrow.PrimitiveTypes.Int64)
		b.Append(true)
		b.ValueBuilder().AppendNull()
		arr := b.NewArray()
		defer arr.Release()
		r := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "l", Type: arr.DataType(), Nullable: true}}, nil), []arrow.Array{arr}, 1)
		var buf bytes.Buffer
		w, err := basefile.NewWriter(&buf, ls, basefile.WriterOptions{})
		require.NoError(t, err)
		err = w.Write(constMeta(1, ""), r)
		require.ErrorIs(t, err, basefile.ErrSchemaMismatch)
		assert.Contains(t, err.Error(), "null list element")
		assert.ErrorIs(t, w.Write(constMeta(1, ""), r), basefile.ErrClosed)
		_, err = w.Close()
		assert.ErrorIs(t, err, basefile.ErrClosed)
		_, err = basefile.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		assert.Error(t, err, "no footer was written")
	})

	t.Run("schema mismatch", func(t *testing.T) {
		w, err := basefile.NewWriter(&bytes.Buffer{}, s, basefile.WriterOptions{})
		require.NoError(t, err)
		bad := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.BinaryTypes.String}}, nil),
			[]arrow.Array{array.MakeArrayOfNull(memory.DefaultAllocator, arrow.BinaryTypes.String, 1)}, 1)
		assert.ErrorIs(t, w.Write(constMeta(1, ""), bad), basefile.ErrSchemaMismatch)
	})

	t.Run("owned metadata keys", func(t *testing.T) {
		_, err := basefile.NewWriter(&bytes.Buffer{}, s, basefile.WriterOptions{ExtraMetadata: map[string]string{basefile.AvroSchemaKey: "x"}})
		assert.ErrorIs(t, err, basefile.ErrUnsupported)
	})
}

// TestMissingNullableColumn writes a batch lacking a nullable column (a column
// the table keeps after a writer dropped it): it reads back as nulls.
func TestMissingNullableColumn(t *testing.T) {
	s, err := schema.FromArrow(arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "gone", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "st", Type: arrow.StructOf(arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int32, Nullable: true}), Nullable: true},
	}, nil), "t")
	require.NoError(t, err)
	b := array.NewInt64Builder(memory.DefaultAllocator)
	b.AppendValues([]int64{1, 2}, nil)
	ids := b.NewArray()
	defer ids.Release()
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil), []arrow.Array{ids}, 2)
	var buf bytes.Buffer
	w, err := basefile.NewWriter(&buf, s, basefile.WriterOptions{})
	require.NoError(t, err)
	require.NoError(t, w.Write(constMeta(2, ""), rec))
	_, err = w.Close()
	require.NoError(t, err)
	got, err := openBytes(t, buf.Bytes()).ReadColumns([]string{"id", "gone", "st"})
	require.NoError(t, err)
	defer got.Release()
	assert.Equal(t, 2, got.Column(1).NullN())
	assert.Equal(t, 2, got.Column(2).NullN())
	assert.Equal(t, int64(2), got.Column(0).(*array.Int64).Value(1))
}
