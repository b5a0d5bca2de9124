package keygen_test

import (
	"bufio"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/keygen"
	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"
)

// readProps reads .hoodie/hoodie.properties (Java properties: k=v, "\:"
// escapes).
func readProps(t testing.TB, base string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(base, ".hoodie", "hoodie.properties"))
	require.NoError(t, err)
	props := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			props[k] = strings.ReplaceAll(v, `\:`, ":")
		}
	}
	require.NoError(t, sc.Err())
	return props
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// readColumns reads the named top-level primitive columns of a Parquet file
// into Arrow arrays (INT32 -> int32, INT64 -> int64, BOOLEAN -> bool,
// BYTE_ARRAY -> string), nulls kept.
func readColumns(t testing.TB, f *parquet.File, names []string) []arrow.Array {
	t.Helper()
	type target struct {
		idx  int
		kind parquet.Kind
		b    array.Builder
		seen bool
	}
	targets := make([]*target, len(names))
	for i, n := range names {
		leaf, ok := f.Schema().Lookup(n)
		require.True(t, ok, "column %s", n)
		tg := &target{idx: leaf.ColumnIndex, kind: leaf.Node.Type().Kind()}
		switch tg.kind {
		case parquet.Int32:
			tg.b = array.NewInt32Builder(mem)
		case parquet.Int64:
			tg.b = array.NewInt64Builder(mem)
		case parquet.Boolean:
			tg.b = array.NewBooleanBuilder(mem)
		case parquet.ByteArray:
			tg.b = array.NewStringBuilder(mem)
		default:
			t.Fatalf("column %s: unhandled kind %v", n, tg.kind)
		}
		targets[i] = tg
	}
	for _, rg := range f.RowGroups() {
		rows := rg.Rows()
		buf := make([]parquet.Row, 64)
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				for _, tg := range targets {
					tg.seen = false
				}
				for _, v := range row {
					for _, tg := range targets {
						if v.Column() != tg.idx || tg.seen {
							continue
						}
						tg.seen = true
						if v.IsNull() {
							tg.b.AppendNull()
							continue
						}
						switch b := tg.b.(type) {
						case *array.Int32Builder:
							b.Append(v.Int32())
						case *array.Int64Builder:
							b.Append(v.Int64())
						case *array.BooleanBuilder:
							b.Append(v.Boolean())
						case *array.StringBuilder:
							b.Append(string(v.ByteArray()))
						}
					}
				}
			}
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
		}
		require.NoError(t, rows.Close())
	}
	out := make([]arrow.Array, len(targets))
	for i, tg := range targets {
		out[i] = tg.b.NewArray()
		require.Equal(t, int(f.NumRows()), out[i].Len())
	}
	return out
}

// TestSparkWrittenKeys runs the generator with each sample table's config
// over the data columns of its base files and compares with the
// _hoodie_record_key / _hoodie_partition_path Spark wrote.
func TestSparkWrittenKeys(t *testing.T) {
	checked := 0
	for _, fx := range fixtures.All(t) {
		if strings.Contains(fx.Name, "no_metafields") {
			continue // populate.meta.fields=false: Spark wrote no keys to compare with
		}
		t.Run(fx.Name, func(t *testing.T) {
			base := fixtures.Unzip(t, fx.Zip)
			props := readProps(t, base)
			require.NotEqual(t, "false", props["hoodie.populate.meta.fields"])
			kind, err := keygen.KindFromClass(props["hoodie.table.keygenerator.class"])
			require.NoError(t, err)
			cfg := keygen.Config{
				RecordKeyFields: splitList(props["hoodie.table.recordkey.fields"]),
				PartitionFields: splitList(props["hoodie.table.partition.fields"]),
				Kind:            kind,
				HiveStyle:       props["hoodie.datasource.write.hive_style_partitioning"] == "true",
				URLEncode:       props["hoodie.datasource.write.partitionpath.urlencode"] == "true",
			}
			if kind == keygen.TimestampBased {
				cfg.Timestamp = timestampOptions(props)
				// Hudi 0.15 does not persist the timestamp type; the
				// fixture's SQL sets DATE_STRING.
				require.Empty(t, cfg.Timestamp.Type)
				cfg.Timestamp.Type = keygen.TimestampDateString
			}
			checkPartitions := true
			require.NoError(t, filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
					return err
				}
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
				require.NoError(t, err)
				names := append(append([]string{}, cfg.RecordKeyFields...), cfg.PartitionFields...)
				cols := readColumns(t, f, names)
				meta := readColumns(t, f, []string{"_hoodie_record_key", "_hoodie_partition_path"})
				cs := make([]col, len(names))
				for i := range names {
					cs[i] = col{names[i], cols[i]}
				}
				rec := record(t, cs...)
				g, err := keygen.New(cfg, rec.Schema())
				require.NoError(t, err)
				keys, parts, err := g.Keys(rec)
				require.NoError(t, err)
				wantKeys := meta[0].(*array.String)
				wantParts := meta[1].(*array.String)
				for i := range keys {
					assert.Equal(t, wantKeys.Value(i), keys[i], "%s row %d key", p, i)
					if checkPartitions {
						assert.Equal(t, wantParts.Value(i), parts[i], "%s row %d partition", p, i)
						rel, err := filepath.Rel(base, filepath.Dir(p))
						require.NoError(t, err)
						if rel == "." {
							rel = ""
						}
						assert.Equal(t, filepath.ToSlash(rel), parts[i], "partition matches the file's directory")
					}
				}
				checked++
				return nil
			}))
		})
	}
	t.Logf("checked %d base files", checked)
	require.Positive(t, checked)
}
