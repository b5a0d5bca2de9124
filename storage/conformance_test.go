package storage_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/storagefault"
	"github.com/hoodie-lake/hoodie/internal/testutil/s3server"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/storage/storagetest"
)

func TestMain(m *testing.M) { s3server.Main(m) }

func TestConformance(t *testing.T) {
	t.Run("Mem", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Storage { return storage.NewMem() })
	})
	t.Run("Local", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Storage {
			st, err := storage.NewLocal(t.TempDir())
			require.NoError(t, err)
			return st
		})
	})
	// Faulty with an injector that never fires must be transparent.
	t.Run("Faulty", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Storage {
			return storagefault.NewFaulty(storage.NewMem(), storagefault.Counter(storagefault.Match{}))
		})
	})
	t.Run("Logging", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Storage {
			return storagefault.NewLogging(storage.NewMem())
		})
	})
	// S3 runs against a real versitygw; the minimum part size makes the
	// large-object test a three-part multipart upload.
	t.Run("S3", func(t *testing.T) {
		srv := s3server.Start(t)
		storagetest.Run(t, func(t *testing.T) storage.Storage {
			loc, opts := srv.NewLocation(t)
			opts.S3.PartSize = storage.S3MinPartSize
			st, err := storage.Open(t.Context(), loc, opts)
			require.NoError(t, err)
			return st
		})
	})
	t.Run("S3BucketRoot", func(t *testing.T) {
		srv := s3server.Start(t)
		storagetest.Run(t, func(t *testing.T) storage.Storage {
			opts := srv.Options()
			opts.S3.PartSize = storage.S3MinPartSize
			st, err := storage.NewS3(t.Context(), srv.NewBucket(t), "", opts.S3)
			require.NoError(t, err)
			return st
		})
	})
}

func TestFullPathKeyOf(t *testing.T) {
	dir := t.TempDir()
	l, err := storage.NewLocal(dir)
	require.NoError(t, err)
	full := storage.FullPath(l, "p=1/f.parquet")
	require.Equal(t, filepath.Join(dir, "p=1", "f.parquet"), full)
	for _, f := range []string{full, "file:" + full} {
		k, ok := storage.KeyOf(l, f)
		require.True(t, ok, f)
		require.Equal(t, "p=1/f.parquet", k)
	}
	_, ok := storage.KeyOf(l, "/elsewhere/f.parquet")
	require.False(t, ok)
	m := storage.NewMem()
	require.Equal(t, "a/b", storage.FullPath(m, "a/b"))
	k, ok := storage.KeyOf(m, "a/b")
	require.True(t, ok)
	require.Equal(t, "a/b", k)
}
