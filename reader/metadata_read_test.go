package reader_test

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var mdtSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ts", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "p", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// mdtUpsert commits rows id -> v, partitioned by the id's first letter.
func mdtUpsert(t *testing.T, w *writer.Writer, ids []string, ts, v int64) string {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, mdtSchema)
	for _, id := range ids {
		b.Field(0).(*array.StringBuilder).Append(id)
		b.Field(1).(*array.Int64Builder).Append(ts)
		b.Field(2).(*array.StringBuilder).Append(id[:1])
		b.Field(3).(*array.Int64Builder).Append(v)
	}
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	require.NoError(t, w.Upsert(rec))
	res, err := w.Commit(context.Background())
	require.NoError(t, err)
	return res.Instant
}

// addUnmaintainedPartitions turns a hoodie table whose metadata table
// keeps the files partition into one with metadata partitions hoodie
// does not maintain, as Spark leaves it while building its record index:
// hoodie.properties lists "files" and the inflight "record_index", and
// .hoodie/metadata/record_index holds partition metadata, a base file and
// a log file. Nothing reads their (placeholder) contents.
func addUnmaintainedPartitions(t *testing.T, st storage.Storage) {
	t.Helper()
	ctx := context.Background()
	b, err := storage.ReadFile(ctx, st, table.PropertiesFile)
	require.NoError(t, err)
	props, err := table.ParseProperties(strings.NewReader(string(b)))
	require.NoError(t, err)
	require.Equal(t, "files", props[table.KeyMetadataPartitions])
	props[table.KeyMetadataPartitionsInfl] = "record_index"
	require.NoError(t, storage.WriteFile(ctx, st, table.PropertiesFile,
		table.FormatProperties(props, table.PropertiesOptions{Last: []string{table.KeyChecksum}}), storage.CreateOptions{}))
	for k, v := range map[string]string{
		".hoodie/metadata/record_index/.hoodie_partition_metadata":                         "#partition metadata\n",
		".hoodie/metadata/record_index/record-index-0000-0_0-1-1_99999999999999999.hfile":  "HFILE",
		".hoodie/metadata/record_index/.record-index-0000-0_99999999999999999.log.1_0-1-1": "#HUDI#",
	} {
		require.NoError(t, storage.WriteFile(ctx, st, k, []byte(v), storage.CreateOptions{}))
	}
}

