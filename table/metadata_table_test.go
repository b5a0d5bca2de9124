package table_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sparkMORProperties is hoodie.properties as Hudi 0.15 on Spark 3.5 writes
// it for a merge-on-read table created by a datasource write with default
// settings (metadata table on), verbatim.
const sparkMORProperties = `#Updated at 2026-12-06T07:24:16.056672637Z
#Sun Dec 06 07:24:16 UTC 2026
hoodie.compaction.payload.class=org.apache.hudi.common.model.OverwriteWithLatestAvroPayload
hoodie.table.type=MERGE_ON_READ
hoodie.table.metadata.partitions=files
hoodie.table.precombine.field=ts
hoodie.table.partition.fields=dt
hoodie.archivelog.folder=archived
hoodie.table.cdc.enabled=false
hoodie.timeline.layout.version=1
hoodie.table.checksum=2621498082
hoodie.datasource.write.drop.partition.columns=false
hoodie.table.timeline.timezone=LOCAL
hoodie.table.name=t_merge_on_read
hoodie.table.recordkey.fields=id
hoodie.compaction.record.merger.strategy=eeb8d96f-b1e4-49fd-bbf8-28ac514178e5
hoodie.datasource.write.hive_style_partitioning=false
hoodie.partition.metafile.use.base.format=false
hoodie.table.metadata.partitions.inflight=
hoodie.table.keygenerator.class=org.apache.hudi.keygen.SimpleKeyGenerator
hoodie.populate.meta.fields=true
hoodie.table.base.file.format=PARQUET
hoodie.database.name=
hoodie.datasource.write.partitionpath.urlencode=false
hoodie.table.version=6
`

// sparkCOWProperties is the same for a copy-on-write table.
const sparkCOWProperties = `#Updated at 2026-12-06T07:24:08.115715450Z
#Sun Dec 06 07:24:08 UTC 2026
hoodie.table.type=COPY_ON_WRITE
hoodie.table.metadata.partitions=files
hoodie.table.precombine.field=ts
hoodie.table.partition.fields=dt
hoodie.table.cdc.enabled=false
hoodie.archivelog.folder=archived
hoodie.timeline.layout.version=1
hoodie.table.checksum=33587975
hoodie.datasource.write.drop.partition.columns=false
hoodie.table.timeline.timezone=LOCAL
hoodie.table.recordkey.fields=id
hoodie.table.name=t_copy_on_write
hoodie.partition.metafile.use.base.format=false
hoodie.datasource.write.hive_style_partitioning=false
hoodie.table.metadata.partitions.inflight=
hoodie.populate.meta.fields=true
hoodie.table.keygenerator.class=org.apache.hudi.keygen.SimpleKeyGenerator
hoodie.table.base.file.format=PARQUET
hoodie.database.name=
hoodie.datasource.write.partitionpath.urlencode=false
hoodie.table.version=6
`

