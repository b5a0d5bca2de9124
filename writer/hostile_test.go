package writer_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/keygen"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hostile partition values and record keys go through the real writer on
// local storage. Each one is either written so that every file stays under
// the table's base path and reads back unchanged, or refused by Upsert
// with an error naming the row and field, leaving the table as created.
//
// Where Hudi defines the encoding (hudi-format.md §7) hoodie matches it:
// null and "" become __HIVE_DEFAULT_PARTITION__, URL encoding is Hive's
// escapePathName, hive-style segments are "field=value". Where Hudi would
// write outside the partition (a raw "/" or ".." segment, which Java's
// key generators pass through unescaped) hoodie refuses the row instead.

// hostileValue is a partition value or record key; null when !valid.
type hostileValue struct {
	name  string
	v     string
	valid bool
}

func str(name, v string) hostileValue { return hostileValue{name: name, v: v, valid: true} }

var hostilePartitionValues = []hostileValue{
	str("dotdot-slash-x", "../x"),
	str("dotdot", ".."),
	str("dot", "."),
	str("a-slash-b", "a/b"),
	str("absolute", "/abs"),
	str("empty", ""),
	{name: "null"},
	str("percent-2F", "%2F"),
	str("long-10KB", strings.Repeat("L", 10<<10)),
	str("long-255", strings.Repeat("x", 255)),
	str("non-utf8", "a\xff\xfeb"),
	str("newline", "a\nb"),
	str("nul", "a\x00b"),
	str("unicode", "日本語-é-🙂"),
	str("backslash", `a\..\b`),
	str("hoodie-folder", ".hoodie"),
	str("hoodie-partition-file", ".hoodie_partition_metadata"),
	str("default-partition-literal", "__HIVE_DEFAULT_PARTITION__"),
	str("hive-chars", `x=y:z?*"#'{[]^`),
	str("spaces", "  "),
}

var hostileSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ts", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "p", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "q", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// hostileRow is one input row of hostileSchema.
type hostileRow struct {
	id, p, q hostileValue
	ts       int64 // precombine value; 0 = the row's index + 1
}

func hostileBatch(rows []hostileRow) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, hostileSchema)
	defer b.Release()
	appendStr := func(fb array.Builder, v hostileValue) {
		if !v.valid {
			fb.AppendNull()
			return
		}
		fb.(*array.StringBuilder).Append(v.v)
	}
	for i, r := range rows {
		appendStr(b.Field(0), r.id)
		ts := r.ts
		if ts == 0 {
			ts = int64(i + 1)
		}
		b.Field(1).(*array.Int64Builder).Append(ts)
		appendStr(b.Field(2), r.p)
		appendStr(b.Field(3), r.q)
		b.Field(4).(*array.Int64Builder).Append(int64(i))
	}
	return b.NewRecordBatch()
}

// hostileTable creates a table at <root>/under/tbl (so that an escape by
// "../x" lands in <root>/under, still inside root where the walk sees it)
// and opens a writer with its index at <root>/index.
func hostileTable(t *testing.T, opts table.CreateOptions) (tbl *table.Table, w *writer.Writer, root, base string) {
	t.Helper()
	ctx := context.Background()
	root = t.TempDir()
	base = filepath.Join(root, "under", "tbl")
	st, err := storage.Open(ctx, base, storage.Options{})
	require.NoError(t, err)
	opts.Name = "hostile"
	opts.PrecombineField = "ts"
	tbl, err = table.Create(ctx, st, opts)
	require.NoError(t, err)
	w, err = writer.Open(ctx, tbl, writer.Options{IndexDir: filepath.Join(root, "index"), Parallelism: 1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	return tbl, w, root, base
}

// walkFiles returns every regular file under root, relative and
// slash-separated, and fails on symlinks or other special files.
func walkFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		require.True(t, d.Type().IsRegular(), "%s is not a regular file", p)
		rel, err := filepath.Rel(root, p)
		require.NoError(t, err)
		out = append(out, filepath.ToSlash(rel))
		return nil
	}))
	sort.Strings(out)
	return out
}

// assertContained checks that the table and its index wrote nothing
// outside <root>/under/tbl and <root>/index, and that every table file
// but hoodie.properties and the timeline sits in a committed partition.
func assertContained(t *testing.T, root string) []string {
	t.Helper()
	var tableFiles []string
	for _, f := range walkFiles(t, root) {
		switch {
		case strings.HasPrefix(f, "index/"):
		case strings.HasPrefix(f, "under/tbl/"):
			tableFiles = append(tableFiles, strings.TrimPrefix(f, "under/tbl/"))
		default:
			t.Errorf("file %q escaped the table root", f)
		}
	}
	return tableFiles
}

