package process

import "github.com/prometheus/client_golang/prometheus"

// Metrics count what processing did to lines. One set serves every
// Processor.
type Metrics struct {
	DecodeErrors prometheus.Counter
	TimeFallback prometheus.Counter
	Redactions   prometheus.Counter
}

// NewMetrics creates the processing metrics and registers them on reg
// (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		DecodeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "log_shipper_decode_errors_total",
			Help: "Lines that were not valid JSON where JSON was expected (shipped as they are)."}),
		TimeFallback: prometheus.NewCounter(prometheus.CounterOpts{Name: "log_shipper_timestamp_fallback_total",
			Help: "Lines without a usable timestamp field, stamped with the read time and flagged."}),
		Redactions: prometheus.NewCounter(prometheus.CounterOpts{Name: "log_shipper_redactions_total",
			Help: "Secrets replaced before shipping."}),
	}
	if reg != nil {
		reg.MustRegister(m.DecodeErrors, m.TimeFallback, m.Redactions)
	}
	return m
}