// sparkMORFiles are the other files of that MOR table: three deltacommits
// (the second an update into log files), three partitions, and the
// metadata table under .hoodie/metadata with its own timeline, properties
// and "files" partition (which has partition metadata of its own).
var sparkMORFiles = []string{
	".hoodie/20261206072415617.deltacommit",
	".hoodie/20261206072415617.deltacommit.inflight",
	".hoodie/20261206072415617.deltacommit.requested",
	".hoodie/20261206072417034.deltacommit",
	".hoodie/20261206072417034.deltacommit.inflight",
	".hoodie/20261206072417034.deltacommit.requested",
	".hoodie/20261206072418182.deltacommit",
	".hoodie/20261206072418182.deltacommit.inflight",
	".hoodie/20261206072418182.deltacommit.requested",
	".hoodie/metadata/.hoodie/00000000000000010.deltacommit",
	".hoodie/metadata/.hoodie/00000000000000010.deltacommit.inflight",
	".hoodie/metadata/.hoodie/00000000000000010.deltacommit.requested",
	".hoodie/metadata/.hoodie/20261206072415617.deltacommit",
	".hoodie/metadata/.hoodie/20261206072415617.deltacommit.inflight",
	".hoodie/metadata/.hoodie/20261206072415617.deltacommit.requested",
	".hoodie/metadata/.hoodie/20261206072418182.deltacommit.requested",
	".hoodie/metadata/.hoodie/hoodie.properties",
	".hoodie/metadata/files/.files-0000-0_00000000000000010.log.1_0-0-0",
	".hoodie/metadata/files/.files-0000-0_00000000000000010.log.2_0-148-162",
	".hoodie/metadata/files/.hoodie_partition_metadata",
	".hoodie/metadata/files/files-0000-0_0-121-131_00000000000000010.hfile",
	".hoodie/metadata/files/files-0000-0_0-5-4_00000000000000010.parquet",
	"2024-01-01/.8c656ddf-38f3-4f14-b27c-85e726216f86-0_20261206072415617.log.1_1-167-189",
	"2024-01-01/.hoodie_partition_metadata",
	"2024-01-01/8c656ddf-38f3-4f14-b27c-85e726216f86-0_1-138-154_20261206072415617.parquet",
	"2024-01-02/.485d0a00-6ba2-4b84-a27b-b43219eac4d3-0_20261206072415617.log.1_0-167-188",
	"2024-01-02/.hoodie_partition_metadata",
	"2024-01-02/485d0a00-6ba2-4b84-a27b-b43219eac4d3-0_0-138-153_20261206072415617.parquet",
	"2024-01-03/.hoodie_partition_metadata",
	"2024-01-03/db83f32c-62e7-4f49-89a2-f3ebd2928bcd-0_0-196-220_20261206072418182.parquet",
}

func sparkConfig(t *testing.T, content string) *table.Config {
	t.Helper()
	props, err := table.ParseProperties(strings.NewReader(content))
	require.NoError(t, err)
	cfg, err := table.ParseConfig(props)
	require.NoError(t, err)
	return cfg
}

// withMetadataPartitions is Spark-written properties content with
// hoodie.table.metadata.partitions set to parts (as Spark writes it with
// more metadata indexes enabled; the checksum does not cover it).
func withMetadataPartitions(t *testing.T, content, parts string) string {
	t.Helper()
	const line = "hoodie.table.metadata.partitions=files\n"
	require.Contains(t, content, line)
	return strings.Replace(content, line, "hoodie.table.metadata.partitions="+parts+"\n", 1)
}

// assertMetadataRefusal checks that err refuses a table for its metadata
// table: ErrMetadataTableEnabled, naming the metadata partitions (and
// the inflight ones, if any) and saying how to proceed.
func assertMetadataRefusal(t *testing.T, err error, parts, inflight string) {
	t.Helper()
	require.ErrorIs(t, err, table.ErrMetadataTableEnabled)
	assert.Contains(t, err.Error(), fmt.Sprintf("%s=%q", table.KeyMetadataPartitions, parts))
	if inflight != "" {
		assert.Contains(t, err.Error(), fmt.Sprintf("%s=%q", table.KeyMetadataPartitionsInfl, inflight))
	}
	assert.Contains(t, err.Error(), table.MetadataTableAdvice)
	for _, want := range []string{".hoodie/metadata", "hoodie.metadata.enable=false", "Spark", `"files"`,
		"hoodie.metadata.index.column.stats.enable=false", "hoodie.metadata.record.index.enable=false", "hoodie metadata enable"} {
		assert.Contains(t, err.Error(), want)
	}
}