// assertUntouched checks that a refused write left only the table's
// properties behind: no instant, no data file, no marker.
func assertUntouched(t *testing.T, root string) {
	t.Helper()
	assert.Equal(t, []string{table.PropertiesFile}, assertContained(t, root), "nothing but hoodie.properties")
}

// expectedSegment is the partition path segment Hudi's Simple/Complex key
// generators write for v (hudi-format.md §7).
func expectedSegment(field string, v hostileValue, hive, urlEncode bool) string {
	s := v.v
	switch {
	case !v.valid || s == "":
		s = keygen.DefaultPartition
	case urlEncode:
		s = keygen.EscapePathName(s)
	}
	if hive {
		return field + "=" + s
	}
	return s
}

// readBack returns id → p → q of the table's snapshot ("<null>" for null).
func readBack(t *testing.T, tbl *table.Table) map[string][2]string {
	t.Helper()
	recs, err := reader.ReadAll(context.Background(), tbl, reader.Options{})
	require.NoError(t, err)
	out := map[string][2]string{}
	cell := func(rec arrow.RecordBatch, name string, i int) string {
		c := rec.Column(rec.Schema().FieldIndices(name)[0]).(*array.String)
		if c.IsNull(i) {
			return "<null>"
		}
		return c.Value(i)
	}
	for _, rec := range recs {
		for i := 0; i < int(rec.NumRows()); i++ {
			id := cell(rec, "id", i)
			_, dup := out[id]
			require.False(t, dup, "key %q read twice", id)
			out[id] = [2]string{cell(rec, "p", i), cell(rec, "q", i)}
		}
		rec.Release()
	}
	return out
}

func nullable(v hostileValue) string {
	if !v.valid {
		return "<null>"
	}
	return v.v
}

// requireRowError checks a refused Upsert: ErrBadRecord with a
// *keygen.RowError (or, for a string that is not UTF-8, ErrInvalidUTF8
// with an *arrowutil.UTF8Error) naming row and field, both in the message.
func requireRowError(t *testing.T, err error, row int, field string) {
	t.Helper()
	require.ErrorIs(t, err, writer.ErrBadRecord)
	gotRow, gotField, ok := refusedRow(err)
	require.True(t, ok, "error %v does not carry the row", err)
	assert.Equal(t, row, gotRow)
	assert.Equal(t, field, gotField)
	assert.Contains(t, err.Error(), "row ")
	assert.Contains(t, err.Error(), `"`+field+`"`)
}

// refusedRow is the row and field a refusal names.
func refusedRow(err error) (row int, field string, ok bool) {
	var re *keygen.RowError
	if errors.As(err, &re) && re.Reason != "" {
		return re.Row, re.Field, true
	}
	var ue *arrowutil.UTF8Error
	if errors.Is(err, writer.ErrInvalidUTF8) && errors.As(err, &ue) {
		return ue.Row, ue.Field, true
	}
	return 0, "", false
}

func TestHostilePartitionValues(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []struct {
		name            string
		hive, urlEncode bool
	}{
		{"plain", false, false},
		{"hive", true, false},
		{"urlencode", false, true},
		{"hive-urlencode", true, true},
	} {
		t.Run(mode.name, func(t *testing.T) {
			for _, hv := range hostilePartitionValues {
				t.Run(hv.name, func(t *testing.T) {
					tbl, w, root, _ := hostileTable(t, table.CreateOptions{
						RecordKeyFields: []string{"id"}, PartitionFields: []string{"p"},
						HiveStylePartitioning: mode.hive, URLEncodePartitioning: mode.urlEncode,
					})
					// Row 0 is harmless; row 1 carries the hostile value.
					rows := []hostileRow{
						{id: str("", "ok"), p: str("", "fine")},
						{id: str("", "hostile"), p: hv},
					}
					b := hostileBatch(rows)
					defer b.Release()
					if err := w.Upsert(b); err != nil {
						t.Logf("refused: %v", err)
						requireRowError(t, err, 1, "p")
						res, err := w.Commit(ctx)
						require.NoError(t, err)
						assert.Empty(t, res.Instant, "nothing to commit")
						assertUntouched(t, root)
						return
					}
					res, err := w.Commit(ctx)
					require.NoError(t, err, "accepted by Upsert, so Commit must succeed")
					require.NotEmpty(t, res.Instant)

					files := assertContained(t, root)
					seg := expectedSegment("p", hv, mode.hive, mode.urlEncode)
					assert.Contains(t, files, seg+"/"+table.PartitionMetadataFile, "partition directory as Hudi names it")
					parts, err := table.ListPartitions(ctx, tbl.Storage())
					require.NoError(t, err)
					assert.Equal(t, sortedStrings(expectedSegment("p", str("", "fine"), mode.hive, mode.urlEncode), seg), parts)
					for _, p := range parts {
						require.NoError(t, table.ValidatePartitionPath(p))
					}
					// The commit metadata names the same partitions.
					md, err := timeline.ReadCommitMetadata(ctx, tbl.Storage(), timeline.Instant{Timestamp: res.Instant, Action: timeline.Commit, State: timeline.Completed})
					require.NoError(t, err)
					var mdParts []string
					for p := range md.PartitionToWriteStats {
						mdParts = append(mdParts, p)
					}
					assert.Equal(t, parts, sortedStrings(mdParts...))

					got := readBack(t, tbl)
					assert.Equal(t, map[string][2]string{
						"ok":      {"fine", "<null>"},
						"hostile": {nullable(hv), "<null>"},
					}, got, "values read back unchanged")
				})
			}
		})
	}
}

