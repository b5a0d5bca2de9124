package table_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readProps(t *testing.T, st storage.Storage, key string) map[string]string {
	t.Helper()
	b, err := storage.ReadFile(context.Background(), st, key)
	require.NoError(t, err)
	props, err := table.ParseProperties(bytes.NewReader(b))
	require.NoError(t, err)
	return props
}

func TestCreateOpenRoundTrip(t *testing.T) {
	ctx := context.Background()
	local, err := storage.NewLocal(t.TempDir())
	require.NoError(t, err)
	for name, st := range map[string]storage.Storage{"mem": storage.NewMem(), "local": local} {
		t.Run(name, func(t *testing.T) {
			created, err := table.Create(ctx, st, table.CreateOptions{
				Name:            "trips",
				Type:            table.MergeOnRead,
				RecordKeyFields: []string{"uuid"},
				PartitionFields: []string{"city"},
				PrecombineField: "ts",
				Schema:          tripsSchema,
			})
			require.NoError(t, err)
			assert.Same(t, st, created.Storage())

			opened, err := table.Open(ctx, st)
			require.NoError(t, err)
			assert.Equal(t, created.Config(), opened.Config())

			cfg := opened.Config()
			assert.Equal(t, "trips", cfg.Name)
			assert.Equal(t, "default", cfg.Database)
			assert.Equal(t, table.MergeOnRead, cfg.Type)
			assert.Equal(t, []string{"uuid"}, cfg.RecordKeyFields)
			assert.Equal(t, []string{"city"}, cfg.PartitionFields)
			assert.Equal(t, "ts", cfg.PrecombineField)
			assert.Equal(t, table.KeyGenSimple, cfg.KeyGenerator)
			assert.Equal(t, table.PayloadDefault, cfg.PayloadClass)
			assert.True(t, cfg.PopulateMetaFields)
			assert.NotContains(t, cfg.CreateSchema, "\n", "schema stored compacted")

			b, err := storage.ReadFile(ctx, st, table.PropertiesFile)
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			assert.Regexp(t, `^#Properties saved on \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z$`, lines[0])
			assert.Regexp(t, `^#\w{3} \w{3} \d\d \d\d:\d\d:\d\d UTC \d{4}$`, lines[1])
			assert.Equal(t, "hoodie.table.checksum=3761586722"[:len("hoodie.table.checksum=")], lines[len(lines)-1][:len("hoodie.table.checksum=")])
			assert.Contains(t, string(b), `hoodie.table.create.schema={"type"\:"record","name"\:"trips_record"`)

			props := readProps(t, st, table.PropertiesFile)
			for k, v := range map[string]string{
				"hoodie.table.name":                               "trips",
				"hoodie.database.name":                            "default",
				"hoodie.table.type":                               "MERGE_ON_READ",
				"hoodie.table.version":                            "6",
				"hoodie.timeline.layout.version":                  "1",
				"hoodie.table.recordkey.fields":                   "uuid",
				"hoodie.table.partition.fields":                   "city",
				"hoodie.table.precombine.field":                   "ts",
				"hoodie.table.keygenerator.class":                 "org.apache.hudi.keygen.SimpleKeyGenerator",
				"hoodie.table.base.file.format":                   "PARQUET",
				"hoodie.populate.meta.fields":                     "true",
				"hoodie.datasource.write.hive_style_partitioning": "false",
				"hoodie.datasource.write.partitionpath.urlencode": "false",
				"hoodie.datasource.write.drop.partition.columns":  "false",
				"hoodie.partition.metafile.use.base.format":       "false",
				"hoodie.archivelog.folder":                        "archived",
				"hoodie.table.timeline.timezone":                  "UTC",
				"hoodie.compaction.payload.class":                 "org.apache.hudi.common.model.DefaultHoodieRecordPayload",
				"hoodie.table.cdc.enabled":                        "false",
				"hoodie.table.checksum":                           "2200697520",
			} {
				assert.Equal(t, v, props[k], k)
			}
			assert.NotContains(t, props, table.KeyMetadataPartitions)

			// Nothing but hoodie.properties is created.
			var keys []string
			for obj, err := range st.List(ctx, "", "") {
				require.NoError(t, err)
				keys = append(keys, obj.Path)
			}
			assert.Equal(t, []string{table.PropertiesFile}, keys)

			_, err = table.Create(ctx, st, table.CreateOptions{Name: "trips", RecordKeyFields: []string{"uuid"}})
			assert.ErrorIs(t, err, table.ErrTableExists)
		})
	}
}

