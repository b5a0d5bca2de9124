package testbroker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// EnvKinesisEndpoint names an already running kinesalite (or other Kinesis
// API) endpoint for Kinesalite to use instead of starting one, for example
// after `ep=$(scripts/kinesalite.sh start DIR)`.
const EnvKinesisEndpoint = "HOODIE_KINESIS_ENDPOINT"

// Static test credentials and region of the kinesalite server (kinesalite
// accepts any signature).
const (
	KinesisRegion    = "us-east-1"
	KinesisAccessKey = "hoodietest"
	KinesisSecretKey = "hoodietestsecret"
)

const (
	// kinesaliteStartTimeout covers a first-time npm install.
	kinesaliteStartTimeout = 3 * time.Minute
	kinesaliteStopTimeout  = 10 * time.Second
	// kinesisCallTimeout bounds every call the helpers make.
	kinesisCallTimeout = 10 * time.Second
	// streamActiveTimeout bounds the wait for CREATING/UPDATING -> ACTIVE
	// (kinesalite is started with 10 ms transitions).
	streamActiveTimeout = 30 * time.Second
)

// KinesisServer is a running kinesalite: the Kinesis API over plain HTTP
// on 127.0.0.1 with an in-memory store.
type KinesisServer struct {
	endpoint string
	client   *kinesis.Client
}

var kinesaliteState struct {
	mu   sync.Mutex
	once sync.Once
	srv  *KinesisServer
	err  error
	proc *kinesaliteProc
}

type kinesaliteProc struct {
	cmd  *exec.Cmd
	dir  string
	done chan struct{}
}

// Kinesalite returns the test binary's kinesalite, starting it on first use
// (scripts/kinesalite.sh run, installing kinesalite with npm into
// ~/.cache/hoodie/kinesalite if needed). It fails the test when kinesalite
// cannot start; it never skips. The server stops with StopKinesalite, and by
// itself once the test binary is gone.
func Kinesalite(t testing.TB) *KinesisServer {
	t.Helper()
	kinesaliteState.mu.Lock()
	defer kinesaliteState.mu.Unlock()
	kinesaliteState.once.Do(func() {
		start := time.Now()
		kinesaliteState.srv, kinesaliteState.proc, kinesaliteState.err = startKinesalite()
		if kinesaliteState.proc != nil {
			atExit(func(failed bool) {
				if err := stopKinesalite(failed); err != nil {
					fmt.Fprintf(os.Stderr, "testbroker: stop kinesalite: %v\n", err)
				}
			})
		}
		if kinesaliteState.err == nil {
			t.Logf("kinesalite at %s (ready in %v)", kinesaliteState.srv.endpoint, time.Since(start).Round(time.Millisecond))
		}
	})
	if kinesaliteState.err != nil {
		t.Fatalf("testbroker: kinesalite: %v", kinesaliteState.err)
	}
	return kinesaliteState.srv
}

// StopKinesalite stops a kinesalite that Kinesalite started and removes its
// state directory; a no-op when none runs. Main calls it after the tests; a
// later Kinesalite call in the same binary then fails.
func StopKinesalite() error { return stopKinesalite(false) }

// stopKinesalite stops the server; keepLog keeps its directory (the server
// log) after failed tests and names it on stderr.
func stopKinesalite(keepLog bool) error {
	kinesaliteState.mu.Lock()
	defer kinesaliteState.mu.Unlock()
	p := kinesaliteState.proc
	kinesaliteState.proc = nil
	kinesaliteState.once.Do(func() {}) // a Kinesalite after this must not start another
	kinesaliteState.srv, kinesaliteState.err = nil, errors.New("stopped by StopKinesalite")
	if p == nil {
		return nil
	}
	if keepLog {
		fmt.Fprintf(os.Stderr, "testbroker: kinesalite log kept in %s\n", filepath.Join(p.dir, "server.log"))
		return p.kill()
	}
	return errors.Join(p.kill(), os.RemoveAll(p.dir))
}

// Endpoint is the server's URL, http://127.0.0.1:PORT.
func (s *KinesisServer) Endpoint() string { return s.endpoint }

// Client returns the Kinesis client of the server: static credentials,
// region us-east-1, the endpoint as base endpoint, requests bounded in time
// and bounded retries. It is shared and safe for concurrent use.
func (s *KinesisServer) Client(t testing.TB) *kinesis.Client {
	t.Helper()
	return s.client
}

func newKinesisServer(endpoint string) *KinesisServer {
	cfg := aws.Config{
		Region:      KinesisRegion,
		Credentials: credentials.NewStaticCredentialsProvider(KinesisAccessKey, KinesisSecretKey, ""),
		HTTPClient:  &http.Client{Timeout: kinesisCallTimeout},
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.MaxBackoff = 500 * time.Millisecond
			})
		},
	}
	return &KinesisServer{endpoint: endpoint, client: kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})}
}

