package writer

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rowsByKey reads a table into key -> one-row batch (meta columns included).
func rowsByKey(t *testing.T, tbl *table.Table) map[string]arrow.RecordBatch {
	t.Helper()
	ctx := context.Background()
	recs, err := reader.ReadAll(ctx, tbl, reader.Options{})
	require.NoError(t, err)
	out := map[string]arrow.RecordBatch{}
	for _, r := range recs {
		keys := arrowutil.Column(r, schema.RecordKeyField).(*array.String)
		for i := 0; i < int(r.NumRows()); i++ {
			row, err := arrowutil.Take(ctx, r, []int64{int64(i)})
			require.NoError(t, err)
			_, dup := out[keys.Value(i)]
			require.False(t, dup, "duplicate key %s", keys.Value(i))
			out[keys.Value(i)] = row
		}
		r.Release()
	}
	return out
}

// withColumn returns row with column name replaced by a one-value array.
func withColumn(row arrow.RecordBatch, name string, value arrow.Array) arrow.RecordBatch {
	cols := append([]arrow.Array(nil), row.Columns()...)
	cols[row.Schema().FieldIndices(name)[0]] = value
	return array.NewRecordBatch(row.Schema(), cols, row.NumRows())
}

func dataOnly(row arrow.RecordBatch) arrow.RecordBatch {
	var names []string
	for _, f := range row.Schema().Fields() {
		if !schema.IsMetaField(f.Name) {
			names = append(names, f.Name)
		}
	}
	return arrowutil.Project(row, names)
}

// TestUpsertIntoSparkTables upserts into copy-on-write tables Spark wrote:
// one update (Bob's isActive flipped) and one insert (a copy of Bob with
// id 99). Every other row keeps its data and meta columns; the table's
// record count grows by one.
func TestUpsertIntoSparkTables(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct{ bob, newKey string }{
		"cow/v6_nonpartitioned":            {"2", "99"},
		"cow/v6_simplekeygen_nonhivestyle": {"2", "99"},
		"cow/v6_complexkeygen_hivestyle":   {"id:2,name:Bob", "id:99,name:Bob"},
	}
	byName := map[string]fixtures.Fixture{}
	for _, fx := range fixtures.All(t) {
		byName[fx.Name] = fx
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			st, err := storage.NewLocal(fixtures.Unzip(t, byName[name].Zip))
			require.NoError(t, err)
			tbl, err := table.Open(ctx, st)
			require.NoError(t, err)
			before := rowsByKey(t, tbl)
			require.Len(t, before, 4)
			bob := before[c.bob]
			require.NotNil(t, bob, "key %s", c.bob)

			wasActive := arrowutil.Column(bob, "isActive").(*array.Boolean).Value(0)
			bb := array.NewBooleanBuilder(memory.DefaultAllocator)
			bb.Append(!wasActive)
			flipped := withColumn(dataOnly(bob), "isActive", bb.NewArray())
			ib := array.NewInt32Builder(memory.DefaultAllocator)
			ib.Append(99)
			newRow := withColumn(dataOnly(bob), "id", ib.NewArray())

			w, err := Open(ctx, tbl, Options{IndexDir: t.TempDir()})
			require.NoError(t, err)
			require.NoError(t, w.Upsert(flipped))
			require.NoError(t, w.Upsert(newRow))
			res, err := w.Commit(ctx)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			assert.Equal(t, int64(1), res.Stats.Updates)
			assert.Equal(t, int64(1), res.Stats.Inserts)
			assert.Equal(t, int64(1), res.Stats.IndexHits, "the index was bootstrapped from Spark's files")

			after := rowsByKey(t, tbl)
			require.Len(t, after, 5)
			assert.Equal(t, !wasActive, arrowutil.Column(after[c.bob], "isActive").(*array.Boolean).Value(0))
			assert.Equal(t, res.Instant, arrowutil.Column(after[c.bob], schema.CommitTimeField).(*array.String).Value(0))
			assert.Equal(t, res.Instant, arrowutil.Column(after[c.newKey], schema.CommitTimeField).(*array.String).Value(0))
			for k, old := range before {
				if k == c.bob {
					continue
				}
				now := after[k]
				for _, f := range old.Schema().Fields() {
					if f.Name == schema.FileNameField {
						continue // rewritten when the file group is rewritten
					}
					assert.Equal(t, fmt.Sprint(arrowutil.Column(old, f.Name)), fmt.Sprint(arrowutil.Column(now, f.Name)), "key %s column %s", k, f.Name)
				}
			}
		})
	}
}