// TestReadTableWithMetadataTable: a table keeping a Hudi metadata table
// reads exactly as before the metadata table appeared, for every query
// type and both table types (MOR with log files); nothing under
// .hoodie/metadata becomes a partition, file or instant of the read.
// With the files partition alone (as metadata.Enable and Spark's defaults
// leave it) the table stays writable: table.Open accepts it, OpenForRead
// gives a writable handle, and metadata.Validate finds the metadata table
// in step with storage. With partitions hoodie does not maintain (an
// index being built) table.Open and writer.Open refuse the table, naming
// them, and OpenForRead reads it read-only. Disabled again, a writer
// asked for the metadata table (writer.Options.MetadataTable) rebuilds
// it, and its commit is read.
func TestReadTableWithMetadataTable(t *testing.T) {
	ctx := context.Background()
	for _, typ := range []table.TableType{table.CopyOnWrite, table.MergeOnRead} {
		t.Run(string(typ), func(t *testing.T) {
			st, err := storage.NewLocal(t.TempDir())
			require.NoError(t, err)
			tbl, err := table.Create(ctx, st, table.CreateOptions{Name: "mdt", Type: typ, RecordKeyFields: []string{"id"},
				PartitionFields: []string{"p"}, PrecombineField: "ts"})
			require.NoError(t, err)
			indexDir := t.TempDir()
			w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: indexDir})
			require.NoError(t, err)
			c1 := mdtUpsert(t, w, []string{"a1", "a2", "b1", "c1"}, 1, 1)
			c2 := mdtUpsert(t, w, []string{"a1", "b1", "b2"}, 2, 2)
			c3 := mdtUpsert(t, w, []string{"c1", "d1"}, 3, 3)
			require.NoError(t, w.Close())
			queries := []reader.Options{{}, {ReadOptimized: true}, {AsOf: c1}, {AsOf: c2}, {BeginExclusive: c1},
				{BeginExclusive: c2, AsOf: c3}}
			var want []map[string]int64
			for _, q := range queries {
				want = append(want, rows(t, tbl, q))
			}
			assert.Equal(t, map[string]int64{"a1": 2, "a2": 1, "b1": 2, "b2": 2, "c1": 3, "d1": 3}, want[0])
			plan, err := reader.Plan(ctx, tbl, reader.Options{})
			require.NoError(t, err)
			if typ == table.MergeOnRead {
				require.True(t, plan.NeedsMerge(), "the MOR table has log files")
			}
			partsBefore := plan.View.Partitions()

			// readsAsBefore checks every query and the plan's files on a
			// handle opened now.
			readsAsBefore := func(t *testing.T, rtbl *table.Table) {
				t.Helper()
				for i, q := range queries {
					assert.Equal(t, want[i], rows(t, rtbl, q), "query %+v", q)
				}
				plan, err := reader.Plan(ctx, rtbl, reader.Options{})
				require.NoError(t, err)
				assert.Equal(t, partsBefore, plan.View.Partitions())
				assert.Equal(t, []string{"a", "b", "c", "d"}, plan.View.Partitions())
				for _, f := range plan.Files {
					assert.False(t, strings.HasPrefix(f.Path, table.MetaFolder+"/"), f.Path)
				}
				for _, f := range plan.View.Hidden {
					assert.False(t, strings.HasPrefix(f.Path, table.MetaFolder+"/"), f.Path)
				}
				tl, err := timeline.Load(ctx, rtbl.Storage())
				require.NoError(t, err)
				require.Len(t, tl.Instants(), 3, "only the data table's instants:\n%s", tl)
			}

			// The files partition alone: writable, read as before.
			require.NoError(t, metadata.Enable(ctx, tbl, metadata.Options{}))
			ok, err := storage.Exists(ctx, st, ".hoodie/metadata/.hoodie/hoodie.properties")
			require.NoError(t, err)
			require.True(t, ok, "Enable built the metadata table")
			otbl, err := table.Open(ctx, st)
			require.NoError(t, err)
			assert.Equal(t, []string{"files"}, otbl.Config().MetadataPartitions)
			rtbl, err := table.OpenForRead(ctx, st)
			require.NoError(t, err)
			require.NoError(t, rtbl.Writable())
			readsAsBefore(t, rtbl)
			mismatches, err := metadata.Validate(ctx, otbl)
			require.NoError(t, err)
			assert.Empty(t, mismatches)

			// Partitions hoodie does not maintain: read-only.
			addUnmaintainedPartitions(t, st)
			_, err = table.Open(ctx, st)
			require.ErrorIs(t, err, table.ErrMetadataTableEnabled)
			assert.Contains(t, err.Error(), `hoodie.table.metadata.partitions.inflight="record_index"`)
			assert.Contains(t, err.Error(), table.MetadataTableAdvice)
			_, err = writer.Open(ctx, tbl, writer.Options{IndexDir: indexDir})
			require.ErrorIs(t, err, table.ErrMetadataTableEnabled, "a writer re-reads hoodie.properties")

			rtbl, err = table.OpenForRead(ctx, st)
			require.NoError(t, err)
			require.ErrorIs(t, rtbl.Writable(), table.ErrMetadataTableEnabled)
			readsAsBefore(t, rtbl)

			// Disabled as Spark's hoodie.metadata.enable=false does, the
			// table is writable again; a writer asked for the metadata
			// table rebuilds it, and its commit is read through both.
			require.NoError(t, metadata.Disable(ctx, tbl))
			w, err = writer.Open(ctx, tbl, writer.Options{IndexDir: indexDir, MetadataTable: true})
			require.NoError(t, err)
			mdtUpsert(t, w, []string{"a1", "e1"}, 4, 4)
			require.NoError(t, w.Close())
			rtbl, err = table.OpenForRead(ctx, st)
			require.NoError(t, err)
			require.NoError(t, rtbl.Writable())
			assert.Equal(t, []string{"files"}, rtbl.Config().MetadataPartitions)
			latest := maps.Clone(want[0])
			latest["a1"], latest["e1"] = 4, 4
			assert.Equal(t, latest, rows(t, rtbl, reader.Options{}))
			assert.Equal(t, want[0], rows(t, rtbl, reader.Options{AsOf: c3}))
			mismatches, err = metadata.Validate(ctx, rtbl)
			require.NoError(t, err)
			assert.Empty(t, mismatches)
		})
	}
}
