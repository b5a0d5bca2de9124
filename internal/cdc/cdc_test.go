package cdc

import (
	"encoding/json"
	"errors"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func row(t *testing.T, ev *Event, field string) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(ev.Row[field], &v))
	return v
}

func TestParsePostgres(t *testing.T) {
	ev, err := Parse([]byte(`{"before":null,"after":{"id":7,"name":"x"},"source":{"connector":"postgresql","lsn":24023128,"ts_ms":1764578400123},"op":"c","ts_ms":1764578400200}`), Auto)
	require.NoError(t, err)
	assert.Equal(t, Create, ev.Op)
	assert.Equal(t, KindLSN, ev.Kind)
	assert.Equal(t, "00000000000024023128", ev.Pos)
	assert.Equal(t, int64(1764578400123), ev.TsMs)
	assert.Equal(t, []string{"id", "name"}, ev.Fields)
	assert.Equal(t, "00000000000024023128", row(t, ev, PosField))
	assert.Equal(t, "c", row(t, ev, OpField))
	assert.Equal(t, float64(1764578400123), row(t, ev, TsField))
	assert.Nil(t, ev.Types)

	// Deletes take the before image; --order ts_ms ignores the lsn.
	ev, err = Parse([]byte(`{"before":{"id":7},"after":null,"source":{"lsn":"24023200","ts_ms":5},"op":"d"}`), TsMs)
	require.NoError(t, err)
	assert.True(t, ev.Op.IsDelete())
	assert.Equal(t, KindTsMs, ev.Kind)
	assert.Equal(t, "00000000000000000005", ev.Pos)
	assert.Equal(t, float64(7), row(t, ev, "id"))
}

func TestParseMySQLOrdering(t *testing.T) {
	pos := func(file string, p, r int) string {
		b, _ := json.Marshal(map[string]any{"after": map[string]any{"id": 1}, "op": "u",
			"source": map[string]any{"connector": "mysql", "file": file, "pos": p, "row": r, "ts_ms": 1}})
		ev, err := Parse(b, Auto)
		require.NoError(t, err)
		assert.Equal(t, KindBinlog, ev.Kind)
		return ev.Pos
	}
	// Source order: file index, then pos, then row; numeric, whatever the
	// digits (a 7-digit index after 999999).
	ordered := []string{
		pos("mysql-bin.000009", 900000, 0),
		pos("mysql-bin.000010", 4, 0),
		pos("mysql-bin.000010", 154, 0),
		pos("mysql-bin.000010", 154, 1),
		pos("mysql-bin.000010", 1000, 0),
		pos("mysql-bin.999999", 4, 0),
		pos("mysql-bin.1000000", 4, 0),
	}
	assert.True(t, sort.StringsAreSorted(ordered), "%v", ordered)
	assert.Equal(t, "0000000010.00000000000000000154.0000000001", ordered[3])
}

func TestParseEnvelope(t *testing.T) {
	line := `{"schema":{"type":"struct","fields":[
	  {"type":"struct","optional":true,"field":"before","fields":[{"type":"int32","field":"id"}]},
	  {"type":"struct","optional":true,"field":"after","fields":[
	    {"type":"int32","optional":false,"field":"id"},
	    {"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"price"},
	    {"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","field":"at"},
	    {"type":"boolean","optional":true,"field":"ok"},
	    {"type":"string","optional":true,"field":"s"}]},
	  {"type":"struct","field":"source","fields":[]}]},
	 "payload":{"before":null,"after":{"id":3,"price":"/zg=","at":1700000000000000,"ok":true,"s":"x"},
	  "source":{"connector":"mysql","file":"binlog.000002","pos":500,"row":0,"ts_ms":9},"op":"r","ts_ms":10}}`
	ev, err := Parse([]byte(line), Auto)
	require.NoError(t, err)
	assert.Equal(t, Read, ev.Op)
	assert.Equal(t, "-2.00", row(t, ev, "price"), "0xff38 = -200, scale 2")
	assert.Equal(t, arrow.PrimitiveTypes.Int32, ev.Types["id"])
	assert.Equal(t, arrow.BinaryTypes.String, ev.Types["price"])
	assert.Equal(t, arrow.PrimitiveTypes.Int64, ev.Types["at"])
	assert.Equal(t, arrow.FixedWidthTypes.Boolean, ev.Types["ok"])
	assert.Equal(t, "0000000002.00000000000000000500.0000000000", ev.Pos)

	d, err := decodeDecimal("AMg=", 3) // 200
	require.NoError(t, err)
	assert.Equal(t, "0.200", d)
}

