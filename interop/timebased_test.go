package interop_test

// Hudi's TimestampBasedKeyGenerator (partition path from event time) in
// hoodie and in Spark with Hudi 0.15: Spark-written tables get, row by
// row, the record key and partition path hoodie computes, and a table
// hoodie writes takes Spark upserts (and hoodie's again) without
// duplicates or moved rows.

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/keygen"
	"github.com/hoodie-lake/hoodie/reader"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/hoodie-lake/hoodie/writer"
)

// timebasedCase is a Spark write with a timestamp-based key generator.
type timebasedCase struct {
	name string
	// tsType is the Spark type of the event time column ts.
	tsType string
	hive   bool
	opts   map[string]string // hoodie.keygen.timebased.* (short keys)
	values []any             // ts values (nil = null)
}

func (c timebasedCase) timestampOptions() map[string]any {
	o := map[string]any{}
	for k, v := range c.opts {
		o["hoodie.keygen.timebased."+k] = v
	}
	return o
}

// timebasedMillis are event times around daylight saving transitions,
// midnights in several zones and before the epoch.
func timebasedMillis() []any {
	var out []any
	for _, s := range []string{
		"2024-03-10T09:59:59.999Z", "2024-03-10T10:00:00Z", "2024-11-03T08:30:00Z", "2024-11-03T09:30:00Z",
		"2024-03-31T00:59:59Z", "2024-03-31T01:00:00Z", "2023-12-31T15:00:00Z", "2023-12-31T14:59:59.999Z",
		"2024-02-29T23:59:59.999Z", "1969-12-31T23:59:59.999Z", "1960-06-15T12:00:00Z", "2038-01-19T03:14:08Z",
	} {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		out = append(out, ts.UnixMilli())
	}
	return append(out, nil)
}

func timebasedCases() []timebasedCase {
	millis := timebasedMillis()
	secs := make([]any, 0, len(millis))
	for _, v := range millis {
		if v == nil {
			secs = append(secs, nil)
			continue
		}
		secs = append(secs, int64(math.Floor(float64(v.(int64))/1000)))
	}
	return []timebasedCase{
		{"epochmillis_day_los_angeles_hive", "BIGINT", true, map[string]string{
			"timestamp.type": "EPOCHMILLISECONDS", "output.dateformat": "yyyy-MM-dd", "timezone": "America/Los_Angeles"}, millis},
		{"epochmillis_slashes_tokyo", "BIGINT", false, map[string]string{
			"timestamp.type": "EPOCHMILLISECONDS", "output.dateformat": "yyyy/MM/dd", "timezone": "Asia/Tokyo"}, millis},
		{"unix_hourly_in_out_zones", "BIGINT", false, map[string]string{
			"timestamp.type": "UNIX_TIMESTAMP", "output.dateformat": "yyyyMMddHH", "input.timezone": "UTC",
			"output.timezone": "GMT+05:30"}, secs},
		{"date_string_day_berlin", "STRING", true, map[string]string{
			"timestamp.type": "DATE_STRING", "input.dateformat": "yyyy-MM-dd'T'HH:mm:ss.SSSZ,yyyy-MM-dd HH:mm:ss,yyyyMMdd",
			"output.dateformat": "yyyy-MM-dd", "timezone": "Europe/Berlin"},
			[]any{"2024-03-30T23:30:00.000Z", "2024-03-31T00:30:00.000+0100", "2024-03-31 00:30:00", "2024-03-31 23:59:59",
				"20240101", "2024-12-31T23:00:00.000Z", "2024-06-15T12:00:00.000-07:00", nil}},
	}
}

