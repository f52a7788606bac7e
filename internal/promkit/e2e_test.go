package promkit_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
)

// The daemon in testdata/testdaemon is the smallest one built on promkit; this
// test holds it to what every Outrigger daemon promises.
func TestDaemonEndToEnd(t *testing.T) {
	bin := testkit.Build(t, "./testdata/testdaemon")

	t.Run("help names every env var", func(t *testing.T) {
		help := testkit.HelpListsEnvVars(t, bin)
		for _, want := range []string{"$TESTD_WEB_LISTEN_ADDRESS", "$TESTD_WEB_CONFIG_FILE", "$TESTD_LOG_LEVEL"} {
			if !strings.Contains(help, want) {
				t.Errorf("--help lacks %s", want)
			}
		}
	})

	t.Run("health, ready follows the target, metrics lint clean", func(t *testing.T) {
		downFile := filepath.Join(t.TempDir(), "down")
		os.WriteFile(downFile, nil, 0o644)
		d := testkit.StartDaemon(t, bin, "--target.down-file="+downFile)

		code, body := d.Get(t, "/health", nil)
		var health map[string]string
		if err := json.Unmarshal(body, &health); err != nil || code != 200 || health["status"] != "healthy" ||
			health["service"] != "testdaemon" || health["version"] == "" || health["timestamp"] == "" {
			t.Fatalf("/health = %d %s", code, body)
		}
		code, body = d.Get(t, "/ready", nil)
		if code != 503 || !strings.Contains(string(body), "connection refused") {
			t.Fatalf("/ready while down = %d %s, want 503 with the reason", code, body)
		}
		code, body = d.Get(t, "/metrics", nil)
		if code != 200 {
			t.Fatalf("/metrics while down = %d, want 200", code)
		}
		fams := testkit.Families(t, body)
		if v := testkit.MustValue(t, fams, "testd_scrape_collector_success", map[string]string{"collector": "fast"}); v != 0 {
			t.Fatalf("collector success while down = %v, want 0", v)
		}
		os.Remove(downFile)
		code, _ = d.Get(t, "/ready", nil)
		if code != 200 {
			t.Fatalf("/ready after recovery = %d, want 200", code)
		}
		_, body = d.Get(t, "/metrics", nil)
		fams = testkit.Families(t, body)
		if v := testkit.MustValue(t, fams, "testd_value", nil); v != 42 {
			t.Fatalf("testd_value = %v", v)
		}
		testkit.MustValue(t, fams, "testd_exporter_build_info", nil)
		testkit.CheckMetrics(t, body)
		if code, body := d.Get(t, "/", nil); code != 200 || !strings.Contains(string(body), "/metrics") {
			t.Fatalf("landing page = %d", code)
		}
		probe := exec.Command(bin, "--web.healthcheck", "--web.listen-address="+strings.TrimPrefix(d.URL, "http://"))
		if out, err := probe.CombinedOutput(); err != nil {
			t.Fatalf("--web.healthcheck against a running daemon: %v\n%s", err, out)
		}
		probe = exec.Command(bin, "--web.healthcheck", fmt.Sprintf("--web.listen-address=127.0.0.1:%d", testkit.FreePort(t)))
		if err := probe.Run(); err == nil {
			t.Fatal("--web.healthcheck passed with nothing listening")
		}
	})

	t.Run("basic auth from web config", func(t *testing.T) {
		d := testkit.StartDaemon(t, bin, "--web.config.file="+testkit.BasicAuthWebConfig(t, "prom", "s3cret"))
		if code, _ := d.Get(t, "/metrics", nil); code != http.StatusUnauthorized {
			t.Fatalf("unauthenticated /metrics = %d, want 401", code)
		}
		req, _ := http.NewRequest("GET", d.URL+"/metrics", nil)
		req.SetBasicAuth("prom", "s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("authenticated /metrics = %v %v", resp, err)
		}
		resp.Body.Close()
	})

	t.Run("20 concurrent scrapes run one collection", func(t *testing.T) {
		d := testkit.StartDaemon(t, bin, "--collector.hang=500ms")
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if code, _ := testkit.Get(t, d.URL+"/metrics", nil); code != 200 {
					t.Errorf("scrape = %d", code)
				}
			})
		}
		wg.Wait()
		_, body := d.Get(t, "/metrics", nil)
		// The scrape just made is the second collection.
		if v := testkit.MustValue(t, testkit.Families(t, body), "testd_collections_total", nil); v != 2 {
			t.Fatalf("20 concurrent scrapes + 1 ran %v collections, want 2", v)
		}
	})

	t.Run("a hanging collector does not hold the scrape past its deadline", func(t *testing.T) {
		d := testkit.StartDaemon(t, bin, "--collector.hang=1h")
		start := time.Now()
		code, body := d.Get(t, "/metrics", http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"1"}})
		if elapsed := time.Since(start); elapsed >= time.Second {
			t.Fatalf("scrape with a 1 s timeout took %s", elapsed)
		}
		fams := testkit.Families(t, body)
		if code != 200 || testkit.MustValue(t, fams, "testd_scrape_collector_success", map[string]string{"collector": "slow"}) != 0 ||
			testkit.MustValue(t, fams, "testd_scrape_collector_success", map[string]string{"collector": "fast"}) != 1 ||
			testkit.MustValue(t, fams, "testd_value", nil) != 42 {
			t.Fatalf("scrape = %d\n%s", code, body)
		}
	})

	t.Run("SIGHUP reloads and does not stop it", func(t *testing.T) {
		d := testkit.StartDaemon(t, bin)
		d.Signal(syscall.SIGHUP)
		testkit.Eventually(t, 5*time.Second, "reload logged", func() error {
			if !strings.Contains(d.Log(), "reload requested") {
				return os.ErrNotExist
			}
			return nil
		})
		if code, _ := d.Get(t, "/health", nil); code != 200 || !d.Running() {
			t.Fatalf("daemon stopped after SIGHUP")
		}
		d.Signal(syscall.SIGTERM)
		select {
		case <-d.Exited():
		case <-time.After(10 * time.Second):
			t.Fatal("SIGTERM did not stop the daemon")
		}
	})
}
