package ingest_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/internal/ingest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestJSONLInvalidUTF8 checks that a JSON line is never ingested with text
// replaced by U+FFFD: bytes that are not UTF-8 and escapes of unpaired
// surrogates make the line a bad row naming the field; everything else is
// decoded as written.
func TestJSONLInvalidUTF8(t *testing.T) {
	in := strings.Join([]string{
		`{"id":"a","s":"ok"}`,
		"{\"id\":\"b\",\"s\":\"x\xff\xfey\"}",                          // 2: raw bytes
		`{"id":"c","s":"x\ud800y"}`,                                    // 3: lone high surrogate
		`{"id":"d","s":"\udc00"}`,                                      // 4: lone low surrogate
		`{"id":"e","s":"\ud83d\ude00 \u00e9 \\ud800"}`,                 // 5: a pair, é, an escaped backslash: fine
		"{\"id\":\"f\",\"meta\":{\"k\":\"\xc3\"}}",                     // 6: inside a nested object
		"{\"id\":\"g\",\"na\xffme\":\"v\"}",                            // 7: in a field name
		`{"id":"h","s":"\ud800\u0041"}`,                                // 8: high surrogate, no low one
		"{\"id\":\"i\",\"s\":\"\xef\xbf\xbd \\ufffd\"}",                // 9: U+FFFD written by the user: fine
		`{"id":"j","meta":{"k":"\ud800"}}`,                             // 10: escape in nested text
		"{\"id\":\"k\",\"unknown\":\"\xff\"}",                          // 11: a field the schema lacks
		"{\"id\":\"l\",\"s\":\"" + strings.Repeat("é", 40) + "\xff\"}", // 12: long value: snippet
	}, "\n")
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "meta", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	r, err := ingest.NewJSONL(strings.NewReader(in), "in.jsonl", ingest.Options{Schema: sch})
	require.NoError(t, err)
	rows, lines, bad := drain(t, r)
	assert.Equal(t, []int64{1, 5, 9}, lines)
	assert.Equal(t, []string{"a|ok|(null)", "e|😀 é \\ud800|(null)", "i|\ufffd \ufffd|(null)"}, rows)
	got := map[int64]ingest.BadRow{}
	for _, b := range bad {
		got[b.Line] = b
		assert.True(t, utf8.ValidString(b.Reason), "reason %q quotes the bytes", b.Reason)
	}
	require.Len(t, got, 9)
	check := func(line int64, field string, reason ...string) {
		t.Helper()
		assert.Equal(t, field, got[line].Field, "line %d", line)
		for _, r := range reason {
			assert.Contains(t, got[line].Reason, r, "line %d", line)
		}
	}
	check(2, "s", "not valid UTF-8", `"\xff\xfe" at byte 1 of "x\xff\xfey"`)
	check(3, "s", `unpaired UTF-16 surrogate escape \ud800 at byte 1`, "U+FFFD")
	check(4, "s", `\udc00 at byte 0`)
	check(6, "meta", `"\xc3"`)
	check(7, "", "field name", "not valid UTF-8")
	check(8, "s", `\ud800 at byte 0`)
	check(10, "meta", `\ud800`)
	check(11, "unknown", `"\xff"`)
	check(12, "s", `at byte 80 of "…`)
}

// TestJSONLInferenceSkipsInvalidUTF8: a line whose field names would be
// garbled does not add columns (it is reported when parsed).
func TestJSONLInferenceSkipsInvalidUTF8(t *testing.T) {
	r, err := ingest.NewJSONL(strings.NewReader("{\"na\xffme\":1}\n{\"id\":\"a\"}\n"), "in.jsonl", ingest.Options{})
	require.NoError(t, err)
	require.Equal(t, 1, r.Schema().NumFields())
	assert.Equal(t, "id", r.Schema().Field(0).Name)
	rows, _, bad := drain(t, r)
	assert.Equal(t, []string{"a"}, rows)
	require.Len(t, bad, 1)
	assert.Equal(t, int64(1), bad[0].Line)
}

func TestCSVInvalidUTF8(t *testing.T) {
	in := "id,name,n\na,ok,1\nb,x\xff\xfey,2\nc,Zürich,3\nd,fine,\xff\n"
	r, err := ingest.NewCSV(strings.NewReader(in), "in.csv", ingest.Options{})
	require.NoError(t, err)
	rows, lines, bad := drain(t, r)
	assert.Equal(t, []string{"a|ok|1", "c|Zürich|3"}, rows)
	assert.Equal(t, []int64{2, 4}, lines)
	require.Len(t, bad, 2)
	assert.Equal(t, int64(3), bad[0].Line)
	assert.Equal(t, "name", bad[0].Field)
	assert.Contains(t, bad[0].Reason, `not valid UTF-8: "\xff\xfe" at byte 1 of "x\xff\xfey"`)
	assert.Equal(t, int64(5), bad[1].Line)
	assert.Equal(t, "n", bad[1].Field, "inferred a string column: refused as a string")

	_, err = ingest.NewCSV(strings.NewReader("id,na\xffme\na,b\n"), "in.csv", ingest.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `ingest: in.csv line 1: column 2: header string is not valid UTF-8: "\xff"`)
}

// TestRawKeepsCharacters: a long bad line's raw text is cut at a
// character boundary, not inside one.
func TestRawKeepsCharacters(t *testing.T) {
	line := `{"id":` + strings.Repeat("é", 400) + `}` // not JSON
	r, err := ingest.NewJSONL(strings.NewReader(`{"id":"a"}`+"\n"+line+"\n"), "in.jsonl", ingest.Options{})
	require.NoError(t, err)
	_, _, bad := drain(t, r)
	require.Len(t, bad, 1)
	assert.True(t, utf8.ValidString(bad[0].Raw))
	assert.True(t, strings.HasSuffix(bad[0].Raw, "é…"), "%q", bad[0].Raw[len(bad[0].Raw)-8:])
}