func TestCreateDefaults(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		opts       table.CreateOptions
		keygen     string
		partitions []string
	}{
		{"nonpartitioned", table.CreateOptions{Name: "a", RecordKeyFields: []string{"id"}}, table.KeyGenNonPartitioned, nil},
		{"simple", table.CreateOptions{Name: "a", RecordKeyFields: []string{"id"}, PartitionFields: []string{"p"}}, table.KeyGenSimple, []string{"p"}},
		{"complex keys", table.CreateOptions{Name: "a", RecordKeyFields: []string{"id", "name"}, PartitionFields: []string{"p"}}, table.KeyGenComplex, []string{"p"}},
		{"complex partitions", table.CreateOptions{Name: "a", RecordKeyFields: []string{"id"}, PartitionFields: []string{"p", "q"}}, table.KeyGenComplex, []string{"p", "q"}},
		{"explicit", table.CreateOptions{Name: "a", RecordKeyFields: []string{"id"}, PartitionFields: []string{"p"}, KeyGenerator: table.KeyGenComplex}, table.KeyGenComplex, []string{"p"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := storage.NewMem()
			tbl, err := table.Create(ctx, st, tc.opts)
			require.NoError(t, err)
			cfg := tbl.Config()
			assert.Equal(t, tc.keygen, cfg.KeyGenerator)
			assert.Equal(t, tc.partitions, cfg.PartitionFields)
			assert.Equal(t, table.CopyOnWrite, cfg.Type)
			assert.Equal(t, "default", cfg.Database)
			assert.Equal(t, table.PayloadDefault, cfg.PayloadClass)
			assert.Equal(t, "", cfg.PrecombineField)
			props := readProps(t, st, table.PropertiesFile)
			_, hasPartitionFields := props[table.KeyPartitionFields]
			assert.Equal(t, len(tc.partitions) > 0, hasPartitionFields)
			assert.NotContains(t, props, table.KeyPrecombineField)
		})
	}
}

