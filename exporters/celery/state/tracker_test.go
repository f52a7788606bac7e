package state

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/outrigger/outrigger/exporters/celery/events"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// replay feeds the captured Redis session (one worker w1@vm) to a tracker.
func replay(t *testing.T, tr *Tracker) {
	t.Helper()
	b, err := os.ReadFile("../testdata/redis-events.json")
	if err != nil {
		t.Fatal(err)
	}
	var samples []struct {
		Exchange string          `json:"exchange"`
		Body     json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(b, &samples); err != nil {
		t.Fatal(err)
	}
	var dec events.Decoder
	for _, s := range samples {
		if s.Exchange != "celeryev" {
			continue
		}
		if _, err := dec.Body(s.Body, tr.Apply); err != nil {
			t.Fatal(err)
		}
	}
}

type collector struct{ tr *Tracker }

func (c collector) Describe(chan<- *prometheus.Desc)    {}
func (c collector) Collect(ch chan<- prometheus.Metric) { c.tr.Collect(ch) }

func gather(t *testing.T, tr *Tracker, names ...string) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(collector{tr})
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, f := range fams {
		for _, n := range names {
			if f.GetName() == n {
				for _, m := range f.GetMetric() {
					var ls []string
					for _, l := range m.GetLabel() {
						ls = append(ls, l.GetName()+"="+l.GetValue())
					}
					v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
					fmt.Fprintf(&sb, "%s{%s} %g\n", n, strings.Join(ls, ","), v)
				}
			}
		}
	}
	return sb.String()
}

