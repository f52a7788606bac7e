package state

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/internal/promkit"

	"github.com/outrigger/outrigger/exporters/celery/events"
)

var (
	taskLabels    = []string{"name", "hostname", "queue_name"}
	counterDescs  [numCounters]*prometheus.Desc
	failedDesc    = prometheus.NewDesc("celery_task_failed_total", "Tasks that failed, by exception class.", append(taskLabels[:3:3], "exception"), nil)
	runtimeDesc   = prometheus.NewDesc("celery_task_runtime", "Task run time in seconds (task-succeeded runtime).", taskLabels, nil)
	waitDesc      = prometheus.NewDesc("celery_task_queue_wait_time", "Seconds from task-sent (or its ETA, if later) to task-started.", taskLabels, nil)
	workerUpDesc  = prometheus.NewDesc("celery_worker_up", "Whether the worker sent a heartbeat within 2 × its heartbeat interval (Celery's own rule) and did not go offline.", []string{"hostname"}, nil)
	activeDesc    = prometheus.NewDesc("celery_worker_tasks_active", "Tasks the worker is running, from its last heartbeat.", []string{"hostname"}, nil)
	eventsDesc    = prometheus.NewDesc("celery_exporter_events_total", "Celery events received and decoded, by type.", []string{"type"}, nil)
	lastEventDesc = prometheus.NewDesc("celery_exporter_last_event_age_seconds", "Seconds since the last event arrived (absent before the first).", nil, nil)
	trackedDesc   = prometheus.NewDesc("celery_exporter_tasks_tracked", "Tasks in flight held in the bounded task map.", nil, nil)
	evictedDesc   = prometheus.NewDesc("celery_exporter_tasks_evicted_total", "Tasks dropped from the task map before finishing, by reason (capacity, ttl).", []string{"reason"}, nil)
	expiredDesc   = prometheus.NewDesc("celery_exporter_hostnames_expired_total", "Hostnames whose series were removed after they sent nothing for --worker.expire-after.", nil, nil)
	unknownDesc   = prometheus.NewDesc("celery_exporter_unknown_task_events_total", "Task events for task ids the exporter had not seen (labelled name=\"unknown\").", nil, nil)
)

func init() {
	help := [numCounters]string{"Tasks sent (task-sent events; needs task_send_sent_event).", "Tasks received by a worker.",
		"Tasks started by a worker.", "Tasks that succeeded.", "Tasks rejected by a worker.", "Tasks revoked.", "Tasks retried."}
	names := [numCounters]string{"sent", "received", "started", "succeeded", "rejected", "revoked", "retried"}
	for i := range counterDescs {
		counterDescs[i] = prometheus.NewDesc("celery_task_"+names[i]+"_total", help[i], taskLabels, nil)
	}
}

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
				ch <- promkit.ConstMetric(counterDescs[i], prometheus.CounterValue, float64(v), k.name, k.host, k.queue)
			}
		}
		if _, ok := s.failed[""]; !ok {
			ch <- promkit.ConstMetric(failedDesc, prometheus.CounterValue, 0, k.name, k.host, k.queue, "")
		}
		for exc, v := range s.failed {
			ch <- promkit.ConstMetric(failedDesc, prometheus.CounterValue, float64(v), k.name, k.host, k.queue, exc)
		}
		if s.runtime.count > 0 {
			ch <- constHistogram(runtimeDesc, &s.runtime, t.opts.RuntimeBuckets, k)
		}
		if s.wait.count > 0 {
			ch <- constHistogram(waitDesc, &s.wait, t.opts.WaitBuckets, k)
		}
	}
	for h, w := range t.workers {
		up := 0.0
		if !w.offline && now.Before(w.lastBeat.Add(time.Duration(2*w.freq*float64(time.Second)))) {
			up = 1
		}
		ch <- promkit.ConstMetric(workerUpDesc, prometheus.GaugeValue, up, h)
		active := float64(w.active)
		if up == 0 {
			active = 0
		}
		ch <- promkit.ConstMetric(activeDesc, prometheus.GaugeValue, active, h)
	}
	for i := events.Type(0); i < events.NumTypes; i++ {
		ch <- promkit.ConstMetric(eventsDesc, prometheus.CounterValue, float64(t.stats.Events[i]), i.String())
	}
	if !t.stats.LastEvent.IsZero() {
		ch <- promkit.ConstMetric(lastEventDesc, prometheus.GaugeValue, now.Sub(t.stats.LastEvent).Seconds())
	}
	ch <- promkit.ConstMetric(trackedDesc, prometheus.GaugeValue, float64(t.tasks.len()))
	ch <- promkit.ConstMetric(evictedDesc, prometheus.CounterValue, float64(t.stats.EvictedFull), "capacity")
	ch <- promkit.ConstMetric(evictedDesc, prometheus.CounterValue, float64(t.stats.EvictedTTL), "ttl")
	ch <- promkit.ConstMetric(expiredDesc, prometheus.CounterValue, float64(t.stats.ExpiredHosts))
	ch <- promkit.ConstMetric(unknownDesc, prometheus.CounterValue, float64(t.stats.UnknownTasks))
}

func constHistogram(d *prometheus.Desc, h *histogram, bounds []float64, k seriesKey) prometheus.Metric {
	buckets := make(map[float64]uint64, len(bounds))
	var cum uint64
	for i, b := range bounds {
		if h.counts != nil {
			cum += h.counts[i]
		}
		buckets[b] = cum
	}
	return promkit.ConstHistogram(d, h.count, h.sum, buckets, k.name, k.host, k.queue)
}

// Stats returns a copy of the tracker's own counters.
func (t *Tracker) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.TasksTracked = t.tasks.len()
	return s
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
