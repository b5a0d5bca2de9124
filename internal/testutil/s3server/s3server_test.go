package s3server

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/storage"
)

func TestMain(m *testing.M) { Main(m) }

func TestBucketName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	seen := map[string]bool{}
	for _, name := range []string{
		"TestX",
		"TestConformance/S3/ListDelimiter",
		"Test__weird--NAME/ü/" + strings.Repeat("x", 100),
		"",
		"/",
	} {
		b := bucketName(name)
		assert.Regexp(t, valid, b, "from %q", name)
		assert.NotContains(t, b, "--", "from %q", name)
		assert.False(t, seen[b])
		seen[b] = true
	}
	assert.NotEqual(t, bucketName("TestX"), bucketName("TestX"), "unique per call")
}

func TestReadEnv(t *testing.T) {
	p := filepath.Join(t.TempDir(), "env")
	require.NoError(t, os.WriteFile(p, []byte("export HOODIE_S3_ENDPOINT=http://127.0.0.1:1\nexport AWS_REGION=us-east-1\n\njunk\n"), 0o644))
	env, err := readEnv(p)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"HOODIE_S3_ENDPOINT": "http://127.0.0.1:1", "AWS_REGION": "us-east-1"}, env)
	_, err = readEnv(filepath.Join(t.TempDir(), "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestRepoRoot(t *testing.T) {
	root, err := repoRoot()
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(root, "go.mod"))
	assert.FileExists(t, filepath.Join(root, "scripts", "s3server.sh"))
}

// TestStart checks the server end to end: one server per binary, fresh
// buckets, and a store on a location that round-trips an object.
func TestStart(t *testing.T) {
	srv := Start(t)
	assert.Same(t, srv, Start(t), "one server per test binary")
	assert.True(t, strings.HasPrefix(srv.Endpoint, "http://"))
	loc, opts := srv.NewLocation(t)
	assert.Regexp(t, `^s3://hoodie-teststart-[0-9a-f]{10}/table$`, loc)
	st, err := storage.Open(t.Context(), loc, opts)
	require.NoError(t, err)
	require.NoError(t, storage.WriteFile(t.Context(), st, "a/b", []byte("hi"), storage.CreateOptions{IfAbsent: true}))
	got, err := storage.ReadFile(t.Context(), st, "a/b")
	require.NoError(t, err)
	assert.Equal(t, []byte("hi"), got)

	// Zero options reach the server too (endpoint, credentials and path
	// style from the environment), as in code under test that calls
	// storage.Open without test options.
	other, err := storage.Open(t.Context(), loc, storage.Options{})
	require.NoError(t, err)
	got, err = storage.ReadFile(t.Context(), other, "a/b")
	require.NoError(t, err)
	assert.Equal(t, []byte("hi"), got)
}
