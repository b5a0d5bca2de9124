package mdtrecord

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/hfile"
	"github.com/hoodie-lake/hoodie/internal/logfile"
)

// The samples in testdata were written by Spark 3.5 + Hudi 0.15.0 with
// default settings (testdata/README.md): the metadata table "files"
// partition of t_mer (all of it) and t_cop (its latest file slice), one
// metadata table deltacommit of each, and the data tables' timeline file
// names and partition listings.

var update = flag.Bool("update", false, "rewrite testdata/samples.golden")

func sampleLogFiles(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob("testdata/t_*/files/.files-*.log.*")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	slices.SortFunc(paths, compareLogPaths)
	return paths
}

func sampleBaseFiles(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob("testdata/t_*/files/*.hfile")
	require.NoError(t, err)
	require.Len(t, paths, 3)
	slices.Sort(paths)
	return paths
}

var logNameRE = regexp.MustCompile(`/\.(.+)_(\d+)\.log\.(\d+)_[^/]+$`)

// compareLogPaths orders log files by directory, file id, base instant and
// version (numerically), the order Hudi reads a file slice's logs in.
func compareLogPaths(a, b string) int {
	ma, mb := logNameRE.FindStringSubmatch(a), logNameRE.FindStringSubmatch(b)
	if ma == nil || mb == nil {
		return strings.Compare(a, b)
	}
	if c := strings.Compare(filepath.Dir(a)+ma[1]+ma[2], filepath.Dir(b)+mb[1]+mb[2]); c != 0 {
		return c
	}
	va, _ := strconv.Atoi(ma[3])
	vb, _ := strconv.Atoi(mb[3])
	return va - vb
}

func readLogBlocks(t *testing.T, path string) []logfile.Block {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	var blocks []logfile.Block
	for b, err := range logfile.NewReader(f, st.Size()).All() {
		require.NoError(t, err, path)
		require.NotEqual(t, logfile.CorruptBlock, b.Type, path)
		blocks = append(blocks, b)
	}
	return blocks
}

func openHFile(t *testing.T, b []byte) *hfile.Reader {
	t.Helper()
	r, err := hfile.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	return r
}

// sampleEntry is one HFile entry of a sample with the name of the file it
// came from.
type sampleEntry struct {
	file    string
	instant string // the log block's INSTANT_TIME; "" in a base file
	key     string
	value   []byte
}

// sampleEntries returns every HFile entry of every sample, log blocks and
// base files.
func sampleEntries(t *testing.T) []sampleEntry {
	t.Helper()
	var out []sampleEntry
	add := func(file, instant string, content []byte) {
		for kv, err := range openHFile(t, content).All() {
			require.NoError(t, err, file)
			out = append(out, sampleEntry{file: file, instant: instant, key: string(kv.Key), value: kv.Value})
		}
	}
	for _, lf := range sampleLogFiles(t) {
		for _, b := range readLogBlocks(t, lf) {
			if b.Type == logfile.HFileDataBlock {
				add(lf, b.Header.Value(logfile.InstantTime), b.Content)
			}
		}
	}
	for _, p := range sampleBaseFiles(t) {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		add(p, "", b)
	}
	return out
}

// TestSampleValues decodes every record of the samples, checks the decode
// against testdata/samples.golden, and re-encodes each value byte for byte
// (in the map order read, with the _hoodie_file_name Hudi's merge handle
// sets in base files).
func TestSampleValues(t *testing.T) {
	var golden strings.Builder
	types := map[int32]int{}
	for _, e := range sampleEntries(t) {
		r, order, err := decodeValue(e.key, e.value)
		require.NoError(t, err, "%s %q", e.file, e.key)
		types[r.Type]++
		fmt.Fprintf(&golden, "%s %s key=%q type=%d\n", strings.TrimPrefix(e.file, "testdata/"), e.instant, r.Key, r.Type)
		for _, name := range slices.Sorted(maps.Keys(r.Files)) {
			fi := r.Files[name]
			fmt.Fprintf(&golden, "  %s size=%d deleted=%v\n", name, fi.Size, fi.Deleted)
		}

		fileName := ""
		if e.instant == "" {
			fileName = filepath.Base(e.file)
		}
		got := encodeValue(r, order)
		if fileName != "" {
			got = withFileName(got, fileName)
		}
		require.Equal(t, e.value, got, "%s %q", e.file, e.key)

		// The public encoder writes the same record (map in key order).
		enc, err := EncodeValue(r)
		require.NoError(t, err)
		back, err := DecodeValue(e.key, enc)
		require.NoError(t, err)
		require.Equal(t, r, back)
		if e.instant != "" {
			require.Len(t, enc, len(e.value))
		}
	}
	require.Equal(t, map[int32]int{TypePartitionList: 19, TypeFiles: 69}, types)

	const goldenPath = "testdata/samples.golden"
	if *update {
		require.NoError(t, os.WriteFile(goldenPath, []byte(golden.String()), 0o644))
	}
	want, err := os.ReadFile(goldenPath)
	require.NoError(t, err)
	require.Equal(t, string(want), golden.String())
}

