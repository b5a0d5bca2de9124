package writer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hoodie-lake/hoodie/avroplan"
	"github.com/hoodie-lake/hoodie/internal/keygen"
	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func upsertCommit(t *testing.T, w *Writer, recs []modelRec) *CommitResult {
	t.Helper()
	b := buildBatch(recs)
	defer b.Release()
	require.NoError(t, w.Upsert(b))
	res, err := w.Commit(context.Background())
	require.NoError(t, err)
	return res
}

func TestBadRecordsAreRejectedWhole(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newModelTable(t, "", table.CopyOnWrite)
	w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index"})
	require.NoError(t, err)
	defer w.Close()
	upsertCommit(t, w, []modelRec{{key: "a", part: "p", ts: 1, val: 1}})

	// Row 2 has a null record key.
	b := array.NewRecordBuilder(memory.DefaultAllocator, modelSchema)
	for i, k := range []string{"x", "y", ""} {
		if i == 2 {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.StringBuilder).Append(k)
		}
		b.Field(1).(*array.Int64Builder).Append(5)
		b.Field(2).(*array.StringBuilder).Append("p")
		b.Field(3).(*array.Int64Builder).Append(5)
		b.Field(4).(*array.BooleanBuilder).Append(false)
	}
	rec := b.NewRecordBatch()
	b.Release()
	err = w.Upsert(rec)
	rec.Release()
	require.ErrorIs(t, err, ErrBadRecord)
	var re *keygen.RowError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 2, re.Row)
	assert.Equal(t, "id", re.Field)
	assert.Equal(t, 0, w.Buffered(), "nothing of the bad batch is buffered")

	// A null precombine value names its row and field too.
	b = array.NewRecordBuilder(memory.DefaultAllocator, modelSchema)
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"x", "y"}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{1, 0}, []bool{true, false})
	b.Field(2).(*array.StringBuilder).AppendValues([]string{"p", "p"}, nil)
	b.Field(3).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	b.Field(4).(*array.BooleanBuilder).AppendValues([]bool{false, false}, nil)
	rec = b.NewRecordBatch()
	b.Release()
	err = w.Upsert(rec)
	rec.Release()
	require.ErrorIs(t, err, ErrBadRecord)
	assert.Contains(t, err.Error(), "row 1")
	assert.Contains(t, err.Error(), `"ts"`)
	assert.Equal(t, 0, w.Buffered())

	res, err := w.Commit(ctx)
	require.NoError(t, err)
	assert.Empty(t, res.Instant, "nothing to commit")
	got := readTable(t, tbl)
	assert.Len(t, got, 1)
}

func TestSchemaEvolution(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newModelTable(t, "", table.CopyOnWrite)
	w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index"})
	require.NoError(t, err)
	defer w.Close()
	upsertCommit(t, w, []modelRec{{key: "a", part: "p", ts: 1, val: 1}, {key: "b", part: "p", ts: 1, val: 2}})

	// A batch that adds a nullable column evolves the schema.
	evolved := arrow.NewSchema(append(modelSchema.Fields(), arrow.Field{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true}), nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, evolved)
	b.Field(0).(*array.StringBuilder).Append("c")
	b.Field(1).(*array.Int64Builder).Append(2)
	b.Field(2).(*array.StringBuilder).Append("p")
	b.Field(3).(*array.Int64Builder).Append(3)
	b.Field(4).(*array.BooleanBuilder).Append(false)
	b.Field(5).(*array.StringBuilder).Append("hello")
	rec := b.NewRecordBatch()
	b.Release()
	require.NoError(t, w.Upsert(rec))
	rec.Release()
	res, err := w.Commit(ctx)
	require.NoError(t, err)
	assert.Contains(t, res.Metadata.Schema(), `"note"`)

	recs, err := reader.ReadAll(ctx, tbl, reader.Options{})
	require.NoError(t, err)
	notes := map[string]string{}
	for _, r := range recs {
		ids := r.Column(r.Schema().FieldIndices("id")[0]).(*array.String)
		nc := r.Column(r.Schema().FieldIndices("note")[0]).(*array.String)
		for i := 0; i < int(r.NumRows()); i++ {
			if nc.IsNull(i) {
				notes[ids.Value(i)] = "<null>"
			} else {
				notes[ids.Value(i)] = nc.Value(i)
			}
		}
		r.Release()
	}
	assert.Equal(t, map[string]string{"a": "<null>", "b": "<null>", "c": "hello"}, notes)

	// Narrowing a column's type is refused, and nothing is buffered.
	narrowed := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ts", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "part", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "val", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}, nil)
	b = array.NewRecordBuilder(memory.DefaultAllocator, narrowed)
	b.Field(0).(*array.StringBuilder).Append("d")
	b.Field(1).(*array.Int64Builder).Append(3)
	b.Field(2).(*array.StringBuilder).Append("p")
	b.Field(3).(*array.Int32Builder).Append(3)
	rec = b.NewRecordBatch()
	b.Release()
	err = w.Upsert(rec)
	rec.Release()
	require.ErrorIs(t, err, ErrSchema)
	assert.Contains(t, err.Error(), "val")
	assert.Equal(t, 0, w.Buffered())
}

