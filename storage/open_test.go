package storage_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/testutil/s3server"
	"github.com/hoodie-lake/hoodie/storage"
)

func TestBuiltinSchemes(t *testing.T) {
	for _, s := range []string{"file", "mem", "s3", "s3a", "s3n"} {
		assert.Contains(t, storage.Schemes(), s)
	}
}

// TestRegister: a registered scheme is parsed and opened by its opener,
// with the options defaulted; removing it makes its locations unsupported.
func TestRegister(t *testing.T) {
	ctx := context.Background()
	var got struct {
		loc  storage.Location
		opts storage.Options
	}
	backing := storage.NewMem()
	require.NoError(t, storage.Register("test-fs", func(_ context.Context, l storage.Location, o storage.Options) (storage.Storage, error) {
		got.loc, got.opts = l, o
		return backing, nil
	}))
	t.Cleanup(func() { require.NoError(t, storage.Register("test-fs", nil)) })
	assert.Contains(t, storage.Schemes(), "test-fs")

	st, err := storage.Open(ctx, "test-fs://host/a/b/", storage.Options{})
	require.NoError(t, err)
	assert.Same(t, backing, st)
	assert.Equal(t, storage.Location{Scheme: "test-fs", Host: "host", Path: "a/b"}, got.loc)
	assert.Equal(t, storage.S3DefaultMaxAttempts, got.opts.S3.MaxAttempts, "options reach the opener with defaults")

	require.NoError(t, storage.Register("test-fs", nil))
	assert.NotContains(t, storage.Schemes(), "test-fs")
	_, err = storage.Open(ctx, "test-fs://host/a", storage.Options{})
	require.ErrorIs(t, err, storage.ErrUnsupportedScheme)
	_, err = storage.ParseLocation("test-fs://host/a")
	require.ErrorIs(t, err, storage.ErrUnsupportedScheme)

	for _, bad := range []string{"", "Upper", "1abc", "a b", "s3:", "x/y"} {
		require.Error(t, storage.Register(bad, func(context.Context, storage.Location, storage.Options) (storage.Storage, error) {
			return nil, nil
		}), "%q", bad)
	}
}

func TestOpenUnsupportedScheme(t *testing.T) {
	_, err := storage.Open(context.Background(), "hdfs://namenode/tables/x", storage.Options{})
	require.ErrorIs(t, err, storage.ErrUnsupportedScheme)
	assert.Contains(t, err.Error(), "s3", "the message lists the registered schemes")
}

// TestMemLocation: mem://name/prefix opens one process-wide store per
// name, rooted at the prefix; NewMem stores are private.
func TestMemLocation(t *testing.T) {
	ctx := context.Background()
	name := "test-" + filepath.Base(t.TempDir()) // unique per run
	a1, err := storage.Open(ctx, "mem://"+name+"/tables/a", storage.Options{})
	require.NoError(t, err)
	a2, err := storage.Open(ctx, "mem://"+name+"/tables/a", storage.Options{})
	require.NoError(t, err)
	b, err := storage.Open(ctx, "mem://"+name+"/tables/b", storage.Options{})
	require.NoError(t, err)
	root, err := storage.Open(ctx, "mem://"+name, storage.Options{})
	require.NoError(t, err)

	require.NoError(t, storage.WriteFile(ctx, a1, "k", []byte("in a"), storage.CreateOptions{}))
	got, err := storage.ReadFile(ctx, a2, "k")
	require.NoError(t, err)
	assert.Equal(t, "in a", string(got), "two opens of one location share objects")
	ok, err := storage.Exists(ctx, b, "k")
	require.NoError(t, err)
	assert.False(t, ok, "another prefix of the store does not see it")
	assert.Equal(t, []string{"tables/a/k"}, listKeys(t, root, ""))
	assert.Equal(t, []string{"tables/"}, dirKeys(t, root, ""))

	// A clone of a rooted store is private and rooted at the same keys.
	c := a1.(*storage.Mem).Clone()
	assert.Equal(t, []string{"k"}, listKeys(t, c, ""))
	require.NoError(t, a1.Delete(ctx, "k"))
	assert.Equal(t, []string{"k"}, listKeys(t, c, ""))
	assert.Empty(t, listKeys(t, a2, ""))
}

func listKeys(t *testing.T, st storage.Storage, prefix string) []string {
	t.Helper()
	var out []string
	for o, err := range st.List(t.Context(), prefix, "") {
		require.NoError(t, err)
		out = append(out, o.Path)
	}
	return out
}

