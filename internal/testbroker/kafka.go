package testbroker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Bounds of the broker's life cycle and of the helpers' calls.
const (
	// kafkaStartTimeout bounds scripts/kafka.sh start, which may first
	// resolve the jars with Maven (CI pre-fetches them).
	kafkaStartTimeout = 10 * time.Minute
	// kafkaReadyTimeout bounds the wait for the broker to answer metadata.
	kafkaReadyTimeout = 60 * time.Second
	kafkaStopTimeout  = 60 * time.Second
	kafkaCallTimeout  = 30 * time.Second
)

// KafkaBroker is a running Apache Kafka broker (a single KRaft node that is
// both broker and controller) on 127.0.0.1, shared by the tests of one
// binary.
type KafkaBroker struct {
	addr string
	dir  string

	// The secured listeners (see scripts/kafka.sh) and their credentials.
	saslAddr, sslAddr, mtlsAddr string
	saslUser, saslPassword      string

	mu       sync.Mutex
	producer *kgo.Client
}

var (
	kafkaOnce   sync.Once
	kafkaBroker *KafkaBroker
	kafkaErr    error
	topicSeq    atomic.Int64
)

// Kafka returns the test binary's Kafka broker, starting it on the first
// call (scripts/kafka.sh fetch and start, found from the module root). It
// fails the test when the broker cannot start; it never skips. The broker
// is stopped by Main after the tests ran (or, without Main, when the binary
// exits). Its log is printed (the file's path and its tail) when the
// test fails.
func Kafka(t testing.TB) *KafkaBroker {
	t.Helper()
	kafkaOnce.Do(func() {
		start := time.Now()
		kafkaBroker, kafkaErr = startKafka()
		if kafkaErr == nil {
			fmt.Fprintf(os.Stderr, "testbroker: kafka broker at %s started in %s (dir %s)\n",
				kafkaBroker.addr, time.Since(start).Round(time.Millisecond), kafkaBroker.dir)
		}
	})
	if kafkaErr != nil {
		t.Fatalf("testbroker: kafka broker did not start: %v", kafkaErr)
	}
	b := kafkaBroker
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testbroker: kafka broker log %s; its tail:\n%s", b.LogFile(), tailFile(b.LogFile(), 60))
		}
	})
	return b
}

// Addr is the broker's bootstrap address, "127.0.0.1:PORT".
func (b *KafkaBroker) Addr() string { return b.addr }

// SASLAddr is the address of the broker's SASL_PLAINTEXT listener,
// "127.0.0.1:PORT": mechanisms PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, one
// user (SASLUser).
func (b *KafkaBroker) SASLAddr() string { return b.saslAddr }

// SASLUser is the user the SASL listener knows, with every mechanism, and
// its password (random per broker).
func (b *KafkaBroker) SASLUser() (user, password string) { return b.saslUser, b.saslPassword }

// SSLAddr is the address of the broker's SSL listener, "127.0.0.1:PORT":
// its certificate, for 127.0.0.1 and localhost, is signed by CAFile's CA;
// it requests a client certificate (ClientCert) but accepts clients
// without one.
func (b *KafkaBroker) SSLAddr() string { return b.sslAddr }

// MTLSAddr is the address of the broker's second SSL listener,
// "127.0.0.1:PORT", the same as SSLAddr's but requiring a client
// certificate signed by CAFile's CA (ClientCert).
func (b *KafkaBroker) MTLSAddr() string { return b.mtlsAddr }

// CAFile is the PEM file of the CA that signed the SSL listener's and the
// client's certificates.
func (b *KafkaBroker) CAFile() string { return filepath.Join(b.dir, "tls", "ca.pem") }

// ClientCert are the PEM files of a client certificate signed by CAFile's
// CA and of its key (PKCS#8), for mutual TLS with the SSL listener.
func (b *KafkaBroker) ClientCert() (cert, key string) {
	return filepath.Join(b.dir, "tls", "client.pem"), filepath.Join(b.dir, "tls", "client-key.pem")
}

// LogFile is the broker's log file.
func (b *KafkaBroker) LogFile() string { return filepath.Join(b.dir, "kafka.log") }