// CreateStream creates a provisioned stream with the given shard count and
// waits until it is ACTIVE; the stream is deleted when the test ends.
// Stream names are per server, which lives as long as the test binary:
// make them unique across tests (and -count runs).
func (s *KinesisServer) CreateStream(t testing.TB, name string, shards int) {
	t.Helper()
	c := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), kinesisCallTimeout)
	defer cancel()
	n := int32(shards)
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: &n}); err != nil {
		t.Fatalf("testbroker: create stream %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), kinesisCallTimeout)
		defer cancel()
		if _, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)}); err != nil {
			t.Errorf("testbroker: delete stream %s: %v", name, err)
		}
	})
	s.WaitStreamActive(t, name)
}

// WaitStreamActive waits until the stream is ACTIVE (after CreateStream,
// SplitShard, MergeShards).
func (s *KinesisServer) WaitStreamActive(t testing.TB, name string) {
	t.Helper()
	c := s.Client(t)
	deadline := time.Now().Add(streamActiveTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), kinesisCallTimeout)
		out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		cancel()
		if err != nil {
			t.Fatalf("testbroker: describe stream %s: %v", name, err)
		}
		if out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testbroker: stream %s not ACTIVE after %v (%s)", name, streamActiveTimeout, out.StreamDescriptionSummary.StreamStatus)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Put writes one record and returns the shard it went to and its sequence
// number.
func (s *KinesisServer) Put(t testing.TB, stream, partitionKey string, data []byte) (shardID, seq string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kinesisCallTimeout)
	defer cancel()
	out, err := s.client.PutRecord(ctx, &kinesis.PutRecordInput{
		StreamName: aws.String(stream), PartitionKey: aws.String(partitionKey), Data: data,
	})
	if err != nil {
		t.Fatalf("testbroker: put record to %s: %v", stream, err)
	}
	return aws.ToString(out.ShardId), aws.ToString(out.SequenceNumber)
}

// PutRecords writes records in one PutRecords call (at most 500) and
// returns, per record, the shard it went to and its sequence number. Kinesis
// does not promise order within a PutRecords call: tests of per-key order
// write with Put.
func (s *KinesisServer) PutRecords(t testing.TB, stream string, partitionKeys []string, data [][]byte) (shardIDs, seqs []string) {
	t.Helper()
	if len(partitionKeys) != len(data) {
		t.Fatalf("testbroker: put records: %d keys for %d records", len(partitionKeys), len(data))
	}
	entries := make([]types.PutRecordsRequestEntry, len(data))
	for i := range data {
		entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(partitionKeys[i]), Data: data[i]}
	}
	ctx, cancel := context.WithTimeout(context.Background(), kinesisCallTimeout)
	defer cancel()
	out, err := s.client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
	if err != nil {
		t.Fatalf("testbroker: put records to %s: %v", stream, err)
	}
	if n := aws.ToInt32(out.FailedRecordCount); n > 0 || len(out.Records) != len(data) {
		t.Fatalf("testbroker: put records to %s: %d of %d failed", stream, n, len(data))
	}
	for _, r := range out.Records {
		shardIDs = append(shardIDs, aws.ToString(r.ShardId))
		seqs = append(seqs, aws.ToString(r.SequenceNumber))
	}
	return shardIDs, seqs
}

func startKinesalite() (*KinesisServer, *kinesaliteProc, error) {
	if ep := os.Getenv(EnvKinesisEndpoint); ep != "" {
		return newKinesisServer(strings.TrimRight(ep, "/")), nil, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "hoodie-kinesalite-")
	if err != nil {
		return nil, nil, err
	}
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, nil, errors.Join(err, os.RemoveAll(dir))
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "kinesalite.sh"), "run", dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The server exits by itself once this process is gone (the script's
	// KINESALITE_WATCH_PID), so a test binary killed before StopKinesalite
	// leaves no server behind.
	cmd.Env = append(os.Environ(), "KINESALITE_WATCH_PID="+strconv.Itoa(os.Getpid()))
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, nil, errors.Join(fmt.Errorf("run scripts/kinesalite.sh: %w", err), os.RemoveAll(dir))
	}
	p := &kinesaliteProc{cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer logf.Close()
		_ = cmd.Wait() // the exit status is moot: stop kills it
	}()
	ep, err := waitKinesalite(p)
	if err != nil {
		log, _ := os.ReadFile(logPath)
		return nil, nil, errors.Join(fmt.Errorf("%w; log:\n%s", err, kinesaliteLogTail(string(log), 2000)), p.stop())
	}
	return newKinesisServer(ep), p, nil
}

// waitKinesalite waits for the endpoint file and a listening port.
func waitKinesalite(p *kinesaliteProc) (string, error) {
	deadline := time.Now().Add(kinesaliteStartTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return "", errors.New("kinesalite exited during startup")
		case <-time.After(50 * time.Millisecond):
		}
		b, err := os.ReadFile(filepath.Join(p.dir, "endpoint"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		ep := strings.TrimSpace(string(b))
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(ep, "http://"), time.Second)
		if err == nil {
			conn.Close()
			return ep, nil
		}
	}
	return "", fmt.Errorf("kinesalite not ready after %v", kinesaliteStartTimeout)
}

// stop terminates the server and removes its directory.
func (p *kinesaliteProc) stop() error { return errors.Join(p.kill(), os.RemoveAll(p.dir)) }

// kill terminates the server (the script execs node, so the process is the
// server).
func (p *kinesaliteProc) kill() error {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(kinesaliteStopTimeout):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	return nil
}

func kinesaliteLogTail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
