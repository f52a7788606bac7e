package state

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/internal/promkit"

	"github.com/outrigger/outrigger/exporters/celery/events"
)

// The task families carry the incumbent's labels; the counters are indexed by
// the counter kinds of a series.
var (
	taskCounters = [numCounters]promkit.Family{
		cSent:      promkit.Counter("celery_task_sent_total", "Tasks sent (task-sent events; needs task_send_sent_event).", "name", "hostname", "queue_name"),
		cReceived:  promkit.Counter("celery_task_received_total", "Tasks received by a worker.", "name", "hostname", "queue_name"),
		cStarted:   promkit.Counter("celery_task_started_total", "Tasks started by a worker.", "name", "hostname", "queue_name"),
		cSucceeded: promkit.Counter("celery_task_succeeded_total", "Tasks that succeeded.", "name", "hostname", "queue_name"),
		cRejected:  promkit.Counter("celery_task_rejected_total", "Tasks rejected by a worker.", "name", "hostname", "queue_name"),
		cRevoked:   promkit.Counter("celery_task_revoked_total", "Tasks revoked.", "name", "hostname", "queue_name"),
		cRetried:   promkit.Counter("celery_task_retried_total", "Tasks retried.", "name", "hostname", "queue_name"),
	}
	taskFailed  = promkit.Counter("celery_task_failed_total", "Tasks that failed, by exception class.", "name", "hostname", "queue_name", "exception")
	taskRuntime = promkit.Histogram("celery_task_runtime", "Task run time in seconds (task-succeeded runtime).", "name", "hostname", "queue_name")
	taskWait    = promkit.Histogram("celery_task_queue_wait_time", "Seconds from task-sent (or its ETA, if later) to task-started.", "name", "hostname", "queue_name")

	workerUp     = promkit.Gauge("celery_worker_up", "Whether the worker sent a heartbeat within 2 × its heartbeat interval (Celery's own rule) and did not go offline.", "hostname")
	workerActive = promkit.Gauge("celery_worker_tasks_active", "Tasks the worker is running, from its last heartbeat.", "hostname")

	eventsTotal       = promkit.Counter("celery_exporter_events_total", "Celery events received and decoded, by type.", "type")
	lastEventAge      = promkit.Gauge("celery_exporter_last_event_age_seconds", "Seconds since the last event arrived (absent before the first).")
	tasksTracked      = promkit.Gauge("celery_exporter_tasks_tracked", "Tasks in flight held in the bounded task map.")
	tasksEvicted      = promkit.Counter("celery_exporter_tasks_evicted_total", "Tasks dropped from the task map before finishing, by reason (capacity, ttl).", "reason")
	hostsExpired      = promkit.Counter("celery_exporter_hostnames_expired_total", "Hostnames whose series were removed after they sent nothing for --worker.expire-after.")
	unknownTaskEvents = promkit.Counter("celery_exporter_unknown_task_events_total", "Task events for task ids the exporter had not seen (labelled name=\"unknown\").")
)

// Collect sends the task, worker and tracker metrics as const metrics.
func (t *Tracker) Collect(ch chan<- prometheus.Metric) {
	now := t.opts.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep(now)
	for k, s := range t.series {
		// As the incumbent, every counter but task-sent exists from the
		// series' first event on, at 0, and failed with exception="": so
		// rates and ratios have data, and increase() sees the first event.
		for i, v := range s.counters {
			if v > 0 || i != cSent {
				taskCounters[i].Send(ch, float64(v), k.name, k.host, k.queue)
			}
		}
		if _, ok := s.failed[""]; !ok {
			taskFailed.Send(ch, 0, k.name, k.host, k.queue, "")
		}
		for exc, v := range s.failed {
			taskFailed.Send(ch, float64(v), k.name, k.host, k.queue, exc)
		}
		if s.runtime.count > 0 {
			ch <- constHistogram(taskRuntime, &s.runtime, t.opts.RuntimeBuckets, k)
		}
		if s.wait.count > 0 {
			ch <- constHistogram(taskWait, &s.wait, t.opts.WaitBuckets, k)
		}
	}
	for h, w := range t.workers {
		up := 0.0
		if !w.offline && now.Before(w.lastBeat.Add(time.Duration(2*w.freq*float64(time.Second)))) {
			up = 1
		}
		workerUp.Send(ch, up, h)
		active := float64(w.active)
		if up == 0 {
			active = 0
		}
		workerActive.Send(ch, active, h)
	}
	for i := events.Type(0); i < events.NumTypes; i++ {
		eventsTotal.Send(ch, float64(t.stats.Events[i]), i.String())
	}
	if !t.stats.LastEvent.IsZero() {
		lastEventAge.Send(ch, now.Sub(t.stats.LastEvent).Seconds())
	}
	tasksTracked.Send(ch, float64(t.tasks.len()))
	tasksEvicted.Send(ch, float64(t.stats.EvictedFull), "capacity")
	tasksEvicted.Send(ch, float64(t.stats.EvictedTTL), "ttl")
	hostsExpired.Send(ch, float64(t.stats.ExpiredHosts))
	unknownTaskEvents.Send(ch, float64(t.stats.UnknownTasks))
}

func constHistogram(f promkit.Family, h *histogram, bounds []float64, k seriesKey) prometheus.Metric {
	buckets := make(map[float64]uint64, len(bounds))
	var cum uint64
	for i, b := range bounds {
		if h.counts != nil {
			cum += h.counts[i]
		}
		buckets[b] = cum
	}
	return f.Histogram(h.count, h.sum, buckets, k.name, k.host, k.queue)
}

// SentTime returns the task-sent timestamp of a task in flight, if known.
func (t *Tracker) SentTime(id string) (float64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tk := t.tasks.get(keyOf(id)); tk != nil && tk.sent > 0 {
		return tk.sent, true
	}
	return 0, false
}

// OldestWaiting returns, per queue, the task-sent timestamp of the oldest
// task sent but not yet received by a worker, from the task map. It serves
// brokers whose queues cannot be peeked (RabbitMQ).
func (t *Tracker) OldestWaiting() map[string]float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]float64{}
	for i := t.tasks.head; i >= 0; i = t.tasks.items[i].next {
		it := &t.tasks.items[i]
		if it.sent == 0 || it.queue == 0 || it.received {
			continue
		}
		q := t.str(it.queue)
		if old, ok := out[q]; !ok || it.sent < old {
			out[q] = it.sent
		}
	}
	return out
}