func dirKeys(t *testing.T, st storage.Storage, prefix string) []string {
	t.Helper()
	var out []string
	for o, err := range st.List(t.Context(), prefix, "/") {
		require.NoError(t, err)
		out = append(out, o.Path)
	}
	return out
}

func TestOptionsDefaultsAndValidate(t *testing.T) {
	var o storage.Options
	require.NoError(t, o.Validate(), "the zero value is valid")
	o.EnsureDefaults()
	require.NoError(t, o.Validate())
	assert.Equal(t, storage.S3Options{
		PartSize:       storage.S3DefaultPartSize,
		MaxAttempts:    storage.S3DefaultMaxAttempts,
		ConnectTimeout: storage.S3DefaultConnectTimeout,
		RequestTimeout: storage.S3DefaultRequestTimeout,
	}, o.S3)

	set := storage.S3Options{PartSize: 6 << 20, MaxAttempts: 2, ConnectTimeout: time.Second, RequestTimeout: 2 * time.Second}
	kept := set
	kept.EnsureDefaults()
	assert.Equal(t, set, kept, "EnsureDefaults keeps what is set")

	for _, bad := range []storage.S3Options{
		{Endpoint: "127.0.0.1:9000"},
		{Endpoint: "ftp://host"},
		{Endpoint: "http://"},
		{PartSize: 1 << 20},
		{PartSize: 6 << 30},
		{MaxAttempts: -1},
		{ConnectTimeout: -time.Second},
		{RequestTimeout: -time.Second},
		{Credentials: storage.Credentials{AccessKeyID: "AKIA"}},
		{Credentials: storage.Credentials{SecretAccessKey: "s"}},
		{Credentials: storage.Credentials{SessionToken: "t"}},
	} {
		err := storage.Options{S3: bad}.Validate()
		require.Error(t, err, "%+v", bad)
		assert.Regexp(t, "^storage: ", err.Error())
		_, err = storage.Open(context.Background(), "s3://bucket/x", storage.Options{S3: bad})
		require.Error(t, err, "Open validates: %+v", bad)
	}
	for _, good := range []storage.S3Options{
		{Endpoint: "http://127.0.0.1:9000"},
		{Endpoint: "https://s3.example.com"},
		{PartSize: storage.S3MinPartSize},
		{Credentials: storage.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s", SessionToken: "t"}},
	} {
		require.NoError(t, storage.Options{S3: good}.Validate(), "%+v", good)
	}
}

// TestCredentialsRedacted: printing options never shows the secret or
// the session token.
func TestCredentialsRedacted(t *testing.T) {
	o := storage.Options{S3: storage.S3Options{Credentials: storage.Credentials{
		AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "hoodieSecretValue", SessionToken: "hoodieSessionToken",
	}}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		s := fmt.Sprintf(verb, o)
		assert.NotContains(t, s, "hoodieSecretValue", verb)
		assert.NotContains(t, s, "hoodieSessionToken", verb)
		assert.Contains(t, s, "AKIAEXAMPLE", verb)
	}
}

// TestS3StaticCredentials: credentials in the options are used instead of
// the AWS chain's, both ways round.
func TestS3StaticCredentials(t *testing.T) {
	srv := s3server.Start(t)
	bucket := srv.NewBucket(t)
	ctx := t.Context()
	right := storage.Credentials{AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}
	wrong := storage.Credentials{AccessKeyID: srv.AccessKey, SecretAccessKey: "wrongsecretwrongsecret"}

	t.Run("static over a wrong environment", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", wrong.AccessKeyID)
		t.Setenv("AWS_SECRET_ACCESS_KEY", wrong.SecretAccessKey)
		opts := srv.Options()
		opts.S3.Credentials = right
		st, err := storage.Open(ctx, "s3://"+bucket+"/static", opts)
		require.NoError(t, err)
		require.NoError(t, storage.WriteFile(ctx, st, "k", []byte("v"), storage.CreateOptions{}))
		got, err := storage.ReadFile(ctx, st, "k")
		require.NoError(t, err)
		assert.Equal(t, "v", string(got))
	})
	t.Run("wrong static over a right environment", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", right.AccessKeyID)
		t.Setenv("AWS_SECRET_ACCESS_KEY", right.SecretAccessKey)
		opts := srv.Options()
		opts.S3.Credentials = wrong
		opts.S3.MaxAttempts = 1
		st, err := storage.Open(ctx, "s3://"+bucket+"/static", opts)
		require.NoError(t, err)
		_, err = storage.ReadFile(ctx, st, "k")
		require.ErrorIs(t, err, storage.ErrAccessDenied)
		assert.NotContains(t, err.Error(), wrong.SecretAccessKey)
	})
}
