package interop_test

// The reader matrix: every reader of Hudi tables gets exactly what hoodie
// wrote, for every column type Hudi 0.15 writes from Spark/Avro and every
// null pattern.
//
// Data (matrix_data_test.go): one schema with a column per type and
// pattern ("<type>__<pattern>": 25 types from boolean to lists of lists,
// 8 patterns from all-null to edge values, plus over-a-page values for
// string and binary), 5,300 rows in two partitions: a 300-row file, and a
// 5,000-row file (more than a vectorized batch) whose string and binary
// columns span several pages.
//
// Tables:
//
//	cow            hoodie, copy-on-write: one commit of the matrix
//	mor_logs       hoodie, merge-on-read: a first commit of other values
//	               (other null positions too) in base files, then the
//	               matrix upserted into Avro log blocks
//	mor_compacted  a copy of mor_logs after hoodie's compactor merged the
//	               logs into new Parquet base files
//	spark_cow      controls: the same rows written by Spark + Hudi 0.15
//	spark_mor      itself (bulk insert through parquet-avro, sorted; the
//	               MOR one with the matrix upserted into log blocks)
//
// Readers: Spark 3.5 + Hudi 0.15 snapshot with the vectorized Parquet
// reader (Spark's default) and without it, and read-optimized; Spark 3.5 +
// Hudi 1.0.2 (a second Spark process, started for this test only) snapshot
// and read-optimized; hudi-rs snapshot and read-optimized; pyarrow and
// DuckDB reading the latest base files directly; hoodie's reader. Snapshot
// reads must return the matrix; read-optimized reads (on the tables with
// log files) and the base files of mor_logs and spark_mor the first
// commit's values.
//
// Every reader hands over Arrow (Spark through spark_harness.py's
// read_arrow, pyarrow and hudi-rs through matrix_read.py, hoodie's reader
// directly; DuckDB's Go driver values) and one Go function turns each value
// into its canonical text (appendCanon), compared with the canonical text
// of what was written. Failures name the reader, the table, the column
// (type and pattern), row keys with their place in the file, and the
// wanted and the read value. A read that fails outright is narrowed down
// to the column types that make it fail (withFallback).
//
// Not hoodie's bugs, so logged and not failed: what a foreign reader gets
// wrong on the Spark-written table of the same type too (Spark reading its
// own files, or hudi-rs, pyarrow, DuckDB reading them), and the foreign
// readers' bugs matrixLimits lists. hoodie's reader must read every table,
// the Spark-written ones included.
//
// HOODIE_MATRIX_KEEP=dir keeps a copy of every table under dir.
//
// The footer check (matrix_footer_test.go) holds every Parquet file hoodie
// wrote to parquet-mr 1.13's v1 writer: chunk and page encodings, v1 data
// pages, no dictionary for BOOLEAN and FIXED_LEN_BYTE_ARRAY, no dictionary
// past Hudi's 1 MiB dictionary page size without a PLAIN fallback.

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/hoodie-lake/hoodie/filegroup"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
)

// matrixSparkVersion is the second Spark process's Hudi version.
const matrixSparkVersion = "1.0.2"

// --- expectations and results ------------------------------------------------

// matrixExpect is what a read must return: a variant of the rows, with the
// hash of every cell's canonical text.
type matrixExpect struct {
	name  string
	cols  []matrixCol
	batch arrow.RecordBatch
	row   map[string]int // key -> row
	hash  [][]uint64     // [column][row]
}

func newMatrixExpect(name string, cols []matrixCol, b arrow.RecordBatch) *matrixExpect {
	e := &matrixExpect{name: name, cols: cols, batch: b, row: map[string]int{}, hash: make([][]uint64, len(cols))}
	keys := b.Column(0).(*array.String)
	for r := 0; r < int(b.NumRows()); r++ {
		e.row[keys.Value(r)] = r
	}
	var buf []byte
	for j := range cols {
		e.hash[j] = make([]uint64, b.NumRows())
		for r := range e.hash[j] {
			buf = appendCanon(buf[:0], b.Column(j), r)
			e.hash[j][r] = matrixHash(buf)
		}
	}
	return e
}

func (e *matrixExpect) text(j, r int) string { return string(appendCanon(nil, e.batch.Column(j), r)) }

// matrixTable is one table of the matrix.
type matrixTable struct {
	kind, doc string
	base      string
	tbl       *table.Table
	mor       bool
	logs      bool          // its snapshot merges log blocks
	control   bool          // written by Spark
	snapshot  *matrixExpect // what snapshot reads return
	baseFiles *matrixExpect // what read-optimized reads and the latest base files hold
}

// matrixResult is one reader's read of one table, compared cell by cell.
type matrixResult struct {
	table   *matrixTable
	reader  string
	foreign bool // not hoodie's reader
	want    *matrixExpect
	err     error
	elapsed time.Duration

	rows        int
	seen        []bool
	extra, dups []string
	nExtra      int
	missingCols []string
	diffs       []matrixColDiff // by column
	buf         []byte
	// unreadable: types whose columns make the read fail (the error's root
	// cause), found by withFallback's narrowed reads; excluded: their
	// columns.
	unreadable map[string]string
	excluded   map[string]bool
}

type matrixColDiff struct {
	n        int
	gotType  string
	examples []matrixMismatch
}

type matrixMismatch struct {
	key string
	row int
	got string
}

func newMatrixResult(tb *matrixTable, reader string, foreign bool, want *matrixExpect) *matrixResult {
	return &matrixResult{table: tb, reader: reader, foreign: foreign, want: want,
		seen: make([]bool, want.batch.NumRows()), diffs: make([]matrixColDiff, len(want.cols))}
}