// TestValidateAcceptsSparkDefaults: the properties Spark writes by default
// (a metadata table of the "files" partition, empty database and inflight
// list, LOCAL timezone, the default merger, ...) pass ValidateRead,
// ValidateWrite and Validate: hoodie maintains the files partition. With
// other metadata partitions (column_stats, record_index, bloom_filters,
// which hoodie does not maintain) ValidateRead still passes and Validate
// refuses them for the metadata table alone, with an error that names the
// partitions and says how to proceed; once Spark dropped them (files
// only) or disabled the metadata table (the list emptied), Validate
// passes.
func TestValidateAcceptsSparkDefaults(t *testing.T) {
	for name, content := range map[string]string{"mor": sparkMORProperties, "cow": sparkCOWProperties} {
		t.Run(name, func(t *testing.T) {
			cfg := sparkConfig(t, content)
			assert.Equal(t, []string{"files"}, cfg.MetadataPartitions)
			assert.Empty(t, cfg.MetadataPartitionsInflight)
			require.NoError(t, cfg.ValidateRead())
			require.NoError(t, cfg.ValidateWrite(), "hoodie maintains the files partition")
			require.NoError(t, cfg.Validate())

			for _, parts := range []string{"files,column_stats", "files,record_index", "files,bloom_filters,column_stats", "files,column_stats,record_index"} {
				cfg := sparkConfig(t, withMetadataPartitions(t, content, parts))
				assert.Equal(t, strings.Split(parts, ","), cfg.MetadataPartitions)
				require.NoError(t, cfg.ValidateRead(), parts)
				err := cfg.Validate()
				assertMetadataRefusal(t, err, parts, "")
				for _, other := range []error{table.ErrMissingProperty, table.ErrInvalidConfig, table.ErrUnsupportedFeature,
					table.ErrUnsupportedVersion, table.ErrUnsupportedLayout} {
					assert.NotErrorIs(t, err, other, "%s: the metadata table is the only reason", parts)
				}
				assertMetadataRefusal(t, cfg.ValidateWrite(), parts, "")

				cfg.MetadataPartitions = []string{"files"}
				require.NoError(t, cfg.Validate(), "%s: writable once only files is left", parts)
				cfg.MetadataPartitions = nil
				require.NoError(t, cfg.Validate(), "%s: writable once the metadata table is disabled", parts)
				require.NoError(t, cfg.ValidateWrite())
			}
		})
	}
}

// TestValidateReadStillRefuses: ValidateRead accepts any metadata table,
// the inflight list too (an index being built), but not what changes how
// the table must be read; Validate accepts the files partition alone.
func TestValidateReadStillRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(m map[string]string)
		// want nil: ValidateRead accepts; Validate accepts when writable,
		// else refuses with ErrMetadataTableEnabled.
		want     error
		writable bool
	}{
		{"files only", func(m map[string]string) {
			m[table.KeyMetadataPartitions] = "files"
			m[table.KeyMetadataPartitionsInfl] = ""
		}, nil, true},
		{"inflight only", func(m map[string]string) {
			m[table.KeyMetadataPartitions] = ""
			m[table.KeyMetadataPartitionsInfl] = "files"
		}, nil, false},
		{"files with an index being built", func(m map[string]string) {
			m[table.KeyMetadataPartitions] = "files"
			m[table.KeyMetadataPartitionsInfl] = "column_stats"
		}, nil, false},
		{"several partitions", func(m map[string]string) {
			m[table.KeyMetadataPartitions] = "files,column_stats"
			m[table.KeyMetadataPartitionsInfl] = "record_index"
		}, nil, false},
		{"record index", func(m map[string]string) { m[table.KeyMetadataPartitions] = "files,record_index" }, nil, false},
		{"version 8", func(m map[string]string) { m[table.KeyVersion] = "8" }, table.ErrUnsupportedVersion, false},
		{"layout 2", func(m map[string]string) { m[table.KeyTimelineLayoutVersion] = "2" }, table.ErrUnsupportedLayout, false},
		{"cdc", func(m map[string]string) { m[table.KeyCDCEnabled] = "true" }, table.ErrUnsupportedFeature, false},
		{"drop partition columns", func(m map[string]string) { m[table.KeyDropPartitionColumns] = "true" }, table.ErrUnsupportedFeature, false},
		{"bootstrap", func(m map[string]string) { m[table.KeyBootstrapBasePath] = "s3://b/src" }, table.ErrUnsupportedFeature, false},
		{"orc", func(m map[string]string) { m[table.KeyBaseFileFormat] = "ORC" }, table.ErrUnsupportedFeature, false},
		{"unknown payload", func(m map[string]string) { m[table.KeyPayloadClass] = "com.example.P" }, table.ErrUnsupportedFeature, false},
		{"bad checksum", func(m map[string]string) { m[table.KeyChecksum] = "1" }, table.ErrInvalidConfig, false},
		{"no type", func(m map[string]string) { delete(m, table.KeyType) }, table.ErrMissingProperty, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			props, err := table.ParseProperties(strings.NewReader(sparkMORProperties))
			require.NoError(t, err)
			tc.change(props)
			cfg, err := table.ParseConfig(props)
			require.NoError(t, err)
			switch {
			case tc.want == nil && tc.writable:
				require.NoError(t, cfg.ValidateRead())
				require.NoError(t, cfg.Validate())
			case tc.want == nil:
				require.NoError(t, cfg.ValidateRead())
				assertMetadataRefusal(t, cfg.Validate(), props[table.KeyMetadataPartitions], props[table.KeyMetadataPartitionsInfl])
			default:
				require.ErrorIs(t, cfg.ValidateRead(), tc.want)
				require.ErrorIs(t, cfg.Validate(), tc.want)
			}
		})
	}
}

