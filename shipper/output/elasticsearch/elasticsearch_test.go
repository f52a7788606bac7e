package elasticsearch

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/outrigger/outrigger/shipper/event"
	"github.com/outrigger/outrigger/shipper/internal/estest"
	"github.com/outrigger/outrigger/shipper/output"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// acks records which events every output acknowledged.
type acks struct {
	mu   sync.Mutex
	done map[*event.Ack]int
}

func (a *acks) OutputDone(ack *event.Ack, _ int) {
	a.mu.Lock()
	a.done[ack]++
	a.mu.Unlock()
}
func (a *acks) AllDone(*event.Ack) {}

func (a *acks) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.done)
}

func mustPattern(t testing.TB, s string) *Pattern {
	t.Helper()
	p, err := ParsePattern(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type fixture struct {
	t    *testing.T
	es   *estest.Server
	out  *Output
	acks *acks
	m    *output.Metrics
	dead string
}

func newFixture(t *testing.T, es *estest.Server, mod func(*Config)) *fixture {
	t.Helper()
	dir := t.TempDir()
	cfg := Config{Hosts: []string{es.URL}, Index: mustPattern(t, "app-%{+yyyy.MM.dd}"), BatchWait: 20 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, DeadLetterPath: filepath.Join(dir, "dead.ndjson"),
		Meta: true}
	if mod != nil {
		mod(&cfg)
	}
	m := output.NewMetrics(nil)
	o, err := New(cfg, 0, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, es: es, out: o, acks: &acks{done: map[*event.Ack]int{}}, m: m, dead: cfg.DeadLetterPath}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		o.Shutdown(ctx)
	})
	return f
}

// send ships lines as events of one file, each with its own Ack.
func (f *fixture) send(key string, lines []string, at time.Time) {
	f.t.Helper()
	evs := make([]*event.Event, len(lines))
	off := int64(0)
	for i, l := range lines {
		ack := event.NewAck(f.acks, off+int64(len(l))+1, 0, []int{1})
		evs[i] = &event.Event{TimeNs: at.Add(time.Duration(i) * time.Millisecond).UnixNano(), Line: []byte(l),
			Source: "/app/logs/" + key, SourceKey: key, Offset: off, Ack: ack, Stream: &event.Stream{}}
		off += int64(len(l)) + 1
		ack.Arm()
	}
	if !f.out.Send(context.Background(), evs) {
		f.t.Fatal("send refused")
	}
}

