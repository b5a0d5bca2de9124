package table_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/table"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEscapePartitionValue(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"san_francisco", "san_francisco"},
		{"2023/04/01", "2023%2F04%2F01"},
		{`"#%'*/:=?\{[]^`, "%22%23%25%27%2A%2F%3A%3D%3F%5C%7B%5B%5D%5E"},
		{"a\x01b\x1fc\x7fd", "a%01b%1Fc%7Fd"},
		{"\x00", "%00"}, // Hive's charToEscape loop sets 0x00 too
		{"são paulo", "são paulo"},
		{"a+b c&d<e>f|g}h~i`j$k;l,m@n!o", "a+b c&d<e>f|g}h~i`j$k;l,m@n!o"},
		{"2024-01-01 10:00:00", "2024-01-01 10%3A00%3A00"},
	} {
		got := table.EscapePartitionValue(tc.in)
		assert.Equal(t, tc.want, got, "%q", tc.in)
		assert.Equal(t, tc.in, table.UnescapePartitionValue(got), "round trip %q", tc.in)
	}
	for i := 0; i < 256; i++ {
		s := "x" + string([]byte{byte(i)}) + "y"
		assert.Equal(t, s, table.UnescapePartitionValue(table.EscapePartitionValue(s)), "byte %#x", i)
	}
}

func TestUnescapePartitionValue(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"%2F", "/"},
		{"a%2f", "a/"},
		{"%", "%"},
		{"%2", "%2"},
		{"%zz", "%zz"},
		{"%%2F", "%/"},
		{"100%", "100%"},
		{"%+1", "%+1"},
	} {
		assert.Equal(t, tc.want, table.UnescapePartitionValue(tc.in), "%q", tc.in)
	}
}

func TestPartitionPath(t *testing.T) {
	for _, tc := range []struct {
		name            string
		fields, values  []string
		hive, urlEncode bool
		want            string
	}{
		{"non-partitioned", nil, nil, false, false, ""},
		{"simple", []string{"byteField"}, []string{"10"}, false, false, "10"},
		{"hive", []string{"byteField", "shortField"}, []string{"10", "300"}, true, false, "byteField=10/shortField=300"},
		{"empty becomes default", []string{"city"}, []string{""}, true, false, "city=" + table.DefaultPartition},
		{"default non-hive", []string{"a", "b"}, []string{"", "x"}, false, false, table.DefaultPartition + "/x"},
		{"url encoded", []string{"ts"}, []string{"2023/04/01 12:00"}, true, true, "ts=2023%2F04%2F01 12%3A00"},
		{"encoded dots stay", []string{"v"}, []string{".."}, true, true, "v=.."},
		{"hive dot value", []string{"v"}, []string{"."}, true, false, "v=."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := table.PartitionPath(tc.fields, tc.values, tc.hive, tc.urlEncode)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.NoError(t, table.ValidatePartitionPath(got))
		})
	}
	for _, tc := range []struct {
		name            string
		fields, values  []string
		hive, urlEncode bool
	}{
		{"slash without encoding", []string{"d"}, []string{"2023/04"}, false, false},
		{"slash hive without encoding", []string{"d"}, []string{"a/b"}, true, false},
		{"dotdot", []string{"d"}, []string{".."}, false, false},
		{"dotdot encoded non-hive", []string{"d"}, []string{".."}, false, true},
		{"dot", []string{"d"}, []string{"."}, false, false},
		{"hoodie dir", []string{"d"}, []string{".hoodie"}, false, false},
		{"length mismatch", []string{"a", "b"}, []string{"1"}, false, false},
		{"bad field", []string{"a=b"}, []string{"1"}, true, false},
		{"empty field", []string{""}, []string{"1"}, true, false},
		{"backslash", []string{"d"}, []string{`a\b`}, false, false},
	} {
		t.Run("refuse "+tc.name, func(t *testing.T) {
			_, err := table.PartitionPath(tc.fields, tc.values, tc.hive, tc.urlEncode)
			require.ErrorIs(t, err, table.ErrInvalidPartitionPath)
		})
	}
}

