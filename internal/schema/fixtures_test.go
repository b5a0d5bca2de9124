package schema_test

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sampleZips returns the Spark-written hudi-rs sample table zips.
func sampleZips(t *testing.T) []string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "go.mod not found")
		dir = parent
	}
	root := filepath.Join(dir, "..", "shared", "testdata", "hudi-rs")
	var zips []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".zip") {
			zips = append(zips, p)
		}
		return err
	}))
	require.NotEmpty(t, zips)
	return zips
}

// unzip extracts a sample zip into a temp dir and returns the table directory.
func unzip(t *testing.T, zipPath string) string {
	t.Helper()
	dst := t.TempDir()
	zr, err := zip.OpenReader(zipPath)
	require.NoError(t, err)
	defer zr.Close()
	var table string
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, "__MACOSX") || strings.HasSuffix(f.Name, ".DS_Store") {
			continue
		}
		p := filepath.Join(dst, filepath.FromSlash(f.Name))
		if f.FileInfo().IsDir() {
			require.NoError(t, os.MkdirAll(p, 0o755))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		rc, err := f.Open()
		require.NoError(t, err)
		out, err := os.Create(p)
		require.NoError(t, err)
		_, err = io.Copy(out, rc)
		require.NoError(t, err)
		require.NoError(t, out.Close())
		require.NoError(t, rc.Close())
		if table == "" {
			table = filepath.Join(dst, strings.SplitN(f.Name, "/", 2)[0])
		}
	}
	require.NotEmpty(t, table)
	return table
}
