package examplestest

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hoodie-lake/hoodie/internal/testbroker"
)

// TestKafkaService runs examples/kafka-service against a real Kafka broker
// twice on one table: 3,000 events (1,000 keys, each updated twice, one of
// the updates late) are committed as 1,000 rows; a second run with the
// same group reads 500 new events from the table's offsets, not again
// from the start.
func TestKafkaService(t *testing.T) {
	kb := testbroker.Kafka(t)
	topic := kb.NewTopic(t, 3)
	dir := filepath.Join(t.TempDir(), "events")
	produce := func(from, to int, ts func(i int) int64) {
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			key := fmt.Sprintf("k%04d", i%1000)
			v, err := json.Marshal(map[string]any{"uuid": key, "ts": ts(i), "region": []string{"eu", "us"}[i%2], "n": i})
			require.NoError(t, err)
			recs = append(recs, &kgo.Record{Partition: int32(i % 1000 % 3), Key: []byte(key), Value: v})
		}
		kb.Produce(t, topic, recs...)
	}
	// Round r of a key has event time 10*r, except round 2, which is late (5).
	produce(0, 3000, func(i int) int64 { return map[int]int64{0: 10, 1: 20, 2: 5}[i/1000] })
	args := []string{"-brokers", kb.Addr(), "-topic", topic, "-group", "svc", "-table", dir}
	out := goRun(t, "kafka-service", goEnv(), append(args, "-until", "3000")...)
	t.Logf("first run:\n%s", out)
	assert.Contains(t, out, "the table holds 1000 rows\n")

	produce(3000, 3500, func(int) int64 { return 30 })
	again := goRun(t, "kafka-service", goEnv(), append(args, "-until", "500")...)
	t.Logf("second run:\n%s", again)
	assert.Contains(t, again, "committed 500 records")
	assert.Contains(t, again, "the table holds 1000 rows\n")
}
