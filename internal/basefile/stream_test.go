package basefile_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/stretchr/testify/require"
)

// TestRecordsStreamPages reads a file of many small pages (nested and
// repeated columns included) and several row groups in batches of sizes
// that cut rows across page boundaries: every batch size yields the rows
// ReadColumns reads in one piece.
func TestRecordsStreamPages(t *testing.T) {
	s, rec := allTypes(t, 2000)
	defer rec.Release()
	b := writeBytes(t, s, rec, basefile.WriterOptions{PageSize: 512, RowGroupRows: 900})
	r := openBytes(t, b)
	whole, err := r.ReadColumns(nil)
	require.NoError(t, err)
	defer whole.Release()
	want := rowsJSON(t, whole)
	require.Len(t, want, 2000)
	for _, batchRows := range []int{7, 333, 1100, 5000} {
		var got []map[string]any
		for rec, err := range r.Records(context.Background(), batchRows, nil) {
			require.NoError(t, err)
			require.LessOrEqual(t, int(rec.NumRows()), batchRows)
			got = append(got, rowsJSON(t, rec)...)
		}
		require.Equal(t, want, got, "batch rows %d", batchRows)
	}
	// A projection, and an iteration stopped early.
	n := 0
	for rec, err := range r.Records(context.Background(), 50, []string{"id"}) {
		require.NoError(t, err)
		n += int(rec.NumRows())
		if n >= 500 {
			break
		}
	}
	require.Equal(t, 500, n)
}

// TestPageBuffersSpill writes the same file with every column's pages in
// memory and with pages past a few KiB moved to temporary files: the bytes
// are the same, and no temporary file outlives Close or Abort.
func TestPageBuffersSpill(t *testing.T) {
	s, rec := allTypes(t, 2000)
	defer rec.Release()
	want := writeBytes(t, s, rec, basefile.WriterOptions{PageSize: 2048, RowGroupRows: 900, PageBufferMemory: -1})
	dir := t.TempDir()
	got := writeBytes(t, s, rec, basefile.WriterOptions{PageSize: 2048, RowGroupRows: 900, PageBufferMemory: 4096, PageBufferDir: dir})
	require.Equal(t, want, got)
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, left, "Close removes the page buffer files")

	var buf bytes.Buffer
	w, err := basefile.NewWriter(&buf, s, basefile.WriterOptions{PageSize: 2048, PageBufferMemory: 4096, PageBufferDir: dir})
	require.NoError(t, err)
	require.NoError(t, w.Write(constMeta(int(rec.NumRows()), "p"), rec))
	left, err = os.ReadDir(dir)
	require.NoError(t, err)
	require.NotEmpty(t, left, "a row group larger than the bound spilled")
	w.Abort()
	left, err = os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, left, "Abort removes the page buffer files")
}
