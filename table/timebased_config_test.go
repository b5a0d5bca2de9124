package table_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
)

func TestTimestampKeyGenRoundTrip(t *testing.T) {
	ctx := context.Background()
	st, err := storage.NewLocal(t.TempDir())
	require.NoError(t, err)
	ts := table.TimestampKeyGen{Type: "EPOCHMILLISECONDS", OutputDateFormat: "yyyy/MM/dd", Timezone: "Asia/Tokyo"}
	tbl, err := table.Create(ctx, st, table.CreateOptions{Name: "events", RecordKeyFields: []string{"id"},
		PartitionFields: []string{"ts"}, PrecombineField: "ts", Timestamp: ts})
	require.NoError(t, err)
	assert.Equal(t, table.KeyGenTimestampBased, tbl.Config().KeyGenerator)
	props := readProps(t, st, table.PropertiesFile)
	assert.Equal(t, "EPOCHMILLISECONDS", props[table.KeyTimestampType])
	assert.Equal(t, "yyyy/MM/dd", props[table.KeyTimestampOutputDateFormat])
	assert.Equal(t, "Asia/Tokyo", props[table.KeyTimestampTimezone])
	assert.NotContains(t, props, table.KeyTimestampInputDateFormat)

	opened, err := table.Open(ctx, st)
	require.NoError(t, err)
	assert.Equal(t, ts, opened.Config().Timestamp)
	assert.Equal(t, ts, opened.Config().Clone().Timestamp)
}

func TestTimestampKeyGenRefused(t *testing.T) {
	base := table.CreateOptions{Name: "events", RecordKeyFields: []string{"id"}, PartitionFields: []string{"ts"}, PrecombineField: "ts"}
	for _, c := range []struct {
		name string
		edit func(*table.CreateOptions)
		want error
	}{
		{"no type", func(o *table.CreateOptions) { o.KeyGenerator = table.KeyGenTimestampBased }, table.ErrMissingProperty},
		{"unknown type", func(o *table.CreateOptions) {
			o.Timestamp = table.TimestampKeyGen{Type: "EPOCH", OutputDateFormat: "yyyy"}
		}, table.ErrUnsupportedFeature},
		{"bad zone", func(o *table.CreateOptions) {
			o.Timestamp = table.TimestampKeyGen{Type: "UNIX_TIMESTAMP", OutputDateFormat: "yyyy", Timezone: "Mars/Olympus"}
		}, table.ErrUnsupportedFeature},
		{"other key generator", func(o *table.CreateOptions) {
			o.KeyGenerator = table.KeyGenSimple
			o.Timestamp = table.TimestampKeyGen{Type: "UNIX_TIMESTAMP", OutputDateFormat: "yyyy"}
		}, table.ErrInvalidConfig},
		{"two partition fields", func(o *table.CreateOptions) {
			o.PartitionFields = []string{"ts", "id"}
			o.Timestamp = table.TimestampKeyGen{Type: "UNIX_TIMESTAMP", OutputDateFormat: "yyyy"}
		}, table.ErrInvalidConfig},
	} {
		o := base
		c.edit(&o)
		_, err := table.NewConfig(o)
		assert.ErrorIs(t, err, c.want, c.name)
	}
	// A table Spark created: the type is not recorded; it opens.
	cfg, err := table.ParseConfig(map[string]string{
		table.KeyName: "t", table.KeyType: "COPY_ON_WRITE", table.KeyVersion: "6", table.KeyTimelineLayoutVersion: "1",
		table.KeyRecordKeyFields: "id", table.KeyPartitionFields: "ts", table.KeyKeyGenerator: table.KeyGenTimestampBased,
		table.KeyTimestampOutputDateFormat: "yyyy/MM/dd",
	})
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, "yyyy/MM/dd", cfg.Timestamp.OutputDateFormat)
}