func (f *fixture) waitAcked(n int) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f.acks.count() < n {
		if time.Now().After(deadline) {
			f.t.Fatalf("%d of %d events acknowledged; ready: %v", f.acks.count(), n, f.out.Ready(context.Background()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *fixture) deadLetters() []map[string]any {
	f.t.Helper()
	fh, err := os.Open(f.dead)
	if err != nil {
		return nil
	}
	defer fh.Close()
	var out []map[string]any
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			f.t.Fatalf("dead-letter line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func jsonLines(n int, mk func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = mk(i)
	}
	return out
}

func TestItemOutcomes(t *testing.T) {
	for _, flavor := range []estest.Flavor{estest.ES8, estest.ES7, estest.OpenSearch2} {
		t.Run(fmt.Sprint(flavor), func(t *testing.T) {
			es := estest.New(flavor)
			defer es.Close()
			var mu sync.Mutex
			tries := map[string]int{}
			es.ItemStatus = func(_, id string, src map[string]any) int {
				mu.Lock()
				defer mu.Unlock()
				tries[id]++
				seq := int(src["seq"].(float64))
				switch {
				case seq%7 == 0 && tries[id] <= 2:
					return 429
				case seq%11 == 0 && tries[id] == 1:
					return 503
				}
				return 0
			}
			f := newFixture(t, es, nil)
			at := time.Date(2026, 11, 22, 23, 59, 59, 990e6, time.UTC)
			lines := jsonLines(200, func(i int) string {
				if i%50 == 49 { // a mapping conflict: user is a string elsewhere
					return fmt.Sprintf(`{"seq":%d,"user":{"name":"bob"}}`, i)
				}
				return fmt.Sprintf(`{"seq":%d,"user":"bob","msg":"line \u001b[31m %d"}`, i, i)
			})
			f.send("a.log", lines, at)
			f.waitAcked(200)
			docs := es.Docs()
			if len(docs) != 196 {
				_, _, oc := es.Stats()
				t.Fatalf("stored %d docs, want 196 (200 minus 4 conflicts); outcomes %v dead %d", len(docs), oc, len(f.deadLetters()))
			}
			// The day changes after 10 ms: each document in its own day's index, by @timestamp in UTC.
			if idx := es.Indices(); len(idx) != 2 || idx[0] != "app-2026.11.22" || idx[1] != "app-2026.11.23" {
				t.Errorf("indices %v", idx)
			}
			for _, d := range docs {
				ts, _ := d.Source["@timestamp"].(string)
				if !strings.HasPrefix(d.Index, "app-"+strings.ReplaceAll(ts[:10], "-", ".")) {
					t.Errorf("doc %s in %s has @timestamp %s", d.ID, d.Index, ts)
				}
				if d.Source["log"].(map[string]any)["file"].(map[string]any)["path"] != "/app/logs/a.log" {
					t.Errorf("doc %s lacks log.file.path: %s", d.ID, d.Raw)
				}
			}
			dead := f.deadLetters()
			if len(dead) != 4 {
				t.Fatalf("%d dead letters, want the 4 mapping conflicts", len(dead))
			}
			for _, d := range dead {
				errObj := d["error"].(map[string]any)
				if d["status"].(float64) != 400 || errObj["type"] != "mapper_parsing_exception" || d["document"].(map[string]any)["user"] == nil {
					t.Errorf("dead letter %v", d)
				}
			}
			if v := testutil.ToFloat64(f.m.Dropped.WithLabelValues("elasticsearch", "mapping_conflict")); v != 4 {
				t.Errorf("mapping conflicts counted %v, want 4", v)
			}
			if v := testutil.ToFloat64(f.m.Retries.WithLabelValues("elasticsearch", "item_rate_limited")); v == 0 {
				t.Error("item 429s not counted as retries")
			}
			// A replay of the same lines (a crash before the commit) stores nothing new.
			f.send("a.log", lines, at)
			f.waitAcked(400)
			if len(es.Docs()) != 196 {
				t.Errorf("replay stored %d docs, want 196", len(es.Docs()))
			}
			if v := testutil.ToFloat64(f.m.Duplicates.WithLabelValues("elasticsearch")); v != 196 {
				t.Errorf("duplicates %v, want 196", v)
			}
		})
	}
}

func TestSplitOn413AndWholeRequestRetries(t *testing.T) {
	es := estest.New(estest.ES8)
	defer es.Close()
	es.MaxBodyBytes = 4 << 10
	es.FailNext(503, 429, 502)
	f := newFixture(t, es, nil)
	lines := jsonLines(100, func(i int) string { return fmt.Sprintf(`{"seq":%d,"pad":"%s"}`, i, strings.Repeat("x", 200)) })
	lines = append(lines, fmt.Sprintf(`{"seq":100,"huge":"%s"}`, strings.Repeat("y", 8<<10)))
	f.send("b.log", lines, time.Now())
	f.waitAcked(101)
	if n := len(es.Docs()); n != 100 {
		t.Errorf("stored %d, want 100", n)
	}
	dead := f.deadLetters()
	if len(dead) != 1 || dead[0]["error"].(map[string]any)["type"] != "too_large" {
		t.Errorf("dead letters %v", dead)
	}
	_, _, outcomes := es.Stats()
	if outcomes[409] != 0 {
		t.Errorf("splitting resent stored documents: %v", outcomes)
	}
}

func TestAuthAPIKeyAndTLS(t *testing.T) {
	es := estest.NewTLS(estest.ES8)
	defer es.Close()
	es.APIKey = "aWQ6c2VjcmV0" // base64("id:secret")
	ca, err := es.CAFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, es, func(c *Config) { c.APIKey = "id:secret"; c.TLS.CAFile = ca })
	f.send("c.log", []string{`{"a":1}`}, time.Now())
	f.waitAcked(1)

	// Basic auth with a wrong password: retried, never acknowledged, not ready.
	es.APIKey, es.Username, es.Password = "", "elastic", "right"
	g := newFixture(t, es, func(c *Config) { c.Username, c.Password = "elastic", "wrong"; c.TLS.CAFile = ca })
	g.send("d.log", []string{`{"a":2}`}, time.Now())
	time.Sleep(300 * time.Millisecond)
	if g.acks.count() != 0 {
		t.Fatal("a refused request was acknowledged")
	}
	if err := g.out.Ready(context.Background()); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("ready = %v: want an error without the password", err)
	}
	h := newFixture(t, es, func(c *Config) { c.Username, c.Password = "elastic", "right"; c.TLS.CAFile = ca })
	h.send("d.log", []string{`{"a":2}`}, time.Now())
	h.waitAcked(1)

	// Without the CA the server is not trusted.
	bad := newFixture(t, es, func(c *Config) { c.Username, c.Password = "elastic", "right" })
	bad.send("e.log", []string{`{"a":3}`}, time.Now())
	time.Sleep(200 * time.Millisecond)
	if bad.acks.count() != 0 {
		t.Error("delivered to an untrusted server")
	}
}

func TestDataStreamAndSetup(t *testing.T) {
	for _, flavor := range []estest.Flavor{estest.ES8, estest.ES7, estest.OpenSearch2} {
		t.Run(fmt.Sprint(flavor), func(t *testing.T) {
			es := estest.New(flavor)
			defer es.Close()
			es.DataStreams = []string{"logs-app"}
			auditRule := IndexRule{Index: mustPattern(t, "audit-%{+yyyy.MM}"), When: func(doc []byte) bool { return strings.Contains(string(doc), `"audit":true`) }}
			f := newFixture(t, es, func(c *Config) {
				c.Index, c.DataStream, c.SetupTemplate, c.SetupLifecycle = mustPattern(t, "logs-app-default"), true, true, true
				c.Indices = []IndexRule{auditRule}
			})
			f.send("f.log", []string{`{"msg":"a"}`, `{"msg":"b","audit":true}`, "not json"}, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
			f.waitAcked(3)
			if idx := es.Indices(); len(idx) != 2 || idx[0] != "audit-2026.03" || idx[1] != "logs-app-default" {
				t.Errorf("indices %v", idx)
			}
			for _, d := range es.Docs() {
				if d.Index == "logs-app-default" && d.Source["message"] == nil && d.Source["msg"] == nil {
					t.Errorf("doc %s", d.Raw)
				}
			}
			policies := map[string]string{"outrigger-logs-30d": "30d", "outrigger-audit-90d": "90d"}
			for name, days := range policies {
				b, ok := es.Policy(name)
				if !ok || !strings.Contains(string(b), `"`+days+`"`) {
					t.Errorf("policy %s: %s", name, b)
				}
			}
			tmpl, ok := es.Template("outrigger-logs-app-default")
			if !ok || !strings.Contains(string(tmpl), `"data_stream":{}`) {
				t.Errorf("template: %s", tmpl)
			}
			if flavor != estest.OpenSearch2 && !strings.Contains(string(tmpl), `"index.lifecycle.name":"outrigger-logs-30d"`) {
				t.Errorf("template lacks the ILM policy: %s", tmpl)
			}
		})
	}
}

func TestPatterns(t *testing.T) {
	for _, tt := range []struct{ pattern, want string }{
		{"aliaport-%{+yyyy.MM.dd}", "aliaport-2026.01.02"},
		{"app-%{+yyyy-MM-dd'T'HH}", "app-2026-01-02T03"},
		{"app-%{[env]}-%{+yyyy.MM}", "app-prod-2026.01"},
	} {
		p := mustPattern(t, tt.pattern)
		got, ok := p.Append(nil, time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)).Add(time.Hour).UnixNano(), nil)
		if strings.Contains(tt.pattern, "[env]") {
			got, ok = p.Append(nil, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano(), membersOf(t, `{"env":"PROD"}`))
		}
		if !ok || string(got) != tt.want {
			t.Errorf("%s = %s, want %s", tt.pattern, got, tt.want)
		}
	}
	for _, bad := range []string{"", "App-%{+yyyy}", "a-%{+yyyy.QQ}", "a-%{foo}", "a-%{+yyyy"} {
		if _, err := ParsePattern(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
