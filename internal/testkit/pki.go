package testkit

import (
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
	"sync/atomic"
	"time"
)

// PKI is a throwaway certificate authority for TLS tests: its certificate
// is written to CAFile (PEM), and Issue signs certificates for servers and
// clients. Certificates are valid from 2000 to 2999, so that no clock, the
// real one or a test clock shifted ahead, ever finds them expired.
type PKI struct {
	CA     *x509.Certificate
	CAFile string
	Pool   *x509.CertPool
	key    *ecdsa.PrivateKey
	dir    string
	serial atomic.Int64
}

// Cert is a certificate Issue signed, with its key, as files and as a
// tls.Certificate for an in-process server.
type Cert struct {
	Cert              *x509.Certificate
	CertFile, KeyFile string
	TLS               tls.Certificate
}

var (
	pkiNotBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	pkiNotAfter  = time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)
)

// NewPKI makes a CA in a temporary directory of t.
func NewPKI(t TB) *PKI {
	t.Helper()
	p := &PKI{dir: t.TempDir(), key: newKey(t), Pool: x509.NewCertPool()}
	p.serial.Store(1)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "outrigger test CA"},
		NotBefore: pkiNotBefore, NotAfter: pkiNotAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	if p.CA, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.Pool.AddCert(p.CA)
	p.CAFile = writePEM(t, filepath.Join(p.dir, "ca.pem"), "CERTIFICATE", der)
	return p
}

// Issue signs a certificate named name for server and client use; hosts
// (DNS names or IP addresses) are its subject alternative names.
func (p *PKI) Issue(t TB, name string, hosts ...string) Cert {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.serial.Add(1)), Subject: pkix.Name{CommonName: name},
		NotBefore: pkiNotBefore, NotAfter: pkiNotAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	c := Cert{TLS: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
	if c.Cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	c.TLS.Leaf = c.Cert
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c.CertFile = writePEM(t, filepath.Join(p.dir, name+".crt"), "CERTIFICATE", der)
	c.KeyFile = writePEM(t, filepath.Join(p.dir, name+".key"), "EC PRIVATE KEY", kb)
	return c
}

func newKey(t TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t TB, path, typ string, der []byte) string {
	t.Helper()
	// 0644: services started by testkit run as other users (redis, postgres).
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