// TestSampleLatestSliceListsDataFiles merges the latest file slice of each
// sample's metadata table as Hudi's reader does (log records in log order,
// then the base file's under them) and compares the live files per
// partition with the data table's partitions.
//
// The listings (testdata/t_*/listing.txt) hold every file left in the data
// partitions after the samples' last clean, with its size. A listing-based
// reader keeps only files of completed instants: a base file's instant is
// in its name, a log file's base instant too; both are filtered on the
// completed instants of the data timeline (timeline.txt). The instant that
// wrote a log file is not in its name, so this check is approximate for
// logs: it relies on the data timeline having no pending instant, which it
// also checks. The metadata table's log blocks are filtered the same way
// (a block's INSTANT_TIME must be a completed data instant), as Hudi's
// metadata reader does.
func TestSampleLatestSliceListsDataFiles(t *testing.T) {
	for _, table := range []string{"t_mer", "t_cop"} {
		t.Run(table, func(t *testing.T) {
			completed, pending := readTimeline(t, "testdata/"+table+"/timeline.txt")
			require.Empty(t, pending)
			want := readListing(t, "testdata/"+table+"/listing.txt", completed)

			base, logs := latestSlice(t, "testdata/"+table+"/files")
			b, err := os.ReadFile(base)
			require.NoError(t, err)
			baseRecs, err := ReadBaseFile(bytes.NewReader(b), int64(len(b)))
			require.NoError(t, err)

			merged := map[string]Record{}
			for _, lf := range logs {
				for _, blk := range readLogBlocks(t, lf) {
					if blk.Type != logfile.HFileDataBlock {
						continue
					}
					require.True(t, completed[blk.Header.Value(logfile.InstantTime)], lf)
					recs, err := DecodeLogBlockContent(blk.Content)
					require.NoError(t, err)
					for _, r := range recs {
						if old, ok := merged[r.Key]; ok {
							r, err = Merge(old, r)
							require.NoError(t, err)
						}
						merged[r.Key] = r
					}
				}
			}
			for _, r := range baseRecs {
				if newer, ok := merged[r.Key]; ok {
					r, err = Merge(r, newer)
					require.NoError(t, err)
				}
				merged[r.Key] = r
			}

			got := map[string]map[string]int64{}
			partitions := Live(merged[AllPartitionsKey])
			for p := range partitions {
				got[p] = Live(merged[p])
			}
			require.Equal(t, want, got)
		})
	}
}

// latestSlice returns the newest base file of a metadata table partition
// directory and the log files of its slice, in version order.
func latestSlice(t *testing.T, dir string) (string, []string) {
	t.Helper()
	bases, err := filepath.Glob(dir + "/*.hfile")
	require.NoError(t, err)
	require.NotEmpty(t, bases)
	instantOf := func(p string) string {
		name := strings.TrimSuffix(filepath.Base(p), ".hfile")
		return name[strings.LastIndexByte(name, '_')+1:]
	}
	slices.SortFunc(bases, func(a, b string) int { return strings.Compare(instantOf(a), instantOf(b)) })
	base := bases[len(bases)-1]
	logs, err := filepath.Glob(dir + "/.files-0000-0_" + instantOf(base) + ".log.*")
	require.NoError(t, err)
	require.NotEmpty(t, logs)
	slices.SortFunc(logs, compareLogPaths)
	return base, logs
}

// readTimeline returns the completed and pending instants of a list of
// timeline file names.
func readTimeline(t *testing.T, path string) (completed, pending map[string]bool) {
	t.Helper()
	completed, pending = map[string]bool{}, map[string]bool{}
	names := readLines(t, path)
	for _, n := range names {
		ts, rest, _ := strings.Cut(n, ".")
		if !strings.HasSuffix(rest, ".requested") && !strings.HasSuffix(rest, ".inflight") {
			completed[ts] = true
		}
	}
	for _, n := range names {
		ts, _, _ := strings.Cut(n, ".")
		if !completed[ts] {
			pending[ts] = true
		}
	}
	return completed, pending
}

var dataFileInstantRE = regexp.MustCompile(`^(?:[^_]+_[^_]+_(\d+)\.parquet|\.[^_]+_(\d+)\.log\.\d+_.+)$`)

// readListing returns partition -> file -> size for the files of a listing
// whose (base) instant completed.
func readListing(t *testing.T, path string, completed map[string]bool) map[string]map[string]int64 {
	t.Helper()
	out := map[string]map[string]int64{}
	for _, line := range readLines(t, path) {
		f := strings.Fields(line)
		require.Len(t, f, 3, line)
		m := dataFileInstantRE.FindStringSubmatch(f[1])
		require.NotNil(t, m, line)
		if !completed[m[1]+m[2]] {
			continue
		}
		size, err := strconv.ParseInt(f[2], 10, 64)
		require.NoError(t, err)
		if out[f[0]] == nil {
			out[f[0]] = map[string]int64{}
		}
		out[f[0]][f[1]] = size
	}
	return out
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if l := strings.TrimSpace(s.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	require.NoError(t, s.Err())
	return lines
}
