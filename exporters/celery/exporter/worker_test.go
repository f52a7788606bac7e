package exporter

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/outrigger/outrigger/exporters/celery/config"
	"github.com/outrigger/outrigger/exporters/celery/events"
	"github.com/outrigger/outrigger/internal/testkit"
)

func l(name, host, queue string) map[string]string {
	return map[string]string{"name": name, "hostname": host, "queue_name": queue}
}

// runOutcomes runs a -E worker on queues celery and work and sends it tasks
// that succeed, fail, retry, get rejected and get revoked, all to "work".
func runOutcomes(t *testing.T, brokerURL, host string) {
	t.Helper()
	e := startExporter(t, testConfig(t, brokerURL, nil))
	opts := testkit.CeleryOptions{BrokerURL: brokerURL, Hostname: host, Queues: []string{"celery", "work"}}
	// Events are fire-and-forget: the exporter must be subscribed before
	// anything is sent.
	testkit.Eventually(t, 30*time.Second, "event stream up", func() error {
		return expect{{"celery_exporter_event_stream_up", nil, 1}}.check(scrape(t, e))
	})
	task := func(name string, args ...any) testkit.CeleryTask {
		return testkit.CeleryTask{Name: name, Args: args, Queue: "work"}
	}
	// Celery publishes a task before its task-sent event, so a running
	// worker's task-received can arrive first; the exporter then labels it,
	// as the incumbent does, with the queue last seen for the task's name,
	// else the default. The tasks are sent, and their task-sent events
	// counted, before the worker starts: every name's queue is known when
	// its first task-received comes.
	testkit.SendTasks(t, opts,
		task(testkit.TaskAdd, 1, 2), task(testkit.TaskAdd, 3, 4), task(testkit.TaskAdd, 5, 6),
		task(testkit.TaskBoom), task(testkit.TaskBoom),
		task(testkit.TaskFlaky, 1),
		task(testkit.TaskReject),
		task(testkit.TaskSleep, 0))
	sent := func(name string) map[string]string { return map[string]string{"name": name, "queue_name": "work"} }
	testkit.Eventually(t, 30*time.Second, "task-sent events counted", func() error {
		return expect{{"celery_task_sent_total", sent(testkit.TaskAdd), 3}, {"celery_task_sent_total", sent(testkit.TaskBoom), 2},
			{"celery_task_sent_total", sent(testkit.TaskFlaky), 1}, {"celery_task_sent_total", sent(testkit.TaskReject), 1},
			{"celery_task_sent_total", sent(testkit.TaskSleep), 1}}.check(scrape(t, e))
	})
	testkit.StartCeleryWorker(t, opts)
	testkit.Eventually(t, 30*time.Second, "worker seen up", func() error {
		return expect{{"celery_worker_up", map[string]string{"hostname": host}, 1}}.check(scrape(t, e))
	})
	// A revoke is a broadcast to the running workers: it must reach this
	// one before the countdown ends, from a second client process.
	slow := task(testkit.TaskSleep, 0)
	slow.Countdown = 10
	ids := testkit.SendTasks(t, opts, slow)
	testkit.RevokeTask(t, opts, ids[0], false)

	add, boom, flaky, rej, slp := testkit.TaskAdd, testkit.TaskBoom, testkit.TaskFlaky, testkit.TaskReject, testkit.TaskSleep
	want := expect{
		{"celery_task_received_total", l(add, host, "work"), 3},
		{"celery_task_received_total", l(boom, host, "work"), 2},
		{"celery_task_received_total", l(flaky, host, "work"), 2}, // the first run and the retry
		{"celery_task_received_total", l(rej, host, "work"), 1},
		{"celery_task_received_total", l(slp, host, "work"), 2}, // sleep(0) and the revoked one
		{"celery_task_started_total", l(add, host, "work"), 3},
		{"celery_task_started_total", l(boom, host, "work"), 2},
		{"celery_task_started_total", l(flaky, host, "work"), 2},
		{"celery_task_started_total", l(rej, host, "work"), 1},
		{"celery_task_started_total", l(slp, host, "work"), 1},
		{"celery_task_succeeded_total", l(add, host, "work"), 3},
		{"celery_task_succeeded_total", l(flaky, host, "work"), 1},
		{"celery_task_succeeded_total", l(slp, host, "work"), 1},
		{"celery_task_failed_total", map[string]string{"name": boom, "hostname": host, "queue_name": "work", "exception": "ValueError"}, 2},
		{"celery_task_retried_total", l(flaky, host, "work"), 1},
		{"celery_task_rejected_total", l(rej, host, "work"), 1},
		{"celery_task_revoked_total", l(slp, host, "work"), 1},
		// The histogram's count is the number of successes.
		{"celery_task_runtime", l(add, host, "work"), 3},
		{"celery_task_runtime", l(flaky, host, "work"), 1},
		{"celery_task_sent_total", map[string]string{"name": add, "queue_name": "work"}, 3},
		{"celery_task_sent_total", map[string]string{"name": boom, "queue_name": "work"}, 2},
		{"celery_task_sent_total", map[string]string{"name": rej, "queue_name": "work"}, 1},
		{"celery_task_sent_total", map[string]string{"name": slp, "queue_name": "work"}, 2},
		// The retry is published by the worker's pool process, which sends
		// task-sent too (as "gen<pid>@<host>").
		{"celery_task_sent_total", map[string]string{"name": flaky, "queue_name": "work"}, 2},
		{"celery_task_queue_wait_time", l(add, host, "work"), 3},
	}
	testkit.Eventually(t, 30*time.Second, "every outcome counted", func() error {
		fams := scrape(t, e)
		err := want.check(fams)
		if err != nil && testing.Verbose() {
			for _, n := range []string{"celery_task_received_total", "celery_task_rejected_total", "celery_task_sent_total", "celery_exporter_events_total"} {
				for _, m := range fams[n].GetMetric() {
					t.Logf("%s %v %v", n, m.GetLabel(), m.GetCounter().GetValue())
				}
			}
		}
		return err
	})
	// Nothing is counted twice or late, and no task is labelled by a default.
	// The worker's event dispatcher sends its heartbeats on the connection of
	// its task events, which it flushes on the next turn of its loop: once two
	// more heartbeats have arrived, everything it had sent before has too.
	beat := map[string]string{"type": "worker-heartbeat"}
	beats := value(scrape(t, e), "celery_exporter_events_total", beat)
	testkit.Eventually(t, 30*time.Second, "two more heartbeats", func() error {
		if n := value(scrape(t, e), "celery_exporter_events_total", beat); n < beats+2 {
			return fmt.Errorf("%v heartbeats since the outcomes were counted", n-beats)
		}
		return nil
	})
	fams := scrape(t, e)
	if err := want.check(fams); err != nil {
		t.Fatalf("counts changed after settling: %v", err)
	}
	for _, f := range []string{"celery_task_received_total", "celery_task_succeeded_total", "celery_task_failed_total"} {
		for _, m := range fams[f].GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "queue_name" && lp.GetValue() != "work" || lp.GetName() == "name" && lp.GetValue() == "unknown" {
					t.Errorf("%s has a series labelled %s=%q", f, lp.GetName(), lp.GetValue())
				}
			}
		}
	}
	if n := value(fams, "celery_exporter_event_decode_errors_total", map[string]string{"reason": "body"}); n != 0 {
		t.Errorf("%v decode errors", n)
	}
	checkIncumbentFamilies(t, fams)
	// Siblings of a task that only succeeded exist at 0, as the incumbent's.
	for _, name := range []string{"celery_task_failed_total", "celery_task_retried_total", "celery_task_rejected_total", "celery_task_revoked_total"} {
		want := l(add, host, "work")
		if name == "celery_task_failed_total" {
			want["exception"] = ""
		}
		if err := (expect{{name, want, 0}}).check(fams); err != nil {
			t.Errorf("sibling at 0: %v", err)
		}
	}
}

