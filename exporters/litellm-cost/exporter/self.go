package exporter

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// selfMetrics count the exporter's own work; they live in the daemon's
// registry and are served with every scrape.
type selfMetrics struct {
	refreshes    *prometheus.CounterVec
	lastDuration prometheus.Gauge
	connects     prometheus.Counter
	spendRows    prometheus.Counter
}

func newSelfMetrics() selfMetrics {
	return selfMetrics{
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "litellm_exporter_refreshes_total",
			Help: "Background refreshes of the cache, by result (success, error).",
		}, []string{"result"}),
		lastDuration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "litellm_exporter_refresh_duration_seconds",
			Help: "How long the last background refresh took.",
		}),
		connects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "litellm_exporter_connects_total",
			Help: "Connection attempts to the database (the first one and every reconnect).",
		}),
		spendRows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "litellm_exporter_spendlog_rows_read_total",
			Help: "Spend-log rows covered by the incremental reads (aggregated in the database).",
		}),
	}
}

func (s selfMetrics) refreshed(ok bool, took time.Duration) {
	result := "success"
	if !ok {
		result = "error"
	}
	s.refreshes.WithLabelValues(result).Inc()
	s.lastDuration.Set(took.Seconds())
}

func (s selfMetrics) collectors() []prometheus.Collector {
	s.refreshes.WithLabelValues("success")
	s.refreshes.WithLabelValues("error")
	return []prometheus.Collector{s.refreshes, s.lastDuration, s.connects, s.spendRows}
}
