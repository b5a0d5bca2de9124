// Package interop_test proves hoodie's tables are Hudi tables by reading
// them with foreign readers and comparing every row, meta columns
// included, with hoodie's own reader. This file uses hudi-rs (the `hudi`
// package from PyPI, installed by scripts/pyenv.sh into a virtual
// environment on first use).
package interop_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hoodie-lake/hoodie/bench"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
	"github.com/stretchr/testify/require"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "go.mod not found")
		dir = parent
	}
}

// python returns the interpreter with hudi-rs installed; failing to set it
// up fails the test (it never skips).
func python(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("bash", filepath.Join(repoRoot(t), "scripts", "pyenv.sh")).Output()
	if ee, ok := err.(*exec.ExitError); ok {
		t.Fatalf("scripts/pyenv.sh: %v\n%s", err, ee.Stderr)
	}
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

// hudiRS reads the table's snapshot with hudi-rs: one map per row.
func hudiRS(t *testing.T, base string) []map[string]any {
	t.Helper()
	cmd := exec.Command(python(t), filepath.Join(repoRoot(t), "interop", "hudirs_read.py"), base)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "hudi-rs: %s", stderr.String())
	var rows []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
		rows = append(rows, m)
	}
	return rows
}

// ours reads the snapshot with hoodie's reader, in the same shape.
func ours(t *testing.T, tbl *table.Table) []map[string]any {
	t.Helper()
	return oursWith(t, tbl, reader.Options{})
}

func value(a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch c := a.(type) {
	case *array.String:
		return c.Value(i)
	case *array.Int64:
		return c.Value(i)
	case *array.Int32:
		return c.Value(i)
	case *array.Float64:
		return c.Value(i)
	case *array.Boolean:
		return c.Value(i)
	}
	return a.ValueStr(i)
}

func compare(t *testing.T, tbl *table.Table, base string, wantRows int) {
	t.Helper()
	got := hudiRS(t, base)
	want := ours(t, tbl)
	require.Len(t, want, wantRows, "hoodie's reader")
	require.Len(t, got, len(want), "hudi-rs row count")
	for i := range want {
		require.Equal(t, want[i], got[i], "row %d", i)
	}
}

func newTable(t *testing.T, opts table.CreateOptions) (*table.Table, string) {
	t.Helper()
	base := filepath.Join(t.TempDir(), opts.Name)
	st, err := storage.NewLocal(base)
	require.NoError(t, err)
	tbl, err := table.Create(context.Background(), st, opts)
	require.NoError(t, err)
	return tbl, base
}

// TestHudiRSReadsGameEvents: a hive-style, three-level partitioned table
// after inserts, retries, updates, late events and deletes.
func TestHudiRSReadsGameEvents(t *testing.T) {
	ctx := context.Background()
	tbl, base := newTable(t, table.CreateOptions{Name: "game_events", RecordKeyFields: []string{"uuid"}, PrecombineField: "time",
		PartitionFields: []string{"dt", "game_id", "region"}, HiveStylePartitioning: true})
	w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: t.TempDir()})
	require.NoError(t, err)
	defer w.Close()
	gen := bench.NewGenerator(bench.WorkloadConfig{Seed: 3, DupShare: 0.05})
	var all []bench.Event
	for c := 0; c < 3; c++ {
		evs := gen.Next(2000)
		if len(all) > 0 {
			late := gen.Updates(all, 100)
			for i := range late {
				late[i].Time -= 10_000_000
			}
			evs = append(append(evs, gen.Updates(all, 200)...), late...)
		}
		all = append(all, evs...)
		b := bench.ToArrow(evs)
		require.NoError(t, w.Upsert(b))
		b.Release()
		_, err := w.Commit(ctx)
		require.NoError(t, err)
	}
	// Delete 50 keys.
	del := bench.ToArrow(all[:50])
	require.NoError(t, w.Delete(del))
	del.Release()
	_, err = w.Commit(ctx)
	require.NoError(t, err)

	keys := map[string]bool{}
	for _, e := range all {
		keys[e.UUID] = true
	}
	for _, e := range all[:50] {
		delete(keys, e.UUID)
	}
	compare(t, tbl, base, len(keys))
}

// TestHudiRSReadsNonPartitionedAndComplexKeys covers the other key
// generators and URL-encoded partition values.
func TestHudiRSReadsNonPartitionedAndComplexKeys(t *testing.T) {
	ctx := context.Background()
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ts", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "active", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	batch := func(n, ts int) arrow.RecordBatch {
		b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
		defer b.Release()
		for i := 0; i < n; i++ {
			b.Field(0).(*array.Int64Builder).Append(int64(i))
			b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("name-%d", i%7))
			b.Field(2).(*array.StringBuilder).Append([]string{"eu/west", "us:east", "ap south"}[i%3])
			b.Field(3).(*array.Int64Builder).Append(int64(ts))
			b.Field(4).(*array.Float64Builder).Append(float64(i) / 3)
			if i%5 == 0 {
				b.Field(5).AppendNull()
			} else {
				b.Field(5).(*array.BooleanBuilder).Append(i%2 == 0)
			}
		}
		return b.NewRecordBatch()
	}
	for _, tc := range []struct {
		name string
		opts table.CreateOptions
		rows int
	}{
		{"nonpartitioned", table.CreateOptions{Name: "np", RecordKeyFields: []string{"id"}, PrecombineField: "ts"}, 300},
		{"complex_urlencoded", table.CreateOptions{Name: "cx", RecordKeyFields: []string{"id", "name"}, PrecombineField: "ts",
			PartitionFields: []string{"region"}, URLEncodePartitioning: true}, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl, base := newTable(t, tc.opts)
			w, err := writer.Open(ctx, tbl, writer.Options{IndexDir: t.TempDir()})
			require.NoError(t, err)
			defer w.Close()
			for c, n := range []int{200, 300} {
				b := batch(n, c+1)
				require.NoError(t, w.Upsert(b))
				b.Release()
				_, err := w.Commit(ctx)
				require.NoError(t, err)
			}
			compare(t, tbl, base, tc.rows)
		})
	}
}
