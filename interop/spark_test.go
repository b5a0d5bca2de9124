package interop_test

// Apache Hudi 0.15 on Spark 3.5 reads and writes hoodie's tables. One Spark
// process (interop/spark_harness.py, started on first use by the first
// Spark test) serves every test of the run: it reads JSON requests on stdin
// and answers on stdout, so the JVM starts once (about 4 s, plus about 4 s
// for the first read). pyspark comes from scripts/pyenv.sh, the Hudi bundle
// jar from scripts/spark.sh; if either cannot be set up, or Spark does not
// start, the tests fail (they never skip).
//
// For each case hoodie's writer builds a table, then Spark reads it every
// way Hudi offers (snapshot, read-optimized, time travel as of every
// commit, incremental between consecutive commits and over the whole
// timeline) and every row, meta columns included, must equal what hoodie's
// reader returns for the same query. Hudi's own Java classes load the table
// too (HoodieTableMetaClient, the active timeline with every instant's
// metadata deserialized, TableSchemaResolver, HoodieTableFileSystemView):
// any exception fails the case, and Java's timeline and latest base files
// must equal hoodie's.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hoodie-lake/hoodie/bench"
	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/internal/testbroker"
	"github.com/hoodie-lake/hoodie/metadata"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/hoodie-lake/hoodie/writer"
	"github.com/stretchr/testify/require"
)

// sparkTableTypes are the table types every Spark case runs for.
var sparkTableTypes = []table.TableType{table.CopyOnWrite, table.MergeOnRead}

func sparkTypes() []table.TableType { return append([]table.TableType(nil), sparkTableTypes...) }

func TestMain(m *testing.M) {
	code := m.Run()
	sparkShutdown()
	testbroker.Shutdown(code != 0)
	os.Exit(code)
}

// --- the Spark process ---------------------------------------------------

type sparkProc struct {
	mu      sync.Mutex
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Reader
	logPath string
	dead    error
}

var sparkState struct {
	once sync.Once
	p    *sparkProc
	err  error
}

// sparkRequestTimeout bounds one request (a read or a write of a few
// thousand rows takes well under a second once the JVM is warm).
const sparkRequestTimeout = 5 * time.Minute

func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("getwd: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found")
		}
		dir = parent
	}
}

func runScript(root, name string) (string, error) {
	cmd := exec.Command("bash", filepath.Join(root, "scripts", name))
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("scripts/%s: %w\n%s", name, err, ee.Stderr)
		}
		return "", fmt.Errorf("scripts/%s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func startSpark() (*sparkProc, error) {
	root, err := findRoot()
	if err != nil {
		return nil, err
	}
	py, err := runScript(root, "pyenv.sh")
	if err != nil {
		return nil, err
	}
	jar, err := runScript(root, "spark.sh")
	if err != nil {
		return nil, err
	}
	logf, err := os.CreateTemp("", "hoodie-spark-*.log")
	if err != nil {
		return nil, fmt.Errorf("spark log: %w", err)
	}
	cmd := exec.Command(py, filepath.Join(root, "interop", "spark_harness.py"))
	cmd.Env = append(os.Environ(), "HOODIE_SPARK_JAR="+jar)
	cmd.Stderr = logf
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("spark stdin: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("spark stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start spark harness: %w", err)
	}
	logf.Close()
	p := &sparkProc{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20), logPath: logf.Name()}
	ready, err := p.readLine(3 * time.Minute)
	if err != nil {
		p.kill()
		return nil, fmt.Errorf("spark did not start: %w\n%s", err, p.logTail())
	}
	var m map[string]any
	if err := json.Unmarshal(ready, &m); err != nil || m["ready"] != true {
		p.kill()
		return nil, fmt.Errorf("spark harness: unexpected first line %q (%v)\n%s", ready, err, p.logTail())
	}
	fmt.Fprintf(os.Stderr, "spark: Spark %v, Hudi %v, started in %vs (log %s)\n", m["spark"], m["hudi"], m["start_seconds"], p.logPath)
	return p, nil
}

func (p *sparkProc) readLine(timeout time.Duration) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := p.out.ReadBytes('\n')
		ch <- result{b, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("read from spark harness: %w", r.err)
		}
		return r.b, nil
	case <-time.After(timeout):
		p.kill()
		return nil, fmt.Errorf("spark harness: no answer in %v", timeout)
	}
}

func (p *sparkProc) kill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
}

func (p *sparkProc) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

