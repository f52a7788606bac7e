package main

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/outrigger/outrigger/internal/testkit"
)

// goldenMask keeps the values that follow from the tasks the test sends
// (the task counters, the broker connection); event counts (heartbeats),
// worker state (a heartbeat late on a loaded host), ages, durations, queue
// depths, histogram figures and the build are masked.
var goldenMask = testkit.Mask{
	Keep: regexp.MustCompile(`^celery_(task_(sent|received|started|succeeded|failed|retried|rejected|revoked)_total|` +
		`exporter_(broker_up|event_stream_up|event_decode_errors_total|hostnames_expired_total))$`),
	Drop: regexp.MustCompile(`^go_`),
}

// The daemon end to end with a real Celery worker on Redis: once every
// outcome is counted, its exposition is the golden file's. RabbitMQ adds
// the one family Redis cannot have (consumers per queue), from a second
// daemon on a RabbitMQ broker.
func TestGoldenExpositionWithARealWorker(t *testing.T) {
	r := testkit.StartRedis(t, testkit.RedisOptions{})
	d := startDaemon(t, []string{"CELERY_BROKER_URL=" + r.URL(0)}, "--queue.poll-interval=200ms",
		"--queue.discover-interval=200ms", "--generic-hostname-task-sent-metric")
	opts := testkit.CeleryOptions{BrokerURL: r.URL(0), Hostname: "wg@golden", Queues: []string{"celery", "work"}}
	// Events are fire-and-forget: the exporter must be subscribed before
	// anything is sent.
	testkit.Eventually(t, 10*time.Second, "event stream up", func() error {
		return want{{"celery_exporter_event_stream_up", nil, 1}}.check(d.families(t))
	})
	task := func(name string, args ...any) testkit.CeleryTask {
		return testkit.CeleryTask{Name: name, Args: args, Queue: "work"}
	}
	add, boom, flaky, rej, slp := testkit.TaskAdd, testkit.TaskBoom, testkit.TaskFlaky, testkit.TaskReject, testkit.TaskSleep
	// Celery publishes a task before its task-sent event: the tasks are sent,
	// and their task-sent events counted, before the worker starts, so that no
	// task-received comes before the queue of its task's name is known.
	testkit.SendTasks(t, opts, task(add, 1, 2), task(add, 3, 4), task(boom), task(flaky, 1), task(rej), task(slp, 0))
	sent := func(name string) map[string]string {
		return map[string]string{"name": name, "hostname": "generic", "queue_name": "work"}
	}
	testkit.Eventually(t, 30*time.Second, "task-sent events counted", func() error {
		return want{{"celery_task_sent_total", sent(add), 2}, {"celery_task_sent_total", sent(boom), 1},
			{"celery_task_sent_total", sent(flaky), 1}, {"celery_task_sent_total", sent(rej), 1},
			{"celery_task_sent_total", sent(slp), 1}}.check(d.families(t))
	})
	testkit.StartCeleryWorker(t, opts)
	l := func(name string) map[string]string {
		return map[string]string{"name": name, "hostname": "golden", "queue_name": "work"}
	}
	final := want{
		{"celery_task_sent_total", sent(add), 2}, {"celery_task_sent_total", sent(boom), 1},
		{"celery_task_sent_total", sent(flaky), 2}, {"celery_task_sent_total", sent(rej), 1}, {"celery_task_sent_total", sent(slp), 1},
		{"celery_task_received_total", l(add), 2}, {"celery_task_received_total", l(boom), 1},
		{"celery_task_received_total", l(flaky), 2}, {"celery_task_received_total", l(rej), 1}, {"celery_task_received_total", l(slp), 1},
		{"celery_task_started_total", l(add), 2}, {"celery_task_started_total", l(boom), 1},
		{"celery_task_started_total", l(flaky), 2}, {"celery_task_started_total", l(rej), 1}, {"celery_task_started_total", l(slp), 1},
		{"celery_task_succeeded_total", l(add), 2}, {"celery_task_succeeded_total", l(flaky), 1}, {"celery_task_succeeded_total", l(slp), 1},
		{"celery_task_failed_total", map[string]string{"name": boom, "hostname": "golden", "queue_name": "work", "exception": "ValueError"}, 1},
		{"celery_task_retried_total", l(flaky), 1}, {"celery_task_rejected_total", l(rej), 1},
		{"celery_worker_up", map[string]string{"hostname": "golden"}, 1},
		{"celery_queue_length", map[string]string{"queue_name": "work"}, 0},
		{"celery_queue_length", map[string]string{"queue_name": "celery"}, 0},
	}
	var body []byte
	testkit.Eventually(t, 60*time.Second, "every outcome counted", func() error {
		body = d.metrics(t)
		return final.check(testkit.Families(t, body))
	})
	fams := testkit.Families(t, body)

	rmq := testkit.StartRabbitMQ(t, testkit.RabbitMQOptions{Management: true})
	ra := startDaemon(t, nil, "--broker-url="+rmq.URL(), "--queue.poll-interval=200ms", "--queue=celery",
		"--rabbitmq.management-url="+rmq.ManagementURL())
	testkit.Eventually(t, 30*time.Second, "RabbitMQ queue polled", func() error {
		return want{{"celery_active_consumer_count", map[string]string{"queue_name": "celery"}, 0}}.check(ra.families(t))
	})
	for name, f := range ra.families(t) {
		if _, ok := fams[name]; !ok {
			fams[name] = f
		}
	}
	testkit.Golden(t, "celery-exporter.golden.prom", testkit.GoldenText(fams, goldenMask))
}

func (d *daemon) families(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	return testkit.Families(t, d.metrics(t))
}

// want is a list of series and their values.
type want []struct {
	name   string
	labels map[string]string
	value  float64
}

func (w want) check(fams map[string]*dto.MetricFamily) error {
	for _, s := range w {
		v, ok := testkit.Value(fams, s.name, s.labels)
		if !ok {
			return fmt.Errorf("%s%v missing", s.name, s.labels)
		}
		if v != s.value {
			return fmt.Errorf("%s%v = %v, want %v", s.name, s.labels, v, s.value)
		}
	}
	return nil
}
