package table_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoodie-lake/hoodie/internal/testutil/fixtures"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parseProps(t testing.TB, s string) map[string]string {
	t.Helper()
	m, err := table.ParseProperties(strings.NewReader(s))
	require.NoError(t, err)
	return m
}

func TestParsePropertiesJavaSyntax(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want map[string]string
	}{
		{"separators", "a=1\nb:2\nc 3\nd\t4\ne = 5\nf : 6\ng   =   7\n", map[string]string{
			"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6", "g": "7"}},
		{"blank then one separator", "a  :=x\nb = =y\n", map[string]string{"a": "=x", "b": "=y"}},
		{"comments and blanks", "#c1\n!c2\n   # indented comment\n\n  \t\nk=v\n", map[string]string{"k": "v"}},
		{"comment ending in backslash does not continue", "#c\\\nk=v\n", map[string]string{"k": "v"}},
		{"escaped separators", `a\:b\=c=d\:e\=f` + "\n", map[string]string{"a:b=c": "d:e=f"}},
		{"escaped space in key", `a\ b=c` + "\n", map[string]string{"a b": "c"}},
		{"escapes", `k=\t\n\r\f\\\q\#\!` + "\n", map[string]string{"k": "\t\n\r\f\\q#!"}},
		{"unicode", `k=\u00FC\u00e9\uD83D\uDE00` + "\n", map[string]string{"k": "üé😀"}},
		{"latin-1 bytes", "k=\xfc\n", map[string]string{"k": "ü"}},
		{"continuation", "k=a\\\n    b\\\n\tc\nl=d\n", map[string]string{"k": "abc", "l": "d"}},
		{"escaped backslash is not a continuation", "k=a\\\\\nl=b\n", map[string]string{"k": `a\`, "l": "b"}},
		{"CRLF and CR", "a=1\r\nb=2\rc=3\r\n", map[string]string{"a": "1", "b": "2", "c": "3"}},
		{"CRLF continuation", "a=1\\\r\n  2\r\nb=3", map[string]string{"a": "12", "b": "3"}},
		{"key only", "k\nl=\n", map[string]string{"k": "", "l": ""}},
		{"value keeps trailing blanks", "k=v  \n", map[string]string{"k": "v  "}},
		{"duplicate: last wins", "k=1\nk=2\n", map[string]string{"k": "2"}},
		{"no final newline", "k=v", map[string]string{"k": "v"}},
		{"backslash at EOF dropped", "k=v\\", map[string]string{"k": "v"}},
		{"empty", "", map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, parseProps(t, tc.in))
		})
	}
}

func TestParsePropertiesMalformedUnicode(t *testing.T) {
	for _, in := range []string{`k=\u12`, `k=\u12G4`, "k=\\u\n"} {
		_, err := table.ParseProperties(strings.NewReader(in))
		require.ErrorIs(t, err, table.ErrMalformedProperties, "%q", in)
	}
}

func TestWritePropertiesEscapesAsJava(t *testing.T) {
	props := map[string]string{
		"a b":   " lead:=#!\\\tü😀 mid",
		"plain": "x y",
		"ctl":   "\x01\x7f",
		"zz":    "last",
		"em":    "",
	}
	got := string(table.FormatProperties(props, table.PropertiesOptions{Last: []string{"a b"}}))
	want := "" +
		`ctl=\u0001\u007F` + "\n" +
		"em=\n" +
		"plain=x y\n" +
		"zz=last\n" +
		`a\ b=\ lead\:\=\#\!\\\t\u00FC\uD83D\uDE00 mid` + "\n"
	assert.Equal(t, want, got)
	assert.Equal(t, props, parseProps(t, got))
}

func TestWritePropertiesComments(t *testing.T) {
	ts := time.Date(2024, 4, 18, 22, 32, 13, 0, time.UTC)
	got := string(table.FormatProperties(map[string]string{"k": "v"}, table.PropertiesOptions{
		Comments:  []string{"partition metadata", "two\nlines\n#kept ü"},
		Timestamp: ts,
	}))
	assert.Equal(t, "#partition metadata\n#two\n#lines\n#kept \\u00FC\n#Thu Apr 18 22:32:13 UTC 2024\nk=v\n", got)
}

// TestPropertiesSamplesRoundTrip parses every sample hoodie.properties,
// writes it back and parses it again.
func TestPropertiesSamplesRoundTrip(t *testing.T) {
	for _, fx := range fixtures.All(t) {
		t.Run(fx.Name, func(t *testing.T) {
			dir := fixtures.Unzip(t, fx.Zip)
			b, err := os.ReadFile(filepath.Join(dir, ".hoodie", "hoodie.properties"))
			require.NoError(t, err)
			props, err := table.ParseProperties(bytes.NewReader(b))
			require.NoError(t, err)
			require.Equal(t, fx.Table, props[table.KeyName])
			if s, ok := props[table.KeyCreateSchema]; ok {
				assert.True(t, strings.HasPrefix(s, `{"type":"record","name":"`+fx.Table+`_record"`), s)
			}

			out := table.FormatProperties(props, table.PropertiesOptions{Last: []string{table.KeyChecksum}})
			again, err := table.ParseProperties(bytes.NewReader(out))
			require.NoError(t, err)
			assert.Equal(t, props, again)
			lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			assert.True(t, strings.HasPrefix(lines[len(lines)-1], table.KeyChecksum+"="), "checksum last")
			// Java's escaping of the schema is reproduced byte for byte.
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, table.KeyCreateSchema+"=") {
					assert.Contains(t, string(out), l+"\n")
				}
			}
		})
	}
}

func FuzzProperties(f *testing.F) {
	for _, fx := range fixtures.All(f) {
		dir := fixtures.Unzip(f, fx.Zip)
		if b, err := os.ReadFile(filepath.Join(dir, ".hoodie", "hoodie.properties")); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"a=1\nb:2\nc 3\n", "#c\\\nk=v", `k=\uD83D\uDE00\u00fc`, "k=a\\\n  b\r\n", `a\ b=\ c`,
		"k=\\", "\\\n#x", "k=\\u12", "\xff\xfe=\x00", " \t\f\r\n!", "k=\\uD800",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		props, err := table.ParseProperties(bytes.NewReader(in))
		if err != nil {
			require.ErrorIs(t, err, table.ErrMalformedProperties)
			return
		}
		out := table.FormatProperties(props, table.PropertiesOptions{Comments: []string{"c"}})
		for _, c := range out {
			require.True(t, c == '\n' || c >= 0x20 && c < 0x7f, "non-ASCII or control byte %#x in output", c)
		}
		again, err := table.ParseProperties(bytes.NewReader(out))
		require.NoError(t, err)
		require.Equal(t, props, again)
		require.Equal(t, string(out), string(table.FormatProperties(again, table.PropertiesOptions{Comments: []string{"c"}})))
	})
}
