package table_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
)

func TestCreateOpenLocation(t *testing.T) {
	ctx := context.Background()
	for _, loc := range []string{
		filepath.Join(t.TempDir(), "events"),
		"file://" + filepath.Join(t.TempDir(), "events"),
		"mem://" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "/tables/events",
	} {
		t.Run(loc, func(t *testing.T) {
			opts := table.CreateOptions{Name: "events", RecordKeyFields: []string{"id"}, PrecombineField: "ts"}
			created, err := table.CreateLocation(ctx, loc, storage.Options{}, opts)
			require.NoError(t, err)
			assert.Equal(t, "events", created.Config().Name)

			_, err = table.CreateLocation(ctx, loc, storage.Options{}, opts)
			require.ErrorIs(t, err, table.ErrTableExists)

			opened, err := table.OpenLocation(ctx, loc, storage.Options{})
			require.NoError(t, err)
			assert.Equal(t, created.Config().Properties(), opened.Config().Properties())
			read, err := table.OpenLocationForRead(ctx, loc, storage.Options{})
			require.NoError(t, err)
			require.NoError(t, read.Writable())
		})
	}
}

func TestOpenLocationErrors(t *testing.T) {
	ctx := context.Background()
	_, err := table.OpenLocation(ctx, t.TempDir(), storage.Options{})
	require.ErrorIs(t, err, table.ErrNotHudiTable)

	_, err = table.OpenLocation(ctx, "hdfs://namenode/tables/events", storage.Options{})
	require.ErrorIs(t, err, storage.ErrUnsupportedScheme)
	assert.Regexp(t, "^table: ", err.Error())

	_, err = table.OpenLocation(ctx, "s3://key:hoodieSecretInURL@bucket/events", storage.Options{})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hoodieSecretInURL")

	bad := storage.Options{S3: storage.S3Options{PartSize: 1}}
	_, err = table.CreateLocation(ctx, "s3://bucket/events", bad, table.CreateOptions{Name: "events", RecordKeyFields: []string{"id"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `location "s3://bucket/events"`)
}
