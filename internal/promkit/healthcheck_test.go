package promkit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// With TLS in the web config, the probe asks its own endpoint over HTTPS and
// accepts the certificate, which names the public host and not the loopback
// address it dials; without it, plain HTTP. 401 counts as alive, 500 not.
func TestProbeHealthOverTLS(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(status.Load()))
	})
	tlsSrv := httptest.NewTLSServer(h)
	defer tlsSrv.Close()
	plainSrv := httptest.NewServer(h)
	defer plainSrv.Close()
	webConfig := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(webConfig, []byte("tls_server_config:\n  cert_file: x.crt\n  key_file: x.key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tlsAddr, plainAddr := strings.TrimPrefix(tlsSrv.URL, "https://"), strings.TrimPrefix(plainSrv.URL, "http://")
	ctx := context.Background()
	if err := probeHealth(ctx, tlsAddr, webConfig); err != nil {
		t.Errorf("probe over TLS: %v", err)
	}
	if err := probeHealth(ctx, plainAddr, ""); err != nil {
		t.Errorf("probe over HTTP: %v", err)
	}
	if err := probeHealth(ctx, tlsAddr, ""); err == nil {
		t.Error("a plain-HTTP probe of a TLS endpoint passed")
	}
	status.Store(http.StatusUnauthorized)
	if err := probeHealth(ctx, tlsAddr, webConfig); err != nil {
		t.Errorf("401 over TLS: %v", err)
	}
	status.Store(http.StatusInternalServerError)
	if err := probeHealth(ctx, tlsAddr, webConfig); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("500 over TLS: %v", err)
	}
}
