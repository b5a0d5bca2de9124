package table_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// foreignTable describes a table hoodie must refuse to open: a change to a
// Spark-written v6 table's hoodie.properties, and files that go with it.
type foreignTable struct {
	name  string
	props func(m map[string]string)
	files map[string]string // extra files under the base path
	want  error
	// mention is a substring the error must contain (the property at fault).
	mention string
}

var foreignTables = []foreignTable{
	{name: "version 5", props: func(m map[string]string) { m[table.KeyVersion] = "5" },
		want: table.ErrUnsupportedVersion, mention: table.KeyVersion},
	{name: "version 8", props: func(m map[string]string) {
		// A table Hudi 1.0 created (hudi-format.md §10).
		m[table.KeyVersion] = "8"
		m[table.KeyTimelineLayoutVersion] = "2"
		m["hoodie.table.initial.version"] = "8"
		m["hoodie.timeline.path"] = "timeline"
		m["hoodie.timeline.history.path"] = "history"
		m["hoodie.table.keygenerator.type"] = "SIMPLE"
		m["hoodie.record.merge.mode"] = "EVENT_TIME_ORDERING"
	}, files: map[string]string{
		".hoodie/timeline/20251220210129235_20251220210129883.commit": "avro",
		".hoodie/timeline/20251220210129235.commit.requested":         "",
	}, want: table.ErrUnsupportedVersion, mention: table.KeyVersion},
	{name: "upgraded to 8 in place", props: func(m map[string]string) { m[table.KeyVersion] = "8" },
		want: table.ErrUnsupportedVersion, mention: "8"},
	{name: "version garbage", props: func(m map[string]string) { m[table.KeyVersion] = "6.0" },
		want: table.ErrInvalidConfig, mention: table.KeyVersion},
	{name: "layout 0", props: func(m map[string]string) { m[table.KeyTimelineLayoutVersion] = "0" },
		want: table.ErrUnsupportedLayout, mention: table.KeyTimelineLayoutVersion},
	{name: "layout 2", props: func(m map[string]string) { m[table.KeyTimelineLayoutVersion] = "2" },
		want: table.ErrUnsupportedLayout, mention: table.KeyTimelineLayoutVersion},
	{name: "no layout", props: func(m map[string]string) { delete(m, table.KeyTimelineLayoutVersion) },
		want: table.ErrMissingProperty, mention: table.KeyTimelineLayoutVersion},
	{name: "metadata table", props: func(m map[string]string) {
		m[table.KeyMetadataPartitions] = "files,column_stats"
	}, files: map[string]string{
		".hoodie/metadata/.hoodie/hoodie.properties":                            "hoodie.table.name=t_metadata\n",
		".hoodie/metadata/files/.files-0000-0_20240418173550988001.log.1_0-0-0": "x",
	}, want: table.ErrMetadataTableEnabled, mention: table.KeyMetadataPartitions},
	{name: "metadata record index", props: func(m map[string]string) {
		m[table.KeyMetadataPartitions] = "files,record_index"
	}, files: map[string]string{
		".hoodie/metadata/.hoodie/hoodie.properties":                                       "hoodie.table.name=t_metadata\n",
		".hoodie/metadata/record_index/.record-index-0000-0_00000000000000010.log.1_0-0-0": "x",
	}, want: table.ErrMetadataTableEnabled, mention: `hoodie.table.metadata.partitions="files,record_index"`},
	{name: "metadata table being built", props: func(m map[string]string) { m[table.KeyMetadataPartitionsInfl] = "files" },
		want: table.ErrMetadataTableEnabled, mention: table.KeyMetadataPartitionsInfl},
	{name: "bootstrap", props: func(m map[string]string) {
		m[table.KeyBootstrapBasePath] = "s3://source/raw"
		m["hoodie.bootstrap.index.class"] = "org.apache.hudi.common.bootstrap.index.HFileBootstrapIndex"
	}, files: map[string]string{
		".hoodie/.aux/.bootstrap/.partitions/00000000-0000-0000-0000-000000000000-0_1-0-1_00000000000001.hfile": "x",
	}, want: table.ErrUnsupportedFeature, mention: table.KeyBootstrapBasePath},
	{name: "orc base files", props: func(m map[string]string) { m[table.KeyBaseFileFormat] = "ORC" },
		want: table.ErrUnsupportedFeature, mention: table.KeyBaseFileFormat},
	{name: "hfile log blocks", props: func(m map[string]string) { m[table.KeyLogFileFormat] = "HFILE" },
		want: table.ErrUnsupportedFeature, mention: table.KeyLogFileFormat},
	{name: "cdc", props: func(m map[string]string) { m[table.KeyCDCEnabled] = "true" },
		want: table.ErrUnsupportedFeature, mention: table.KeyCDCEnabled},
	{name: "dropped partition columns", props: func(m map[string]string) { m[table.KeyDropPartitionColumns] = "true" },
		want: table.ErrUnsupportedFeature, mention: table.KeyDropPartitionColumns},
	{name: "parquet partition metafile", props: func(m map[string]string) { m[table.KeyPartitionMetafileBase] = "true" },
		want: table.ErrUnsupportedFeature, mention: table.KeyPartitionMetafileBase},
	{name: "custom payload", props: func(m map[string]string) { m[table.KeyPayloadClass] = "com.example.MergeIntoPayload" },
		want: table.ErrUnsupportedFeature, mention: table.KeyPayloadClass},
	{name: "custom merger", props: func(m map[string]string) { m[table.KeyRecordMergerStrategy] = "00000000-0000-0000-0000-000000000001" },
		want: table.ErrUnsupportedFeature, mention: table.KeyRecordMergerStrategy},
	{name: "custom key generator", props: func(m map[string]string) { m[table.KeyKeyGenerator] = "com.example.KeyGen" },
		want: table.ErrUnsupportedFeature, mention: table.KeyKeyGenerator},
	{name: "lowercase type", props: func(m map[string]string) { m[table.KeyType] = "copy_on_write" },
		want: table.ErrInvalidConfig, mention: table.KeyType},
	{name: "unknown type", props: func(m map[string]string) { m[table.KeyType] = "APPEND_ONLY" },
		want: table.ErrInvalidConfig, mention: table.KeyType},
	{name: "partition field with slash", props: func(m map[string]string) { m[table.KeyPartitionFields] = "../x" },
		want: table.ErrInvalidConfig, mention: `"../x"`},
}

