package testkit

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// AlertmanagerOptions shape a throwaway Alertmanager.
type AlertmanagerOptions struct {
	// Config is the alertmanager.yml text.
	Config string
}

// Alertmanager is a running Alertmanager owned by a test.
type Alertmanager struct {
	URL  string
	Addr string
	proc *Process
}

// StartAlertmanager starts Debian's prometheus-alertmanager on a free port,
// without clustering (a lone instance never waits for peers).
func StartAlertmanager(t TB, opts AlertmanagerOptions) *Alertmanager {
	t.Helper()
	bin := Binary(t, "prometheus-alertmanager")
	dir := TempDir(t, "alertmanager")
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(opts.Config), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := Amtool(t, "check-config", cfgPath); err != nil {
		t.Fatalf("amtool check-config:\n%s", out)
	}
	a := &Alertmanager{Addr: fmt.Sprintf("127.0.0.1:%d", FreePort(t))}
	a.URL = "http://" + a.Addr
	a.proc = &Process{Name: "alertmanager", Path: bin, Dir: dir, LogPath: filepath.Join(dir, "alertmanager.log"),
		Args: []string{"--config.file=" + cfgPath, "--storage.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + a.Addr, "--cluster.listen-address=", "--log.level=debug"}}
	startServing(t, a.proc, 60*time.Second, httpReady(a.URL+"/-/ready"))
	return a
}

// Log returns what Alertmanager logged so far.
func (a *Alertmanager) Log() string { return a.proc.Log() }

// AlertmanagerAlert is one alert from /api/v2/alerts.
type AlertmanagerAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Receivers   []struct {
		Name string `json:"name"`
	} `json:"receivers"`
	Status struct {
		State       string   `json:"state"` // active, suppressed, unprocessed
		InhibitedBy []string `json:"inhibitedBy"`
		SilencedBy  []string `json:"silencedBy"`
	} `json:"status"`
	Fingerprint string `json:"fingerprint"`
}

// Alerts returns the alerts Alertmanager holds now (resolved ones excluded),
// with their inhibition state.
func (a *Alertmanager) Alerts(t TB) []AlertmanagerAlert {
	t.Helper()
	resp, err := http.Get(a.URL + "/api/v2/alerts")
	if err != nil {
		t.Fatalf("GET /api/v2/alerts: %v", err)
	}
	defer resp.Body.Close()
	var out []AlertmanagerAlert
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("GET /api/v2/alerts: decoding: %v", err)
	}
	return out
}

// Amtool runs Debian's amtool with args and returns its combined output and
// error. It needs no server for check-config, config routes and template render.
func Amtool(t TB, args ...string) (string, error) {
	t.Helper()
	bin := Binary(t, "amtool")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	// amtool reads defaults from ~/.config/prometheus/amtool.yml: not here.
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
