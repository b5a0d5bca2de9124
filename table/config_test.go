package table_test

import (
	"context"
	"github.com/hoodie-lake/hoodie/filegroup"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChecksum(t *testing.T) {
	assert.Equal(t, uint32(1120353670), table.Checksum("default", "v6_nonpartitioned_rollback"))
	assert.Equal(t, uint32(3761586722), table.Checksum("", "trips"))
}

// samplePartitions are the partitions of each sample table, by table name,
// as the zips hold them.
var samplePartitions = map[string][]string{
	"v6_complexkeygen_hivestyle":                  {"byteField=10/shortField=300", "byteField=20/shortField=100", "byteField=30/shortField=100"},
	"v6_empty":                                    nil,
	"v6_nonpartitioned":                           {""},
	"v6_nonpartitioned_rollback":                  {""},
	"v6_simplekeygen_hivestyle_no_metafields":     {"byteField=10", "byteField=20", "byteField=30"},
	"v6_simplekeygen_nonhivestyle":                {"10", "20", "30"},
	"v6_simplekeygen_nonhivestyle_overwritetable": {"10", "20", "30"},
	"v6_timebasedkeygen_nonhivestyle":             {"2023/04/01/12", "2023/04/02/12", "2023/04/03/12", "2023/04/04/13"},
	"v6_trips_8i1u":                               {"city=chennai", "city=san_francisco", "city=sao_paulo"},
}

func readSampleProps(t *testing.T, dir string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, ".hoodie", "hoodie.properties"))
	require.NoError(t, err)
	defer f.Close()
	props, err := table.ParseProperties(f)
	require.NoError(t, err)
	return props
}