// begin starts a row: the expected row of key, or false for a key that
// is not expected or was read before.
func (r *matrixResult) begin(key string) (int, bool) {
	r.rows++
	row, ok := r.want.row[key]
	switch {
	case !ok:
		r.nExtra++
		if len(r.extra) < 5 {
			r.extra = append(r.extra, key)
		}
		return 0, false
	case r.seen[row]:
		if len(r.dups) < 5 {
			r.dups = append(r.dups, key)
		}
		return 0, false
	}
	r.seen[row] = true
	return row, true
}

// cell compares r.buf, the canonical text of column j read for row.
func (r *matrixResult) cell(j, row int, gotType func() string) {
	if matrixHash(r.buf) == r.want.hash[j][row] {
		return
	}
	d := &r.diffs[j]
	d.n++
	if d.gotType == "" {
		d.gotType = gotType()
	}
	if len(d.examples) < 3 {
		d.examples = append(d.examples, matrixMismatch{matrixKey(row), row, string(r.buf)})
	}
}

// columnIndex maps the matrix's columns to a reader's columns (-1: absent).
func (r *matrixResult) columnIndex(names []string) []int {
	idx := make([]int, len(r.want.cols))
	for j, c := range r.want.cols {
		idx[j] = slices.Index(names, c.name)
		if idx[j] < 0 && !r.excluded[c.name] && !slices.Contains(r.missingCols, c.name) {
			r.missingCols = append(r.missingCols, c.name)
		}
	}
	return idx
}

func (r *matrixResult) addBatch(rec arrow.RecordBatch) {
	names := make([]string, rec.NumCols())
	for i, f := range rec.Schema().Fields() {
		names[i] = f.Name
	}
	idx := r.columnIndex(names)
	if idx[0] < 0 {
		return
	}
	keys := rec.Column(idx[0])
	for i := 0; i < int(rec.NumRows()); i++ {
		row, ok := r.begin(rawString(keys, i))
		if !ok {
			continue
		}
		for j, c := range idx {
			if c < 0 {
				continue
			}
			col := rec.Column(c)
			r.buf = appendCanon(r.buf[:0], col, i)
			r.cell(j, row, func() string { return col.DataType().String() })
		}
	}
}

// addGoRow compares one row of Go values (DuckDB's driver); idx from
// columnIndex.
func (r *matrixResult) addGoRow(idx []int, vals []any) {
	if idx[0] < 0 {
		return
	}
	key, _ := vals[idx[0]].(string)
	row, ok := r.begin(key)
	if !ok {
		return
	}
	for j, c := range idx {
		if c < 0 {
			continue
		}
		r.buf = appendCanonGo(r.buf[:0], vals[c], r.want.cols[j].dt)
		r.cell(j, row, func() string { return fmt.Sprintf("Go %T", vals[c]) })
	}
}

func rawString(a arrow.Array, i int) string {
	switch c := a.(type) {
	case *array.String:
		return c.Value(i)
	case *array.LargeString:
		return c.Value(i)
	case *array.StringView:
		return c.Value(i)
	case *array.Dictionary:
		return rawString(c.Dictionary(), c.GetValueIndex(i))
	}
	return a.ValueStr(i)
}

// matrixKnown is what the same reader also gets wrong on the Spark-written
// control table of the same table type: not hoodie's bug.
type matrixKnown struct {
	err   error           // the read of the control failed too
	cols  map[string]bool // columns that differ on the control too
	types map[string]bool // types unreadable on the control too
}

func knownFrom(control *matrixResult) *matrixKnown {
	if control == nil {
		return nil
	}
	k := &matrixKnown{cols: map[string]bool{}, types: map[string]bool{}}
	if !errors.Is(control.err, errReaderDown) {
		k.err = control.err
	}
	for typ := range control.unreadable {
		k.types[typ] = true
	}
	for j, d := range control.diffs {
		if d.n > 0 {
			k.cols[control.want.cols[j].name] = true
		}
	}
	return k
}

func (k *matrixKnown) col(name string) bool { return k != nil && k.cols[name] }

func (k *matrixKnown) failed() bool { return k != nil && k.err != nil }

func (k *matrixKnown) typ(name string) bool { return k != nil && k.types[name] }

// unreadableTypes splits the unreadable types into those not known from
// the control and those known.
func (r *matrixResult) unreadableTypes(k *matrixKnown) (fail, known []string) {
	for typ := range r.unreadable {
		if k.typ(typ) {
			known = append(known, typ)
		} else {
			fail = append(fail, typ)
		}
	}
	slices.Sort(fail)
	slices.Sort(known)
	return fail, known
}

// describeUnreadable is a line per type whose columns make the read fail.
func (r *matrixResult) describeUnreadable(types []string) string {
	var b strings.Builder
	for _, typ := range types {
		var names []string
		for _, c := range r.want.cols {
			if c.typ == typ {
				names = append(names, c.name)
			}
		}
		fmt.Fprintf(&b, "  the %d columns of type %s (%s, ...) make the read fail (the other columns were read without them): %s\n",
			len(names), typ, names[0], r.unreadable[typ])
	}
	return b.String()
}

// columns lists the columns with differences: those not known from the
// control, and those known.
func (r *matrixResult) columns(k *matrixKnown) (fail, known []int) {
	for j, d := range r.diffs {
		switch {
		case d.n == 0:
		case k.col(r.want.cols[j].name):
			known = append(known, j)
		default:
			fail = append(fail, j)
		}
	}
	return fail, known
}

// rowProblems describes missing, unexpected and repeated keys and missing
// columns.
func (r *matrixResult) rowProblems() string {
	var b strings.Builder
	missing := 0
	var firstMissing []string
	for row, s := range r.seen {
		if !s {
			missing++
			if len(firstMissing) < 5 {
				firstMissing = append(firstMissing, matrixKey(row))
			}
		}
	}
	if missing > 0 {
		fmt.Fprintf(&b, "%d of %d keys missing, e.g. %v\n", missing, len(r.seen), firstMissing)
	}
	if r.nExtra > 0 {
		fmt.Fprintf(&b, "%d unexpected keys, e.g. %q\n", r.nExtra, r.extra)
	}
	if len(r.dups) > 0 {
		fmt.Fprintf(&b, "keys read more than once, e.g. %q\n", r.dups)
	}
	if len(r.missingCols) > 0 {
		fmt.Fprintf(&b, "columns missing from the read: %v\n", r.missingCols)
	}
	return b.String()
}

