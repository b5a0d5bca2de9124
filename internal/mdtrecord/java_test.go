package mdtrecord

// Hudi 0.15's own classes read what this package writes: the test writes a
// base file and a log block's content holding every record type, and runs
// testdata/MetadataRecordCheck.java once over both with the Hudi bundle and
// the pyspark jars on the class path (found through scripts/spark.sh and
// scripts/pyenv.sh, as the interop tests find them). Both of Hudi's HFile
// readers must return every record, HoodieMetadataPayload must accept each,
// every key must be found by lookup, and a base file's bloom filter and
// min/max keys must read back. Java or the jars missing is a failure, never
// a skip.

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hudiClassPath returns the class path of the Hudi 0.15 bundle and the
// pyspark jars (Hadoop, Avro, ...).
func hudiClassPath(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	script := func(name string) string {
		out, err := exec.Command("bash", filepath.Join(root, "scripts", name)).Output()
		require.NoError(t, err, "scripts/%s", name)
		return strings.TrimSpace(string(out))
	}
	py := script("pyenv.sh")
	jar := script("spark.sh")
	out, err := exec.Command(py, "-c", "import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), 'jars'))").Output()
	require.NoError(t, err, "pyspark jars")
	return jar + string(os.PathListSeparator) + filepath.Join(strings.TrimSpace(string(out)), "*")
}

// javaView is the line MetadataRecordCheck.java prints for r.
func javaView(r Record) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "rec %s type=%d", r.Key, r.Type)
	switch r.Type {
	case TypePartitionList, TypeFiles:
		var liveNames, deleted []string
		for _, n := range slices.Sorted(maps.Keys(r.Files)) {
			fi := r.Files[n]
			fmt.Fprintf(&sb, " %s=%d/%v", n, fi.Size, fi.Deleted)
			if fi.Deleted {
				deleted = append(deleted, n)
			} else {
				liveNames = append(liveNames, n)
			}
		}
		fmt.Fprintf(&sb, " live=[%s] deleted=[%s]", strings.Join(liveNames, ", "), strings.Join(deleted, ", "))
	case TypeRecordIndex:
		ri := r.RecordIndex
		fileID := ri.FileID
		if ri.FileIDEncoding == 0 {
			hi, lo := uint64(ri.FileIDHighBits), uint64(ri.FileIDLowBits)
			fileID = fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
			if ri.FileIndex != -1 {
				fileID += fmt.Sprintf("-%d", ri.FileIndex)
			}
		}
		fmt.Fprintf(&sb, " partition=%s fileId=%s millis=%d", ri.PartitionName, fileID, ri.InstantTime)
	case TypeBloomFilter: // bloomRaw
		sb.WriteString(" bloom=DYNAMIC_V0/20240101000000000/false present=true")
	case TypeColumnStats: // columnStatsRaw
		sb.WriteString(` file=f.parquet column=c min={"value": -5} max={"value": "zz"} colstats=true`)
	}
	return sb.String()
}

func TestHudiReadsOurFiles(t *testing.T) {
	java, err := exec.LookPath("java")
	require.NoError(t, err, "java (17) is needed to run Hudi's readers")
	cp := hudiClassPath(t)

	recs := testRecords()
	dir := t.TempDir()
	var base bytes.Buffer
	require.NoError(t, WriteBaseFile(&base, recs))
	basePath := filepath.Join(dir, "files-0000-0_0-1-1_00000000000000010.hfile")
	require.NoError(t, os.WriteFile(basePath, base.Bytes(), 0o644))
	block, err := EncodeLogBlockContent(recs)
	require.NoError(t, err)
	blockPath := filepath.Join(dir, "block.hfile")
	require.NoError(t, os.WriteFile(blockPath, block, 0o644))

	sorted := sortedByKey(recs)
	var want strings.Builder
	for _, name := range []string{filepath.Base(basePath), filepath.Base(blockPath)} {
		fmt.Fprintf(&want, "file %s\n", name)
		for _, r := range sorted {
			want.WriteString(javaView(r) + "\n")
		}
		if name == filepath.Base(basePath) {
			fmt.Fprintf(&want, "bloom DYNAMIC_V0 true\nminmax %s %s\n", sorted[0].Key, sorted[len(sorted)-1].Key)
		}
	}
	want.WriteString("done\n")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, java, "-cp", cp, filepath.Join("testdata", "MetadataRecordCheck.java"),
		"base="+basePath, "block="+blockPath)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "MetadataRecordCheck.java:\n%s\n%s", stdout.String(), stderr.String())
	require.Equal(t, want.String(), stdout.String())
}