// call sends one request and returns the response; a request Spark failed
// returns an error carrying the Java exception chain.
func (p *sparkProc) call(req map[string]any) (map[string]any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead != nil {
		return nil, p.dead
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("marshal spark request: %w", err)
	}
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		p.dead = fmt.Errorf("write to spark harness: %w\n%s", err, p.logTail())
		return nil, p.dead
	}
	line, err := p.readLine(sparkRequestTimeout)
	if err != nil {
		p.dead = fmt.Errorf("%w\n%s", err, p.logTail())
		return nil, p.dead
	}
	var resp map[string]any
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, fmt.Errorf("spark harness answer %.200q: %w", line, err)
	}
	if resp["ok"] != true {
		return resp, &sparkError{Op: fmt.Sprint(req["op"]), Java: fmt.Sprint(resp["error"]), Trace: fmt.Sprint(resp["trace"])}
	}
	return resp, nil
}

// sparkError is a request Spark (or Hudi's Java code) failed.
type sparkError struct {
	Op, Java, Trace string
}

func (e *sparkError) Error() string {
	return fmt.Sprintf("spark %s: %s\n%s", e.Op, e.Java, e.Trace)
}

func sparkShutdown() {
	p := sparkState.p
	if p == nil {
		return
	}
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

// spark returns the shared Spark process, starting it on first use. Failing
// to start fails the test.
func spark(t *testing.T) *sparkProc {
	t.Helper()
	sparkState.once.Do(func() { sparkState.p, sparkState.err = startSpark() })
	require.NoError(t, sparkState.err, "Spark + Hudi 0.15 must be available for the Spark interop tests")
	return sparkState.p
}

func sparkDo(t *testing.T, req map[string]any) map[string]any {
	t.Helper()
	start := time.Now()
	resp, err := spark(t).call(req)
	require.NoError(t, err)
	if d := time.Since(start); d > 3*time.Second {
		what := fmt.Sprint(req["op"])
		if q, ok := req["query"]; ok {
			what += " " + fmt.Sprint(q)
		}
		t.Logf("spark %s took %.1fs", what, d.Seconds())
	}
	return resp
}

// --- reads and comparisons -------------------------------------------------

// sparkQuery is one read, asked of Spark and of hoodie's reader.
type sparkQuery struct {
	Name  string
	Spark map[string]any
	Ours  reader.Options
}

func rowsOf(t *testing.T, resp map[string]any) []map[string]any {
	t.Helper()
	raw, ok := resp["rows"].([]any)
	require.True(t, ok, "rows in %v", resp)
	rows := make([]map[string]any, len(raw))
	for i, r := range raw {
		rows[i] = r.(map[string]any)
	}
	return rows
}

// oursWith reads the table with hoodie's reader, in the harness's shape
// (through JSON, sorted by partition path and record key).
func oursWith(t *testing.T, tbl *table.Table, opts reader.Options) []map[string]any {
	t.Helper()
	recs, err := reader.ReadAll(context.Background(), tbl, opts)
	require.NoError(t, err)
	var rows []map[string]any
	for _, r := range recs {
		for i := 0; i < int(r.NumRows()); i++ {
			m := map[string]any{}
			for c, f := range r.Schema().Fields() {
				m[f.Name] = value(r.Column(c), i)
			}
			b, err := json.Marshal(m)
			require.NoError(t, err)
			var n map[string]any
			require.NoError(t, json.Unmarshal(b, &n))
			rows = append(rows, n)
		}
		r.Release()
	}
	sortRows(rows)
	return rows
}

func sortRows(rows []map[string]any) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		for _, k := range rowOrder {
			if x, y := str(a[k]), str(b[k]); x != y {
				return x < y
			}
		}
		return false
	})
}

// rowOrder sorts rows totally: a read-optimized view may hold one key in
// two file groups (a base file and a newer one after a delete in a log).
var rowOrder = []string{"_hoodie_partition_path", "_hoodie_record_key", "_hoodie_file_name", "_hoodie_commit_seqno"}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func requireSameRows(t *testing.T, what string, want, got []map[string]any) {
	t.Helper()
	if len(want) != len(got) {
		key := func(r map[string]any) string {
			return str(r["_hoodie_partition_path"]) + "/" + str(r["_hoodie_record_key"])
		}
		seen := map[string]map[string]any{}
		for _, r := range want {
			seen[key(r)] = r
		}
		n := 0
		theirs := map[string]bool{}
		for _, r := range got {
			theirs[key(r)] = true
			if _, ok := seen[key(r)]; !ok && n < 5 {
				n++
				t.Logf("%s: only the foreign reader has %s: commit %v, file %v", what, key(r), r["_hoodie_commit_time"], r["_hoodie_file_name"])
			}
		}
		n = 0
		for _, r := range want {
			if !theirs[key(r)] && n < 5 {
				n++
				t.Logf("%s: only hoodie's reader has %s: commit %v, file %v, ordering %v", what, key(r), r["_hoodie_commit_time"], r["_hoodie_file_name"], r["time"])
			}
		}
	}
	require.Len(t, got, len(want), "%s: row count (hoodie's reader: %d)", what, len(want))
	for i := range want {
		require.Equal(t, want[i], got[i], "%s: row %d", what, i)
	}
}

