package interop_test

// The proof by the peers' defaults: Spark 3.5 + Hudi 0.15 with its
// default settings (which give every table a metadata table) and hoodie
// take turns writing one table; after every step four readers return the
// same rows, equal to a model of the writes, and Hudi's own Java code finds
// the metadata table's `files` partition equal to a listing of storage.
//
// The readers: Spark with Hudi 0.15, twice — listing files through the
// metadata table (hoodie.metadata.enable=true: Hudi 0.15's readers do not
// use it by default, HoodieMetadataConfig.DEFAULT_METADATA_ENABLE_FOR_READERS
// is false) and with its default options (listing storage); Spark with
// Hudi 1.0.2 (a second Spark process; its readers list through the
// metadata table by default); hudi-rs; hoodie's reader.
//
// The check (spark_harness.py's mdt_validate), through Hudi 0.15's Java
// classes: Hudi's validate_metadata_table_files procedure; the comparison
// that procedure means to make — per partition, the files
// HoodieBackedTableMetadata lists against FileSystemBackedTableMetadata's
// storage listing, by name and size (in 0.15 the procedure's "storage"
// side reads the metadata table too, so it never reports anything); the
// latest file slices of a metadata-based and a listing-based
// HoodieTableFileSystemView, as HoodieMetadataTableValidator compares them;
// the partition lists both ways. Hudi's Java classes also load the table
// (spark_harness.py's validate) and their active timeline must be hoodie's.
//
// Cases:
//
//	spark_only      Spark's own table: the check and the readers agree on
//	                it, and the check fails where it must — on a copy with
//	                a data file the metadata table does not list, and on a
//	                copy whose newest metadata log file was removed (there
//	                the readers that list through the metadata table miss
//	                the last commit's files, which shows they use it).
//	cow, mor        Spark creates the table and upserts; hoodie upserts,
//	                deletes, adds a partition; Spark upserts (on MOR it
//	                compacts inline, its default); hoodie upserts, compacts
//	                (MOR), cleans and upserts until it has compacted the
//	                metadata table; Spark upserts on top; hoodie upserts.
//	hoodie_created  hoodie creates a merge-on-read table and its first
//	                writer gives it a metadata table
//	                (writer.Options.MetadataTable, as `hoodie create
//	                --metadata-table` and the writing verbs' flag do);
//	                hoodie inserts, Spark upserts, hoodie upserts and
//	                deletes.
//	hoodie_enabled  hoodie writes a table, metadata.Enable bootstraps its
//	                metadata table; a hoodie write crashes at its commit
//	                point and Spark's next write rolls it back; another
//	                crashes and hoodie's next writer rolls it back.
//
// hoodie's own check (metadata.Validate) runs beside Hudi's after every
// step and must find the same: nothing, and something on the broken copies.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/bench"
	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
)

// mdtEnv holds the second Spark process (Hudi 1.0.2) of the test.
type mdtEnv struct {
	spark102 *sparkProc
}

// TestMetadataTableAlternatingWriters: see the file comment.
func TestMetadataTableAlternatingWriters(t *testing.T) {
	spark(t) // the shared Hudi 0.15 process, started before the clock of the first case
	p, err := startSparkVersion(matrixSparkVersion)
	require.NoError(t, err, "Spark + Hudi %s must be available", matrixSparkVersion)
	t.Cleanup(func() { stopSpark(p) })
	env := &mdtEnv{spark102: p}

	t.Run("spark_only", func(t *testing.T) { mdtSparkOnly(t, env) })
	for _, typ := range sparkTypes() {
		t.Run(mdtShort(typ), func(t *testing.T) { mdtAlternating(t, env, typ) })
	}
	t.Run("hoodie_created", func(t *testing.T) { mdtCreatedByHoodie(t, env) })
	t.Run("hoodie_enabled", func(t *testing.T) { mdtEnabledByHoodie(t, env) })
}