func TestParseTombstonesAndErrors(t *testing.T) {
	for _, l := range []string{`null`, `  `, `{"schema":{"type":"struct"},"payload":null}`} {
		ev, err := Parse([]byte(l), Auto)
		assert.NoError(t, err, l)
		assert.Nil(t, ev, l)
	}
	for l, field := range map[string]string{
		`{broken`:                               "",
		`[1,2]`:                                 "",
		`{"after":{"id":1},"source":{"lsn":1}}`: "op",
		`{"after":{"id":1},"op":"x","source":{}}`:                               "op",
		`{"after":{"id":1},"op":"q","source":{}}`:                               "op",
		`{"after":null,"op":"c","source":{}}`:                                   "after",
		`{"before":null,"op":"d","source":{}}`:                                  "before",
		`{"after":{"id":1},"op":"c","source":{}}`:                               "source.ts_ms",
		`{"after":{"id":1},"op":"c","source":{"lsn":-4}}`:                       "source.lsn",
		`{"after":{"id":1},"op":"c","source":{"file":"mysql-bin.log","pos":1}}`: "source.file",
		`{"after":{"id":1},"op":"c","source":{"file":"mysql-bin.000001"}}`:      "source.pos",
	} {
		ev, err := Parse([]byte(l), Auto)
		require.Error(t, err, l)
		assert.Nil(t, ev)
		var ce *Error
		require.True(t, errors.As(err, &ce), l)
		assert.Equal(t, field, ce.Field, l)
		assert.NotEmpty(t, ce.Reason)
	}
	// ts_ms of the envelope when source has none.
	ev, err := Parse([]byte(`{"after":{"id":1},"op":"c","source":{},"ts_ms":42}`), Auto)
	require.NoError(t, err)
	assert.Equal(t, KindTsMs, ev.Kind)
	assert.Equal(t, "00000000000000000042", ev.Pos)
}

// TestParseTruncateMessageAndZeroTs: truncate and message events parse
// with no row (the caller decides what they do); a ts_ms of 0 is kept as
// 0, not dropped.
func TestParseTruncateMessageAndZeroTs(t *testing.T) {
	ev, err := Parse([]byte(`{"before":null,"after":null,"op":"t","ts_ms":5,"source":{"schema":"public","table":"users","db":"shop","lsn":77,"ts_ms":4}}`), Auto)
	require.NoError(t, err)
	assert.Equal(t, Truncate, ev.Op)
	assert.False(t, ev.Op.HasRow())
	assert.Equal(t, "public.users", ev.Table)
	assert.Equal(t, "00000000000000000077", ev.Pos)
	assert.Nil(t, ev.Row)

	ev, err = Parse([]byte(`{"op":"m","ts_ms":5,"source":{"db":"shop","table":""},"message":{"prefix":"p","content":"aGk="}}`), Auto)
	require.NoError(t, err)
	assert.Equal(t, Message, ev.Op)
	assert.Equal(t, "", ev.Table)

	ev, err = Parse([]byte(`{"op":"t","source":{"db":"shop","table":"orders"}}`), Auto)
	require.NoError(t, err, "no position: truncates apply in read order")
	assert.Equal(t, "shop.orders", ev.Table)
	assert.Equal(t, Kind(""), ev.Kind)

	ev, err = Parse([]byte(`{"after":{"id":1},"op":"c","ts_ms":0,"source":{"lsn":3,"ts_ms":0}}`), Auto)
	require.NoError(t, err)
	assert.True(t, ev.HasTs)
	assert.Equal(t, "0", string(ev.Row[TsField]))
	ev, err = Parse([]byte(`{"after":{"id":1},"op":"c","source":{"lsn":3}}`), Auto)
	require.NoError(t, err)
	assert.Equal(t, "null", string(ev.Row[TsField]), "no ts_ms at all")
	ev, err = Parse([]byte(`{"after":{"id":1},"op":"c","source":{"ts_ms":0}}`), Auto)
	require.NoError(t, err, "ts_ms 0 orders like any other")
	assert.Equal(t, "00000000000000000000", ev.Pos)
}
