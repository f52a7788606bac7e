package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"github.com/outrigger/outrigger/internal/testkit"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// build compiles the exporter once per test run into a temporary directory.
func build(t *testing.T) string {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// binDir holds the binary built for this test run, removed by TestMain.
var binDir string

var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "postgres-exporter-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "postgres-exporter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// Every flag --help lists names the environment variable that also sets it.
func TestHelpListsEveryFlagWithItsEnvVar(t *testing.T) {
	bin := build(t)
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	help := string(out)
	// Each flag's entry runs from its line to the next flag's.
	entries := regexp.MustCompile(`(?m)^(?:  -\w, |      )--(?:\[no-\])?([a-z0-9.-]*[a-z0-9])`).FindAllStringSubmatchIndex(help, -1)
	if len(entries) < 20 {
		t.Fatalf("found only %d flags in --help:\n%s", len(entries), help)
	}
	actions := map[string]bool{"help": true, "version": true, "web.healthcheck": true}
	for i, e := range entries {
		name := help[e[2]:e[3]]
		end := len(help)
		if i+1 < len(entries) {
			end = entries[i+1][0]
		}
		text := strings.Join(strings.Fields(help[e[0]:end]), " ")
		if actions[name] {
			continue
		}
		want := "($PG_EXPORTER_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(name)) + ")"
		if name == "postgres.dsn" {
			want = "($DATA_SOURCE_NAME)"
		}
		if !strings.Contains(text, want) {
			t.Errorf("--%s: help does not name %s: %q", name, want, text)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	bin := build(t)
	good := exec.Command(bin, "--config.check", "--config.file=../../config/testdata/good.yml")
	if out, err := good.CombinedOutput(); err != nil || !strings.Contains(string(out), "1 custom queries") {
		t.Errorf("good config: %v %s", err, out)
	}
	bad := exec.Command(bin, "--config.check", "--config.file=../../config/testdata/bad-type.yml")
	out, err := bad.CombinedOutput()
	if code := exitCode(err); code != 2 || !strings.Contains(string(out), "line 5") {
		t.Errorf("bad config: exit %d, %s", code, out)
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// The built binary against a real server: /health, /ready following the
// server, a lint-clean /metrics, basic auth from --web.config.file, and
// SIGHUP reloading the config without stopping it.
func TestBinaryEndToEnd(t *testing.T) {
	bin := build(t)
	pg := testkit.StartPostgres(t, testkit.PostgresOptions{StatStatements: true, Password: "pg-s3cret",
		Settings: goldenSettings})
	pg.Stop(t)
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("scrape-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(dir, "web.yml")
	write(t, webConfig, fmt.Sprintf("basic_auth_users:\n  prometheus: %s\n", hash))
	pwFile := filepath.Join(dir, "pw")
	write(t, pwFile, "pg-s3cret\n")
	cfgFile := filepath.Join(dir, "config.yml")
	write(t, cfgFile, "queries: []\n")

	port := testkit.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--config.file="+cfgFile, "--log.level=debug",
		"--collector.statements.top-n=1")
	cmd.Env = append(os.Environ(),
		"DATA_SOURCE_NAME="+fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.Port),
		"PG_EXPORTER_POSTGRES_PASSWORD_FILE="+pwFile,
		"PG_EXPORTER_WEB_CONFIG_FILE="+webConfig)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("exporter log:\n%s", logs.String())
		}
		if strings.Contains(logs.String(), "pg-s3cret") || strings.Contains(logs.String(), "scrape-pw") {
			t.Errorf("a secret went into the log")
		}
	})
	base := "http://" + addr
	auth := http.Header{"Authorization": {"Basic cHJvbWV0aGV1czpzY3JhcGUtcHc="}} // prometheus:scrape-pw
	testkit.Eventually(t, 10*time.Second, "exporter listening", func() error {
		resp, err := http.Get(base + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})

	if code, _ := testkit.Get(t, base+"/metrics", nil); code != http.StatusUnauthorized {
		t.Errorf("/metrics without credentials: %d, want 401", code)
	}
	if code, body := testkit.Get(t, base+"/health", auth); code != http.StatusOK || !strings.Contains(string(body), "healthy") {
		t.Errorf("/health: %d %s", code, body)
	}
	code, body := testkit.Get(t, base+"/ready", auth)
	if code != http.StatusServiceUnavailable || strings.Contains(string(body), "s3cret") {
		t.Errorf("/ready with the server down: %d %s, want 503 without secrets", code, body)
	}
	pg.Start(t)
	held := goldenSetup(t, pg)
	testkit.Eventually(t, 10*time.Second, "/ready once the server is up", func() error {
		if code, body := testkit.Get(t, base+"/ready", auth); code != http.StatusOK {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	h := auth.Clone()
	h.Set("X-Prometheus-Scrape-Timeout-Seconds", "5")
	code, body = testkit.Get(t, base+"/metrics", h)
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	fams := testkit.Families(t, body)
	for _, name := range []string{"pg_up", "pg_connections_utilization_ratio", "pg_stat_statements_available", "pg_exporter_build_info"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing from /metrics", name)
		}
	}
	if v := testkit.MustValue(t, fams, "pg_up", nil); v != 1 {
		t.Errorf("pg_up = %v", v)
	}
	testkit.CheckMetrics(t, body, compatNames(body)...)
	waitForExtraConnectionsGone(t, held)

	// A reload picks up a new query; SIGHUP does not stop the daemon.
	write(t, cfgFile, "queries:\n  - name: answer\n    query: SELECT 42 AS value\n    values: [{column: value, type: gauge}]\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "reloaded query served", func() error {
		_, body := testkit.Get(t, base+"/metrics", h)
		if !strings.Contains(string(body), "pg_answer_value 42") {
			return fmt.Errorf("pg_answer_value 42 not served yet")
		}
		return nil
	})
	write(t, cfgFile, "queries: [{name: broken}]\n")
	_ = cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-exited:
		t.Fatalf("exporter exited after SIGHUP: %v", err)
	default:
	}
	_, body = testkit.Get(t, base+"/metrics", h)
	if !strings.Contains(string(body), "pg_answer_value 42") {
		t.Errorf("a failed reload dropped the previous configuration")
	}
	testkit.GoldenExposition(t, "postgres-exporter.golden.prom", body, goldenMask)
}

// compatNames lists postgres_exporter's names in the exposition that promtool
// flags: counters without _total and gauges ending in _count.
func compatNames(body []byte) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (pg_(?:stat_database|stat_user_tables)_\w+|pg_stat_archiver_\w+_count|pg_locks_count|pg_stat_activity_count|pg_settings_\w+_count) `).FindAllSubmatch(body, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
