package storage_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/storage"
	"github.com/hoodie-lake/hoodie/internal/storage/storagetest"
	"github.com/hoodie-lake/hoodie/internal/testutil/s3server"
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
			return storage.NewFaulty(storage.NewMem(), storage.Counter(storage.Match{}))
		})
	})
	t.Run("Logging", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Storage {
			return storage.NewLogging(storage.NewMem())
		})
	})
	// S3 runs against a real versitygw; the minimum part size makes the
	// large-object test a three-part multipart upload.
	t.Run("S3", func(t *testing.T) {
		srv := s3server.Start(t)
		storagetest.Run(t, func(t *testing.T) storage.Storage {
			loc, opts := srv.NewLocation(t)
			opts.S3PartSize = storage.S3MinPartSize
			st, err := storage.Open(t.Context(), loc, opts)
			require.NoError(t, err)
			return st
		})
	})
	t.Run("S3BucketRoot", func(t *testing.T) {
		srv := s3server.Start(t)
		storagetest.Run(t, func(t *testing.T) storage.Storage {
			opts := srv.Options()
			opts.S3PartSize = storage.S3MinPartSize
			st, err := storage.NewS3(t.Context(), srv.NewBucket(t), "", opts)
			require.NoError(t, err)
			return st
		})
	})
}
