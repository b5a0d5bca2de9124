package ingest_test

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/internal/ingest"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// positions drains r and returns, per good row, "line@end", and the
// final position.
func positions(t *testing.T, r ingest.Reader) ([]string, ingest.Position) {
	t.Helper()
	var out []string
	for {
		b, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, r.Position()
		}
		require.NoError(t, err)
		require.Len(t, b.Ends, len(b.Lines))
		for i, l := range b.Lines {
			out = append(out, strings.Join([]string{itoa(l), itoa(b.Ends[i])}, "@"))
		}
		if b.Rec != nil {
			b.Rec.Release()
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestJSONArray reads a pretty-printed JSON array: rows carry the line
// their object starts on and the offset past it; white space after the
// array is fine, data after it is an error naming the line.
func TestJSONArray(t *testing.T) {
	in := "[\n  {\n    \"id\": 1,\n    \"ts\": 1\n  },\n  {\"id\": 2, \"ts\": 1}, 3,\n  {\"id\": 4, \"ts\": 2}\n]\n"
	r, err := ingest.NewJSONL(strings.NewReader(in), "a.json", ingest.Options{BatchRows: 2})
	require.NoError(t, err)
	rows, lines, bad := drain(t, r)
	assert.Equal(t, []string{"1|1", "2|1", "4|2"}, rows)
	assert.Equal(t, []int64{2, 6, 7}, lines)
	require.Len(t, bad, 1)
	assert.Equal(t, int64(6), bad[0].Line)
	assert.Contains(t, bad[0].Reason, "not a JSON object")

	r, err = ingest.NewJSONL(strings.NewReader(in), "a.json", ingest.Options{})
	require.NoError(t, err)
	pos, end := positions(t, r)
	assert.Equal(t, []string{"2@34", "6@56", "7@81"}, pos)
	assert.Equal(t, "}", in[33:34])
	assert.Equal(t, int64(len(in)), end.Offset)
	assert.Equal(t, int64(8), end.Line)

	for _, c := range []struct{ in, want string }{
		{"[{\"id\":1},\n{\"id\":", "a.json line 2: JSON array: unexpected EOF"},
		{"[{\"id\":1}]\n{\"id\":2}\n", "a.json line 2: JSON array"},
		{"[{\"id\":1},\n\n x]", "a.json line 3: JSON array: invalid character 'x'"},
	} {
		r, err := ingest.NewJSONL(strings.NewReader(c.in), "a.json", ingest.Options{})
		if err == nil {
			for err == nil {
				_, err = r.Next()
			}
		}
		require.Error(t, err, c.in)
		assert.Contains(t, err.Error(), c.want, c.in)
	}
}

// TestEmptyInputs: no byte, only white space, an empty array, or a CSV
// without a header row are ErrEmpty (an ErrSchema).
func TestEmptyInputs(t *testing.T) {
	for _, in := range []string{"", "\n\n  \n", "[]", " [ ]\n"} {
		_, err := ingest.NewJSONL(strings.NewReader(in), "e.jsonl", ingest.Options{})
		assert.ErrorIs(t, err, ingest.ErrEmpty, "%q", in)
		assert.ErrorIs(t, err, ingest.ErrSchema, "%q", in)
	}
	for _, in := range []string{"", "\n\n"} {
		_, err := ingest.NewCSV(strings.NewReader(in), "e.csv", ingest.Options{})
		assert.ErrorIs(t, err, ingest.ErrEmpty, "%q", in)
	}
	_, err := ingest.NewJSONL(strings.NewReader("nope\n"), "e.jsonl", ingest.Options{})
	assert.ErrorIs(t, err, ingest.ErrSchema)
	assert.NotErrorIs(t, err, ingest.ErrEmpty, "lines that are not objects are not empty")
}

// TestPositions: JSON Lines and CSV rows end where their bytes end (CRLF
// and blank lines included); at EOF the position is the input's length.
func TestPositions(t *testing.T) {
	jl := "{\"a\":1}\r\n\n{\"a\":2}\nbad\n{\"a\":3}"
	r, err := ingest.NewJSONL(strings.NewReader(jl), "x.jsonl", ingest.Options{BatchRows: 1})
	require.NoError(t, err)
	pos, end := positions(t, r)
	assert.Equal(t, []string{"1@9", "3@18", "5@29"}, pos)
	assert.Equal(t, ingest.Position{Line: 5, Offset: int64(len(jl))}, end)

	cs := "id,v\r\n1,\"a\nb\"\n\n2,c\n3,d\n\n"
	r, err = ingest.NewCSV(strings.NewReader(cs), "x.csv", ingest.Options{BatchRows: 2})
	require.NoError(t, err)
	pos, end = positions(t, r)
	assert.Equal(t, []string{"2@14", "5@19", "6@23"}, pos, "a record's line is where it starts")
	assert.Equal(t, int64(len(cs)), end.Offset)
	assert.Equal(t, int64(6), end.Line)
}

// TestDecompress reads gzip (multi-member too) and zstd by their magic
// bytes; other input passes through.
func TestDecompress(t *testing.T) {
	var gz bytes.Buffer
	for _, part := range []string{"{\"a\":1}\n", "{\"a\":2}\n"} {
		zw := gzip.NewWriter(&gz)
		_, _ = zw.Write([]byte(part))
		require.NoError(t, zw.Close())
	}
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	zs := enc.EncodeAll([]byte("id\n1\n"), nil)
	enc.Close()
	for _, c := range []struct {
		in   []byte
		c    ingest.Compression
		want string
	}{
		{gz.Bytes(), ingest.Gzip, "{\"a\":1}\n{\"a\":2}\n"},
		{zs, ingest.Zstd, "id\n1\n"},
		{[]byte("plain"), ingest.Uncompressed, "plain"},
		{nil, ingest.Uncompressed, ""},
	} {
		rc, comp, err := ingest.Decompress(bytes.NewReader(c.in))
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		assert.Equal(t, c.c, comp)
		assert.Equal(t, c.want, string(b))
	}
	for p, want := range map[string]ingest.Format{"a.jsonl.gz": ingest.JSONL, "b.CSV.zst": ingest.CSV, "c.json": ingest.JSONL, "d.parquet.zstd": ingest.Parquet} {
		f, err := ingest.FormatOf(p)
		require.NoError(t, err, p)
		assert.Equal(t, want, f, p)
	}
	for _, p := range []string{"README.md", "x.gz", "y.tar.gz"} {
		_, err := ingest.FormatOf(p)
		assert.ErrorIs(t, err, ingest.ErrUnknownFormat, p)
	}
}

// TestDatesAndTimestamps converts CSV and JSON text for date and
// timestamp columns of a given schema, and names the field and the value
// of rows it refuses.
func TestDatesAndTimestamps(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "us", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "ms", Type: &arrow.TimestampType{Unit: arrow.Millisecond}, Nullable: true},
	}, nil)
	cs := "id,d,us,ms\n" +
		"1,2024-01-31,2024-01-31T12:34:56Z,2024-01-31 12:34:56.789\n" +
		"2,1970-01-01,2024-01-31T13:34:56+01:00,1706704496789\n" +
		"3,1969-12-31,2024-01-31T12:34:56.000001+0000,2024-01-31T12:34\n" +
		"4,2024-02-30,,\n" +
		"5,2024-01-31,yesterday,\n" +
		"6,2024-01-31,2024-01-31,1\n"
	r, err := ingest.NewCSV(strings.NewReader(cs), "t.csv", ingest.Options{Schema: sch})
	require.NoError(t, err)
	rows, _, bad := drain(t, r)
	assert.Equal(t, []string{
		"1|2024-01-31|2024-01-31T12:34:56Z|2024-01-31T12:34:56.789",
		"2|1970-01-01|2024-01-31T12:34:56Z|2024-01-31T12:34:56.789",
		"3|1969-12-31|2024-01-31T12:34:56.000001Z|2024-01-31T12:34:00",
		"6|2024-01-31|2024-01-31T00:00:00Z|1970-01-01T00:00:00.001",
	}, rows)
	require.Len(t, bad, 2)
	assert.Equal(t, "d", bad[0].Field)
	assert.Contains(t, bad[0].Reason, `"2024-02-30"`)
	assert.Contains(t, bad[0].Reason, "day out of range")
	assert.Equal(t, "us", bad[1].Field)
	assert.Contains(t, bad[1].Reason, `"yesterday"`)

	js := `{"id":1,"d":"2024-01-31","us":"2024-01-31T12:34:56.5Z","ms":1706704496789}
{"id":2,"d":19753,"us":1706704496000000,"ms":"2024-01-31T12:34:56Z"}
{"id":3,"d":"31/01/2024"}
{"id":4,"us":1.5}
`
	r, err = ingest.NewJSONL(strings.NewReader(js), "t.jsonl", ingest.Options{Schema: sch})
	require.NoError(t, err)
	rows, _, bad = drain(t, r)
	assert.Equal(t, []string{
		"1|2024-01-31|2024-01-31T12:34:56.5Z|2024-01-31T12:34:56.789",
		"2|2024-01-31|2024-01-31T12:34:56Z|2024-01-31T12:34:56",
	}, rows)
	require.Len(t, bad, 2)
	assert.Equal(t, "d", bad[0].Field)
	assert.Contains(t, bad[0].Reason, "YYYY-MM-DD")
	assert.Equal(t, "us", bad[1].Field)
	assert.Contains(t, bad[1].Reason, "microseconds since the epoch")
}

