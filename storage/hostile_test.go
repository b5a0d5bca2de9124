package storage_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/testutil/s3server"
	"github.com/hoodie-lake/hoodie/storage"
)

// TestParseLocationHostile: table locations from flags and config never
// name a place outside what they say, and bad ones fail with a "storage: "
// error instead of being reinterpreted.
func TestParseLocationHostile(t *testing.T) {
	for _, tc := range []struct {
		loc  string
		want storage.Location // zero = refused
	}{
		{"", storage.Location{}},
		{"s3://", storage.Location{}},
		{"s3:///prefix", storage.Location{}},
		{"s3://b/../x", storage.Location{}},
		{"s3://b/a/../../x", storage.Location{}},
		{"s3://b/a/./x", storage.Location{}},
		{"s3://b/%2e%2e/x", storage.Location{}},
		{"s3://b/a/%2E/x", storage.Location{}},
		{"s3://b\x00/x", storage.Location{}},
		{"s3://b/x\n", storage.Location{}},
		{"s3://b/x%zz", storage.Location{}},
		{"ftp://host/x", storage.Location{}},
		{"S3://b/x", storage.Location{}},
		{"hdfs://nn/x", storage.Location{}},
		{"file://remote.example.com/x", storage.Location{}},
		{"s3://b", storage.Location{Scheme: "s3", Host: "b"}},
		{"s3://b/", storage.Location{Scheme: "s3", Host: "b"}},
		{"s3a://b/x/y/", storage.Location{Scheme: "s3a", Host: "b", Path: "x/y"}},
		{"s3n://b/x", storage.Location{Scheme: "s3n", Host: "b", Path: "x"}},
		{"s3://b//x", storage.Location{}},
		{"s3://b/x?versionId=1", storage.Location{}},
		{"s3://b/x#frag", storage.Location{}},
		{"s3://key:secret@b/x", storage.Location{}},
		{"mem://", storage.Location{}},
		{"mem://store", storage.Location{Scheme: "mem", Host: "store"}},
		{"mem://store/t/events", storage.Location{Scheme: "mem", Host: "store", Path: "t/events"}},
		{"file:/tmp/t", storage.Location{Scheme: "file", Path: "/tmp/t"}},
		{"file://", storage.Location{}},
		{"s3://b/a%2Fb", storage.Location{Scheme: "s3", Host: "b", Path: "a/b"}},
		{"s3://b/..x/y..", storage.Location{Scheme: "s3", Host: "b", Path: "..x/y.."}},
		{"file:///tmp/t", storage.Location{Scheme: "file", Path: "/tmp/t"}},
		{"file://localhost/tmp/t", storage.Location{Scheme: "file", Path: "/tmp/t"}},
		{"../../x", storage.Location{Scheme: "file", Path: "../../x"}},
		{"/abs/x", storage.Location{Scheme: "file", Path: "/abs/x"}},
	} {
		got, err := storage.ParseLocation(tc.loc)
		if tc.want == (storage.Location{}) {
			require.Error(t, err, "%q parsed as %+v", tc.loc, got)
			assert.True(t, strings.HasPrefix(err.Error(), "storage: "), "%q: %v", tc.loc, err)
			continue
		}
		require.NoError(t, err, "%q", tc.loc)
		assert.Equal(t, tc.want, got, "%q", tc.loc)
	}
}

// TestParseLocationHidesUserinfo: credentials pasted into an s3:// URL are
// not the bucket and do not come back in the location's String.
func TestParseLocationHidesUserinfo(t *testing.T) {
	const secret = "hoodieMarkerSecretInURL"
	l, err := storage.ParseLocation("s3://AKIAX:" + secret + "@bucket/prefix")
	if err != nil {
		assert.NotContains(t, err.Error(), secret)
		return
	}
	assert.Equal(t, "bucket", l.Host)
	assert.NotContains(t, l.String(), secret)
}

// TestLocalRefusesEscapingKeys: a local store never touches anything
// outside its root, whatever key it is handed.
func TestLocalRefusesEscapingKeys(t *testing.T) {
	ctx := context.Background()
	outer := t.TempDir()
	st, err := storage.Open(ctx, filepath.Join(outer, "root"), storage.Options{})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(outer, "victim"), []byte("keep"), 0o644))
	for _, key := range []string{
		"../victim", "../escape", "/abs", "a/../../escape", "a/./b", "", ".", "..", "a//b", "a/", "a\x00b",
		"../root/../escape",
	} {
		err := storage.WriteFile(ctx, st, key, []byte("x"), storage.CreateOptions{})
		require.Error(t, err, "write %q", key)
		assert.True(t, strings.HasPrefix(err.Error(), "storage: "), "%q: %v", key, err)
		_, err = storage.ReadFile(ctx, st, key)
		require.Error(t, err, "read %q", key)
		require.Error(t, st.Delete(ctx, key), "delete %q", key)
	}
	for _, prefix := range []string{"../", "../victim", "a/../../", "/"} {
		for _, err := range st.List(ctx, prefix, "") {
			require.Error(t, err, "list %q", prefix)
		}
	}
	b, err := os.ReadFile(filepath.Join(outer, "victim"))
	require.NoError(t, err)
	assert.Equal(t, "keep", string(b))
	var outside []string
	require.NoError(t, filepath.WalkDir(outer, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(outer, p)
		if !d.IsDir() && rel != "victim" && !strings.HasPrefix(rel, "root"+string(filepath.Separator)) {
			outside = append(outside, rel)
		}
		return nil
	}))
	assert.Empty(t, outside)
}

