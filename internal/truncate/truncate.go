// Package truncate applies a source table's truncate to a Hudi table: it
// buffers a delete of every row of the table, by key, in a writer (the
// caller commits it as one instant). Shared by pipeline's CDC and the
// stream engine.
package truncate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hoodie-lake/hoodie/internal/arrowutil"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// DeleteAll reads the latest snapshot of tbl (merging merge-on-read logs)
// and buffers a delete of each row in w, projected on the record key and
// partition columns. It returns the rows buffered; on error, w's buffer
// is dropped (Abort).
func DeleteAll(ctx context.Context, tbl *table.Table, w *writer.Writer) (int64, error) {
	cfg := tbl.Config()
	snap, err := reader.Plan(ctx, tbl, reader.Options{})
	if err != nil {
		return 0, fmt.Errorf("reading the table: %w", err)
	}
	var cols []string
	for _, f := range append(append([]string(nil), cfg.RecordKeyFields...), cfg.PartitionFields...) {
		if top := strings.SplitN(f, ".", 2)[0]; !slices.Contains(cols, top) {
			cols = append(cols, top)
		}
	}
	n := int64(0)
	for rec, err := range snap.Records(ctx) {
		if err != nil {
			w.Abort()
			return 0, fmt.Errorf("reading the table: %w", err)
		}
		keys := arrowutil.Project(rec, cols)
		rec.Release()
		err = w.Delete(keys)
		n += keys.NumRows()
		keys.Release()
		if err != nil {
			w.Abort()
			return 0, err
		}
	}
	return n, nil
}