func splitOrNil(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// TestOpenSamples opens every Spark-written sample and checks the Config
// against its hoodie.properties, its checksum and its partitions.
func TestOpenSamples(t *testing.T) {
	ctx := context.Background()
	all := fixtures.All(t)
	require.Len(t, all, 15)
	for _, fx := range all {
		t.Run(fx.Name, func(t *testing.T) {
			dir := fixtures.Unzip(t, fx.Zip)
			props := readSampleProps(t, dir)
			st, err := storage.NewLocal(dir)
			require.NoError(t, err)

			tbl, err := table.Open(ctx, st)
			require.NoError(t, err)
			cfg := tbl.Config()
			assert.Equal(t, fx.Table, cfg.Name)
			assert.Equal(t, "default", cfg.Database)
			wantType := table.CopyOnWrite
			if fx.Type == "mor" {
				wantType = table.MergeOnRead
			}
			assert.Equal(t, wantType, cfg.Type)
			assert.Equal(t, props[table.KeyType], string(cfg.Type))
			assert.Equal(t, 6, cfg.Version)
			assert.Equal(t, 1, cfg.TimelineLayoutVersion)
			assert.Equal(t, splitOrNil(props[table.KeyRecordKeyFields]), cfg.RecordKeyFields)
			assert.NotEmpty(t, cfg.RecordKeyFields)
			assert.Equal(t, splitOrNil(props[table.KeyPartitionFields]), cfg.PartitionFields)
			assert.Equal(t, props[table.KeyPrecombineField], cfg.PrecombineField)
			assert.Equal(t, props[table.KeyKeyGenerator], cfg.KeyGenerator)
			assert.Equal(t, props[table.KeyHiveStylePartitioning] == "true", cfg.HiveStylePartitioning)
			assert.Equal(t, props[table.KeyPopulateMetaFields] != "false", cfg.PopulateMetaFields)
			assert.Equal(t, strings.Contains(fx.Name, "no_metafields"), !cfg.PopulateMetaFields)
			assert.False(t, cfg.URLEncodePartitioning)
			assert.Equal(t, props[table.KeyCreateSchema], cfg.CreateSchema)
			assert.Equal(t, props, cfg.Props)

			sum, err := strconv.ParseUint(props[table.KeyChecksum], 10, 32)
			require.NoError(t, err)
			assert.Equal(t, uint32(sum), table.Checksum(props[table.KeyDatabaseName], props[table.KeyName]))

			// Rewriting an untouched config changes nothing.
			assert.Equal(t, props, cfg.Properties())

			want, ok := samplePartitions[fx.Table]
			require.True(t, ok, "no expected partitions for %s", fx.Table)
			parts, err := table.ListPartitions(ctx, st)
			require.NoError(t, err)
			assert.Equal(t, want, parts)
			for _, p := range parts {
				md, err := table.ReadPartitionMetadata(ctx, st, p)
				require.NoError(t, err)
				assert.Equal(t, table.PartitionDepth(p), md.PartitionDepth, p)
				assert.True(t, filegroup.IsInstantTime(md.CommitTime), md.CommitTime)
			}
		})
	}
}

func TestSampleTimeBasedPartitionMetadata(t *testing.T) {
	var zip string
	for _, fx := range fixtures.All(t) {
		if fx.Name == "cow/v6_timebasedkeygen_nonhivestyle" {
			zip = fx.Zip
		}
	}
	require.NotEmpty(t, zip)
	st, err := storage.NewLocal(fixtures.Unzip(t, zip))
	require.NoError(t, err)
	// The partition was made by the table's first INSERT.
	tl, err := timeline.Load(context.Background(), st)
	require.NoError(t, err)
	require.NotEmpty(t, tl.Completed())
	md, err := table.ReadPartitionMetadata(context.Background(), st, "2023/04/01/12")
	require.NoError(t, err)
	assert.Equal(t, table.PartitionMetadata{CommitTime: tl.Completed()[0].Timestamp, PartitionDepth: 4}, md)
}

// validProps is a valid hoodie.properties as Create writes it.
func validProps(t *testing.T) map[string]string {
	t.Helper()
	cfg, err := table.NewConfig(table.CreateOptions{
		Name:            "trips",
		Type:            table.MergeOnRead,
		RecordKeyFields: []string{"uuid"},
		PartitionFields: []string{"city"},
		PrecombineField: "ts",
		Schema:          tripsSchema,
	})
	require.NoError(t, err)
	return cfg.Properties()
}

const tripsSchema = `{"type":"record","name":"trips_record","namespace":"hoodie.trips","fields":[
 {"name":"ts","type":["long","null"]},{"name":"uuid","type":["string","null"]},
 {"name":"rider","type":["string","null"]},{"name":"fare","type":["double","null"]},
 {"name":"city","type":["string","null"]},
 {"name":"loc","type":[{"type":"record","name":"loc","fields":[{"name":"lat","type":"double"}]},"null"]}]}`

func TestValidateRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(m map[string]string)
		want   error
	}{
		{"version 5", func(m map[string]string) { m[table.KeyVersion] = "5" }, table.ErrUnsupportedVersion},
		{"version 8", func(m map[string]string) { m[table.KeyVersion] = "8" }, table.ErrUnsupportedVersion},
		{"version garbage", func(m map[string]string) { m[table.KeyVersion] = "six" }, table.ErrInvalidConfig},
		{"no version", func(m map[string]string) { delete(m, table.KeyVersion) }, table.ErrMissingProperty},
		{"layout 0", func(m map[string]string) { m[table.KeyTimelineLayoutVersion] = "0" }, table.ErrUnsupportedLayout},
		{"layout 2", func(m map[string]string) { m[table.KeyTimelineLayoutVersion] = "2" }, table.ErrUnsupportedLayout},
		{"no layout", func(m map[string]string) { delete(m, table.KeyTimelineLayoutVersion) }, table.ErrMissingProperty},
		{"metadata column stats", func(m map[string]string) { m[table.KeyMetadataPartitions] = "files,column_stats" }, table.ErrMetadataTableEnabled},
		{"metadata record index", func(m map[string]string) { m[table.KeyMetadataPartitions] = "files,record_index" }, table.ErrMetadataTableEnabled},
		{"metadata bloom filters", func(m map[string]string) { m[table.KeyMetadataPartitions] = "files,bloom_filters" }, table.ErrMetadataTableEnabled},
		{"metadata without files", func(m map[string]string) { m[table.KeyMetadataPartitions] = "column_stats" }, table.ErrMetadataTableEnabled},
		{"metadata table inflight", func(m map[string]string) { m[table.KeyMetadataPartitionsInfl] = "files,column_stats" }, table.ErrMetadataTableEnabled},
		{"metadata files with inflight", func(m map[string]string) {
			m[table.KeyMetadataPartitions] = "files"
			m[table.KeyMetadataPartitionsInfl] = "record_index"
		}, table.ErrMetadataTableEnabled},
		{"no name", func(m map[string]string) { delete(m, table.KeyName) }, table.ErrMissingProperty},
		{"no type", func(m map[string]string) { delete(m, table.KeyType) }, table.ErrMissingProperty},
		{"lowercase type", func(m map[string]string) { m[table.KeyType] = "merge_on_read" }, table.ErrInvalidConfig},
		{"no record key", func(m map[string]string) { delete(m, table.KeyRecordKeyFields) }, table.ErrMissingProperty},
		{"duplicate record key", func(m map[string]string) {
			m[table.KeyRecordKeyFields] = "uuid,uuid"
			m[table.KeyKeyGenerator] = table.KeyGenComplex
		}, table.ErrInvalidConfig},
		{"empty partition field", func(m map[string]string) { m[table.KeyPartitionFields] = "city," }, table.ErrInvalidConfig},
		{"bad checksum", func(m map[string]string) { m[table.KeyChecksum] = "12345" }, table.ErrInvalidConfig},
		{"renamed without checksum", func(m map[string]string) { m[table.KeyName] = "other" }, table.ErrInvalidConfig},
		{"orc", func(m map[string]string) { m[table.KeyBaseFileFormat] = "ORC" }, table.ErrUnsupportedFeature},
		{"cdc", func(m map[string]string) { m[table.KeyCDCEnabled] = "true" }, table.ErrUnsupportedFeature},
		{"drop partition columns", func(m map[string]string) { m[table.KeyDropPartitionColumns] = "true" }, table.ErrUnsupportedFeature},
		{"parquet partition metafile", func(m map[string]string) { m[table.KeyPartitionMetafileBase] = "true" }, table.ErrUnsupportedFeature},
		{"bootstrap", func(m map[string]string) { m[table.KeyBootstrapBasePath] = "s3://b/src" }, table.ErrUnsupportedFeature},
		{"unknown key generator", func(m map[string]string) { m[table.KeyKeyGenerator] = "com.example.MyKeyGen" }, table.ErrUnsupportedFeature},
		{"unknown payload", func(m map[string]string) { m[table.KeyPayloadClass] = "com.example.Payload" }, table.ErrUnsupportedFeature},
		{"unknown merger", func(m map[string]string) { m[table.KeyRecordMergerStrategy] = "x" }, table.ErrUnsupportedFeature},
		{"bad timezone", func(m map[string]string) { m[table.KeyTimelineTimezone] = "PST" }, table.ErrInvalidConfig},
		{"simple with two keys", func(m map[string]string) { m[table.KeyRecordKeyFields] = "uuid,rider" }, table.ErrInvalidConfig},
		{"nonpartitioned with partitions", func(m map[string]string) { m[table.KeyKeyGenerator] = table.KeyGenNonPartitioned }, table.ErrInvalidConfig},
		{"schema without key field", func(m map[string]string) { m[table.KeyRecordKeyFields] = "id" }, table.ErrInvalidConfig},
		{"schema not JSON", func(m map[string]string) { m[table.KeyCreateSchema] = "{" }, table.ErrInvalidConfig},
		{"schema not record", func(m map[string]string) { m[table.KeyCreateSchema] = `"string"` }, table.ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := validProps(t)
			tc.change(m)
			if tc.name != "bad checksum" && tc.name != "renamed without checksum" {
				if m[table.KeyName] != "" {
					m[table.KeyChecksum] = strconv.FormatUint(uint64(table.Checksum(m[table.KeyDatabaseName], m[table.KeyName])), 10)
				}
			}
			cfg, err := table.ParseConfig(m)
			if err == nil {
				err = cfg.Validate()
			}
			require.ErrorIs(t, err, tc.want)
			if tc.want == table.ErrMetadataTableEnabled {
				assertMetadataRefusal(t, err, m[table.KeyMetadataPartitions], m[table.KeyMetadataPartitionsInfl])
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(m map[string]string)
	}{
		{"as created", func(map[string]string) {}},
		{"nested precombine", func(m map[string]string) { m[table.KeyPrecombineField] = "loc.lat" }},
		{"no precombine", func(m map[string]string) { delete(m, table.KeyPrecombineField) }},
		{"no keygen", func(m map[string]string) { delete(m, table.KeyKeyGenerator) }},
		{"avro keygen", func(m map[string]string) { m[table.KeyKeyGenerator] = "org.apache.hudi.keygen.SimpleAvroKeyGenerator" }},
		{"custom keygen typed fields", func(m map[string]string) {
			m[table.KeyKeyGenerator] = table.KeyGenCustom
			m[table.KeyPartitionFields] = "city:SIMPLE,ts:TIMESTAMP"
		}},
		{"no checksum", func(m map[string]string) { delete(m, table.KeyChecksum) }},
		{"overwrite payload", func(m map[string]string) { m[table.KeyPayloadClass] = table.PayloadOverwriteWithLatest }},
		{"empty metadata partitions", func(m map[string]string) {
			m[table.KeyMetadataPartitions] = ""
			m[table.KeyMetadataPartitionsInfl] = ""
		}},
		{"files metadata table", func(m map[string]string) {
			m[table.KeyMetadataPartitions] = "files"
			m[table.KeyMetadataPartitionsInfl] = ""
		}},
		{"local timezone", func(m map[string]string) { m[table.KeyTimelineTimezone] = "LOCAL" }},
		{"unknown keys", func(m map[string]string) { m["hoodie.some.future.key"] = "x" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := validProps(t)
			tc.change(m)
			cfg, err := table.ParseConfig(m)
			require.NoError(t, err)
			require.NoError(t, cfg.Validate())
		})
	}
}

func TestConfigPropertiesPreservesAndUpdates(t *testing.T) {
	m := map[string]string{
		table.KeyName:                  "t",
		table.KeyType:                  "COPY_ON_WRITE",
		table.KeyVersion:               "6",
		table.KeyTimelineLayoutVersion: "1",
		table.KeyRecordKeyFields:       "id",
		table.KeyPrecombineField:       "ts",
		table.KeyHiveStylePartitioning: "TRUE",
		"hoodie.keygen.timebased.x":    "a:b",
	}
	cfg, err := table.ParseConfig(m)
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	assert.True(t, cfg.HiveStylePartitioning)
	assert.True(t, cfg.PopulateMetaFields, "absent populate.meta.fields means true")
	assert.Equal(t, table.KeyGenNonPartitioned, cfg.KeyGeneratorClass())

	want := maps.Clone(m)
	want[table.KeyChecksum] = strconv.FormatUint(uint64(table.Checksum("", "t")), 10)
	assert.Equal(t, want, cfg.Properties(), "untouched config keeps every key and spelling, adds no defaults")

	cfg.PrecombineField = ""
	cfg.Database = "db"
	cfg.PopulateMetaFields = false
	cfg.HiveStylePartitioning = false
	cfg.PayloadClass = table.PayloadDefault
	got := cfg.Properties()
	assert.NotContains(t, got, table.KeyPrecombineField)
	assert.Equal(t, "db", got[table.KeyDatabaseName])
	assert.Equal(t, "false", got[table.KeyPopulateMetaFields])
	assert.Equal(t, "false", got[table.KeyHiveStylePartitioning])
	assert.Equal(t, table.PayloadDefault, got[table.KeyPayloadClass])
	assert.Equal(t, "a:b", got["hoodie.keygen.timebased.x"])
	assert.Equal(t, strconv.FormatUint(uint64(table.Checksum("db", "t")), 10), got[table.KeyChecksum])

	again, err := table.ParseConfig(got)
	require.NoError(t, err)
	require.NoError(t, again.Validate())

	clone := cfg.Clone()
	clone.RecordKeyFields[0] = "changed"
	clone.Props["x"] = "y"
	assert.Equal(t, []string{"id"}, cfg.RecordKeyFields)
	assert.NotContains(t, cfg.Props, "x")
}

func TestDefaultKeyGenerator(t *testing.T) {
	assert.Equal(t, table.KeyGenNonPartitioned, table.DefaultKeyGenerator([]string{"id"}, nil))
	assert.Equal(t, table.KeyGenNonPartitioned, table.DefaultKeyGenerator([]string{"id", "name"}, nil))
	assert.Equal(t, table.KeyGenSimple, table.DefaultKeyGenerator([]string{"id"}, []string{"city"}))
	assert.Equal(t, table.KeyGenComplex, table.DefaultKeyGenerator([]string{"id", "name"}, []string{"city"}))
	assert.Equal(t, table.KeyGenComplex, table.DefaultKeyGenerator([]string{"id"}, []string{"a", "b"}))
	f, ok := table.KeyGeneratorFamily("org.apache.hudi.keygen.ComplexAvroKeyGenerator")
	assert.True(t, ok)
	assert.Equal(t, table.KeyGenComplex, f)
	_, ok = table.KeyGeneratorFamily("x")
	assert.False(t, ok)
}