// timebasedSparkOptions are the write options of a timestamp-based table.
func timebasedSparkOptions(name string, hive bool, ts map[string]any) map[string]any {
	o := map[string]any{
		"hoodie.table.name":                               name,
		"hoodie.datasource.write.table.type":              "COPY_ON_WRITE",
		"hoodie.datasource.write.operation":               "upsert",
		"hoodie.datasource.write.recordkey.field":         "id",
		"hoodie.datasource.write.precombine.field":        "v",
		"hoodie.datasource.write.partitionpath.field":     "ts",
		"hoodie.datasource.write.keygenerator.class":      table.KeyGenTimestampBased,
		"hoodie.datasource.write.hive_style_partitioning": fmt.Sprint(hive),
		"hoodie.metadata.enable":                          "false",
		"hoodie.index.type":                               "BLOOM",
		"hoodie.bloom.index.use.metadata":                 "false",
		"hoodie.upsert.shuffle.parallelism":               "2",
		"hoodie.insert.shuffle.parallelism":               "2",
		"hoodie.datasource.meta.sync.enable":              "false",
		"hoodie.datasource.hive_sync.enable":              "false",
	}
	for k, v := range ts {
		o[k] = v
	}
	return o
}

// tsColumn builds the ts column of Spark's rows as hoodie reads it.
func tsColumn(t *testing.T, sparkType string, vals []any) arrow.Array {
	t.Helper()
	mem := memory.DefaultAllocator
	switch sparkType {
	case "STRING":
		b := array.NewStringBuilder(mem)
		defer b.Release()
		for _, v := range vals {
			if v == nil {
				b.AppendNull()
			} else {
				b.Append(v.(string))
			}
		}
		return b.NewArray()
	default:
		b := array.NewInt64Builder(mem)
		defer b.Release()
		for _, v := range vals {
			switch n := v.(type) {
			case nil:
				b.AppendNull()
			case float64:
				b.Append(int64(n))
			case int64:
				b.Append(n)
			default:
				t.Fatalf("ts value %v (%T)", v, v)
			}
		}
		return b.NewArray()
	}
}

// hoodieKeys computes keys and partition paths with the table's config
// and the timestamp type the test knows (Spark does not record it).
func hoodieKeys(t *testing.T, cfg *table.Config, tsType string, ids []string, ts arrow.Array) (keys, parts []string) {
	t.Helper()
	ib := array.NewStringBuilder(memory.DefaultAllocator)
	defer ib.Release()
	ib.AppendValues(ids, nil)
	idArr := ib.NewArray()
	defer idArr.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.BinaryTypes.String}, {Name: "ts", Type: ts.DataType(), Nullable: true}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{idArr, ts}, int64(len(ids)))
	defer rec.Release()
	kind, err := keygen.KindFromClass(cfg.KeyGeneratorClass())
	require.NoError(t, err)
	opts := keygen.TimestampOptions(cfg.Timestamp)
	if opts.Type == "" {
		opts.Type = tsType
	}
	g, err := keygen.New(keygen.Config{RecordKeyFields: cfg.RecordKeyFields, PartitionFields: cfg.PartitionFields, Kind: kind,
		HiveStyle: cfg.HiveStylePartitioning, URLEncode: cfg.URLEncodePartitioning, Timestamp: opts}, schema)
	require.NoError(t, err)
	keys, parts, err = g.Keys(rec)
	require.NoError(t, err)
	return keys, parts
}

