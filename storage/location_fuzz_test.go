package storage_test

import (
	"strings"
	"testing"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/stretchr/testify/require"
)

// FuzzParseLocation checks ParseLocation on arbitrary strings: no panic,
// errors carry the "storage: " prefix, an accepted non-local location has
// a registered scheme, a host and a path without empty, "." or ".."
// segments or leading or trailing "/", and renders back to a location
// that parses to the same value. The committed corpus
// (testdata/fuzz/FuzzParseLocation) holds hostile locations.
func FuzzParseLocation(f *testing.F) {
	for _, s := range []string{
		"s3://bucket/prefix", "s3a://b/x/", "s3://b/../x", "s3://b/%2e%2e/x", "file:///tmp/t", "file://host/x",
		"/abs", "../rel", "", "s3://", "s3://u:p@b/x", "s3://b/a%2Fb", "ftp://x", "s3://b/x?y#z",
		"mem://m/a/b", "file:/tmp/t", "s3n://b//x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, loc string) {
		l, err := storage.ParseLocation(loc)
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "storage: "), "%v", err)
			return
		}
		switch l.Scheme {
		case "file":
			require.Empty(t, l.Host)
		case "s3", "s3a", "s3n", "mem":
			require.NotEmpty(t, l.Host)
			if l.Path != "" {
				for _, seg := range strings.Split(l.Path, "/") {
					require.NotContains(t, []string{"", ".", ".."}, seg, "%q parsed to %+v", loc, l)
				}
			}
			again, err := storage.ParseLocation(l.String())
			require.NoError(t, err, "%q parsed to %+v", loc, l)
			require.Equal(t, l, again, "%q", loc)
		default:
			t.Fatalf("%q: scheme %q", loc, l.Scheme)
		}
	})
}
