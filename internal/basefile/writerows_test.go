package basefile_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hoodie-lake/hoodie/internal/basefile"
	"github.com/hoodie-lake/hoodie/internal/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteRowsSelects writes scattered rows of a batch, flat and nested
// columns with nulls, and reads back exactly those rows in that order.
func TestWriteRowsSelects(t *testing.T) {
	as := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, as)
	for i := 0; i < 6; i++ {
		if i == 4 {
			b.Field(0).AppendNull()
			b.Field(1).AppendNull()
			b.Field(2).AppendNull()
			continue
		}
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("s%d", i))
		b.Field(1).(*array.Int64Builder).Append(int64(i))
		lb := b.Field(2).(*array.ListBuilder)
		lb.Append(true)
		for j := 0; j <= i; j++ {
			lb.ValueBuilder().(*array.Int32Builder).Append(int32(i*10 + j))
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	sch, err := schema.FromArrow(as, "t")
	require.NoError(t, err)

	var buf bytes.Buffer
	w, err := basefile.NewWriter(&buf, sch, basefile.WriterOptions{})
	require.NoError(t, err)
	rows := []int{5, 0, 4, 2}
	keys := []string{"k5", "k0", "k4", "k2"}
	require.NoError(t, w.WriteRows(basefile.Meta{
		CommitTime: basefile.Const("1"), SeqNo: basefile.Sequence("1_0_", 0), RecordKey: basefile.PerRow(keys),
		PartitionPath: basefile.Const(""), FileName: basefile.Const("f"),
	}, rec, rows))
	require.Error(t, w.WriteRows(basefile.Meta{}, rec, []int{6}), "out of range")
	info, err := w.Close()
	require.NoError(t, err)
	assert.Equal(t, int64(4), info.Rows)
	assert.Equal(t, "k0", info.MinRecordKey)
	assert.Equal(t, "k5", info.MaxRecordKey)

	rd, err := basefile.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	var got []string
	for r, err := range rd.Records(context.Background(), 0, nil) {
		require.NoError(t, err)
		for i := 0; i < int(r.NumRows()); i++ {
			row := []string{}
			for _, c := range r.Columns()[2:] {
				row = append(row, c.ValueStr(i))
			}
			got = append(got, fmt.Sprint(row))
		}
		r.Release()
	}
	assert.Equal(t, []string{
		"[k5  f s5 5 [50,51,52,53,54,55]]",
		"[k0  f s0 0 [0]]",
		"[k4  f (null) (null) (null)]",
		"[k2  f s2 2 [20,21,22]]",
	}, got)
}
