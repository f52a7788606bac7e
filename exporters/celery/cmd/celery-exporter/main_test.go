package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/outrigger/outrigger/exporters/celery/events"
	"github.com/outrigger/outrigger/internal/testkit"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if built != "" {
		os.RemoveAll(filepath.Dir(built))
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// binary is the exporter under test: $CELERY_EXPORTER_BIN (the bench sets
// it to bin/celery-exporter), else a fresh build.
func binary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("CELERY_EXPORTER_BIN"); b != "" {
		return b
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "celery-exporter-test-")
		if err != nil {
			buildErr = err
			return
		}
		built = filepath.Join(dir, "celery-exporter")
		if b, err := exec.Command("go", "build", "-o", built, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("%w\n%s", err, b)
		}
	})
	if buildErr != nil {
		t.Fatalf("building: %v", buildErr)
	}
	return built
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

type daemon struct {
	url  string
	proc *testkit.Process
}

func startDaemon(t *testing.T, env []string, args ...string) *daemon {
	t.Helper()
	port := testkit.FreePort(t)
	dir := t.TempDir()
	d := &daemon{url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	d.proc = &testkit.Process{Name: "celery-exporter", Path: binary(t), Dir: dir, Env: env,
		LogPath: filepath.Join(dir, "exporter.log"),
		Args:    append([]string{"--web.listen-address=127.0.0.1:" + strconv.Itoa(port)}, args...)}
	d.proc.Start(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("exporter log:\n%s", d.proc.Log())
		}
		d.proc.Stop(t)
	})
	testkit.Eventually(t, 10*time.Second, "exporter healthy", func() error {
		resp, err := http.Get(d.url + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	return d
}

func (d *daemon) metrics(t *testing.T) []byte {
	t.Helper()
	code, body := testkit.Get(t, d.url+"/metrics", nil)
	if code != 200 {
		t.Fatalf("/metrics answered %d: %s", code, body)
	}
	return body
}

func (d *daemon) sum(t *testing.T, name string) float64 {
	t.Helper()
	total := 0.0
	for _, m := range testkit.Families(t, d.metrics(t))[name].GetMetric() {
		total += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
	}
	return total
}

// taskLifecycle publishes what a prefork worker sends for n tasks: task-sent
// alone, then task.multi batches [received, started] and [succeeded]
// (one in failFraction fails instead). It returns the number of events.
func taskLifecycle(ctx context.Context, t *testing.T, rc *redis.Client, n, failEvery int) int {
	t.Helper()
	ch := func(rk string) string { return events.RedisChannel("", 0, "celeryev", rk) }
	pipe := rc.Pipeline()
	count := 0
	ts := float64(time.Now().Unix())
	for i := range n {
		id := fmt.Sprintf("%08x-1111-4222-8333-%012x", i, i)
		name := fmt.Sprintf("app.tasks.t%d", i%20)
		sent := fmt.Sprintf(`{"hostname": "gen1@api", "utcoffset": 0, "pid": 1, "clock": %d, "uuid": %q, "root_id": %q, "parent_id": null, "name": %q, "args": "(1, 2)", "kwargs": "{}", "retries": 0, "eta": null, "expires": null, "queue": "q%d", "exchange": "", "routing_key": "q%d", "timestamp": %f, "type": "task-sent"}`, i, id, id, name, i%3, i%3, ts)
		recv := fmt.Sprintf(`[{"hostname": "w%d@pod", "utcoffset": 0, "pid": 7, "clock": %d, "uuid": %q, "name": %q, "args": "(1, 2)", "kwargs": "{}", "root_id": %q, "parent_id": null, "retries": 0, "eta": null, "expires": null, "timestamp": %f, "type": "task-received"}, {"hostname": "w%d@pod", "utcoffset": 0, "pid": 7, "clock": %d, "uuid": %q, "timestamp": %f, "type": "task-started"}]`, i%4, i, id, name, id, ts, i%4, i, id, ts+0.01)
		done := fmt.Sprintf(`[{"hostname": "w%d@pod", "utcoffset": 0, "pid": 7, "clock": %d, "uuid": %q, "result": "3", "runtime": 0.0123, "timestamp": %f, "type": "task-succeeded"}]`, i%4, i, id, ts+0.02)
		if failEvery > 0 && i%failEvery == 0 {
			done = fmt.Sprintf(`[{"hostname": "w%d@pod", "utcoffset": 0, "pid": 7, "clock": %d, "uuid": %q, "exception": "ValueError('kaboom')", "traceback": "Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: kaboom\n", "timestamp": %f, "type": "task-failed"}]`, i%4, i, id, ts+0.02)
		}
		for _, m := range []struct{ rk, body string }{{"task.sent", sent}, {"task.multi", recv}, {"task.multi", done}} {
			msg, err := events.EncodeRedis("celeryev", m.rk, "w@pod", []byte(m.body))
			if err != nil {
				t.Fatal(err)
			}
			pipe.Publish(ctx, ch(m.rk), msg)
		}
		count += 4
		if pipe.Len() >= 3000 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatalf("publishing: %v", err)
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("publishing: %v", err)
	}
	return count
}

func TestBinaryServesLintedMetricsAndHonestReadiness(t *testing.T) {
	const password = "s3cret-broker-pw"
	r := testkit.StartRedis(t, testkit.RedisOptions{Password: password})
	d := startDaemon(t, []string{"CELERY_BROKER_URL=" + r.URL(0)}, "--queue.poll-interval=200ms", "--queue=celery")
	rc := redis.NewClient(&redis.Options{Addr: r.Addr, Password: password})
	defer rc.Close()
	testkit.Eventually(t, 10*time.Second, "subscribed", func() error {
		if d.sum(t, "celery_exporter_event_stream_up") != 1 {
			return fmt.Errorf("stream not up")
		}
		return nil
	})
	n := taskLifecycle(t.Context(), t, rc, 40, 4)
	testkit.Eventually(t, 10*time.Second, "events counted", func() error {
		if got := d.sum(t, "celery_exporter_events_total"); got != float64(n) {
			return fmt.Errorf("%v events, want %d", got, n)
		}
		return nil
	})
	body := d.metrics(t)
	testkit.CheckMetrics(t, body,
		// The incumbent's names, kept for its dashboards: histograms without a unit.
		"celery_task_runtime", "celery_task_queue_wait_time")
	for _, want := range []string{ // The incumbent's hostname label by default: the host part of w0@pod.
		`celery_task_failed_total{exception="ValueError",hostname="pod",name="app.tasks.t0",queue_name="q0"}`,
		`celery_queue_length{queue_name="celery"} 0`, `celery_scrape_collector_success{collector="events"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, b := testkit.Get(t, d.url+"/ready", nil); code != 200 {
		t.Fatalf("/ready = %d %s with the broker up", code, b)
	}
	r.Stop(t)
	testkit.Eventually(t, 15*time.Second, "/ready 503 with the broker down", func() error {
		code, b := testkit.Get(t, d.url+"/ready", nil)
		if code != http.StatusServiceUnavailable {
			return fmt.Errorf("/ready = %d", code)
		}
		if strings.Contains(string(b), password) {
			t.Fatalf("/ready reveals the password: %s", b)
		}
		return nil
	})
	if code, _ := testkit.Get(t, d.url+"/metrics", nil); code != 200 {
		t.Fatalf("/metrics = %d with the broker down", code)
	}
	if strings.Contains(d.proc.Log(), password) {
		t.Fatal("the log holds the broker password")
	}
}

func TestConfigCheck(t *testing.T) {
	out, err := exec.Command(binary(t), "--config.check", "--broker-url=amqp://u:pw@rabbit:5672//").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "amqp://rabbit:5672/%2F") || strings.Contains(string(out), "pw") {
		t.Fatalf("--config.check: %v: %s", err, out)
	}
	out, err = exec.Command(binary(t), "--config.check", "--broker-url=sqs://x", "--hostname.mode=host").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "scheme") {
		t.Fatalf("a bad broker URL passed --config.check: %s", out)
	}
}

// TestThroughputNoEventsLost pushes CELERY_BENCH_EVENTS task events (default
// 20,000; bench/celery/run.sh uses 1,000,000) through Redis to the exporter
// running on one core, checks none is lost, and reports events per
// CPU-second and memory.
func TestThroughputNoEventsLost(t *testing.T) {
	total := 20000
	if v := os.Getenv("CELERY_BENCH_EVENTS"); v != "" {
		var err error
		if total, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	// No pub/sub output limit: the bench measures the consumer, not how far
	// Redis lets it fall behind.
	r := testkit.StartRedis(t, testkit.RedisOptions{Args: []string{"--client-output-buffer-limit", "pubsub 0 0 0"}})
	d := startDaemon(t, []string{"GOMAXPROCS=1", "CELERY_BROKER_URL=" + r.URL(0)}, "--queue.poll-interval=5s")
	rc := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer rc.Close()
	testkit.Eventually(t, 10*time.Second, "subscribed", func() error {
		if d.sum(t, "celery_exporter_event_stream_up") != 1 {
			return fmt.Errorf("stream not up")
		}
		return nil
	})
	cpu0 := d.sum(t, "process_cpu_seconds_total")
	start := time.Now()
	tasks := total / 4
	ctx := t.Context()
	var maxRSS float64
	done := make(chan int, 1)
	go func() { done <- taskLifecycle(ctx, t, rc, tasks, 10) }()
	sent := -1
	for {
		got := d.sum(t, "celery_exporter_events_total")
		maxRSS = max(maxRSS, d.sum(t, "process_resident_memory_bytes"))
		select {
		case sent = <-done:
		default:
		}
		if sent >= 0 && got >= float64(sent) {
			break
		}
		if time.Since(start) > 10*time.Minute {
			t.Fatalf("only %v of %d events arrived", got, sent)
		}
		time.Sleep(500 * time.Millisecond)
	}
	wall := time.Since(start)
	cpu := d.sum(t, "process_cpu_seconds_total") - cpu0
	got := d.sum(t, "celery_exporter_events_total")
	succeeded, failed := d.sum(t, "celery_task_succeeded_total"), d.sum(t, "celery_task_failed_total")
	if got != float64(sent) || succeeded+failed != float64(tasks) || d.sum(t, "celery_exporter_event_decode_errors_total") != 0 {
		t.Fatalf("events %v of %d, outcomes %v+%v of %d", got, sent, succeeded, failed, tasks)
	}
	tracked := d.sum(t, "celery_exporter_tasks_tracked")
	fmt.Printf("\n| events | lost | wall s | exporter CPU s | events / CPU-second | peak RSS MB | tasks tracked at end |\n")
	fmt.Printf("|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %d | %d | %.1f | %.2f | %.0f | %.1f | %.0f |\n\n", sent, sent-int(got), wall.Seconds(), cpu,
		float64(sent)/max(cpu, 0.01), maxRSS/1e6, tracked)
}
