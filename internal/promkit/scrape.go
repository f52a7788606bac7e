package promkit

import (
	"log/slog"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// TargetFunc resolves a scrape request to a coalescing key and the collection
// to start for it. An error answers HTTP 400 with its text (it must not
// contain secrets).
type TargetFunc func(r *http.Request) (key string, start StartFunc, err error)

// ScrapeHandler serves a target's metrics: it cuts the request to the scrape
// deadline, coalesces concurrent scrapes of one target, and exposes the result
// beside the daemon's own registry. It never answers HTTP 500 for a failed
// collection: failures show as scrape_collector_success 0.
type ScrapeHandler struct {
	Deadline  Deadline
	Coalescer *Coalescer
	// Own is gathered with every scrape (the daemon's own metrics); may be nil.
	Own         prometheus.Gatherer
	Target      TargetFunc
	MaxInFlight int
	Logger      *slog.Logger

	semOnce sync.Once
	sem     chan struct{}
}

func (h *ScrapeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.MaxInFlight > 0 {
		h.semOnce.Do(func() { h.sem = make(chan struct{}, h.MaxInFlight) })
		select {
		case h.sem <- struct{}{}:
			defer func() { <-h.sem }()
		default:
			http.Error(w, "too many scrapes in flight; raise --web.max-requests or scrape less often", http.StatusServiceUnavailable)
			return
		}
	}
	key, start, err := h.Target(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := h.Deadline.Context(r)
	defer cancel()
	metrics := h.Coalescer.Do(ctx, key, start)

	reg := prometheus.NewRegistry()
	reg.MustRegister(Metrics(metrics))
	gatherers := prometheus.Gatherers{reg}
	if h.Own != nil {
		gatherers = append(gatherers, h.Own)
	}
	promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slogAdapter{h.Logger},
	}).ServeHTTP(w, r)
}

// Metrics is a prometheus.Collector that yields a fixed set of metrics.
type Metrics []prometheus.Metric

// Describe sends nothing: the set is unchecked.
func (Metrics) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (m Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, x := range m {
		ch <- x
	}
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Println(v ...any) {
	if a.l != nil {
		a.l.Warn("serving metrics", "err", v)
	}
}