func TestRedisWorkerOutcomesAreCountedExactly(t *testing.T) {
	r := testkit.StartRedis(t, testkit.RedisOptions{})
	runOutcomes(t, r.URL(0), "wr@test")
}

func TestRabbitMQWorkerOutcomesAreCountedExactly(t *testing.T) {
	runOutcomes(t, sharedRabbitMQ(t).URL(), "wa@test")
}

func TestKilledWorkerGoesDownAndItsSeriesExpire(t *testing.T) {
	r := testkit.StartRedis(t, testkit.RedisOptions{})
	e := startExporter(t, testConfig(t, r.URL(0), func(c *config.Config) { c.WorkerExpiry = 8 * time.Second }))
	opts := testkit.CeleryOptions{BrokerURL: r.URL(0), Hostname: "k1@pod-a"}
	w1 := testkit.StartCeleryWorker(t, opts)
	up := func(host string) map[string]string { return map[string]string{"hostname": host} }
	testkit.Eventually(t, 30*time.Second, "k1 up", func() error {
		return expect{{"celery_worker_up", up("k1@pod-a"), 1}}.check(scrape(t, e))
	})
	testkit.SendTasks(t, opts, testkit.CeleryTask{Name: testkit.TaskAdd, Args: []any{1, 1}})
	testkit.Eventually(t, 30*time.Second, "k1 ran a task", func() error {
		return expect{{"celery_task_succeeded_total", l(testkit.TaskAdd, "k1@pod-a", "celery"), 1}}.check(scrape(t, e))
	})

	w1.Kill()
	killed := time.Now()
	// Celery's rule: alive while a heartbeat came within 2 × freq (2 s).
	testkit.Eventually(t, 10*time.Second, "k1 down", func() error {
		return expect{{"celery_worker_up", up("k1@pod-a"), 0}}.check(scrape(t, e))
	})
	if d := time.Since(killed); d > 4*time.Second+500*time.Millisecond {
		t.Errorf("celery_worker_up fell to 0 %v after SIGKILL; the heartbeat window is 4s", d)
	}

	// A replacement pod has a new hostname; the old one's series go away.
	testkit.StartCeleryWorker(t, testkit.CeleryOptions{BrokerURL: r.URL(0), Hostname: "k2@pod-b"})
	testkit.Eventually(t, 30*time.Second, "k1's series removed, k2 up", func() error {
		fams := scrape(t, e)
		if err := (expect{{"celery_worker_up", up("k2@pod-b"), 1}}).check(fams); err != nil {
			return err
		}
		for _, f := range fams {
			for _, m := range f.GetMetric() {
				for _, lp := range m.GetLabel() {
					if lp.GetName() == "hostname" && lp.GetValue() == "k1@pod-a" {
						return fmt.Errorf("%s still has k1@pod-a", f.GetName())
					}
				}
			}
		}
		if n := len(fams["celery_worker_up"].GetMetric()); n != 1 {
			return fmt.Errorf("%d celery_worker_up series", n)
		}
		return nil
	})
}

