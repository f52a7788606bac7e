package loki

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outrigger/outrigger/shipper/event"
	"github.com/outrigger/outrigger/shipper/internal/lokitest"
	"github.com/outrigger/outrigger/shipper/output"
)

type keyPair struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

func issue(t *testing.T, tmpl *x509.Certificate, parent *keyPair) *keyPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, parentCert := key, tmpl
	if parent != nil {
		signer, parentCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &keyPair{cert: cert, key: key, der: der}
}

func (k *keyPair) write(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.der}), 0o600)
	kb, _ := x509.MarshalECPrivateKey(k.key)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca := issue(t, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil)
	server := issue(t, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "loki"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca)
	client := issue(t, &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "shipper"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca)
	caFile, _ := ca.write(t, dir, "ca")
	clientCert, clientKey := client.write(t, dir, "client")
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	srv := lokitest.Start(t, lokitest.Options{TLS: &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{server.der}, PrivateKey: server.key}},
		ClientCAs:    pool, ClientAuth: tls.RequireAndVerifyClientCert}})

	push := func(tc TLSConfig, wait time.Duration) (int, error) {
		m := output.NewMetrics(nil)
		o, err := New(Config{URL: srv.URL + "/loki/api/v1/push", TLS: tc, BatchWait: 5 * time.Millisecond,
			MinBackoff: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond}, 0, m)
		if err != nil {
			return 0, err
		}
		ctx := context.Background()
		o.Start(ctx)
		c := &counter{}
		o.Send(ctx, events(c, 5, &event.Stream{Labels: `{job="tls"}`}, srv.Now().UnixNano()))
		deadline := time.Now().Add(wait)
		for c.count() < 5 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		sctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		o.Shutdown(sctx)
		return c.count(), nil
	}
	if n, err := push(TLSConfig{CAFile: caFile, CertFile: clientCert, KeyFile: clientKey}, 5*time.Second); err != nil || n != 5 {
		t.Fatalf("with CA and client certificate: %d acknowledged, %v", n, err)
	}
	if n, _ := push(TLSConfig{CAFile: caFile}, 300*time.Millisecond); n != 0 {
		t.Errorf("without a client certificate %d lines were acknowledged", n)
	}
	if srv.Count() != 5 {
		t.Errorf("receiver holds %d entries, want 5", srv.Count())
	}
	if _, err := New(Config{URL: srv.URL, TLS: TLSConfig{CAFile: filepath.Join(dir, "missing.pem")}}, 0, output.NewMetrics(nil)); err == nil {
		t.Error("a missing CA file was accepted")
	}
}
