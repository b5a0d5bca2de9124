package kafka_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hoodie-lake/hoodie/internal/testbroker"
	"github.com/hoodie-lake/hoodie/stream"
	"github.com/hoodie-lake/hoodie/stream/kafka"
)

// The secured listeners of the test broker (scripts/kafka.sh) against the
// Source and the DeadLetter sink: SASL_PLAINTEXT with each mechanism, SSL
// with the broker's certificate verified against the test CA, and SSL
// requiring a client certificate. Topics are made and filled over the
// PLAINTEXT listener.

// secureOptions are testOptions over another listener, with security.
func secureOptions(addr string, group, topic string, tlsOpts kafka.TLS, saslOpts kafka.SASL) kafka.Options {
	return kafka.Options{
		Brokers:           []string{addr},
		Topics:            []string{topic},
		Group:             group,
		TLS:               tlsOpts,
		SASL:              saslOpts,
		SessionTimeout:    6 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		HeartbeatInterval: 200 * time.Millisecond,
		DialTimeout:       5 * time.Second,
		RequestTimeout:    15 * time.Second,
	}
}

// readSecured reads a 2-partition topic of 8 records through a Source with
// the given listener and security, commits the positions to the group
// through it, and checks the records and the group's offsets.
func readSecured(t *testing.T, b *testbroker.KafkaBroker, addr string, tlsOpts kafka.TLS, saslOpts kafka.SASL) {
	t.Helper()
	topic := b.NewTopic(t, 2)
	produce(t, b, topic, 2, 0, 4)
	group := "secure-" + topic
	src, err := kafka.New(secureOptions(addr, group, topic, tlsOpts, saslOpts))
	require.NoError(t, err)
	rec := newRecorder(newPositions())
	stop := run(t, src, rec)
	waitFor(t, "8 records", 20*time.Second, func() bool { return rec.count() >= 8 })

	got := map[string][]string{}
	positions := map[string]string{}
	for _, m := range rec.messages() {
		got[m.Unit] = append(got[m.Unit], string(m.Value))
		positions[m.Unit] = m.Next
	}
	for p := range 2 {
		unit := kafka.Unit(topic, int32(p))
		want := make([]string, 4)
		for i := range want {
			want[i] = fmt.Sprintf("v%d-%d", p, i)
		}
		require.Equal(t, want, got[unit], unit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, src.Commit(ctx, positions))
	require.NoError(t, stop())
	rec.check(t)

	offs, err := b.Client(t).FetchOffsets(ctx, group)
	require.NoError(t, err)
	for p := range 2 {
		o, ok := offs.Lookup(topic, int32(p))
		require.True(t, ok, "no committed offset of partition %d", p)
		require.NoError(t, o.Err)
		require.Equal(t, int64(4), o.At, "partition %d", p)
	}
}

// TestSecureBrokerSASL reads a topic through the SASL_PLAINTEXT listener
// with each mechanism.
func TestSecureBrokerSASL(t *testing.T) {
	b := testbroker.Kafka(t)
	user, password := b.SASLUser()
	for _, mech := range []string{kafka.SASLPlain, kafka.SASLScramSHA256, kafka.SASLScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			readSecured(t, b, b.SASLAddr(), kafka.TLS{}, kafka.SASL{Mechanism: mech, User: user, Password: password})
		})
	}
}

// TestSecureBrokerTLS reads a topic over TLS: the broker's certificate
// verified with the test CA (or not verified at all), and with a client
// certificate on the listener that requires one.
func TestSecureBrokerTLS(t *testing.T) {
	b := testbroker.Kafka(t)
	cert, key := b.ClientCert()
	t.Run("CA", func(t *testing.T) {
		readSecured(t, b, b.SSLAddr(), kafka.TLS{Enable: true, CAFile: b.CAFile()}, kafka.SASL{})
	})
	t.Run("InsecureSkipVerify", func(t *testing.T) {
		readSecured(t, b, b.SSLAddr(), kafka.TLS{Enable: true, InsecureSkipVerify: true}, kafka.SASL{})
	})
	t.Run("ClientCertificate", func(t *testing.T) {
		readSecured(t, b, b.MTLSAddr(), kafka.TLS{Enable: true, CAFile: b.CAFile(), CertFile: cert, KeyFile: key}, kafka.SASL{})
	})
}