// hashFiles maps every file under dir (relative, slash-separated) to the
// SHA-256 of its content, and lists every directory with an empty hash.
func hashFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	}))
	return out
}

// makeForeign unzips a Spark-written v6 table and turns it into ft.
func makeForeign(t *testing.T, zipName string, ft foreignTable) string {
	t.Helper()
	var zip string
	for _, fx := range fixtures.All(t) {
		if fx.Name == zipName {
			zip = fx.Zip
		}
	}
	require.NotEmpty(t, zip, "fixture %s", zipName)
	dir := fixtures.Unzip(t, zip)
	pf := filepath.Join(dir, filepath.FromSlash(table.PropertiesFile))
	b, err := os.ReadFile(pf)
	require.NoError(t, err)
	props, err := table.ParseProperties(bytes.NewReader(b))
	require.NoError(t, err)
	ft.props(props)
	out := table.FormatProperties(props, table.PropertiesOptions{Comments: []string{"Updated by hoodie's refusal tests"}, Last: []string{table.KeyChecksum}})
	require.NoError(t, os.WriteFile(pf, out, 0o644))
	for name, content := range ft.files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

// TestOpenRefusesForeignTables opens Spark-written tables turned into
// tables of another version, layout or feature set: table.Open refuses
// each with the sentinel and the property at fault, and changes nothing.
func TestOpenRefusesForeignTables(t *testing.T) {
	ctx := context.Background()
	for _, ft := range foreignTables {
		t.Run(ft.name, func(t *testing.T) {
			dir := makeForeign(t, "cow/v6_simplekeygen_nonhivestyle", ft)
			before := hashFiles(t, dir)
			st, err := storage.Open(ctx, dir, storage.Options{})
			require.NoError(t, err)
			_, err = table.Open(ctx, st)
			require.ErrorIs(t, err, ft.want)
			assert.Contains(t, err.Error(), ft.mention)
			assert.Regexp(t, `^table: `, err.Error())
			assert.Equal(t, before, hashFiles(t, dir), "nothing under the table changed")
		})
	}
}
