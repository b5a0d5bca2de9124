package main

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/internal/storage"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/spf13/cobra"
)

func newQueryCmd(g *globalFlags) *cobra.Command {
	var location, asOf string
	var readOptimized bool
	cmd := &cobra.Command{
		Use:   `query --table LOCATION "SQL"`,
		Short: "Run SQL over the table's snapshot with embedded DuckDB; the table is the view t",
		Long: `query builds the table's file-system view (as of the latest commit, or --as-of), hands DuckDB
the latest base files (read_parquet; files on S3 are downloaded to a temporary directory
first), and runs the SQL with the table visible as t, meta columns included. Merge-on-read
file groups with log files are merged by hoodie's snapshot reader (Hudi's ordering and
delete rules) into temporary Parquet files; --read-optimized reads base files only.`,
		Example: `  hoodie query --table /tmp/events "SELECT count(*), count(DISTINCT uuid) FROM t"
  hoodie query --table /tmp/events --as-of 20261122120000000 "SELECT * FROM t LIMIT 10"
  hoodie query --table s3://bucket/events --s3-path-style --output csv "SELECT dt, count(*) FROM t GROUP BY dt"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			tbl, _, err := g.openTableForRead(ctx, location)
			if err != nil {
				return err
			}
			db, closeDB, err := openDuckDB(ctx, tbl, reader.Options{AsOf: asOf, ReadOptimized: readOptimized})
			if err != nil {
				return err
			}
			defer closeDB()
			rows, err := db.QueryContext(ctx, args[0])
			if err != nil {
				return fmt.Errorf("query: %w", err)
			}
			defer rows.Close()
			return printRows(cmd.OutOrStdout(), g.output, rows)
		},
	}
	cmd.Flags().StringVar(&location, "table", "", "table location: a path, file:// or s3://bucket/prefix")
	cmd.Flags().StringVar(&asOf, "as-of", "", "query the table as of this instant (time travel)")
	cmd.Flags().BoolVar(&readOptimized, "read-optimized", false, "read base files only (the _ro view of merge-on-read tables)")
	return cmd
}

// openDuckDB opens an in-memory DuckDB in which the table's snapshot is the
// view t. The close function releases the database and any downloaded files.
func openDuckDB(ctx context.Context, tbl *table.Table, opts reader.Options) (*sql.DB, func(), error) {
	snap, err := reader.Plan(ctx, tbl, opts)
	if err != nil {
		return nil, nil, err
	}
	files, cleanup, err := localFiles(ctx, tbl.Storage(), snap)
	if err != nil {
		return nil, nil, err
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	closeAll := func() { db.Close(); cleanup() }
	if err := createView(ctx, db, files, snap.Schema); err != nil {
		closeAll()
		return nil, nil, err
	}
	return db, closeAll, nil
}

// localFiles returns local paths of the snapshot's base files, copying them
// from object storage into a temporary directory when needed. Merge-on-read
// slices with log files are merged by hoodie's reader (Hudi's merge rules)
// into temporary Parquet files first.
func localFiles(ctx context.Context, st storage.Storage, snap *reader.Snapshot) ([]string, func(), error) {
	var out []string
	cleanup := func() {}
	if snap.NeedsMerge() || !isLocal(st) {
		dir, err := os.MkdirTemp("", "hoodie-query-")
		if err != nil {
			return nil, nil, err
		}
		cleanup = func() { os.RemoveAll(dir) }
		for i, sl := range snap.Merged {
			p := filepath.Join(dir, fmt.Sprintf("merged-%06d.parquet", i))
			if err := writeMerged(ctx, snap, sl, p); err != nil {
				cleanup()
				return nil, nil, fmt.Errorf("query: merging file group %s: %w", sl.FileGroupID, err)
			}
			out = append(out, p)
		}
		if !isLocal(st) {
			files, err := downloadAll(ctx, st, snap, dir)
			if err != nil {
				cleanup()
				return nil, nil, err
			}
			return append(out, files...), cleanup, nil
		}
	}
	l, _ := localStore(st)
	for _, f := range snap.Files {
		out = append(out, filepath.Join(l.Root(), filepath.FromSlash(f.Path)))
	}
	return out, cleanup, nil
}

func isLocal(st storage.Storage) bool {
	_, ok := localStore(st)
	return ok
}

// localStore returns the local store st is or wraps (a read-only table's
// storage wraps the one it was opened on).
func localStore(st storage.Storage) (*storage.Local, bool) {
	for {
		switch s := st.(type) {
		case *storage.Local:
			return s, true
		case interface{ Inner() storage.Storage }:
			st = s.Inner()
		default:
			return nil, false
		}
	}
}

// writeMerged writes one merged slice to a local Parquet file.
func writeMerged(ctx context.Context, snap *reader.Snapshot, sl *table.FileSlice, p string) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fw, err := basefile.NewWriter(f, snap.Table, basefile.WriterOptions{})
	if err != nil {
		return err
	}
	defer fw.Abort()
	names := make([]string, len(snap.Table.Fields))
	for i, fl := range snap.Table.Fields {
		names[i] = fl.Name
	}
	str := func(rec arrow.RecordBatch, name string) basefile.Strings {
		if c, ok := arrowutil.Column(rec, name).(*array.String); ok {
			return basefile.FromArrow(c)
		}
		return basefile.Const("")
	}
	for rec, err := range snap.MergedSlice(ctx, sl) {
		if err != nil {
			return err
		}
		meta := basefile.Meta{
			CommitTime: str(rec, schema.CommitTimeField), SeqNo: str(rec, schema.CommitSeqNoField),
			RecordKey: str(rec, schema.RecordKeyField), PartitionPath: str(rec, schema.PartitionPathField),
			FileName: str(rec, schema.FileNameField),
		}
		data := arrowutil.Project(rec, names)
		err := fw.Write(meta, data)
		data.Release()
		rec.Release()
		if err != nil {
			return err
		}
	}
	if _, err := fw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// downloadAll copies the snapshot's base files into dir.
func downloadAll(ctx context.Context, st storage.Storage, snap *reader.Snapshot, dir string) ([]string, error) {
	var out []string
	for i, f := range snap.Files {
		p := filepath.Join(dir, fmt.Sprintf("%06d.parquet", i))
		if err := download(ctx, st, f.Path, p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func download(ctx context.Context, st storage.Storage, key, path string) error {
	r, err := st.OpenRange(ctx, key, 0, -1)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("download %s: %w", key, err)
	}
	return f.Close()
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func sqlIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// createView makes t: read_parquet over the files, or an empty table of the
// table's schema when it has no data yet.
func createView(ctx context.Context, db *sql.DB, files []string, sch *arrow.Schema) error {
	if len(files) > 0 {
		quoted := make([]string, len(files))
		for i, f := range files {
			quoted[i] = sqlString(f)
		}
		_, err := db.ExecContext(ctx, "CREATE VIEW t AS SELECT * FROM read_parquet(["+strings.Join(quoted, ",")+"], union_by_name = true, hive_partitioning = false)")
		return err
	}
	var cols []string
	if sch != nil {
		for _, f := range sch.Fields() {
			cols = append(cols, sqlIdent(f.Name)+" "+duckType(f.Type))
		}
	}
	if len(cols) == 0 {
		cols = []string{`"_hoodie_commit_time" VARCHAR`}
	}
	_, err := db.ExecContext(ctx, "CREATE TABLE t ("+strings.Join(cols, ", ")+")")
	return err
}

func duckType(t arrow.DataType) string {
	switch t.ID() {
	case arrow.BOOL:
		return "BOOLEAN"
	case arrow.INT8, arrow.INT16, arrow.INT32:
		return "INTEGER"
	case arrow.INT64:
		return "BIGINT"
	case arrow.FLOAT32:
		return "FLOAT"
	case arrow.FLOAT64:
		return "DOUBLE"
	case arrow.DATE32:
		return "DATE"
	case arrow.TIMESTAMP:
		return "TIMESTAMP WITH TIME ZONE"
	case arrow.BINARY:
		return "BLOB"
	}
	return "VARCHAR"
}

// printRows writes a result set as a table, CSV or JSON (an array of
// objects).
func printRows(w io.Writer, format string, rows *sql.Rows) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	var table [][]string
	var objs []map[string]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if format == "json" {
			obj := map[string]any{}
			for i, c := range cols {
				obj[c] = vals[i]
			}
			objs = append(objs, obj)
			continue
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			if v == nil {
				row[i] = "NULL"
			} else if b, ok := v.([]byte); ok {
				row[i] = string(b)
			} else {
				row[i] = fmt.Sprint(v)
			}
		}
		table = append(table, row)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	switch format {
	case "json":
		if objs == nil {
			objs = []map[string]any{}
		}
		return printJSON(w, objs)
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(cols); err != nil {
			return err
		}
		if err := cw.WriteAll(table); err != nil {
			return err
		}
		return cw.Error()
	}
	return printTable(w, cols, table)
}
