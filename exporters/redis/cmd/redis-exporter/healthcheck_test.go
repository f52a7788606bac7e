package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
)

// `--web.healthcheck` probes the running exporter's /health and nothing
// else: with the deployment's flags (a Redis to watch, key groups to scan,
// the config file of /scrape targets) it makes no connection to any Redis.
func TestHealthcheckConnectsToNoRedis(t *testing.T) {
	bin := build(t)
	dir := t.TempDir()
	watched, other := testkit.NewTripwire(t), testkit.NewTripwire(t)
	cfg := filepath.Join(dir, "targets.yml")
	write(t, cfg, "targets:\n  - name: other\n    addr: redis://"+other.Host()+"\n    key_groups: [{pattern: \"x:*\"}]\n")
	deployment := []string{"--redis.addr=redis://" + watched.Host(), "--keys.group=db0=cache:*", "--keys.length=db0=celery",
		"--keys.scan-interval=10ms", "--config.file=" + cfg}

	// The exporter the probe asks watches a Redis that is not there.
	port := testkit.FreePort(t)
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	p := &testkit.Process{Name: "redis-exporter", Path: bin, LogPath: filepath.Join(dir, "exporter.log"),
		Args: []string{"--web.listen-address=" + listen, fmt.Sprintf("--redis.addr=redis://127.0.0.1:%d", testkit.FreePort(t))}}
	p.Start(t)
	t.Cleanup(func() { p.Stop(t) })
	testkit.Eventually(t, 10*time.Second, "exporter listening", func() error { return ping("http://" + listen) })

	probe := exec.Command(bin, append(deployment, "--web.listen-address="+listen, "--web.healthcheck")...)
	probe.Env = []string{"REDIS_PASSWORD=s3cret"}
	if out, err := probe.CombinedOutput(); err != nil {
		t.Fatalf("healthcheck against a running exporter: %v\n%s", err, out)
	}
	if n := watched.Connections(t) + other.Connections(t); n != 0 {
		t.Errorf("the healthcheck made %d connections to Redis", n)
	}
	p.Stop(t)
	if out, err := exec.Command(bin, append(deployment, "--web.listen-address="+listen, "--web.healthcheck")...).CombinedOutput(); err == nil {
		t.Errorf("healthcheck with no exporter running succeeded: %s", out)
	}
	if n := watched.Connections(t) + other.Connections(t); n != 0 {
		t.Errorf("the failing healthcheck made %d connections to Redis", n)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