// --- the cases -----------------------------------------------------------------

// mdtSparkOnly: Spark writes a merge-on-read table with its defaults
// (create, upserts of updates only: log files, then updates and inserts);
// the readers agree and the check passes after each write; the check
// fails on the two broken copies, and Spark's snapshot of the copy without
// the newest metadata log misses the last commit.
func mdtSparkOnly(t *testing.T, env *mdtEnv) {
	name := "mdt_spark_only"
	base := filepath.Join(t.TempDir(), name)
	opts := sparkDefaultOptions(name, table.MergeOnRead)
	gen := bench.NewGenerator(bench.WorkloadConfig{Seed: 170})
	model := newEventModel("")

	first := noTies(gen.Next(300))
	sparkWrite(t, base, opts, first)
	model.upsert(first)
	env.check(t, "spark create", base, model)
	before := treeHashes(t, base)
	sparkDo(t, map[string]any{"op": "mdt_validate", "path": base})
	require.Equal(t, before, treeHashes(t, base), "the check (catalog registration included) changes nothing")

	upd := noTies(gen.Updates(latestEvents(model), 80))
	sparkWrite(t, base, opts, upd)
	model.upsert(upd)
	require.Positive(t, logFiles(t, openRead(t, base)), "Spark's updates went to log files")
	env.check(t, "spark updates", base, model)

	mixed := noTies(append(gen.Next(60), gen.Updates(latestEvents(model), 60)...))
	sparkWrite(t, base, opts, mixed)
	model.upsert(mixed)
	rows := env.check(t, "spark upsert", base, model)

	// A data file the metadata table does not list (a copy of a base file
	// under a new file id, with a completed instant's time).
	extra := filepath.Join(t.TempDir(), name)
	copyTree(t, base, extra)
	src := latestBaseFile(t, extra)
	parts := strings.Split(filepath.Base(src), "_")
	fake := "00000000-1111-2222-3333-444444444444-0_0-0-0_" + parts[len(parts)-1]
	copyFile(t, src, filepath.Join(filepath.Dir(src), fake))
	v := mdtValidate(t, extra)
	require.Contains(t, fmt.Sprint(v["file_mismatches"]), fake, "the check reports the unlisted data file")
	require.Contains(t, fmt.Sprint(v["slice_mismatches"]), fake, "the file-slice check reports the unlisted data file")
	t.Logf("unlisted data file: file_mismatches %v; Hudi 0.15's validate_metadata_table_files procedure: %v", v["file_mismatches"], v["procedure"])
	mm, err := metadata.Validate(context.Background(), openRead(t, extra))
	require.NoError(t, err)
	require.Contains(t, fmt.Sprint(mm), fake, "hoodie's metadata.Validate reports the unlisted data file")

	// The metadata table's newest log file removed: the last commit's files
	// are missing from it.
	lost := filepath.Join(t.TempDir(), name)
	copyTree(t, base, lost)
	log := newestMDTLog(t, lost)
	require.NoError(t, os.Remove(log))
	require.NoError(t, os.Remove(filepath.Join(filepath.Dir(log), "."+filepath.Base(log)+".crc")))
	v = mdtValidate(t, lost)
	require.NotEmpty(t, v["file_mismatches"], "the check reports the files of the lost metadata log")
	require.NotEmpty(t, v["slice_mismatches"], "the file-slice check reports the files of the lost metadata log")
	t.Logf("metadata log %s removed: file_mismatches %v; Hudi 0.15's procedure: %v", filepath.Base(log), v["file_mismatches"], v["procedure"])
	mm, err = metadata.Validate(context.Background(), openRead(t, lost))
	require.NoError(t, err)
	require.Len(t, mm, len(v["file_mismatches"].([]any)), "hoodie's metadata.Validate reports what Hudi's check does: %v", mm)
	// Readers that list files through the metadata table miss the last
	// commit's files of the broken copy: Spark with Hudi 0.15 when asked
	// to (hoodie.metadata.enable=true; its readers' default is false,
	// HoodieMetadataConfig.DEFAULT_METADATA_ENABLE_FOR_READERS), Spark
	// with Hudi 1.0.2 by default (its default is true).
	withMDT := rowsOf(t, sparkDo(t, mdtRead(lost, true)))
	require.False(t, sameRows(rows, withMDT), "Spark + Hudi 0.15 with hoodie.metadata.enable=true lists files through the metadata table")
	listing := rowsOf(t, sparkDo(t, mdtRead(lost, false)))
	requireSameRows(t, "Spark + Hudi 0.15, default options (listing storage)", rows, listing)
	resp, err := env.spark102.call(mdtRead(lost, false))
	require.NoError(t, err, "Hudi %s reads the broken copy", matrixSparkVersion)
	require.False(t, sameRows(rows, rowsOf(t, resp)), "Spark + Hudi %s lists files through the metadata table by default", matrixSparkVersion)
	// hoodie's reader lists through the metadata table too; hudi-rs 0.5
	// lists storage.
	oursLost := oursWith(t, openRead(t, lost), reader.Options{})
	require.False(t, sameRows(rows, oursLost), "hoodie's reader lists files through the metadata table")
	rsLost := hudiRS(t, lost)
	t.Logf("without the newest metadata log (the table has %d rows): Spark + Hudi 0.15 reads %d rows with the metadata table, %d by default; Hudi %s %d; hoodie %d; hudi-rs %d (all rows: %v)",
		len(rows), len(withMDT), len(listing), matrixSparkVersion, len(rowsOf(t, resp)), len(oursLost), len(rsLost), sameRows(rows, rsLost))
}

