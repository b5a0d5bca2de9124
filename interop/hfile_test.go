package interop_test

// Hudi 0.15's own HFile readers read what internal/hfile writes. The test
// writes HFiles of several shapes (many blocks, GZ and NONE, a meta block,
// user file info, large values, non-ASCII keys, one entry, no entries) and
// runs interop/HFileCheck.java once over all of them with the Hudi bundle
// and the pyspark jars on the class path: HBase 2.4's reader as shaded in
// the bundle (opened through HoodieHFileUtils, as HoodieAvroHFileReader
// does) and Hudi's native hudi-io reader (org.apache.hudi.io.hfile) must
// each return every key and value in order, find every key by seek and
// miss absent ones, and return every file info entry and meta block. In
// the same JVM run HBase's own writer (as Hudi configures it, with tiny
// blocks and index chunks) writes a file with a 3-level data index, which
// internal/hfile must read entry for entry. Java or the jars missing is a
// failure, never a skip.

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/hfile"
)

// hfileShape is one HFile the Java readers check.
type hfileShape struct {
	name string
	opts hfile.WriterOptions
	kvs  []hfile.KeyValue
}

func hfileShapes() []hfileShape {
	mdtKeys := func(n int) []hfile.KeyValue {
		kvs := make([]hfile.KeyValue, 0, n+1)
		for i := range n {
			v := bytes.Repeat(fmt.Appendf(nil, "files-%04d.parquet:%d;", i, i*37), 1+i%5)
			kvs = append(kvs, hfile.KeyValue{Key: fmt.Appendf(nil, "region=%02d/day=2024-01-%02d/%05d", i%7, 1+i%28, i), Value: v})
		}
		return sortKVs(append(kvs, hfile.KeyValue{Key: []byte("__all_partitions__"), Value: []byte("partitions")}))
	}
	prefixKeys := func() []hfile.KeyValue {
		var kvs []hfile.KeyValue
		for _, k := range []string{"a", "ab", "abc", "abd", "b", "b\x00", "b\x01", "c", "c\xff", "c\xff\xff", "d", "é", "éa", "日本", "日本語", "\xff"} {
			kvs = append(kvs, hfile.KeyValue{Key: []byte(k), Value: bytes.Repeat([]byte(k), 30)})
		}
		return kvs
	}
	big := make([]byte, 2<<20+123)
	for i := range big {
		big[i] = byte(i*31 + i/1000)
	}
	return []hfileShape{
		{"many-blocks-gz", hfile.WriterOptions{
			BlockSize: 4096,
			FileInfo: map[string][]byte{
				"schema": []byte(`{"type":"record","name":"HoodieMetadataRecord"}`), "minRecordKey": []byte("__all_partitions__"),
				"maxRecordKey": []byte("region=06"), "bloomFilterTypeCode": []byte("DYNAMIC_V0"),
			},
			MetaBlocks: map[string][]byte{"bloomFilter": bytes.Repeat([]byte("AAAAB////w=="), 5000)},
		}, mdtKeys(3000)},
		{"many-blocks-none", hfile.WriterOptions{BlockSize: 2048, Compression: hfile.NoCompression,
			MetaBlocks: map[string][]byte{"a-meta": []byte("first"), "bloomFilter": []byte("second"), "z": {}}}, mdtKeys(800)},
		{"prefix-keys", hfile.WriterOptions{BlockSize: 16}, prefixKeys()},
		{"large-values", hfile.WriterOptions{}, []hfile.KeyValue{
			{Key: []byte("k1"), Value: big}, {Key: []byte("k2"), Value: []byte("small")}, {Key: []byte("k3"), Value: big[:1<<20]},
		}},
		{"default-mdt", hfile.WriterOptions{FileInfo: map[string][]byte{"schema": []byte(`{}`)}}, mdtKeys(200)},
		{"one", hfile.WriterOptions{FileInfo: map[string][]byte{"k": []byte("v")}}, []hfile.KeyValue{{Key: []byte("only"), Value: []byte("value")}}},
		{"empty", hfile.WriterOptions{}, nil},
	}
}

func sortKVs(kvs []hfile.KeyValue) []hfile.KeyValue {
	for i := 1; i < len(kvs); i++ {
		for j := i; j > 0 && bytes.Compare(kvs[j-1].Key, kvs[j].Key) > 0; j-- {
			kvs[j-1], kvs[j] = kvs[j], kvs[j-1]
		}
	}
	return kvs
}

func hexOrDash(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	return hex.EncodeToString(b)
}