func TestCreateRefusals(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts table.CreateOptions
		want error
	}{
		{"no name", table.CreateOptions{RecordKeyFields: []string{"id"}}, table.ErrMissingProperty},
		{"bad name", table.CreateOptions{Name: "my-table", RecordKeyFields: []string{"id"}}, table.ErrInvalidConfig},
		{"digit name", table.CreateOptions{Name: "1t", RecordKeyFields: []string{"id"}}, table.ErrInvalidConfig},
		{"bad database", table.CreateOptions{Name: "t", Database: "a.b", RecordKeyFields: []string{"id"}}, table.ErrInvalidConfig},
		{"no keys", table.CreateOptions{Name: "t"}, table.ErrMissingProperty},
		{"comma in field", table.CreateOptions{Name: "t", RecordKeyFields: []string{"a,b"}}, table.ErrInvalidConfig},
		{"empty field", table.CreateOptions{Name: "t", RecordKeyFields: []string{""}}, table.ErrInvalidConfig},
		{"duplicate partition", table.CreateOptions{Name: "t", RecordKeyFields: []string{"id"}, PartitionFields: []string{"p", "p"}}, table.ErrInvalidConfig},
		{"bad type", table.CreateOptions{Name: "t", Type: "cow", RecordKeyFields: []string{"id"}}, table.ErrInvalidConfig},
		{"unknown keygen", table.CreateOptions{Name: "t", RecordKeyFields: []string{"id"}, KeyGenerator: "x.Y"}, table.ErrUnsupportedFeature},
		{"nonpartitioned keygen with partitions", table.CreateOptions{Name: "t", RecordKeyFields: []string{"id"}, PartitionFields: []string{"p"}, KeyGenerator: table.KeyGenNonPartitioned}, table.ErrInvalidConfig},
		{"unknown payload", table.CreateOptions{Name: "t", RecordKeyFields: []string{"id"}, PayloadClass: "x.Y"}, table.ErrUnsupportedFeature},
		{"schema not json", table.CreateOptions{Name: "t", RecordKeyFields: []string{"id"}, Schema: "{"}, table.ErrInvalidConfig},
		{"schema not record", table.CreateOptions{Name: "t", RecordKeyFields: []string{"id"}, Schema: `{"type":"array","items":"int"}`}, table.ErrInvalidConfig},
		{"schema lacks key", table.CreateOptions{Name: "trips", RecordKeyFields: []string{"id"}, Schema: tripsSchema}, table.ErrInvalidConfig},
		{"schema lacks partition", table.CreateOptions{Name: "trips", RecordKeyFields: []string{"uuid"}, PartitionFields: []string{"state"}, Schema: tripsSchema}, table.ErrInvalidConfig},
		{"schema lacks precombine", table.CreateOptions{Name: "trips", RecordKeyFields: []string{"uuid"}, PrecombineField: "updated", Schema: tripsSchema}, table.ErrInvalidConfig},
		{"schema with meta field", table.CreateOptions{Name: "t", RecordKeyFields: []string{"id"}, Schema: `{"type":"record","name":"r","fields":[{"name":"id","type":"int"},{"name":"_hoodie_record_key","type":"string"}]}`}, table.ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := storage.NewMem()
			_, err := table.Create(ctx, st, tc.opts)
			require.ErrorIs(t, err, tc.want)
			ok, err := storage.Exists(ctx, st, table.PropertiesFile)
			require.NoError(t, err)
			assert.False(t, ok, "nothing written")
		})
	}
}

func TestCreateRefusesExistingTables(t *testing.T) {
	ctx := context.Background()
	for _, fx := range fixtures.All(t) {
		st, err := storage.NewLocal(fixtures.Unzip(t, fx.Zip))
		require.NoError(t, err)
		_, err = table.Create(ctx, st, table.CreateOptions{Name: fx.Table, RecordKeyFields: []string{"id"}})
		require.ErrorIs(t, err, table.ErrTableExists, fx.Name)
	}
	// A .hoodie folder without hoodie.properties is not overwritten either.
	st := storage.NewMem()
	require.NoError(t, storage.WriteFile(ctx, st, ".hoodie/20240101000000000.commit", []byte("{}"), storage.CreateOptions{}))
	_, err := table.Create(ctx, st, table.CreateOptions{Name: "t", RecordKeyFields: []string{"id"}})
	require.ErrorIs(t, err, table.ErrTableExists)
}

// writeRaw stores props as hoodie.properties (or another key) verbatim.
func writeRaw(t *testing.T, st storage.Storage, key string, props map[string]string) []byte {
	t.Helper()
	b := table.FormatProperties(props, table.PropertiesOptions{Last: []string{table.KeyChecksum}})
	require.NoError(t, storage.WriteFile(context.Background(), st, key, b, storage.CreateOptions{}))
	return b
}