// TestTimebasedSparkWrittenKeys: Spark (Hudi 0.15) writes tables with
// TimestampBasedKeyGenerator; for every row hoodie computes the record key
// and partition path Spark wrote, from hoodie.properties as Spark left it
// (which lacks the timestamp type) plus that type.
func TestTimebasedSparkWrittenKeys(t *testing.T) {
	for _, c := range timebasedCases() {
		t.Run(c.name, func(t *testing.T) {
			base := filepath.Join(t.TempDir(), c.name)
			rows := make([]map[string]any, len(c.values))
			for i, v := range c.values {
				rows[i] = map[string]any{"id": fmt.Sprintf("r%02d", i), "ts": v, "v": int64(1)}
			}
			sparkDo(t, map[string]any{"op": "write", "path": base, "schema": "id STRING, ts " + c.tsType + ", v BIGINT",
				"rows": rows, "options": timebasedSparkOptions(c.name, c.hive, c.timestampOptions()), "mode": "overwrite"})

			st, err := storage.NewLocal(base)
			require.NoError(t, err)
			tbl, err := table.OpenForRead(context.Background(), st)
			require.NoError(t, err)
			cfg := tbl.Config()
			assert.Equal(t, table.KeyGenTimestampBased, cfg.KeyGenerator)
			assert.Empty(t, cfg.Timestamp.Type, "Hudi 0.15 does not record the timestamp type")
			assert.Equal(t, c.opts["output.dateformat"], cfg.Timestamp.OutputDateFormat)
			assert.Equal(t, c.opts["timezone"], cfg.Timestamp.Timezone)
			assert.Equal(t, c.opts["input.dateformat"], cfg.Timestamp.InputDateFormat)

			// The meta columns Spark wrote, as stored in its files (Spark's
			// own read replaces ts by the partition path's text, or fails
			// to cast it back to a number: Hudi 0.15's reader does not
			// invert the key generator).
			got := oursWith(t, tbl, reader.Options{})
			require.Len(t, got, len(c.values))
			sort.Slice(got, func(i, j int) bool { return got[i]["id"].(string) < got[j]["id"].(string) })
			ids := make([]string, len(got))
			vals := make([]any, len(got))
			for i, r := range got {
				ids[i], vals[i] = r["id"].(string), r["ts"]
				want := c.values[i]
				if n, ok := want.(int64); ok {
					want = float64(n)
				}
				require.Equal(t, want, r["ts"], "row %s: the event time as written", ids[i])
			}
			ts := tsColumn(t, c.tsType, vals)
			defer ts.Release()
			keys, parts := hoodieKeys(t, cfg, c.opts["timestamp.type"], ids, ts)
			var paths []string
			for i, r := range got {
				assert.Equal(t, r["_hoodie_record_key"], keys[i], "row %s key", ids[i])
				assert.Equal(t, r["_hoodie_partition_path"], parts[i], "row %s (ts %v) partition path", ids[i], r["ts"])
				paths = append(paths, parts[i])
			}
			// The files are in those directories.
			sort.Strings(paths)
			assert.Equal(t, slices.Compact(paths), partitionsOf(t, tbl))
		})
	}
}

