package tlsclient

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writePair writes a self-signed certificate and its key as PEM files.
func writePair(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Unix(0, 0), NotAfter: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	cert, key := writePair(t, dir)
	tc, err := Config{CAFile: cert, CertFile: cert, KeyFile: key, ServerName: "loki.internal"}.Build("loki")
	if err != nil {
		t.Fatal(err)
	}
	if tc.RootCAs == nil || tc.ServerName != "loki.internal" || tc.InsecureSkipVerify || tc.MinVersion != tls.VersionTLS12 ||
		tc.GetClientCertificate == nil {
		t.Errorf("%+v", tc)
	}
	if c, err := tc.GetClientCertificate(&tls.CertificateRequestInfo{}); err != nil || len(c.Certificate) != 1 {
		t.Errorf("client certificate: %v %v", c, err)
	}
	tc, err = Config{InsecureSkipVerify: true}.Build("elasticsearch")
	if err != nil || !tc.InsecureSkipVerify || tc.RootCAs != nil || tc.GetClientCertificate != nil || tc.MinVersion != tls.VersionTLS12 {
		t.Errorf("skip verify: %+v %v", tc, err)
	}
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for what, c := range map[string]Config{
		"a missing CA file":       {CAFile: filepath.Join(dir, "missing.pem")},
		"a CA file without a PEM": {CAFile: garbage},
		"a certificate alone":     {CertFile: cert},
		"a key alone":             {KeyFile: key},
		"a key that is no key":    {CertFile: cert, KeyFile: garbage},
	} {
		if _, err := c.Build("kubernetes"); err == nil || !strings.HasPrefix(err.Error(), "kubernetes TLS: ") {
			t.Errorf("%s: %v", what, err)
		}
	}
}
