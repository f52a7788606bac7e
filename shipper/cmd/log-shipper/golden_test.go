package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/outrigger/outrigger/shipper/internal/estest"
	"github.com/outrigger/outrigger/shipper/internal/lokitest"
)

// goldenLines is one file whose lines meet every per-line counter once
// at least: JSON lines, a line that is not JSON (decode error, no time), a
// JSON line without a time, a secret, an empty line, a dropped line,
// invalid UTF-8 and a line over max_line_bytes. It returns the lines and
// how many of them are shipped.
func goldenLines(base time.Time) (lines []string, shipped int) {
	for seq := 1; seq <= 20; seq++ {
		lines = append(lines, lokitest.Line(seq, base.Add(time.Duration(seq)*time.Millisecond), 250))
	}
	// Nine digits always (RFC3339Nano drops trailing zeros): the bytes read
	// are the same in every run.
	ts := base.Add(time.Second).UTC().Format("2006-01-02T15:04:05.000000000Z07:00")
	lines = append(lines,
		"not json at all",
		`{"msg":"no time","seq":22}`,
		`{"timestamp":"`+ts+`","msg":"login","password":"hunter2","seq":23}`,
		"",
		`{"timestamp":"`+ts+`","level":"debug","msg":"dropped","seq":25}`,
		`{"timestamp":"`+ts+`","msg":"caf`+"\xe9"+`","seq":26}`,
		`{"timestamp":"`+ts+`","seq":27,"pad":"`+strings.Repeat("x", 2000)+`"}`,
	)
	return lines, len(lines) - 2 // the empty line and the debug line
}

// TestGoldenExposition runs the shipper once against a real Loki and an
// Elasticsearch on one file that meets every counter, waits until both
// outputs acknowledged every line and the registry was written, and diffs
// the scrape with testdata/log-shipper.golden.prom: every family the shipper
// exposes in this setup (those of the dashboards and alert rules among them)
// with its help, type and series, and the values that this run fixes.
func TestGoldenExposition(t *testing.T) {
	dir := testkit.TempDir(t, "shipper")
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	loki := lokitest.StartReal(t, testkit.LokiOptions{})
	es := estest.New(estest.ES8)
	defer es.Close()
	lines, shipped := goldenLines(loki.Now().Add(-10 * time.Minute))
	if err := os.WriteFile(filepath.Join(logs, "app.log"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "shipper.yml")
	if err := os.WriteFile(cfg, []byte(`inputs:
  - paths: [`+logs+`/*.log]
    max_line_bytes: 1024
    drop_when: [{field: level, equals: debug}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startShipper(t, dir, "--config.file="+cfg, "--loki.url="+loki.PushURL(), "--elasticsearch.url="+es.URL,
		"--elasticsearch.index=app", "--registry.flush-interval=100ms")
	var body []byte
	testkit.Eventually(t, 60*time.Second, "every line acknowledged by both outputs and the registry written", func() error {
		code, b := testkit.Get(t, "http://"+s.addr+"/metrics", nil)
		if code != 200 {
			return fmt.Errorf("/metrics: %d", code)
		}
		fams := testkit.Families(t, b)
		for _, out := range []string{"loki", "elasticsearch"} {
			if v, _ := testkit.Value(fams, "log_shipper_shipped_lines_total", map[string]string{"output": out}); v != float64(shipped) {
				return fmt.Errorf("%s: %v of %d lines shipped", out, v, shipped)
			}
		}
		if v, _ := testkit.Value(fams, "log_shipper_buffered_bytes", nil); v != 0 {
			return fmt.Errorf("%v bytes buffered", v)
		}
		if v, _ := testkit.Value(fams, "log_shipper_file_lag_bytes", nil); v != 0 {
			return fmt.Errorf("%v bytes of lag", v)
		}
		if fams["log_shipper_registry_age_seconds"] == nil {
			return fmt.Errorf("registry not written yet")
		}
		body = b
		return nil
	})
	if n := loki.Count(t); n != shipped {
		t.Errorf("Loki holds %d lines, want %d", n, shipped)
	}
	testkit.GoldenExposition(t, "log-shipper.golden.prom", body, testkit.Mask{
		Keep: regexp.MustCompile(`^log_shipper_(read_lines_total|read_bytes_total|shipped_lines_total|dropped_lines_total|` +
			`decode_errors_total|timestamp_fallback_total|redactions_total|lines_truncated_total|lines_utf8_repaired_total|` +
			`duplicates_total|dead_letters_total|file_events_total|files_open|files_watched|file_lag_bytes|buffered_bytes|` +
			`buffer_limit_bytes|kubernetes_pods)$`),
		Labels: []string{"path"},
		Drop:   regexp.MustCompile("^go_"),
	})
}
