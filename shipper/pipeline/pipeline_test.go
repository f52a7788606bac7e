package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/outrigger/outrigger/shipper/config"
	"github.com/outrigger/outrigger/shipper/internal/lokitest"
	"github.com/outrigger/outrigger/shipper/pipeline"
	"github.com/outrigger/outrigger/shipper/registry"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// harness runs pipelines over one log directory and one fake Loki.
type harness struct {
	t       *testing.T
	dir     string
	reg     string
	loki    *lokitest.Server
	glob    string
	mutate  func(*config.File)
	prom    *prometheus.Registry // the metrics of the running pipeline
	cancel  context.CancelFunc
	done    chan error
	p       *pipeline.Pipeline
	streams map[string]*stream // by stream path
	want    map[string]int
	base    time.Time
}

type stream struct {
	path string
	f    *os.File
	seq  int
}

func newHarness(t *testing.T, opts lokitest.Options) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, dir: dir, reg: filepath.Join(dir, "state", "registry.json"), loki: lokitest.Start(t, opts),
		glob: filepath.Join(dir, "*.log"), streams: map[string]*stream{}, want: map[string]int{},
	}
	h.base = h.loki.Now().Add(-30 * time.Minute)
	t.Cleanup(func() {
		h.stop()
		for _, s := range h.streams {
			if s.f != nil {
				s.f.Close()
			}
		}
	})
	return h
}

func (h *harness) start() {
	h.t.Helper()
	f := &config.File{
		Registry:        config.Registry{Path: h.reg, FlushInterval: config.Duration(50 * time.Millisecond)},
		MemoryLimit:     8 << 20,
		ShutdownTimeout: config.Duration(time.Second),
		Inputs: []config.Input{{Paths: []string{h.glob}, ScanInterval: config.Duration(40 * time.Millisecond),
			PollInterval: config.Duration(20 * time.Millisecond), CloseRenamedAfter: config.Duration(300 * time.Millisecond),
			Timestamp: config.Timestamp{Field: "timestamp", Formats: []string{"rfc3339"}}}},
		Outputs: config.Outputs{Loki: &config.Loki{URL: h.loki.URL + "/loki/api/v1/push", BatchWait: config.Duration(30 * time.Millisecond),
			BatchBytes: 64 << 10, MinBackoff: config.Duration(20 * time.Millisecond), MaxBackoff: config.Duration(200 * time.Millisecond)}},
	}
	if h.mutate != nil {
		h.mutate(f)
	}
	v, err := f.Validate()
	if err != nil {
		h.t.Fatal(err)
	}
	h.prom = prometheus.NewRegistry()
	cfg, err := v.Build(h.prom, slogDiscard())
	if err != nil {
		h.t.Fatal(err)
	}
	if h.p, err = pipeline.New(cfg, h.prom); err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.p.Run(ctx) }()
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("pipeline: %v", err)
	}
	h.cancel = nil
}

