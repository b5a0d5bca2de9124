package writer

import (
	"context"
	"database/sql"
	"github.com/hoodie-lake/hoodie/filegroup"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/stretchr/testify/require"
)

// latestBaseFilePaths lists the absolute paths of the latest base files of a
// local table.
func latestBaseFilePaths(t *testing.T, tbl *table.Table) []string {
	t.Helper()
	ctx := context.Background()
	st := tbl.Storage()
	tl, err := timeline.Load(ctx, st)
	require.NoError(t, err)
	view, err := filegroup.BuildView(ctx, st, tl, filegroup.ViewOptions{})
	require.NoError(t, err)
	root := st.(*storage.Local).Root()
	var out []string
	for _, b := range view.LatestBaseFiles() {
		out = append(out, filepath.Join(root, filepath.FromSlash(b.Path)))
	}
	return out
}

// checkDuckDB reads the latest base files with DuckDB's read_parquet, an
// independent Parquet reader, and compares them with the model: exactly one
// row per key, with the winning values.
func checkDuckDB(t *testing.T, tbl *table.Table, model map[modelKey]modelRow) {
	t.Helper()
	files := latestBaseFilePaths(t, tbl)
	if len(files) == 0 {
		require.Empty(t, model)
		return
	}
	db, err := sql.Open("duckdb", "")
	require.NoError(t, err)
	defer db.Close()
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = "'" + strings.ReplaceAll(f, "'", "''") + "'"
	}
	src := "read_parquet([" + strings.Join(quoted, ",") + "], union_by_name = true, hive_partitioning = false)"
	var n, distinct int
	require.NoError(t, db.QueryRow("SELECT count(*), count(DISTINCT (_hoodie_partition_path, _hoodie_record_key)) FROM "+src).Scan(&n, &distinct))
	require.Equal(t, len(model), n, "duckdb row count")
	require.Equal(t, n, distinct, "duckdb: one row per key")
	rows, err := db.Query("SELECT _hoodie_partition_path, _hoodie_record_key, _hoodie_commit_time, ts, val FROM " + src)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var k modelKey
		var r modelRow
		require.NoError(t, rows.Scan(&k.part, &k.key, &r.ct, &r.ts, &r.val))
		require.Equal(t, model[k], r, "duckdb row %v", k)
	}
	require.NoError(t, rows.Err())
}