// TestOpenHostileLocalRoot: a local root that is a file or holds NUL is an
// error, not a panic or a different directory.
func TestOpenHostileLocalRoot(t *testing.T) {
	ctx := context.Background()
	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, nil, 0o644))
	for _, loc := range []string{f, f + "/sub", "a\x00b", "file://" + f} {
		_, err := storage.Open(ctx, loc, storage.Options{})
		require.Error(t, err, "%q", loc)
		assert.True(t, strings.HasPrefix(err.Error(), "storage: "), "%q: %v", loc, err)
	}
}

// Marker credentials: if either shows up in an error string, a log line
// would leak it.
const (
	markerAccessKey = "AKIAHOODIEMARKER0001"
	markerSecret    = "hoodie/Marker+Secret/DoNotLeak0123456789"
)

// s3Ops runs every storage operation against st and returns the errors.
func s3Ops(t *testing.T, st storage.Storage) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	_, err := storage.ReadFile(ctx, st, ".hoodie/hoodie.properties")
	errs = append(errs, err)
	errs = append(errs, storage.WriteFile(ctx, st, ".hoodie/x", []byte("x"), storage.CreateOptions{}))
	errs = append(errs, storage.WriteFile(ctx, st, ".hoodie/y", []byte("y"), storage.CreateOptions{IfAbsent: true}))
	big := make([]byte, storage.S3MinPartSize+1)
	errs = append(errs, storage.WriteFile(ctx, st, "big", big, storage.CreateOptions{}))
	for _, err := range st.List(ctx, "", "") {
		errs = append(errs, err)
		break
	}
	errs = append(errs, st.Delete(ctx, ".hoodie/x"))
	return errs
}

func requireNoCredentials(t *testing.T, errs []error) {
	t.Helper()
	n := 0
	for _, err := range errs {
		if err == nil {
			continue
		}
		n++
		msg := err.Error()
		assert.NotContains(t, msg, markerSecret)
		assert.NotContains(t, msg, strings.ReplaceAll(markerSecret, "/", "%2F"))
		assert.NotContains(t, msg, markerAccessKey)
		assert.True(t, strings.HasPrefix(msg, "storage: "), "error without the package prefix: %v", err)
	}
	require.NotZero(t, n, "no operation failed")
}

// TestS3ErrorsHideCredentials provokes errors from the S3 backend against
// a closed port and against the real S3 server with wrong credentials: no
// error string carries the access key or the secret.
func TestS3ErrorsHideCredentials(t *testing.T) {
	t.Run("closed port", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		t.Setenv("AWS_ACCESS_KEY_ID", markerAccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", markerSecret)
		t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
		t.Cleanup(storage.SetS3BackoffForTest(time.Millisecond))
		st, err := storage.Open(context.Background(), "s3://bucket/table", storage.Options{S3: storage.S3Options{
			Endpoint: "http://" + addr, Region: "us-east-1", PathStyle: true, MaxAttempts: 2,
		}})
		require.NoError(t, err)
		requireNoCredentials(t, s3Ops(t, st))
	})
	t.Run("wrong credentials", func(t *testing.T) {
		srv := s3server.Start(t)
		bucket := srv.NewBucket(t)
		for _, creds := range []struct {
			name, access, secret string
			// authError: the failure must not look like a missing object.
			// versitygw answers an unknown access key with 404
			// XAdminUserNotFound (AWS: 403 InvalidAccessKeyId), which the
			// backend maps to ErrAccessDenied, not to ErrNotExist.
			authError bool
		}{
			{"wrong secret", srv.AccessKey, markerSecret, true},
			{"unknown access key", markerAccessKey, markerSecret, true},
		} {
			t.Run(creds.name, func(t *testing.T) {
				t.Setenv("AWS_ACCESS_KEY_ID", creds.access)
				t.Setenv("AWS_SECRET_ACCESS_KEY", creds.secret)
				t.Setenv("AWS_SESSION_TOKEN", "")
				t.Cleanup(storage.SetS3BackoffForTest(time.Millisecond))
				opts := srv.Options()
				opts.S3.MaxAttempts = 2
				st, err := storage.Open(context.Background(), "s3://"+bucket+"/table", opts)
				require.NoError(t, err)
				errs := s3Ops(t, st)
				requireNoCredentials(t, errs)
				for _, err := range errs {
					if err != nil && creds.authError {
						assert.False(t, errors.Is(err, storage.ErrNotExist), "an auth failure is not a missing object: %v", err)
						assert.ErrorIs(t, err, storage.ErrAccessDenied)
					}
				}
			})
		}
	})
}
