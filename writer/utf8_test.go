package writer_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// utf8Schema has a string record key, partition and precombine field and
// strings nested in a struct, a list and a map.
var utf8Schema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "part", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ts", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "address", Type: arrow.StructOf(
		arrow.Field{Name: "city", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "zip", Type: arrow.BinaryTypes.String, Nullable: true}), Nullable: true},
	{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	{Name: "attrs", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.BinaryTypes.String), Nullable: true},
	{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// utf8Row is one row of utf8Schema.
type utf8Row struct {
	id, part, ts, city, zip string
	tags                    []string
	attrs                   [][2]string
	n                       int64
}

func goodRow(id string, ts string, n int64) utf8Row {
	return utf8Row{id: id, part: "p", ts: ts, city: "Zürich", zip: "8001", tags: []string{"a", "日本"},
		attrs: [][2]string{{"k", "v"}, {"é", "🙂"}}, n: n}
}

func utf8Batch(rows []utf8Row) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, utf8Schema)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.StringBuilder).Append(r.id)
		b.Field(1).(*array.StringBuilder).Append(r.part)
		b.Field(2).(*array.StringBuilder).Append(r.ts)
		sb := b.Field(3).(*array.StructBuilder)
		sb.Append(true)
		sb.FieldBuilder(0).(*array.StringBuilder).Append(r.city)
		sb.FieldBuilder(1).(*array.StringBuilder).Append(r.zip)
		lb := b.Field(4).(*array.ListBuilder)
		lb.Append(true)
		for _, tag := range r.tags {
			lb.ValueBuilder().(*array.StringBuilder).Append(tag)
		}
		mb := b.Field(5).(*array.MapBuilder)
		mb.Append(true)
		for _, kv := range r.attrs {
			mb.KeyBuilder().(*array.StringBuilder).Append(kv[0])
			mb.ItemBuilder().(*array.StringBuilder).Append(kv[1])
		}
		b.Field(6).(*array.Int64Builder).Append(r.n)
	}
	return b.NewRecordBatch()
}

// utf8Table creates a table of utf8Schema with one committed batch (and,
// merge-on-read, a second one that updates into log files).
func utf8Table(t *testing.T, typ table.TableType) (*table.Table, *writer.Writer, string) {
	t.Helper()
	ctx := context.Background()
	root := t.TempDir()
	base := filepath.Join(root, "tbl")
	st, err := storage.Open(ctx, base, storage.Options{})
	require.NoError(t, err)
	tbl, err := table.Create(ctx, st, table.CreateOptions{Name: "utf8", Type: typ,
		RecordKeyFields: []string{"id"}, PartitionFields: []string{"part"}, PrecombineField: "ts"})
	require.NoError(t, err)
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: filepath.Join(root, "index"), Parallelism: 1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	commitRows(t, w, []utf8Row{goodRow("k0", "1", 0), goodRow("k1", "1", 1), goodRow("k2", "1", 2)})
	commitRows(t, w, []utf8Row{goodRow("k0", "2", 10)})
	return tbl, w, base
}

func commitRows(t *testing.T, w *writer.Writer, rows []utf8Row) {
	t.Helper()
	b := utf8Batch(rows)
	defer b.Release()
	require.NoError(t, w.Upsert(b))
	res, err := w.Commit(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, res.Instant)
}

// readUTF8Table returns id -> n of the snapshot, after checking that every
// string read back is valid UTF-8.
func readUTF8Table(t *testing.T, tbl *table.Table) map[string]int64 {
	t.Helper()
	recs, err := reader.ReadAll(context.Background(), tbl, reader.Options{})
	require.NoError(t, err)
	out := map[string]int64{}
	for _, rec := range recs {
		require.NoError(t, arrowutil.ValidateUTF8(rec))
		id := rec.Column(rec.Schema().FieldIndices("id")[0]).(*array.String)
		n := rec.Column(rec.Schema().FieldIndices("n")[0]).(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			out[id.Value(i)] = n.Value(i)
		}
		rec.Release()
	}
	return out
}