// file opens (creating) the file a stream writes to now.
func (h *harness) open(name, streamName string) *stream {
	h.t.Helper()
	s := h.streams[streamName]
	if s == nil {
		s = &stream{path: filepath.Join(h.dir, streamName)}
		h.streams[streamName] = s
	}
	if s.f != nil {
		s.f.Close()
	}
	f, err := os.OpenFile(filepath.Join(h.dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	s.f = f
	return s
}

// write appends n lines to the stream's current file.
func (h *harness) write(streamName string, n, size int) {
	h.t.Helper()
	s := h.streams[streamName]
	if s == nil || s.f == nil {
		s = h.open(streamName, streamName)
	}
	var b strings.Builder
	for range n {
		s.seq++
		b.WriteString(lokitest.Line(s.seq, h.base.Add(time.Duration(s.seq)*time.Millisecond), size))
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(s.f, b.String()); err != nil {
		h.t.Fatal(err)
	}
	h.want[lokitest.StreamFor(s.path)] = s.seq
}

// value is the value of the series of family name with these label
// name/value pairs in the pipeline's registry (0 when it has none yet).
func (h *harness) value(name string, labels ...string) float64 {
	h.t.Helper()
	mfs, err := h.prom.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	return 0
}

// waitCounter waits until the series (value's arguments) reaches at least
// n: the event a step depends on.
func (h *harness) waitCounter(n float64, what, name string, labels ...string) {
	h.t.Helper()
	testkit.Eventually(h.t, 20*time.Second, what, func() error {
		if v := h.value(name, labels...); v < n {
			return fmt.Errorf("%v of %v", v, n)
		}
		return nil
	})
}

func (h *harness) path(name string) string { return filepath.Join(h.dir, name) }

func (h *harness) waitAll(timeout time.Duration) {
	h.t.Helper()
	h.loki.WaitExactlyOnce(h.t, timeout, h.want)
}

// waitSome waits until the receiver holds at least n entries.
func (h *harness) waitSome(n int) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.loki.Count() < n {
		if time.Now().After(deadline) {
			h.t.Fatalf("receiver holds %d entries, waited for %d", h.loki.Count(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRenameAndCreateRotation(t *testing.T) {
	h := newHarness(t, lokitest.Options{})
	h.start()
	h.write("app.log", 200, 200)
	h.waitSome(50)
	if err := os.Rename(h.path("app.log"), h.path("app.log.1")); err != nil {
		t.Fatal(err)
	}
	h.write("app.log", 30, 200) // the application still writes to the renamed file
	h.open("app.log", "app.log")
	h.write("app.log", 200, 200)
	h.waitAll(15 * time.Second)
}

func TestCopyTruncate(t *testing.T) {
	h := newHarness(t, lokitest.Options{})
	h.glob = filepath.Join(h.dir, "*.log*")
	h.start()
	h.write("app.log", 200, 200)
	h.waitSome(50)
	h.write("app.log", 100, 200)
	// copytruncate: copy, then truncate in place; the application keeps its
	// O_APPEND descriptor and goes on writing at the new end.
	data, err := os.ReadFile(h.path("app.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.path("app.log.1"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(h.path("app.log"), 0); err != nil {
		t.Fatal(err)
	}
	h.write("app.log", 200, 200)
	h.waitAll(15 * time.Second)
}

func TestTruncation(t *testing.T) {
	h := newHarness(t, lokitest.Options{})
	h.start()
	h.write("app.log", 100, 300)
	h.waitAll(10 * time.Second)
	if err := os.Truncate(h.path("app.log"), 0); err != nil {
		t.Fatal(err)
	}
	h.waitCounter(1, "the truncation seen", "log_shipper_file_events_total", "event", "truncated")
	h.write("app.log", 150, 300)
	h.waitAll(10 * time.Second)
	if v := h.value("log_shipper_file_events_total", "event", "truncated"); v < 1 {
		t.Errorf("truncation not counted: %v", v)
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func TestInodeReuseWhileStopped(t *testing.T) {
	h := newHarness(t, lokitest.Options{})
	h.start()
	h.write("a.log", 40, 200)
	h.waitAll(10 * time.Second)
	h.stop()
	old := inode(t, h.path("a.log"))
	h.streams["a.log"].f.Close()
	h.streams["a.log"].f = nil
	if err := os.Remove(h.path("a.log")); err != nil {
		t.Fatal(err)
	}
	// Create files until one gets the freed inode (ext4 and overlayfs
	// hand it out again at once), then write a stream to it.
	reused := ""
	for i := range 20 {
		name := fmt.Sprintf("b%d.log", i)
		h.open(name, name)
		if inode(t, h.path(name)) == old {
			reused = name
			break
		}
	}
	if reused == "" {
		t.Logf("the file system did not reuse inode %d; the test still checks every new file", old)
	}
	for name := range h.streams {
		if name != "a.log" {
			h.write(name, 30, 200)
		}
	}
	h.start()
	h.waitAll(10 * time.Second)
}

func TestSmallFilesWithIdenticalFirstLines(t *testing.T) {
	h := newHarness(t, lokitest.Options{})
	h.start()
	// Every file starts with the same bytes (same record, same time) and
	// stays under the fingerprint size; then some grow past it.
	for i := range 6 {
		name := fmt.Sprintf("svc%d.log", i)
		h.write(name, 3, 120)
	}
	h.waitAll(10 * time.Second)
	for i := range 3 {
		h.write(fmt.Sprintf("svc%d.log", i), 20, 120)
	}
	h.waitAll(10 * time.Second)
	// A restart must resume each one where it was, not mix them up.
	h.stop()
	for i := range 6 {
		h.write(fmt.Sprintf("svc%d.log", i), 5, 120)
	}
	h.start()
	h.waitAll(10 * time.Second)
}

func TestRotationWhileStopped(t *testing.T) {
	h := newHarness(t, lokitest.Options{})
	h.start()
	h.write("app.log", 100, 200)
	h.waitAll(10 * time.Second)
	h.stop()
	h.write("app.log", 50, 200) // written while stopped, then rotated away
	if err := os.Rename(h.path("app.log"), h.path("app.log.1")); err != nil {
		t.Fatal(err)
	}
	h.open("app.log", "app.log")
	h.write("app.log", 80, 200)
	h.start()
	h.waitAll(10 * time.Second)
}

func TestOutputDownThenBack(t *testing.T) {
	h := newHarness(t, lokitest.Options{})
	h.start()
	h.write("app.log", 100, 200)
	h.waitAll(10 * time.Second)
	h.loki.Down()
	h.write("app.log", 2000, 200)
	h.write("api.log", 500, 200)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	deadline := time.Now().Add(5 * time.Second)
	for h.p.Ready(ctx) == nil {
		if time.Now().After(deadline) {
			t.Fatal("pipeline still ready with Loki down")
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.waitCounter(3, "several failed retries", "log_shipper_retries_total", "output", "loki", "reason", "network")
	if err := h.loki.Up(); err != nil {
		t.Fatal(err)
	}
	h.waitAll(20 * time.Second)
	if err := h.p.Ready(ctx); err != nil {
		t.Errorf("not ready after Loki came back: %v", err)
	}
	if v := h.value("log_shipper_retries_total", "output", "loki", "reason", "network"); v == 0 {
		t.Error("no network retry counted")
	}
}

func TestRateLimitStorm(t *testing.T) {
	h := newHarness(t, lokitest.Options{})
	h.loki.FailNext(3, 260) // a blocked tenant: 2xx, nothing stored
	h.loki.FailRate(0.8, 429)
	h.start()
	h.write("app.log", 1500, 200)
	h.write("api.log", 1500, 200)
	h.waitCounter(5, "a rate-limit storm", "log_shipper_retries_total", "output", "loki", "reason", "rate_limited")
	h.loki.FailRate(0.3, 503)
	testkit.Eventually(t, 20*time.Second, "a server error, or every line in", func() error {
		if h.loki.Stats().Status[503] == 0 && h.loki.Count() < 3000 {
			return fmt.Errorf("%d lines in, no 503 yet", h.loki.Count())
		}
		return nil
	})
	h.loki.FailRate(0, 0)
	h.waitAll(20 * time.Second)
	st := h.loki.Stats()
	if st.Status[429] == 0 || st.Status[260] == 0 {
		t.Errorf("storm not exercised: %v", st.Status)
	}
}

func TestPartialRejection(t *testing.T) {
	h := newHarness(t, lokitest.Options{})
	h.loki.RejectWhen(func(_ string, e lokitest.Entry) string {
		if lokitest.Seq(e.Line)%10 == 0 {
			return "too_old"
		}
		return ""
	})
	h.start()
	h.write("app.log", 300, 200)
	want := 270
	testDeadline := time.Now().Add(10 * time.Second)
	for h.loki.Count() < want && time.Now().Before(testDeadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a resend would show up now
	st := h.loki.Stats()
	if h.loki.Count() != want || st.Duplicates != 0 || st.Rejected["too_old"] != 30 {
		t.Fatalf("stored %d (want %d), duplicates %d, rejected %v: the 400 must not be resent", h.loki.Count(), want, st.Duplicates, st.Rejected)
	}
	if v := h.value("log_shipper_dropped_lines_total", "output", "loki", "reason", "too_old"); v != 30 {
		t.Errorf("dropped lines counted %v, want 30", v)
	}
	// The offset is committed past the rejected lines: a restart sends nothing.
	h.stop()
	before := h.loki.Stats().Requests
	h.start()
	time.Sleep(300 * time.Millisecond)
	if after := h.loki.Stats().Requests; after != before {
		t.Errorf("restart sent %d requests for lines already answered", after-before)
	}
}

func TestRequestTooLargeIsSplit(t *testing.T) {
	lim := lokitest.DefaultLimits()
	lim.MaxBodyBytes = 8 << 10
	h := newHarness(t, lokitest.Options{Limits: lim})
	h.start()
	h.write("app.log", 400, 300)
	h.waitAll(15 * time.Second)
	if h.loki.Stats().Status[413] == 0 {
		t.Error("no 413 answered: the test did not exercise splitting")
	}
}

func TestRegistryCommitsOnlyAcknowledged(t *testing.T) {
	h := newHarness(t, lokitest.Options{})
	h.loki.Down()
	h.start()
	h.write("app.log", 100, 200)
	h.waitCounter(100, "every line read", "log_shipper_read_lines_total")
	h.waitCounter(2, "pushes failing", "log_shipper_retries_total", "output", "loki", "reason", "network")
	h.stop()
	reg, err := registry.Open(h.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range reg.Entries() {
		if e.Offset != 0 {
			t.Fatalf("offset %d committed while Loki was down", e.Offset)
		}
	}
	if err := h.loki.Up(); err != nil {
		t.Fatal(err)
	}
	h.start()
	h.waitAll(10 * time.Second)
	h.stop()
	reg, err = registry.Open(h.reg)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(h.path("app.log"))
	if es := reg.Entries(); len(es) != 1 || es[0].Offset != fi.Size() {
		t.Fatalf("registry %+v, want one entry at offset %d", es, fi.Size())
	}
}

func TestConcurrentWritersManyFiles(t *testing.T) {
	h := newHarness(t, lokitest.Options{})
	h.start()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 8 {
		name := fmt.Sprintf("f%d.log", i)
		mu.Lock()
		h.open(name, name)
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				mu.Lock()
				h.write(name, 50, 256)
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	h.waitAll(15 * time.Second)
}

var _ = prometheus.NewRegistry
