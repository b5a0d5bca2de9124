package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hoodie-lake/hoodie/internal/testbroker"
	"github.com/hoodie-lake/hoodie/stream"
	"github.com/hoodie-lake/hoodie/stream/kafka"
)

// TestDeadLetterRoundTrip writes refused records to a dead-letter topic and
// reads them back: the original key and value, the reason and the source
// position in headers.
func TestDeadLetterRoundTrip(t *testing.T) {
	b := testbroker.Kafka(t)
	topic := b.NewTopic(t, 1)
	dl, err := kafka.NewDeadLetter(kafka.DeadLetterOptions{Brokers: []string{b.Addr()}, Topic: topic})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs := []stream.ErrorRecord{
		{Table: "/lake/orders", Unit: "orders/3", Position: "41", Field: "amount", Reason: "not a number",
			Key: []byte("k1"), Value: []byte(`{"amount":"x"}`), Time: time.Now()},
		{Unit: "orders/0", Position: "7", Reason: "malformed JSON", Value: []byte(`{`)},
	}
	require.NoError(t, dl.Write(ctx, recs))
	require.NoError(t, dl.Write(ctx, nil))
	require.NoError(t, dl.Close())

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.RequestTimeoutOverhead(10*time.Second))
	require.NoError(t, err)
	defer cl.Close()
	var got []*kgo.Record
	for len(got) < len(recs) {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		got = append(got, fs.Records()...)
	}
	require.Len(t, got, 2)
	headers := func(r *kgo.Record) map[string]string {
		h := map[string]string{}
		for _, kv := range r.Headers {
			h[kv.Key] = string(kv.Value)
		}
		return h
	}
	require.Equal(t, "k1", string(got[0].Key))
	require.JSONEq(t, `{"amount":"x"}`, string(got[0].Value))
	require.Equal(t, map[string]string{
		kafka.HeaderReason: "not a number", kafka.HeaderField: "amount", kafka.HeaderUnit: "orders/3",
		kafka.HeaderPosition: "41", kafka.HeaderTable: "/lake/orders",
	}, headers(got[0]))
	require.Nil(t, got[1].Key)
	require.Equal(t, "{", string(got[1].Value))
	require.Equal(t, map[string]string{
		kafka.HeaderReason: "malformed JSON", kafka.HeaderField: "", kafka.HeaderUnit: "orders/0",
		kafka.HeaderPosition: "7", kafka.HeaderTable: "",
	}, headers(got[1]))

	_, err = kafka.NewDeadLetter(kafka.DeadLetterOptions{Brokers: []string{b.Addr()}})
	require.ErrorIs(t, err, kafka.ErrOptions)
}