func sortedStrings(s ...string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

// TestHostileComplexPartition puts hostile values in both fields of a
// two-field (complex key generator) partition path: every value keeps to
// its own segment, so hudi-rs sees one segment per field.
func TestHostileComplexPartition(t *testing.T) {
	ctx := context.Background()
	for _, urlEncode := range []bool{false, true} {
		tbl, w, root, _ := hostileTable(t, table.CreateOptions{
			RecordKeyFields: []string{"id", "v"}, PartitionFields: []string{"p", "q"},
			HiveStylePartitioning: true, URLEncodePartitioning: urlEncode,
		})
		var rows []hostileRow
		for i, hv := range hostilePartitionValues {
			rows = append(rows, hostileRow{id: str("", hv.name), p: hv, q: hostilePartitionValues[(i+1)%len(hostilePartitionValues)]})
		}
		// Upsert refuses a batch at its first bad row; drop rows until it
		// takes the rest, checking each refusal names the row.
		for {
			b := hostileBatch(rows)
			err := w.Upsert(b)
			b.Release()
			if err == nil {
				break
			}
			row, field, ok := refusedRow(err)
			require.True(t, ok, "%v", err)
			require.Contains(t, []string{"p", "q"}, field, "%v", err)
			t.Logf("urlencode=%v refused: %v", urlEncode, err)
			rows = append(rows[:row], rows[row+1:]...)
		}
		require.NotEmpty(t, rows)
		_, err := w.Commit(ctx)
		require.NoError(t, err)
		files := assertContained(t, root)
		parts, err := table.ListPartitions(ctx, tbl.Storage())
		require.NoError(t, err)
		for _, p := range parts {
			require.NoError(t, table.ValidatePartitionPath(p))
			require.Equal(t, 2, table.PartitionDepth(p), "one segment per field: %q", p)
		}
		want := map[string][2]string{}
		for _, r := range rows {
			want[r.id.v] = [2]string{nullable(r.p), nullable(r.q)}
			seg := expectedSegment("p", r.p, true, urlEncode) + "/" + expectedSegment("q", r.q, true, urlEncode)
			assert.Contains(t, files, seg+"/"+table.PartitionMetadataFile)
		}
		assert.Equal(t, want, readBack(t, tbl))
	}
}

func TestHostileRecordKeys(t *testing.T) {
	ctx := context.Background()
	// Hudi has no key length limit, but the record-key index does: keys
	// beyond keygen.MaxRecordKeyLen are refused up front.
	huge := strings.Repeat("k", 1<<20)
	largest := strings.Repeat("🙂", keygen.MaxRecordKeyLen/4)
	for _, tc := range []struct {
		name  string
		key   hostileValue
		field string // "" = accepted
	}{
		{"empty", str("", ""), "id"},
		{"null", hostileValue{}, "id"},
		{"non-utf8", str("", "k\xc3\x28"), "id"},
		{"huge-1MiB", str("", huge), "id"},
		{"largest-32KiB", str("", largest), ""},
		{"comma-colon", str("", "a,b:c"), ""},
		{"nul-newline", str("", "a\x00\nb"), ""},
		{"unicode", str("", "🙂é"), ""},
		{"dotdot-slash", str("", "../../x"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl, w, root, _ := hostileTable(t, table.CreateOptions{
				RecordKeyFields: []string{"id"}, PartitionFields: []string{"p"},
			})
			b := hostileBatch([]hostileRow{{id: str("", "ok"), p: str("", "x")}, {id: tc.key, p: str("", "x")}})
			defer b.Release()
			err := w.Upsert(b)
			if tc.field != "" {
				requireRowError(t, err, 1, tc.field)
				assertUntouched(t, root)
				return
			}
			require.NoError(t, err)
			_, err = w.Commit(ctx)
			require.NoError(t, err)
			assertContained(t, root)
			got := readBack(t, tbl)
			assert.Equal(t, map[string][2]string{"ok": {"x", "<null>"}, tc.key.v: {"x", "<null>"}}, got)
			// The key is the record key, verbatim (Simple key generator).
			keys := metaKeys(t, tbl)
			assert.ElementsMatch(t, []string{"ok", tc.key.v}, keys)
			// A second write of the same key updates it, not duplicates it.
			b2 := hostileBatch([]hostileRow{{id: tc.key, p: str("", "x"), q: str("", "again"), ts: 10}})
			defer b2.Release()
			require.NoError(t, w.Upsert(b2))
			_, err = w.Commit(ctx)
			require.NoError(t, err)
			assert.Equal(t, [2]string{"x", "again"}, readBack(t, tbl)[tc.key.v])
		})
	}
}

// TestHostileComplexKeys: Complex keys are "f1:v1,f2:v2" with no escaping
// of ',' or ':' inside values, exactly as Hudi's ComplexKeyGenerator
// writes them; null and empty parts become __null__ and __empty__, and a
// key whose parts are all null or empty is refused.
func TestHostileComplexKeys(t *testing.T) {
	ctx := context.Background()
	tbl, w, root, _ := hostileTable(t, table.CreateOptions{
		RecordKeyFields: []string{"id", "q"}, PartitionFields: []string{"p"},
	})
	rows := []hostileRow{
		{id: str("", "a,q:b"), p: str("", "x"), q: str("", "c:d")},
		{id: str("", ""), p: str("", "x"), q: str("", "only-q")},
		{id: str("", "only-id"), p: str("", "x"), q: hostileValue{}},
		{id: str("", "id:x,q:y"), p: str("", "x"), q: str("", ",")},
	}
	b := hostileBatch(rows)
	require.NoError(t, w.Upsert(b))
	b.Release()
	_, err := w.Commit(ctx)
	require.NoError(t, err)
	assertContained(t, root)
	assert.ElementsMatch(t, []string{
		"id:a,q:b,q:c:d",
		"id:__empty__,q:only-q",
		"id:only-id,q:__null__",
		"id:id:x,q:y,q:,",
	}, metaKeys(t, tbl))

	for _, bad := range [][2]hostileValue{{{}, {}}, {str("", ""), {}}, {str("", ""), str("", "")}} {
		b := hostileBatch([]hostileRow{{id: str("", "fine"), p: str("", "x"), q: str("", "1")}, {id: bad[0], p: str("", "x"), q: bad[1]}})
		err := w.Upsert(b)
		b.Release()
		requireRowError(t, err, 1, "id,q")
	}
	b = hostileBatch([]hostileRow{{id: str("", "ok"), p: str("", "x"), q: str("", "\xff")}})
	err = w.Upsert(b)
	b.Release()
	requireRowError(t, err, 0, "q")
}

// metaKeys returns _hoodie_record_key of every row of the snapshot.
func metaKeys(t *testing.T, tbl *table.Table) []string {
	t.Helper()
	recs, err := reader.ReadAll(context.Background(), tbl, reader.Options{})
	require.NoError(t, err)
	var out []string
	for _, rec := range recs {
		c := rec.Column(rec.Schema().FieldIndices("_hoodie_record_key")[0]).(*array.String)
		for i := 0; i < c.Len(); i++ {
			out = append(out, c.Value(i))
		}
		rec.Release()
	}
	return out
}

// hashTree maps every file under dir to its content, so a refusal can be
// checked to change nothing.
func hashTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range walkFiles(t, dir) {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		require.NoError(t, err)
		out[f] = string(b)
	}
	return out
}

