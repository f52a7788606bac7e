package promkit

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
)

// The server's own registry serves client_golang's Go and process families
// (the dashboards read process_resident_memory_bytes) and the build info,
// beside a scrape's metrics, and <ns>_exporter_scrape_errors_total with
// every reason at 0.
func TestServerServesOwnFamilies(t *testing.T) {
	cfg := Config{Service: "t", ListenAddresses: []string{"127.0.0.1:0"}, TelemetryPath: "/metrics", LogLevel: "info",
		LogFormat: "logfmt", ScrapeTimeoutMax: time.Second}
	vc, err := cfg.Validate()
	if err != nil {
		t.Fatal(err)
	}
	runner := &Runner{Namespace: "t"}
	srv, err := NewServer(vc, Options{Namespace: "t",
		Target: func(*http.Request) (string, StartFunc, error) { return "", runner.Start, nil }})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics = %d", rec.Code)
	}
	fams := testkit.Families(t, rec.Body.Bytes())
	for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds",
		"process_open_fds", "process_max_fds", "process_virtual_memory_bytes", "process_virtual_memory_max_bytes",
		"go_goroutines", "t_exporter_build_info"} {
		if len(fams[name].GetMetric()) == 0 {
			t.Errorf("%s missing", name)
		}
	}
	if v := testkit.MustValue(t, fams, "process_start_time_seconds", nil); v < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Errorf("process_start_time_seconds = %v", v)
	}
	for r := range numDropReasons {
		if v := testkit.MustValue(t, fams, "t_exporter_scrape_errors_total", map[string]string{"reason": r.String()}); v != 0 {
			t.Errorf("scrape_errors_total{reason=%s} = %v", r, v)
		}
	}
	testkit.CheckMetrics(t, rec.Body.Bytes())
}
