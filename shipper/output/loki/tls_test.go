package loki

import (
	"context"
	"crypto/tls"
	"path/filepath"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/outrigger/outrigger/shipper/event"
	"github.com/outrigger/outrigger/shipper/internal/lokitest"
	"github.com/outrigger/outrigger/shipper/output"
)

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	pki := testkit.NewPKI(t)
	server := pki.Issue(t, "loki", "127.0.0.1")
	client := pki.Issue(t, "shipper")
	caFile, clientCert, clientKey := pki.CAFile, client.CertFile, client.KeyFile
	srv := lokitest.Start(t, lokitest.Options{TLS: &tls.Config{
		Certificates: []tls.Certificate{server.TLS},
		ClientCAs:    pki.Pool, ClientAuth: tls.RequireAndVerifyClientCert}})

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
