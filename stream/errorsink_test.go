package stream_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/internal/testutil/s3server"
	"github.com/hoodie-lake/hoodie/storage"
	"github.com/hoodie-lake/hoodie/stream"
)

func errorRecords(n int, from int) []stream.ErrorRecord {
	var recs []stream.ErrorRecord
	for i := 0; i < n; i++ {
		recs = append(recs, stream.ErrorRecord{
			Table: "/t/a", Unit: "orders/3", Position: string(rune('0' + from + i)),
			Field: "amount", Reason: `not a number: "x"`, Key: []byte("k"), Value: []byte(`{"amount":"x"}`),
			Time: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC),
		})
	}
	return recs
}

func readLines(t *testing.T, b []byte) []stream.ErrorRecord {
	t.Helper()
	var out []stream.ErrorRecord
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		var r stream.ErrorRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), sc.Text())
		out = append(out, r)
	}
	return out
}

func TestFileErrorSink(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "errors.jsonl")
	s, err := stream.NewFileErrorSink(path)
	require.NoError(t, err)
	require.NoError(t, s.Write(ctx, nil))
	require.NoError(t, s.Write(ctx, errorRecords(2, 0)))
	// Durable on return: another reader sees the lines before Close.
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, errorRecords(2, 0), readLines(t, b))
	require.NoError(t, s.Write(ctx, errorRecords(1, 2)))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	require.Error(t, s.Write(ctx, errorRecords(1, 3)), "closed")

	// A second sink appends.
	s, err = stream.NewFileErrorSink(path)
	require.NoError(t, err)
	require.NoError(t, s.Write(ctx, errorRecords(1, 3)))
	require.NoError(t, s.Close())
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, errorRecords(4, 0), readLines(t, b))

	_, err = stream.NewFileErrorSink(filepath.Join(t.TempDir(), "missing", "dir", "e.jsonl"))
	require.ErrorContains(t, err, "stream: error output")
	_, err = stream.NewFileErrorSink("")
	require.Error(t, err)

	s, err = stream.NewFileErrorSink("-")
	require.NoError(t, err)
	require.NoError(t, s.Close())
}

// storageSinkObjects returns the objects under prefix, in name order, and
// the records they hold.
func storageSinkObjects(t *testing.T, st storage.Storage, prefix string) ([]string, []stream.ErrorRecord) {
	t.Helper()
	var names []string
	var recs []stream.ErrorRecord
	for oi, err := range st.List(context.Background(), prefix, "") {
		require.NoError(t, err)
		names = append(names, oi.Path)
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := storage.ReadFile(context.Background(), st, n)
		require.NoError(t, err)
		recs = append(recs, readLines(t, b)...)
	}
	return names, recs
}

func checkStorageErrorSink(t *testing.T, st storage.Storage) {
	ctx := context.Background()
	s := stream.NewStorageErrorSink(st, "errors/orders/")
	require.NoError(t, s.Write(ctx, nil))
	require.NoError(t, s.Write(ctx, errorRecords(2, 0)))
	require.NoError(t, s.Write(ctx, errorRecords(1, 2)))
	other := stream.NewStorageErrorSink(st, "errors/orders")
	require.NoError(t, other.Write(ctx, errorRecords(1, 3)))
	require.NoError(t, s.Close())
	require.NoError(t, other.Close())
	require.Error(t, s.Write(ctx, errorRecords(1, 4)), "closed")

	names, recs := storageSinkObjects(t, st, "errors/orders/")
	require.Len(t, names, 3, "one object per Write")
	for _, n := range names {
		require.Regexp(t, `^errors/orders/\d{8}T\d{6}\.\d{9}Z-[0-9a-f]{8}-\d{6}\.jsonl$`, n)
	}
	require.Equal(t, errorRecords(4, 0), recs, "names sort by time")

	root := stream.NewStorageErrorSink(st, "")
	require.NoError(t, root.Write(ctx, errorRecords(1, 0)))
	names, _ = storageSinkObjects(t, st, "")
	require.Len(t, names, 4)
}

func TestStorageErrorSinkLocal(t *testing.T) {
	st, err := storage.Open(context.Background(), t.TempDir(), storage.Options{})
	require.NoError(t, err)
	checkStorageErrorSink(t, st)
}

func TestStorageErrorSinkS3(t *testing.T) {
	srv := s3server.Start(t)
	t.Cleanup(func() { require.NoError(t, s3server.Stop()) })
	loc, opts := srv.NewLocation(t)
	st, err := storage.Open(context.Background(), loc+"/lake", opts)
	require.NoError(t, err)
	checkStorageErrorSink(t, st)
}
