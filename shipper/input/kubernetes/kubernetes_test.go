package kubernetes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/outrigger/outrigger/shipper/event"
	"github.com/outrigger/outrigger/shipper/internal/kubetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParsePath(t *testing.T) {
	for _, tt := range []struct {
		path string
		want PathInfo
		ok   bool
	}{
		{"/var/log/pods/shop_api-7d9f_0b1c-22/app/0.log", PathInfo{"shop", "api-7d9f", "0b1c-22", "app"}, true},
		{"/var/log/pods/shop_api-7d9f_0b1c-22/app/3.log.20261202-010203", PathInfo{"shop", "api-7d9f", "0b1c-22", "app"}, true},
		{"/tmp/x/var/log/pods/kube-system_coredns-1_u/coredns/0.log", PathInfo{"kube-system", "coredns-1", "u", "coredns"}, true},
		{"/var/log/containers/api-7d9f_shop_app-0123456789abcdef.log", PathInfo{"shop", "api-7d9f", "", "app"}, true},
		{"/var/log/containers/api_shop_side-car-0123abcd.log", PathInfo{"shop", "api", "", "side-car"}, true},
		{"/var/log/containers/broken.log", PathInfo{}, false},
		{"/var/log/containers/a_b_nodash.log", PathInfo{}, false},
		{"/var/log/pods/only-two_parts/app/0.log", PathInfo{}, false},
		{"/app/logs/api.log", PathInfo{}, false},
	} {
		got, ok := ParsePath(tt.path)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: %+v %v, want %+v %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

func labelMap(ls []event.Label) map[string]string {
	m := map[string]string{}
	for _, l := range ls {
		m[l.Name] = l.Value
	}
	return m
}

func start(t *testing.T, api *kubetest.Server, tokenFile string) (*Metadata, func()) {
	t.Helper()
	m, err := New(Config{Node: "node-1", API: api.URL, TokenFile: tokenFile, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		PodAnnotations: map[string]string{"team": "example.com/team"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	m.Refresh(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { m.Run(ctx) })
	return m, func() { cancel(); wg.Wait() }
}

func tokenFile(t *testing.T, tok string) string {
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func waitLabels(t *testing.T, m *Metadata, path string, want map[string]string) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, "labels of "+path, func() error {
		got := labelMap(m.Labels(path))
		for k, v := range want {
			if got[k] != v {
				return &mismatch{got: got, want: want}
			}
		}
		return nil
	})
}

type mismatch struct{ got, want map[string]string }

func (e *mismatch) Error() string { return "labels differ" }

// TestPodLabelsFromListAndWatch: pods of this node only, labels chosen by
// the configuration, updates through the watch, a watch dropped mid-stream
// resumed from its version (a pod added while it was down is seen), a
// compacted history (410 Gone) listed again, and the opt-out annotation.
func TestPodLabelsFromListAndWatch(t *testing.T) {
	api := kubetest.Start(t, "s3cret-token")
	api.Put(kubetest.Pod{Namespace: "shop", Name: "api-1", UID: "u1", Node: "node-1",
		Labels: map[string]string{"app.kubernetes.io/name": "api", "app": "legacy", "pod-template-hash": "abc"}, Annotations: map[string]string{"example.com/team": "payments"}})
	api.Put(kubetest.Pod{Namespace: "shop", Name: "other-node", UID: "u9", Node: "node-2", Labels: map[string]string{"app": "elsewhere"}})
	m, stop := start(t, api, tokenFile(t, "s3cret-token"))
	defer stop()
	p1 := "/var/log/pods/shop_api-1_u1/app/0.log"
	got := labelMap(m.Labels(p1))
	want := map[string]string{"node": "node-1", "namespace": "shop", "pod": "api-1", "container": "app", "app": "api", "team": "payments"}
	if len(got) != len(want) {
		t.Errorf("labels after the first list: %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s=%q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if l := labelMap(m.Labels("/var/log/pods/shop_other-node_u9/app/0.log")); l["app"] != "" {
		t.Errorf("a pod of another node is known: %v", l)
	}
	testkit.Eventually(t, 5*time.Second, "a watch open", func() error {
		if api.Watches() != 1 {
			return errString("no watch yet")
		}
		return nil
	})
	// Through the watch.
	api.Put(kubetest.Pod{Namespace: "shop", Name: "worker-1", UID: "u2", Node: "node-1", Labels: map[string]string{"component": "worker", "app": "celery"}})
	waitLabels(t, m, "/var/log/containers/worker-1_shop_main-0123abcd.log", map[string]string{"app": "celery", "component": "worker", "container": "main"})
	// Dropped mid-stream; a pod comes while no watch is open.
	api.DropWatches()
	api.Put(kubetest.Pod{Namespace: "shop", Name: "cron-1", UID: "u3", Node: "node-1", Labels: map[string]string{"app": "cron"}})
	waitLabels(t, m, "/var/log/pods/shop_cron-1_u3/job/0.log", map[string]string{"app": "cron"})
	// Compacted: the resumed watch gets 410 and the client lists again.
	lists := api.Requests("list")
	api.DropWatches()
	api.Compact()
	api.Put(kubetest.Pod{Namespace: "shop", Name: "quiet-1", UID: "u4", Node: "node-1", Labels: map[string]string{"app": "quiet"},
		Annotations: map[string]string{SkipAnnotation: "false"}})
	waitLabels(t, m, "/var/log/pods/shop_quiet-1_u4/app/0.log", map[string]string{"app": "quiet"})
	if api.Requests("list") <= lists {
		t.Errorf("no new list after 410 Gone")
	}
	if !m.Skip("/var/log/pods/shop_quiet-1_u4/app/0.log") || m.Skip(p1) {
		t.Error("the opt-out annotation is not honoured")
	}
	// A deleted pod keeps its labels for the last reads of its logs.
	api.Delete("shop", "api-1")
	api.Bookmark()
	gen := m.Generation()
	testkit.Eventually(t, 5*time.Second, "delete seen", func() error {
		if m.Generation() == gen {
			return errString("no change")
		}
		return nil
	})
	if labelMap(m.Labels(p1))["app"] != "api" {
		t.Error("a deleted pod's labels are gone at once")
	}
	if err := m.NotReady(); err != nil {
		t.Errorf("NotReady: %v", err)
	}
	if api.Requests("unauthorized") != 0 {
		t.Errorf("%d unauthorized requests", api.Requests("unauthorized"))
	}
}

// TestTokenRotationAndBoundedCache: the token file is read again for every
// request (a rotated token is used at the next reconnection), and the cache
// holds at most max_pods pods (the others get path labels only).
func TestTokenRotationAndBoundedCache(t *testing.T) {
	api := kubetest.Start(t, "token-1")
	for i := range 5 {
		api.Put(kubetest.Pod{Namespace: "ns", Name: fmt.Sprintf("p%d", i), UID: "u", Node: "node-1", Labels: map[string]string{"app": "a"}})
	}
	tok := tokenFile(t, "token-1")
	m, err := New(Config{Node: "node-1", API: api.URL, TokenFile: tok, MaxPods: 3, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { m.Run(ctx) })
	known, cached := 0, ""
	for i := range 5 {
		if labelMap(m.Labels(fmt.Sprintf("/var/log/pods/ns_p%d_u/c/0.log", i)))["app"] == "a" {
			known++
			cached = fmt.Sprintf("p%d", i)
		}
	}
	if known != 3 {
		t.Errorf("%d pods cached, want max_pods 3", known)
	}
	testkit.Eventually(t, 5*time.Second, "a watch open", func() error {
		if api.Watches() != 1 {
			return errString("no watch yet")
		}
		return nil
	})
	api.SetToken("token-2") // the open watch goes on; the next request needs the new token
	if err := os.WriteFile(tok, []byte("token-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	api.DropWatches()
	api.Put(kubetest.Pod{Namespace: "ns", Name: cached, UID: "u", Node: "node-1", Labels: map[string]string{"app": "b"}})
	waitLabels(t, m, "/var/log/pods/ns_"+cached+"_u/c/0.log", map[string]string{"app": "b"})
	if api.Requests("unauthorized") != 0 {
		t.Errorf("%d requests with an old token", api.Requests("unauthorized"))
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// TestAPIUnreachable: a wrong token and a server that is gone leave path
// labels and a NotReady reason that names no secret.
func TestAPIUnreachable(t *testing.T) {
	api := kubetest.Start(t, "right")
	api.Put(kubetest.Pod{Namespace: "shop", Name: "api-1", UID: "u1", Node: "node-1", Labels: map[string]string{"app": "api"}})
	m, stop := start(t, api, tokenFile(t, "wrong-token"))
	defer stop()
	l := labelMap(m.Labels("/var/log/pods/shop_api-1_u1/app/0.log"))
	if l["pod"] != "api-1" || l["app"] != "" {
		t.Errorf("labels %v", l)
	}
	err := m.NotReady()
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-token") {
		t.Errorf("NotReady: %v", err)
	}
	api.Close()
	m2, stop2 := start(t, api, tokenFile(t, "right"))
	defer stop2()
	if m2.NotReady() == nil {
		t.Error("a closed server is ready")
	}
}

func TestLabelValuesAreCleaned(t *testing.T) {
	m, err := New(Config{Node: "n\xff1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Labels("/var/log/pods/a_b_c/" + strings.Repeat("é", 300) + "/0.log") {
		if !strings.Contains(l.Value, "\uFFFD") && l.Name == "node" || len(l.Value) > 256 {
			t.Errorf("%s=%q", l.Name, l.Value)
		}
	}
}

// FuzzDecodeEvent: watch lines from the API server never panic.
func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"a","namespace":"b","uid":"u","resourceVersion":"5","labels":{"app":"x"}},"spec":{"nodeName":"n"}}}`))
	f.Add([]byte(`{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version: 1 (5)"}}`))
	f.Add([]byte(`{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"12"}}}`))
	m, _ := New(Config{Node: "n"})
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := DecodeEvent(b)
		if err != nil {
			return
		}
		if ev.Type != "ERROR" {
			m.apply(ev)
			m.Labels("/var/log/pods/" + ev.Pod.Metadata.Namespace + "_" + ev.Pod.Metadata.Name + "_" + ev.Pod.Metadata.UID + "/c/0.log")
		}
	})
}

// FuzzDecodeList: list answers never panic.
func FuzzDecodeList(f *testing.F) {
	f.Add([]byte(`{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":[{"metadata":{"name":"a","namespace":"b","annotations":{"outrigger.io/logs":"false"}}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeList(b)
		if err == nil && l.Metadata.ResourceVersion == "" {
			t.Fatal("a list without a version accepted")
		}
	})
}
