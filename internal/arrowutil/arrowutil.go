// Package arrowutil holds the Arrow record-batch operations the writer and
// readers share: projecting a batch onto a schema (by name, with casts and
// null fill), selecting rows, and checking that strings are valid UTF-8.
package arrowutil

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ErrMissingColumn reports a required column absent from a batch.
var ErrMissingColumn = errors.New("arrowutil: missing required column")

// Conform projects rec onto target: columns matched by name, cast where the
// type differs, nulls for absent nullable columns. The result has exactly
// target's fields.
func Conform(rec arrow.RecordBatch, target *arrow.Schema) (arrow.RecordBatch, error) {
	n := rec.NumRows()
	cols := make([]arrow.Array, 0, target.NumFields())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for _, f := range target.Fields() {
		idx := rec.Schema().FieldIndices(f.Name)
		if len(idx) == 0 {
			if !f.Nullable {
				return nil, fmt.Errorf("%w: %q", ErrMissingColumn, f.Name)
			}
			cols = append(cols, array.MakeArrayOfNull(memory.DefaultAllocator, f.Type, int(n)))
			continue
		}
		col := rec.Column(idx[0])
		if arrow.TypeEqual(col.DataType(), f.Type) {
			col.Retain()
			cols = append(cols, col)
			continue
		}
		cast, err := Cast(col, f.Type)
		if err != nil {
			return nil, fmt.Errorf("arrowutil: column %q: cannot convert %s to %s: %w", f.Name, col.DataType(), f.Type, err)
		}
		cols = append(cols, cast)
	}
	return array.NewRecordBatch(target, cols, n), nil
}

// Cast converts an array to another type; timestamp unit changes that lose
// precision (ns → µs) truncate, as Spark does. Nested arrays (lists, maps,
// structs, at any depth) are rebuilt on their own buffers with the target
// type and converted children (see castData): a nested field may widen from
// non-null to nullable, and narrow from nullable to non-null only if it
// holds no null (ErrNullInNonNullable otherwise).
func Cast(col arrow.Array, to arrow.DataType) (arrow.Array, error) {
	d, err := castData(col.Data(), to, "")
	if err != nil {
		return nil, err
	}
	defer d.Release()
	return array.MakeFromData(d), nil
}

// castLeaf casts with compute's kernels.
func castLeaf(col arrow.Array, to arrow.DataType) (arrow.Array, error) {
	ctx := context.Background()
	out, err := compute.CastArray(ctx, col, compute.SafeCastOptions(to))
	if err == nil {
		return out, nil
	}
	if _, ok := to.(*arrow.TimestampType); ok {
		if out, uerr := compute.CastArray(ctx, col, compute.UnsafeCastOptions(to)); uerr == nil {
			return out, nil
		}
	}
	return nil, err
}

// Take selects rows of rec by index (in the given order). The result must
// be released.
func Take(ctx context.Context, rec arrow.RecordBatch, rows []int64) (arrow.RecordBatch, error) {
	if int64(len(rows)) == rec.NumRows() {
		identity := true
		for i, r := range rows {
			if r != int64(i) {
				identity = false
				break
			}
		}
		if identity {
			rec.Retain()
			return rec, nil
		}
	}
	bld := array.NewInt64Builder(memory.DefaultAllocator)
	bld.AppendValues(rows, nil)
	idx := bld.NewInt64Array()
	bld.Release()
	defer idx.Release()
	out, err := compute.Take(ctx, *compute.DefaultTakeOptions(), compute.NewDatumWithoutOwning(rec), compute.NewDatumWithoutOwning(idx))
	if err != nil {
		return nil, fmt.Errorf("arrowutil: take rows: %w", err)
	}
	rd, ok := out.(*compute.RecordDatum)
	if !ok {
		out.Release()
		return nil, errors.New("arrowutil: take rows: unexpected result kind")
	}
	return rd.Value, nil
}

// Column returns rec's column named name, or nil.
func Column(rec arrow.RecordBatch, name string) arrow.Array {
	idx := rec.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return nil
	}
	return rec.Column(idx[0])
}

// Project keeps the named columns rec has, in names' order, skipping names
// it lacks. The result shares rec's arrays and must be released.
func Project(rec arrow.RecordBatch, names []string) arrow.RecordBatch {
	var fields []arrow.Field
	var cols []arrow.Array
	for _, n := range names {
		idx := rec.Schema().FieldIndices(n)
		if len(idx) == 0 {
			continue
		}
		fields = append(fields, rec.Schema().Field(idx[0]))
		cols = append(cols, rec.Column(idx[0]))
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
}