func TestOpenRefusesWithoutDamage(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(m map[string]string)
		want   error
	}{
		{"version 5", func(m map[string]string) { m[table.KeyVersion] = "5" }, table.ErrUnsupportedVersion},
		{"layout 0", func(m map[string]string) { m[table.KeyTimelineLayoutVersion] = "0" }, table.ErrUnsupportedLayout},
		{"metadata column stats", func(m map[string]string) { m[table.KeyMetadataPartitions] = "files,column_stats" }, table.ErrMetadataTableEnabled},
		{"metadata record index", func(m map[string]string) { m[table.KeyMetadataPartitions] = "files,record_index" }, table.ErrMetadataTableEnabled},
		{"metadata inflight", func(m map[string]string) {
			m[table.KeyMetadataPartitions] = "files"
			m[table.KeyMetadataPartitionsInfl] = "column_stats"
		}, table.ErrMetadataTableEnabled},
		{"missing name", func(m map[string]string) { delete(m, table.KeyName); delete(m, table.KeyChecksum) }, table.ErrMissingProperty},
		{"bad checksum", func(m map[string]string) { m[table.KeyChecksum] = "1" }, table.ErrInvalidConfig},
		{"malformed escape", func(m map[string]string) {}, table.ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := storage.NewMem()
			m := validProps(t)
			tc.change(m)
			b := writeRaw(t, st, table.PropertiesFile, m)
			if tc.name == "malformed escape" {
				b = append(b, []byte("x=\\u12\n")...)
				require.NoError(t, storage.WriteFile(ctx, st, table.PropertiesFile, b, storage.CreateOptions{}))
			}
			_, err := table.Open(ctx, st)
			require.ErrorIs(t, err, tc.want)
			if tc.want == table.ErrMetadataTableEnabled {
				assertMetadataRefusal(t, err, m[table.KeyMetadataPartitions], m[table.KeyMetadataPartitionsInfl])
			}
			after, err := storage.ReadFile(ctx, st, table.PropertiesFile)
			require.NoError(t, err)
			assert.Equal(t, b, after, "hoodie.properties untouched")
		})
	}
}

func TestOpenNotATable(t *testing.T) {
	ctx := context.Background()
	_, err := table.Open(ctx, storage.NewMem())
	require.ErrorIs(t, err, table.ErrNotHudiTable)

	st, err := storage.NewLocal(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, storage.WriteFile(ctx, st, "data/file.parquet", []byte("x"), storage.CreateOptions{}))
	_, err = table.Open(ctx, st)
	require.ErrorIs(t, err, table.ErrNotHudiTable)
}

func TestOpenFallsBackToBackup(t *testing.T) {
	ctx := context.Background()
	m := validProps(t)

	// Interrupted update: only the backup exists.
	st := storage.NewMem()
	writeRaw(t, st, table.PropertiesBackupFile, m)
	tbl, err := table.Open(ctx, st)
	require.NoError(t, err)
	assert.Equal(t, "trips", tbl.Config().Name)

	// The main file fails its checksum: the backup is used.
	st = storage.NewMem()
	bad := validProps(t)
	bad[table.KeyChecksum] = "42"
	bad[table.KeyPrecombineField] = "rider"
	writeRaw(t, st, table.PropertiesFile, bad)
	writeRaw(t, st, table.PropertiesBackupFile, m)
	tbl, err = table.Open(ctx, st)
	require.NoError(t, err)
	assert.Equal(t, "ts", tbl.Config().PrecombineField)

	// Neither valid: the main file's error is reported.
	st = storage.NewMem()
	writeRaw(t, st, table.PropertiesFile, bad)
	_, err = table.Open(ctx, st)
	require.ErrorIs(t, err, table.ErrInvalidConfig)
}

