package hivepath_test

import (
	"testing"

	"github.com/hoodie-lake/hoodie/internal/hivepath"
	"github.com/stretchr/testify/assert"
)

func TestEscape(t *testing.T) {
	assert.Equal(t, "2024-01-01", hivepath.Escape("2024-01-01"))
	assert.Equal(t, "a%2Fb%3Ac%3Dd%25%00%7F é", hivepath.Escape("a/b:c=d%\x00\x7f é"))
	assert.Equal(t, "", hivepath.Escape(""))
	assert.Equal(t, "a/b", hivepath.Unescape("a%2fb"))
	assert.Equal(t, "%zz%", hivepath.Unescape("%zz%"))
	assert.Equal(t, []byte("x%2Fy"), hivepath.AppendEscaped([]byte("x"), "/y"))
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "a/b", "%", "%2F", "\x00\x01", "é/é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := hivepath.Escape(s)
		if hivepath.NeedsEscape(e) && e != s {
			// Only '%' may remain, and only as the start of an escape.
			for i := 0; i < len(e); i++ {
				if e[i] != '%' && hivepath.NeedsEscape(e[i:i+1]) {
					t.Fatalf("Escape(%q) = %q keeps %q", s, e, e[i])
				}
			}
		}
		if got := hivepath.Unescape(e); got != s {
			t.Fatalf("Unescape(Escape(%q)) = %q", s, got)
		}
	})
}