// sparkMDTStore is a store holding the Spark MOR table above with
// hoodie.properties content (file contents are placeholders: nothing here
// reads them). When content names column_stats, the metadata table has
// that partition's files too.
func sparkMDTStore(t *testing.T, content string) storage.Storage {
	t.Helper()
	ctx := context.Background()
	st := storage.NewMem()
	require.NoError(t, storage.WriteFile(ctx, st, table.PropertiesFile, []byte(content), storage.CreateOptions{}))
	files := sparkMORFiles
	if strings.Contains(content, "column_stats") {
		files = append(slices.Clone(files),
			".hoodie/metadata/column_stats/.hoodie_partition_metadata",
			".hoodie/metadata/column_stats/.col-stats-0000-0_00000000000000010.log.1_0-0-0",
			".hoodie/metadata/column_stats/col-stats-0000-0_0-121-132_00000000000000010.hfile")
	}
	for _, f := range files {
		require.NoError(t, storage.WriteFile(ctx, st, f, []byte("x"), storage.CreateOptions{}))
	}
	return st
}

// snapshot maps every key of st to its content.
func snapshot(t *testing.T, st storage.Storage) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for obj, err := range st.List(ctx, "", "") {
		require.NoError(t, err)
		b, err := storage.ReadFile(ctx, st, obj.Path)
		require.NoError(t, err)
		out[obj.Path] = string(b)
	}
	return out
}

// checkDataTableListing checks that the partitions, file groups and
// timeline of the Spark MOR table in rst come from listing storage and
// the data table's .hoodie/, never from .hoodie/metadata.
func checkDataTableListing(t *testing.T, rst storage.Storage) {
	t.Helper()
	ctx := context.Background()
	ok, err := storage.Exists(ctx, rst, ".hoodie/metadata/.hoodie/hoodie.properties")
	require.NoError(t, err)
	assert.True(t, ok)

	parts, err := table.ListPartitions(ctx, rst)
	require.NoError(t, err)
	assert.Equal(t, []string{"2024-01-01", "2024-01-02", "2024-01-03"}, parts)
	tl, err := timeline.Load(ctx, rst)
	require.NoError(t, err)
	var instants []string
	for _, i := range tl.Instants() {
		instants = append(instants, i.Timestamp+"."+string(i.Action)+"."+i.State.String())
	}
	assert.Equal(t, []string{
		"20261206072415617.deltacommit.COMPLETED",
		"20261206072417034.deltacommit.COMPLETED",
		"20261206072418182.deltacommit.COMPLETED",
	}, instants, "the metadata table's instants (00000000000000010) are not the data table's")

	view, err := filegroup.BuildView(ctx, rst, tl, filegroup.ViewOptions{})
	require.NoError(t, err)
	assert.Equal(t, parts, view.Partitions())
	require.Len(t, view.FileGroups(), 3)
	var logs, hidden int
	for _, fg := range view.FileGroups() {
		assert.NotContains(t, fg.PartitionPath, ".hoodie")
		logs += len(fg.Latest().Logs)
	}
	for _, f := range view.Hidden {
		assert.NotContains(t, f.Path, ".hoodie/", "files of .hoodie/ are not data files, not even hidden ones")
		hidden++
	}
	assert.Equal(t, 2, logs)
	assert.Zero(t, hidden)
}

