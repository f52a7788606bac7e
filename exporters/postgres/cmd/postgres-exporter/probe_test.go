package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
)

// An auth module's credentials go only to the host:port patterns of its
// targets, or without any to --postgres.dsn's own host: /probe with another
// target answers 403 before anything is dialled (a tripwire port on the
// same host receives no connection), and the allowed targets are scraped.
func TestProbeSendsCredentialsOnlyToTheModuleTargets(t *testing.T) {
	bin := build(t)
	pg := testkit.StartPostgres(t, testkit.PostgresOptions{Password: "pg-s3cret"})
	trip := testkit.NewTripwire(t)
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	write(t, pw, "pg-s3cret\n")
	cfg := filepath.Join(dir, "config.yml")
	write(t, cfg, fmt.Sprintf(`auth_modules:
  listed:
    type: userpass
    userpass: {username: postgres, password_file: %s}
    options: {sslmode: disable}
    targets: ["127.0.0.*:%d", "db-*.internal:5432"]
  dsn_only:
    type: userpass
    userpass: {username: postgres, password_file: %s}
    options: {sslmode: disable}
`, pw, pg.Port, pw))

	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--config.file="+cfg, "--no-collector.databases",
		fmt.Sprintf("--postgres.dsn=postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.Port),
		"--postgres.password-file="+pw)
	cmd.Env = append(os.Environ(), "PGUSER=postgres", "PGPASSWORD=pg-s3cret")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("exporter log:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	testkit.Eventually(t, 10*time.Second, "exporter listening", func() error {
		resp, err := http.Get(base + "/health")
		if err != nil {
			return err
		}
		return resp.Body.Close()
	})

	h := http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"5"}}
	probe := func(target, module string) (int, string) {
		code, body := testkit.Get(t, base+"/probe?target="+target+"&auth_module="+module, h)
		return code, string(body)
	}
	pgHost := fmt.Sprintf("127.0.0.1:%d", pg.Port)
	for _, c := range []struct {
		target, module string
		want           int
	}{
		{trip.Host() + "/postgres", "listed", http.StatusForbidden},
		{"postgres://" + trip.Host() + "/postgres", "listed", http.StatusForbidden},
		{trip.Host(), "dsn_only", http.StatusForbidden},
		{"localhost:" + fmt.Sprint(pg.Port), "dsn_only", http.StatusForbidden}, // the DSN says 127.0.0.1
		{pgHost + "," + trip.Host() + "/postgres", "listed", http.StatusBadRequest},
		{"x@" + trip.Host(), "listed", http.StatusBadRequest},
		{pgHost + "/postgres", "listed", http.StatusOK},
		{pgHost, "dsn_only", http.StatusOK},
	} {
		code, body := probe(c.target, c.module)
		if code != c.want {
			t.Errorf("target %s module %s: %d, want %d\n%s", c.target, c.module, code, c.want, body)
			continue
		}
		if code == http.StatusOK && !strings.Contains(body, "\npg_up 1\n") {
			t.Errorf("target %s module %s: pg_up is not 1", c.target, c.module)
		}
		if code == http.StatusForbidden && !strings.Contains(body, "targets") {
			t.Errorf("the 403 does not say why: %s", body)
		}
		if n := trip.Connections(t); n != 0 {
			t.Fatalf("after target %s module %s: the tripwire port received %d connections", c.target, c.module, n)
		}
	}
	// Without a module no credentials are sent, not even PGPASSWORD's: the
	// server refuses a probe that has none.
	if code, body := probe(pgHost, ""); code != http.StatusOK || !strings.Contains(body, "\npg_up 0\n") {
		t.Errorf("probe without a module: %d, want pg_up 0 (no password sent)\n%s", code, body)
	}
}
