// Package model is the shared harness of hoodie's table tests: the test
// schema (id, ts, part, val), Arrow batch builders for it, a model of the
// expected table contents under Hudi's merge rules, a snapshot reader into
// the model's shape, and the fault sweep that fails every storage operation
// of a workload in turn (sweep.go).
//
// The package must not import writer: writer's own (package writer) tests
// use it.
package model

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
)

// The columns of Schema.
const (
	ColID   = "id"   // record key
	ColTS   = "ts"   // precombine (ordering) field
	ColPart = "part" // partition field
	ColVal  = "val"
)

// Schema is the test schema: record key id, ordering ts, partition part and
// a payload val, all nullable.
var Schema = arrow.NewSchema([]arrow.Field{
	{Name: ColID, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColTS, Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: ColPart, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: ColVal, Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// SchemaDeleted is Schema with Hudi's _hoodie_is_deleted column, which
// marks a row as a delete that obeys the ordering rule.
var SchemaDeleted = arrow.NewSchema(append(Schema.Fields(),
	arrow.Field{Name: schema.IsDeletedField, Type: arrow.FixedWidthTypes.Boolean, Nullable: true}), nil)

// KeySchema is the key columns only (id, part): the batches of deletes.
var KeySchema = arrow.NewSchema([]arrow.Field{Schema.Field(0), Schema.Field(2)}, nil)

// Key is a record's partition and record key.
type Key struct{ Part, ID string }

func (k Key) String() string { return k.Part + "/" + k.ID }

// Rec is one input record.
type Rec struct {
	Key
	TS, Val int64
	// Deleted sets _hoodie_is_deleted (BatchDeleted only).
	Deleted bool
}

// Row is the stored version of a key.
type Row struct {
	TS, Val int64
	// CT is the row's _hoodie_commit_time ("" in models that do not track
	// it; see WithoutCT).
	CT string
}

// Batch builds a batch of Schema from recs.
func Batch(recs []Rec) arrow.RecordBatch { return build(Schema, recs) }

// BatchDeleted builds a batch of SchemaDeleted from recs.
func BatchDeleted(recs []Rec) arrow.RecordBatch { return build(SchemaDeleted, recs) }

func build(s *arrow.Schema, recs []Rec) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	for _, r := range recs {
		b.Field(0).(*array.StringBuilder).Append(r.ID)
		b.Field(1).(*array.Int64Builder).Append(r.TS)
		b.Field(2).(*array.StringBuilder).Append(r.Part)
		b.Field(3).(*array.Int64Builder).Append(r.Val)
		if s.NumFields() > 4 {
			b.Field(4).(*array.BooleanBuilder).Append(r.Deleted)
		}
	}
	return b.NewRecordBatch()
}

// Deletes builds a batch of KeySchema: deletes by key, which win whatever
// the stored ordering value.
func Deletes(keys []Key) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, KeySchema)
	defer b.Release()
	for _, k := range keys {
		b.Field(0).(*array.StringBuilder).Append(k.ID)
		b.Field(1).(*array.StringBuilder).Append(k.Part)
	}
	return b.NewRecordBatch()
}

// CreateOptions are the table.CreateOptions of a test table of Schema:
// record key id, partitioned by part, ordered by ts.
func CreateOptions(name string, typ table.TableType) table.CreateOptions {
	return table.CreateOptions{
		Name: name, Type: typ, RecordKeyFields: []string{ColID},
		PartitionFields: []string{ColPart}, PrecombineField: ColTS,
	}
}

// Model is the expected content of a table: the stored row of every key.
type Model map[Key]Row

// Upsert applies one commit of recs with DefaultHoodieRecordPayload's
// rules: within the commit the record with the largest ts wins (on a tie
// the later one); it replaces the stored row only if its ts is at least
// the stored one (a late event is dropped); a winner with Deleted set
// deletes the key under the same rule. ct is recorded as the rows' commit
// time. It returns the number of late events dropped.
func (m Model) Upsert(recs []Rec, ct string) (late int) {
	win := map[Key]Rec{}
	var order []Key
	for _, r := range recs {
		w, ok := win[r.Key]
		if !ok {
			order = append(order, r.Key)
		}
		if !ok || r.TS >= w.TS {
			win[r.Key] = r
		}
	}
	for _, k := range order {
		r := win[k]
		if cur, ok := m[k]; ok && r.TS < cur.TS {
			late++
			continue
		}
		if r.Deleted {
			delete(m, k)
			continue
		}
		m[k] = Row{TS: r.TS, Val: r.Val, CT: ct}
	}
	return late
}

// Delete removes keys.
func (m Model) Delete(keys []Key) {
	for _, k := range keys {
		delete(m, k)
	}
}

// Clone returns a copy of m.
func (m Model) Clone() Model { return maps.Clone(m) }

// WithoutCT returns m with the commit times cleared, to compare contents
// that different runs committed at different instants.
func (m Model) WithoutCT() Model {
	out := make(Model, len(m))
	for k, r := range m {
		r.CT = ""
		out[k] = r
	}
	return out
}

// Keys returns the keys of m, sorted.
func (m Model) Keys() []Key {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b Key) int { return strings.Compare(a.String(), b.String()) })
	return keys
}

// String renders m one "part/id ts=.. val=.." line per key, sorted.
func (m Model) String() string {
	var sb strings.Builder
	for _, k := range m.Keys() {
		r := m[k]
		fmt.Fprintf(&sb, "%s ts=%d val=%d\n", k, r.TS, r.Val)
	}
	return sb.String()
}

// Read reads the snapshot of tbl (as of opts) into a Model, commit times
// included, failing t on a duplicate key or on a record key that differs
// from the id column.
func Read(t testing.TB, tbl *table.Table, opts reader.Options) Model {
	t.Helper()
	m, err := ReadErr(context.Background(), tbl, opts)
	if err != nil {
		t.Fatalf("model: %v", err)
	}
	return m
}

// ReadErr is Read returning its failure.
func ReadErr(ctx context.Context, tbl *table.Table, opts reader.Options) (Model, error) {
	recs, err := reader.ReadAll(ctx, tbl, opts)
	if err != nil {
		return nil, fmt.Errorf("model: read: %w", err)
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	out := Model{}
	for _, rec := range recs {
		col := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
		ct := col("_hoodie_commit_time").(*array.String)
		rk := col("_hoodie_record_key").(*array.String)
		id := col(ColID).(*array.String)
		part := col(ColPart).(*array.String)
		ts := col(ColTS).(*array.Int64)
		val := col(ColVal).(*array.Int64)
		for i := range int(rec.NumRows()) {
			k := Key{Part: part.Value(i), ID: id.Value(i)}
			if rk.Value(i) != k.ID {
				return nil, fmt.Errorf("model: record key %q of row id %q", rk.Value(i), k.ID)
			}
			if _, dup := out[k]; dup {
				return nil, fmt.Errorf("model: duplicate key %s", k)
			}
			out[k] = Row{TS: ts.Value(i), Val: val.Value(i), CT: ct.Value(i)}
		}
	}
	return out, nil
}

// Open opens the table in st, failing t on an error.
func Open(t testing.TB, st storage.Storage) *table.Table {
	t.Helper()
	tbl, err := table.Open(context.Background(), st)
	if err != nil {
		t.Fatalf("model: open: %v", err)
	}
	return tbl
}
