package protocoltest

// Every call into hoodie's write-side packages is in this file, so that a
// change of their APIs is adapted here alone (then regenerate the traces
// with go test ./internal/protocoltest/ -rewrite and review the diff).
//
// All of them run sequentially: writers and the compactor with Parallelism
// 1, so that the order of operations (and of the placeholders numbered by
// first appearance) is the same in every run.

import (
	"context"
	"errors"
	"fmt"

	"github.com/hoodie-lake/hoodie/cleaner"
	"github.com/hoodie-lake/hoodie/compactor"
	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/internal/testutil/model"
	rb "github.com/hoodie-lake/hoodie/rollback"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// tableTypes are the type= values of create-table.
var tableTypes = map[string]table.TableType{"cow": table.CopyOnWrite, "mor": table.MergeOnRead}

func createTable(ctx context.Context, st storage.Storage, typ string) (*table.Table, error) {
	tt, ok := tableTypes[typ]
	if !ok {
		return nil, fmt.Errorf("unknown table type %q (cow, mor)", typ)
	}
	return table.Create(ctx, st, model.CreateOptions("protocol", tt))
}

func openTable(ctx context.Context, st storage.Storage) (*table.Table, error) {
	return table.Open(ctx, st)
}

// tableWriter is a writer of one process.
type tableWriter struct{ w *writer.Writer }

// openWriter opens a writer; occ selects optimistic concurrency (with no
// retries, so that a conflict is returned).
func openWriter(ctx context.Context, tbl *table.Table, indexDir string, occ bool) (*tableWriter, error) {
	opts := writer.Options{IndexDir: indexDir, Parallelism: 1}
	if occ {
		opts.Concurrency = writer.Optimistic
		opts.ConflictRetries = 0
	}
	w, err := writer.Open(ctx, tbl, opts)
	if err != nil {
		return nil, err
	}
	return &tableWriter{w: w}, nil
}

func (w *tableWriter) upsert(recs []model.Rec) error {
	b := model.Batch(recs)
	defer b.Release()
	return w.w.Upsert(b)
}

func (w *tableWriter) delete(keys []model.Key) error {
	b := model.Deletes(keys)
	defer b.Release()
	return w.w.Delete(b)
}

// commit returns the committed instant ("" when nothing was buffered).
func (w *tableWriter) commit(ctx context.Context) (string, error) {
	res, err := w.w.Commit(ctx)
	if err != nil {
		return "", err
	}
	return res.Instant, nil
}

func (w *tableWriter) close() error { return w.w.Close() }

func compactorOptions() compactor.Options {
	return compactor.Options{Force: true, Parallelism: 1}
}

// scheduleCompaction returns the scheduled instant, "" when there was
// nothing to compact.
func scheduleCompaction(ctx context.Context, tbl *table.Table) (string, error) {
	sc, err := compactor.Schedule(ctx, tbl, compactorOptions())
	if err != nil || sc == nil {
		return "", err
	}
	return sc.Instant, nil
}

// runCompactions executes every pending compaction and returns their
// instants.
func runCompactions(ctx context.Context, tbl *table.Table) ([]string, error) {
	opts := compactorOptions()
	opts.Mode = compactor.RunOnly
	_, res, err := compactor.Run(ctx, tbl, opts)
	var out []string
	for _, r := range res {
		out = append(out, r.Instant)
	}
	return out, err
}

// clean runs the cleaner keeping the latest versions file versions of each
// file group (versions > 0) or the latest commits commits; it returns the
// clean instant ("" if nothing was cleaned) and the number of files
// deleted.
func clean(ctx context.Context, tbl *table.Table, versions, commits int) (string, int, error) {
	opts := cleaner.Options{CommitsRetained: commits}
	if versions > 0 {
		opts = cleaner.Options{Policy: cleaner.KeepLatestFileVersions, FileVersionsRetained: versions}
	}
	res, err := cleaner.Clean(ctx, tbl, opts)
	if err != nil {
		return "", 0, err
	}
	return res.Instant.Timestamp, len(res.Deleted), nil
}

// archive archives the active timeline down to minKeep commits once it
// holds more than maxKeep; it returns the number of instants archived and
// the archive file written.
func archive(ctx context.Context, tbl *table.Table, minKeep, maxKeep int) (int, string, error) {
	res, err := cleaner.Archive(ctx, tbl, cleaner.ArchiveOptions{MinToKeep: minKeep, MaxToKeep: maxKeep})
	if err != nil {
		return 0, "", err
	}
	return len(res.Archived), res.File, nil
}

// rollback rolls back instant ts (pending or the latest completed write).
func rollback(ctx context.Context, tbl *table.Table, ts string) error {
	return rb.Instant(ctx, tbl, ts)
}

// errClass names err by the sentinel it matches, for the trace files (the
// messages carry ages and other run-dependent details).
func errClass(err error) string {
	for _, c := range []struct {
		err  error
		name string
	}{
		{writer.ErrConflict, "conflict"},
		{writer.ErrConcurrentWriter, "concurrent-writer"},
		{rb.ErrRefused, "rollback-refused"},
		{storagefault.ErrCrashed, "crashed"},
		{storagefault.ErrInjected, "injected"},
	} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	return "unexpected: " + err.Error()
}