func TestValidatePartitionPath(t *testing.T) {
	for _, ok := range []string{"", "10", "a=1/b=2", "2023/04/01/12", "city=são paulo", "x..y", ".x"} {
		assert.NoError(t, table.ValidatePartitionPath(ok), "%q", ok)
	}
	for _, bad := range []string{"/", "/a", "a/", "a//b", ".", "..", "a/../b", "a/./b", ".hoodie", "a/.hoodie_partition_metadata", "a\\b", "a\x00"} {
		assert.ErrorIs(t, table.ValidatePartitionPath(bad), table.ErrInvalidPartitionPath, "%q", bad)
	}
}

func TestPartitionDepth(t *testing.T) {
	assert.Equal(t, 0, table.PartitionDepth(""))
	assert.Equal(t, 1, table.PartitionDepth("10"))
	assert.Equal(t, 2, table.PartitionDepth("a=1/b=2"))
	assert.Equal(t, 4, table.PartitionDepth("2023/04/01/12"))
	assert.Equal(t, ".hoodie_partition_metadata", table.PartitionMetadataPath(""))
	assert.Equal(t, "a=1/b=2/.hoodie_partition_metadata", table.PartitionMetadataPath("a=1/b=2"))
}

func TestWritePartitionMetadata(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	require.NoError(t, table.WritePartitionMetadata(ctx, st, "2023/04/01/12", "20240418181355771"))
	// A later commit touching the partition keeps the first file.
	require.NoError(t, table.WritePartitionMetadata(ctx, st, "2023/04/01/12", "20240418181357522"))
	md, err := table.ReadPartitionMetadata(ctx, st, "2023/04/01/12")
	require.NoError(t, err)
	assert.Equal(t, table.PartitionMetadata{CommitTime: "20240418181355771", PartitionDepth: 4}, md)

	b, err := storage.ReadFile(ctx, st, "2023/04/01/12/.hoodie_partition_metadata")
	require.NoError(t, err)
	lines := strings.Split(string(b), "\n")
	require.Len(t, lines, 5)
	assert.Equal(t, "#partition metadata", lines[0])
	assert.Regexp(t, `^#\w{3} \w{3} \d\d \d\d:\d\d:\d\d UTC \d{4}$`, lines[1])
	assert.Equal(t, []string{"commitTime=20240418181355771", "partitionDepth=4", ""}, lines[2:])

	require.NoError(t, table.WritePartitionMetadata(ctx, st, "", "20240418181355771"))
	md, err = table.ReadPartitionMetadata(ctx, st, "")
	require.NoError(t, err)
	assert.Equal(t, 0, md.PartitionDepth)

	assert.ErrorIs(t, table.WritePartitionMetadata(ctx, st, "../x", "20240418181355771"), table.ErrInvalidPartitionPath)
	assert.ErrorIs(t, table.WritePartitionMetadata(ctx, st, "x", "2024"), table.ErrInvalidConfig)
	_, err = table.ReadPartitionMetadata(ctx, st, "missing")
	assert.ErrorIs(t, err, storage.ErrNotExist)

	require.NoError(t, storage.WriteFile(ctx, st, "bad/.hoodie_partition_metadata", []byte("commitTime=1\n"), storage.CreateOptions{}))
	_, err = table.ReadPartitionMetadata(ctx, st, "bad")
	assert.ErrorIs(t, err, table.ErrInvalidConfig)
}

func TestListPartitions(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMem()
	parts, err := table.ListPartitions(ctx, st)
	require.NoError(t, err)
	assert.Empty(t, parts)

	for _, p := range []string{"a=1/b=2", "a=1", "a-b", "z"} {
		require.NoError(t, table.WritePartitionMetadata(ctx, st, p, "20240101000000000"))
	}
	for _, k := range []string{
		".hoodie/metadata/files/.hoodie_partition_metadata", // metadata table partitions are not data partitions
		"nometa/f.parquet",
		"z/x.parquet",
		"y/.hoodie_partition_metadata_1", // Java's temp name
	} {
		require.NoError(t, storage.WriteFile(ctx, st, k, []byte("x"), storage.CreateOptions{}))
	}
	parts, err = table.ListPartitions(ctx, st)
	require.NoError(t, err)
	assert.Equal(t, []string{"a-b", "a=1", "a=1/b=2", "z"}, parts)

	np := storage.NewMem()
	require.NoError(t, table.WritePartitionMetadata(ctx, np, "", "20240101000000000"))
	parts, err = table.ListPartitions(ctx, np)
	require.NoError(t, err)
	assert.Equal(t, []string{""}, parts)
}