// TestInferDates infers date and timestamp columns from ISO-8601 strings
// only when asked, and only when every value is one.
func TestInferDates(t *testing.T) {
	js := `{"d":"2024-01-31","t":"2024-01-31T12:34:56Z","mix":"2024-01-31","s":"2024-01-31","n":"2024-13-01"}
{"d":"2024-02-01","t":"2024-01-31 12:00","mix":"2024-01-31T00:00:00+02:00","s":"soon","n":"2024-01-01"}
`
	typeOf := func(r ingest.Reader) map[string]string {
		out := map[string]string{}
		for _, f := range r.Schema().Fields() {
			out[f.Name] = f.Type.String()
		}
		return out
	}
	r, err := ingest.NewJSONL(strings.NewReader(js), "t.jsonl", ingest.Options{InferDates: true})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"d": "date32", "t": "timestamp[us, tz=UTC]", "mix": "timestamp[us, tz=UTC]", "s": "utf8", "n": "utf8"}, typeOf(r))
	rows, _, bad := drain(t, r)
	assert.Empty(t, bad)
	// Columns in name order: d, mix, n, s, t.
	assert.Equal(t, "2024-02-01|2024-01-30T22:00:00Z|2024-01-01|soon|2024-01-31T12:00:00Z", rows[1])

	r, err = ingest.NewJSONL(strings.NewReader(js), "t.jsonl", ingest.Options{})
	require.NoError(t, err)
	assert.Equal(t, "utf8", typeOf(r)["d"], "not without InferDates")

	cs := "d,t,n\n2024-01-31,2024-01-31 12:34:56,1\n2024-02-01,,2\n"
	r, err = ingest.NewCSV(strings.NewReader(cs), "t.csv", ingest.Options{InferDates: true})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"d": "date32", "t": "timestamp[us, tz=UTC]", "n": "int64"}, typeOf(r))
}
