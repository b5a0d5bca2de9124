package storage_test

import (
	"strings"
	"testing"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/stretchr/testify/require"
)

// FuzzParseLocation checks ParseLocation on arbitrary strings: no panic,
// errors carry the "storage: " prefix, an accepted S3 location has a
// bucket and a prefix without "." or ".." segments or leading or trailing
// "/", and no other scheme comes out. The committed corpus
// (testdata/fuzz/FuzzParseLocation) holds hostile locations.
func FuzzParseLocation(f *testing.F) {
	for _, s := range []string{
		"s3://bucket/prefix", "s3a://b/x/", "s3://b/../x", "s3://b/%2e%2e/x", "file:///tmp/t", "file://host/x",
		"/abs", "../rel", "", "s3://", "s3://u:p@b/x", "s3://b/a%2Fb", "ftp://x", "s3://b/x?y#z",
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
		case "s3":
			require.NotEmpty(t, l.Bucket)
			for _, seg := range strings.Split(l.Path, "/") {
				require.NotContains(t, []string{".", ".."}, seg, "%q parsed to %+v", loc, l)
			}
			require.False(t, strings.HasPrefix(l.Path, "/") || strings.HasSuffix(l.Path, "/"), "%+v", l)
		case "file":
		default:
			t.Fatalf("%q: scheme %q", loc, l.Scheme)
		}
	})
}