// TestExpiredIndexEntriesDoNotDuplicate: with a TTL the index forgets keys,
// but the footer lookup (key range + bloom filter) still finds them, so an
// update lands in place instead of becoming a second row — unless the
// lookup is switched off, which is what Hudi Flink and Paimon do.
func TestExpiredIndexEntriesDoNotDuplicate(t *testing.T) {
	for _, disable := range []bool{false, true} {
		ctx := context.Background()
		tbl, dir := newModelTable(t, "", table.CopyOnWrite)
		w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index", IndexTTL: time.Second, DisableFooterLookup: disable})
		require.NoError(t, err)
		var recs []modelRec
		for i := 0; i < 50; i++ {
			recs = append(recs, modelRec{key: "k" + string(rune('A'+i%26)) + string(rune('a'+i/26)), part: "p", ts: 1, val: int64(i)})
		}
		upsertCommit(t, w, recs)
		time.Sleep(2100 * time.Millisecond) // entries expire
		for i := range recs {
			recs[i].ts, recs[i].val = 2, recs[i].val+100
		}
		res := upsertCommit(t, w, recs[:10])
		require.NoError(t, w.Close())
		assert.Zero(t, res.Stats.IndexHits, "entries expired")
		if disable {
			// The documented consequence: the updates became new rows.
			recs, err := reader.ReadAll(ctx, tbl, reader.Options{})
			require.NoError(t, err)
			n := 0
			for _, r := range recs {
				n += int(r.NumRows())
				r.Release()
			}
			assert.Equal(t, 60, n)
			continue
		}
		got := readTable(t, tbl)
		assert.Equal(t, int64(10), res.Stats.FooterHits)
		assert.Equal(t, int64(10), res.Stats.Updates)
		assert.Len(t, got, 50)
		for _, r := range recs[:10] {
			assert.Equal(t, r.val, got[modelKey{"p", r.key}].val)
		}
	}
}

func TestIndexRebuildAndCatchUp(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newModelTable(t, "", table.CopyOnWrite)
	w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index"})
	require.NoError(t, err)
	upsertCommit(t, w, []modelRec{{key: "a", part: "p", ts: 1, val: 1}, {key: "b", part: "q", ts: 1, val: 1}})
	require.NoError(t, w.Close())

	// The index is lost: the next writer rebuilds it from the table.
	require.NoError(t, os.RemoveAll(dir+"/index"))
	var progress int
	w, err = Open(ctx, tbl, Options{IndexDir: dir + "/index", Progress: func(string, int64, int64) { progress++ }})
	require.NoError(t, err)
	assert.Positive(t, progress)
	res := upsertCommit(t, w, []modelRec{{key: "a", part: "p", ts: 2, val: 2}})
	assert.Equal(t, int64(1), res.Stats.IndexHits)
	assert.Equal(t, int64(1), res.Stats.Updates)
	require.NoError(t, w.Close())

	// A second index that missed a commit catches up from the commit.
	w2, err := Open(ctx, tbl, Options{IndexDir: dir + "/index2"})
	require.NoError(t, err)
	require.NoError(t, w2.Close())
	w, err = Open(ctx, tbl, Options{IndexDir: dir + "/index"})
	require.NoError(t, err)
	upsertCommit(t, w, []modelRec{{key: "c", part: "p", ts: 1, val: 1}})
	require.NoError(t, w.Close())
	w2, err = Open(ctx, tbl, Options{IndexDir: dir + "/index2"})
	require.NoError(t, err)
	res = upsertCommit(t, w2, []modelRec{{key: "c", part: "p", ts: 3, val: 3}})
	require.NoError(t, w2.Close())
	assert.Equal(t, int64(1), res.Stats.IndexHits, "the missed commit's keys were caught up")
	got := readTable(t, tbl)
	assert.Len(t, got, 3)
}

