package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/outrigger/outrigger/shipper/internal/lokitest"
)

// manifestConfig is the shipper.yml of the DaemonSet's ConfigMap in
// deploy/kubernetes/log-shipper.yaml, as a node would get it.
func manifestConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "kubernetes", "log-shipper.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc struct {
			Kind     string                `yaml:"kind"`
			Metadata struct{ Name string } `yaml:"metadata"`
			Data     map[string]string     `yaml:"data"`
		}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if doc.Kind == "ConfigMap" && doc.Metadata.Name == "log-shipper" {
			if doc.Data["shipper.yml"] == "" {
				t.Fatal("the ConfigMap has no shipper.yml")
			}
			return doc.Data["shipper.yml"]
		}
	}
	t.Fatal("no ConfigMap log-shipper in the manifest")
	return ""
}

// TestManifestConfigShipsANode runs the ConfigMap's own shipper.yml, with
// its host paths moved under a test directory and its Loki URL pointed at
// the test receiver (nothing else changed): --config.check accepts it, and
// it ships a node's CRI and json-file container logs (path labels: no API
// server outside a cluster) and an application's log file.
func TestManifestConfigShipsANode(t *testing.T) {
	dir := testkit.TempDir(t, "shipper")
	loki := lokitest.Start(t, lokitest.Options{Now: testkit.Now})
	orig := manifestConfig(t)
	const lokiURL = "http://loki.monitoring.svc:3100/loki/api/v1/push"
	if !strings.Contains(orig, lokiURL) || !strings.Contains(orig, `"/var/log/pods/`) || !strings.Contains(orig, `"/app/logs/`) {
		t.Fatalf("the ConfigMap's paths or URL changed; update this test:\n%s", orig)
	}
	cfg := strings.NewReplacer(lokiURL, loki.URL+"/loki/api/v1/push", `"/var/log/`, `"`+dir+`/var/log/`,
		`"/app/logs/`, `"`+dir+`/app/logs/`, "/var/lib/log-shipper/", dir+"/state/").Replace(orig)
	path := filepath.Join(dir, "shipper.yml")
	os.WriteFile(path, []byte(cfg), 0o644)
	out, err := exec.Command(binary, "--config.file="+path, "--config.check").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "valid") {
		t.Fatalf("--config.check: %v\n%s", err, out)
	}
	t.Logf("--config.check: %s", bytes.TrimSpace(out))

	n := newNode(t, dir)
	base := testkit.Now().Add(-5 * time.Minute).Truncate(time.Millisecond)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	cri := n.container("shop", "api-1", "u1", "app")
	appendFile(t, cri, stamp(at(1))+` stdout F {"timestamp":"`+stamp(at(0))+`","level":"info","msg":"up"}`,
		stamp(at(2))+" stderr P warn",
		stamp(at(3))+" stderr F ing")
	docker := n.container("shop", "db-0", "u2", "postgres")
	appendFile(t, docker, `{"log":"ready to accept connections\n","stream":"stderr","time":"`+stamp(at(4))+`"}`)
	os.MkdirAll(filepath.Join(dir, "app", "logs"), 0o755)
	app := filepath.Join(dir, "app", "logs", "api.log")
	os.WriteFile(app, []byte(lokitest.Line(1, at(5), 100)+"\n"), 0o644)

	t.Setenv("NODE_NAME", "node-1")
	startShipper(t, dir, "--config.file="+path)
	checkStream(t, loki, kubeStream("api-1", "app", "stdout"), []wantEntry{{at(0), `{"timestamp":"` + stamp(at(0)) + `","level":"info","msg":"up"}`}})
	checkStream(t, loki, kubeStream("api-1", "app", "stderr"), []wantEntry{{at(2), "warning"}})
	checkStream(t, loki, `{container="postgres", namespace="shop", node="node-1", pod="db-0", stream="stderr"}`, []wantEntry{{at(4), "ready to accept connections"}})
	checkStream(t, loki, fmt.Sprintf(`{filename=%q, job="app-logs"}`, app), []wantEntry{{at(5), lokitest.Line(1, at(5), 100)}})
	if len(loki.Streams()) != 4 {
		t.Errorf("streams: %v", streamNames(loki))
	}
}
