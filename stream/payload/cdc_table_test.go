package payload_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/pipeline"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/stream/payload"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// One table fed by `hoodie cdc` (pipeline.CDC), then by the rows Decode
// makes of more events (a new column among them), then by `hoodie cdc`
// again: the columns and their types agree, and the rows are the
// events' last state.
func TestDebeziumSameTableAsCDC(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	loc := filepath.Join(dir, "users")
	idx := filepath.Join(dir, "idx")
	cdc := func(lines ...string) {
		in := filepath.Join(dir, "in.jsonl")
		require.NoError(t, os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
		st, err := storage.Open(ctx, loc, storage.Options{})
		require.NoError(t, err)
		_, err = pipeline.CDC(ctx, st, pipeline.CDCOptions{Location: loc, Inputs: []string{in}, NoResume: true,
			Create: &table.CreateOptions{Name: "users", RecordKeyFields: []string{"id"}}, Writer: writer.Options{IndexDir: idx}})
		require.NoError(t, err)
	}
	user := func(id int, name string) map[string]any { return map[string]any{"id": id, "name": name} }
	cdc(pgEvent("c", nil, user(1, "ann"), 10), pgEvent("c", nil, user(2, "bob"), 11))

	tbl, err := table.OpenLocation(ctx, loc, storage.Options{})
	require.NoError(t, err)
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: idx})
	require.NoError(t, err)
	sch := w.Schema()
	res := decodeOK(t, payload.Options{Format: payload.Debezium}, inputs(
		pgEvent("u", user(1, "ann"), map[string]any{"id": 1, "name": "anne", "age": 30}, 12),
		pgEvent("d", user(2, "bob"), nil, 13),
		pgEvent("c", nil, user(3, nonASCII), 14),
	), sch)
	require.Empty(t, res.Bad)
	p := res.Parts[0]
	for _, f := range p.Upserts.Schema().Fields() {
		if i := sch.FieldIndices(f.Name); len(i) > 0 {
			assert.Equal(t, sch.Field(i[0]).Type, f.Type, f.Name)
		}
	}
	require.NoError(t, w.Upsert(p.Upserts))
	require.NoError(t, w.Delete(p.Deletes))
	_, err = w.Commit(ctx)
	require.NoError(t, err)
	require.NoError(t, w.Close())

	// An older event replayed by cdc does not win; a newer one does.
	cdc(pgEvent("u", nil, user(1, "stale"), 11), pgEvent("u", nil, map[string]any{"id": 3, "name": "cy", "age": 5}, 15))

	tbl, err = table.OpenLocation(ctx, loc, storage.Options{})
	require.NoError(t, err)
	recs, err := reader.ReadAll(ctx, tbl, reader.Options{})
	require.NoError(t, err)
	var got []string
	for _, rec := range recs {
		col := func(n string) int { return rec.Schema().FieldIndices(n)[0] }
		for i := 0; i < int(rec.NumRows()); i++ {
			got = append(got, rec.Column(col("id")).ValueStr(i)+"="+rec.Column(col("name")).ValueStr(i)+"/"+
				rec.Column(col("age")).ValueStr(i)+"/"+rec.Column(col(payload.PosField)).ValueStr(i))
		}
		rec.Release()
	}
	sort.Strings(got)
	assert.Equal(t, []string{"1=anne/30/00000000000000000012", "3=cy/5/00000000000000000015"}, got)
}