// TestCrashedWriteIsRolledBack leaves an inflight instant with a data file
// behind, as a killed writer would; the next writer rolls it back before
// committing, so no reader ever sees its rows.
func TestCrashedWriteIsRolledBack(t *testing.T) {
	ctx := context.Background()
	tbl, dir := seededTable(t)
	st := tbl.Storage()
	var w *Writer
	var err error

	// Crash at the commit point: everything but the completed file.
	w, err = Open(ctx, crashingTable(t, st, "*.commit"), Options{IndexDir: dir + "/index"})
	require.NoError(t, err)
	b := buildBatch([]modelRec{{key: "a", part: "p", ts: 9, val: 9}, {key: "z", part: "p", ts: 9, val: 9}})
	require.NoError(t, w.Upsert(b))
	b.Release()
	_, err = w.Commit(ctx)
	require.Error(t, err)
	require.True(t, errors.Is(err, storagefault.ErrCrashed) || errors.Is(err, storagefault.ErrInjected), "%v", err)
	w.Close()

	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	require.Len(t, tl.Pending(), 1, "the crashed instant is pending")
	assert.Equal(t, map[modelKey]modelRow{{"p", "a"}: {ts: 1, val: 1, ct: tl.CompletedCommits()[0].Timestamp}}, readTable(t, tbl))

	w, err = Open(ctx, tbl, Options{IndexDir: dir + "/index"})
	require.NoError(t, err)
	defer w.Close()
	crashed := tl.Pending()[0]
	tl, err = timeline.Load(ctx, st)
	require.NoError(t, err)
	assert.Empty(t, tl.Pending(), "rolled back on open")
	// As Hudi does it: a completed rollback instant with its metadata.
	rbs := tl.Filter(func(i timeline.Instant) bool { return i.Action == timeline.Rollback })
	require.Len(t, rbs, 1)
	require.Equal(t, timeline.Completed, rbs[0].State)
	raw, err := timeline.ReadInstant(ctx, st, rbs[0])
	require.NoError(t, err)
	var md avroplan.HoodieRollbackMetadata
	require.NoError(t, avroplan.Decode(bytes.NewReader(raw), &md))
	assert.Equal(t, []string{crashed.Timestamp}, md.CommitsRollback)
	assert.Equal(t, int32(1), md.TotalFilesDeleted)
	require.Len(t, md.PartitionMetadata["p"].SuccessDeleteFiles, 1)
	assert.FileExists(t, st.(*storage.Local).Root()+"/.hoodie/"+rbs[0].Timestamp+".rollback.requested")
	var files []string
	require.NoError(t, filepath.Walk(st.(*storage.Local).Root(), func(p string, info os.FileInfo, err error) error {
		if err == nil && filepath.Ext(p) == ".parquet" {
			files = append(files, p)
		}
		return err
	}))
	assert.Len(t, files, 1, "the crashed write's file was deleted")
	res := upsertCommit(t, w, []modelRec{{key: "b", part: "p", ts: 1, val: 1}})
	got := readTable(t, tbl)
	assert.Len(t, got, 2)
	assert.Equal(t, res.Instant, got[modelKey{"p", "b"}].ct)
	// "z" got an index entry during the crashed commit (new keys are
	// indexed while data is written); it names an instant that never
	// completed, so it is not trusted and "z" is a plain insert now.
	res = upsertCommit(t, w, []modelRec{{key: "z", part: "p", ts: 1, val: 5}})
	assert.Equal(t, int64(1), res.Stats.Inserts)
	assert.Zero(t, res.Stats.IndexHits)
	got = readTable(t, tbl)
	assert.Len(t, got, 3)
	res = upsertCommit(t, w, []modelRec{{key: "z", part: "p", ts: 2, val: 6}})
	assert.Equal(t, int64(1), res.Stats.Updates)
	assert.Equal(t, int64(1), res.Stats.IndexHits)
	assert.Len(t, readTable(t, tbl), 3)
}