// sparkQueries are the reads checked for a table: snapshot, read-optimized,
// time travel as of every completed commit, incremental between
// consecutive commits and over the whole timeline.
func sparkQueries(base string, commits []string) []sparkQuery {
	q := []sparkQuery{
		{"snapshot", map[string]any{"query": "snapshot"}, reader.Options{}},
		{"read_optimized", map[string]any{"query": "read_optimized"}, reader.Options{ReadOptimized: true}},
	}
	for _, c := range commits {
		q = append(q, sparkQuery{"time_travel@" + c, map[string]any{"query": "time_travel", "as_of": c}, reader.Options{AsOf: c}})
	}
	for i := 1; i < len(commits); i++ {
		q = append(q, sparkQuery{"incremental(" + commits[i-1] + "," + commits[i] + "]",
			map[string]any{"query": "incremental", "begin": commits[i-1], "end": commits[i]},
			reader.Options{BeginExclusive: commits[i-1], AsOf: commits[i]}})
	}
	if n := len(commits); n > 2 {
		q = append(q, sparkQuery{"incremental(" + commits[0] + ",latest]",
			map[string]any{"query": "incremental", "begin": commits[0]},
			reader.Options{BeginExclusive: commits[0]}})
	}
	for i := range q {
		q[i].Spark["op"] = "read"
		q[i].Spark["path"] = base
	}
	return q
}

// sparkChecks validates the table with Hudi's Java classes and compares
// every Spark read with hoodie's reader. It returns the snapshot rows.
func sparkChecks(t *testing.T, tbl *table.Table, base string) []map[string]any {
	t.Helper()
	ctx := context.Background()
	tl, err := timeline.Load(ctx, tbl.Storage())
	require.NoError(t, err)
	cfg := tbl.Config()

	v := sparkDo(t, map[string]any{"op": "validate", "path": base})
	require.Empty(t, v["problems"], "Hudi's Java classes rejected parts of the table")
	require.Equal(t, string(cfg.Type), v["table_type"])
	require.EqualValues(t, 6, v["table_version"])
	require.EqualValues(t, 1, v["layout_version"])
	require.Equal(t, true, v["checksum_valid"])

	// Java's active timeline equals hoodie's.
	var javaInstants, ourInstants []string
	for _, raw := range v["instants"].([]any) {
		i := raw.(map[string]any)
		javaInstants = append(javaInstants, fmt.Sprintf("%s.%s.%s", i["timestamp"], i["action"], i["state"]))
	}
	for _, i := range tl.Instants() {
		ourInstants = append(ourInstants, fmt.Sprintf("%s.%s.%s", i.Timestamp, i.Action, i.State))
	}
	require.Equal(t, ourInstants, javaInstants, "active timeline: hoodie vs Java")

	// Java's latest base files equal hoodie's.
	plan, err := reader.Plan(ctx, tbl, reader.Options{ReadOptimized: true})
	require.NoError(t, err)
	ourFiles := map[string][]string{}
	for _, f := range plan.View.LatestBaseFiles() {
		p := path.Dir(f.Path)
		if p == "." {
			p = ""
		}
		ourFiles[p] = append(ourFiles[p], f.Name)
	}
	javaFiles := map[string][]string{}
	for p, fs := range v["latest_base_files"].(map[string]any) {
		for _, f := range fs.([]any) {
			javaFiles[p] = append(javaFiles[p], f.(string))
		}
	}
	for p := range ourFiles {
		sort.Strings(ourFiles[p])
	}
	for p, fs := range javaFiles {
		if len(fs) == 0 {
			delete(javaFiles, p)
		}
	}
	require.Equal(t, ourFiles, javaFiles, "latest base files per partition: hoodie vs Java's HoodieTableFileSystemView")

	var commits []string
	for _, c := range tl.CompletedCommits() {
		commits = append(commits, c.Timestamp)
	}
	var snapshot []map[string]any
	for _, q := range sparkQueries(base, commits) {
		got := rowsOf(t, sparkDo(t, q.Spark))
		want := oursWith(t, tbl, q.Ours)
		requireSameRows(t, q.Name, want, got)
		if q.Name == "snapshot" {
			snapshot = want
		}
	}
	return snapshot
}

