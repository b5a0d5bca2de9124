package reader_test

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
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

// addFakeMetadataTable turns a hoodie table into one that keeps a Hudi
// metadata table, as Spark's default writes leave it: hoodie.properties
// lists the "files" partition (and an inflight one), and .hoodie/metadata
// holds a MOR table of its own, with its own timeline (the data
// instants plus an initialisation instant), partition metadata, an HFile
// base file and log files. Nothing reads their (placeholder) contents.
func addFakeMetadataTable(t *testing.T, st storage.Storage, instants []string) {
	t.Helper()
	ctx := context.Background()
	b, err := storage.ReadFile(ctx, st, table.PropertiesFile)
	require.NoError(t, err)
	props, err := table.ParseProperties(strings.NewReader(string(b)))
	require.NoError(t, err)
	props[table.KeyMetadataPartitions] = "files"
	props[table.KeyMetadataPartitionsInfl] = "record_index"
	require.NoError(t, storage.WriteFile(ctx, st, table.PropertiesFile,
		table.FormatProperties(props, table.PropertiesOptions{Last: []string{table.KeyChecksum}}), storage.CreateOptions{}))
	files := map[string]string{
		".hoodie/metadata/.hoodie/hoodie.properties": "hoodie.table.name=t_metadata\nhoodie.table.type=MERGE_ON_READ\n" +
			"hoodie.table.base.file.format=HFILE\nhoodie.table.version=6\nhoodie.timeline.layout.version=1\n",
		".hoodie/metadata/files/.hoodie_partition_metadata":                                 "#partition metadata\ncommitTime=00000000000000010\npartitionDepth=1\n",
		".hoodie/metadata/files/files-0000-0_0-5-4_00000000000000010.hfile":                 "HFILE",
		".hoodie/metadata/files/.files-0000-0_00000000000000010.log.1_0-0-0":                "#HUDI#",
		".hoodie/metadata/record_index/.hoodie_partition_metadata":                          "#partition metadata\n",
		".hoodie/metadata/record_index/record-index-0000-0_0-1-1_99999999999999999.parquet": "PAR1",
		".hoodie/metadata/.hoodie/00000000000000010.deltacommit.requested":                  "",
		".hoodie/metadata/.hoodie/00000000000000010.deltacommit.inflight":                   "",
		".hoodie/metadata/.hoodie/00000000000000010.deltacommit":                            "{}",
		".hoodie/metadata/.hoodie/99999999999999999.deltacommit.requested":                  "",
	}
	for i, inst := range instants {
		files[".hoodie/metadata/.hoodie/"+inst+".deltacommit"] = "{}"
		files[".hoodie/metadata/files/.files-0000-0_00000000000000010.log."+string(rune('2'+i))+"_0-1-1"] = "#HUDI#"
	}
	for k, v := range files {
		require.NoError(t, storage.WriteFile(ctx, st, k, []byte(v), storage.CreateOptions{}))
	}
}

// TestReadTableWithMetadataTable: a table keeping a Hudi metadata table
// opens with table.OpenForRead and reads exactly as before the metadata
// table appeared, for every query type and both table types (MOR with log
// files); nothing under .hoodie/metadata becomes a partition, file or
// instant of the read; table.Open and writer.Open refuse the table.
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

			addFakeMetadataTable(t, st, []string{c1, c2, c3})
			_, err = table.Open(ctx, st)
			require.ErrorIs(t, err, table.ErrMetadataTableEnabled)
			_, err = writer.Open(ctx, tbl, writer.Options{IndexDir: indexDir})
			require.ErrorIs(t, err, table.ErrMetadataTableEnabled, "a writer re-reads hoodie.properties")

			rtbl, err := table.OpenForRead(ctx, st)
			require.NoError(t, err)
			require.ErrorIs(t, rtbl.Writable(), table.ErrMetadataTableEnabled)
			for i, q := range queries {
				assert.Equal(t, want[i], rows(t, rtbl, q), "query %+v", q)
			}
			plan, err = reader.Plan(ctx, rtbl, reader.Options{})
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
		})
	}
}
