package bloom_test

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"
)

// baseFile is one Spark-written Parquet base file.
type baseFile struct {
	path string
	f    *parquet.File
}

func parquetFiles(t testing.TB, dir string) []baseFile {
	t.Helper()
	var out []baseFile
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return err
		}
		out = append(out, baseFile{path: p, f: f})
		return nil
	}))
	return out
}

// stringColumn reads a top-level optional string column.
func stringColumn(t testing.TB, f *parquet.File, name string) []string {
	t.Helper()
	leaf, ok := f.Schema().Lookup(name)
	require.True(t, ok, "column %s", name)
	var out []string
	for _, rg := range f.RowGroups() {
		rows := rg.Rows()
		buf := make([]parquet.Row, 64)
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				for _, v := range row {
					if v.Column() == leaf.ColumnIndex {
						out = append(out, string(v.ByteArray()))
						break
					}
				}
			}
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
		}
		require.NoError(t, rows.Close())
	}
	require.Len(t, out, int(f.NumRows()))
	return out
}