// --- tables and data -------------------------------------------------------

func newTypedTable(t *testing.T, typ table.TableType, opts table.CreateOptions) (*table.Table, string) {
	t.Helper()
	opts.Type = typ
	return newTable(t, opts)
}

func openWriter(t *testing.T, tbl *table.Table, indexDir string) *writer.Writer {
	t.Helper()
	w, err := writer.Open(context.Background(), tbl, writer.Options{IndexDir: indexDir})
	require.NoError(t, err)
	return w
}

// openSharedWriter opens a writer on a table Spark also upserts into, with
// its default bloom index, which finds keys in base files only: merge-on-
// read inserts go to base files (writer.Options.InsertsToBaseFiles), not to
// log files, where Spark would miss them and write them again.
func openSharedWriter(t *testing.T, tbl *table.Table, indexDir string) *writer.Writer {
	t.Helper()
	w, err := writer.Open(context.Background(), tbl, writer.Options{IndexDir: indexDir, InsertsToBaseFiles: true})
	require.NoError(t, err)
	return w
}

type writeOp int

const (
	opUpsert writeOp = iota
	opInsert
	opBulkInsert
	opDelete
)

// commitEvents buffers events with op and commits them as one instant.
func commitEvents(t *testing.T, w *writer.Writer, op writeOp, evs []bench.Event) string {
	t.Helper()
	b := bench.ToArrow(evs)
	defer b.Release()
	switch op {
	case opUpsert:
		require.NoError(t, w.Upsert(b))
	case opInsert:
		require.NoError(t, w.Insert(b))
	case opBulkInsert:
		require.NoError(t, w.BulkInsert(b))
	case opDelete:
		require.NoError(t, w.Delete(b))
	}
	res, err := w.Commit(context.Background())
	require.NoError(t, err)
	return res.Instant
}

// eventModel is the expected content of an events table (record key uuid,
// ordering field time): what Hudi's payload semantics keep.
type eventModel struct {
	overwrite bool // OverwriteWithLatestAvroPayload: incoming always wins across commits
	rows      map[string]bench.Event
}

func newEventModel(payload string) *eventModel {
	// A table without the property merges with OverwriteWithLatestAvroPayload
	// (Hudi 0.14/0.15's default), in Java as in hoodie.
	overwrite := payload == "" || strings.HasSuffix(payload, ".OverwriteWithLatestAvroPayload")
	return &eventModel{overwrite: overwrite, rows: map[string]bench.Event{}}
}

// upsert applies one commit: in-batch dedup (larger time wins, ties the
// later record), then the payload's rule against the stored record.
func (m *eventModel) upsert(evs []bench.Event) {
	batch := map[string]bench.Event{}
	for _, e := range evs {
		if o, ok := batch[e.UUID]; ok && o.Time > e.Time {
			continue
		}
		batch[e.UUID] = e
	}
	for k, e := range batch {
		if o, ok := m.rows[k]; ok && !m.overwrite && e.Time < o.Time {
			continue
		}
		m.rows[k] = e
	}
}

func (m *eventModel) delete(evs []bench.Event) {
	for _, e := range evs {
		delete(m.rows, e.UUID)
	}
}

// check compares the data columns of snapshot rows with the model.
func (m *eventModel) check(t *testing.T, rows []map[string]any) {
	t.Helper()
	require.Len(t, rows, len(m.rows), "rows vs expected keys")
	for _, r := range rows {
		k := str(r["uuid"])
		e, ok := m.rows[k]
		require.True(t, ok, "unexpected key %s", k)
		want := eventRow(e)
		for c, v := range want {
			require.Equal(t, v, r[c], "key %s column %s", k, c)
		}
	}
}

// eventRow is an event as a JSON row (numbers as float64, as decoded).
func eventRow(e bench.Event) map[string]any {
	return map[string]any{
		"schema": e.Schema, "type": e.Type, "uuid": e.UUID, "time": float64(e.Time), "id": float64(e.ID),
		"game_id": e.GameID, "meta": e.Meta, "custom_meta": e.CustomMeta, "dt": e.Dt, "region": e.Region,
	}
}

func eventRows(evs []bench.Event) []map[string]any {
	out := make([]map[string]any, len(evs))
	for i, e := range evs {
		r := eventRow(e)
		r["time"], r["id"] = e.Time, e.ID // exact int64 through JSON
		out[i] = r
	}
	return out
}

