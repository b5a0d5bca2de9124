package payload_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hamba/avro/v2"

	"github.com/hoodie-lake/hoodie/stream/payload"
)

// FuzzDecode decodes arbitrary messages as JSON and as Debezium events
// (the lines of data; a line "~" is a Kafka tombstone), twice: the second
// time against the first call's schema, as the next batch of a table. It
// checks that every message is accounted for exactly once: a row, a bad
// message, a tombstone, a skipped message or a truncate.
func FuzzDecode(f *testing.F) {
	f.Add(uint8(0), []byte(`{"id":1,"s":"x"}`+"\n"+`{"id":"y"}`+"\n~\n[1]\n{\"a\":{\"b\":[1,2]}}"))
	f.Add(uint8(1), []byte(pgEvent("c", nil, map[string]any{"id": 1, "n": "a"}, 10)+"\n"+
		pgEvent("d", map[string]any{"id": 1}, nil, 11)+"\n~\n"+
		`{"op":"t","source":{"lsn":20,"ts_ms":1,"schema":"public","table":"users"},"ts_ms":1}`+"\n"+
		`{"op":"m","source":{"lsn":13,"ts_ms":1}}`+"\n"+`{"schema":{},"payload":null}`))
	f.Add(uint8(3), []byte(`{"schema":{"type":"struct","fields":[{"type":"struct","field":"after","fields":[{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"},"field":"p"}]}]},"payload":{"after":{"p":"/zg="},"op":"c","source":{"lsn":1}}}`))
	f.Add(uint8(4), []byte("\x00\x00\x00\x00\x05{\"id\":1}\n{\"d\":\"2026-01-02\",\"t\":\"2026-01-02T03:04:05Z\"}"))
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		opts := payload.Options{Format: payload.JSON, InferDates: mode&4 != 0, Confluent: mode&8 != 0}
		if mode&1 != 0 {
			opts = payload.Options{Format: payload.Debezium, SoftDeletes: mode&2 != 0, Confluent: mode&8 != 0}
			if mode&16 != 0 {
				opts.Order = payload.OrderTsMs
			}
		}
		var in []payload.Input
		for _, l := range bytes.Split(data, []byte{'\n'}) {
			if string(l) == "~" {
				l = nil
			}
			in = append(in, payload.Input{Value: l})
		}
		dec, err := payload.NewDecoder(opts)
		if err != nil {
			t.Fatal(err)
		}
		res, err := dec.Decode(in, nil)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		defer res.Release()
		account(t, res, len(in))
		for _, p := range res.Parts {
			if p.Upserts == nil {
				continue
			}
			res2, err := dec.Decode(in, p.Upserts.Schema())
			if err != nil {
				t.Fatalf("Decode against the table schema: %v", err)
			}
			account(t, res2, len(in))
			res2.Release()
			break
		}
	})
}

// account checks that each of n messages is accounted for exactly once.
func account(t *testing.T, res *payload.Result, n int) {
	t.Helper()
	total := res.Tombstones + res.Messages + len(res.Bad)
	seen := map[int]bool{}
	for _, b := range res.Bad {
		if seen[b.Index] || b.Index < 0 || b.Index >= n || b.Reason == "" {
			t.Fatalf("bad message %+v reported twice, out of range or without a reason", b)
		}
		seen[b.Index] = true
	}
	next := 0
	for _, p := range res.Parts {
		if p.From != next || p.To < p.From {
			t.Fatalf("parts do not cover the messages in order: %+v after %d", p, next)
		}
		next = p.To
		if p.Truncate {
			total++
			continue
		}
		total += rows(t, p, p.Upserts, p.UpsertIndex) + rows(t, p, p.Deletes, p.DeleteIndex)
	}
	if n > 0 && next != n {
		t.Fatalf("parts cover %d of %d messages", next, n)
	}
	if total != n {
		t.Fatalf("%d messages, %d accounted for (%d tombstones, %d skipped, %d bad)", n, total, res.Tombstones, res.Messages, len(res.Bad))
	}
}

// FuzzDecodeAvro decodes arbitrary bodies (the data split at "\n~\n")
// with testdata/event.avsc: every body is a row or a bad message.
func FuzzDecodeAvro(f *testing.F) {
	js, err := os.ReadFile("testdata/event.avsc")
	if err != nil {
		f.Fatal(err)
	}
	s, err := avro.Parse(string(js))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range []event{{ID: 1}, fullEvent(2, nonASCII)} {
		b, err := avro.Marshal(s, e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var in []payload.Input
		for _, b := range bytes.Split(data, []byte("\n~\n")) {
			in = append(in, payload.Input{Value: b})
		}
		dec, err := payload.NewDecoder(payload.Options{Format: payload.Avro, AvroSchema: string(js)})
		if err != nil {
			t.Fatal(err)
		}
		res, err := dec.Decode(in, nil)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		defer res.Release()
		account(t, res, len(in))
	})
}

// rows checks the message index of each row of rec and counts them.
func rows(t *testing.T, p payload.Part, rec arrow.RecordBatch, index []int) int {
	t.Helper()
	n := 0
	if rec != nil {
		n = int(rec.NumRows())
	}
	if len(index) != n {
		t.Fatalf("%d rows, %d message indexes", n, len(index))
	}
	for i, x := range index {
		if x < p.From || x >= p.To || (i > 0 && x <= index[i-1]) {
			t.Fatalf("message indexes %v of part [%d, %d)", index, p.From, p.To)
		}
	}
	return n
}
