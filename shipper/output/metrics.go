// Package output holds what the outputs (Loki, Elasticsearch, standard
// output) share: the counters of their deliveries, one family each, with
// the output's name as a label.
package output

import "github.com/prometheus/client_golang/prometheus"

// Metrics count the outputs' deliveries. One set serves every output.
type Metrics struct {
	ShippedLines  *prometheus.CounterVec   // output
	ShippedBytes  *prometheus.CounterVec   // output
	Dropped       *prometheus.CounterVec   // output ("none" for processing), reason
	Duplicates    *prometheus.CounterVec   // output
	DeadLetters   *prometheus.CounterVec   // output
	Retries       *prometheus.CounterVec   // output, reason
	Requests      *prometheus.CounterVec   // output, code
	BatchDuration *prometheus.HistogramVec // output
	Up            *prometheus.GaugeVec     // output
}

// NewMetrics creates the outputs' metrics and registers them on reg (nil:
// not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ShippedLines: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "log_shipper_shipped_lines_total",
			Help: "Lines the output acknowledged as delivered."}, []string{"output"}),
		ShippedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "log_shipper_shipped_bytes_total",
			Help: "Bytes of lines the output acknowledged as delivered."}, []string{"output"}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "log_shipper_dropped_lines_total",
			Help: "Lines not delivered, by output (\"none\" for processing) and reason."}, []string{"output", "reason"}),
		Duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "log_shipper_duplicates_total",
			Help: "Lines the output already held (Elasticsearch 409 on create after a replay): acknowledged, not stored twice."}, []string{"output"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "log_shipper_dead_letters_total",
			Help: "Documents rejected for good and written to the output's dead-letter file."}, []string{"output"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "log_shipper_retries_total",
			Help: "Requests retried, by output and reason."}, []string{"output", "reason"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "log_shipper_requests_total",
			Help: "Requests sent, by output and HTTP status class (or \"error\" for transport errors)."}, []string{"output", "code"}),
		BatchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "log_shipper_batch_duration_seconds",
			Help:    "Time from a batch's first line entering the output to its acknowledgement, retries included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}, []string{"output"}),
		Up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "log_shipper_output_up",
			Help: "1 when the output's last request succeeded."}, []string{"output"}),
	}
	if reg != nil {
		reg.MustRegister(m.ShippedLines, m.ShippedBytes, m.Dropped, m.Duplicates, m.DeadLetters, m.Retries, m.Requests,
			m.BatchDuration, m.Up)
	}
	return m
}
