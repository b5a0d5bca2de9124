package basefile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"
	"github.com/stretchr/testify/require"
)

// sampleZip returns the sample zip whose path ends with suffix.
func sampleZip(t *testing.T, suffix string) string {
	t.Helper()
	for _, z := range fixtures.Zips(t) {
		if strings.HasSuffix(filepath.ToSlash(z), suffix) {
			return z
		}
	}
	t.Fatalf("no sample %s", suffix)
	return ""
}

// baseFiles lists the .parquet files of an unzipped table (outside .hoodie).
func baseFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".hoodie" {
			return filepath.SkipDir
		}
		if strings.HasSuffix(p, ".parquet") {
			out = append(out, p)
		}
		return nil
	}))
	return out
}
