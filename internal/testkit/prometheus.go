package testkit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

func ioReadFull(r io.Reader, buf []byte) (int, error) { return io.ReadFull(r, buf) }

// PrometheusOptions shape a throwaway Prometheus server.
type PrometheusOptions struct {
	// Config is the prometheus.yml text. Rule file paths in it are used as
	// they are (absolute paths, or relative to ConfigDir).
	Config string
	// ConfigDir is where the config file is written (default: a temp dir);
	// set it to a directory holding rule files referenced relatively.
	ConfigDir string
}

// Prometheus is a running Prometheus server owned by a test.
type Prometheus struct {
	URL  string
	Addr string
	proc *Process
}

// StartPrometheus starts Debian's prometheus binary on a free port.
func StartPrometheus(t TB, opts PrometheusOptions) *Prometheus {
	t.Helper()
	bin := Binary(t, "prometheus")
	dir := TempDir(t, "prometheus")
	cfgDir := opts.ConfigDir
	if cfgDir == "" {
		cfgDir = dir
	}
	cfgPath := filepath.Join(cfgDir, fmt.Sprintf("prometheus-%d.yml", time.Now().UnixNano()))
	if err := os.WriteFile(cfgPath, []byte(opts.Config), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(cfgPath) })
	port := FreePort(t)
	p := &Prometheus{Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	p.URL = "http://" + p.Addr
	p.proc = &Process{Name: "prometheus", Path: bin, Dir: dir, LogPath: filepath.Join(dir, "prometheus.log"),
		Args: []string{"--config.file=" + cfgPath, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + p.Addr, "--web.enable-lifecycle"}}
	startServing(t, p.proc, 60*time.Second, httpReady(p.URL+"/-/ready"))
	return p
}

// API calls a Prometheus HTTP API path (e.g. "/api/v1/alerts") and decodes
// the "data" member into out.
func (p *Prometheus) API(t TB, path string, params url.Values, out any) {
	t.Helper()
	u := p.URL + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("GET %s: decoding: %v", u, err)
	}
	if env.Status != "success" {
		t.Fatalf("GET %s: %s", u, env.Error)
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		t.Fatalf("GET %s: decoding data: %v", u, err)
	}
}

// Sample is one element of an instant query result.
type Sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// Query runs an instant query.
func (p *Prometheus) Query(t TB, expr string) []Sample {
	t.Helper()
	var data struct {
		Result []Sample `json:"result"`
	}
	p.API(t, "/api/v1/query", url.Values{"query": {expr}}, &data)
	return data.Result
}

// Alert is one alert from /api/v1/alerts.
type Alert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// Alerts returns the alerts Prometheus holds now (pending and firing).
func (p *Prometheus) Alerts(t TB) []Alert {
	t.Helper()
	var data struct {
		Alerts []Alert `json:"alerts"`
	}
	p.API(t, "/api/v1/alerts", nil, &data)
	return data.Alerts
}

// Promtool runs promtool with args and returns its combined output and error.
func Promtool(t TB, stdin string, args ...string) (string, error) {
	t.Helper()
	bin := Binary(t, "promtool")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
