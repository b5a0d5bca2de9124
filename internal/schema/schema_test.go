package schema_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readProps loads a Java properties file (only the escapes Hudi uses).
func readProps(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	props := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		r := strings.NewReplacer(`\:`, ":", `\=`, "=", `\\`, `\`)
		props[k] = r.Replace(v)
	}
	require.NoError(t, sc.Err())
	return props
}

type sampleSchemas struct {
	table  string
	create string
	commit map[string]string // instant file -> extraMetadata.schema
}

func loadSampleSchemas(t *testing.T, zipPath string) sampleSchemas {
	dir := fixtures.Unzip(t, zipPath)
	props := readProps(t, filepath.Join(dir, ".hoodie", "hoodie.properties"))
	s := sampleSchemas{table: props["hoodie.table.name"], create: props["hoodie.table.create.schema"], commit: map[string]string{}}
	ents, err := os.ReadDir(filepath.Join(dir, ".hoodie"))
	require.NoError(t, err)
	for _, e := range ents {
		n := e.Name()
		if !(strings.HasSuffix(n, ".commit") || strings.HasSuffix(n, ".deltacommit") || strings.HasSuffix(n, ".replacecommit")) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, ".hoodie", n))
		require.NoError(t, err)
		var md struct {
			ExtraMetadata map[string]string `json:"extraMetadata"`
		}
		require.NoError(t, json.Unmarshal(data, &md), n)
		if sch := md.ExtraMetadata["schema"]; sch != "" {
			s.commit[n] = sch
		}
	}
	return s
}

// TestSampleSchemas parses every Spark-written schema, goes through Arrow and
// back, and checks the result is the same schema — byte for byte for the
// commit schemas, which Spark writes in the form AvroJSON produces.
func TestSampleSchemas(t *testing.T) {
	var commits int
	for _, z := range fixtures.Zips(t) {
		t.Run(filepath.Base(filepath.Dir(z))+"/"+filepath.Base(z), func(t *testing.T) {
			s := loadSampleSchemas(t, z)
			require.NotEmpty(t, s.table)
			require.NotEmpty(t, s.create)

			created, err := schema.ParseAvro([]byte(s.create))
			require.NoError(t, err)
			name, ns := schema.RecordNameFor(s.table)
			assert.Equal(t, name, created.Name)
			assert.Equal(t, ns, created.Namespace)
			back, err := schema.FromArrow(created.ToArrow(), s.table)
			require.NoError(t, err)
			assert.Equal(t, created, back, "create schema through Arrow")

			for file, js := range s.commit {
				commits++
				parsed, err := schema.ParseAvro([]byte(js))
				require.NoError(t, err, file)
				assert.Equal(t, created, parsed, "%s: commit schema differs from create schema", file)
				back, err := schema.FromArrow(parsed.ToArrow(), s.table)
				require.NoError(t, err)
				assert.Equal(t, js, back.AvroJSON(), file)
			}
		})
	}
	assert.Positive(t, commits)
}

func TestComplexSchemaShape(t *testing.T) {
	var z string
	for _, p := range fixtures.Zips(t) {
		if strings.HasSuffix(p, filepath.Join("cow", "v6_complexkeygen_hivestyle.zip")) {
			z = p
		}
	}
	require.NotEmpty(t, z)
	s := loadSampleSchemas(t, z)
	sch, err := schema.ParseAvro([]byte(s.create))
	require.NoError(t, err)
	as := sch.ToArrow()

	get := func(name string) arrow.DataType {
		fs, ok := as.FieldsByName(name)
		require.True(t, ok, name)
		assert.True(t, fs[0].Nullable, name)
		return fs[0].Type
	}
	assert.Equal(t, arrow.PrimitiveTypes.Int32, get("id"))
	assert.Equal(t, arrow.BinaryTypes.String, get("name"))
	assert.Equal(t, &arrow.Decimal128Type{Precision: 10, Scale: 5}, get("decimalField"))
	assert.Equal(t, arrow.FixedWidthTypes.Date32, get("dateField"))
	assert.Equal(t, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, get("timestampField"))
	assert.Equal(t, arrow.BinaryTypes.Binary, get("binaryField"))
	lt := get("arrayField").(*arrow.ListType)
	assert.True(t, lt.ElemField().Nullable)
	assert.Equal(t, "arr_struct_f1", lt.Elem().(*arrow.StructType).Field(0).Name)
	mt := get("mapField").(*arrow.MapType)
	assert.Equal(t, arrow.BinaryTypes.String, mt.KeyType())
	assert.Equal(t, arrow.PrimitiveTypes.Float64, mt.ItemType().(*arrow.StructType).Field(0).Type)
	st := get("structField").(*arrow.StructType)
	assert.Equal(t, "child_struct", st.Field(2).Name)

	// The decimal's fixed and the nested records carry Spark's names.
	dec, _ := sch.Field("decimalField")
	assert.Equal(t, "fixed", dec.Type.Name)
	assert.Equal(t, "hoodie.v6_complexkeygen_hivestyle.v6_complexkeygen_hivestyle_record.decimalField", dec.Type.Namespace)
	assert.Equal(t, 5, dec.Type.Size)
	sf, _ := sch.Field("structField")
	assert.Equal(t, "hoodie.v6_complexkeygen_hivestyle.v6_complexkeygen_hivestyle_record.structField", sf.Type.Fields[2].Type.Namespace)
}

func TestFromArrowTypes(t *testing.T) {
	as := arrow.NewSchema([]arrow.Field{
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64},
		{Name: "f", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "d", Type: &arrow.Decimal128Type{Precision: 38, Scale: 2}, Nullable: true},
		{Name: "ts_ns", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}, Nullable: true},
		{Name: "ts_ms", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "Europe/Paris"}, Nullable: true},
		{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
		{Name: "m", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.StructOf(arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int32})), Nullable: true},
	}, nil)
	s, err := schema.FromArrow(as, "events")
	require.NoError(t, err)
	assert.Equal(t, "events_record", s.Name)
	assert.Equal(t, "hoodie.events", s.Namespace)
	want := `{"type":"record","name":"events_record","namespace":"hoodie.events","fields":[` +
		`{"name":"b","type":"boolean"},` +
		`{"name":"i8","type":["null","int"],"default":null},` +
		`{"name":"i16","type":["null","int"],"default":null},` +
		`{"name":"i64","type":"long"},` +
		`{"name":"f","type":["null","float"],"default":null},` +
		`{"name":"s","type":["null","string"],"default":null},` +
		`{"name":"bin","type":["null","bytes"],"default":null},` +
		`{"name":"d","type":["null",{"type":"fixed","name":"fixed","namespace":"hoodie.events.events_record.d","size":16,"logicalType":"decimal","precision":38,"scale":2}],"default":null},` +
		`{"name":"ts_ns","type":["null",{"type":"long","logicalType":"timestamp-micros"}],"default":null},` +
		`{"name":"ts_ms","type":["null",{"type":"long","logicalType":"timestamp-millis"}],"default":null},` +
		`{"name":"l","type":["null",{"type":"array","items":["null","long"]}],"default":null},` +
		`{"name":"m","type":["null",{"type":"map","values":["null",{"type":"record","name":"m","namespace":"hoodie.events.events_record","fields":[{"name":"x","type":"int"}]}]}],"default":null}]}`
	assert.Equal(t, want, s.AvroJSON())

	// The JSON is valid and parses back to the same model.
	back, err := schema.ParseAvro([]byte(s.AvroJSON()))
	require.NoError(t, err)
	assert.Equal(t, s, back)

	withMeta := s.WithMetaFieldsJSON()
	assert.True(t, strings.HasPrefix(withMeta, `{"type":"record","name":"events_record","namespace":"hoodie.events","fields":[{"name":"_hoodie_commit_time","type":["null","string"],"doc":"","default":null},{"name":"_hoodie_commit_seqno"`), withMeta)
	parsedMeta, err := schema.ParseAvro([]byte(withMeta))
	require.NoError(t, err)
	assert.Equal(t, s, parsedMeta, "meta fields are dropped when parsing")
	assert.Equal(t, 5+len(s.Fields), s.ToArrowWithMeta().NumFields())

	// Round trip through Arrow: lossy only where documented.
	rt := s.ToArrow()
	assert.Equal(t, arrow.PrimitiveTypes.Int32, rt.Field(1).Type)
	assert.Equal(t, arrow.BinaryTypes.String, rt.Field(5).Type)
	assert.Equal(t, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, rt.Field(8).Type)
	assert.Equal(t, &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, rt.Field(9).Type)
	assert.False(t, rt.Field(0).Nullable)
}

func TestFromArrowErrors(t *testing.T) {
	for name, dt := range map[string]arrow.DataType{
		"int map key": arrow.MapOf(arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int32),
		"uint64":      arrow.PrimitiveTypes.Uint64,
		"dictionary":  &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String},
	} {
		_, err := schema.FromArrow(arrow.NewSchema([]arrow.Field{{Name: "x", Type: dt}}, nil), "t")
		assert.ErrorIs(t, err, schema.ErrUnsupportedType, name)
	}
	_, err := schema.FromArrow(arrow.NewSchema([]arrow.Field{{Name: "_hoodie_record_key", Type: arrow.BinaryTypes.String}}, nil), "t")
	assert.ErrorIs(t, err, schema.ErrInvalid)
	_, err = schema.ParseAvro([]byte(`{"type":"record","name":"r","fields":[{"name":"u","type":["int","string"]}]}`))
	assert.ErrorIs(t, err, schema.ErrUnsupportedType)
	_, err = schema.ParseAvro([]byte(`{"type":"record"`))
	assert.ErrorIs(t, err, schema.ErrInvalid)
}

func TestParseNamedReference(t *testing.T) {
	js := `{"type":"record","name":"r","namespace":"ns","fields":[
		{"name":"a","type":["null",{"type":"record","name":"P","fields":[{"name":"x","type":"int"}]}],"default":null},
		{"name":"b","type":"P"}]}`
	s, err := schema.ParseAvro([]byte(js))
	require.NoError(t, err)
	a, _ := s.Field("a")
	b, _ := s.Field("b")
	assert.True(t, a.Type.Nullable)
	assert.False(t, b.Type.Nullable)
	assert.Equal(t, schema.Record, b.Type.Kind)
	// Emitted JSON defines P once and references it afterwards.
	out := s.AvroJSON()
	assert.Equal(t, 1, strings.Count(out, `"name":"P"`), out)
	assert.Contains(t, out, `{"name":"b","type":"ns.P"}`)
	back, err := schema.ParseAvro([]byte(out))
	require.NoError(t, err)
	assert.Equal(t, s, back)
}

func TestMinBytesForPrecision(t *testing.T) {
	// Spark's DecimalType precision -> FIXED size table.
	want := map[int]int{1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 9: 4, 10: 5, 18: 8, 19: 9, 28: 12, 38: 16}
	for p, n := range want {
		assert.Equal(t, n, schema.MinBytesForPrecision(p), "precision %d", p)
	}
}

func mustSchema(t *testing.T, fields ...arrow.Field) *schema.Schema {
	t.Helper()
	s, err := schema.FromArrow(arrow.NewSchema(fields, nil), "t")
	require.NoError(t, err)
	return s
}

func TestEvolve(t *testing.T) {
	i32 := arrow.PrimitiveTypes.Int32
	i64 := arrow.PrimitiveTypes.Int64
	f32 := arrow.PrimitiveTypes.Float32
	f64 := arrow.PrimitiveTypes.Float64
	str := arrow.BinaryTypes.String
	nested := func(dt arrow.DataType) arrow.DataType {
		return arrow.StructOf(arrow.Field{Name: "a", Type: dt, Nullable: true})
	}
	old := mustSchema(t,
		arrow.Field{Name: "id", Type: i64},
		arrow.Field{Name: "n", Type: i32, Nullable: true},
		arrow.Field{Name: "f", Type: f32, Nullable: true},
		arrow.Field{Name: "gone", Type: str, Nullable: true},
		arrow.Field{Name: "s", Type: nested(i32), Nullable: true},
	)

	t.Run("add widen and keep", func(t *testing.T) {
		next := mustSchema(t,
			arrow.Field{Name: "extra", Type: str, Nullable: true},
			arrow.Field{Name: "id", Type: i64},
			arrow.Field{Name: "n", Type: i64, Nullable: true},
			arrow.Field{Name: "f", Type: f64, Nullable: true},
			arrow.Field{Name: "s", Type: arrow.StructOf(
				arrow.Field{Name: "a", Type: f64, Nullable: true},
				arrow.Field{Name: "b", Type: str, Nullable: true}), Nullable: true},
		)
		merged, err := schema.Evolve(old, next)
		require.NoError(t, err)
		var names []string
		for _, f := range merged.Fields {
			names = append(names, f.Name)
		}
		assert.Equal(t, []string{"id", "n", "f", "gone", "s", "extra"}, names)
		n, _ := merged.Field("n")
		assert.Equal(t, schema.Long, n.Type.Kind)
		f, _ := merged.Field("f")
		assert.Equal(t, schema.Double, f.Type.Kind)
		s, _ := merged.Field("s")
		require.Len(t, s.Type.Fields, 2)
		assert.Equal(t, schema.Double, s.Type.Fields[0].Type.Kind)
		assert.Equal(t, "s", s.Type.Name)
		assert.Equal(t, old.Name, merged.Name)
	})

	t.Run("int to double", func(t *testing.T) {
		_, err := schema.Evolve(old, mustSchema(t, arrow.Field{Name: "id", Type: i64}, arrow.Field{Name: "n", Type: f64, Nullable: true}))
		require.NoError(t, err)
	})

	for name, tc := range map[string]struct {
		next   *schema.Schema
		field  string
		reason string
	}{
		"narrowing": {mustSchema(t, arrow.Field{Name: "id", Type: i32}), `"id"`, "narrowing"},
		"changed": {mustSchema(t, arrow.Field{Name: "id", Type: i64},
			arrow.Field{Name: "n", Type: str, Nullable: true}), `"n"`, "type changed"},
		"nested narrowing": {mustSchema(t, arrow.Field{Name: "id", Type: i64},
			arrow.Field{Name: "s", Type: nested(str), Nullable: true}), `"s.a"`, "type changed"},
		"removed non-null": {mustSchema(t, arrow.Field{Name: "n", Type: i32, Nullable: true}), `"id"`, "non-null field removed"},
		"added non-null":   {mustSchema(t, arrow.Field{Name: "id", Type: i64}, arrow.Field{Name: "z", Type: i64}), `"z"`, "not nullable"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := schema.Evolve(old, tc.next)
			require.ErrorIs(t, err, schema.ErrIncompatible)
			assert.Contains(t, err.Error(), tc.field)
			assert.Contains(t, err.Error(), tc.reason)
		})
	}
}