// status is the result's cell of the summary grid ("*": only problems the
// reader has on the Spark-written control table too).
func (r *matrixResult) status(k *matrixKnown) string {
	fail, known := r.columns(k)
	failTypes, knownTypes := r.unreadableTypes(k)
	for _, c := range r.want.cols {
		if slices.Contains(failTypes, c.typ) {
			fail = append(fail, 0)
		} else if slices.Contains(knownTypes, c.typ) {
			known = append(known, 0)
		}
	}
	switch {
	case r.err != nil && k.failed():
		return "ERROR*"
	case r.err != nil:
		return "ERROR"
	case r.rowProblems() != "":
		return "ROWS"
	case len(fail) > 0:
		return fmt.Sprintf("%d cols", len(fail))
	case len(known) > 0:
		return fmt.Sprintf("ok (%d*)", len(known))
	}
	return "ok"
}

// report describes the problems: fail those that are hoodie's, known
// those the reader has on the Spark-written control table too. Each
// differing column gets its count, the reader's type and up to three
// examples (key, partition and row in the file, wanted and read value).
func (r *matrixResult) report(k *matrixKnown) (fail, known string) {
	if r.err != nil {
		if k.failed() {
			return "", fmt.Sprintf("read failed: %v\n(the read of the Spark-written control table failed too: %v)\n", r.err, k.err)
		}
		return fmt.Sprintf("read failed: %v\n", r.err), ""
	}
	failCols, knownCols := r.columns(k)
	describe := func(cols []int) string {
		var b strings.Builder
		for _, j := range cols {
			c, d := r.want.cols[j], r.diffs[j]
			fmt.Fprintf(&b, "  column %s (%s, %s): %d of %d rows differ, read as %s\n", c.name, c.typ, c.pattern, d.n, len(r.seen), d.gotType)
			for _, ex := range d.examples {
				part, pos, n := matrixPos(ex.row)
				fmt.Fprintf(&b, "      key %s (%s, file row %d of %d): want %s, got %s\n", ex.key, part, pos, n,
					shortText(r.want.text(j, ex.row)), shortText(ex.got))
			}
		}
		return b.String()
	}
	failTypes, knownTypes := r.unreadableTypes(k)
	fail = r.rowProblems() + r.describeUnreadable(failTypes)
	if len(knownTypes) > 0 {
		known = r.describeUnreadable(knownTypes)
	}
	if len(failCols) > 0 {
		fail += fmt.Sprintf("%d of %d columns differ from %s:\n%s", len(failCols), len(r.want.cols), r.want.name, describe(failCols))
	}
	if len(knownCols) > 0 {
		known += fmt.Sprintf("%d columns differ from %s (as on the Spark-written table of this type, or a type matrixLimits lists):\n%s", len(knownCols), r.want.name, describe(knownCols))
	}
	return fail, known
}

func shortText(s string) string {
	if len(s) <= 120 {
		return s
	}
	return strings.ToValidUTF8(s[:70], "") + fmt.Sprintf("…(%d bytes)…", len(s)) + strings.ToValidUTF8(s[len(s)-24:], "")
}

// --- readers -------------------------------------------------------------------

// matrixReader is one way of reading a table.
type matrixReader struct {
	name     string
	lane     int  // readers of one lane run one after the other; lanes run concurrently
	ro       bool // returns what read-optimized queries return (base files only)
	logsOnly bool // only for tables whose snapshot merges log blocks
	foreign  bool
	read     func(tb *matrixTable, res *matrixResult) error
}

const (
	laneSpark = iota
	laneSpark2
	laneLocal
	lanes
)

// errReaderDown marks a read that failed because the reader is not
// there (a Spark process that did not start or died): never "known".
var errReaderDown = errors.New("reader unavailable")

// matrixRead reads a table into a result: every column (columns nil) or
// only the given ones.
type matrixRead func(tb *matrixTable, into *matrixResult, columns []string) error

// withFallback runs read; when it fails, the columns at fault are looked
// for: if the error names matrix columns, the table is read again without
// every column of their types; else it is read once per type (the key,
// partition and ordering columns and that type's columns). Types whose
// reads fail are reported unreadable with the error's root cause, the
// others compared.
func withFallback(read matrixRead) func(*matrixTable, *matrixResult) error {
	return func(tb *matrixTable, res *matrixResult) error {
		err := read(tb, res, nil)
		if err == nil || errors.Is(err, errReaderDown) {
			return err
		}
		var passes [][]string // the types of each pass
		named := typesNamedIn(err.Error(), res.want.cols)
		if len(named) > 0 {
			var rest []string
			for _, ty := range matrixTypes() {
				if !named[ty.name] {
					rest = append(rest, ty.name)
				}
			}
			passes = append(passes, rest)
		} else {
			for _, ty := range matrixTypes() {
				passes = append(passes, []string{ty.name})
			}
		}
		unreadable := map[string]string{}
		for typ := range named {
			unreadable[typ] = rootCause(err.Error())
		}
		read1 := false
		for _, types := range passes {
			columns := []string{}
			excluded := map[string]bool{}
			for _, c := range res.want.cols {
				if c.pattern == "" || slices.Contains(types, c.typ) {
					columns = append(columns, c.name)
				} else {
					excluded[c.name] = true
				}
			}
			pass := newMatrixResult(tb, res.reader, res.foreign, res.want)
			pass.excluded = excluded
			if perr := read(tb, pass, columns); perr != nil {
				if errors.Is(perr, errReaderDown) {
					return perr
				}
				for _, typ := range types {
					unreadable[typ] = rootCause(perr.Error())
				}
				continue
			}
			res.merge(pass, !read1)
			read1 = true
		}
		if !read1 && len(named) > 0 {
			return fmt.Errorf("%w\n(and fails again without the columns of the types the error names)", err)
		}
		if !read1 {
			return fmt.Errorf("%w\n(and fails again with the columns of any single type)", err)
		}
		res.unreadable = unreadable
		res.excluded = map[string]bool{}
		for _, c := range res.want.cols {
			if _, ok := unreadable[c.typ]; ok {
				res.excluded[c.name] = true
			}
		}
		return nil
	}
}

