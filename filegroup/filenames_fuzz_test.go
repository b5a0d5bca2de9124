package filegroup_test

import (
	"strings"
	"testing"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/stretchr/testify/require"
)

// FuzzWriteToken checks ParseWriteToken: no panic, errors wrap
// ErrInvalidFileName (and so carry the "filegroup: " prefix), and an accepted
// token formats back to exactly its input. The committed corpus
// (testdata/fuzz/FuzzWriteToken) holds the write tokens of every file of
// the Spark-written samples.
func FuzzWriteToken(f *testing.F) {
	for _, s := range []string{"0-13-60", "1-0-1", "00-1-1", "-1-1", "1-2", "1-2-3-4", "9223372036854775807-0-0", "9223372036854775808-0-0", "+1-0-0", "1_0-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := filegroup.ParseWriteToken(s)
		if err != nil {
			require.ErrorIs(t, err, filegroup.ErrInvalidFileName)
			require.True(t, strings.HasPrefix(err.Error(), "filegroup: "), "%v", err)
			return
		}
		require.Equal(t, s, w.String())
		require.GreaterOrEqual(t, w.TaskPartitionID, int64(0))
		require.GreaterOrEqual(t, w.StageID, int64(0))
		require.GreaterOrEqual(t, w.TaskAttemptID, int64(0))
		// A token that parses makes a base file name that parses back.
		b := filegroup.BaseFile{FileID: "f", WriteToken: w, InstantTime: "20240101000000000", Ext: filegroup.ExtParquet}
		require.NoError(t, b.Validate())
		again, err := filegroup.ParseBaseFileName(b.String())
		require.NoError(t, err)
		require.Equal(t, w, again.WriteToken)
	})
}