// mdtRead is a snapshot read request; metadata asks Spark to list files
// through the metadata table (hoodie.metadata.enable=true), else the
// reader's default applies.
func mdtRead(base string, metadata bool) map[string]any {
	r := map[string]any{"op": "read", "path": base, "query": "snapshot"}
	if metadata {
		r["options"] = map[string]any{"hoodie.metadata.enable": "true"}
	}
	return r
}

// mdtAlternating: Spark (defaults) creates the table and upserts; hoodie
// upserts (inserts, updates, deletes, a new partition); Spark upserts
// (updates, then updates and inserts); hoodie upserts, compacts (MOR),
// cleans and upserts until it has compacted the metadata table; Spark
// upserts on top of hoodie's metadata compaction; hoodie upserts once
// more. All readers and the check after every step.
func mdtAlternating(t *testing.T, env *mdtEnv, typ table.TableType) {
	ctx := context.Background()
	name := "mdt_alt_" + mdtShort(typ)
	base := filepath.Join(t.TempDir(), name)
	opts := sparkDefaultOptions(name, typ)
	gen := bench.NewGenerator(bench.WorkloadConfig{Seed: 171})
	model := newEventModel("")
	indexDir := t.TempDir()

	// 1. Spark with its defaults creates the table and upserts.
	first := noTies(gen.Next(300))
	sparkWrite(t, base, opts, first)
	model.upsert(first)
	second := noTies(append(gen.Next(60), gen.Updates(latestEvents(model), 80)...))
	sparkWrite(t, base, opts, second)
	model.upsert(second)
	require.Contains(t, strings.Split(readProps(t, base)[table.KeyMetadataPartitions], ","), "files", "Spark's defaults: a metadata table")
	env.check(t, "1 spark create+upsert", base, model)

	// 2. hoodie: inserts and updates, deletes, a new partition.
	tbl := reopen(t, base)
	w := openSharedWriter(t, tbl, indexDir)
	evs := noTies(append(gen.Next(80), gen.Updates(latestEvents(model), 60)...))
	mdtRequireDeltaCommit(t, base, commitEvents(t, w, opUpsert, evs))
	model.upsert(evs)
	del := latestEvents(model)[:25]
	mdtRequireDeltaCommit(t, base, commitEvents(t, w, opDelete, del))
	model.delete(del)
	gen.SetStart(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) // new dt values: new partitions
	fresh := noTies(gen.Next(50))
	mdtRequireDeltaCommit(t, base, commitEvents(t, w, opUpsert, fresh))
	model.upsert(fresh)
	require.NoError(t, w.Close())
	env.check(t, "2 hoodie upserts, delete, new partition", base, model)

	// 3. Spark with its defaults: updates (merge-on-read: log files), then
	// updates and inserts.
	upd := noTies(gen.Updates(latestEvents(model), 80))
	sparkWrite(t, base, opts, upd)
	model.upsert(upd)
	if typ == table.MergeOnRead {
		// Spark's MOR batch writes compact inline every 5 deltacommits
		// (hoodie.compact.inline, Hudi's default for them): this one
		// wrote log files and compacted the table, hoodie's file slices
		// included.
		last, ok := mdtLoadTimeline(t, base).LastCompletedCommit()
		require.True(t, ok)
		require.Equal(t, timeline.Commit, last.Action, "Spark compacted inline")
		require.Zero(t, logFiles(t, openRead(t, base)))
	}
	mixed := noTies(append(gen.Next(40), gen.Updates(latestEvents(model), 40)...))
	sparkWrite(t, base, opts, mixed)
	model.upsert(mixed)
	env.check(t, "3 spark updates, upsert", base, model)

	// 4. hoodie: upsert, compaction (MOR), clean.
	compactions := mdtCompactions(t, base)
	tbl = reopen(t, base)
	w = openSharedWriter(t, tbl, indexDir)
	evs = noTies(append(gen.Next(30), gen.Updates(latestEvents(model), 60)...))
	mdtRequireDeltaCommit(t, base, commitEvents(t, w, opUpsert, evs))
	model.upsert(evs)
	require.NoError(t, w.Close())
	env.check(t, "4 hoodie upsert", base, model)
	if typ == table.MergeOnRead {
		sc, res, err := compactor.Run(ctx, tbl, compactor.Options{Force: true})
		require.NoError(t, err)
		require.NotNil(t, sc, "a compaction was scheduled")
		require.NotEmpty(t, res)
		mdtRequireDeltaCommit(t, base, sc.Instant)
		env.check(t, "4 hoodie compaction", base, model)
	}
	cres, err := cleaner.Clean(ctx, tbl, cleaner.Options{Policy: cleaner.KeepLatestFileVersions, FileVersionsRetained: 1})
	require.NoError(t, err)
	require.NotEmpty(t, cres.Deleted, "the clean deleted old file versions")
	mdtRequireDeltaCommit(t, base, cres.Instant.Timestamp)
	env.check(t, "4 hoodie clean", base, model)

	// hoodie upserts until it has compacted the metadata table (every 10
	// deltacommits).
	w = openSharedWriter(t, tbl, indexDir)
	n := 0
	for ; n < 12 && len(mdtCompactions(t, base)) == len(compactions); n++ {
		evs := noTies(append(gen.Next(10), gen.Updates(latestEvents(model), 15)...))
		mdtRequireDeltaCommit(t, base, commitEvents(t, w, opUpsert, evs))
		model.upsert(evs)
	}
	require.NoError(t, w.Close())
	after := mdtCompactions(t, base)
	require.Greater(t, len(after), len(compactions), "hoodie compacted the metadata table in step 4 (metadata timeline: %v)", mdtTimeline(t, base))
	t.Logf("hoodie compacted the metadata table (%d more upserts needed): %v; metadata deltacommits: %d", n, after[len(compactions):], mdtDeltaCommits(t, base))
	if n > 0 {
		env.check(t, "4 hoodie upserts, metadata compaction", base, model)
	}

	// Spark on top of hoodie's metadata compaction, then hoodie once more.
	more := noTies(append(gen.Next(30), gen.Updates(latestEvents(model), 50)...))
	sparkWrite(t, base, opts, more)
	model.upsert(more)
	env.check(t, "5 spark upsert after hoodie's metadata compaction", base, model)
	tbl = reopen(t, base)
	w = openSharedWriter(t, tbl, indexDir)
	evs = noTies(append(gen.Next(20), gen.Updates(latestEvents(model), 30)...))
	mdtRequireDeltaCommit(t, base, commitEvents(t, w, opUpsert, evs))
	model.upsert(evs)
	require.NoError(t, w.Close())
	env.check(t, "6 hoodie upsert", base, model)
	require.Greater(t, mdtDeltaCommits(t, base), 10, "metadata deltacommits")
}

