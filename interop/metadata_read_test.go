package interop_test

// Tables Spark makes with Hudi's default settings keep a metadata table
// (.hoodie/metadata, hoodie.table.metadata.partitions=files). hoodie reads
// them through it (as Spark does by default) and by listing storage, row
// for row as Spark does, and maintains it when it writes
// (metadata_write_test.go). A metadata table with partitions hoodie does
// not maintain (column_stats here) makes every hoodie write entry point
// refuse, with table.ErrMetadataTableEnabled, until a Spark write drops
// them, as the error says.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hoodie-lake/hoodie/bench"
	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/rollback"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
	"github.com/stretchr/testify/require"
)

// sparkDefaultOptions are the options of a Spark datasource write with
// Hudi's defaults: only what names the table and its keys (and small
// shuffles). hoodie.metadata.enable is deliberately absent.
func sparkDefaultOptions(name string, typ table.TableType) map[string]any {
	return map[string]any{
		"hoodie.table.name":                               name,
		"hoodie.datasource.write.table.type":              string(typ),
		"hoodie.datasource.write.operation":               "upsert",
		"hoodie.datasource.write.recordkey.field":         "uuid",
		"hoodie.datasource.write.precombine.field":        "time",
		"hoodie.datasource.write.partitionpath.field":     "dt,region",
		"hoodie.datasource.write.hive_style_partitioning": "true",
		"hoodie.upsert.shuffle.parallelism":               "2",
		"hoodie.insert.shuffle.parallelism":               "2",
	}
}

// latestEvents are the model's current rows, by key: updates made from
// them (bench's Updates adds to the ordering field) are newer than what
// the table holds, so every reader's merge rules (Hudi's precombine
// between log records, hudi-rs's) agree on the result.
func latestEvents(m *eventModel) []bench.Event {
	keys := make([]string, 0, len(m.rows))
	for k := range m.rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]bench.Event, len(keys))
	for i, k := range keys {
		out[i] = m.rows[k]
	}
	return out
}

// treeHashes maps every file under dir to the SHA-256 of its content.
func treeHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	}))
	return out
}

// readProps reads hoodie.properties of the table at base.
func readProps(t *testing.T, base string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(base, filepath.FromSlash(table.PropertiesFile)))
	require.NoError(t, err)
	props, err := table.ParseProperties(strings.NewReader(string(b)))
	require.NoError(t, err)
	return props
}

// openForRead opens the table at base with table.OpenForRead.
func openForRead(t *testing.T, base string) *table.Table {
	t.Helper()
	st, err := storage.NewLocal(base)
	require.NoError(t, err)
	tbl, err := table.OpenForRead(context.Background(), st)
	require.NoError(t, err, "hoodie opens Spark's table with a metadata table for reading")
	return tbl
}