// TestOpenMetadataTableFiles: a table whose metadata table keeps the
// files partition alone (Spark's default) opens for writing: Open
// succeeds, and OpenForRead returns a writable handle on the store it was
// given. Partitions, file groups and the timeline still ignore
// .hoodie/metadata.
func TestOpenMetadataTableFiles(t *testing.T) {
	ctx := context.Background()
	st := sparkMDTStore(t, sparkMORProperties)

	tbl, err := table.Open(ctx, st)
	require.NoError(t, err)
	assert.Equal(t, []string{"files"}, tbl.Config().MetadataPartitions)
	require.NoError(t, tbl.Writable())

	rtbl, err := table.OpenForRead(ctx, st)
	require.NoError(t, err)
	require.NoError(t, rtbl.Writable())
	assert.Same(t, st, rtbl.Storage().(*storage.Mem), "no read-only wrapper")
	assert.Equal(t, []string{"files"}, rtbl.Config().MetadataPartitions)
	checkDataTableListing(t, rtbl.Storage())
	require.NoError(t, rtbl.ReloadConfig(ctx))

	// Spark adds an index hoodie does not maintain: the handle's reload
	// refuses it and keeps the configuration it had.
	require.NoError(t, storage.WriteFile(ctx, st, table.PropertiesFile,
		[]byte(withMetadataPartitions(t, sparkMORProperties, "files,column_stats")), storage.CreateOptions{}))
	assertMetadataRefusal(t, tbl.ReloadConfig(ctx), "files,column_stats", "")
	assert.Equal(t, []string{"files"}, tbl.Config().MetadataPartitions)
}