// TestGlobalIndexMovesPartition: with a global index a key that arrives
// with a new partition value is deleted from its old partition.
func TestGlobalIndexMovesPartition(t *testing.T) {
	ctx := context.Background()
	tbl, dir := newModelTable(t, "", table.CopyOnWrite)
	w, err := Open(ctx, tbl, Options{IndexDir: dir + "/index", GlobalIndex: true})
	require.NoError(t, err)
	defer w.Close()
	upsertCommit(t, w, []modelRec{{key: "a", part: "p", ts: 1, val: 1}, {key: "b", part: "p", ts: 1, val: 1}})
	res := upsertCommit(t, w, []modelRec{{key: "a", part: "q", ts: 2, val: 2}})
	assert.Equal(t, int64(1), res.Stats.Deletes)
	assert.Equal(t, int64(1), res.Stats.Inserts)
	got := readTable(t, tbl)
	assert.Len(t, got, 2)
	assert.Equal(t, int64(2), got[modelKey{"q", "a"}].val)
	_, stale := got[modelKey{"p", "a"}]
	assert.False(t, stale)
	// The index follows the move: the next update of "a" finds it in q.
	res = upsertCommit(t, w, []modelRec{{key: "a", part: "q", ts: 3, val: 3}})
	assert.Equal(t, int64(1), res.Stats.Updates)
	assert.Equal(t, int64(1), res.Stats.IndexHits)
}

// TestFailedInsertRebuildsIndex: an insert indexes its keys before its
// commit point, possibly over the entry of a key already stored; when it
// fails, the next writer rebuilds the index, so the stored key is found.
func TestFailedInsertRebuildsIndex(t *testing.T) {
	ctx := context.Background()
	tbl, dir := seededTable(t)
	var w *Writer
	var err error

	w, err = Open(ctx, crashingTable(t, tbl.Storage(), "*.commit"), Options{IndexDir: dir + "/index"})
	require.NoError(t, err)
	b := buildBatch([]modelRec{{key: "a", part: "p", ts: 5, val: 5}})
	require.NoError(t, w.Insert(b))
	b.Release()
	_, err = w.Commit(ctx)
	require.Error(t, err)
	w.Close()

	w, err = Open(ctx, tbl, Options{IndexDir: dir + "/index"})
	require.NoError(t, err)
	defer w.Close()
	res := upsertCommit(t, w, []modelRec{{key: "a", part: "p", ts: 7, val: 7}})
	assert.Equal(t, int64(1), res.Stats.IndexHits)
	assert.Equal(t, int64(1), res.Stats.Updates)
	got := readTable(t, tbl)
	assert.Len(t, got, 1)
	assert.Equal(t, int64(7), got[modelKey{"p", "a"}].val)
}

// crashingTable opens the table in st through a store that "crashes" (every
// operation fails from then on, nothing more is written) at the first
// publish of a path matching pattern.
func crashingTable(t *testing.T, st storage.Storage, pattern string) *table.Table {
	t.Helper()
	f := storagefault.NewFaulty(st, storagefault.OnIndex(0, storagefault.ModeCrash, storagefault.Match{Kinds: []storagefault.OpKind{storagefault.OpClose}, Path: pattern}))
	tbl, err := table.Open(context.Background(), f)
	require.NoError(t, err)
	return tbl
}

// seededTable is a model table with one committed record, ("p", "a"), and
// its index under dir/index.
func seededTable(t *testing.T) (*table.Table, string) {
	t.Helper()
	tbl, dir := newModelTable(t, "", table.CopyOnWrite)
	w, err := Open(context.Background(), tbl, Options{IndexDir: dir + "/index"})
	require.NoError(t, err)
	upsertCommit(t, w, []modelRec{{key: "a", part: "p", ts: 1, val: 1}})
	require.NoError(t, w.Close())
	return tbl, dir
}
