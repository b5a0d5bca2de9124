package cdc

import (
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hoodie-lake/hoodie/internal/ingest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTableRowsAndReader(t *testing.T) {
	tb := NewTable()
	parse := func(line string) *Event {
		ev, err := Parse([]byte(line), Auto)
		require.NoError(t, err)
		return ev
	}
	js1, del, err := tb.Row(parse(`{"op":"c","after":{"id":1,"b":"x"},"source":{"lsn":5,"ts_ms":1}}`), false)
	require.NoError(t, err)
	assert.False(t, del)
	assert.Equal(t, KindLSN, tb.Kind())
	js2, del, err := tb.Row(parse(`{"op":"d","before":{"id":1,"a":2},"source":{"lsn":6,"ts_ms":2}}`), true)
	require.NoError(t, err)
	assert.False(t, del, "a soft delete is a row")
	// Another kind of position is refused, and leaves no trace.
	_, _, err = tb.Row(parse(`{"op":"c","after":{"id":2,"z":1},"source":{"file":"b.000001","pos":4,"ts_ms":1}}`), false)
	var ce *Error
	require.True(t, errors.As(err, &ce))
	assert.Equal(t, PosField, ce.Field)

	rd, err := tb.Reader(append(append(append(js1, '\n'), js2...), '\n'), nil, ingest.Options{SampleRows: 2})
	require.NoError(t, err)
	defer rd.Close()
	b, err := rd.Next()
	require.NoError(t, err)
	defer b.Rec.Release()
	var names []string
	for _, f := range b.Rec.Schema().Fields() {
		names = append(names, f.Name)
	}
	assert.Equal(t, []string{"id", "b", "a", PosField, OpField, TsField, DeletedField}, names)
	assert.Equal(t, arrow.FixedWidthTypes.Boolean, b.Rec.Schema().Field(6).Type)
}

func TestKeyFieldsAndSource(t *testing.T) {
	fs, err := KeyFields([]byte(`{"schema":{"type":"struct","fields":[{"type":"int32","field":"b"},{"type":"int32","field":"a"}]},"payload":{"a":1,"b":2}}`))
	require.NoError(t, err)
	assert.Equal(t, []string{"b", "a"}, fs)
	fs, err = KeyFields([]byte(`{"a":1,"b":2}`))
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, fs)
	_, err = KeyFields(nil)
	assert.Error(t, err)

	db, sch, table, ok, err := Source([]byte(`{"op":"c","source":{"db":"d","schema":"s","table":"t"}}`))
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, []string{"d", "s", "t"}, []string{db, sch, table})
	_, _, _, ok, err = Source([]byte(`null`))
	require.NoError(t, err)
	assert.False(t, ok)
}