// Client returns an admin client of the broker, closed when the test ends.
func (b *KafkaBroker) Client(t testing.TB) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.DialTimeout(5*time.Second),
		kgo.RequestTimeoutOverhead(10*time.Second), kgo.RetryTimeout(kafkaCallTimeout))
	if err != nil {
		t.Fatalf("testbroker: kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// CreateTopic creates a topic with the given number of partitions (one
// replica each) and waits until every partition has a leader.
func (b *KafkaBroker) CreateTopic(t testing.TB, name string, partitions int) {
	t.Helper()
	if err := b.createTopic(name, partitions); err != nil {
		t.Fatalf("testbroker: %v", err)
	}
}

var unsafeTopic = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// NewTopic creates a topic named after the test, unique in the binary, with
// the given number of partitions, and returns its name.
func (b *KafkaBroker) NewTopic(t testing.TB, partitions int) string {
	t.Helper()
	name := unsafeTopic.ReplaceAllString(t.Name(), "_")
	if len(name) > 180 {
		name = name[:180]
	}
	name = fmt.Sprintf("%s-%d", name, topicSeq.Add(1))
	b.CreateTopic(t, name, partitions)
	return name
}

func (b *KafkaBroker) createTopic(name string, partitions int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.DialTimeout(5*time.Second),
		kgo.RequestTimeoutOverhead(10*time.Second), kgo.RetryTimeout(kafkaCallTimeout))
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), kafkaCallTimeout)
	defer cancel()
	res, err := adm.CreateTopic(ctx, int32(partitions), 1, nil, name)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	for {
		md, err := adm.Metadata(ctx, name)
		if err == nil {
			if td, ok := md.Topics[name]; ok && td.Err == nil && len(td.Partitions) == partitions {
				ready := true
				for _, p := range td.Partitions {
					ready = ready && p.Err == nil && p.Leader >= 0
				}
				if ready {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s: partitions without a leader after %s", name, kafkaCallTimeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Produce writes records to topic (a record's own Topic, when set, wins)
// and waits for the broker's acknowledgement. Each record goes to its
// Partition field (a manual partitioner): set it.
func (b *KafkaBroker) Produce(t testing.TB, topic string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := b.producerClient()
	if err != nil {
		t.Fatalf("testbroker: %v", err)
	}
	for _, r := range recs {
		if r.Topic == "" {
			r.Topic = topic
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), kafkaCallTimeout)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("testbroker: produce to %s: %v", topic, err)
	}
}

// ProduceValues writes one record per value to one partition of topic, with
// keys "k<i>" numbered from the first value's index in values.
func (b *KafkaBroker) ProduceValues(t testing.TB, topic string, partition int32, values ...string) {
	t.Helper()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Key: []byte("k" + strconv.Itoa(i)), Value: []byte(v)}
	}
	b.Produce(t, topic, recs...)
}

func (b *KafkaBroker) producerClient() (*kgo.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.producer != nil {
		return b.producer, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.DialTimeout(5*time.Second),
		kgo.RequestTimeoutOverhead(10*time.Second), kgo.RetryTimeout(kafkaCallTimeout),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0),
		kgo.RecordDeliveryTimeout(kafkaCallTimeout),
		// A new topic's metadata is loaded at once, not up to 5 s (the
		// default) after the previous topic's.
		kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	b.producer = cl
	return cl, nil
}

func startKafka() (*KafkaBroker, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "hoodie-kafka-")
	if err != nil {
		return nil, fmt.Errorf("broker dir: %w", err)
	}
	b := &KafkaBroker{dir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), kafkaStartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "kafka.sh"), "start", dir)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "KAFKA_WATCH_PID="+strconv.Itoa(os.Getpid()))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// The stop runs whatever happened: a half-started broker is killed.
	atExit(b.stop)
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("scripts/kafka.sh start: %w\n%s", err, stderr.String())
	}
	b.addr = strings.TrimSpace(stdout.String())
	if b.addr == "" {
		return nil, fmt.Errorf("scripts/kafka.sh start printed no address\n%s", stderr.String())
	}
	if err := b.readSecured(); err != nil {
		return nil, err
	}
	if err := b.waitReady(); err != nil {
		return nil, fmt.Errorf("%w (log %s)\n%s", err, b.LogFile(), tailFile(b.LogFile(), 40))
	}
	return b, nil
}

// readSecured reads what scripts/kafka.sh start wrote of the secured
// listeners: their addresses and the SASL user, and checks that the TLS
// files are there.
func (b *KafkaBroker) readSecured() error {
	vals := make([]string, 5)
	for i, name := range []string{"sasl_addr", "ssl_addr", "mtls_addr", "sasl_user", "sasl_password"} {
		data, err := os.ReadFile(filepath.Join(b.dir, name))
		if err != nil {
			return fmt.Errorf("scripts/kafka.sh start: %w", err)
		}
		if vals[i] = strings.TrimSpace(string(data)); vals[i] == "" {
			return fmt.Errorf("scripts/kafka.sh start: %s is empty", filepath.Join(b.dir, name))
		}
	}
	b.saslAddr, b.sslAddr, b.mtlsAddr, b.saslUser, b.saslPassword = vals[0], vals[1], vals[2], vals[3], vals[4]
	cert, key := b.ClientCert()
	for _, f := range []string{b.CAFile(), cert, key} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("scripts/kafka.sh start: TLS material: %w", err)
		}
	}
	return nil
}

// waitReady waits until the broker answers a metadata request listing
// itself.
func (b *KafkaBroker) waitReady() error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.DialTimeout(2*time.Second),
		kgo.RequestTimeoutOverhead(5*time.Second), kgo.RetryTimeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(kafkaReadyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		md, err := adm.BrokerMetadata(ctx)
		cancel()
		if err == nil && len(md.Brokers) > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("broker at %s not ready after %s: %v", b.addr, kafkaReadyTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop stops the broker and removes its directory, which is kept (and
// named) when a test failed.
func (b *KafkaBroker) stop(failed bool) {
	b.mu.Lock()
	if b.producer != nil {
		b.producer.Close()
		b.producer = nil
	}
	b.mu.Unlock()
	root, err := moduleRoot()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), kafkaStopTimeout)
		err = exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "kafka.sh"), "stop", b.dir).Run()
		cancel()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "testbroker: stopping the kafka broker in %s: %v\n", b.dir, err)
	}
	if failed {
		fmt.Fprintf(os.Stderr, "testbroker: kafka broker files kept in %s\n", b.dir)
		return
	}
	_ = os.RemoveAll(b.dir)
}

// moduleRoot finds the hoodie module's root from the working directory (a
// package directory while testing).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testbroker: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("module github.com/hoodie-lake/hoodie\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testbroker: the hoodie module's root (go.mod) not found above the working directory")
		}
		dir = parent
	}
}

// tailFile returns the last n lines of a file, or why it cannot.
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