// mdtCreatedByHoodie: hoodie creates a merge-on-read table; its first
// writer, with writer.Options.MetadataTable, gives it a metadata table and
// inserts; Spark with its defaults upserts (updates: log files; then
// updates and inserts); hoodie upserts and deletes. All readers and the
// check after every step.
func mdtCreatedByHoodie(t *testing.T, env *mdtEnv) {
	ctx := context.Background()
	tbl, base := newTable(t, table.CreateOptions{Name: "mdt_made", Type: table.MergeOnRead, RecordKeyFields: []string{"uuid"},
		PrecombineField: "time", PartitionFields: []string{"dt", "region"}, HiveStylePartitioning: true})
	indexDir := t.TempDir()
	model := newEventModel(tbl.Config().PayloadClass)
	gen := bench.NewGenerator(bench.WorkloadConfig{Seed: 172})

	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: indexDir, InsertsToBaseFiles: true, MetadataTable: true})
	require.NoError(t, err)
	require.Equal(t, []string{"files"}, strings.Split(readProps(t, base)[table.KeyMetadataPartitions], ","))
	_, err = os.Stat(filepath.Join(base, ".hoodie", "metadata", ".hoodie", "hoodie.properties"))
	require.NoError(t, err, "the metadata table's hoodie.properties")
	first := noTies(gen.Next(300))
	mdtRequireDeltaCommit(t, base, commitEvents(t, w, opInsert, first))
	model.upsert(first)
	require.NoError(t, w.Close())
	env.check(t, "1 hoodie insert", base, model)

	// Spark with its defaults (the metadata table on): the table's own
	// key, partition and payload settings, nothing about the metadata table.
	opts := sparkWriteOptions(tbl.Config(), "upsert")
	delete(opts, "hoodie.metadata.enable")
	upd := noTies(gen.Updates(latestEvents(model), 80))
	sparkWrite(t, base, opts, upd)
	model.upsert(upd)
	require.Positive(t, logFiles(t, openRead(t, base)), "Spark's updates went to log files")
	mixed := noTies(append(gen.Next(50), gen.Updates(latestEvents(model), 40)...))
	sparkWrite(t, base, opts, mixed)
	model.upsert(mixed)
	env.check(t, "2 spark updates, upsert", base, model)

	tbl = reopen(t, base)
	w = openSharedWriter(t, tbl, indexDir)
	evs := noTies(append(gen.Next(40), gen.Updates(latestEvents(model), 60)...))
	mdtRequireDeltaCommit(t, base, commitEvents(t, w, opUpsert, evs))
	model.upsert(evs)
	del := latestEvents(model)[:20]
	mdtRequireDeltaCommit(t, base, commitEvents(t, w, opDelete, del))
	model.delete(del)
	require.NoError(t, w.Close())
	env.check(t, "3 hoodie upsert, delete", base, model)
}