// rewriteProperties changes hoodie.properties on disk behind an open
// table handle, as another writer (a Hudi 1.x upgrade, a Spark job
// enabling the metadata table) would.
func rewriteProperties(t *testing.T, base string, change func(m map[string]string)) {
	t.Helper()
	pf := filepath.Join(base, filepath.FromSlash(table.PropertiesFile))
	b, err := os.ReadFile(pf)
	require.NoError(t, err)
	props, err := table.ParseProperties(strings.NewReader(string(b)))
	require.NoError(t, err)
	change(props)
	require.NoError(t, os.WriteFile(pf, table.FormatProperties(props, table.PropertiesOptions{Last: []string{table.KeyChecksum}}), 0o644))
}

// foreignChanges turn a hoodie table into one hoodie must not write.
var foreignChanges = []struct {
	name    string
	change  func(m map[string]string)
	want    error
	mention string
}{
	{"no meta fields", func(m map[string]string) { m[table.KeyPopulateMetaFields] = "false" },
		writer.ErrUnsupported, table.KeyPopulateMetaFields},
	{"no precombine", func(m map[string]string) { delete(m, table.KeyPrecombineField) },
		writer.ErrUnsupported, "precombine"},
	{"upgraded to version 8", func(m map[string]string) {
		m[table.KeyVersion] = "8"
		m[table.KeyTimelineLayoutVersion] = "2"
	}, table.ErrUnsupportedVersion, table.KeyVersion},
	{"version 5", func(m map[string]string) { m[table.KeyVersion] = "5" },
		table.ErrUnsupportedVersion, table.KeyVersion},
	{"layout 2", func(m map[string]string) { m[table.KeyTimelineLayoutVersion] = "2" },
		table.ErrUnsupportedLayout, table.KeyTimelineLayoutVersion},
	{"metadata table enabled", func(m map[string]string) { m[table.KeyMetadataPartitions] = "files,column_stats" },
		table.ErrMetadataTableEnabled, table.KeyMetadataPartitions},
	{"bootstrap", func(m map[string]string) { m[table.KeyBootstrapBasePath] = "/src" },
		table.ErrUnsupportedFeature, table.KeyBootstrapBasePath},
	{"unknown payload", func(m map[string]string) { m[table.KeyPayloadClass] = "com.example.Payload" },
		table.ErrUnsupportedFeature, table.KeyPayloadClass},
}

