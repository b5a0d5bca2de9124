package table_test

import (
	"context"
	"github.com/hoodie-lake/hoodie/filegroup"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/timeline"
	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleExpect is what each sample table's .sql implies for its latest
// snapshot (COW) or read-optimized view (MOR: base files only, log blocks
// are not read here).
type sampleExpect struct {
	completed  int      // completed instants (any action)
	partitions []string // partition paths
	keys       []string // record keys of the latest base files; for tables without meta fields: the id column
	fileGroups int      // visible file groups
}

var alice4 = []string{"1", "2", "3", "4"}
var complexKeys = []string{"id:1,name:Alice", "id:2,name:Bob", "id:3,name:Carol", "id:4,name:Diana"}

// Derived from each table's SQL in testdata/hudi-rs.
var sampleExpectations = map[string]sampleExpect{
	// Two INSERTs: 3 rows, then Alice updated and Diana added in a new partition.
	"cow/v6_complexkeygen_hivestyle": {2, []string{"byteField=10/shortField=300", "byteField=20/shortField=100", "byteField=30/shortField=100"}, complexKeys, 3},
	"cow/v6_empty":                   {0, nil, nil, 0},
	"cow/v6_nonpartitioned":          {2, []string{""}, alice4, 1},
	// One INSERT of 4 rows, meta fields not populated: keys come from id.
	"cow/v6_simplekeygen_hivestyle_no_metafields": {1, []string{"byteField=10", "byteField=20", "byteField=30"}, alice4, 3},
	"cow/v6_simplekeygen_nonhivestyle":            {2, []string{"10", "20", "30"}, alice4, 3},
	// INSERT OVERWRITE TABLE leaves only Diana; the replaced groups are hidden.
	"cow/v6_simplekeygen_nonhivestyle_overwritetable": {3, []string{"10", "20", "30"}, []string{"4"}, 1},
	"cow/v6_timebasedkeygen_nonhivestyle":             {2, []string{"2023/04/01/12", "2023/04/02/12", "2023/04/03/12", "2023/04/04/13"}, alice4, 4},
	// MOR, small-file limit 0: the update of Alice goes to a log file, Diana to a new base file.
	"mor/parquet/v6_complexkeygen_hivestyle": {2, []string{"byteField=10/shortField=300", "byteField=20/shortField=100", "byteField=30/shortField=100"}, complexKeys, 3},
	"mor/parquet/v6_empty":                   {0, nil, nil, 0},
	"mor/parquet/v6_nonpartitioned":          {2, []string{""}, alice4, 2},
	// Second INSERT rolled back; the third (Bob update) went to a log file.
	"mor/parquet/v6_nonpartitioned_rollback":                  {3, []string{""}, []string{"1", "2", "3"}, 1},
	"mor/parquet/v6_simplekeygen_hivestyle_no_metafields":     {1, []string{"byteField=10", "byteField=20", "byteField=30"}, alice4, 3},
	"mor/parquet/v6_simplekeygen_nonhivestyle":                {2, []string{"10", "20", "30"}, alice4, 3},
	"mor/parquet/v6_simplekeygen_nonhivestyle_overwritetable": {3, []string{"10", "20", "30"}, []string{"4"}, 1},
	// 8 inserts over 3 cities, then one UPDATE (a log block): the base files hold all 8 keys.
	"mor/avro/v6_trips_8i1u": {2, []string{"city=chennai", "city=san_francisco", "city=sao_paulo"}, []string{
		"1dced545-862b-4ceb-8b43-d2a568f6616b", "334e26e9-8355-45cc-97c6-c31daf0df330", "3eeb61f7-c2b0-4636-99bd-5d7a5a1d2c04",
		"7a84095f-737f-40bc-b62f-6b69664712d2", "9909a8b1-2d15-4d3d-8ec9-efc48c536a00", "c8abbe79-8d89-47ea-b4ce-4d224bae5bfa",
		"e3cf430c-889d-4015-bc98-59bdce1e530c", "e96c4396-3fad-413a-a942-4cb36106d721"}, 3},
}

// TestSparkWrittenSamples opens every v6 table scripts/fixtures.sh made,
// lists its timeline and file groups, reads the latest base files with
// parquet-go and checks them against what the table's SQL implies.
func TestSparkWrittenSamples(t *testing.T) {
	ctx := context.Background()
	all := fixtures.All(t)
	require.NotEmpty(t, all)
	seen := 0
	for _, fx := range all {
		exp, ok := sampleExpectations[fx.Name]
		if !ok {
			t.Errorf("sample %s has no expectation: add one derived from %s", fx.Name, fx.SQL)
			continue
		}
		seen++
		t.Run(fx.Name, func(t *testing.T) {
			dir := fixtures.Unzip(t, fx.Zip)
			st, err := storage.NewLocal(dir)
			require.NoError(t, err)
			tbl, err := table.Open(ctx, st)
			require.NoError(t, err)

			tl, err := timeline.Load(ctx, st)
			require.NoError(t, err)
			assert.Len(t, tl.Completed(), exp.completed, "completed instants:\n%s", tl)
			assert.Empty(t, tl.Pending())

			view, err := filegroup.BuildView(ctx, st, tl, filegroup.ViewOptions{})
			require.NoError(t, err)
			assert.Equal(t, exp.partitions, view.Partitions())
			assert.Len(t, view.FileGroups(), exp.fileGroups)

			keyCol := "_hoodie_record_key"
			if !tbl.Config().PopulateMetaFields {
				keyCol = "id"
			}
			var keys []string
			for _, bf := range view.LatestBaseFiles() {
				keys = append(keys, readColumnStrings(t, filepath.Join(dir, filepath.FromSlash(bf.Path)), keyCol)...)
			}
			sort.Strings(keys)
			assert.Equal(t, exp.keys, keys)
		})
	}
	assert.Equal(t, len(sampleExpectations), seen, "every expected sample was found")
}

// readColumnStrings reads one top-level column of a Parquet file as strings
// with parquet-go.
func readColumnStrings(t *testing.T, path, column string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	info, err := f.Stat()
	require.NoError(t, err)
	pf, err := parquet.OpenFile(f, info.Size())
	require.NoError(t, err)
	leaf, ok := pf.Schema().Lookup(column)
	require.True(t, ok, "column %s in %s", column, path)
	var out []string
	for _, rg := range pf.RowGroups() {
		pages := rg.ColumnChunks()[leaf.ColumnIndex].Pages()
		for {
			p, err := pages.ReadPage()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			vals := make([]parquet.Value, p.NumValues())
			n, _ := p.Values().ReadValues(vals)
			for _, v := range vals[:n] {
				if v.IsNull() {
					out = append(out, "<null>")
					continue
				}
				switch v.Kind() {
				case parquet.Int32:
					out = append(out, strconv.FormatInt(int64(v.Int32()), 10))
				case parquet.Int64:
					out = append(out, strconv.FormatInt(v.Int64(), 10))
				default:
					out = append(out, v.String())
				}
			}
			parquet.Release(p)
		}
		pages.Close()
	}
	return out
}