// mdtEnabledByHoodie: hoodie creates a copy-on-write table without a
// metadata table and upserts; metadata.Enable bootstraps the metadata
// table from a listing; Spark with its defaults upserts; hoodie upserts.
// All readers and the check after every step.
func mdtEnabledByHoodie(t *testing.T, env *mdtEnv) {
	ctx := context.Background()
	tbl, base := newTable(t, table.CreateOptions{Name: "mdt_enabled", Type: table.CopyOnWrite, RecordKeyFields: []string{"uuid"},
		PrecombineField: "time", PartitionFields: []string{"dt", "region"}, HiveStylePartitioning: true})
	indexDir := t.TempDir()
	model := newEventModel(tbl.Config().PayloadClass)
	gen := bench.NewGenerator(bench.WorkloadConfig{Seed: 173})
	w := openSharedWriter(t, tbl, indexDir)
	for i := 0; i < 2; i++ {
		evs := gen.Next(150)
		if i > 0 {
			evs = append(evs, gen.Updates(latestEvents(model), 40)...)
		}
		evs = noTies(evs)
		commitEvents(t, w, opUpsert, evs)
		model.upsert(evs)
	}
	require.NoError(t, w.Close())
	_, err := os.Stat(filepath.Join(base, ".hoodie", "metadata"))
	require.ErrorIs(t, err, os.ErrNotExist)

	require.NoError(t, metadata.Enable(ctx, tbl, metadata.Options{}))
	require.Equal(t, []string{"files"}, strings.Split(readProps(t, base)[table.KeyMetadataPartitions], ","))
	env.check(t, "1 hoodie upserts, metadata.Enable", base, model)

	// A hoodie write that crashes at its commit point (its metadata
	// deltacommit complete, the data commit not); Spark's next write, with
	// its defaults, rolls it back (Hudi's eager rollback of failed writes).
	mdtCrashWrite(t, tbl, base, indexDir, noTies(append(gen.Next(30), gen.Updates(latestEvents(model), 30)...)))
	opts := sparkWriteOptions(tbl.Config(), "upsert")
	delete(opts, "hoodie.metadata.enable")
	mixed := noTies(append(gen.Next(50), gen.Updates(latestEvents(model), 60)...))
	sparkWrite(t, base, opts, mixed)
	model.upsert(mixed)
	require.Empty(t, mdtLoadTimeline(t, base).Pending(), "Spark rolled back hoodie's failed write")
	env.check(t, "2 hoodie crash, spark upsert", base, model)

	// Again, and hoodie's next writer rolls it back.
	tbl = reopen(t, base)
	mdtCrashWrite(t, tbl, base, indexDir, noTies(append(gen.Next(30), gen.Updates(latestEvents(model), 30)...)))
	tbl = reopen(t, base)
	w = openSharedWriter(t, tbl, indexDir)
	require.Empty(t, mdtLoadTimeline(t, base).Pending(), "hoodie rolled back its failed write")
	evs := noTies(append(gen.Next(40), gen.Updates(latestEvents(model), 60)...))
	mdtRequireDeltaCommit(t, base, commitEvents(t, w, opUpsert, evs))
	model.upsert(evs)
	require.NoError(t, w.Close())
	env.check(t, "3 hoodie crash, rollback, upsert", base, model)
}

