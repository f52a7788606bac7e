package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/outrigger/outrigger/shipper/internal/estest"
)

// stackFilebeat is the Filebeat file the port-operations stack runs today.
const stackFilebeat = "../../testdata/stack-filebeat.yml"

// appLogs takes /app/logs, the directory the stack's file names, on this
// machine (tests run as root) and gives it back at the end.
func appLogs(t *testing.T) string {
	t.Helper()
	dir := "/app/logs"
	_, err := os.Stat(dir)
	created := os.IsNotExist(err)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("creating %s (the test runs the stack's Filebeat file unchanged, so it needs that path): %v", dir, err)
	}
	names := []string{"app.log", "api.log", "error.log"}
	for _, n := range names {
		os.Remove(filepath.Join(dir, n))
	}
	t.Cleanup(func() {
		for _, n := range names {
			os.Remove(filepath.Join(dir, n))
		}
		if created {
			os.Remove(dir)
			os.Remove("/app")
		}
	})
	return dir
}

// TestStackFilebeatFileRunsUnchanged runs the stack's Filebeat file as it
// is. Its output host is elasticsearch:9200, so the shipper reaches the fake
// cluster the way it would through a proxy (HTTP_PROXY, which the shipper
// honours like any Go HTTP client); its paths are /app/logs/*.log, which
// the test writes.
func TestStackFilebeatFileRunsUnchanged(t *testing.T) {
	logs := appLogs(t)
	es := estest.New(estest.ES8)
	defer es.Close()
	dir := testkit.TempDir(t, "shipper")
	write := func(name string, lines ...string) {
		f, err := os.OpenFile(filepath.Join(logs, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, l := range lines {
			fmt.Fprintln(f, l)
		}
	}
	write("app.log",
		`{"timestamp":"2026-11-21T23:59:59.500Z","level":"INFO","logger":"app","message":"last of the day","request_id":"r1"}`,
		`{"timestamp":"2026-11-22T00:30:00.000+01:00","level":"INFO","message":"UTC is still the 21st"}`,
		`{"timestamp":"2026-11-22T00:00:00.250Z","level":"WARNING","message":"first of the next day","user":{"id":7}}`)
	write("api.log", `{"@timestamp":"2026-11-22T08:00:00.000Z","method":"GET","path":"/api/ports","status":200,"duration_ms":12.5}`)
	write("error.log", `{"timestamp":"2026-11-22T09:00:00Z","level":"ERROR","message":"db down"}`,
		`Traceback (most recent call last): not JSON`)

	p := &testkit.Process{Name: "log-shipper", Path: binary, LogPath: filepath.Join(dir, "shipper.log"),
		Env: []string{"HTTP_PROXY=" + es.URL, "http_proxy=" + es.URL, "NO_PROXY=", "no_proxy="},
		Args: []string{"--web.listen-address=127.0.0.1:0", "--registry.path=" + filepath.Join(dir, "registry.json"),
			"--filebeat.config", stackFilebeat}}
	p.Start(t)
	t.Cleanup(func() { p.Stop(t) })
	testkit.Eventually(t, 20*time.Second, "six documents indexed", func() error {
		if !p.Running() {
			t.Fatalf("log-shipper exited:\n%s", p.Log())
		}
		if n := len(es.Docs()); n != 6 {
			return fmt.Errorf("%d documents", n)
		}
		return nil
	})
	if !strings.Contains(p.Log(), "setup.kibana.host") || !strings.Contains(p.Log(), "not supported") {
		t.Errorf("the unsupported key setup.kibana.host is not listed at start:\n%s", p.Log())
	}
	byMsg := map[string]estest.Doc{}
	for _, d := range es.Docs() {
		key, _ := d.Source["message"].(string)
		if key == "" {
			key, _ = d.Source["path"].(string)
		}
		byMsg[key] = d
	}
	want := []struct{ key, index, timestamp string }{
		{"last of the day", "aliaport-2026.11.21", "2026-11-21T23:59:59.500Z"},
		{"UTC is still the 21st", "aliaport-2026.11.21", "2026-11-21T23:30:00.000Z"},
		{"first of the next day", "aliaport-2026.11.22", "2026-11-22T00:00:00.250Z"},
		{"/api/ports", "aliaport-2026.11.22", "2026-11-22T08:00:00.000Z"},
		{"db down", "aliaport-2026.11.22", "2026-11-22T09:00:00.000Z"},
	}
	for _, w := range want {
		d, ok := byMsg[w.key]
		if !ok {
			t.Errorf("no document for %q", w.key)
			continue
		}
		if d.Index != w.index || d.Source["@timestamp"] != w.timestamp {
			t.Errorf("%q: index %s @timestamp %v, want %s %s", w.key, d.Index, d.Source["@timestamp"], w.index, w.timestamp)
		}
		if d.Source["error"] != nil {
			t.Errorf("%q: error key on a valid line: %s", w.key, d.Raw)
		}
		// Decoded keys at the root, as with json.keys_under_root, and the fields Filebeat adds.
		logField, _ := d.Source["log"].(map[string]any)
		if logField == nil || logField["file"].(map[string]any)["path"] == nil || d.Source["input"].(map[string]any)["type"] != "log" ||
			d.Source["host"] == nil || d.Source["json"] != nil {
			t.Errorf("%q: document %s", w.key, d.Raw)
		}
	}
	if d := byMsg["last of the day"]; d.Source["request_id"] != "r1" || d.Source["level"] != "INFO" {
		t.Errorf("decoded keys not at the root: %s", d.Raw)
	}
	if d := byMsg["/api/ports"]; d.Source["status"] != float64(200) || d.Source["duration_ms"] != 12.5 {
		t.Errorf("types not kept: %s", d.Raw)
	}
	bad, ok := byMsg["Traceback (most recent call last): not JSON"]
	if !ok {
		t.Fatalf("no document for the bad JSON line")
	}
	errObj, _ := bad.Source["error"].(map[string]any)
	if errObj == nil || errObj["type"] != "json" || !strings.HasPrefix(errObj["message"].(string), "Error decoding JSON: ") {
		t.Errorf("bad JSON line: %s", bad.Raw)
	}
	if bad.Index != "aliaport-"+time.Now().UTC().Format("2006.01.02") && bad.Index != "aliaport-"+time.Now().UTC().Add(-time.Minute).Format("2006.01.02") {
		t.Errorf("bad line without a timestamp: index %s, want the read day", bad.Index)
	}
	ids := map[string]bool{}
	for _, d := range es.Docs() {
		ids[d.ID] = true
	}
	if len(ids) != 6 {
		t.Errorf("document ids not distinct: %v", ids)
	}
	idx := es.Indices()
	sort.Strings(idx)
	t.Logf("indices %v", idx)
}