// stat is the value of one series of the tracker's own metrics, as
// gather writes it ("name{label=value}").
func stat(t *testing.T, tr *Tracker, series string) float64 {
	t.Helper()
	name, _, _ := strings.Cut(series, "{")
	for _, line := range strings.Split(gather(t, tr, name), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no series %s", series)
	return 0
}

func TestReplayCountsEveryOutcomeWithNameAndQueue(t *testing.T) {
	tr := New(Options{})
	replay(t, tr)
	got := gather(t, tr, "celery_task_succeeded_total", "celery_task_failed_total", "celery_task_retried_total",
		"celery_task_rejected_total", "celery_task_revoked_total", "celery_task_runtime")
	for _, want := range []string{
		"celery_task_succeeded_total{hostname=w1@vm,name=tasks.add,queue_name=celery} 2",
		"celery_task_succeeded_total{hostname=w1@vm,name=tasks.flaky,queue_name=celery} 1",
		"celery_task_failed_total{exception=ValueError,hostname=w1@vm,name=tasks.boom,queue_name=celery} 1",
		"celery_task_retried_total{hostname=w1@vm,name=tasks.flaky,queue_name=celery} 1",
		"celery_task_rejected_total{hostname=w1@vm,name=tasks.rejectme,queue_name=celery} 1",
		"celery_task_revoked_total{hostname=w1@vm,name=tasks.slow,queue_name=celery} 1",
		"celery_task_runtime{hostname=w1@vm,name=tasks.add,queue_name=celery} 2",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
	// Finished tasks leave the map; only the one sent to "pq", which no
	// worker consumed, is still in flight.
	if n := stat(t, tr, "celery_exporter_tasks_tracked{}"); n != 1 {
		t.Errorf("%v tasks tracked, want 1", n)
	}
	if w := tr.OldestWaiting(); len(w) != 1 || w["pq"] != 1795307663.902314 {
		t.Errorf("OldestWaiting = %v", w)
	}
}

func TestTaskMapStaysWithinCapacityAndTTL(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	tr := New(Options{TaskCapacity: 100, TaskTTL: time.Minute, Now: c.now})
	for i := range 1000 {
		tr.Apply(&events.Event{Type: events.TaskSent, UUID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", i), Name: "t", Queue: "q", Hostname: "p@h"})
	}
	tracked, evicted := stat(t, tr, "celery_exporter_tasks_tracked{}"), stat(t, tr, "celery_exporter_tasks_evicted_total{reason=capacity}")
	if tracked != 100 || evicted != 900 {
		t.Fatalf("tracked %v, evicted %v; want 100 and 900", tracked, evicted)
	}
	// The newest are kept: an event for one of them is labelled.
	tr.Apply(&events.Event{Type: events.TaskSucceeded, UUID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", 999), Hostname: "w@h"})
	if got := gather(t, tr, "celery_task_succeeded_total"); !strings.Contains(got, "name=t,queue_name=q} 1") {
		t.Fatalf("recent task lost its labels: %s", got)
	}
	c.t = c.t.Add(2 * time.Minute)
	// A scrape sweeps the task map first.
	if tracked, evicted := stat(t, tr, "celery_exporter_tasks_tracked{}"), stat(t, tr, "celery_exporter_tasks_evicted_total{reason=ttl}"); tracked != 0 || evicted != 99 {
		t.Fatalf("after TTL: tracked %v, ttl-evicted %v", tracked, evicted)
	}
}

func TestWorkerUpFollowsHeartbeatsAndSeriesExpire(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	tr := New(Options{Expiry: time.Minute, Now: c.now})
	tr.Apply(&events.Event{Type: events.WorkerHeartbeat, Hostname: "w1@a", Freq: 2, Active: 3, HasActive: true})
	tr.Apply(&events.Event{Type: events.TaskReceived, Hostname: "w1@a", UUID: "u1", Name: "t"})
	if got := gather(t, tr, "celery_worker_up", "celery_worker_tasks_active"); got != "celery_worker_tasks_active{hostname=w1@a} 3\ncelery_worker_up{hostname=w1@a} 1\n" {
		t.Fatalf("got %q", got)
	}
	c.t = c.t.Add(3999 * time.Millisecond)
	if got := gather(t, tr, "celery_worker_up"); got != "celery_worker_up{hostname=w1@a} 1\n" {
		t.Fatalf("within 2×freq: %q", got)
	}
	c.t = c.t.Add(2 * time.Millisecond)
	if got := gather(t, tr, "celery_worker_up"); got != "celery_worker_up{hostname=w1@a} 0\n" {
		t.Fatalf("after 2×freq: %q", got)
	}
	c.t = c.t.Add(time.Minute)
	if got := gather(t, tr, "celery_worker_up", "celery_task_received_total"); got != "" {
		t.Fatalf("series of an expired worker remain: %q", got)
	}
}

func TestHostnameModesAndTopN(t *testing.T) {
	for mode, want := range map[HostnameMode]string{HostnameFull: "celery@pod-1", HostnameHost: "pod-1", HostnameGeneric: "generic"} {
		tr := New(Options{HostnameMode: mode, TopTasks: 2})
		for i, name := range []string{"a", "b", "c", "d"} {
			tr.Apply(&events.Event{Type: events.TaskReceived, Hostname: "celery@pod-1", UUID: fmt.Sprint(i), Name: name})
		}
		got := gather(t, tr, "celery_task_received_total")
		if !strings.Contains(got, "hostname="+want+",name=other,queue_name=celery} 2") || strings.Count(got, "\n") != 3 {
			t.Errorf("mode %d: %s", mode, got)
		}
	}
}

func TestQueueWaitUsesSentAndETA(t *testing.T) {
	tr := New(Options{})
	tr.Apply(&events.Event{Type: events.TaskSent, UUID: "u", Name: "t", Queue: "q", Timestamp: 100, Hostname: "p@h"})
	tr.Apply(&events.Event{Type: events.TaskReceived, UUID: "u", Name: "t", Timestamp: 100.5, ETA: "1970-01-01T00:01:50+00:00", Hostname: "w@h"})
	tr.Apply(&events.Event{Type: events.TaskStarted, UUID: "u", Timestamp: 110.25, Hostname: "w@h"})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(collector{tr})
	const want = `
# HELP celery_task_queue_wait_time Seconds from task-sent (or its ETA, if later) to task-started.
# TYPE celery_task_queue_wait_time histogram
celery_task_queue_wait_time_bucket{hostname="w@h",name="t",queue_name="q",le="0.05"} 0
celery_task_queue_wait_time_bucket{hostname="w@h",name="t",queue_name="q",le="0.1"} 0
celery_task_queue_wait_time_bucket{hostname="w@h",name="t",queue_name="q",le="0.25"} 1
celery_task_queue_wait_time_bucket{hostname="w@h",name="t",queue_name="q",le="0.5"} 1
celery_task_queue_wait_time_bucket{hostname="w@h",name="t",queue_name="q",le="1"} 1
celery_task_queue_wait_time_bucket{hostname="w@h",name="t",queue_name="q",le="2.5"} 1
celery_task_queue_wait_time_bucket{hostname="w@h",name="t",queue_name="q",le="5"} 1
celery_task_queue_wait_time_bucket{hostname="w@h",name="t",queue_name="q",le="10"} 1
celery_task_queue_wait_time_bucket{hostname="w@h",name="t",queue_name="q",le="30"} 1
celery_task_queue_wait_time_bucket{hostname="w@h",name="t",queue_name="q",le="60"} 1
celery_task_queue_wait_time_bucket{hostname="w@h",name="t",queue_name="q",le="120"} 1
celery_task_queue_wait_time_bucket{hostname="w@h",name="t",queue_name="q",le="300"} 1
celery_task_queue_wait_time_bucket{hostname="w@h",name="t",queue_name="q",le="600"} 1
celery_task_queue_wait_time_bucket{hostname="w@h",name="t",queue_name="q",le="1800"} 1
celery_task_queue_wait_time_bucket{hostname="w@h",name="t",queue_name="q",le="+Inf"} 1
celery_task_queue_wait_time_sum{hostname="w@h",name="t",queue_name="q"} 0.25
celery_task_queue_wait_time_count{hostname="w@h",name="t",queue_name="q"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "celery_task_queue_wait_time"); err != nil {
		t.Fatal(err)
	}
}

// TestFirstEventCreatesSiblingsAtZero: as the incumbent, the first event of
// a task name creates every counter but task-sent at 0 (failed with
// exception=""), so success ratios have data before the first failure and
// increase() sees the first failure. Worker and task series are labelled
// with the host part of the node name by default.
func TestFirstEventCreatesSiblingsAtZero(t *testing.T) {
	now := time.Unix(1000, 0)
	tr := New(Options{HostnameMode: HostnameHost, Now: func() time.Time { return now }})
	tr.Apply(&events.Event{Type: events.TaskReceived, UUID: "u", Name: "t", Timestamp: 100, Hostname: "w1@pod-a"})
	tr.Apply(&events.Event{Type: events.WorkerHeartbeat, Hostname: "w1@pod-a", Freq: 2})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(collector{tr})
	const want = `
# HELP celery_task_failed_total Tasks that failed, by exception class.
# TYPE celery_task_failed_total counter
celery_task_failed_total{exception="",hostname="pod-a",name="t",queue_name="celery"} 0
# HELP celery_task_received_total Tasks received by a worker.
# TYPE celery_task_received_total counter
celery_task_received_total{hostname="pod-a",name="t",queue_name="celery"} 1
# HELP celery_task_rejected_total Tasks rejected by a worker.
# TYPE celery_task_rejected_total counter
celery_task_rejected_total{hostname="pod-a",name="t",queue_name="celery"} 0
# HELP celery_task_retried_total Tasks retried.
# TYPE celery_task_retried_total counter
celery_task_retried_total{hostname="pod-a",name="t",queue_name="celery"} 0
# HELP celery_task_revoked_total Tasks revoked.
# TYPE celery_task_revoked_total counter
celery_task_revoked_total{hostname="pod-a",name="t",queue_name="celery"} 0
# HELP celery_task_started_total Tasks started by a worker.
# TYPE celery_task_started_total counter
celery_task_started_total{hostname="pod-a",name="t",queue_name="celery"} 0
# HELP celery_task_succeeded_total Tasks that succeeded.
# TYPE celery_task_succeeded_total counter
celery_task_succeeded_total{hostname="pod-a",name="t",queue_name="celery"} 0
# HELP celery_worker_up Whether the worker sent a heartbeat within 2 × its heartbeat interval (Celery's own rule) and did not go offline.
# TYPE celery_worker_up gauge
celery_worker_up{hostname="pod-a"} 1
`
	names := []string{"celery_task_failed_total", "celery_task_received_total", "celery_task_rejected_total", "celery_task_retried_total",
		"celery_task_revoked_total", "celery_task_started_total", "celery_task_succeeded_total", "celery_task_sent_total", "celery_worker_up"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkApplyLifecycle(b *testing.B) {
	tr := New(Options{TaskCapacity: 10000})
	evs := []events.Event{{Type: events.TaskSent, Name: "t", Queue: "q", Hostname: "p@h"}, {Type: events.TaskReceived, Name: "t", Hostname: "w@h"},
		{Type: events.TaskStarted, Hostname: "w@h"}, {Type: events.TaskSucceeded, Runtime: 0.01, Hostname: "w@h"}}
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-0000-4000-8000-000000000000", i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e := evs[i%4]
		e.UUID = ids[(i/4)%len(ids)]
		tr.Apply(&e)
	}
}

// A task's series labels: the queue its task-sent named; without one, the
// queue last seen for its name, else the default; a task id never seen is
// name="unknown".
func TestTaskLabelsFallBackToTheNamesQueueAndTheDefault(t *testing.T) {
	tr := New(Options{DefaultQueue: "dq", HostnameMode: HostnameGeneric})
	id := func(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-000000000000", i) }
	tr.Apply(&events.Event{Type: events.TaskSent, UUID: id(1), Name: "a", Queue: "qa", Hostname: "p@h"})
	tr.Apply(&events.Event{Type: events.TaskReceived, UUID: id(2), Name: "a", Hostname: "w@h"})               // no task-sent: a's queue
	tr.Apply(&events.Event{Type: events.TaskReceived, UUID: id(3), Name: "b", Hostname: "w@h"})               // no queue known for b
	tr.Apply(&events.Event{Type: events.TaskSent, UUID: id(4), Name: "c", RoutingKey: "rk", Hostname: "p@h"}) // routing key as queue
	tr.Apply(&events.Event{Type: events.TaskSucceeded, UUID: id(5), Hostname: "w@h"})                         // never seen
	got := gather(t, tr, "celery_task_sent_total", "celery_task_received_total", "celery_task_succeeded_total")
	for _, want := range []string{
		"celery_task_sent_total{hostname=generic,name=a,queue_name=qa} 1",
		"celery_task_received_total{hostname=generic,name=a,queue_name=qa} 1",
		"celery_task_received_total{hostname=generic,name=b,queue_name=dq} 1",
		"celery_task_sent_total{hostname=generic,name=c,queue_name=rk} 1",
		"celery_task_succeeded_total{hostname=generic,name=unknown,queue_name=dq} 1",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
	if n := stat(t, tr, "celery_exporter_unknown_task_events_total{}"); n != 1 {
		t.Errorf("%v unknown task events, want 1", n)
	}
}