// TestReadSparkTablesWithMetadataTable: Spark (Hudi 0.15, default
// settings) writes a partitioned table in three upserts (new partitions,
// updates; the last one's merge-on-read updates go to log files); the
// table keeps a metadata table. hoodie's reader, listing through Spark's
// metadata table, agrees with Spark on every query (snapshot,
// read-optimized, time travel, incremental) and with hudi-rs on the
// snapshot; its metadata listing equals a listing of storage
// (metadata.Validate) and both views pick the same files. A fourth Spark
// write turns on the column_stats index: every hoodie write entry point
// then refuses the table with table.ErrMetadataTableEnabled without
// changing a file. After one Spark write with hoodie.metadata.enable=false
// (the way out the error names) the metadata table is gone and hoodie
// writes the table.
func TestReadSparkTablesWithMetadataTable(t *testing.T) {
	for _, typ := range sparkTypes() {
		t.Run(strings.ToLower(string(typ)), func(t *testing.T) {
			ctx := context.Background()
			name := "spark_mdt_" + strings.ToLower(string(typ))[:3]
			base := filepath.Join(t.TempDir(), name)
			opts := sparkDefaultOptions(name, typ)
			gen := bench.NewGenerator(bench.WorkloadConfig{Seed: 41})
			model := newEventModel("")

			first := noTies(gen.Next(600))
			sparkWrite(t, base, opts, first)
			model.upsert(first)
			second := noTies(append(gen.Next(200), gen.Updates(latestEvents(model), 150)...))
			sparkWrite(t, base, opts, second)
			model.upsert(second)
			// Updates only: on merge-on-read they go to log files (a write
			// that also inserts makes Hudi rewrite small file groups).
			third := noTies(gen.Updates(latestEvents(model), 100))
			sparkWrite(t, base, opts, third)
			model.upsert(third)

			// Spark's defaults: a metadata table.
			props := readProps(t, base)
			require.NotEmpty(t, strings.TrimSpace(props[table.KeyMetadataPartitions]), "hoodie.table.metadata.partitions: %v", props)
			require.Contains(t, strings.Split(props[table.KeyMetadataPartitions], ","), "files")
			for _, f := range []string{".hoodie/metadata/.hoodie/hoodie.properties", ".hoodie/metadata/files/.hoodie_partition_metadata"} {
				_, err := os.Stat(filepath.Join(base, filepath.FromSlash(f)))
				require.NoError(t, err, "Spark's metadata table")
			}

			// hoodie reads it as Spark and hudi-rs do, through the metadata table.
			tbl := openForRead(t, base)
			require.NoError(t, tbl.Writable(), "a files-only metadata table is one hoodie maintains")
			cfg := tbl.Config()
			require.Equal(t, typ, cfg.Type)
			require.Equal(t, []string{"dt", "region"}, cfg.PartitionFields)
			tl, err := timeline.Load(ctx, tbl.Storage())
			require.NoError(t, err)
			require.Len(t, tl.CompletedCommits(), 3, "the data table's commits only:\n%s", tl)
			mm, err := metadata.Validate(ctx, tbl)
			require.NoError(t, err)
			require.Empty(t, mm, "Spark's metadata table agrees with storage as hoodie reads both")
			plan, err := reader.Plan(ctx, tbl, reader.Options{Listing: reader.ListingMetadataTable})
			require.NoError(t, err)
			listed, err := reader.Plan(ctx, tbl, reader.Options{Listing: reader.ListingStorage})
			require.NoError(t, err)
			require.Equal(t, baseNames(listed.Files), baseNames(plan.Files), "the same files through the metadata table and a listing")
			require.Equal(t, len(listed.Merged), len(plan.Merged))
			require.NotEmpty(t, plan.View.Partitions())
			for _, p := range plan.View.Partitions() {
				require.False(t, strings.HasPrefix(p, table.MetaFolder), "partition %q", p)
			}
			if typ == table.MergeOnRead {
				require.True(t, plan.NeedsMerge(), "Spark's updates went to log files")
			}
			rows := threeReaders(t, tbl, base)
			model.check(t, rows)

			// Spark turns on a metadata index hoodie does not maintain.
			colStats := sparkDefaultOptions(name, typ)
			colStats["hoodie.metadata.index.column.stats.enable"] = "true"
			fourth := noTies(gen.Updates(latestEvents(model), 60))
			sparkWrite(t, base, colStats, fourth)
			model.upsert(fourth)
			props = readProps(t, base)
			require.Contains(t, strings.Split(props[table.KeyMetadataPartitions], ","), "column_stats", "hoodie.table.metadata.partitions: %v", props)
			tbl = openForRead(t, base)
			require.ErrorIs(t, tbl.Writable(), table.ErrMetadataTableEnabled)
			model.check(t, threeReaders(t, tbl, base))
			tl, err = timeline.Load(ctx, tbl.Storage())
			require.NoError(t, err)

			// Every write entry point refuses, and nothing changes.
			before := treeHashes(t, base)
			indexDir := t.TempDir()
			st, err := storage.NewLocal(base)
			require.NoError(t, err)
			_, err = table.Open(ctx, st)
			require.ErrorIs(t, err, table.ErrMetadataTableEnabled, "table.Open (writer, ingest, cdc, compact, clean, rollback CLI)")
			require.Contains(t, err.Error(), "column_stats")
			require.Contains(t, err.Error(), "hoodie.metadata.enable=false")
			_, err = writer.Open(ctx, tbl, writer.Options{IndexDir: indexDir})
			require.ErrorIs(t, err, table.ErrMetadataTableEnabled, "writer.Open")
			last, ok := tl.LastCompletedCommit()
			require.True(t, ok)
			err = rollback.Instant(ctx, tbl, last.Timestamp)
			require.ErrorIs(t, err, table.ErrMetadataTableEnabled, "rollback.Instant")
			_, err = cleaner.Archive(ctx, tbl, cleaner.ArchiveOptions{MinToKeep: 1, MaxToKeep: 2})
			require.ErrorIs(t, err, table.ErrMetadataTableEnabled, "cleaner.Archive")
			_, err = cleaner.Clean(ctx, tbl, cleaner.Options{Policy: cleaner.KeepLatestFileVersions, FileVersionsRetained: 1})
			if typ == table.CopyOnWrite {
				require.ErrorIs(t, err, table.ErrMetadataTableEnabled, "cleaner.Clean (older file versions to delete)")
			} else if err != nil {
				require.ErrorIs(t, err, table.ErrMetadataTableEnabled, "cleaner.Clean")
			}
			if typ == table.MergeOnRead {
				_, _, err = compactor.Run(ctx, tbl, compactor.Options{Force: true})
				require.ErrorIs(t, err, table.ErrMetadataTableEnabled, "compactor.Run")
				_, err = compactor.Schedule(ctx, tbl, compactor.Options{Force: true})
				require.ErrorIs(t, err, table.ErrMetadataTableEnabled, "compactor.Schedule")
			}
			require.Equal(t, before, treeHashes(t, base), "refused writes changed nothing")

			// The way out the error names: one Spark write with
			// hoodie.metadata.enable=false deletes the metadata table.
			off := sparkDefaultOptions(name, typ)
			off["hoodie.metadata.enable"] = "false"
			more := noTies(append(gen.Next(50), gen.Updates(latestEvents(model), 50)...))
			sparkWrite(t, base, off, more)
			model.upsert(more)
			props = readProps(t, base)
			require.Empty(t, strings.TrimSpace(props[table.KeyMetadataPartitions]), "Spark emptied hoodie.table.metadata.partitions")
			_, err = os.Stat(filepath.Join(base, ".hoodie", "metadata"))
			require.ErrorIs(t, err, fs.ErrNotExist, "Spark deleted .hoodie/metadata")

			tbl = reopen(t, base) // table.Open: writable now
			require.NoError(t, tbl.Writable())
			w := openWriter(t, tbl, indexDir)
			evs := noTies(append(gen.Next(80), gen.Updates(latestEvents(model), 40)...))
			commitEvents(t, w, opUpsert, evs)
			model.upsert(evs)
			require.NoError(t, w.Close())
			model.check(t, threeReaders(t, tbl, base))
		})
	}
}

// baseNames are the names of base files, sorted.
func baseNames(fs []filegroup.BaseFileInfo) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	sort.Strings(out)
	return out
}