// rootCause is the last line of an error (a Java exception chain ends
// with its root cause).
func rootCause(msg string) string {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// sparkRead reads through a Spark harness's read_arrow.
func sparkRead(proc func() (*sparkProc, error), dir, query string, vectorized bool) matrixRead {
	return func(tb *matrixTable, into *matrixResult, columns []string) error {
		p, err := proc()
		if err != nil {
			return fmt.Errorf("%w: the Spark process did not start: %v", errReaderDown, err)
		}
		out, err := os.CreateTemp(dir, "spark-*.arrow")
		if err != nil {
			return err
		}
		out.Close()
		defer os.Remove(out.Name())
		req := map[string]any{"op": "read_arrow", "path": tb.base, "query": query, "out": out.Name(),
			"conf": map[string]any{"spark.sql.parquet.enableVectorizedReader": strconv.FormatBool(vectorized)}}
		if columns != nil {
			req["columns"] = columns
		}
		_, err = p.call(req)
		var se *sparkError
		switch {
		case p.isDead():
			return fmt.Errorf("%w: %v", errReaderDown, err)
		case errors.As(err, &se):
			return fmt.Errorf("Spark: %s", firstLines(se.Java, 12))
		case err != nil:
			return err
		}
		return readIPCInto(out.Name(), into)
	}
}

// merge takes in the differences a read of some columns (those not in
// pass.excluded) found, and with rows its row-level findings.
func (r *matrixResult) merge(pass *matrixResult, rows bool) {
	for j, c := range r.want.cols {
		if !pass.excluded[c.name] && (c.pattern != "" || rows) {
			r.diffs[j] = pass.diffs[j]
		}
	}
	if rows {
		r.rows, r.seen, r.extra, r.nExtra, r.dups = pass.rows, pass.seen, pass.extra, pass.nExtra, pass.dups
	}
	for _, c := range pass.missingCols {
		if !slices.Contains(r.missingCols, c) {
			r.missingCols = append(r.missingCols, c)
		}
	}
}

// typesNamedIn are the types of the matrix columns an error message names.
func typesNamedIn(msg string, cols []matrixCol) map[string]bool {
	types := map[string]bool{}
	for _, c := range cols {
		if c.pattern != "" && regexp.MustCompile(`(^|[^A-Za-z0-9_])`+regexp.QuoteMeta(c.name)+`($|[^A-Za-z0-9_])`).MatchString(msg) {
			types[c.typ] = true
		}
	}
	return types
}

// firstLines is the first n lines of a Java exception chain that are not
// stack frames.
func firstLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "at ") && !strings.HasPrefix(t, "...") {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "\n")
}

func readIPCInto(path string, res *matrixResult) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f, ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer r.Close()
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatch(i)
		if err != nil {
			return fmt.Errorf("%s: batch %d: %w", path, i, err)
		}
		res.addBatch(rec)
	}
	return nil
}

// pythonRead runs matrix_read.py (mode, then args).
func pythonRead(py, root, dir, mode string, args func(tb *matrixTable) ([]string, error)) matrixRead {
	return func(tb *matrixTable, into *matrixResult, columns []string) error {
		a, err := args(tb)
		if err != nil {
			return err
		}
		out, err := os.CreateTemp(dir, mode+"-*.arrow")
		if err != nil {
			return err
		}
		out.Close()
		defer os.Remove(out.Name())
		argv := []string{filepath.Join(root, "interop", "matrix_read.py"), mode, out.Name()}
		if columns != nil {
			argv = append(argv, "--columns", strings.Join(columns, ","))
		}
		cmd := exec.Command(py, append(argv, a...)...)
		cmd.Env = append(os.Environ(), "TZ=UTC")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("matrix_read.py %s: %w\n%s", mode, err, lastBytes(b, 3000))
		}
		return readIPCInto(out.Name(), into)
	}
}

func lastBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// duckdbRead reads the latest base files with DuckDB's read_parquet.
func duckdbRead(tb *matrixTable, res *matrixResult, columns []string) error {
	files, err := latestBaseFiles(tb)
	if err != nil {
		return err
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = "'" + strings.ReplaceAll(f, "'", "''") + "'"
	}
	sel := "*"
	if columns != nil {
		sel = `"` + strings.Join(columns, `", "`) + `"`
	}
	rows, err := db.Query("SELECT " + sel + " FROM read_parquet([" + strings.Join(quoted, ",") + "], hive_partitioning = false, union_by_name = true)")
	if err != nil {
		return fmt.Errorf("duckdb: %w", err)
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return err
	}
	idx := res.columnIndex(names)
	vals := make([]any, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("duckdb: %w", err)
		}
		res.addGoRow(idx, vals)
	}
	return rows.Err()
}

// hoodieRead reads with hoodie's reader.
func hoodieRead(ro bool) func(*matrixTable, *matrixResult) error {
	return func(tb *matrixTable, res *matrixResult) error {
		recs, err := reader.ReadAll(context.Background(), tb.tbl, reader.Options{ReadOptimized: ro})
		if err != nil {
			return err
		}
		for _, rec := range recs {
			res.addBatch(rec)
			rec.Release()
		}
		return nil
	}
}