// mdtCrashWrite upserts evs through a store that crashes when the data
// table's completed commit file is written (after the metadata table's
// deltacommit completed): the instant stays pending.
func mdtCrashWrite(t *testing.T, tbl *table.Table, base, indexDir string, evs []bench.Event) {
	t.Helper()
	ctx := context.Background()
	f := storagefault.NewFaulty(tbl.Storage(), storagefault.OnIndex(0, storagefault.ModeCrash,
		storagefault.Match{Kinds: []storagefault.OpKind{storagefault.OpClose}, Path: ".hoodie/*.commit"}))
	ctbl, err := table.Open(ctx, f)
	require.NoError(t, err)
	w := openSharedWriter(t, ctbl, indexDir)
	defer w.Close()
	b := bench.ToArrow(evs)
	defer b.Release()
	require.NoError(t, w.Upsert(b))
	res, err := w.Commit(ctx)
	require.True(t, errors.Is(err, storagefault.ErrCrashed) || errors.Is(err, storagefault.ErrInjected), "the write crashed: %v (%v)", err, res)
	p := mdtLoadTimeline(t, base).Pending()
	require.Len(t, p, 1, "the crashed write is pending")
	mdtRequireDeltaCommit(t, base, p[0].Timestamp)
}

// --- the checks ------------------------------------------------------------------