// committedTable creates a hoodie table at <root>/tbl with one commit, so
// there is data, a timeline and an index at <root>/index.
func committedTable(t *testing.T) (st storage.Storage, root, base string) {
	t.Helper()
	ctx := context.Background()
	root = t.TempDir()
	base = filepath.Join(root, "tbl")
	st, err := storage.Open(ctx, base, storage.Options{})
	require.NoError(t, err)
	tbl, err := table.Create(ctx, st, table.CreateOptions{
		Name: "foreign", RecordKeyFields: []string{"id"}, PartitionFields: []string{"p"}, PrecombineField: "ts",
	})
	require.NoError(t, err)
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: filepath.Join(root, "index"), Parallelism: 1})
	require.NoError(t, err)
	b := hostileBatch([]hostileRow{{id: str("", "a"), p: str("", "x")}})
	require.NoError(t, w.Upsert(b))
	b.Release()
	_, err = w.Commit(ctx)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return st, root, base
}

// TestOpenRefusesForeignTables: a table hoodie cannot write is refused on
// the way to a writer — by table.Open (other versions, layouts, metadata
// table, bootstrap, unknown payload) or by writer.Open (no meta fields, no
// precombine field) — with an error naming the property, and nothing
// under the table changes.
func TestOpenRefusesForeignTables(t *testing.T) {
	ctx := context.Background()
	for _, tc := range foreignChanges {
		t.Run(tc.name, func(t *testing.T) {
			st, root, base := committedTable(t)
			rewriteProperties(t, base, tc.change)
			before := hashTree(t, base)
			tbl, err := table.Open(ctx, st)
			if err == nil {
				var w *writer.Writer
				w, err = writer.Open(ctx, tbl, writer.Options{IndexDir: filepath.Join(root, "index"), Parallelism: 1})
				if err == nil {
					_ = w.Close()
				}
			}
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), tc.mention)
			assert.Equal(t, before, hashTree(t, base), "nothing under the table changed")
		})
	}
}

// TestOpenRefusesTableChangedSinceOpen: a *table.Table handle opened
// before another engine upgraded the table (or enabled its metadata
// table) must not let writer.Open write into it.
func TestOpenRefusesTableChangedSinceOpen(t *testing.T) {
	ctx := context.Background()
	for _, tc := range foreignChanges {
		t.Run(tc.name, func(t *testing.T) {
			st, root, base := committedTable(t)
			tbl, err := table.Open(ctx, st)
			require.NoError(t, err)
			rewriteProperties(t, base, tc.change)
			before := hashTree(t, base)
			w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: filepath.Join(root, "index"), Parallelism: 1})
			if err == nil {
				_ = w.Close()
			}
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), tc.mention)
			assert.Equal(t, before, hashTree(t, base), "nothing under the table changed")
		})
	}
}