func TestUpdateProperties(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	tbl, err := table.Create(ctx, st, table.CreateOptions{Name: "t", RecordKeyFields: []string{"id"}, PrecombineField: "ts"})
	require.NoError(t, err)
	require.NoError(t, tbl.UpdateProperties(ctx, func(p map[string]string) error {
		p[table.KeyPayloadClass] = table.PayloadOverwriteWithLatest
		p["hoodie.custom.key"] = "a=b"
		return nil
	}))
	assert.Equal(t, table.PayloadOverwriteWithLatest, tbl.Config().PayloadClass)
	ok, err := storage.Exists(ctx, st, table.PropertiesBackupFile)
	require.NoError(t, err)
	assert.False(t, ok, "backup deleted")
	reopened, err := table.Open(ctx, st)
	require.NoError(t, err)
	assert.Equal(t, table.PayloadOverwriteWithLatest, reopened.Config().PayloadClass)
	assert.Equal(t, "a=b", reopened.Config().Props["hoodie.custom.key"])
	assert.Equal(t, tbl.Config(), reopened.Config())

	// Renaming recomputes the checksum.
	require.NoError(t, tbl.UpdateProperties(ctx, func(p map[string]string) error {
		p[table.KeyName] = "renamed"
		return nil
	}))
	props := readProps(t, st, table.PropertiesFile)
	assert.Equal(t, "renamed", props[table.KeyName])
	assert.Equal(t, "2602531652", props[table.KeyChecksum])
	assert.Equal(t, uint32(2602531652), table.Checksum("default", "renamed"))

	before, err := storage.ReadFile(ctx, st, table.PropertiesFile)
	require.NoError(t, err)
	// An invalid change is refused and nothing is written.
	err = tbl.UpdateProperties(ctx, func(p map[string]string) error {
		p[table.KeyVersion] = "8"
		return nil
	})
	require.ErrorIs(t, err, table.ErrUnsupportedVersion)
	// fn's error aborts the update.
	boom := errors.New("boom")
	require.ErrorIs(t, tbl.UpdateProperties(ctx, func(map[string]string) error { return boom }), boom)
	after, err := storage.ReadFile(ctx, st, table.PropertiesFile)
	require.NoError(t, err)
	assert.Equal(t, before, after)
	ok, err = storage.Exists(ctx, st, table.PropertiesBackupFile)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Equal(t, "renamed", tbl.Config().Name)
}

func TestUpdatePropertiesRecovers(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	tbl, err := table.Create(ctx, st, table.CreateOptions{Name: "t", RecordKeyFields: []string{"id"}})
	require.NoError(t, err)
	orig, err := storage.ReadFile(ctx, st, table.PropertiesFile)
	require.NoError(t, err)

	// A crash after Java's step 3 (main deleted, backup written).
	require.NoError(t, storage.WriteFile(ctx, st, table.PropertiesBackupFile, orig, storage.CreateOptions{}))
	require.NoError(t, st.Delete(ctx, table.PropertiesFile))
	require.NoError(t, tbl.UpdateProperties(ctx, func(p map[string]string) error {
		p[table.KeyPrecombineField] = "ts"
		return nil
	}))
	reopened, err := table.Open(ctx, st)
	require.NoError(t, err)
	assert.Equal(t, "ts", reopened.Config().PrecombineField)

	// A stale backup beside a valid main file is discarded.
	require.NoError(t, storage.WriteFile(ctx, st, table.PropertiesBackupFile, orig, storage.CreateOptions{}))
	require.NoError(t, tbl.UpdateProperties(ctx, func(p map[string]string) error {
		p["k"] = "v"
		return nil
	}))
	reopened, err = table.Open(ctx, st)
	require.NoError(t, err)
	assert.Equal(t, "ts", reopened.Config().PrecombineField)
	assert.Equal(t, "v", reopened.Config().Props["k"])

}

// failingStore fails the n-th mutating operation (Create or Delete) and
// every one after it, like a process that dies at that point.
type failingStore struct {
	storage.Storage
	n, ops int
}

var errCrash = errors.New("injected crash")

func (f *failingStore) fail() bool {
	f.ops++
	return f.ops >= f.n
}

func (f *failingStore) Create(ctx context.Context, p string, o storage.CreateOptions) (storage.Writer, error) {
	if f.fail() {
		return nil, errCrash
	}
	return f.Storage.Create(ctx, p, o)
}

func (f *failingStore) Delete(ctx context.Context, p string) error {
	if f.fail() {
		return errCrash
	}
	return f.Storage.Delete(ctx, p)
}