// sparkDDL is the Spark schema (DDL) of an Arrow schema's columns.
func sparkDDL(t *testing.T, s *arrow.Schema) string {
	t.Helper()
	var cols []string
	for _, f := range s.Fields() {
		var typ string
		switch f.Type.ID() {
		case arrow.STRING:
			typ = "STRING"
		case arrow.INT64:
			typ = "BIGINT"
		case arrow.INT32:
			typ = "INT"
		case arrow.FLOAT64:
			typ = "DOUBLE"
		case arrow.BOOL:
			typ = "BOOLEAN"
		default:
			t.Fatalf("sparkDDL: no Spark type for %s", f.Type)
		}
		cols = append(cols, fmt.Sprintf("`%s` %s", f.Name, typ))
	}
	return strings.Join(cols, ", ")
}

// sparkWriteOptions are the Hudi datasource options for writing into an
// existing table, taken from its hoodie.properties, so that Spark's config
// validation agrees with the table.
func sparkWriteOptions(cfg *table.Config, op string) map[string]any {
	o := map[string]any{
		"hoodie.table.name":                               cfg.Name,
		"hoodie.datasource.write.table.type":              string(cfg.Type),
		"hoodie.datasource.write.operation":               op,
		"hoodie.datasource.write.recordkey.field":         strings.Join(cfg.RecordKeyFields, ","),
		"hoodie.datasource.write.precombine.field":        cfg.PrecombineField,
		"hoodie.datasource.write.partitionpath.field":     strings.Join(cfg.PartitionFields, ","),
		"hoodie.datasource.write.keygenerator.class":      cfg.KeyGeneratorClass(),
		"hoodie.datasource.write.hive_style_partitioning": fmt.Sprint(cfg.HiveStylePartitioning),
		"hoodie.datasource.write.partitionpath.urlencode": fmt.Sprint(cfg.URLEncodePartitioning),
		"hoodie.metadata.enable":                          "false", // tables without one here; metadata_write_test.go has them
		"hoodie.index.type":                               "BLOOM", // Spark looks keys up in hoodie's bloom filters and key ranges
		"hoodie.upsert.shuffle.parallelism":               "2",
		"hoodie.insert.shuffle.parallelism":               "2",
		"hoodie.datasource.write.reconcile.schema":        "false",
		"hoodie.bloom.index.use.metadata":                 "false",
		"hoodie.datasource.meta.sync.enable":              "false",
		"hoodie.datasource.hive_sync.enable":              "false",
	}
	if cfg.PayloadClass != "" {
		o["hoodie.datasource.write.payload.class"] = cfg.PayloadClass
	}
	if cfg.Database != "" {
		o["hoodie.database.name"] = cfg.Database
	}
	return o
}

func sparkWrite(t *testing.T, base string, opts map[string]any, evs []bench.Event) {
	t.Helper()
	sparkDo(t, map[string]any{"op": "write", "path": base, "schema": sparkDDL(t, bench.EventSchema),
		"rows": eventRows(evs), "options": opts, "mode": "append"})
}

// noTies drops events repeating the (uuid, time) of an earlier one: Spark's
// in-batch precombine breaks ties in no defined order.
func noTies(evs []bench.Event) []bench.Event {
	seen := map[[2]string]bool{}
	var out []bench.Event
	for _, e := range evs {
		k := [2]string{e.UUID, fmt.Sprint(e.Time)}
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

// mixedSchema has the column types of the complex-key case.
var mixedSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ts", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "level", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "active", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}, nil)

func mixedBatch(from, n, ts int) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, mixedSchema)
	defer b.Release()
	for i := from; i < from+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("name-%d", i%7))
		b.Field(2).(*array.StringBuilder).Append([]string{"eu/west", "us:east", "ap south", "a=b#c"}[i%4])
		b.Field(3).(*array.Int64Builder).Append(int64(ts))
		b.Field(4).(*array.Float64Builder).Append(float64(i*ts) / 3)
		if i%6 == 0 {
			b.Field(5).AppendNull()
		} else {
			b.Field(5).(*array.Int32Builder).Append(int32(i % 100))
		}
		if i%5 == 0 {
			b.Field(6).AppendNull()
		} else {
			b.Field(6).(*array.BooleanBuilder).Append(i%2 == 0)
		}
	}
	return b.NewRecordBatch()
}

// --- hoodie writes, Spark reads --------------------------------------------

type sparkCase struct {
	name  string
	opts  table.CreateOptions
	write func(t *testing.T, tbl *table.Table, indexDir string) // hoodie writes the table
}

