package collector

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/exporters/redis/config"
	"github.com/outrigger/outrigger/exporters/redis/info"
	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scanFast is a scan configuration for tests: cycles back to back.
var scanFast = config.Scan{Interval: 20 * time.Millisecond, Budget: 200 * time.Millisecond, Batch: 1000}

// validate builds the validated config of a default target on r, changed by mod.
func validate(t testing.TB, r *testkit.Redis, file string, mod func(*config.Target)) config.ValidatedConfig {
	t.Helper()
	c := config.Config{
		Default:     config.Target{Addr: r.URL(0)},
		File:        file,
		ClientName:  "outrigger-redis-exporter",
		ClientsTopN: 3,
		SlowlogTop:  3,
		Scan:        scanFast,
	}
	if mod != nil {
		mod(&c.Default)
	}
	v, err := c.Validate()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newTarget(t testing.TB, r *testkit.Redis, mod func(*config.Target)) *Target {
	t.Helper()
	v := validate(t, r, "", mod)
	o := v.Scrape()
	o.LatencyHistogram = true
	tg := NewTarget(v.Targets()[0], o, nil)
	t.Cleanup(func() { tg.Close() })
	return tg
}

// collect runs one scrape of tg with the given budget and returns its families.
func collect(t testing.TB, tg *Target, budget time.Duration) map[string]*dto.MetricFamily {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	run := tg.Start(ctx)
	metrics := run.Wait(ctx)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(promkit.Metrics(metrics))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering: %v", err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// server serves targets the way the binary does, for HTTP-level tests.
func server(t testing.TB, ts *Targets) *httptest.Server {
	t.Helper()
	vc, err := promkit.Config{Service: "redis-exporter", ListenAddresses: []string{"127.0.0.1:0"}, TelemetryPath: "/metrics",
		LogLevel: "warn", LogFormat: "logfmt", ScrapeTimeoutOffset: 500 * time.Millisecond, ScrapeTimeoutMax: 10 * time.Second,
		DisableExporterMetrics: true}.Validate()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := promkit.NewServer(vc, promkit.Options{Namespace: "redis", Ready: ts.Ready, Target: ts.DefaultScrape})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle("/scrape", srv.ScrapeHandler(ts.Scrape))
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs
}

func timeoutHeader(secs string) http.Header {
	return http.Header{promkit.TimeoutHeader: []string{secs}}
}

// infoOf reads INFO ALL directly from the server.
func infoOf(t testing.TB, r *testkit.Redis) *info.Info {
	t.Helper()
	return info.Parse(r.MustDo(t, "INFO", "ALL"))
}

// errorCounters is what must not move because of the exporter: every
// errorstat, total_error_replies, and every command's rejected and failed calls.
func errorCounters(t testing.TB, r *testkit.Redis) map[string]float64 {
	t.Helper()
	in := infoOf(t, r)
	out := map[string]float64{}
	out["total_error_replies"], _ = in.Float("total_error_replies")
	for _, e := range in.ErrorStats() {
		out["errorstat_"+e.Prefix] = e.Count
	}
	for _, c := range in.CommandStats() {
		out["rejected_"+c.Cmd] = c.RejectedCalls
		out["failed_"+c.Cmd] = c.FailedCalls
	}
	return out
}

// ourConnections counts the server's connections named like the exporter's.
func ourConnections(t testing.TB, r *testkit.Redis) int {
	t.Helper()
	n := 0
	for line := range strings.SplitSeq(r.MustDo(t, "CLIENT", "LIST"), "\n") {
		if strings.Contains(line, " name=outrigger-redis-exporter ") {
			n++
		}
	}
	return n
}
