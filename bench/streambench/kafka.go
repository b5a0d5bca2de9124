package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// broker is a Kafka broker started by scripts/kafka.sh in dir.
type broker struct {
	script, dir string
	addr        string
}

// startBroker starts a broker with `kafka.sh start DIR` (which fetches the
// jars once); the broker also stops when this process ends.
func startBroker(ctx context.Context, script, dir string) (*broker, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute) // includes a first fetch from Maven
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, "start", dir)
	cmd.Env = append(os.Environ(), "KAFKA_WATCH_PID="+strconv.Itoa(os.Getpid()))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("streambench: %s start %s: %w\n%s", script, dir, err, errb.String())
	}
	lines := strings.Fields(out.String())
	if len(lines) == 0 {
		return nil, fmt.Errorf("streambench: %s start printed no address\n%s", script, errb.String())
	}
	return &broker{script: script, dir: dir, addr: lines[len(lines)-1]}, nil
}

// stop stops the broker (with a context of its own: it runs on the way out).
func (b *broker) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", b.script, "stop", b.dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("streambench: %s stop: %w\n%s", b.script, err, out)
	}
	return nil
}

// kafkaClient is a producer and admin client of the broker.
type kafkaClient struct {
	cl  *kgo.Client
	adm *kadm.Client
}

func newKafkaClient(addr string) (*kafkaClient, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.DialTimeout(10*time.Second),
		kgo.RequestTimeoutOverhead(10*time.Second),
		kgo.RetryTimeout(30*time.Second),
		kgo.RecordDeliveryTimeout(time.Minute),
		kgo.ProducerBatchMaxBytes(1<<20),
		kgo.MaxBufferedRecords(100_000),
	)
	if err != nil {
		return nil, fmt.Errorf("streambench: kafka client: %w", err)
	}
	return &kafkaClient{cl: cl, adm: kadm.NewClient(cl)}, nil
}

func (k *kafkaClient) close() { k.cl.Close() }

// createTopic creates topic with partitions partitions.
func (k *kafkaClient) createTopic(ctx context.Context, topic string, partitions int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := k.adm.CreateTopic(ctx, int32(partitions), 1, nil, topic); err != nil {
		return fmt.Errorf("streambench: create topic %s: %w", topic, err)
	}
	return nil
}

// endOffsets returns the topic's end offsets by unit ("topic/partition").
func (k *kafkaClient) endOffsets(ctx context.Context, topic string) (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	lo, err := k.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("streambench: end offsets of %s: %w", topic, err)
	}
	if err := lo.Error(); err != nil {
		return nil, fmt.Errorf("streambench: end offsets of %s: %w", topic, err)
	}
	out := map[string]int64{}
	lo.Each(func(o kadm.ListedOffset) { out[unitName(o.Topic, o.Partition)] = o.Offset })
	return out, nil
}

func unitName(topic string, partition int32) string {
	return topic + "/" + strconv.Itoa(int(partition))
}

// groupState describes the consumer group: its state, members and the
// partitions assigned to them.
func (k *kafkaClient) groupState(ctx context.Context, group string) (state string, members, assigned int, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	gs, err := k.adm.DescribeGroups(ctx, group)
	if err != nil {
		return "", 0, 0, fmt.Errorf("streambench: describe group %s: %w", group, err)
	}
	g, ok := gs[group]
	if !ok {
		return "absent", 0, 0, nil
	}
	if g.Err != nil {
		return "", 0, 0, fmt.Errorf("streambench: describe group %s: %w", group, g.Err)
	}
	for _, ps := range g.AssignedPartitions() {
		assigned += len(ps)
	}
	return g.State, len(g.Members), assigned, nil
}

// stable reports whether the group is Stable with members members and
// every one of partitions assigned.
func (k *kafkaClient) stable(ctx context.Context, group string, members, partitions int) bool {
	st, m, a, err := k.groupState(ctx, group)
	return err == nil && st == "Stable" && m == members && a == partitions
}

// waitGroupStable waits until the consumer group is Stable with members
// members and every partition of the topic assigned.
func (k *kafkaClient) waitGroupStable(ctx context.Context, group string, members, partitions int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if k.stable(ctx, group, members, partitions) {
			return nil
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	st, m, a, err := k.groupState(ctx, group)
	return fmt.Errorf("streambench: group %s not stable with %d members and %d partitions assigned within %s (state %s, %d members, %d assigned, %v)",
		group, members, partitions, within, st, m, a, err)
}

// producer produces records asynchronously and keeps the first error.
type producer struct {
	cl    *kgo.Client
	topic string
	mu    struct {
		sync.Mutex
		err error
	}
	// onAck, when set, is called with every acknowledged record (from
	// franz-go's goroutines; in offset order within a partition).
	onAck func(r *kgo.Record)
}

func (p *producer) produce(ctx context.Context, key, value []byte, at time.Time) {
	rec := &kgo.Record{Topic: p.topic, Key: key, Value: value, Timestamp: at}
	p.cl.Produce(ctx, rec, func(r *kgo.Record, err error) {
		if err != nil {
			p.mu.Lock()
			if p.mu.err == nil {
				p.mu.err = err
			}
			p.mu.Unlock()
			return
		}
		if p.onAck != nil {
			p.onAck(r)
		}
	})
}

// flush waits for every record produced so far and returns the first
// produce error.
func (p *producer) flush(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	ferr := p.cl.Flush(ctx)
	p.mu.Lock()
	err := p.mu.err
	p.mu.Unlock()
	if err = errors.Join(err, ferr); err != nil {
		return fmt.Errorf("streambench: produce to %s: %w", p.topic, err)
	}
	return nil
}
