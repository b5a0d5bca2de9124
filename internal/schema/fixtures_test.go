package schema_test

import (
	"testing"

	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"
	"github.com/stretchr/testify/require"
)

// sampleZips returns the Spark-written hudi-rs sample table zips.
func sampleZips(t *testing.T) []string {
	t.Helper()
	var zips []string
	for _, fx := range fixtures.All(t) {
		zips = append(zips, fx.Zip)
	}
	require.NotEmpty(t, zips)
	return zips
}

// unzip extracts a sample zip into a temp dir and returns the table directory.
func unzip(t *testing.T, zipPath string) string {
	t.Helper()
	return fixtures.Unzip(t, zipPath)
}
