package config

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// testPKI makes a CA and a certificate it signed for "redis.internal",
// and returns their paths.
func testPKI(t *testing.T) (caFile, certFile, keyFile string, leaf *x509.Certificate) {
	t.Helper()
	p := testkit.NewPKI(t)
	c := p.Issue(t, "redis.internal", "redis.internal")
	return p.CAFile, c.CertFile, c.KeyFile, c.Cert
}

// TestTLS: every TLS option reaches the target's client config, built by
// prometheus/common: the CA verifies the server, the client certificate is
// offered, the server name and insecure-skip-verify are as configured, and
// a rediss:// URL alone verifies against its host with TLS 1.2 at least.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile, leaf := testPKI(t)
	tlsOf := func(t *testing.T, addr string, tc TLS) *tls.Config {
		t.Helper()
		c := base("")
		c.Default.Addr, c.Default.TLS = addr, tc
		v, err := c.Validate()
		if err != nil {
			t.Fatal(err)
		}
		return v.Targets()[0].RedisOptions().TLSConfig
	}

	t.Run("rediss URL alone", func(t *testing.T) {
		c := tlsOf(t, "rediss://redis.example:6380", TLS{})
		if c == nil || c.ServerName != "redis.example" || c.MinVersion != tls.VersionTLS12 || c.InsecureSkipVerify || c.RootCAs != nil {
			t.Errorf("tls config %+v", c)
		}
	})
	t.Run("plain URL has no TLS", func(t *testing.T) {
		if c := tlsOf(t, "redis://redis.example:6379", TLS{}); c != nil {
			t.Errorf("tls config %+v for redis://", c)
		}
	})
	t.Run("CA file, server name and client certificate", func(t *testing.T) {
		c := tlsOf(t, "rediss://10.0.0.1:6380", TLS{CAFile: caFile, CertFile: certFile, KeyFile: keyFile, ServerName: "redis.internal"})
		if c.ServerName != "redis.internal" || c.InsecureSkipVerify {
			t.Errorf("server name %q, insecure %v", c.ServerName, c.InsecureSkipVerify)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: c.RootCAs, DNSName: c.ServerName}); err != nil {
			t.Errorf("the CA file does not verify the server: %v", err)
		}
		cert, err := c.GetClientCertificate(&tls.CertificateRequestInfo{})
		if err != nil || len(cert.Certificate) == 0 || string(cert.Certificate[0]) != string(leaf.Raw) {
			t.Errorf("client certificate not offered: %v", err)
		}
	})
	t.Run("TLS options turn TLS on for redis://", func(t *testing.T) {
		c := tlsOf(t, "redis://redis.example:6379", TLS{InsecureSkipVerify: true})
		if c == nil || !c.InsecureSkipVerify || c.ServerName != "" {
			t.Errorf("tls config %+v", c)
		}
	})

	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		tls  TLS
		want string
	}{
		{"cert without key", TLS{CertFile: certFile}, "tls cert_file and key_file go together"},
		{"CA not PEM", TLS{CAFile: notPEM}, "tls (check ca_file, cert_file and key_file): unable to use specified CA cert"},
		{"missing CA", TLS{CAFile: filepath.Join(dir, "missing.pem")}, "missing.pem: no such file or directory"},
		{"key of no certificate", TLS{CertFile: caFile, KeyFile: keyFile}, "tls (check ca_file, cert_file and key_file)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := base("")
			c.Default.Addr, c.Default.TLS = "rediss://h:6380", tt.tls
			_, err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestTLSAgainstRedis: the client config connects to a redis-server that
// requires TLS and client certificates, and each option matters: without
// the client certificate the server refuses, with another server name or
// without the CA the exporter refuses, unless told to skip verification.
func TestTLSAgainstRedis(t *testing.T) {
	caFile, certFile, keyFile, _ := testPKI(t)
	tlsPort := testkit.FreePort(t)
	testkit.StartRedis(t, testkit.RedisOptions{Args: []string{"--tls-port", fmt.Sprint(tlsPort), "--tls-cert-file", certFile,
		"--tls-key-file", keyFile, "--tls-ca-cert-file", caFile, "--tls-auth-clients", "yes"}})
	ping := func(t *testing.T, tc TLS) error {
		t.Helper()
		c := base("")
		c.Default.Addr, c.Default.TLS = fmt.Sprintf("rediss://127.0.0.1:%d", tlsPort), tc
		v, err := c.Validate()
		if err != nil {
			t.Fatal(err)
		}
		o := v.Targets()[0].RedisOptions()
		o.Protocol, o.DisableIdentity, o.MaxRetries = 2, true, -1
		o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		cl := redis.NewClient(o)
		defer cl.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		return cl.Ping(ctx).Err()
	}
	good := TLS{CAFile: caFile, CertFile: certFile, KeyFile: keyFile, ServerName: "redis.internal"}
	if err := ping(t, good); err != nil {
		t.Fatalf("PING over TLS with every option: %v", err)
	}
	noCert := good
	noCert.CertFile, noCert.KeyFile = "", ""
	otherName := good
	otherName.ServerName = "other.internal"
	noCA := good
	noCA.CAFile = ""
	for name, tc := range map[string]TLS{"no client certificate": noCert, "other server name": otherName, "no CA": noCA} {
		if err := ping(t, tc); err == nil {
			t.Errorf("%s: PING succeeded", name)
		}
	}
	insecure := noCA
	insecure.ServerName, insecure.InsecureSkipVerify = "", true
	if err := ping(t, insecure); err != nil {
		t.Errorf("insecure-skip-verify without CA nor server name: %v", err)
	}
}