// check runs the metadata table check and the four readers on the table at
// base and compares the rows with the model; it returns hoodie's rows.
func (e *mdtEnv) check(t *testing.T, step, base string, model *eventModel) []map[string]any {
	t.Helper()
	start := time.Now()
	ctx := context.Background()
	tbl := openRead(t, base)

	// Hudi's Java classes load the table; their active timeline is hoodie's.
	v := sparkDo(t, map[string]any{"op": "validate", "path": base})
	require.Empty(t, v["problems"], "%s: Hudi's Java classes rejected parts of the table", step)
	tl, err := timeline.Load(ctx, tbl.Storage())
	require.NoError(t, err)
	var javaInstants, ourInstants []string
	for _, raw := range v["instants"].([]any) {
		i := raw.(map[string]any)
		javaInstants = append(javaInstants, fmt.Sprintf("%s.%s.%s", i["timestamp"], i["action"], i["state"]))
	}
	for _, i := range tl.Instants() {
		ourInstants = append(ourInstants, fmt.Sprintf("%s.%s.%s", i.Timestamp, i.Action, i.State))
	}
	require.Equal(t, ourInstants, javaInstants, "%s: active timeline, hoodie vs Java", step)

	// The metadata table against storage.
	m := mdtValidate(t, base)
	require.Empty(t, m["procedure"], "%s: Hudi's validate_metadata_table_files", step)
	require.Empty(t, m["file_mismatches"], "%s: files of the metadata table vs a storage listing (per partition, name and size)", step)
	require.Empty(t, m["slice_mismatches"], "%s: latest file slices, metadata-based vs listing-based HoodieTableFileSystemView", step)
	mm, err := metadata.Validate(ctx, tbl)
	require.NoError(t, err)
	require.Empty(t, mm, "%s: hoodie's metadata.Validate", step)
	pm := m["partitions"].(map[string]any)
	require.Equal(t, pm["storage"], pm["metadata"], "%s: partitions, metadata table vs storage listing", step)
	require.NotEmpty(t, pm["metadata"], step)

	// The four readers.
	rows := oursWith(t, tbl, reader.Options{})
	model.check(t, rows)
	requireSameRows(t, step+": Spark + Hudi 0.15 snapshot, files listed by the metadata table", rows, rowsOf(t, sparkDo(t, mdtRead(base, true))))
	requireSameRows(t, step+": Spark + Hudi 0.15 snapshot, default options (files listed from storage)", rows, rowsOf(t, sparkDo(t, mdtRead(base, false))))
	resp, err := e.spark102.call(mdtRead(base, false))
	require.NoError(t, err, "%s: Spark + Hudi %s", step, matrixSparkVersion)
	requireSameRows(t, step+": Spark + Hudi "+matrixSparkVersion+" snapshot", rows, rowsOf(t, resp))
	requireSameRows(t, step+": hudi-rs snapshot", rows, hudiRS(t, base))
	t.Logf("%s: %d rows, %d partitions, %d metadata deltacommits, checked in %.1fs", step, len(rows), len(pm["metadata"].([]any)), mdtDeltaCommits(t, base), time.Since(start).Seconds())
	return rows
}

// mdtShort is "cow" or "mor".
func mdtShort(typ table.TableType) string {
	if typ == table.MergeOnRead {
		return "mor"
	}
	return "cow"
}

// mdtValidate asks Spark's Hudi 0.15 to check the metadata table of the
// table at base (spark_harness.py's mdt_validate).
func mdtValidate(t *testing.T, base string) map[string]any {
	t.Helper()
	return sparkDo(t, map[string]any{"op": "mdt_validate", "path": base})
}