func gameEventsHistory(seed uint64, ops []writeOp) func(t *testing.T, tbl *table.Table, indexDir string) {
	return func(t *testing.T, tbl *table.Table, indexDir string) {
		w := openWriter(t, tbl, indexDir)
		defer w.Close()
		gen := bench.NewGenerator(bench.WorkloadConfig{Seed: seed, DupShare: 0.05})
		var all []bench.Event
		for _, op := range ops {
			if op == opDelete {
				commitEvents(t, w, opDelete, all[:40])
				all = all[40:]
				continue
			}
			evs := gen.Next(800)
			if len(all) > 0 && op == opUpsert {
				late := gen.Updates(all, 60)
				for i := range late {
					late[i].Time -= 10_000_000
				}
				evs = append(append(evs, gen.Updates(all, 150)...), late...)
			}
			all = append(all, evs...)
			commitEvents(t, w, op, evs)
		}
	}
}

func sparkCases() []sparkCase {
	return []sparkCase{
		{"hive_3level", table.CreateOptions{Name: "game_events", RecordKeyFields: []string{"uuid"}, PrecombineField: "time",
			PartitionFields: []string{"dt", "game_id", "region"}, HiveStylePartitioning: true},
			gameEventsHistory(11, []writeOp{opUpsert, opUpsert, opUpsert, opDelete, opUpsert})},
		{"plain_2level", table.CreateOptions{Name: "plain_events", RecordKeyFields: []string{"uuid"}, PrecombineField: "time",
			PartitionFields: []string{"dt", "region"}},
			gameEventsHistory(12, []writeOp{opBulkInsert, opInsert, opUpsert, opDelete})},
		{"nonpartitioned", table.CreateOptions{Name: "np_events", RecordKeyFields: []string{"uuid"}, PrecombineField: "time"},
			gameEventsHistory(13, []writeOp{opInsert, opUpsert, opDelete, opUpsert})},
		{"complex_urlencoded", table.CreateOptions{Name: "cx", RecordKeyFields: []string{"id", "name"}, PrecombineField: "ts",
			PartitionFields: []string{"region"}, URLEncodePartitioning: true, HiveStylePartitioning: true},
			func(t *testing.T, tbl *table.Table, indexDir string) {
				w := openWriter(t, tbl, indexDir)
				defer w.Close()
				for c, r := range [][2]int{{0, 200}, {100, 200}, {250, 50}} {
					b := mixedBatch(r[0], r[1], c+1)
					require.NoError(t, w.Upsert(b))
					b.Release()
					_, err := w.Commit(context.Background())
					require.NoError(t, err)
				}
				del := mixedBatch(0, 10, 9)
				require.NoError(t, w.Delete(del))
				del.Release()
				_, err := w.Commit(context.Background())
				require.NoError(t, err)
			}},
		{"rolled_back_and_pending", table.CreateOptions{Name: "rb_events", RecordKeyFields: []string{"uuid"}, PrecombineField: "time",
			PartitionFields: []string{"dt"}, HiveStylePartitioning: true},
			func(t *testing.T, tbl *table.Table, indexDir string) {
				gen := bench.NewGenerator(bench.WorkloadConfig{Seed: 14})
				first := gen.Next(500)
				w := openWriter(t, tbl, indexDir)
				commitEvents(t, w, opUpsert, first)
				w.Close()
				// A write that fails at its commit point (everything but the
				// completed instant file is on storage)...
				crash := func() { crashWrite(t, tbl, indexDir, append(gen.Next(200), gen.Updates(first, 100)...)) }
				crash()
				// ...is rolled back by the next writer, which commits.
				w = openWriter(t, tbl, indexDir)
				commitEvents(t, w, opUpsert, append(gen.Next(200), gen.Updates(first, 100)...))
				w.Close()
				// A second failed write stays pending: readers must ignore it.
				crash()
			}},
	}
}

// crashWrite upserts evs through a store that crashes at the commit point:
// everything of the instant but its completed file is on storage, and the
// instant stays pending.
func crashWrite(t *testing.T, tbl *table.Table, indexDir string, evs []bench.Event) {
	t.Helper()
	ctx := context.Background()
	f := storagefault.NewFaulty(tbl.Storage(), storagefault.OnIndex(0, storagefault.ModeCrash,
		storagefault.Match{Kinds: []storagefault.OpKind{storagefault.OpClose}, Path: "*commit"}))
	ctbl, err := table.Open(ctx, f)
	require.NoError(t, err)
	w := openWriter(t, ctbl, indexDir)
	defer w.Close()
	b := bench.ToArrow(evs)
	defer b.Release()
	require.NoError(t, w.Upsert(b))
	_, err = w.Commit(ctx)
	require.True(t, errors.Is(err, storagefault.ErrCrashed) || errors.Is(err, storagefault.ErrInjected), "%v", err)
}

