package filegroup_test

import (
	"archive/zip"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hoodie-lake/hoodie/filegroup"
	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleFileNames returns the base names of every data file in the sample
// zips, split into base and log file names.
func sampleFileNames(t testing.TB) (bases, logs []string) {
	t.Helper()
	for _, fx := range fixtures.All(t) {
		zr, err := zip.OpenReader(fx.Zip)
		require.NoError(t, err)
		for _, f := range zr.File {
			if strings.Contains(f.Name, "__MACOSX") || strings.HasSuffix(f.Name, "/") || strings.Contains(f.Name, "/.hoodie/") {
				continue
			}
			name := path.Base(f.Name)
			switch {
			case strings.HasSuffix(name, ".parquet"):
				bases = append(bases, name)
			case strings.Contains(name, ".log."):
				logs = append(logs, name)
			}
		}
		require.NoError(t, zr.Close())
	}
	return bases, logs
}

func TestSampleFileNamesRoundTrip(t *testing.T) {
	bases, logs := sampleFileNames(t)
	require.NotEmpty(t, bases)
	require.NotEmpty(t, logs)
	for _, n := range bases {
		b, err := filegroup.ParseBaseFileName(n)
		require.NoError(t, err, n)
		assert.Equal(t, n, b.String())
		assert.Equal(t, "parquet", b.Ext)
		assert.Len(t, b.InstantTime, 17)
		_, err = filegroup.ParseLogFileName(n)
		assert.Error(t, err, "base file %s parsed as log", n)
	}
	for _, n := range logs {
		l, err := filegroup.ParseLogFileName(n)
		require.NoError(t, err, n)
		assert.Equal(t, n, l.String())
		assert.Equal(t, filegroup.ExtLog, l.Ext)
		assert.GreaterOrEqual(t, l.Version, 1)
		_, err = filegroup.ParseBaseFileName(n)
		assert.Error(t, err, "log file %s parsed as base", n)
	}
}

func TestParseBaseFileName(t *testing.T) {
	b, err := filegroup.ParseBaseFileName("ff32ab89-5ad0-4968-83b4-89a34c95d32f-0_0-13-60_20250331030642808.parquet")
	require.NoError(t, err)
	assert.Equal(t, filegroup.BaseFile{
		FileID:      "ff32ab89-5ad0-4968-83b4-89a34c95d32f-0",
		WriteToken:  filegroup.WriteToken{TaskPartitionID: 0, StageID: 13, TaskAttemptID: 60},
		InstantTime: "20250331030642808",
		Ext:         "parquet",
	}, b)

	b, err = filegroup.ParseBaseFileName("f-1_12-0-9876543210_20240418172802.parquet")
	require.NoError(t, err)
	assert.Equal(t, "20240418172802", b.InstantTime)
	assert.Equal(t, int64(9876543210), b.WriteToken.TaskAttemptID)

	for _, bad := range []string{
		"", "x.parquet", "f_0-1-2.parquet", "f_0-1-2_2024041817280.parquet", "f_0-1-2_202404181728020.parquet",
		"f_0-1_20240418172802.parquet", "f_0-1-2-3_20240418172802.parquet", "f_00-1-2_20240418172802.parquet",
		"f_0-1-x_20240418172802.parquet", "f_0-1-2_20240418172802", "f_0-1-2_20240418172802.", "f_0-1-2_2024041817280a.parquet",
		"_0-1-2_20240418172802.parquet", ".f_0-1-2_20240418172802.parquet", "f_0-1-2_20240418172802_x.parquet",
		"f_0-1-2_20240418172802.PARQUET", "f_0-1-+2_20240418172802.parquet", "f_0-1-99999999999999999999_20240418172802.parquet",
	} {
		_, err := filegroup.ParseBaseFileName(bad)
		assert.ErrorIs(t, err, filegroup.ErrInvalidFileName, "%q", bad)
	}
}

func TestParseLogFileName(t *testing.T) {
	l, err := filegroup.ParseLogFileName(".0712b9f9-d2d5-4cae-bcf4-8fd7146af503-0_20250126040823628.log.2_1-0-1")
	require.NoError(t, err)
	assert.Equal(t, filegroup.LogFile{
		FileID:      "0712b9f9-d2d5-4cae-bcf4-8fd7146af503-0",
		BaseInstant: "20250126040823628",
		Version:     2,
		WriteToken:  filegroup.WriteToken{TaskPartitionID: 1, StageID: 0, TaskAttemptID: 1},
		Ext:         filegroup.ExtLog,
	}, l)

	for _, name := range []string{
		".commits_.archive.1_1-0-1",
		".f-0_20240418172802.log.12_3-4-5.cdc",
		".f-0_20240418172802.log.12_3-4-5-cdc",
		".f-0_20240418172802123.log.0_0-0-0",
	} {
		l, err := filegroup.ParseLogFileName(name)
		require.NoError(t, err, name)
		assert.Equal(t, name, l.String())
	}
	l, err = filegroup.ParseLogFileName(".commits_.archive.1_1-0-1")
	require.NoError(t, err)
	assert.Equal(t, "commits", l.FileID)
	assert.Equal(t, "", l.BaseInstant)
	assert.Equal(t, filegroup.ExtArchive, l.Ext)
	l, err = filegroup.ParseLogFileName(".f-0_20240418172802.log.12_3-4-5.cdc")
	require.NoError(t, err)
	assert.True(t, l.CDC)

	for _, bad := range []string{
		"", ".", "f-0_20240418172802.log.1_0-1-2", ".f-0_20240418172802.log.1", ".f-0_20240418172802.log.01_0-1-2",
		".f-0_20240418172802.txt.1_0-1-2", ".f-0_2024041817280.log.1_0-1-2", ".f-0_.log.1_0-1-2",
		".f-0_20240418172802.log.1_0-1-2.tmp", ".f-0_20240418172802.log.x_0-1-2", ".f-0_20240418172802.log.1_0-1",
		".f_0_20240418172802.log.1_0-1-2", "._20240418172802.log.1_0-1-2", ".f-0_20240418172802.log._0-1-2",
		".f-0_20240418172802.log.99999999999_0-1-2",
	} {
		_, err := filegroup.ParseLogFileName(bad)
		assert.ErrorIs(t, err, filegroup.ErrInvalidFileName, "%q", bad)
	}
}

func TestFileNameFormatting(t *testing.T) {
	b := filegroup.BaseFile{FileID: "abc-0", WriteToken: filegroup.WriteToken{TaskPartitionID: 1, StageID: 2, TaskAttemptID: 3}, InstantTime: "20240101000000000", Ext: filegroup.ExtParquet}
	require.NoError(t, b.Validate())
	assert.Equal(t, "abc-0_1-2-3_20240101000000000.parquet", b.String())
	l := filegroup.LogFile{FileID: "abc-0", BaseInstant: "20240101000000000", Version: 1, WriteToken: filegroup.WriteToken{TaskPartitionID: 1, StageID: 0, TaskAttemptID: 1}, Ext: filegroup.ExtLog}
	require.NoError(t, l.Validate())
	assert.Equal(t, ".abc-0_20240101000000000.log.1_1-0-1", l.String())

	assert.Error(t, filegroup.BaseFile{FileID: "a_b", InstantTime: "20240101000000", Ext: "parquet"}.Validate())
	assert.Error(t, filegroup.BaseFile{FileID: "a", InstantTime: "2024", Ext: "parquet"}.Validate())
	assert.Error(t, filegroup.BaseFile{FileID: "a", InstantTime: "20240101000000", Ext: "parquet", WriteToken: filegroup.WriteToken{StageID: -1}}.Validate())
	assert.Error(t, filegroup.LogFile{FileID: "a", BaseInstant: "", Version: 1, Ext: filegroup.ExtLog}.Validate())
	assert.Error(t, filegroup.LogFile{FileID: "a", BaseInstant: "20240101000000", Version: 1, Ext: "txt"}.Validate())
}

func TestWriteToken(t *testing.T) {
	w, err := filegroup.ParseWriteToken("0-13-60")
	require.NoError(t, err)
	assert.Equal(t, filegroup.WriteToken{TaskPartitionID: 0, StageID: 13, TaskAttemptID: 60}, w)
	assert.Equal(t, "0-13-60", w.String())
	for _, bad := range []string{"", "0-13", "0-13-60-1", "a-1-2", "-1-2-3", "01-2-3", "1--3"} {
		_, err := filegroup.ParseWriteToken(bad)
		assert.ErrorIs(t, err, filegroup.ErrInvalidFileName, "%q", bad)
	}
}

func TestNewFileID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-0$`)
	seen := map[string]bool{}
	for range 100 {
		id := filegroup.NewFileID()
		require.Regexp(t, re, id)
		require.NoError(t, filegroup.ValidateFileID(id))
		require.False(t, seen[id])
		seen[id] = true
	}
}

func TestIsInstantTime(t *testing.T) {
	assert.True(t, filegroup.IsInstantTime("20240418172802"))
	assert.True(t, filegroup.IsInstantTime("20240418172802262"))
	assert.False(t, filegroup.IsInstantTime("2024041817280226"))
	assert.False(t, filegroup.IsInstantTime("2024041817280x262"))
	assert.False(t, filegroup.IsInstantTime(""))
}

func TestCompareLogFiles(t *testing.T) {
	names := []string{
		".f_20240101000000001.log.1_0-1-1",
		".f_20240101000000000.log.2_0-1-1",
		".f_20240101000000000.log.1_1-0-1",
		".f_20240101000000000.log.1_0-1-1",
		".f_20240101000000000.log.10_0-1-1",
	}
	var logs []filegroup.LogFile
	for _, n := range names {
		l, err := filegroup.ParseLogFileName(n)
		require.NoError(t, err)
		logs = append(logs, l)
	}
	slices.SortFunc(logs, filegroup.CompareLogFiles)
	var got []string
	for _, l := range logs {
		got = append(got, l.String())
	}
	assert.Equal(t, []string{
		".f_20240101000000000.log.1_0-1-1",
		".f_20240101000000000.log.1_1-0-1",
		".f_20240101000000000.log.2_0-1-1",
		".f_20240101000000000.log.10_0-1-1",
		".f_20240101000000001.log.1_0-1-1",
	}, got)
}

func FuzzBaseFileName(f *testing.F) {
	bases, logs := sampleFileNames(f)
	for _, n := range append(bases, logs...) {
		f.Add(n)
	}
	f.Add("a_0-0-0_20240101000000.parquet")
	f.Add("a_00-0-0_20240101000000.parquet")
	f.Fuzz(func(t *testing.T, name string) {
		b, err := filegroup.ParseBaseFileName(name)
		if err != nil {
			require.ErrorIs(t, err, filegroup.ErrInvalidFileName)
			return
		}
		require.NoError(t, b.Validate())
		require.Equal(t, name, b.String())
		again, err := filegroup.ParseBaseFileName(b.String())
		require.NoError(t, err)
		require.Equal(t, b, again)
	})
}

func FuzzLogFileName(f *testing.F) {
	bases, logs := sampleFileNames(f)
	for _, n := range append(logs, bases...) {
		f.Add(n)
	}
	f.Add(".commits_.archive.1_1-0-1")
	f.Add(".f_20240101000000.log.1_0-1-2.cdc")
	f.Add(".f_20240101000000.log.1_0-1-2-cdc")
	f.Fuzz(func(t *testing.T, name string) {
		l, err := filegroup.ParseLogFileName(name)
		if err != nil {
			require.ErrorIs(t, err, filegroup.ErrInvalidFileName)
			return
		}
		require.NoError(t, l.Validate())
		require.Equal(t, name, l.String())
		again, err := filegroup.ParseLogFileName(l.String())
		require.NoError(t, err)
		require.Equal(t, l, again)
	})
}