func TestRedisSilentSubscriptionIsReopenedAndReadyFollowsTheBroker(t *testing.T) {
	r := testkit.StartRedis(t, testkit.RedisOptions{})
	e := startExporter(t, testConfig(t, r.URL(0), func(c *config.Config) { c.SilenceTimeout = 300 * time.Millisecond }))
	testkit.Eventually(t, 10*time.Second, "stream up", func() error {
		return expect{{"celery_exporter_event_stream_up", nil, 1}, {"celery_exporter_broker_up", nil, 1}}.check(scrape(t, e))
	})
	if err := e.Ready(t.Context()); err != nil {
		t.Fatalf("not ready with the broker up: %v", err)
	}
	// No workers: the stream is silent but answers pings, so it stays.
	time.Sleep(time.Second)
	if n := value(scrape(t, e), "celery_exporter_event_stream_reconnects_total", map[string]string{"reason": "silent"}); n != 0 {
		t.Fatalf("a silent but healthy stream was reopened %v times", n)
	}

	// A broker that stops answering (as behind a dead NAT entry) is noticed.
	r.Process().Signal(syscall.SIGSTOP)
	stopped := true
	defer func() {
		if stopped {
			r.Process().Signal(syscall.SIGCONT)
		}
	}()
	testkit.Eventually(t, 10*time.Second, "silent stream reopened", func() error {
		if n := value(scrape(t, e), "celery_exporter_event_stream_reconnects_total", map[string]string{"reason": "silent"}); n < 1 {
			return fmt.Errorf("no silent reconnect yet")
		}
		return nil
	})
	if err := e.Ready(t.Context()); err == nil {
		t.Fatal("ready while the broker does not answer")
	}
	r.Process().Signal(syscall.SIGCONT)
	stopped = false
	testkit.Eventually(t, 15*time.Second, "stream back", func() error {
		return expect{{"celery_exporter_event_stream_up", nil, 1}}.check(scrape(t, e))
	})
	// Events flow again: publish a heartbeat as a worker would.
	body := []byte(`{"type": "worker-heartbeat", "hostname": "fake@x", "freq": 2.0, "active": 0, "timestamp": 1}`)
	msg, err := events.EncodeRedis("celeryev", "worker.heartbeat", "fake@x", body)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "events after the reconnect", func() error {
		r.MustDo(t, "PUBLISH", events.RedisChannel("", 0, "celeryev", "worker.heartbeat"), string(msg))
		return expect{{"celery_worker_up", map[string]string{"hostname": "fake@x"}, 1}}.check(scrape(t, e))
	})
	if err := e.Ready(t.Context()); err != nil {
		t.Fatalf("not ready after the broker came back: %v", err)
	}

	r.Stop(t)
	testkit.Eventually(t, 10*time.Second, "not ready with the broker gone", func() error {
		if e.Ready(t.Context()) == nil {
			return fmt.Errorf("still ready")
		}
		return nil
	})
}