// TestUpdatePropertiesCrashPoints interrupts an update at every mutating
// operation: the table must open with either the old or the new properties,
// and the next update must succeed.
func TestUpdatePropertiesCrashPoints(t *testing.T) {
	ctx := context.Background()
	for n := 1; ; n++ {
		mem := storage.NewMem()
		_, err := table.Create(ctx, mem, table.CreateOptions{Name: "t", RecordKeyFields: []string{"id"}})
		require.NoError(t, err)
		fs := &failingStore{Storage: mem, n: n}
		tbl, err := table.Open(ctx, fs)
		require.NoError(t, err)
		err = tbl.UpdateProperties(ctx, func(p map[string]string) error {
			p[table.KeyPrecombineField] = "ts"
			return nil
		})
		crashed := mem.Clone()
		reopened, openErr := table.Open(ctx, crashed)
		require.NoError(t, openErr, "crash at op %d", n)
		pc := reopened.Config().PrecombineField
		assert.Contains(t, []string{"", "ts"}, pc, "crash at op %d", n)
		if err == nil {
			assert.Equal(t, "ts", pc)
			require.Greater(t, n, 2, "the update makes several storage operations")
			return
		}
		require.ErrorIs(t, err, errCrash)
		require.NoError(t, reopened.UpdateProperties(ctx, func(p map[string]string) error {
			p[table.KeyPrecombineField] = "ts2"
			return nil
		}), "recovery after crash at op %d", n)
		again, err := table.Open(ctx, crashed)
		require.NoError(t, err)
		assert.Equal(t, "ts2", again.Config().PrecombineField)
	}
}

// TestTableCarriesTimelineAndView: the handle loads its timeline once and
// builds its view once, and sees another process's commit only after
// Refresh.
func TestTableCarriesTimelineAndView(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	tbl, err := table.Create(ctx, st, table.CreateOptions{Name: "t", RecordKeyFields: []string{"id"}})
	require.NoError(t, err)
	tl, err := tbl.Timeline(ctx)
	require.NoError(t, err)
	require.Empty(t, tl.Instants())
	v, err := tbl.View(ctx)
	require.NoError(t, err)
	require.Empty(t, v.FileGroups())

	// Another process commits a base file in partition p.
	tx, err := timeline.Begin(ctx, st, timeline.Commit, nil, timeline.BeginOptions{})
	require.NoError(t, err)
	T := tx.InstantTime()
	require.NoError(t, table.WritePartitionMetadata(ctx, st, "p", T))
	bf := filegroup.BaseFile{FileID: filegroup.NewFileID(), WriteToken: filegroup.WriteToken{StageID: 1}, InstantTime: T, Ext: filegroup.ExtParquet}
	require.NoError(t, tx.Marker(ctx, "p/"+bf.String(), timeline.MarkerCreate))
	require.NoError(t, storage.WriteFile(ctx, st, "p/"+bf.String(), []byte("data"), storage.CreateOptions{}))
	require.NoError(t, tx.Complete(ctx, []byte("{}")))

	again, err := tbl.Timeline(ctx)
	require.NoError(t, err)
	assert.Same(t, tl, again, "loaded once")
	v2, err := tbl.View(ctx)
	require.NoError(t, err)
	assert.Same(t, v, v2, "built once")

	require.NoError(t, tbl.Refresh(ctx))
	tl, err = tbl.Timeline(ctx)
	require.NoError(t, err)
	last, ok := tl.LastCompletedCommit()
	require.True(t, ok)
	assert.Equal(t, T, last.Timestamp)
	v, err = tbl.View(ctx)
	require.NoError(t, err)
	assert.Equal(t, T, v.AsOf)
	assert.Same(t, tl, v.Timeline())
	require.Len(t, v.LatestBaseFiles(), 1)
	assert.Equal(t, "p/"+bf.String(), v.LatestBaseFiles()[0].Path)
	v2, err = tbl.View(ctx)
	require.NoError(t, err)
	assert.Same(t, v, v2)

	other, err := tbl.ViewWith(ctx, filegroup.ViewOptions{Partitions: []string{"q"}})
	require.NoError(t, err)
	assert.Empty(t, other.Partitions())
	assert.NotSame(t, v, other)
}