// TestSparkReadsHoodieTables: Hudi 0.15 on Spark reads every hoodie table
// shape row for row as hoodie's reader does, for every query type.
func TestSparkReadsHoodieTables(t *testing.T) {
	for _, typ := range sparkTypes() {
		for _, tc := range sparkCases() {
			t.Run(strings.ToLower(string(typ))+"/"+tc.name, func(t *testing.T) {
				tbl, base := newTypedTable(t, typ, tc.opts)
				tc.write(t, tbl, t.TempDir())
				snap := sparkChecks(t, tbl, base)
				require.NotEmpty(t, snap)
			})
		}
	}
}

// --- Spark writes, hoodie writes, everyone reads ----------------------------

// threeReaders checks hoodie's reader, hudi-rs and Spark agree on the
// table's snapshot (and Spark on every other query) and returns the rows.
func threeReaders(t *testing.T, tbl *table.Table, base string) []map[string]any {
	t.Helper()
	if os.Getenv("HOODIE_DEBUG_LS") != "" {
		out, _ := exec.Command("bash", "-c", "cd "+base+" && find . -path ./.hoodie/.aux -prune -o -type f -print | sort | grep -v crc").CombinedOutput()
		t.Logf("files:\n%s", out)
	}
	rows := sparkChecks(t, tbl, base)
	requireSameRows(t, "hudi-rs snapshot", rows, hudiRS(t, base))
	return rows
}

func reopen(t *testing.T, base string) *table.Table {
	t.Helper()
	st, err := storage.NewLocal(base)
	require.NoError(t, err)
	tbl, err := table.Open(context.Background(), st)
	require.NoError(t, err, "hoodie opens the table Spark wrote")
	return tbl
}

// TestSparkUpsertsIntoHoodieTable: Spark (Hudi 0.15 datasource, upsert, the
// table's own key/precombine/partition config) upserts into a table hoodie
// created and wrote; hoodie then upserts again; hoodie's reader, hudi-rs
// and Spark agree, and the rows are what Hudi's payload semantics keep.
func TestSparkUpsertsIntoHoodieTable(t *testing.T) {
	for _, typ := range sparkTypes() {
		t.Run(strings.ToLower(string(typ)), func(t *testing.T) {
			tbl, base := newTypedTable(t, typ, table.CreateOptions{Name: "mixed_writers", RecordKeyFields: []string{"uuid"},
				PrecombineField: "time", PartitionFields: []string{"dt", "game_id", "region"}, HiveStylePartitioning: true})
			indexDir := t.TempDir()
			model := newEventModel(tbl.Config().PayloadClass)
			gen := bench.NewGenerator(bench.WorkloadConfig{Seed: 21})

			// hoodie: two commits.
			w := openSharedWriter(t, tbl, indexDir)
			var all []bench.Event
			for c := 0; c < 2; c++ {
				evs := gen.Next(600)
				if c > 0 {
					evs = append(evs, gen.Updates(all, 100)...)
				}
				commitEvents(t, w, opUpsert, evs)
				model.upsert(evs)
				all = append(all, evs...)
			}
			require.NoError(t, w.Close())
			// A hoodie write that fails at its commit point: Spark's writer
			// rolls it back (Hudi's eager rollback of failed writes, from
			// hoodie's markers) before it writes.
			crashWrite(t, tbl, indexDir, append(gen.Next(100), gen.Updates(all, 50)...))
			if typ == table.MergeOnRead {
				// On MOR, hoodie rolls its failed deltacommit back itself
				// before Spark writes. (Spark's eager rollback runs after it
				// starts its own deltacommit, so the rollback command block
				// it appends carries a later instant than Spark's data block
				// in the same slice, and Hudi 0.15's log scanner stops at it:
				// Spark then misses its own update in snapshot and time-travel
				// reads, while hoodie and hudi-rs see it.)
				w := openWriter(t, tbl, indexDir)
				require.NoError(t, w.Close())
			}

			// Spark: updates, late events (older time: ignored) and new events.
			late := gen.Updates(all, 50)
			for i := range late {
				late[i].Time -= 100_000_000
			}
			sparkEvs := noTies(append(append(gen.Next(300), gen.Updates(all, 150)...), late...))
			sparkWrite(t, base, sparkWriteOptions(tbl.Config(), "upsert"), sparkEvs)
			model.upsert(sparkEvs)
			all = append(all, sparkEvs...)
			tbl = reopen(t, base)
			tl, err := timeline.Load(context.Background(), tbl.Storage())
			require.NoError(t, err)
			require.Empty(t, tl.Pending(), "Spark rolled back hoodie's failed write")
			require.Len(t, tl.Filter(func(i timeline.Instant) bool { return i.Action == timeline.Rollback }), 1)
			model.check(t, threeReaders(t, tbl, base))

			// hoodie again: its index catches up with Spark's commit.
			w = openSharedWriter(t, tbl, indexDir)
			evs := append(append(gen.Next(200), gen.Updates(sparkEvs, 100)...), gen.Updates(all, 100)...)
			commitEvents(t, w, opUpsert, evs)
			model.upsert(evs)
			commitEvents(t, w, opDelete, sparkEvs[:20])
			model.delete(sparkEvs[:20])
			require.NoError(t, w.Close())
			model.check(t, threeReaders(t, tbl, base))

			// Spark once more, over hoodie's rewrite of its files.
			more := noTies(gen.Updates(evs, 80))
			sparkWrite(t, base, sparkWriteOptions(tbl.Config(), "upsert"), more)
			model.upsert(more)
			model.check(t, threeReaders(t, tbl, base))
		})
	}
}

