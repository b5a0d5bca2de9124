package kafka_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hoodie-lake/hoodie/stream/kafka"
)

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hoodie-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return certFile, keyFile
}

// TestSecurityOptions builds clients with TLS (CA and client certificate)
// and each SASL mechanism, and refuses unreadable TLS material.
func TestSecurityOptions(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	base := kafka.Options{Brokers: []string{"127.0.0.1:1"}, Topics: []string{"t"}, Group: "g"}
	for _, mech := range []string{kafka.SASLPlain, kafka.SASLScramSHA256, kafka.SASLScramSHA512} {
		o := base
		o.TLS = kafka.TLS{Enable: true, CAFile: cert, CertFile: cert, KeyFile: key}
		o.SASL = kafka.SASL{Mechanism: mech, User: "u", Password: "p"}
		src, err := kafka.New(o)
		require.NoError(t, err, mech)
		require.NoError(t, src.Close())
		dl, err := kafka.NewDeadLetter(kafka.DeadLetterOptions{Brokers: o.Brokers, Topic: "dlq", TLS: o.TLS, SASL: o.SASL})
		require.NoError(t, err, mech)
		require.NoError(t, dl.Close())
	}

	garbage := filepath.Join(dir, "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not a certificate"), 0o600))
	o := base
	o.TLS = kafka.TLS{Enable: true, CAFile: garbage}
	_, err := kafka.New(o)
	require.ErrorIs(t, err, kafka.ErrOptions)
	o.TLS = kafka.TLS{Enable: true, CertFile: cert, KeyFile: garbage}
	_, err = kafka.New(o)
	require.Error(t, err)
}
