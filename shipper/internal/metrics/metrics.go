// Package metrics holds the shipper's own counters, shared by the inputs,
// processors and outputs, registered once on the daemon's registry.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

const ns = "log_shipper"

// Metrics are the shipper's counters of its own work.
type Metrics struct {
	ReadLines     prometheus.Counter
	ReadBytes     prometheus.Counter
	Truncated     prometheus.Counter
	RepairedUTF8  prometheus.Counter
	DecodeErrors  prometheus.Counter
	TimeFallback  prometheus.Counter
	Redactions    prometheus.Counter
	FileEvents    *prometheus.CounterVec // event
	ShippedLines  *prometheus.CounterVec // output
	ShippedBytes  *prometheus.CounterVec // output
	Dropped       *prometheus.CounterVec // output, reason
	Duplicates    *prometheus.CounterVec // output
	DeadLetters   *prometheus.CounterVec // output
	Retries       *prometheus.CounterVec // output, reason
	Requests      *prometheus.CounterVec // output, code
	BatchDuration *prometheus.HistogramVec
	OutputUp      *prometheus.GaugeVec
	BufferedBytes prometheus.Gauge
	BufferLimit   prometheus.Gauge
	FilesOpen     prometheus.Gauge
	FilesWatched  prometheus.Gauge
	KubeRequests  *prometheus.CounterVec // request, outcome
	KubePods      prometheus.Gauge
}

// New creates the metrics and registers them on reg (nil: not registered).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ReadLines:    prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "read_lines_total", Help: "Lines read from files."}),
		ReadBytes:    prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "read_bytes_total", Help: "Bytes read from files."}),
		Truncated:    prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "lines_truncated_total", Help: "Lines longer than the maximum line size, cut and flagged."}),
		RepairedUTF8: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "lines_utf8_repaired_total", Help: "Lines whose invalid UTF-8 was replaced."}),
		DecodeErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "decode_errors_total", Help: "Lines that were not valid JSON where JSON was expected (shipped as they are)."}),
		TimeFallback: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "timestamp_fallback_total", Help: "Lines without a usable timestamp field, stamped with the read time and flagged."}),
		Redactions:   prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "redactions_total", Help: "Secrets replaced before shipping."}),
		FileEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "file_events_total",
			Help: "Files found, resumed, rotated, truncated, deleted, copied (copytruncate) or released."}, []string{"event"}),
		ShippedLines: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "shipped_lines_total", Help: "Lines the output acknowledged as delivered."}, []string{"output"}),
		ShippedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "shipped_bytes_total", Help: "Bytes of lines the output acknowledged as delivered."}, []string{"output"}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "dropped_lines_total",
			Help: "Lines not delivered, by output (\"none\" for processing) and reason."}, []string{"output", "reason"}),
		Duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "duplicates_total",
			Help: "Lines the output already held (Elasticsearch 409 on create after a replay): acknowledged, not stored twice."}, []string{"output"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "dead_letters_total",
			Help: "Documents rejected for good and written to the output's dead-letter file."}, []string{"output"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "retries_total", Help: "Requests retried, by output and reason."}, []string{"output", "reason"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "requests_total",
			Help: "Requests sent, by output and HTTP status class (or \"error\" for transport errors)."}, []string{"output", "code"}),
		BatchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "batch_duration_seconds",
			Help:    "Time from a batch's first line entering the output to its acknowledgement, retries included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}, []string{"output"}),
		OutputUp:      prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "output_up", Help: "1 when the output's last request succeeded."}, []string{"output"}),
		BufferedBytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "buffered_bytes", Help: "Bytes of lines read and not yet acknowledged by every output."}),
		BufferLimit:   prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "buffer_limit_bytes", Help: "The memory cap on buffered lines; reading pauses at it."}),
		FilesOpen:     prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "files_open", Help: "Files open for reading."}),
		FilesWatched:  prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "files_watched", Help: "Files known to the shipper (open or idle)."}),
		KubeRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "kubernetes_requests_total",
			Help: "Pod list and watch requests to the Kubernetes API, by outcome (ok, error, gone: resourceVersion too old)."}, []string{"request", "outcome"}),
		KubePods: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "kubernetes_pods", Help: "Pods of this node in the metadata cache."}),
	}
	if reg != nil {
		reg.MustRegister(m.ReadLines, m.ReadBytes, m.Truncated, m.RepairedUTF8, m.DecodeErrors, m.TimeFallback,
			m.Redactions, m.FileEvents, m.ShippedLines, m.ShippedBytes, m.Dropped, m.Duplicates, m.DeadLetters, m.Retries, m.Requests,
			m.BatchDuration, m.OutputUp, m.BufferedBytes, m.BufferLimit, m.FilesOpen, m.FilesWatched, m.KubeRequests, m.KubePods)
	}
	return m
}