// TestInvalidUTF8Refused puts invalid UTF-8 into each kind of string field
// of row 1 of a batch that updates stored keys (copy-on-write: a merged
// base file; merge-on-read: log blocks) and inserts new ones: the batch is
// refused whole with ErrInvalidUTF8 naming the row, the field and the
// bytes, the table's timeline and files stay byte for byte as they were,
// and a valid commit afterwards works.
func TestInvalidUTF8Refused(t *testing.T) {
	const bad = "x\xff\xfey"
	for _, typ := range []table.TableType{table.CopyOnWrite, table.MergeOnRead} {
		for _, tc := range []struct {
			field string
			spoil func(r *utf8Row)
		}{
			{"id", func(r *utf8Row) { r.id = bad }},
			{"part", func(r *utf8Row) { r.part = bad }},
			{"ts", func(r *utf8Row) { r.ts = bad }},
			{"address.city", func(r *utf8Row) { r.city = bad }},
			{"tags[]", func(r *utf8Row) { r.tags = []string{"ok", bad} }},
			{"attrs{key}", func(r *utf8Row) { r.attrs = [][2]string{{"ok", "v"}, {bad, "v"}} }},
			{"attrs{value}", func(r *utf8Row) { r.attrs = [][2]string{{"k", bad}} }},
		} {
			t.Run(fmt.Sprintf("%s/%s", typ, tc.field), func(t *testing.T) {
				ctx := context.Background()
				tbl, w, base := utf8Table(t, typ)
				before := hashTree(t, base)
				want := readUTF8Table(t, tbl)

				rows := []utf8Row{goodRow("k1", "5", 100), goodRow("k2", "5", 200), goodRow("new", "5", 300)}
				tc.spoil(&rows[1])
				for _, buffer := range []func(arrow.RecordBatch) error{w.Upsert, w.Delete} {
					b := utf8Batch(rows)
					err := buffer(b)
					b.Release()
					require.ErrorIs(t, err, writer.ErrInvalidUTF8)
					require.ErrorIs(t, err, writer.ErrBadRecord)
					msg := err.Error()
					assert.Contains(t, msg, "row 1")
					assert.Contains(t, msg, fmt.Sprintf("field %q", tc.field))
					assert.Contains(t, msg, `"\xff\xfe" at byte 1`)
					row, field, ok := refusedRow(err)
					require.True(t, ok)
					assert.Equal(t, 1, row)
					assert.Equal(t, tc.field, field)
					assert.Equal(t, 0, w.Buffered(), "nothing of the batch is buffered")
				}
				res, err := w.Commit(ctx)
				require.NoError(t, err)
				assert.Empty(t, res.Instant, "nothing to commit")
				assert.Equal(t, before, hashTree(t, base), "timeline and files unchanged")
				assert.Equal(t, want, readUTF8Table(t, tbl))

				// A valid batch buffered before a refused one commits
				// alone; so does the corrected batch.
				good := utf8Batch([]utf8Row{goodRow("k2", "6", 222)})
				require.NoError(t, w.Upsert(good))
				good.Release()
				b := utf8Batch(rows)
				require.ErrorIs(t, w.Upsert(b), writer.ErrInvalidUTF8)
				b.Release()
				assert.Equal(t, 1, w.Buffered())
				res, err = w.Commit(ctx)
				require.NoError(t, err)
				require.NotEmpty(t, res.Instant)
				want["k2"] = 222
				assert.Equal(t, want, readUTF8Table(t, tbl))

				rows[1] = goodRow("k1", "7", 111)
				commitRows(t, w, rows)
				want["k1"], want["new"] = 111, 300
				assert.Equal(t, want, readUTF8Table(t, tbl))
			})
		}
	}
}

// TestInvalidUTF8RefusedEveryOperation: inserts, bulk inserts and deletes
// (whose other columns are ignored, but must be UTF-8 too) refuse such a
// batch the same way; a field name that is not UTF-8 is a schema error.
func TestInvalidUTF8RefusedEveryOperation(t *testing.T) {
	tbl, w, base := utf8Table(t, table.CopyOnWrite)
	before := hashTree(t, base)
	rows := []utf8Row{goodRow("a", "9", 1), goodRow("b", "9", 2)}
	rows[1].zip = "\xc3"
	for name, buffer := range map[string]func(arrow.RecordBatch) error{"insert": w.Insert, "bulk_insert": w.BulkInsert, "delete": w.Delete} {
		b := utf8Batch(rows)
		err := buffer(b)
		b.Release()
		require.ErrorIs(t, err, writer.ErrInvalidUTF8, name)
		assert.Contains(t, err.Error(), `row 1: field "address.zip"`, name)
	}

	fields := append([]arrow.Field(nil), utf8Schema.Fields()...)
	fields = append(fields, arrow.Field{Name: "na\xffme", Type: arrow.BinaryTypes.String, Nullable: true})
	bld := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer bld.Release()
	cols := utf8Batch([]utf8Row{goodRow("c", "9", 3)})
	defer cols.Release()
	arrs := append([]arrow.Array(nil), cols.Columns()...)
	extra := array.NewStringBuilder(memory.DefaultAllocator)
	extra.Append("v")
	ea := extra.NewArray()
	extra.Release()
	defer ea.Release()
	named := array.NewRecordBatch(arrow.NewSchema(fields, nil), append(arrs, ea), 1)
	defer named.Release()
	err := w.Upsert(named)
	require.ErrorIs(t, err, writer.ErrSchema)
	assert.Contains(t, err.Error(), `"na\xffme"`)

	assert.Equal(t, 0, w.Buffered())
	res, err := w.Commit(context.Background())
	require.NoError(t, err)
	assert.Empty(t, res.Instant)
	assert.Equal(t, before, hashTree(t, base))
	got := readUTF8Table(t, tbl)
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	assert.Equal(t, []string{"k0", "k1", "k2"}, keys)
}