// sameRows reports whether two row lists are equal.
func sameRows(a, b []map[string]any) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// openRead opens the table at base for reading.
func openRead(t *testing.T, base string) *table.Table {
	t.Helper()
	st, err := storage.NewLocal(base)
	require.NoError(t, err)
	tbl, err := table.OpenForRead(context.Background(), st)
	require.NoError(t, err)
	return tbl
}

// --- the metadata table's files ------------------------------------------------

func mdtTimelineDir(base string) string {
	return filepath.Join(base, ".hoodie", "metadata", ".hoodie")
}

// mdtTimeline lists the metadata table's timeline files.
func mdtTimeline(t *testing.T, base string) []string {
	t.Helper()
	ents, err := os.ReadDir(mdtTimelineDir(base))
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		if !e.IsDir() && !strings.HasSuffix(e.Name(), ".crc") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// mdtLoadTimeline loads the data table's timeline.
func mdtLoadTimeline(t *testing.T, base string) *timeline.Timeline {
	t.Helper()
	tl, err := timeline.Load(context.Background(), openRead(t, base).Storage())
	require.NoError(t, err)
	return tl
}

// mdtCompactions are the metadata table's completed compactions (its
// .commit files).
func mdtCompactions(t *testing.T, base string) []string {
	t.Helper()
	var out []string
	for _, f := range mdtTimeline(t, base) {
		if strings.HasSuffix(f, ".commit") {
			out = append(out, f)
		}
	}
	return out
}

// mdtDeltaCommits counts the metadata table's completed deltacommits.
func mdtDeltaCommits(t *testing.T, base string) int {
	t.Helper()
	n := 0
	for _, f := range mdtTimeline(t, base) {
		if strings.HasSuffix(f, ".deltacommit") {
			n++
		}
	}
	return n
}

// mdtRequireDeltaCommit requires the metadata table's completed
// deltacommit of the data table's instant.
func mdtRequireDeltaCommit(t *testing.T, base, instant string) {
	t.Helper()
	require.NotEmpty(t, instant)
	_, err := os.Stat(filepath.Join(mdtTimelineDir(base), instant+".deltacommit"))
	require.NoError(t, err, "the metadata table's deltacommit of data instant %s", instant)
}

var mdtLogName = regexp.MustCompile(`^\.files-\d{4}-0_(\d+)\.log\.(\d+)_`)

// newestMDTLog is the newest log file of the metadata table's files
// partition: of the newest base instant, the highest version.
func newestMDTLog(t *testing.T, base string) string {
	t.Helper()
	dir := filepath.Join(base, ".hoodie", "metadata", "files")
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	best, bestInst, bestVer := "", "", -1
	for _, e := range ents {
		m := mdtLogName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		ver, err := strconv.Atoi(m[2])
		require.NoError(t, err)
		if m[1] > bestInst || (m[1] == bestInst && ver > bestVer) {
			best, bestInst, bestVer = e.Name(), m[1], ver
		}
	}
	require.NotEmpty(t, best, "a log file in %s", dir)
	return filepath.Join(dir, best)
}

// latestBaseFile is a base file of the table's latest commit.
func latestBaseFile(t *testing.T, base string) string {
	t.Helper()
	tbl := openRead(t, base)
	plan, err := reader.Plan(context.Background(), tbl, reader.Options{ReadOptimized: true})
	require.NoError(t, err)
	files := plan.View.LatestBaseFiles()
	require.NotEmpty(t, files)
	sort.Slice(files, func(i, j int) bool { return files[i].Name > files[j].Name })
	return filepath.Join(base, filepath.FromSlash(files[0].Path))
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		return copyFileErr(p, filepath.Join(dst, rel))
	}))
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, copyFileErr(src, dst))
}

func copyFileErr(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