func TestRabbitMQReconnectsAfterTheConnectionIsClosed(t *testing.T) {
	rmq := sharedRabbitMQ(t)
	e := startExporter(t, testConfig(t, rmq.URL(), func(c *config.Config) { c.ManagementURL = rmq.ManagementURL() }))
	testkit.Eventually(t, 10*time.Second, "connected", func() error {
		return expect{{"celery_exporter_event_stream_up", nil, 1}, {"celery_exporter_broker_up", nil, 1}}.check(scrape(t, e))
	})
	rmq.CloseConnections(t)
	testkit.Eventually(t, 20*time.Second, "reconnected", func() error {
		fams := scrape(t, e)
		if n := value(fams, "celery_exporter_event_stream_reconnects_total", map[string]string{"reason": "error"}); n < 1 {
			return fmt.Errorf("no reconnect counted")
		}
		return expect{{"celery_exporter_event_stream_up", nil, 1}}.check(fams)
	})
	if err := e.Ready(t.Context()); err != nil {
		t.Fatalf("not ready after reconnecting: %v", err)
	}
}

// countdownHeld sends tasks with a countdown to a running worker: they leave
// the queue and wait, reserved, in the worker.
func countdownHeld(t *testing.T, brokerURL string, mut func(*config.Config), etaKnown bool) {
	t.Helper()
	e := startExporter(t, testConfig(t, brokerURL, mut))
	opts := testkit.CeleryOptions{BrokerURL: brokerURL, Queues: []string{"held"}}
	testkit.StartCeleryWorker(t, opts)
	task := testkit.CeleryTask{Name: testkit.TaskAdd, Args: []any{1, 1}, Queue: "held", Countdown: 600}
	testkit.SendTasks(t, opts, task, task, task)
	want := expect{{"celery_queue_length", q("held"), 0}, {"celery_queue_unacked_messages", q("held"), 3}}
	if etaKnown {
		want = append(want, expect{{"celery_queue_eta_messages", q("held"), 3}}...)
	}
	testkit.Eventually(t, 30*time.Second, "countdown tasks show as unacked", func() error { return want.check(scrape(t, e)) })
}

func TestRedisCountdownTasksHeldByAWorkerShowAsUnacked(t *testing.T) {
	r := testkit.StartRedis(t, testkit.RedisOptions{})
	countdownHeld(t, r.URL(0), nil, true)
}

func TestRabbitMQCountdownTasksHeldByAWorkerShowAsUnacked(t *testing.T) {
	rmq := sharedRabbitMQ(t)
	countdownHeld(t, rmq.URL(), func(c *config.Config) { c.ManagementURL = rmq.ManagementURL() }, false)
}
