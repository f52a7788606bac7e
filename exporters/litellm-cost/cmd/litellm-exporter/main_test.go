package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outrigger/outrigger/exporters/litellm-cost/internal/fakeproxy"
	"github.com/outrigger/outrigger/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunRejectsBadConfiguration(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	t.Setenv("DATABASE_URL_FILE", "")
	t.Setenv("LITELLM_URL", "")
	t.Setenv("LITELLM_MASTER_KEY", "")
	t.Setenv("LITELLM_MASTER_KEY_FILE", "")
	for _, args := range [][]string{
		{"--no-such-flag"},
		{}, // no database URL at all
		{"--database-url=postgres://u:p@h/d", "--time-zone=Mars/Olympus"},
		{"--database-url=postgres://u:p@h/d", "--refresh.interval=0s"},
		{"--database-url.file=/nonexistent/secret"},
		{"--litellm.url=http://litellm:4000"}, // no master key
		{"--litellm.url=http://litellm:4000", "--database-url=postgres://u:p@h/d"},
		{"--litellm.url=http://litellm:4000", "--litellm.master-key-file=/nonexistent/key"},
	} {
		if code := run(args); code != 2 {
			t.Errorf("run(%q) = %d, want 2", args, code)
		}
	}
}

// The real binary, configured the way the proxy's container is (DATABASE_URL
// in the Prisma form), serves budgets, answers /ready, and stops on SIGTERM.
func TestBinaryEndToEnd(t *testing.T) {
	pg := testkit.StartPostgres(t, testkit.PostgresOptions{Password: "pw-for-litellm"})
	pg.PSQL(t, "postgres", "CREATE DATABASE litellm")
	ddl, err := os.ReadFile("../../testdata/schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	pg.PSQL(t, "litellm", string(ddl))
	pg.PSQL(t, "litellm", `INSERT INTO "LiteLLM_TeamTable" ("team_id", "team_alias", "max_budget", "spend") VALUES ('t1', 'search', 50, 45)`)

	dir := testkit.TempDir(t, "litellm-exporter")
	bin := filepath.Join(dir, "litellm-exporter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	secret := filepath.Join(dir, "database-url")
	url := fmt.Sprintf("postgresql://postgres:pw-for-litellm@127.0.0.1:%d/litellm?schema=public&connection_limit=1", pg.Port)
	if err := os.WriteFile(secret, []byte(url+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	p := &testkit.Process{Name: "litellm-exporter", Path: bin, LogPath: filepath.Join(dir, "exporter.log"),
		Args: []string{"--web.listen-address=" + addr, "--refresh.interval=1s"},
		Env:  []string{"DATABASE_URL_FILE=" + secret, "DATABASE_URL="}}
	p.Start(t)
	t.Cleanup(func() { p.Stop(t) })

	testkit.Eventually(t, 30*time.Second, "exporter ready", func() error {
		code, body := getQuiet("http://" + addr + "/ready")
		if code != 200 {
			return fmt.Errorf("/ready %d %s", code, body)
		}
		return nil
	})
	code, body := testkit.Get(t, "http://"+addr+"/metrics", http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"5"}})
	if code != 200 {
		t.Fatalf("/metrics %d", code)
	}
	fams := testkit.Families(t, body)
	if v := testkit.MustValue(t, fams, "litellm_budget_utilization_ratio", map[string]string{"scope": "team", "id": "t1"}); v != 0.9 {
		t.Fatalf("team utilization = %v, want 0.9", v)
	}
	testkit.MustValue(t, fams, "litellm_exporter_build_info", nil)
	if strings.Contains(string(body), "pw-for-litellm") || strings.Contains(p.Log(), "pw-for-litellm") {
		t.Fatal("the password shows in the metrics or the log")
	}
	probe := exec.Command(bin, "--web.healthcheck", "--web.listen-address="+addr)
	probe.Env = append(os.Environ(), "DATABASE_URL=", "DATABASE_URL_FILE=")
	if out, err := probe.CombinedOutput(); err != nil {
		t.Fatalf("--web.healthcheck against the running exporter: %v\n%s", err, out)
	}
	p.Stop(t)
	if strings.Contains(p.Log(), "level=ERROR") {
		t.Fatalf("errors logged:\n%s", p.Log())
	}
}

func getQuiet(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b := make([]byte, 512)
	n, _ := resp.Body.Read(b)
	return resp.StatusCode, string(b[:n])
}

// HTTP mode end to end: the binary, configured with the proxy's own
// variables (LITELLM_URL, LITELLM_MASTER_KEY_FILE), serves budgets from the
// fake proxy and never shows the key.
func TestBinaryHTTPMode(t *testing.T) {
	const key = "sk-binary-master-31c4d5e6"
	fp := fakeproxy.Start(t, key)
	max := 50.0
	fp.With(func(d *fakeproxy.Data) {
		d.Teams = []fakeproxy.Team{{TeamID: "t1", TeamAlias: "search", MaxBudget: &max, Spend: 45}}
	})
	dir := testkit.TempDir(t, "litellm-exporter-http")
	bin := filepath.Join(dir, "litellm-exporter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	keyFile := filepath.Join(dir, "master-key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	p := &testkit.Process{Name: "litellm-exporter", Path: bin, LogPath: filepath.Join(dir, "exporter.log"),
		Args: []string{"--web.listen-address=" + addr, "--refresh.interval=1s", "--log.level=debug"},
		Env:  []string{"LITELLM_URL=" + fp.URL(), "LITELLM_MASTER_KEY_FILE=" + keyFile, "DATABASE_URL=", "DATABASE_URL_FILE="}}
	p.Start(t)
	t.Cleanup(func() { p.Stop(t) })
	testkit.Eventually(t, 30*time.Second, "exporter ready", func() error {
		if code, body := getQuiet("http://" + addr + "/ready"); code != 200 {
			return fmt.Errorf("/ready %d %s", code, body)
		}
		return nil
	})
	code, body := testkit.Get(t, "http://"+addr+"/metrics", nil)
	fams := testkit.Families(t, body)
	if v := testkit.MustValue(t, fams, "litellm_budget_utilization_ratio", map[string]string{"scope": "team", "id": "t1"}); code != 200 || v != 0.9 {
		t.Fatalf("team utilization = %v (%d), want 0.9", v, code)
	}
	p.Stop(t)
	if strings.Contains(string(body), key) || strings.Contains(p.Log(), key) {
		t.Fatal("the master key shows in the metrics or the log")
	}
	if strings.Contains(p.Log(), "level=ERROR") {
		t.Fatalf("errors logged:\n%s", p.Log())
	}
}