// TestOpenForReadMetadataTable: OpenForRead opens a table whose metadata
// table has partitions hoodie does not maintain (files,column_stats); its
// partitions, file groups and timeline come from listing storage and the
// data table's .hoodie/, never from .hoodie/metadata; Open refuses the
// table naming the partitions, and the read-only handle refuses every
// write without touching storage.
func TestOpenForReadMetadataTable(t *testing.T) {
	ctx := context.Background()
	content := withMetadataPartitions(t, sparkMORProperties, "files,column_stats")
	st := sparkMDTStore(t, content)
	before := snapshot(t, st)

	_, err := table.Open(ctx, st)
	assertMetadataRefusal(t, err, "files,column_stats", "")

	tbl, err := table.OpenForRead(ctx, st)
	require.NoError(t, err)
	cfg := tbl.Config()
	assert.Equal(t, table.MergeOnRead, cfg.Type)
	assert.Equal(t, []string{"files", "column_stats"}, cfg.MetadataPartitions)
	assertMetadataRefusal(t, tbl.Writable(), "files,column_stats", "")

	// Reads pass through the read-only storage.
	rst := tbl.Storage()
	b, err := storage.ReadFile(ctx, rst, table.PropertiesFile)
	require.NoError(t, err)
	assert.Equal(t, content, string(b))
	checkDataTableListing(t, rst)

	// A partition list naming .hoodie/metadata is refused, not listed.
	assert.ErrorIs(t, table.ValidatePartitionPath(".hoodie/metadata/files"), table.ErrInvalidPartitionPath)

	// Every write through the read-only handle is refused, nothing changes.
	_, err = rst.Create(ctx, ".hoodie/20261206080000000.commit.requested", storage.CreateOptions{IfAbsent: true})
	require.ErrorIs(t, err, table.ErrMetadataTableEnabled)
	err = storage.WriteFile(ctx, rst, "2024-01-01/x.parquet", []byte("x"), storage.CreateOptions{})
	require.ErrorIs(t, err, table.ErrMetadataTableEnabled)
	require.ErrorIs(t, rst.Delete(ctx, "2024-01-03/db83f32c-62e7-4f49-89a2-f3ebd2928bcd-0_0-196-220_20261206072418182.parquet"),
		table.ErrMetadataTableEnabled)
	require.ErrorIs(t, rst.Delete(ctx, ".hoodie/metadata/column_stats/.hoodie_partition_metadata"), table.ErrMetadataTableEnabled)
	err = tbl.UpdateProperties(ctx, func(m map[string]string) error {
		m[table.KeyMetadataPartitions] = "files"
		return nil
	})
	require.ErrorIs(t, err, table.ErrMetadataTableEnabled)
	assert.Equal(t, before, snapshot(t, st), "nothing under the table changed")

	// An index being built next to the files partition is refused alike.
	props, err := table.ParseProperties(strings.NewReader(sparkMORProperties))
	require.NoError(t, err)
	props[table.KeyMetadataPartitionsInfl] = "record_index"
	st = sparkMDTStore(t, string(table.FormatProperties(props, table.PropertiesOptions{Last: []string{table.KeyChecksum}})))
	_, err = table.Open(ctx, st)
	assertMetadataRefusal(t, err, "files", "record_index")
	tbl, err = table.OpenForRead(ctx, st)
	require.NoError(t, err)
	assertMetadataRefusal(t, tbl.Writable(), "files", "record_index")
}

// TestOpenForReadLocalPaths: the read-only storage of a local table still
// renders full paths (commit metadata, plans) as the local store does.
func TestOpenForReadLocalPaths(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := storage.NewLocal(dir)
	require.NoError(t, err)
	content := withMetadataPartitions(t, sparkCOWProperties, "files,column_stats")
	require.NoError(t, storage.WriteFile(ctx, st, table.PropertiesFile, []byte(content), storage.CreateOptions{}))
	tbl, err := table.OpenForRead(ctx, st)
	require.NoError(t, err)
	require.ErrorIs(t, tbl.Writable(), table.ErrMetadataTableEnabled)
	key := "2024-01-01/a.parquet"
	assert.Equal(t, filepath.Join(dir, "2024-01-01", "a.parquet"), storage.FullPath(tbl.Storage(), key))
	got, ok := storage.KeyOf(tbl.Storage(), storage.FullPath(tbl.Storage(), key))
	assert.True(t, ok)
	assert.Equal(t, key, got)
}

// TestOpenForReadWritableTable: a table hoodie may write opens for reading
// as by Open: writable, on the store it was opened on.
func TestOpenForReadWritableTable(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	props, err := table.ParseProperties(strings.NewReader(sparkCOWProperties))
	require.NoError(t, err)
	props[table.KeyMetadataPartitions] = "" // as Spark leaves it after hoodie.metadata.enable=false
	require.NoError(t, storage.WriteFile(ctx, st, table.PropertiesFile,
		table.FormatProperties(props, table.PropertiesOptions{Last: []string{table.KeyChecksum}}), storage.CreateOptions{}))

	tbl, err := table.OpenForRead(ctx, st)
	require.NoError(t, err)
	require.NoError(t, tbl.Writable())
	assert.Same(t, st, tbl.Storage().(*storage.Mem))
	_, err = table.Open(ctx, st)
	require.NoError(t, err)

	_, err = table.OpenForRead(ctx, storage.NewMem())
	require.ErrorIs(t, err, table.ErrNotHudiTable)
	require.False(t, errors.Is(err, table.ErrMetadataTableEnabled))
}
