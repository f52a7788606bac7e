package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/outrigger/outrigger/shipper/internal/estest"
	"github.com/outrigger/outrigger/shipper/internal/kubetest"
	"github.com/outrigger/outrigger/shipper/internal/lokitest"
)

// node is a kubelet's log tree under a test directory: the files under
// var/log/pods and their links under var/log/containers.
type node struct {
	t    *testing.T
	root string
}

func newNode(t *testing.T, dir string) *node {
	n := &node{t: t, root: filepath.Join(dir, "var", "log")}
	for _, d := range []string{"pods", "containers"} {
		if err := os.MkdirAll(filepath.Join(n.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// container makes a container's 0.log (empty) and its link; it returns the file.
func (n *node) container(ns, pod, uid, name string) string {
	n.t.Helper()
	dir := filepath.Join(n.root, "pods", ns+"_"+pod+"_"+uid, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		n.t.Fatal(err)
	}
	file := filepath.Join(dir, "0.log")
	if err := os.WriteFile(file, nil, 0o640); err != nil {
		n.t.Fatal(err)
	}
	id := fmt.Sprintf("%064x", rand.Uint64())
	if err := os.Symlink(file, filepath.Join(n.root, "containers", pod+"_"+ns+"_"+name+"-"+id+".log")); err != nil {
		n.t.Fatal(err)
	}
	return file
}

func appendFile(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
}

func stamp(ts time.Time) string { return ts.UTC().Format(time.RFC3339Nano) }

func kubeStream(pod, container, stream string, extra ...string) string {
	l := map[string]string{"namespace": "shop", "pod": pod, "container": container, "node": "node-1", "stream": stream}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	var b []string
	for _, k := range []string{"app", "component", "container", "namespace", "node", "pod", "stream"} {
		if v, ok := l[k]; ok {
			b = append(b, fmt.Sprintf("%s=%q", k, v))
		}
	}
	return "{" + strings.Join(b, ", ") + "}"
}

type wantEntry struct {
	ts   time.Time
	line string
}

func checkStream(t *testing.T, loki *lokitest.Server, stream string, want []wantEntry) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, "stream "+stream, func() error {
		got := loki.Streams()[stream]
		if len(got) < len(want) {
			return fmt.Errorf("%d of %d entries; streams: %v", len(got), len(want), streamNames(loki))
		}
		return nil
	})
	got := loki.Streams()[stream]
	if len(got) != len(want) {
		t.Errorf("%s: %d entries, want %d", stream, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i].Line != want[i].line || got[i].TimeNs != want[i].ts.UnixNano() {
			t.Errorf("%s entry %d: %d %q, want %d %q", stream, i, got[i].TimeNs, got[i].Line, want[i].ts.UnixNano(), want[i].line)
		}
	}
}

func streamNames(loki *lokitest.Server) []string {
	var out []string
	for s := range loki.Streams() {
		out = append(out, s)
	}
	return out
}

func kubeConfigFile(t *testing.T, dir, glob, kube, lokiURL string) string {
	t.Helper()
	cfg := fmt.Sprintf("inputs:\n  - paths: [%q]\n    kubernetes: %s\noutputs:\n  loki:\n    url: %s/loki/api/v1/push\n    batch_wait: 50ms\n", glob, kube, lokiURL)
	p := filepath.Join(dir, "shipper.yml")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKubernetesNodeLogs reads a node's tree through the
// /var/log/containers links: CRI lines (full, partial, stdout and stderr,
// JSON and raw) and json-file records, each stream labelled from the path
// and with the pod's labels from the fake API server; a JSON line keeps
// its own time, any other the runtime's. A pod annotated
// outrigger.io/logs: "false" is not shipped. The watch is dropped and a
// pod created meanwhile is labelled once it resumed; with the API gone,
// /ready says so and lines still ship with path labels.
func TestKubernetesNodeLogs(t *testing.T) {
	dir := testkit.TempDir(t, "shipper")
	n := newNode(t, dir)
	loki := lokitest.Start(t, lokitest.Options{Now: testkit.Now})
	api := kubetest.Start(t, "sa-token")
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("sa-token\n"), 0o600)
	api.Put(kubetest.Pod{Namespace: "shop", Name: "api-1", UID: "u1", Node: "node-1", Labels: map[string]string{"app.kubernetes.io/name": "api", "app.kubernetes.io/component": "web"}})
	api.Put(kubetest.Pod{Namespace: "shop", Name: "legacy-1", UID: "u2", Node: "node-1", Labels: map[string]string{"app": "legacy"}})
	api.Put(kubetest.Pod{Namespace: "shop", Name: "quiet-1", UID: "u3", Node: "node-1", Labels: map[string]string{"app": "quiet"},
		Annotations: map[string]string{"outrigger.io/logs": "false"}})

	base := testkit.Now().Add(-10 * time.Minute).Truncate(time.Millisecond)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	apiLog := n.container("shop", "api-1", "u1", "app")
	appendFile(t, apiLog,
		stamp(at(10))+` stdout F {"timestamp":"`+stamp(at(5))+`","level":"info","msg":"json app line"}`,
		stamp(at(20))+` stdout F plain text line`,
		stamp(at(30))+` stdout P {"timestamp":"`+stamp(at(25))+`","msg":"joi`,
		stamp(at(31))+` stderr F an error on stderr`,
		stamp(at(32))+` stdout F ned"}`,
		stamp(at(40))+` stdout P partial raw `,
		stamp(at(41))+` stdout F end`,
	)
	legacyLog := n.container("shop", "legacy-1", "u2", "web")
	rec := func(text, stream string, ts time.Time) string {
		return fmt.Sprintf(`{"log":%q,"stream":%q,"time":%q}`, text, stream, stamp(ts))
	}
	appendFile(t, legacyLog,
		rec(`{"timestamp":"`+stamp(at(45))+`","msg":"docker json"}`+"\n", "stdout", at(50)),
		rec("raw docker\n", "stderr", at(60)),
		rec("split ", "stdout", at(70)),
		rec("docker\n", "stdout", at(71)),
	)
	quietLog := n.container("shop", "quiet-1", "u3", "app")
	appendFile(t, quietLog, stamp(at(80))+" stdout F should not ship")

	cfg := kubeConfigFile(t, dir, filepath.Join(n.root, "containers", "*.log"),
		fmt.Sprintf("{node: node-1, api_url: %q, token_file: %q}", api.URL, tok), loki.URL)
	s := startShipper(t, dir, "--config.file="+cfg)

	checkStream(t, loki, kubeStream("api-1", "app", "stdout", "app", "api", "component", "web"), []wantEntry{
		{at(5), `{"timestamp":"` + stamp(at(5)) + `","level":"info","msg":"json app line"}`},
		{at(20), "plain text line"},
		{at(25), `{"timestamp":"` + stamp(at(25)) + `","msg":"joined"}`},
		{at(40), "partial raw end"},
	})
	checkStream(t, loki, kubeStream("api-1", "app", "stderr", "app", "api", "component", "web"), []wantEntry{{at(31), "an error on stderr"}})
	checkStream(t, loki, kubeStream("legacy-1", "web", "stdout", "app", "legacy"), []wantEntry{
		{at(45), `{"timestamp":"` + stamp(at(45)) + `","msg":"docker json"}`},
		{at(70), "split docker"},
	})
	checkStream(t, loki, kubeStream("legacy-1", "web", "stderr", "app", "legacy"), []wantEntry{{at(60), "raw docker"}})
	for st := range loki.Streams() {
		if strings.Contains(st, "quiet") {
			t.Errorf("an opted-out pod was shipped: %s", st)
		}
	}
	if code, body := testkit.Get(t, "http://"+s.addr+"/ready", nil); code != 200 {
		t.Errorf("/ready %d %s", code, body)
	}

	// The watch drops; a pod starts meanwhile; its logs get its labels.
	watches := api.Requests("watch")
	api.DropWatches()
	api.Put(kubetest.Pod{Namespace: "shop", Name: "worker-1", UID: "u4", Node: "node-1", Labels: map[string]string{"app": "celery", "component": "worker"}})
	testkit.Eventually(t, 10*time.Second, "the watch resumed", func() error {
		if api.Requests("watch") <= watches || api.Watches() != 1 {
			return fmt.Errorf("%d watches, %d open", api.Requests("watch"), api.Watches())
		}
		return nil
	})
	workerLog := n.container("shop", "worker-1", "u4", "main")
	appendFile(t, workerLog, stamp(at(90))+" stdout F task done")
	checkStream(t, loki, kubeStream("worker-1", "main", "stdout", "app", "celery", "component", "worker"), []wantEntry{{at(90), "task done"}})

	// The kubelet rotates while a line is half written: its first part ends
	// the rotated file, its last starts the new one. No part is lost: the
	// first is shipped once the partial line timeout passed.
	appendFile(t, workerLog, stamp(at(91))+" stdout P half written,")
	if err := os.Rename(workerLog, workerLog+"."+testkit.Now().UTC().Format("20060102-150405")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(workerLog, []byte(stamp(at(92))+" stdout F  and its end\n"), 0o640)
	worker := kubeStream("worker-1", "main", "stdout", "app", "celery", "component", "worker")
	testkit.Eventually(t, 20*time.Second, "both parts of the split line", func() error {
		got := map[string]int64{}
		for _, e := range loki.Streams()[worker] {
			got[e.Line] = e.TimeNs
		}
		if len(got) != 3 || got["half written,"] != at(91).UnixNano() || got[" and its end"] != at(92).UnixNano() {
			return fmt.Errorf("%v", got)
		}
		return nil
	})
	if n := len(loki.Streams()[worker]); n != 3 {
		t.Errorf("%d entries in %s, want 3", n, worker)
	}

	_, body := testkit.Get(t, "http://"+s.addr+"/metrics", nil)
	testkit.CheckMetrics(t, body)
	fams := testkit.Families(t, body)
	if v := testkit.MustValue(t, fams, "log_shipper_kubernetes_pods", nil); v != 4 {
		t.Errorf("kubernetes_pods %v, want 4", v)
	}
	if v := testkit.MustValue(t, fams, "log_shipper_kubernetes_requests_total", map[string]string{"request": "watch", "outcome": "error"}); v < 1 {
		t.Errorf("the dropped watch is not counted: %v", v)
	}
	if v := testkit.MustValue(t, fams, "log_shipper_dropped_lines_total", map[string]string{"output": "none", "reason": "opted_out"}); v != 1 {
		t.Errorf("opted-out lines %v, want 1", v)
	}

	// The API is gone: shipping goes on, /ready says why.
	api.Close()
	appendFile(t, apiLog, stamp(at(100))+" stdout F still shipping")
	checkStream(t, loki, kubeStream("api-1", "app", "stdout", "app", "api", "component", "web"), []wantEntry{
		{at(5), `{"timestamp":"` + stamp(at(5)) + `","level":"info","msg":"json app line"}`},
		{at(20), "plain text line"},
		{at(25), `{"timestamp":"` + stamp(at(25)) + `","msg":"joined"}`},
		{at(40), "partial raw end"},
		{at(100), "still shipping"},
	})
	testkit.Eventually(t, 20*time.Second, "/ready 503 naming the API", func() error {
		code, body := testkit.Get(t, "http://"+s.addr+"/ready", nil)
		if code != 503 || !strings.Contains(string(body), "kubernetes API unreachable") || strings.Contains(string(body), "sa-token") {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	if api.Requests("unauthorized") != 0 {
		t.Errorf("%d requests without the token", api.Requests("unauthorized"))
	}
}

// criLine wraps a line as containerd writes it; every fifth is split in
// two partial records (as a line over 16 KiB would be).
func criLine(seq int, ts time.Time, line string) string {
	if seq%5 == 0 {
		h := len(line) / 2
		return stamp(ts) + " stdout P " + line[:h] + "\n" + stamp(ts) + " stdout F " + line[h:]
	}
	return stamp(ts) + " stdout F " + line
}

// TestKubernetesRotationKill9 rotates a container's log as the kubelet
// does (0.log renamed to 0.log.<time> while the shipper is killed, a new
// 0.log created; the rotated file compressed to .gz later) and kills the
// shipper with SIGKILL at random moments: Loki holds every line once.
func TestKubernetesRotationKill9(t *testing.T) {
	dir := testkit.TempDir(t, "shipper")
	n := newNode(t, dir)
	loki := lokitest.StartReal(t, testkit.LokiOptions{})
	loki.Selector = `{namespace=~".+"}`
	apiLog := n.container("shop", "api-1", "u1", "app")
	workerLog := n.container("shop", "worker-1", "u2", "main")
	cfg := kubeConfigFile(t, dir, filepath.Join(n.root, "pods", "*", "*", "*.log"), "{node: node-1, api: false}", loki.URL)
	s := startShipper(t, dir, "--config.file="+cfg, "--registry.flush-interval="+registryFlush.String())

	base := loki.Now().Add(-20 * time.Minute)
	line := func(seq int) string {
		ts := base.Add(time.Duration(seq) * time.Millisecond)
		return criLine(seq, ts, lokitest.Line(seq, ts, 200))
	}
	var rotated string
	w1 := startWriters(t, filepath.Dir(apiLog), writerOptions{names: []string{"0.log"}, rotates: "0.log", batch: 20, every: 10 * time.Millisecond, line: line,
		rotatedName: func(p string) string {
			rotated = p + "." + testkit.Now().UTC().Format("20060102-150405")
			return rotated
		}})
	w2 := startWriters(t, filepath.Dir(workerLog), writerOptions{names: []string{"0.log"}, rotates: "none", batch: 10, every: 10 * time.Millisecond, line: line})
	streams := map[string]string{lokitest.StreamFor(apiLog): kubeStream("api-1", "app", "stdout"), lokitest.StreamFor(workerLog): kubeStream("worker-1", "main", "stdout")}
	want := func(m map[string]int) map[string]int {
		out := map[string]int{}
		for k, v := range m {
			out[streams[k]] = v
		}
		return out
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 22))
	budget := 0
	kill := func(i int, down func()) {
		time.Sleep(time.Duration(150+rng.IntN(500)) * time.Millisecond)
		budget += s.killBounded(t)
		t.Logf("kill %d: Loki received %d lines", i, loki.LinesReceived(t))
		if down != nil {
			down()
		}
		s.Start(t)
		s.waitUp(t)
	}
	kill(1, nil)
	var inRotated int // the lines written before the rename
	kill(2, func() {  // renamed while the shipper is down
		w1.Rotate()
		w1.WaitRotated(t)
		inRotated = want(w1.Want())[kubeStream("api-1", "app", "stdout")]
	})
	kill(3, nil)
	// Everything of the rotated file arrived: the kubelet compresses it
	// (and removes the original); the .gz is not read again.
	testkit.Eventually(t, 30*time.Second, "the rotated file delivered", func() error {
		if got := len(loki.Lines(t)[kubeStream("api-1", "app", "stdout")]); got < inRotated {
			return fmt.Errorf("%d of %d entries", got, inRotated)
		}
		return nil
	})
	gz(t, rotated)
	kill(4, nil)
	kill(5, nil)
	all := merge(want(w1.Stop()), want(w2.Stop()))
	loki.WaitExactlyOnce(t, 60*time.Second, all)
	checkReplay(t, loki, all, budget)
}

func merge(a, b map[string]int) map[string]int {
	for k, v := range b {
		a[k] = v
	}
	return a
}

// gz compresses a rotated log as the kubelet does: path.gz, then the
// original is removed.
func gz(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	if err := os.WriteFile(path+".gz", buf.Bytes(), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// TestFilebeatContainerInputOnANode runs Filebeat's usual DaemonSet file
// (type container on the /var/log/containers links, add_kubernetes_metadata)
// through the same reader: CRI and json-file lines become documents with
// the runtime's time as @timestamp when the line has none, and the pod's
// names where Filebeat puts them (kubernetes.namespace, kubernetes.pod.name,
// kubernetes.container.name, kubernetes.node.name, stream).
func TestFilebeatContainerInputOnANode(t *testing.T) {
	dir := testkit.TempDir(t, "shipper")
	n := newNode(t, dir)
	es := estest.New(estest.ES8)
	defer es.Close()
	base := testkit.Now().Add(-time.Hour).Truncate(time.Millisecond)
	cri := n.container("shop", "api-1", "u1", "app")
	appendFile(t, cri, stamp(base)+` stdout F {"level":"info","message":"from cri"}`, stamp(base.Add(time.Second))+" stderr P split ", stamp(base.Add(time.Second))+" stderr F raw")
	docker := n.container("shop", "db-0", "u2", "postgres")
	appendFile(t, docker, `{"log":"from json-file\n","stream":"stdout","time":"`+stamp(base.Add(2*time.Second))+`"}`)
	fb := filepath.Join(dir, "filebeat.yml")
	os.WriteFile(fb, []byte(`filebeat.inputs:
  - type: container
    paths: ["`+n.root+`/containers/*.log"]
    processors:
      - add_kubernetes_metadata:
          host: ${NODE_NAME}
          matchers:
            - logs_path: {logs_path: "`+n.root+`/containers/"}
output.elasticsearch:
  hosts: ["`+es.URL+`"]
  index: "k8s-%{+yyyy.MM.dd}"
setup.template.enabled: false
setup.ilm.enabled: false
`), 0o644)
	t.Setenv("NODE_NAME", "node-1")
	p := &testkit.Process{Name: "log-shipper", Path: binary, LogPath: filepath.Join(dir, "shipper.log"),
		Args: []string{"--web.listen-address=127.0.0.1:0", "--registry.path=" + filepath.Join(dir, "registry.json"), "--filebeat.config", fb}}
	p.Start(t)
	t.Cleanup(func() { p.Stop(t) })
	testkit.Eventually(t, 20*time.Second, "three documents", func() error {
		if !p.Running() {
			t.Fatalf("log-shipper exited:\n%s", p.Log())
		}
		if n := len(es.Docs()); n != 3 {
			return fmt.Errorf("%d documents", n)
		}
		return nil
	})
	want := map[string]struct {
		ts                   time.Time
		pod, container, strm string
	}{
		"from cri":       {base, "api-1", "app", "stdout"},
		"split raw":      {base.Add(time.Second), "api-1", "app", "stderr"},
		"from json-file": {base.Add(2 * time.Second), "db-0", "postgres", "stdout"},
	}
	for _, d := range es.Docs() {
		msg, _ := d.Source["message"].(string)
		w, ok := want[msg]
		if !ok {
			t.Errorf("unexpected document %s", d.Raw)
			continue
		}
		k, _ := d.Source["kubernetes"].(map[string]any)
		name := func(key string) any {
			m, _ := k[key].(map[string]any)
			return m["name"]
		}
		if d.Source["@timestamp"] != w.ts.UTC().Format("2006-01-02T15:04:05.000Z") || k["namespace"] != "shop" || name("pod") != w.pod ||
			name("container") != w.container || name("node") != "node-1" || d.Source["stream"] != w.strm || d.Source["labels"] != nil {
			t.Errorf("%q: %s", msg, d.Raw)
		}
	}
}
