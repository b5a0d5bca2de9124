package writer

import (
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/internal/schema"
)

// conform checks a batch against the table schema, evolves the schema if
// the batch adds nullable columns or widens types, and returns the batch
// with exactly the evolved schema's columns, in its order and types
// (missing nullable columns filled with nulls).
func (w *Writer) conform(rec arrow.RecordBatch) (*schema.Schema, arrow.RecordBatch, error) {
	in, err := schema.FromArrow(rec.Schema(), w.cfg.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrSchema, err)
	}
	for _, f := range in.Fields {
		if schema.IsMetaField(f.Name) {
			return nil, nil, fmt.Errorf("%w: column %q is a Hudi meta field; hoodie fills it", ErrSchema, f.Name)
		}
	}
	if len(rec.Schema().FieldIndices(w.cfg.PrecombineField)) == 0 {
		return nil, nil, fmt.Errorf("%w: every row: precombine field %q is missing from the batch", ErrBadRecord, w.cfg.PrecombineField)
	}
	next := in
	if w.mu.schema != nil {
		if next, err = schema.Evolve(w.mu.schema, in); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrSchema, err)
		}
	}
	out, err := arrowutil.Conform(rec, next.ToArrow())
	if err != nil {
		if errors.Is(err, arrowutil.ErrMissingColumn) {
			return nil, nil, fmt.Errorf("%w: every row: %w", ErrBadRecord, err)
		}
		return nil, nil, fmt.Errorf("%w: %w", ErrSchema, err)
	}
	return next, out, nil
}
