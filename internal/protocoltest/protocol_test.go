package protocoltest

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hoodie-lake/hoodie/internal/optrace"
	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/internal/testutil/datadriven"
	"github.com/hoodie-lake/hoodie/internal/testutil/model"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
)

// TestProtocol runs every testdata file; see the package documentation
// for the commands.
func TestProtocol(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata files")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			e := newEnv(t)
			defer e.close()
			datadriven.RunTest(t, f, e.run)
		})
	}
}

// env is the state of one scenario: a shared in-memory store, the trace
// all processes record into, and the processes.
type env struct {
	t     *testing.T
	ctx   context.Context
	mem   *storage.Mem
	trace *optrace.Trace
	procs map[string]*proc
	dirs  int
	// inner are the result lines of commands run inside the current one
	// (commit pause-at=... run=...), already labeled.
	inner []string
}

// proc is one process of a scenario: its own store handle (with a fault
// hook) onto the shared store, its table handle and writer.
type proc struct {
	name   string
	faulty *storagefault.Faulty
	st     storage.Storage
	tbl    *table.Table
	w      *tableWriter
	// hook, if set, runs before every operation of the process; an error
	// fails the operation (storagefault.ErrCrashed also kills the store).
	hook func(op storagefault.Op) error
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, ctx: context.Background()}
	e.reset()
	return e
}

func (e *env) reset() {
	e.close()
	e.mem = storage.NewMem()
	e.trace = optrace.New()
	e.procs = map[string]*proc{}
}

func (e *env) close() {
	for _, p := range e.procs {
		if p.w != nil {
			_ = p.w.close()
		}
	}
}

// proc returns process name, creating its store handle.
func (e *env) proc(name string) *proc {
	if p, ok := e.procs[name]; ok {
		return p
	}
	p := &proc{name: name}
	p.faulty = storagefault.NewFaulty(e.mem, storagefault.InjectorFunc(func(op storagefault.Op) error {
		if p.hook == nil {
			return nil
		}
		return p.hook(op)
	}))
	p.st = e.trace.Wrap(p.faulty, name)
	e.procs[name] = p
	return p
}

// table returns the process's table handle, opening it on first use.
func (e *env) table(p *proc) (*table.Table, error) {
	if p.tbl == nil {
		tbl, err := openTable(e.ctx, p.st)
		if err != nil {
			return nil, err
		}
		p.tbl = tbl
	}
	return p.tbl, nil
}

// run executes one directive: its output is the trace of the operations
// it made, then its result lines.
func (e *env) run(t *testing.T, d *datadriven.TestData) string {
	e.t = t
	if d.Cmd == "reset" {
		e.reset()
		return ""
	}
	p := e.proc(d.Arg("p", ""))
	if at := d.Arg("crash-at", ""); at != "" {
		m, err := parseMatch(at)
		if err != nil {
			d.Fatalf(t, "%v", err)
		}
		inj := storagefault.OnIndex(0, storagefault.ModeCrash, m)
		p.hook = inj.MaybeError
	}
	e.trace.Take()
	e.inner = nil
	results, err := e.command(t, d, p)
	out := append(e.trace.Take(), e.inner...)
	for _, r := range results {
		out = append(out, e.result(p, r))
	}
	if err != nil {
		out = append(out, e.result(p, "error: "+errClass(err)))
	}
	return strings.Join(out, "\n")
}

// result labels and normalizes a result line.
func (e *env) result(p *proc, line string) string {
	line = e.trace.Normalize(line)
	if p.name != "" {
		line = p.name + ": " + line
	}
	return line
}

// command runs d's command in process p and returns its result lines.
func (e *env) command(t *testing.T, d *datadriven.TestData, p *proc) ([]string, error) {
	switch d.Cmd {
	case "create-table":
		tbl, err := createTable(e.ctx, p.st, d.Arg("type", "cow"))
		if err != nil {
			return nil, err
		}
		p.tbl = tbl
		return nil, nil
	case "open-writer":
		return nil, e.openWriter(p, d.HasArg("occ"))
	case "upsert":
		recs, err := parseRecs(d.Input)
		if err != nil {
			d.Fatalf(t, "%v", err)
		}
		return nil, e.writer(t, d, p).upsert(recs)
	case "delete":
		keys, err := parseKeys(d.Input)
		if err != nil {
			d.Fatalf(t, "%v", err)
		}
		return nil, e.writer(t, d, p).delete(keys)
	case "commit":
		return e.commit(t, d, p)
	case "schedule-compaction", "run-compaction", "clean", "archive", "rollback":
		return e.service(t, d, p)
	case "ls":
		return e.ls(d.Arg("prefix", "")), nil
	case "read":
		return e.read()
	}
	d.Fatalf(t, "unknown command")
	return nil, nil
}

func (e *env) openWriter(p *proc, occ bool) error {
	tbl, err := e.table(p)
	if err != nil {
		return err
	}
	e.dirs++
	w, err := openWriter(e.ctx, tbl, filepath.Join(e.t.TempDir(), "index", strconv.Itoa(e.dirs)), occ)
	if err != nil {
		return err
	}
	p.w = w
	return nil
}

func (e *env) writer(t *testing.T, d *datadriven.TestData, p *proc) *tableWriter {
	if p.w == nil {
		d.Fatalf(t, "process %q has no writer (open-writer)", p.name)
	}
	return p.w
}