// latestBaseFiles lists the absolute paths of a table's latest base files.
func latestBaseFiles(tb *matrixTable) ([]string, error) {
	ctx := context.Background()
	st := tb.tbl.Storage()
	tl, err := timeline.Load(ctx, st)
	if err != nil {
		return nil, err
	}
	view, err := filegroup.BuildView(ctx, st, tl, filegroup.ViewOptions{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, b := range view.LatestBaseFiles() {
		out = append(out, filepath.Join(tb.base, filepath.FromSlash(b.Path)))
	}
	if len(out) == 0 {
		return nil, errors.New("no base files")
	}
	return out, nil
}

// --- the second Spark process ----------------------------------------------------

// startSparkVersion starts a Spark harness with another Hudi bundle
// (scripts/spark.sh VERSION fetches it), like startSpark does for 0.15.
func startSparkVersion(version string) (*sparkProc, error) {
	root, err := findRoot()
	if err != nil {
		return nil, err
	}
	py, err := runScript(root, "pyenv.sh")
	if err != nil {
		return nil, err
	}
	jarOut, err := exec.Command("bash", filepath.Join(root, "scripts", "spark.sh"), version).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("scripts/spark.sh %s: %w\n%s", version, err, ee.Stderr)
		}
		return nil, fmt.Errorf("scripts/spark.sh %s: %w", version, err)
	}
	logf, err := os.CreateTemp("", "hoodie-spark-"+version+"-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(py, filepath.Join(root, "interop", "spark_harness.py"))
	cmd.Env = append(os.Environ(), "HOODIE_SPARK_JAR="+strings.TrimSpace(string(jarOut)), "HOODIE_HUDI_VERSION="+version)
	cmd.Stderr = logf
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start spark harness (Hudi %s): %w", version, err)
	}
	logf.Close()
	p := &sparkProc{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20), logPath: logf.Name()}
	ready, err := p.readLine(3 * time.Minute)
	if err != nil {
		p.kill()
		return nil, fmt.Errorf("spark (Hudi %s) did not start: %w\n%s", version, err, p.logTail())
	}
	if !strings.Contains(string(ready), `"ready": true`) || !strings.Contains(string(ready), version) {
		p.kill()
		return nil, fmt.Errorf("spark harness (Hudi %s): unexpected first line %q\n%s", version, ready, p.logTail())
	}
	return p, nil
}

// isDead reports whether the harness stopped answering.
func (p *sparkProc) isDead() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dead != nil
}

// stopSpark ends a harness started by startSparkVersion.
func stopSpark(p *sparkProc) {
	p.in.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.kill()
		<-done
	}
	os.Remove(p.logPath)
}

// --- the test --------------------------------------------------------------------

func matrixCreateOptions(name string) table.CreateOptions {
	return table.CreateOptions{Name: name, RecordKeyFields: []string{"key"}, PrecombineField: "ts", PartitionFields: []string{"part"}}
}

// matrixLimits are foreign readers' own bugs that the Spark-written
// control tables cannot show, because Spark never writes these Avro types
// (it has no fixed-size binary and no millisecond timestamps); each was
// seen in this matrix and reproduces on a table of that one column. They
// are logged, not failed; delete an entry to make it fail again. An entry
// the matrix no longer observes is logged too.
var matrixLimits = []struct {
	reader string
	typ    string // its columns are unreadable or read wrong...
	why    string // ...in tables whose snapshot merges log blocks
}{
	{"spark1.0.2", "fixed16", "Hudi 1.0.2 decodes log blocks with a reader schema converted from Spark's, where fixed became bytes: " +
		"AvroTypeException \"Found <record>.<column>.fixed, expecting union\" (Hudi 0.15 reads them)"},
	{"spark1.0.2", "ts_millis", "Hudi 1.0.2 returns timestamp-millis values from log blocks unconverted, as microseconds (1000 times too small; Hudi 0.15 converts them)"},
}