// TestTimebasedSparkUpsertsHoodieTable: hoodie creates and writes a table
// partitioned by event time (epoch millis, yyyy/MM/dd, New York time);
// Spark reads it and upserts updates and new rows, hoodie upserts again:
// every key once, in the partition of its event time, the latest value.
func TestTimebasedSparkUpsertsHoodieTable(t *testing.T) {
	ctx := context.Background()
	ts := table.TimestampKeyGen{Type: "EPOCHMILLISECONDS", OutputDateFormat: "yyyy/MM/dd", Timezone: "America/New_York"}
	tbl, base := newTable(t, table.CreateOptions{Name: "tb_events", RecordKeyFields: []string{"id"}, PrecombineField: "v",
		PartitionFields: []string{"ts"}, Timestamp: ts})
	start := time.Date(2024, 3, 9, 20, 0, 0, 0, time.UTC).UnixMilli()
	const n = 120
	tsOf := func(i int) int64 { return start + int64(i)*int64(47*time.Minute/time.Millisecond) }
	model := map[string]int64{} // id -> v
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.BinaryTypes.String}, {Name: "ts", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	hoodieUpsert := func(w *writer.Writer, ids []int, v int64) {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		defer b.Release()
		for _, i := range ids {
			b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("e%03d", i))
			b.Field(1).(*array.Int64Builder).Append(tsOf(i))
			b.Field(2).(*array.Int64Builder).Append(v)
			model[fmt.Sprintf("e%03d", i)] = v
		}
		rec := b.NewRecordBatch()
		defer rec.Release()
		require.NoError(t, w.Upsert(rec))
		_, err := w.Commit(ctx)
		require.NoError(t, err)
	}
	indexDir := t.TempDir()
	w := openSharedWriter(t, tbl, indexDir)
	var first []int
	for i := range n {
		first = append(first, i)
	}
	hoodieUpsert(w, first, 1)
	require.NoError(t, w.Close())

	// Spark: updates of every third row, and new rows.
	var rows []map[string]any
	for i := 0; i < n+30; i += 3 {
		id := fmt.Sprintf("e%03d", i)
		rows = append(rows, map[string]any{"id": id, "ts": tsOf(i), "v": int64(2)})
		model[id] = 2
	}
	tsOpts := map[string]any{table.KeyTimestampType: ts.Type, table.KeyTimestampOutputDateFormat: ts.OutputDateFormat,
		table.KeyTimestampTimezone: ts.Timezone}
	opts := timebasedSparkOptions("tb_events", false, tsOpts)
	opts["hoodie.database.name"] = tbl.Config().Database
	opts["hoodie.datasource.write.payload.class"] = tbl.Config().PayloadClass
	sparkDo(t, map[string]any{"op": "write", "path": base, "schema": "id STRING, ts BIGINT, v BIGINT", "rows": rows,
		"options": opts, "mode": "append"})

	// hoodie again: updates of Spark's new rows and of hoodie's.
	require.NoError(t, tbl.Refresh(ctx))
	w = openSharedWriter(t, tbl, indexDir)
	hoodieUpsert(w, []int{1, 2, 121, 126, 147}, 3)
	require.NoError(t, w.Close())

	st, err := storage.NewLocal(base)
	require.NoError(t, err)
	reopened, err := table.Open(ctx, st)
	require.NoError(t, err)
	assert.Equal(t, ts, reopened.Config().Timestamp, "hoodie.properties keeps the key generator's settings after Spark's writes")

	check := func(who string, got []map[string]any) {
		t.Helper()
		require.Len(t, got, len(model), "%s: rows (no duplicates)", who)
		seen := map[string]bool{}
		for _, r := range got {
			id := r["id"].(string)
			require.False(t, seen[id], "%s: %s twice", who, id)
			seen[id] = true
			var i int
			_, err := fmt.Sscanf(id, "e%03d", &i)
			require.NoError(t, err)
			day := time.UnixMilli(tsOf(i)).In(mustZone(t, "America/New_York")).Format("2006/01/02")
			assert.Equal(t, day, r["_hoodie_partition_path"], "%s: %s partition", who, id)
			assert.EqualValues(t, model[id], r["v"], "%s: %s value", who, id)
		}
	}
	check("spark", rowsOf(t, sparkDo(t, map[string]any{"op": "read", "path": base, "query": "snapshot"})))
	require.NoError(t, reopened.Refresh(ctx))
	check("hoodie", oursWith(t, reopened, reader.Options{}))
	assert.Contains(t, strings.Join(partitionsOf(t, reopened), " "), "2024/03/10")
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// partitionsOf lists the table's partition paths in its latest view,
// sorted.
func partitionsOf(t *testing.T, tbl *table.Table) []string {
	t.Helper()
	v, err := tbl.View(context.Background())
	require.NoError(t, err)
	p := v.Partitions()
	sort.Strings(p)
	return p
}

