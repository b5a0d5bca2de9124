package basefile_test

import (
	"os"
	"path/filepath"
	"sort"
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

// commitTimes returns the instant times of an unzipped table's completed
// commits (COW), oldest first. The fixtures are generated from their SQL, so
// instant times and file names differ per generation.
func commitTimes(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, ".hoodie"))
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if ts, ok := strings.CutSuffix(e.Name(), ".commit"); ok {
			out = append(out, ts)
		}
	}
	sort.Strings(out)
	return out
}

// latestBaseFile returns the newest base file (by the instant time that ends
// its name) of a partition directory of an unzipped table.
func latestBaseFile(t *testing.T, dir, partition string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, filepath.FromSlash(partition), "*.parquet"))
	require.NoError(t, err)
	require.NotEmpty(t, files, partition)
	instant := func(p string) string {
		name := strings.TrimSuffix(filepath.Base(p), ".parquet")
		return name[strings.LastIndexByte(name, '_')+1:]
	}
	sort.Slice(files, func(i, j int) bool { return instant(files[i]) < instant(files[j]) })
	return files[len(files)-1]
}