// TestReaderMatrix: see the top of this file.
func TestReaderMatrix(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	step := func(format string, args ...any) {
		t.Logf("%5.1fs %s", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	root := repoRoot(t)
	py := python(t)
	dir := t.TempDir()

	// Both Spark processes start while hoodie writes the tables.
	spark15 := func() (*sparkProc, error) {
		sparkState.once.Do(func() { sparkState.p, sparkState.err = startSpark() })
		return sparkState.p, sparkState.err
	}
	go spark15() //nolint:errcheck // the control writes and the readers ask again
	type started struct {
		p   *sparkProc
		err error
	}
	spark2Ch := make(chan started, 1)
	go func() {
		p, err := startSparkVersion(matrixSparkVersion)
		spark2Ch <- started{p, err}
	}()
	var spark2Once sync.Once
	var spark2 started
	spark2Proc := func() (*sparkProc, error) {
		spark2Once.Do(func() { spark2 = <-spark2Ch })
		return spark2.p, spark2.err
	}
	defer func() {
		if p, err := spark2Proc(); err == nil {
			stopSpark(p)
		}
	}()

	cols := matrixColumns()
	final := newMatrixExpect("the matrix", cols, matrixBatch(cols, 0))
	defer final.batch.Release()
	first := newMatrixExpect("the first commit's values", cols, matrixBatch(cols, 1))
	defer first.batch.Release()
	step("data: %d columns, %d rows", len(cols), matrixRows)

	write := func(typ table.TableType, name string, batches ...arrow.RecordBatch) (*table.Table, string) {
		tbl, base := newTypedTable(t, typ, matrixCreateOptions(name))
		w := openWriter(t, tbl, t.TempDir())
		for _, b := range batches {
			require.NoError(t, w.Upsert(b))
			_, err := w.Commit(ctx)
			require.NoError(t, err)
		}
		require.NoError(t, w.Close())
		return tbl, base
	}
	cow, cowBase := write(table.CopyOnWrite, "matrix_cow", final.batch)
	mor, morBase := write(table.MergeOnRead, "matrix_mor", first.batch, final.batch)
	requireLogs(t, "mor_logs", mor, true)
	compBase := filepath.Join(t.TempDir(), "matrix_mor_compacted")
	require.NoError(t, os.CopyFS(compBase, os.DirFS(morBase)))
	comp := reopen(t, compBase)
	sc, _, err := compactor.Run(ctx, comp, compactor.Options{Force: true})
	require.NoError(t, err)
	require.NotNil(t, sc, "compaction scheduled")
	requireLogs(t, "mor_compacted", comp, false)
	step("hoodie wrote cow, mor_logs and mor_compacted")

	hoodie := []*matrixTable{
		{kind: "cow", doc: "hoodie copy-on-write", base: cowBase, tbl: cow, snapshot: final, baseFiles: final},
		{kind: "mor_logs", doc: "hoodie merge-on-read, the matrix in log blocks", base: morBase, tbl: mor, mor: true, logs: true, snapshot: final, baseFiles: first},
		{kind: "mor_compacted", doc: "hoodie merge-on-read after compaction", base: compBase, tbl: comp, mor: true, snapshot: final, baseFiles: final},
	}
	t.Run("footers", func(t *testing.T) {
		for _, tb := range hoodie {
			findings, stats, err := footerCheck(tb.base)
			if err != nil {
				t.Errorf("%s: %v", tb.kind, err)
				continue
			}
			if len(findings) == 0 {
				t.Logf("%s: all as parquet-mr's v1 writer writes them: %v", tb.kind, stats)
				continue
			}
			var b strings.Builder
			for _, f := range findings {
				fmt.Fprintf(&b, "  %s: %s (%d files, e.g. %s)\n", f.column, f.problem, len(f.files), f.files[0])
			}
			t.Errorf("%s (%s): %v; what parquet-mr 1.13's v1 writer does not write:\n%s", tb.kind, tb.doc, stats, b.String())
		}
	})

	baseFileArgs := func(tb *matrixTable) ([]string, error) { return latestBaseFiles(tb) }
	readers := []matrixReader{
		{name: "spark0.15_vectorized", lane: laneSpark, foreign: true, read: withFallback(sparkRead(spark15, dir, "snapshot", true))},
		{name: "spark0.15_rowreader", lane: laneSpark, foreign: true, read: withFallback(sparkRead(spark15, dir, "snapshot", false))},
		{name: "spark0.15_ro", lane: laneSpark, ro: true, logsOnly: true, foreign: true, read: withFallback(sparkRead(spark15, dir, "read_optimized", true))},
		{name: "spark" + matrixSparkVersion, lane: laneSpark2, foreign: true, read: withFallback(sparkRead(spark2Proc, dir, "snapshot", true))},
		{name: "spark" + matrixSparkVersion + "_ro", lane: laneSpark2, ro: true, logsOnly: true, foreign: true, read: withFallback(sparkRead(spark2Proc, dir, "read_optimized", true))},
		{name: "hudi-rs", lane: laneLocal, foreign: true, read: withFallback(pythonRead(py, root, dir, "hudirs", func(tb *matrixTable) ([]string, error) { return []string{tb.base}, nil }))},
		{name: "hudi-rs_ro", lane: laneLocal, ro: true, logsOnly: true, foreign: true, read: withFallback(pythonRead(py, root, dir, "hudirs", func(tb *matrixTable) ([]string, error) { return []string{tb.base, "ro"}, nil }))},
		{name: "pyarrow_basefiles", lane: laneLocal, ro: true, foreign: true, read: withFallback(pythonRead(py, root, dir, "pyarrow", baseFileArgs))},
		{name: "duckdb_basefiles", lane: laneLocal, ro: true, foreign: true, read: withFallback(duckdbRead)},
		{name: "hoodie", lane: laneLocal, read: hoodieRead(false)},
		{name: "hoodie_ro", lane: laneLocal, ro: true, logsOnly: true, read: hoodieRead(true)},
	}

	// Every reader reads every table, the lanes concurrently; the Spark
	// 0.15 lane first writes the control tables (Spark + Hudi 0.15 writes
	// the same rows itself), which the other lanes read last.
	results := map[*matrixTable]map[string]*matrixResult{}
	var mu sync.Mutex
	jobsFor := func(tb *matrixTable, lane int) []func() {
		var jobs []func()
		for _, rd := range readers {
			if rd.lane != lane || (rd.logsOnly && !tb.logs) {
				continue
			}
			want := tb.snapshot
			if rd.ro {
				want = tb.baseFiles
			}
			res := newMatrixResult(tb, rd.name, rd.foreign, want)
			mu.Lock()
			if results[tb] == nil {
				results[tb] = map[string]*matrixResult{}
			}
			results[tb][rd.name] = res
			mu.Unlock()
			jobs = append(jobs, func() {
				t0 := time.Now()
				res.err = rd.read(tb, res)
				res.elapsed = time.Since(t0)
			})
		}
		return jobs
	}
	controlsReady := make(chan struct{})
	var controls []*matrixTable
	var controlErr error
	var wg sync.WaitGroup
	for lane := 0; lane < lanes; lane++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if lane == laneSpark {
				controls, controlErr = matrixSparkControls(py, root, dir, spark15, final, first, func(s string) { step("%s", s) })
				step("Spark wrote the control tables")
				close(controlsReady)
			}
			for _, tb := range hoodie {
				for _, job := range jobsFor(tb, lane) {
					job()
				}
			}
			<-controlsReady
			for _, tb := range controls {
				for _, job := range jobsFor(tb, lane) {
					job()
				}
			}
		}()
	}
	wg.Wait()
	step("all reads done")
	if controlErr != nil {
		t.Errorf("the Spark-written control tables could not be written (Spark + Hudi 0.15): %v", controlErr)
	}
	tables := append(slices.Clip(hoodie), controls...)
	if keep := os.Getenv("HOODIE_MATRIX_KEEP"); keep != "" {
		// Debugging: keep copies of the tables.
		for _, tb := range tables {
			if err := os.CopyFS(filepath.Join(keep, tb.kind), os.DirFS(tb.base)); err != nil {
				t.Logf("HOODIE_MATRIX_KEEP: %v", err)
			}
		}
		t.Logf("HOODIE_MATRIX_KEEP: tables copied to %s", keep)
	}
	for _, tb := range controls {
		sum, _ := encodingSummary(tb.base)
		findings, stats, _ := footerCheck(tb.base)
		t.Logf("%s, parquet-mr's own files (for reference): %d footer-check findings; %v; chunk encodings by type:\n%s", tb.kind, len(findings), stats, sum)
	}

	// A foreign reader's problems that it has on the Spark-written table
	// of the same type too, or that matrixLimits lists, are not hoodie's:
	// logged, not failed. hoodie's reader must read everything.
	known := func(tb *matrixTable, res *matrixResult) *matrixKnown {
		if tb.control || !res.foreign {
			return nil
		}
		var k *matrixKnown
		for _, c := range controls {
			if c.mor == tb.mor {
				k = knownFrom(results[c][res.reader])
			}
		}
		for _, l := range matrixLimits {
			if l.reader == res.reader && tb.logs {
				if k == nil {
					k = &matrixKnown{cols: map[string]bool{}, types: map[string]bool{}}
				}
				k.types[l.typ] = true
				for _, c := range cols {
					if c.typ == l.typ {
						k.cols[c.name] = true
					}
				}
			}
		}
		return k
	}
	for _, tb := range tables {
		t.Run(tb.kind, func(t *testing.T) {
			for _, rd := range readers {
				res := results[tb][rd.name]
				if res == nil {
					continue
				}
				t.Run(res.reader, func(t *testing.T) {
					fail, knownText := res.report(known(tb, res))
					head := fmt.Sprintf("%s reading the %s table (%s): %d rows (%.1fs)", res.reader, tb.kind, tb.doc, res.rows, res.elapsed.Seconds())
					switch {
					case fail != "" && tb.control && res.foreign:
						t.Logf("CONTROL, not hoodie's bug (a foreign reader on a table Spark wrote): %s\n%s", head, fail)
					case fail != "":
						t.Errorf("%s\n%s", head, fail)
					case knownText == "":
						t.Logf("%s: every value as written", head)
					}
					if knownText != "" {
						t.Logf("not hoodie's bug (the reader's own, see matrixLimits and the Spark-written tables): %s\n%s", head, knownText)
					}
				})
			}
		})
	}
	for _, l := range matrixLimits {
		seen := false
		for _, tb := range hoodie {
			if res := results[tb][l.reader]; res != nil && tb.logs {
				_, unreadable := res.unreadable[l.typ]
				for j, c := range cols {
					seen = seen || unreadable || (c.typ == l.typ && res.diffs[j].n > 0)
				}
			}
		}
		if !seen {
			t.Logf("matrixLimits: %s no longer shows its %s problem (%s): the entry can go", l.reader, l.typ, l.why)
		}
	}

	// The grid: one line per reader, one cell per table.
	var grid strings.Builder
	fmt.Fprintf(&grid, "%-22s", "reader \\ table")
	for _, tb := range tables {
		fmt.Fprintf(&grid, " %-15s", tb.kind)
	}
	for _, rd := range readers {
		fmt.Fprintf(&grid, "\n%-22s", rd.name)
		for _, tb := range tables {
			cell := "-"
			if res := results[tb][rd.name]; res != nil {
				cell = fmt.Sprintf("%s %.0fs", res.status(known(tb, res)), res.elapsed.Seconds())
			}
			fmt.Fprintf(&grid, " %-15s", cell)
		}
	}
	t.Logf("reader matrix: %d columns (%d types × %d patterns + long string/binary, key, part, ts) × %d rows\n"+
		"(\"N cols\": columns with differences or unreadable; \"*\": the reader's own problems, as on the Spark-written tables or in matrixLimits)\n%s",
		len(cols), len(matrixTypes()), len(matrixPatterns)-1, matrixRows, grid.String())
	step("done")
}