// TestSecureBrokerRefused: a wrong password or user, a broker certificate
// not signed by a trusted CA and a missing client certificate each end Run
// at once with the reason, before any message; the DeadLetter sink fails a
// Write with a wrong password within its produce timeout.
func TestSecureBrokerRefused(t *testing.T) {
	b := testbroker.Kafka(t)
	topic := b.NewTopic(t, 1)
	b.ProduceValues(t, topic, 0, "a", "b")
	user, password := b.SASLUser()
	cases := []struct {
		name   string
		addr   string
		tls    kafka.TLS
		sasl   kafka.SASL
		reason string
	}{
		{name: "PLAIN wrong password", addr: b.SASLAddr(),
			sasl: kafka.SASL{Mechanism: kafka.SASLPlain, User: user, Password: password + "x"}, reason: "Invalid username or password"},
		{name: "SCRAM-SHA-256 wrong password", addr: b.SASLAddr(),
			sasl: kafka.SASL{Mechanism: kafka.SASLScramSHA256, User: user, Password: "wrong"}, reason: "invalid credentials"},
		{name: "SCRAM-SHA-512 wrong password", addr: b.SASLAddr(),
			sasl: kafka.SASL{Mechanism: kafka.SASLScramSHA512, User: user, Password: "wrong"}, reason: "invalid credentials"},
		{name: "SCRAM-SHA-512 unknown user", addr: b.SASLAddr(),
			sasl: kafka.SASL{Mechanism: kafka.SASLScramSHA512, User: "nobody", Password: password}, reason: "SASL_AUTHENTICATION_FAILED"},
		{name: "TLS without the CA", addr: b.SSLAddr(), tls: kafka.TLS{Enable: true},
			reason: "x509: certificate signed by unknown authority"},
		{name: "TLS without a client certificate", addr: b.MTLSAddr(), tls: kafka.TLS{Enable: true, CAFile: b.CAFile()},
			reason: "tls: bad certificate"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, err := kafka.New(secureOptions(c.addr, "refused-"+strconv.Itoa(i), topic, c.tls, c.sasl))
			require.NoError(t, err)
			defer func() { require.NoError(t, src.Close()) }()
			rec := newRecorder(newPositions())
			ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
			defer cancel()
			start := time.Now()
			err = src.Run(ctx, rec)
			elapsed := time.Since(start)
			require.Error(t, err, "Run returned nil after %s", elapsed)
			require.NoError(t, ctx.Err(), "Run ended only with its context: %v", err)
			require.Less(t, elapsed, 10*time.Second, "Run took %s to fail", elapsed)
			require.ErrorContains(t, err, c.reason)
			require.ErrorContains(t, err, c.addr)
			if c.sasl.Mechanism != "" {
				require.ErrorIs(t, err, kerr.SaslAuthenticationFailed)
			}
			if c.tls.Enable && c.tls.CAFile == "" {
				_, ok := errors.AsType[*tls.CertificateVerificationError](err)
				require.True(t, ok, "not a certificate verification error: %v", err)
			}
			require.Zero(t, rec.count())
		})
	}

	t.Run("DeadLetter wrong password", func(t *testing.T) {
		dl, err := kafka.NewDeadLetter(kafka.DeadLetterOptions{Brokers: []string{b.SASLAddr()}, Topic: topic,
			SASL:        kafka.SASL{Mechanism: kafka.SASLScramSHA256, User: user, Password: "wrong"},
			DialTimeout: 5 * time.Second, RequestTimeout: 5 * time.Second, ProduceTimeout: 3 * time.Second})
		require.NoError(t, err)
		start := time.Now()
		err = dl.Write(context.Background(), []stream.ErrorRecord{{Unit: "u/0", Position: "1", Reason: "r", Value: []byte("v")}})
		// The records' delivery timeout and Write's context both end after
		// ProduceTimeout: the one that ends first names the error (the
		// failed authentication, or the deadline).
		require.Error(t, err)
		require.True(t, errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, context.DeadlineExceeded), "%v", err)
		require.Less(t, time.Since(start), 10*time.Second)
		_ = dl.Close() // the unsent record stays buffered: Close's flush fails too
	})
}

// TestSecureBrokerDeadLetter produces refused records over SASL and over
// mutual TLS, and reads them back over PLAINTEXT.
func TestSecureBrokerDeadLetter(t *testing.T) {
	b := testbroker.Kafka(t)
	user, password := b.SASLUser()
	cert, key := b.ClientCert()
	cases := []struct {
		name string
		opts kafka.DeadLetterOptions
	}{
		{"SASL", kafka.DeadLetterOptions{Brokers: []string{b.SASLAddr()},
			SASL: kafka.SASL{Mechanism: kafka.SASLScramSHA512, User: user, Password: password}}},
		{"ClientCertificate", kafka.DeadLetterOptions{Brokers: []string{b.MTLSAddr()},
			TLS: kafka.TLS{Enable: true, CAFile: b.CAFile(), CertFile: cert, KeyFile: key}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			topic := b.NewTopic(t, 1)
			o := c.opts
			o.Topic, o.DialTimeout, o.RequestTimeout, o.ProduceTimeout = topic, 5*time.Second, 15*time.Second, 20*time.Second
			dl, err := kafka.NewDeadLetter(o)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			require.NoError(t, dl.Write(ctx, []stream.ErrorRecord{
				{Unit: "orders/1", Position: "12", Reason: "malformed JSON", Key: []byte("k"), Value: []byte("{")},
				{Unit: "orders/0", Position: "3", Reason: "no key", Value: []byte(`{"a":1}`)},
			}))
			require.NoError(t, dl.Close())

			cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics(topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.RequestTimeoutOverhead(10*time.Second))
			require.NoError(t, err)
			defer cl.Close()
			var got []*kgo.Record
			for len(got) < 2 {
				fs := cl.PollFetches(ctx)
				require.NoError(t, ctx.Err())
				got = append(got, fs.Records()...)
			}
			require.Len(t, got, 2)
			reason := func(r *kgo.Record) string {
				for _, h := range r.Headers {
					if h.Key == kafka.HeaderReason {
						return string(h.Value)
					}
				}
				return ""
			}
			require.Equal(t, []string{"{", `{"a":1}`}, []string{string(got[0].Value), string(got[1].Value)})
			require.Equal(t, []string{"malformed JSON", "no key"}, []string{reason(got[0]), reason(got[1])})
		})
	}
}