// commit commits p's buffered records. With pause-at=<op> run=<proc>, the
// other process commits its buffered records when p is about to do op.
func (e *env) commit(t *testing.T, d *datadriven.TestData, p *proc) ([]string, error) {
	w := e.writer(t, d, p)
	if at := d.Arg("pause-at", ""); at != "" {
		m, err := parseMatch(at)
		if err != nil {
			d.Fatalf(t, "%v", err)
		}
		other := e.proc(d.Arg("run", ""))
		ow := e.writer(t, d, other)
		fired := false
		p.hook = func(op storagefault.Op) error {
			if fired || !m.Matches(op) {
				return nil
			}
			fired = true
			ts, err := ow.commit(e.ctx)
			e.inner = append(e.inner, e.result(other, commitResult(ts, err)))
			return nil
		}
		defer func() { p.hook = nil }()
	}
	ts, err := w.commit(e.ctx)
	if err != nil {
		return nil, err
	}
	return []string{commitResult(ts, nil)}, nil
}

func commitResult(ts string, err error) string {
	switch {
	case err != nil:
		return "error: " + errClass(err)
	case ts == "":
		return "nothing to commit"
	}
	return "committed " + ts
}

// service runs a table service in process p.
func (e *env) service(t *testing.T, d *datadriven.TestData, p *proc) ([]string, error) {
	tbl, err := e.table(p)
	if err != nil {
		return nil, err
	}
	switch d.Cmd {
	case "schedule-compaction":
		ts, err := scheduleCompaction(e.ctx, tbl)
		if err != nil || ts == "" {
			return []string{"nothing to compact"}, err
		}
		return []string{"scheduled " + ts}, nil
	case "run-compaction":
		done, err := runCompactions(e.ctx, tbl)
		return []string{"compacted " + strings.Join(done, ",")}, err
	case "clean":
		ts, n, err := clean(e.ctx, tbl, intArg(t, d, "versions", 0), intArg(t, d, "commits", 0))
		if err != nil || ts == "" {
			return []string{"nothing to clean"}, err
		}
		return []string{fmt.Sprintf("cleaned %s: %d files", ts, n)}, nil
	case "archive":
		n, file, err := archive(e.ctx, tbl, intArg(t, d, "min", 0), intArg(t, d, "max", 0))
		return []string{fmt.Sprintf("archived %d instants to %s", n, file)}, err
	default: // rollback
		ts, ok := e.trace.Raw(d.Arg("instant", ""))
		if !ok {
			d.Fatalf(t, "instant=%s: not a placeholder seen so far", d.Arg("instant", ""))
		}
		return []string{"rolled back " + ts}, rollback(e.ctx, tbl, ts)
	}
}

// ls lists the objects under prefix (normalized and sorted) without
// tracing.
func (e *env) ls(prefix string) []string {
	var out []string
	for obj, err := range e.mem.List(e.ctx, prefix, "") {
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		out = append(out, e.trace.Normalize(obj.Path))
	}
	slices.Sort(out)
	return out
}

// read reads the table snapshot without tracing: one line per key.
func (e *env) read() ([]string, error) {
	tbl, err := openTable(e.ctx, e.mem)
	if err != nil {
		return nil, err
	}
	m, err := model.ReadErr(e.ctx, tbl, reader.Options{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range m.Keys() {
		r := m[k]
		out = append(out, e.trace.Normalize(fmt.Sprintf("%s ts=%d val=%d commit=%s", k, r.TS, r.Val, r.CT)))
	}
	return out, nil
}

func intArg(t *testing.T, d *datadriven.TestData, key string, def int) int {
	s := d.Arg(key, "")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		d.Fatalf(t, "%s=%s: %v", key, s, err)
	}
	return n
}

// parseMatch parses "<kind>:<glob>" (kind one of storage's operation
// names, or "put" for close) into a storagefault.Match.
func parseMatch(s string) (storagefault.Match, error) {
	kind, glob, ok := strings.Cut(s, ":")
	if !ok {
		return storagefault.Match{}, fmt.Errorf("%q: want <op>:<glob>", s)
	}
	if kind == "put" {
		kind = "close"
	}
	for k := storagefault.OpRead; k <= storagefault.OpStat; k++ {
		if k.String() == kind {
			return storagefault.Match{Kinds: []storagefault.OpKind{k}, Path: glob}, nil
		}
	}
	return storagefault.Match{}, fmt.Errorf("%q: unknown operation %q", s, kind)
}

// parseRecs parses "part id ts val" lines.
func parseRecs(input string) ([]model.Rec, error) {
	var out []model.Rec
	for _, l := range strings.Split(strings.TrimSpace(input), "\n") {
		f := strings.Fields(l)
		if len(f) != 4 {
			return nil, fmt.Errorf("%q: want <part> <id> <ts> <val>", l)
		}
		ts, err1 := strconv.ParseInt(f[2], 10, 64)
		val, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%q: ts and val are integers", l)
		}
		out = append(out, model.Rec{Key: model.Key{Part: f[0], ID: f[1]}, TS: ts, Val: val})
	}
	return out, nil
}

// parseKeys parses "part id" lines.
func parseKeys(input string) ([]model.Key, error) {
	var out []model.Key
	for _, l := range strings.Split(strings.TrimSpace(input), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			return nil, fmt.Errorf("%q: want <part> <id>", l)
		}
		out = append(out, model.Key{Part: f[0], ID: f[1]})
	}
	return out, nil
}
