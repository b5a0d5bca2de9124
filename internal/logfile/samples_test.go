package logfile_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/logfile"
	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"
)

var logName = regexp.MustCompile(`^\.(.+)_(.*)\.log\.(\d+)_(\d+-\d+-\d+)$`)

type logFile struct {
	rel, fileID, version string
	data                 []byte
}

// logFiles returns the log files of the table at dir, sorted by path.
func logFiles(t testing.TB, dir string) []logFile {
	t.Helper()
	var out []logFile
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".hoodie" {
			return filepath.SkipDir
		}
		m := logName.FindStringSubmatch(d.Name())
		if d.IsDir() || m == nil {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, logFile{rel: filepath.ToSlash(rel), fileID: m[1], version: m[3], data: data})
		return nil
	}))
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out
}

func readAll(t *testing.T, data []byte) []logfile.Block {
	t.Helper()
	r := logfile.NewReader(bytes.NewReader(data), int64(len(data)))
	var out []logfile.Block
	for b, err := range r.All() {
		require.NoError(t, err)
		out = append(out, b)
		t.Cleanup(b.Release)
	}
	return out
}

// column returns the value of column name in row 0 of the block's first batch.
func column(t *testing.T, b logfile.Block, name string) any {
	t.Helper()
	require.NotEmpty(t, b.Records)
	rec := b.Records[0]
	idx := rec.Schema().FieldIndices(name)
	require.Len(t, idx, 1, name)
	return rec.Column(idx[0]).GetOneForMarshal(0)
}

// rowExpect is what the SQL beside each fixture implies for the one row of
// the data block of log version `version`. The fixtures are generated from
// their SQL, so the instant is named by its place in the table's timeline:
// commit is an index into the completed deltacommits, oldest first, or
// rolledBack for the instant the table's rollback undid.
type rowExpect struct {
	version   string
	commit    int
	key       string
	partition string
	cols      map[string]any
}

func TestSparkSamples(t *testing.T) {
	alice := map[string]any{"id": int32(1), "name": "Alice", "isActive": false, "longField": int64(1234567890)}
	// Each table's second statement that writes (an UPDATE or the second
	// INSERT) updates one row of the first one's base file: a log file.
	want := map[string][]rowExpect{
		"mor/avro/v6_trips_8i1u": {{version: "1", commit: 1,
			key: "9909a8b1-2d15-4d3d-8ec9-efc48c536a00", partition: "city=san_francisco",
			cols: map[string]any{"rider": "rider-D", "driver": "driver-L", "fare": 25.0, "ts": int64(1695046462179), "city": "san_francisco"}}},
		"mor/parquet/v6_nonpartitioned":                           {{version: "1", commit: 1, key: "1", partition: "", cols: alice}},
		"mor/parquet/v6_simplekeygen_nonhivestyle":                {{version: "1", commit: 1, key: "1", partition: "10", cols: alice}},
		"mor/parquet/v6_simplekeygen_nonhivestyle_overwritetable": {{version: "1", commit: 1, key: "1", partition: "10", cols: alice}},
		"mor/parquet/v6_complexkeygen_hivestyle": {{version: "1", commit: 1, key: "id:1,name:Alice",
			partition: "byteField=10/shortField=300", cols: alice}},
		"mor/parquet/v6_nonpartitioned_rollback": {
			// log 1: the second INSERT, rolled back by log 2; log 3: the
			// third INSERT, the second deltacommit left in the timeline.
			{version: "1", commit: rolledBack, key: "1", partition: "", cols: alice},
			{version: "3", commit: 1, key: "2", partition: "",
				cols: map[string]any{"id": int32(2), "name": "Bob", "isActive": true, "longField": int64(9876543210)}},
		},
	}
	seen := 0
	for _, fx := range fixtures.All(t) {
		if fx.Type != "mor" {
			continue
		}
		t.Run(fx.Name, func(t *testing.T) {
			dir := fixtures.Unzip(t, fx.Zip)
			files := logFiles(t, dir)
			exp := want[fx.Name]
			if exp == nil {
				assert.Empty(t, files, "fixture without expectations has log files")
				return
			}
			seen++
			deltas, rollback := completedInstants(t, dir)
			dataBlocks := 0
			for _, lf := range files {
				blocks := readAll(t, lf.data)
				require.Len(t, blocks, 1, lf.rel)
				b := blocks[0]
				assert.Equal(t, int64(0), b.Offset)
				assert.Equal(t, int64(len(lf.data)), b.Size)

				// Every Spark block re-writes byte for byte.
				var buf bytes.Buffer
				n, err := logfile.WriteBlock(&buf, b)
				require.NoError(t, err, lf.rel)
				assert.Equal(t, int64(len(lf.data)), n)
				assert.True(t, bytes.Equal(lf.data, buf.Bytes()), "%s does not re-write byte-exactly", lf.rel)

				// Re-framing the raw content (no decoded records) is byte-exact too.
				raw := logfile.Block{Type: b.Type, Header: b.Header, Footer: b.Footer, Content: b.Content}
				if b.Type == logfile.AvroDataBlock || b.Type == logfile.DeleteBlock || b.Type == logfile.ParquetDataBlock {
					buf.Reset()
					_, err = logfile.WriteBlock(&buf, raw)
					require.NoError(t, err, lf.rel)
					assert.True(t, bytes.Equal(lf.data, buf.Bytes()), "%s raw re-frame differs", lf.rel)
				}

				if b.Type == logfile.CommandBlock {
					// The rollback instant in the timeline wrote it, aimed at
					// the second INSERT: after the first deltacommit, before
					// the rollback, and gone from the timeline.
					require.NotEmpty(t, rollback, "rollback instant in the timeline")
					assert.Equal(t, rollback, b.Header.Value(logfile.InstantTime))
					rolled := b.Header.Value(logfile.TargetInstantTime)
					assert.Regexp(t, `^\d{17}$`, rolled)
					assert.Less(t, deltas[0], rolled)
					assert.Less(t, rolled, rollback)
					assert.NotContains(t, deltas, rolled)
					assert.Equal(t, logfile.RollbackCommand, b.Header.Value(logfile.CommandBlockType))
					assert.Len(t, lf.data, 105)
					assert.Empty(t, b.Content)
					continue
				}
				var e *rowExpect
				for i := range exp {
					if exp[i].version == lf.version {
						e = &exp[i]
					}
				}
				require.NotNil(t, e, lf.rel)
				dataBlocks++
				var instant string
				if e.commit == rolledBack {
					instant = rollbackTarget(t, files)
				} else {
					require.Greater(t, len(deltas), e.commit, "deltacommits %v", deltas)
					instant = deltas[e.commit]
				}
				if fx.LogFormat == "avro" {
					assert.Equal(t, logfile.AvroDataBlock, b.Type)
				} else {
					assert.Equal(t, logfile.ParquetDataBlock, b.Type)
				}
				assert.Equal(t, instant, b.Header.Value(logfile.InstantTime))
				assert.NotEmpty(t, b.Header.Value(logfile.SchemaHeader))
				require.Len(t, b.Records, 1)
				assert.Equal(t, int64(1), b.Records[0].NumRows())
				assert.Equal(t, instant, column(t, b, "_hoodie_commit_time"))
				assert.Equal(t, instant+"_0_", column(t, b, "_hoodie_commit_seqno").(string)[:len(instant)+3])
				assert.Equal(t, e.key, column(t, b, "_hoodie_record_key"))
				assert.Equal(t, e.partition, column(t, b, "_hoodie_partition_path"))
				assert.Equal(t, lf.fileID, column(t, b, "_hoodie_file_name"))
				for k, v := range e.cols {
					assert.Equal(t, v, column(t, b, k), "%s: %s", lf.rel, k)
				}
			}
			assert.Equal(t, len(exp), dataBlocks)
		})
	}
	assert.Equal(t, len(want), seen, "every expected fixture was found")
}

