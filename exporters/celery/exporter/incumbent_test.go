package exporter

import (
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// incumbentFamilies are danihodovic/celery-exporter's families, types and
// label names, written from its source (src/exporter.py), which cannot be
// installed here. Every one must be in our exposition after a real worker
// ran tasks, with the same type and labels, except those marked with the
// reason we differ (the README's table says the same).
var incumbentFamilies = []struct {
	name   string
	typ    dto.MetricType
	labels []string
	differ string // why we do not have it; "" = we must
}{
	{"celery_task_sent_total", dto.MetricType_COUNTER, []string{"name", "hostname", "queue_name"}, ""},
	{"celery_task_received_total", dto.MetricType_COUNTER, []string{"name", "hostname", "queue_name"}, ""},
	{"celery_task_started_total", dto.MetricType_COUNTER, []string{"name", "hostname", "queue_name"}, ""},
	{"celery_task_succeeded_total", dto.MetricType_COUNTER, []string{"name", "hostname", "queue_name"}, ""},
	{"celery_task_failed_total", dto.MetricType_COUNTER, []string{"name", "hostname", "exception", "queue_name"}, ""},
	{"celery_task_rejected_total", dto.MetricType_COUNTER, []string{"name", "hostname", "queue_name"}, ""},
	{"celery_task_revoked_total", dto.MetricType_COUNTER, []string{"name", "hostname", "queue_name"}, ""},
	{"celery_task_retried_total", dto.MetricType_COUNTER, []string{"name", "hostname", "queue_name"}, ""},
	{"celery_worker_up", dto.MetricType_GAUGE, []string{"hostname"}, ""},
	{"celery_worker_tasks_active", dto.MetricType_GAUGE, []string{"hostname"}, ""},
	{"celery_task_runtime", dto.MetricType_HISTOGRAM, []string{"name", "hostname", "queue_name"}, ""},
	{"celery_task_queue_wait_time", dto.MetricType_HISTOGRAM, []string{"name", "hostname", "queue_name"}, ""},
	{"celery_queue_length", dto.MetricType_GAUGE, []string{"queue_name"}, ""},
	{"celery_active_consumer_count", dto.MetricType_GAUGE, []string{"queue_name"}, "RabbitMQ only (a passive declare's consumer_count); Redis has no consumer count"},
	{"celery_active_worker_count", dto.MetricType_GAUGE, []string{"queue_name"}, "needs a broadcast inspect to every worker on each scrape (the incumbent's ~2 s scrapes)"},
	{"celery_active_process_count", dto.MetricType_GAUGE, []string{"queue_name"}, "needs a broadcast inspect to every worker on each scrape"},
}

// checkIncumbentFamilies fails for every incumbent family we lack or
// expose with another type or other label names.
func checkIncumbentFamilies(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	for _, want := range incumbentFamilies {
		f := fams[want.name]
		if want.differ != "" {
			continue
		}
		if f == nil {
			t.Errorf("the incumbent's %s is missing", want.name)
			continue
		}
		if f.GetType() != want.typ {
			t.Errorf("%s is a %v, the incumbent's a %v", want.name, f.GetType(), want.typ)
		}
		wantLabels := append([]string(nil), want.labels...)
		sort.Strings(wantLabels)
		for _, m := range f.GetMetric() {
			var got []string
			for _, lp := range m.GetLabel() {
				got = append(got, lp.GetName())
			}
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(wantLabels, ",") {
				t.Errorf("%s has labels %v, the incumbent %v", want.name, got, wantLabels)
				break
			}
		}
	}
}
