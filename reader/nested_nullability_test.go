package reader_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadMapOfListNullableElements reads a table whose schema says
// map<string, array<nullable string>> from base files that store the list
// elements as required (parquet-avro's 2-level lists, as Spark's and
// hoodie's files do): the Parquet column reads as list<element: utf8> (not
// null) and must conform to the table's nullable element.
func TestReadMapOfListNullableElements(t *testing.T) {
	ctx := context.Background()
	mt := arrow.MapOfFields(arrow.Field{Name: "key", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "value", Type: arrow.ListOfField(arrow.Field{Name: "element", Type: arrow.BinaryTypes.String, Nullable: true}), Nullable: true})
	s := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ts", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "m", Type: mt, Nullable: true},
	}, nil)
	want := map[string]string{
		"a": `[{"key":"x","value":["1","2"]},{"key":"y","value":null},{"key":"z","value":[]}]`,
		"b": `null`,
		"c": `[]`,
	}
	for _, typ := range []table.TableType{table.CopyOnWrite, table.MergeOnRead} {
		t.Run(string(typ), func(t *testing.T) {
			st, err := storage.NewLocal(t.TempDir())
			require.NoError(t, err)
			tbl, err := table.Create(ctx, st, table.CreateOptions{Name: "t", Type: typ, RecordKeyFields: []string{"id"}, PrecombineField: "ts"})
			require.NoError(t, err)
			w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: t.TempDir()})
			require.NoError(t, err)
			defer w.Close()

			b := array.NewRecordBuilder(memory.DefaultAllocator, s)
			ids := b.Field(0).(*array.StringBuilder)
			tss := b.Field(1).(*array.Int64Builder)
			mb := b.Field(2).(*array.MapBuilder)
			kb := mb.KeyBuilder().(*array.StringBuilder)
			lb := mb.ItemBuilder().(*array.ListBuilder)
			eb := lb.ValueBuilder().(*array.StringBuilder)
			ids.Append("a")
			tss.Append(1)
			mb.Append(true)
			kb.Append("x")
			lb.Append(true)
			eb.AppendValues([]string{"1", "2"}, nil)
			kb.Append("y")
			lb.AppendNull()
			kb.Append("z")
			lb.AppendEmptyValue()
			ids.Append("b")
			tss.Append(1)
			mb.AppendNull()
			ids.Append("c")
			tss.Append(1)
			mb.Append(true)
			rec := b.NewRecordBatch()
			b.Release()
			require.NoError(t, w.Upsert(rec))
			rec.Release()
			_, err = w.Commit(ctx)
			require.NoError(t, err)

			for _, ro := range []bool{false, true} {
				recs, err := reader.ReadAll(ctx, tbl, reader.Options{ReadOptimized: ro})
				require.NoError(t, err, "read-optimized=%v", ro)
				got := map[string]string{}
				for _, r := range recs {
					f, _ := r.Schema().FieldsByName("m")
					require.Len(t, f, 1)
					assert.True(t, arrow.TypeEqual(mt, f[0].Type), "read-optimized=%v: %s", ro, f[0].Type)
					idc := r.Column(r.Schema().FieldIndices("id")[0]).(*array.String)
					mc := r.Column(r.Schema().FieldIndices("m")[0])
					for i := 0; i < int(r.NumRows()); i++ {
						v, err := json.Marshal(mc.GetOneForMarshal(i))
						require.NoError(t, err)
						got[idc.Value(i)] = string(v)
					}
					r.Release()
				}
				assert.Equal(t, want, got, "read-optimized=%v", ro)
			}
		})
	}
}