// requireLogs checks that every latest file slice of a merge-on-read
// table has log files (logs) or none (!logs).
func requireLogs(t *testing.T, kind string, tbl *table.Table, logs bool) {
	t.Helper()
	require.NoError(t, checkLogs(kind, tbl, logs))
}

func checkLogs(kind string, tbl *table.Table, logs bool) error {
	ctx := context.Background()
	tl, err := timeline.Load(ctx, tbl.Storage())
	if err != nil {
		return err
	}
	v, err := filegroup.BuildView(ctx, tbl.Storage(), tl, filegroup.ViewOptions{})
	if err != nil {
		return err
	}
	slices := v.LatestSlices()
	if len(slices) == 0 {
		return fmt.Errorf("%s: no file slices", kind)
	}
	for _, s := range slices {
		if logs && len(s.Logs) == 0 {
			return fmt.Errorf("%s: file group %s has no log files: the matrix must be in log blocks", kind, s.FileID)
		}
		if !logs && len(s.Logs) > 0 {
			return fmt.Errorf("%s: file group %s still has log files", kind, s.FileID)
		}
	}
	return nil
}

func openLocalTable(base string) (*table.Table, error) {
	st, err := storage.NewLocal(base)
	if err != nil {
		return nil, err
	}
	return table.Open(context.Background(), st)
}