// rolledBack marks a rowExpect whose instant the table's rollback undid.
const rolledBack = -1

// completedInstants returns the completed deltacommits of the table at dir,
// oldest first, and its rollback instant ("" if none).
func completedInstants(t *testing.T, dir string) (deltas []string, rollback string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, ".hoodie"))
	require.NoError(t, err)
	for _, e := range entries {
		if ts, ok := strings.CutSuffix(e.Name(), ".deltacommit"); ok {
			deltas = append(deltas, ts)
		}
		if ts, ok := strings.CutSuffix(e.Name(), ".rollback"); ok {
			require.Empty(t, rollback, "one rollback")
			rollback = ts
		}
	}
	sort.Strings(deltas)
	return deltas, rollback
}

// rollbackTarget returns the target instant of the one rollback command
// block among files.
func rollbackTarget(t *testing.T, files []logFile) string {
	t.Helper()
	var targets []string
	for _, lf := range files {
		r := logfile.NewReader(bytes.NewReader(lf.data), int64(len(lf.data)))
		for b, err := range r.All() {
			require.NoError(t, err)
			if b.Type == logfile.CommandBlock {
				targets = append(targets, b.Header.Value(logfile.TargetInstantTime))
			}
			b.Release()
		}
	}
	require.Len(t, targets, 1, "rollback command blocks")
	return targets[0]
}

// TestSparkAvroBlockSchema checks the Arrow shape of the Avro sample: meta
// fields first, then the table columns, all nullable as Spark writes them.
func TestSparkAvroBlockSchema(t *testing.T) {
	for _, fx := range fixtures.All(t) {
		if fx.Name != "mor/avro/v6_trips_8i1u" {
			continue
		}
		files := logFiles(t, fixtures.Unzip(t, fx.Zip))
		require.Len(t, files, 1)
		b := readAll(t, files[0].data)[0]
		assert.Equal(t, tripsSchema, b.Header.Value(logfile.SchemaHeader), "the schema the §5 delete block example carries")
		sch := b.Records[0].Schema()
		var names []string
		for _, f := range sch.Fields() {
			names = append(names, f.Name)
			assert.True(t, f.Nullable, f.Name)
		}
		assert.Equal(t, []string{"_hoodie_commit_time", "_hoodie_commit_seqno", "_hoodie_record_key",
			"_hoodie_partition_path", "_hoodie_file_name", "ts", "uuid", "rider", "driver", "fare", "city"}, names)
		assert.Equal(t, arrow.PrimitiveTypes.Float64, sch.Field(9).Type)
		assert.IsType(t, &array.Int64{}, b.Records[0].Column(5))
		return
	}
	t.Fatal("fixture mor/avro/v6_trips_8i1u not found")
}