// writeHFileShape writes s to dir and its expectation file for
// HFileCheck.java, and returns the HFile's path.
func writeHFileShape(t *testing.T, dir string, s hfileShape) string {
	t.Helper()
	var buf bytes.Buffer
	w := hfile.NewWriter(&buf, s.opts)
	for _, kv := range s.kvs {
		require.NoError(t, w.Append(kv.Key, kv.Value))
	}
	require.NoError(t, w.Close())
	path := filepath.Join(dir, s.name+".hfile")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))

	r, err := hfile.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	var exp strings.Builder
	for _, kv := range s.kvs {
		fmt.Fprintf(&exp, "kv %s %s\n", hexOrDash(kv.Key), hexOrDash(kv.Value))
	}
	absent := [][]byte{[]byte("\x00"), []byte("zzzz-after-all"), []byte("region=00/day=2024-01-01/00000\x00"), []byte("aa"), []byte("b\x00\x00")}
	for i, kv := range s.kvs {
		if i%97 == 0 {
			absent = append(absent, append(append([]byte(nil), kv.Key...), '!'))
		}
	}
	for _, k := range absent {
		if _, ok, err := r.Get(k); err == nil && !ok {
			fmt.Fprintf(&exp, "absent %s\n", hexOrDash(k))
		}
	}
	for k, v := range r.FileInfo() {
		fmt.Fprintf(&exp, "fi %s %s\n", hexOrDash([]byte(k)), hexOrDash(v))
	}
	for k, v := range s.opts.MetaBlocks {
		fmt.Fprintf(&exp, "meta %s %s\n", hexOrDash([]byte(k)), hexOrDash(v))
	}
	require.NoError(t, os.WriteFile(path+".expect", []byte(exp.String()), 0o644))
	return path
}

// hudiJavaClassPath returns the class path of the Hudi 0.15 bundle and the
// pyspark jars (Hadoop, Avro, ...), found as the Spark tests find them.
func hudiJavaClassPath(t *testing.T) (root, cp string) {
	t.Helper()
	root, err := findRoot()
	require.NoError(t, err)
	py, err := runScript(root, "pyenv.sh")
	require.NoError(t, err, "python environment (scripts/pyenv.sh)")
	jar, err := runScript(root, "spark.sh")
	require.NoError(t, err, "Hudi bundle (scripts/spark.sh)")
	out, err := exec.Command(py, "-c", "import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), 'jars'))").Output()
	require.NoError(t, err, "pyspark jars")
	jars := strings.TrimSpace(string(out))
	_, err = os.Stat(filepath.Join(jars, "hadoop-client-api-3.3.4.jar"))
	require.NoError(t, err, "pyspark's Hadoop jars")
	return root, jar + string(os.PathListSeparator) + filepath.Join(jars, "*")
}

func TestHudiReadsOurHFiles(t *testing.T) {
	java, err := exec.LookPath("java")
	require.NoError(t, err, "java (17) is needed to run Hudi's HFile readers")
	root, cp := hudiJavaClassPath(t)
	dir := t.TempDir()
	shapes := hfileShapes()
	const hbaseEntries = 3000
	hbaseFile := filepath.Join(dir, "hbase-multilevel.hfile")
	args := []string{"-cp", cp, filepath.Join(root, "interop", "HFileCheck.java"),
		"--write-hbase", hbaseFile, fmt.Sprint(hbaseEntries), "256", "256"}
	for _, s := range shapes {
		args = append(args, writeHFileShape(t, dir, s))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, java, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	require.NoError(t, err, "HFileCheck.java:\n%s\n%s", stdout.String(), stderr.String())
	t.Logf("Hudi's readers checked %d HFiles in %v:\n%s", len(shapes), time.Since(start).Round(time.Millisecond), stdout.String())
	for _, s := range shapes {
		require.Contains(t, stdout.String(), fmt.Sprintf("ok %s %d\n", filepath.Join(dir, s.name+".hfile"), len(s.kvs)))
	}
	checkHBaseMultiLevel(t, hbaseFile, hbaseEntries)
}

// checkHBaseMultiLevel reads the file HFileCheck.java wrote with HBase's
// writer: a multi-level data index, every entry, Get of every key.
func checkHBaseMultiLevel(t *testing.T, path string, n int) {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.Contains(b, []byte("IDXINTE2")), "HBase wrote a 3-level index")
	r, err := hfile.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	require.Equal(t, int64(n), r.EntryCount())
	value := func(i int) string { return strings.Repeat(fmt.Sprintf("value-%d", i), 1+i%3) }
	i := 0
	for kv, err := range r.All() {
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("key-%08d", i), string(kv.Key))
		require.Equal(t, value(i), string(kv.Value))
		i++
	}
	require.Equal(t, n, i)
	for i := range n {
		v, ok, err := r.Get(fmt.Appendf(nil, "key-%08d", i))
		require.NoError(t, err)
		require.True(t, ok, i)
		require.Equal(t, value(i), string(v))
	}
	require.Equal(t, "multi", string(r.FileInfo()["schema"]))
	m, ok, err := r.MetaBlock("bloomFilter")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "bloom", string(m))
}
