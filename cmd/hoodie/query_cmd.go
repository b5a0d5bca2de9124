package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"github.com/hoodie-lake/hoodie/filegroup"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/duckdb/duckdb-go/v2"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
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
delete rules) into temporary Parquet files; --read-optimized reads base files only.

Values print as DuckDB prints them: DATE 2013-01-01, DECIMAL(12,3) 123.450, TIMESTAMP WITH
TIME ZONE in DuckDB's time zone (the local one: TZ=UTC prints UTC), lists and structs in
DuckDB's notation; NULL is NULL in the table, an empty field in CSV (an empty string is "")
and null in JSON. Columns keep the SELECT order, JSON objects too; in JSON numbers and
decimals are numbers (decimals with their exact digits), timestamps RFC 3339 strings (UTC
for TIMESTAMP WITH TIME ZONE), nested values arrays and objects.`,
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
			return printQuery(ctx, db, cmd.OutOrStdout(), g.output, args[0])
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
func writeMerged(ctx context.Context, snap *reader.Snapshot, sl *filegroup.FileSlice, p string) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	defer f.Close()
	sch, err := schema.ParseAvro([]byte(snap.AvroSchema))
	if err != nil {
		return fmt.Errorf("query: table schema: %w", err)
	}
	fw, err := basefile.NewWriter(f, sch, basefile.WriterOptions{})
	if err != nil {
		return err
	}
	defer fw.Abort()
	names := make([]string, len(sch.Fields))
	for i, fl := range sch.Fields {
		names[i] = fl.Name
	}
	for rec, err := range snap.MergedSlice(ctx, sl) {
		if err != nil {
			return err
		}
		meta := basefile.Meta{
			CommitTime: basefile.Column(rec, schema.CommitTimeField), SeqNo: basefile.Column(rec, schema.CommitSeqNoField),
			RecordKey: basefile.Column(rec, schema.RecordKeyField), PartitionPath: basefile.Column(rec, schema.PartitionPathField),
			FileName: basefile.Column(rec, schema.FileNameField),
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

// colKind is how a result column is rendered in JSON.
type colKind int

const (
	kindString      colKind = iota // a JSON string of DuckDB's text
	kindNumber                     // a JSON number of DuckDB's text (a string if it is not one)
	kindBool                       // true or false
	kindTimestamp                  // RFC 3339 without offset
	kindTimestampTZ                // RFC 3339 in UTC
	kindJSON                       // the JSON value itself
	kindNested                     // to_json, else DuckDB's text as a string
)

// resultCol is one column of a query's result.
type resultCol struct {
	name string // as the query names it (unique: DuckDB's subquery names)
	kind colKind
}

// printQuery runs q on db and writes its result in format (table, csv or
// json), every value rendered as DuckDB renders it. It binds the query
// inside a projection, SELECT ... FROM (<query>) AS q(c0, c1, ...),
// that has DuckDB cast every column to text (and, for JSON, nested values
// to JSON): what is printed is DuckDB's text (JSON timestamps: DuckDB's
// text rewritten to RFC 3339), never Go's formatting. Columns are in
// SELECT order, named as DuckDB names them (a name used twice gets DuckDB's
// suffix: a, a_1).
//
//   - table and csv: each value as CAST(v AS VARCHAR) gives it: DATE
//     2013-01-01, TIMESTAMP 2024-01-01 12:00:00, TIMESTAMP WITH TIME ZONE
//     2024-01-01 12:00:00+00 (in DuckDB's TimeZone setting: the local time
//     zone; run with TZ=UTC for UTC), DECIMAL 123.450 (every digit of the
//     scale), BLOB \xAA..., lists [1, 2], structs {'a': 1}, maps {k=1}.
//     NULL is NULL in the table and an empty field in CSV, where an empty
//     string is "" (as DuckDB's COPY writes them).
//   - json: an array with one object per row, keys in SELECT order. NULL
//     is null; BOOLEAN true/false; integers, FLOAT and DOUBLE JSON
//     numbers (NaN and infinities the strings "nan", "inf", "-inf");
//     DECIMAL a JSON number with exactly DuckDB's digits (123.450: decode
//     it as a decimal, not a float, where precision matters); TIMESTAMP
//     WITH TIME ZONE an RFC 3339 string in UTC (2024-01-01T12:00:00Z);
//     TIMESTAMP (no time zone) an RFC 3339 date-time without offset
//     (2024-01-01T12:00:00); JSON values as they are; lists, arrays,
//     structs, maps and unions JSON arrays and objects as DuckDB's to_json
//     writes them (struct fields in order; values inside them in to_json's
//     forms); everything else (DATE, TIME, INTERVAL, UUID, VARCHAR, BLOB,
//     ENUM, ...) a string, as the text output prints it.
//
// Statements DuckDB does not take as a subquery (EXPLAIN, PRAGMA, several
// statements) run as they are and their values are printed by the driver's
// Go types.
func printQuery(ctx context.Context, db *sql.DB, w io.Writer, format, q string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	q = strings.TrimRightFunc(q, func(r rune) bool { return r == ';' || unicode.IsSpace(r) })
	cols, ok := describeQuery(ctx, conn, q)
	if !ok {
		rows, err := conn.QueryContext(ctx, q)
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		defer rows.Close()
		return printDriverRows(w, format, rows)
	}
	sel := make([]string, 0, len(cols))
	aliases := make([]string, len(cols))
	for i, c := range cols {
		aliases[i] = sqlIdent(fmt.Sprintf("c%d", i))
		v := "__hoodie_q." + aliases[i]
		text := "CAST(" + v + " AS VARCHAR)"
		if format == "json" {
			switch c.kind {
			case kindTimestampTZ:
				text = "CAST(timezone('UTC', " + v + ") AS VARCHAR)"
			case kindNested:
				sel = append(sel, "CAST(to_json("+v+") AS VARCHAR)")
			}
		}
		sel = append(sel, text+" AS "+sqlIdent(c.name))
	}
	wrapped := "SELECT " + strings.Join(sel, ", ") + " FROM (\n" + q + "\n) AS __hoodie_q(" + strings.Join(aliases, ", ") + ")"
	rows, err := conn.QueryContext(ctx, wrapped)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	vals := make([]sql.NullString, len(sel))
	ptrs := make([]any, len(sel))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	var emit func() error
	var done func() error
	switch format {
	case "json":
		jw := &jsonArrayWriter{w: w}
		fields := make([]field, len(cols))
		emit = func() error {
			j := 0
			for i, c := range cols {
				var nested sql.NullString
				if c.kind == kindNested {
					nested = vals[j]
					j++
				}
				fields[i] = field{key: c.name, value: jsonValue(c.kind, vals[j], nested)}
				j++
			}
			return jw.write(fields)
		}
		done = jw.close
	case "csv":
		cw := &csvWriter{w: w}
		if err := cw.write(stringPtrs(names)); err != nil {
			return err
		}
		rec := make([]*string, len(cols))
		emit = func() error {
			for i, v := range vals {
				rec[i] = nil
				if v.Valid {
					rec[i] = &vals[i].String
				}
			}
			return cw.write(rec)
		}
		done = func() error { return nil }
	default:
		var table [][]string
		emit = func() error {
			row := make([]string, len(vals))
			for i, v := range vals {
				row[i] = "NULL"
				if v.Valid {
					row[i] = v.String
				}
			}
			table = append(table, row)
			return nil
		}
		done = func() error { return printTable(w, names, table) }
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if err := emit(); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	return done()
}

func stringPtrs(ss []string) []*string {
	out := make([]*string, len(ss))
	for i := range ss {
		out[i] = &ss[i]
	}
	return out
}

// describeQuery binds (prepares, without running) q as a subquery and
// returns its columns; ok is false when DuckDB does not take q as one
// (EXPLAIN, PRAGMA, several statements, a syntax error: running q as it
// is then tells).
func describeQuery(ctx context.Context, conn *sql.Conn, q string) (cols []resultCol, ok bool) {
	err := conn.Raw(func(dc any) error {
		c, isDuck := dc.(*duckdb.Conn)
		if !isDuck {
			return fmt.Errorf("not a DuckDB connection")
		}
		ds, err := c.PrepareContext(ctx, "SELECT * FROM (\n"+q+"\n) AS __hoodie_q")
		if err != nil {
			return err
		}
		defer ds.Close()
		st, isDuck := ds.(*duckdb.Stmt)
		if !isDuck {
			return fmt.Errorf("not a DuckDB statement")
		}
		if t, err := st.StatementType(); err != nil || t != duckdb.STATEMENT_TYPE_SELECT {
			return fmt.Errorf("not a query")
		}
		n, err := st.ColumnCount()
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			name, err := st.ColumnName(i)
			if err != nil {
				return err
			}
			t, err := st.ColumnType(i)
			if err != nil {
				return err
			}
			if t == duckdb.TYPE_INVALID {
				return fmt.Errorf("column %d: type unknown", i)
			}
			alias := ""
			if info, err := st.ColumnTypeInfo(i); err == nil {
				alias = info.Alias()
			}
			cols = append(cols, resultCol{name: name, kind: kindOf(t, alias)})
		}
		return nil
	})
	return cols, err == nil && len(cols) > 0
}

// kindOf is the JSON rendering of a DuckDB type.
func kindOf(t duckdb.Type, alias string) colKind {
	if strings.EqualFold(alias, "JSON") {
		return kindJSON
	}
	switch t {
	case duckdb.TYPE_BOOLEAN:
		return kindBool
	case duckdb.TYPE_TINYINT, duckdb.TYPE_SMALLINT, duckdb.TYPE_INTEGER, duckdb.TYPE_BIGINT,
		duckdb.TYPE_UTINYINT, duckdb.TYPE_USMALLINT, duckdb.TYPE_UINTEGER, duckdb.TYPE_UBIGINT,
		duckdb.TYPE_HUGEINT, duckdb.TYPE_UHUGEINT, duckdb.TYPE_BIGNUM,
		duckdb.TYPE_FLOAT, duckdb.TYPE_DOUBLE, duckdb.TYPE_DECIMAL:
		return kindNumber
	case duckdb.TYPE_TIMESTAMP, duckdb.TYPE_TIMESTAMP_S, duckdb.TYPE_TIMESTAMP_MS, duckdb.TYPE_TIMESTAMP_NS:
		return kindTimestamp
	case duckdb.TYPE_TIMESTAMP_TZ:
		return kindTimestampTZ
	case duckdb.TYPE_LIST, duckdb.TYPE_ARRAY, duckdb.TYPE_STRUCT, duckdb.TYPE_MAP, duckdb.TYPE_UNION:
		return kindNested
	}
	return kindString
}

// duckTimestamp is how DuckDB prints a TIMESTAMP (to nanoseconds).
const duckTimestamp = "2006-01-02 15:04:05.999999999"

// jsonValue encodes one value: text is DuckDB's text of it (for
// kindTimestampTZ: of the value in UTC), nested its to_json text.
func jsonValue(kind colKind, text, nested sql.NullString) json.RawMessage {
	if !text.Valid {
		return json.RawMessage("null")
	}
	s := text.String
	switch kind {
	case kindNumber, kindBool:
		if json.Valid([]byte(s)) {
			return json.RawMessage(s)
		}
	case kindJSON:
		if json.Valid([]byte(s)) {
			return json.RawMessage(s)
		}
	case kindNested:
		if nested.Valid && json.Valid([]byte(nested.String)) {
			return json.RawMessage(nested.String)
		}
	case kindTimestamp, kindTimestampTZ:
		if t, err := time.Parse(duckTimestamp, s); err == nil {
			if kind == kindTimestampTZ {
				s = t.Format(time.RFC3339Nano)
			} else {
				s = t.Format("2006-01-02T15:04:05.999999999")
			}
		}
	}
	b, _ := json.Marshal(s)
	return b
}

// printDriverRows writes rows DuckDB could not render itself (see
// printQuery) from the driver's Go values, in the same shapes.
func printDriverRows(w io.Writer, format string, rows *sql.Rows) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	var table [][]string
	jw := &jsonArrayWriter{w: w}
	cw := &csvWriter{w: w}
	if format == "csv" {
		if err := cw.write(stringPtrs(cols)); err != nil {
			return err
		}
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		switch format {
		case "json":
			fields := make([]field, len(cols))
			for i, c := range cols {
				fields[i] = field{key: c, value: driverJSON(vals[i])}
			}
			if err := jw.write(fields); err != nil {
				return err
			}
		case "csv":
			rec := make([]*string, len(cols))
			for i, v := range vals {
				if v != nil {
					s := driverText(v)
					rec[i] = &s
				}
			}
			if err := cw.write(rec); err != nil {
				return err
			}
		default:
			row := make([]string, len(cols))
			for i, v := range vals {
				row[i] = "NULL"
				if v != nil {
					row[i] = driverText(v)
				}
			}
			table = append(table, row)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	switch format {
	case "json":
		return jw.close()
	case "csv":
		return nil
	}
	return printTable(w, cols, table)
}

func driverText(v any) string {
	switch v := v.(type) {
	case []byte:
		return string(v)
	case time.Time:
		return v.Format("2006-01-02 15:04:05.999999999Z07:00")
	}
	return fmt.Sprint(v)
}

func driverJSON(v any) json.RawMessage {
	var b []byte
	var err error
	switch v := v.(type) {
	case nil:
		return json.RawMessage("null")
	case []byte:
		b, err = json.Marshal(string(v))
	case time.Time:
		b, err = json.Marshal(rfc3339(v))
	case duckdb.Decimal:
		b = []byte(v.String())
	default:
		b, err = json.Marshal(v)
	}
	if err != nil || !json.Valid(b) {
		b, _ = json.Marshal(fmt.Sprint(v))
	}
	return b
}