// matrixSparkControls has Spark + Hudi 0.15 write the rows itself:
// spark_cow, a copy-on-write table holding the matrix, and spark_mor, a
// merge-on-read table of the first commit's values with the matrix upserted
// into log blocks. The bulk inserts go without Spark's row writer (through
// parquet-avro, as Hudi's upserts write), globally sorted into one file
// per partition, so the null patterns keep their places in the files.
func matrixSparkControls(py, root, dir string, spark15 func() (*sparkProc, error), final, first *matrixExpect, log func(string)) ([]*matrixTable, error) {
	p, err := spark15()
	if err != nil {
		return nil, fmt.Errorf("the Spark process did not start: %w", err)
	}
	input := func(e *matrixExpect, name string) (string, error) {
		ipcPath := filepath.Join(dir, name+".arrow")
		f, err := os.Create(ipcPath)
		if err != nil {
			return "", err
		}
		defer f.Close()
		w, err := ipc.NewFileWriter(f, ipc.WithSchema(e.batch.Schema()), ipc.WithAllocator(memory.DefaultAllocator))
		if err != nil {
			return "", err
		}
		if err := w.Write(e.batch); err != nil {
			return "", err
		}
		if err := w.Close(); err != nil {
			return "", err
		}
		out := filepath.Join(dir, name+".parquet")
		if b, err := exec.Command(py, filepath.Join(root, "interop", "matrix_read.py"), "toparquet", out, ipcPath).CombinedOutput(); err != nil {
			return "", fmt.Errorf("matrix_read.py toparquet: %w\n%s", err, b)
		}
		return out, nil
	}
	finalIn, err := input(final, "control-final")
	if err != nil {
		return nil, err
	}
	firstIn, err := input(first, "control-first")
	if err != nil {
		return nil, err
	}
	sparkWrite := func(base, name string, typ table.TableType, op, in string) error {
		cfg := &table.Config{Name: name, Type: typ, RecordKeyFields: []string{"key"}, PrecombineField: "ts", PartitionFields: []string{"part"}}
		opts := sparkWriteOptions(cfg, op)
		opts["hoodie.datasource.write.row.writer.enable"] = "false"
		opts["hoodie.bulkinsert.sort.mode"] = "GLOBAL_SORT"
		opts["hoodie.bulkinsert.shuffle.parallelism"] = "1"
		t0 := time.Now()
		_, err := p.call(map[string]any{"op": "write", "path": base, "parquet": in, "options": opts, "mode": "append"})
		log(fmt.Sprintf("%s %s %.1fs", name, op, time.Since(t0).Seconds()))
		if err != nil {
			var se *sparkError
			if errors.As(err, &se) {
				return fmt.Errorf("%s %s: %s", name, op, firstLines(se.Java, 12))
			}
		}
		return err
	}
	cowBase := filepath.Join(dir, "matrix_spark_cow")
	if err := sparkWrite(cowBase, "matrix_spark_cow", table.CopyOnWrite, "bulk_insert", finalIn); err != nil {
		return nil, err
	}
	cow, err := openLocalTable(cowBase)
	if err != nil {
		return nil, fmt.Errorf("hoodie opens spark_cow: %w", err)
	}
	out := []*matrixTable{{kind: "spark_cow", doc: "written by Spark + Hudi 0.15", base: cowBase, tbl: cow,
		control: true, snapshot: final, baseFiles: final}}
	morBase := filepath.Join(dir, "matrix_spark_mor")
	if err := sparkWrite(morBase, "matrix_spark_mor", table.MergeOnRead, "bulk_insert", firstIn); err != nil {
		return out, err
	}
	if err := sparkWrite(morBase, "matrix_spark_mor", table.MergeOnRead, "upsert", finalIn); err != nil {
		return out, err
	}
	mor, err := openLocalTable(morBase)
	if err != nil {
		return out, fmt.Errorf("hoodie opens spark_mor: %w", err)
	}
	if err := checkLogs("spark_mor", mor, true); err != nil {
		return out, err
	}
	return append(out, &matrixTable{kind: "spark_mor", doc: "written by Spark + Hudi 0.15, the matrix in log blocks", base: morBase, tbl: mor,
		mor: true, logs: true, control: true, snapshot: final, baseFiles: first}), nil
}

// --- the four-row reproduction -----------------------------------------------------

// TestSparkReadsNullStrings: the smallest case of the bug the reader matrix
// guards against. A copy-on-write table whose string column is null, null,
// "carol", "dave": Spark 3.5 + Hudi 0.15 with default settings (the
// vectorized Parquet reader) must return carol and dave. (With
// DELTA_LENGTH_BYTE_ARRAY pages it returned "" for both.)
func TestSparkReadsNullStrings(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ts", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	names := []any{nil, nil, "carol", "dave"}
	bld := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	want := map[string]any{}
	for i, n := range names {
		id := strconv.Itoa(i + 1)
		bld.Field(0).(*array.StringBuilder).Append(id)
		bld.Field(1).(*array.Int64Builder).Append(1)
		if n == nil {
			bld.Field(2).AppendNull()
		} else {
			bld.Field(2).(*array.StringBuilder).Append(n.(string))
		}
		want[id] = n
	}
	rec := bld.NewRecordBatch()
	bld.Release()
	defer rec.Release()

	tbl, base := newTypedTable(t, table.CopyOnWrite, table.CreateOptions{Name: "null_strings", RecordKeyFields: []string{"id"}, PrecombineField: "ts"})
	w := openWriter(t, tbl, t.TempDir())
	require.NoError(t, w.Upsert(rec))
	_, err := w.Commit(context.Background())
	require.NoError(t, err)
	require.NoError(t, w.Close())

	got := map[string]any{}
	for _, r := range rowsOf(t, sparkDo(t, map[string]any{"op": "read", "path": base, "query": "snapshot"})) {
		got[str(r["id"])] = r["name"]
	}
	require.Equal(t, want, got, "Spark 3.5 + Hudi 0.15, default settings (vectorized Parquet reader): name by id")
}