// TestTimebasedSparkTimestampAndDate: Spark tables partitioned by a
// TIMESTAMP column (SCALAR, MICROSECONDS: Hudi reads Spark's timestamps as
// epoch microseconds) and by a DATE column (SCALAR, DAYS: epoch days),
// written through the datasource from a Parquet file (Spark SQL's INSERT
// fails on such tables in Hudi 0.15: its SqlKeyGenerator parses the
// formatted path as a number); hoodie computes the paths Spark wrote from
// the Arrow timestamp and date columns.
func TestTimebasedSparkTimestampAndDate(t *testing.T) {
	mem := memory.DefaultAllocator
	micros := func(s string) arrow.Timestamp {
		ts, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return arrow.Timestamp(ts.UnixMicro())
	}
	for _, c := range []struct {
		name, unit, out string
		col             func() arrow.Array
	}{
		{"timestamp", "MICROSECONDS", "yyyy-MM-dd-HH", func() arrow.Array {
			b := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
			defer b.Release()
			for _, v := range []string{"2024-03-10T18:45:00.123456Z", "2024-03-10T18:15:00Z", "1969-12-31T23:59:59.999999Z", "2024-12-31T18:30:00Z"} {
				b.Append(micros(v))
			}
			b.AppendNull()
			return b.NewArray()
		}},
		{"date", "DAYS", "yyyy/MM/dd", func() arrow.Array {
			b := array.NewDate32Builder(mem)
			defer b.Release()
			b.AppendValues([]arrow.Date32{19792, -3653, 19782, 0}, nil)
			b.AppendNull()
			return b.NewArray()
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			col := c.col()
			defer col.Release()
			ib := array.NewStringBuilder(mem)
			defer ib.Release()
			vb := array.NewInt64Builder(mem)
			defer vb.Release()
			for i := range col.Len() {
				ib.Append(fmt.Sprintf("r%d", i))
				vb.Append(1)
			}
			ids, vs := ib.NewArray(), vb.NewArray()
			defer ids.Release()
			defer vs.Release()
			schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
				{Name: "ts", Type: col.DataType(), Nullable: true}, {Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
			rec := array.NewRecordBatch(schema, []arrow.Array{ids, col, vs}, int64(col.Len()))
			defer rec.Release()
			in := filepath.Join(t.TempDir(), "in.parquet")
			f, err := os.Create(in)
			require.NoError(t, err)
			tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
			defer tbl.Release()
			// WriteTable closes f.
			require.NoError(t, pqarrow.WriteTable(tbl, f, 1024, nil, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())))

			base := filepath.Join(t.TempDir(), "tb_"+c.name)
			opts := timebasedSparkOptions("tb_"+c.name, true, map[string]any{
				table.KeyTimestampType: "SCALAR", table.KeyTimestampScalarTimeUnit: c.unit,
				table.KeyTimestampOutputDateFormat: c.out, table.KeyTimestampTimezone: "Asia/Kolkata"})
			sparkDo(t, map[string]any{"op": "write", "path": base, "parquet": in, "options": opts, "mode": "overwrite"})

			st, err := storage.NewLocal(base)
			require.NoError(t, err)
			ht, err := table.OpenForRead(context.Background(), st)
			require.NoError(t, err)
			recs, err := reader.ReadAll(context.Background(), ht, reader.Options{})
			require.NoError(t, err)
			cfg := ht.Config()
			n := 0
			for _, rec := range recs {
				kind, err := keygen.KindFromClass(cfg.KeyGeneratorClass())
				require.NoError(t, err)
				kopts := keygen.TimestampOptions(cfg.Timestamp)
				kopts.Type = "SCALAR" // not recorded by Spark
				g, err := keygen.New(keygen.Config{RecordKeyFields: cfg.RecordKeyFields, PartitionFields: cfg.PartitionFields,
					Kind: kind, HiveStyle: cfg.HiveStylePartitioning, Timestamp: kopts}, rec.Schema())
				require.NoError(t, err)
				keys, parts, err := g.Keys(rec)
				require.NoError(t, err)
				col := func(name string) *array.String {
					i := rec.Schema().FieldIndices(name)
					require.Len(t, i, 1)
					return rec.Column(i[0]).(*array.String)
				}
				wantKeys, wantParts := col("_hoodie_record_key"), col("_hoodie_partition_path")
				tsCol := rec.Column(rec.Schema().FieldIndices("ts")[0])
				for i := range keys {
					assert.Equal(t, wantKeys.Value(i), keys[i])
					assert.Equal(t, wantParts.Value(i), parts[i], "row %s (%s %s)", keys[i], tsCol.DataType(), tsCol.ValueStr(i))
					n++
				}
				rec.Release()
			}
			require.Equal(t, col.Len(), n)
		})
	}
}
