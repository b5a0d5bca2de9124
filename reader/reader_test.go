package reader_test

import (
	"context"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var sch = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ts", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

func upsert(t *testing.T, w *writer.Writer, ids []string, ts, v int64) string {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	for _, id := range ids {
		b.Field(0).(*array.StringBuilder).Append(id)
		b.Field(1).(*array.Int64Builder).Append(ts)
		b.Field(2).(*array.Int64Builder).Append(v)
	}
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	require.NoError(t, w.Upsert(rec))
	res, err := w.Commit(context.Background())
	require.NoError(t, err)
	return res.Instant
}

// rows reads id -> v.
func rows(t *testing.T, tbl *table.Table, opts reader.Options) map[string]int64 {
	t.Helper()
	recs, err := reader.ReadAll(context.Background(), tbl, opts)
	require.NoError(t, err)
	out := map[string]int64{}
	for _, r := range recs {
		ids := r.Column(r.Schema().FieldIndices("id")[0]).(*array.String)
		vs := r.Column(r.Schema().FieldIndices("v")[0]).(*array.Int64)
		for i := 0; i < int(r.NumRows()); i++ {
			out[ids.Value(i)] = vs.Value(i)
		}
		r.Release()
	}
	return out
}

// TestTimeTravelAndIncremental writes three commits and reads the table as
// of each, and the records changed after each.
func TestTimeTravelAndIncremental(t *testing.T) {
	ctx := context.Background()
	st, err := storage.NewLocal(t.TempDir())
	require.NoError(t, err)
	tbl, err := table.Create(ctx, st, table.CreateOptions{Name: "t", RecordKeyFields: []string{"id"}, PrecombineField: "ts"})
	require.NoError(t, err)
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: t.TempDir()})
	require.NoError(t, err)
	defer w.Close()
	c1 := upsert(t, w, []string{"a", "b"}, 1, 1)
	c2 := upsert(t, w, []string{"b", "c"}, 2, 2)
	c3 := upsert(t, w, []string{"c"}, 3, 3)

	assert.Equal(t, map[string]int64{"a": 1, "b": 1}, rows(t, tbl, reader.Options{AsOf: c1}))
	assert.Equal(t, map[string]int64{"a": 1, "b": 2, "c": 2}, rows(t, tbl, reader.Options{AsOf: c2}))
	assert.Equal(t, map[string]int64{"a": 1, "b": 2, "c": 3}, rows(t, tbl, reader.Options{}))
	assert.Equal(t, map[string]int64{"b": 2, "c": 3}, rows(t, tbl, reader.Options{BeginExclusive: c1}))
	assert.Equal(t, map[string]int64{"b": 2, "c": 2}, rows(t, tbl, reader.Options{BeginExclusive: c1, AsOf: c2}))
	assert.Empty(t, rows(t, tbl, reader.Options{BeginExclusive: c3}))
}

// TestReadOptimizedSparkMOR reads the base files of Spark's merge-on-read
// sample: the update in the log file is not part of the read-optimized view.
func TestReadOptimizedSparkMOR(t *testing.T) {
	ctx := context.Background()
	for _, fx := range fixtures.All(t) {
		if fx.Name != "mor/avro/v6_trips_8i1u" {
			continue
		}
		st, err := storage.NewLocal(fixtures.Unzip(t, fx.Zip))
		require.NoError(t, err)
		tbl, err := table.Open(ctx, st)
		require.NoError(t, err)
		recs, err := reader.ReadAll(ctx, tbl, reader.Options{ReadOptimized: true})
		require.NoError(t, err)
		var riders []string
		for _, r := range recs {
			c := r.Column(r.Schema().FieldIndices("rider")[0]).(*array.String)
			for i := 0; i < c.Len(); i++ {
				riders = append(riders, c.Value(i))
			}
			r.Release()
		}
		sort.Strings(riders)
		assert.Equal(t, []string{"rider-A", "rider-C", "rider-D", "rider-E", "rider-F", "rider-G", "rider-I", "rider-J"}, riders)
		return
	}
	t.Fatal("sample mor/avro/v6_trips_8i1u not found")
}

// TestSparkMORSnapshot reads every Spark-written merge-on-read sample with
// log files merged and checks the rows its SQL implies.
func TestSparkMORSnapshot(t *testing.T) {
	ctx := context.Background()
	active := func(m map[string]bool) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	four := active(map[string]bool{"Alice": false, "Bob": false, "Carol": true, "Diana": true})
	want := map[string]struct {
		key, col string
		rows     map[string]any
	}{
		"mor/avro/v6_trips_8i1u": {"rider", "fare", map[string]any{"rider-A": 19.10, "rider-C": 27.70, "rider-D": 25.0, "rider-E": 93.50,
			"rider-F": 34.15, "rider-G": 43.40, "rider-I": 41.06, "rider-J": 17.85}},
		"mor/parquet/v6_nonpartitioned":                           {"name", "isActive", four},
		"mor/parquet/v6_simplekeygen_nonhivestyle":                {"name", "isActive", four},
		"mor/parquet/v6_complexkeygen_hivestyle":                  {"name", "isActive", four},
		"mor/parquet/v6_simplekeygen_hivestyle_no_metafields":     {"name", "isActive", four},
		"mor/parquet/v6_simplekeygen_nonhivestyle_overwritetable": {"name", "isActive", active(map[string]bool{"Diana": false})},
		"mor/parquet/v6_nonpartitioned_rollback":                  {"name", "isActive", active(map[string]bool{"Alice": true, "Bob": true, "Carol": true})},
		"mor/parquet/v6_empty":                                    {"name", "isActive", map[string]any{}},
	}
	seen := 0
	for _, fx := range fixtures.All(t) {
		w, ok := want[fx.Name]
		if !ok {
			continue
		}
		seen++
		t.Run(fx.Name, func(t *testing.T) {
			st, err := storage.NewLocal(fixtures.Unzip(t, fx.Zip))
			require.NoError(t, err)
			tbl, err := table.Open(ctx, st)
			require.NoError(t, err)
			recs, err := reader.ReadAll(ctx, tbl, reader.Options{})
			require.NoError(t, err)
			got := map[string]any{}
			for _, r := range recs {
				k := r.Column(r.Schema().FieldIndices(w.key)[0])
				v := r.Column(r.Schema().FieldIndices(w.col)[0])
				for i := 0; i < int(r.NumRows()); i++ {
					name := k.GetOneForMarshal(i).(string)
					_, dup := got[name]
					assert.False(t, dup, "duplicate row %s", name)
					got[name] = v.GetOneForMarshal(i)
				}
				r.Release()
			}
			assert.Equal(t, w.rows, got)
		})
	}
	assert.Equal(t, len(want), seen, "samples found")
}
