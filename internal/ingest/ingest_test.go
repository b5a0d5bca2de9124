package ingest_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/hoodie-lake/hoodie/internal/ingest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func drain(t *testing.T, r ingest.Reader) (rows []string, lines []int64, bad []ingest.BadRow) {
	t.Helper()
	for {
		b, err := r.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		require.NoError(t, err)
		bad = append(bad, b.Bad...)
		lines = append(lines, b.Lines...)
		if b.Rec == nil {
			continue
		}
		for i := 0; i < int(b.Rec.NumRows()); i++ {
			var cells []string
			for _, c := range b.Rec.Columns() {
				cells = append(cells, c.ValueStr(i))
			}
			rows = append(rows, strings.Join(cells, "|"))
		}
		b.Rec.Release()
	}
}

func TestJSONLInferenceAndBadRows(t *testing.T) {
	in := `{"id":"a","n":1,"x":1.5,"ok":true,"meta":{"k":[1,2]}}

{"id":"b","n":2,"x":2,"ok":false,"meta":null}
not json
{"id":"c","n":"three","x":3,"ok":true}
{"id":"d","n":4.0,"x":4,"ok":true,"extra":"dropped? no: new field seen in sample"}
`
	r, err := ingest.NewJSONL(strings.NewReader(in), "events.jsonl", ingest.Options{BatchRows: 2})
	require.NoError(t, err)
	names := []string{}
	types := []string{}
	for _, f := range r.Schema().Fields() {
		names = append(names, f.Name)
		types = append(types, f.Type.String())
	}
	assert.Equal(t, []string{"id", "meta", "n", "ok", "x", "extra"}, names)
	assert.Equal(t, []string{"utf8", "utf8", "utf8", "bool", "float64", "utf8"}, types,
		"n mixes numbers and a string: string; nested objects are kept as JSON text")
	rows, lines, bad := drain(t, r)
	assert.Equal(t, []string{
		`a|{"k":[1,2]}|1|true|1.5|(null)`,
		`b|(null)|2|false|2|(null)`,
		`c|(null)|three|true|3|(null)`,
		`d|(null)|4.0|true|4|dropped? no: new field seen in sample`,
	}, rows)
	assert.Equal(t, []int64{1, 3, 5, 6}, lines)
	require.Len(t, bad, 1)
	assert.Equal(t, int64(4), bad[0].Line)
	assert.Equal(t, "events.jsonl", bad[0].Source)
	assert.Contains(t, bad[0].Reason, "not a JSON object")
}

func TestJSONLWithSchema(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}, nil)
	in := "{\"id\":\"a\",\"n\":1}\n{\"id\":\"b\",\"n\":\"x\"}\n{\"id\":\"c\",\"n\":99999999999}\n{\"id\":\"d\"}\n"
	r, err := ingest.NewJSONL(strings.NewReader(in), "-", ingest.Options{Schema: sch})
	require.NoError(t, err)
	rows, _, bad := drain(t, r)
	assert.Equal(t, []string{"a|1", "d|(null)"}, rows)
	require.Len(t, bad, 2)
	assert.Equal(t, "n", bad[0].Field)
	assert.Contains(t, bad[0].Reason, "want an integer")
	assert.Contains(t, bad[1].Reason, "does not fit")
}

func TestCSV(t *testing.T) {
	in := "id,n,x,ok,s\na,1,1.5,true,hello\nb,,2,false,\nc,x,3,true,z\n\"d,1\",4\ne,5,5,true,w\n"
	r, err := ingest.NewCSV(strings.NewReader(in), "in.csv", ingest.Options{})
	require.NoError(t, err)
	var types []string
	for _, f := range r.Schema().Fields() {
		types = append(types, f.Type.String())
	}
	assert.Equal(t, []string{"utf8", "utf8", "float64", "bool", "utf8"}, types)
	rows, lines, bad := drain(t, r)
	assert.Equal(t, []string{"a|1|1.5|true|hello", "b|(null)|2|false|(null)", "c|x|3|true|z", "e|5|5|true|w"}, rows)
	assert.Equal(t, []int64{2, 3, 4, 6}, lines)
	require.Len(t, bad, 1)
	assert.Equal(t, int64(5), bad[0].Line)
	assert.Contains(t, bad[0].Reason, "2 fields, the header has 5")

	_, err = ingest.NewCSV(strings.NewReader(""), "empty.csv", ingest.Options{})
	require.ErrorIs(t, err, ingest.ErrSchema)
}

func TestParquet(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"a", "b", "c"}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
	rec := b.NewRecordBatch()
	b.Release()
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(sch, &buf, nil, pqarrow.DefaultWriterProps())
	require.NoError(t, err)
	require.NoError(t, w.Write(rec))
	require.NoError(t, w.Close())
	rec.Release()

	r, err := ingest.NewParquet(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "in.parquet", ingest.Options{BatchRows: 2})
	require.NoError(t, err)
	defer r.Close()
	rows, lines, bad := drain(t, r)
	assert.Equal(t, []string{"a|1", "b|2", "c|3"}, rows)
	assert.Equal(t, []int64{1, 2, 3}, lines)
	assert.Empty(t, bad)
}

// fuzzDrain reads r to the end, checking that every batch's rows and
// source lines agree.
func fuzzDrain(t *testing.T, r ingest.Reader, err error) {
	if err != nil {
		return
	}
	for {
		b, err := r.Next()
		if err != nil {
			return
		}
		if b.Rec != nil {
			if int(b.Rec.NumRows()) != len(b.Lines) {
				t.Fatalf("%d rows, %d lines", b.Rec.NumRows(), len(b.Lines))
			}
			b.Rec.Release()
		}
	}
}

func FuzzJSONL(f *testing.F) {
	f.Add("{\"a\":1}\n{\"a\":\"x\"}\n")
	f.Add("{\"a\":{\"b\":[1,{}]},\"c\":null}\nnull\n[]\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		r, err := ingest.NewJSONL(strings.NewReader(in), "f", ingest.Options{BatchRows: 3})
		fuzzDrain(t, r, err)
	})
}

func FuzzCSV(f *testing.F) {
	f.Add("a,b\n1,2\n\"x\n")
	f.Add("a\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		r, err := ingest.NewCSV(strings.NewReader(in), "f", ingest.Options{BatchRows: 3})
		fuzzDrain(t, r, err)
	})
}

func TestHint(t *testing.T) {
	hint := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	r, err := ingest.NewJSONL(strings.NewReader("{\"n\":1,\"m\":2}\n"), "-", ingest.Options{Hint: hint})
	require.NoError(t, err)
	assert.Equal(t, "utf8", r.Schema().Field(r.Schema().FieldIndices("n")[0]).Type.String(), "the table's type wins")
	assert.Equal(t, "int64", r.Schema().Field(r.Schema().FieldIndices("m")[0]).Type.String(), "a new field is inferred")
	rows, _, _ := drain(t, r)
	assert.Equal(t, []string{"2|1"}, rows)
}