// TestHoodieUpsertsIntoSparkTable: Spark creates a copy-on-write table from
// scratch (its own defaults for the key generator, payload and table
// properties, metadata table off); hoodie opens it and upserts; all three
// readers agree. A Spark table with the metadata table (Spark's default)
// gets hoodie's commit recorded in it.
func TestHoodieUpsertsIntoSparkTable(t *testing.T) {
	gen := bench.NewGenerator(bench.WorkloadConfig{Seed: 31})
	create := func(base, name string, mdt bool, evs []bench.Event) {
		sparkWrite(t, base, map[string]any{
			"hoodie.table.name":                               name,
			"hoodie.datasource.write.table.type":              "COPY_ON_WRITE",
			"hoodie.datasource.write.operation":               "upsert",
			"hoodie.datasource.write.recordkey.field":         "uuid",
			"hoodie.datasource.write.precombine.field":        "time",
			"hoodie.datasource.write.partitionpath.field":     "dt,region",
			"hoodie.datasource.write.hive_style_partitioning": "true",
			"hoodie.metadata.enable":                          fmt.Sprint(mdt),
			"hoodie.upsert.shuffle.parallelism":               "2",
		}, evs)
	}
	first := noTies(gen.Next(700))

	// A table Spark made with its metadata table is written with it
	// maintained (the whole alternating story: metadata_write_test.go).
	t.Run("metadata_table_maintained", func(t *testing.T) {
		base := filepath.Join(t.TempDir(), "spark_mdt")
		create(base, "spark_mdt", true, first)
		tbl := reopen(t, base)
		require.Equal(t, []string{"files"}, tbl.Config().MetadataPartitions)
		w := openWriter(t, tbl, t.TempDir())
		commitEvents(t, w, opUpsert, noTies(gen.Next(100)))
		require.NoError(t, w.Close())
		mm, err := metadata.Validate(context.Background(), tbl)
		require.NoError(t, err)
		require.Empty(t, mm, "hoodie's commit is in Spark's metadata table")
	})

	t.Run("cow", func(t *testing.T) {
		base := filepath.Join(t.TempDir(), "spark_made")
		create(base, "spark_made", false, first)
		tbl := reopen(t, base)
		cfg := tbl.Config()
		t.Logf("Spark's table: key generator %s, payload %q, timezone %q", cfg.KeyGeneratorClass(), cfg.PayloadClass, cfg.TimelineTimezone)
		model := newEventModel(cfg.PayloadClass)
		model.upsert(first)
		model.check(t, threeReaders(t, tbl, base))

		w := openWriter(t, tbl, t.TempDir())
		late := gen.Updates(first, 40)
		for i := range late {
			late[i].Time -= 100_000_000
		}
		evs := append(append(gen.Next(300), gen.Updates(first, 200)...), late...)
		commitEvents(t, w, opUpsert, evs)
		model.upsert(evs)
		require.NoError(t, w.Close())
		model.check(t, threeReaders(t, tbl, base))

		// And Spark again on top of hoodie's commit.
		more := noTies(gen.Updates(evs, 100))
		sparkWrite(t, base, sparkWriteOptions(tbl.Config(), "upsert"), more)
		model.upsert(more)
		model.check(t, threeReaders(t, reopen(t, base), base))
	})
}
