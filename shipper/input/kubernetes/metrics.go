package kubernetes

import "github.com/prometheus/client_golang/prometheus"

// Metrics count the Kubernetes metadata watch's requests and cache.
type Metrics struct {
	Requests *prometheus.CounterVec // request, outcome
	Pods     prometheus.Gauge
}

// NewMetrics creates the Kubernetes input's metrics and registers them on
// reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "log_shipper_kubernetes_requests_total",
			Help: "Pod list and watch requests to the Kubernetes API, by outcome (ok, error, gone: resourceVersion too old)."}, []string{"request", "outcome"}),
		Pods: prometheus.NewGauge(prometheus.GaugeOpts{Name: "log_shipper_kubernetes_pods",
			Help: "Pods of this node in the metadata cache."}),
	}
	if reg != nil {
		reg.MustRegister(m.Requests, m.Pods)
	}
	return m
}
