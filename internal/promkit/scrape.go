package promkit

import (
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TargetFunc resolves a scrape request to a coalescing key and the collection
// to start for it. An error answers HTTP 400 (or a StatusError's code) with
// its text (it must not contain secrets).
type TargetFunc func(r *http.Request) (key string, start StartFunc, err error)

// StatusError is a TargetFunc error answered with its own HTTP status, such
// as 403 for a target an auth module's credentials may not be sent to.
type StatusError struct {
	Code int
	Err  error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// ScrapeHandler serves a target's metrics: it cuts the request to the scrape
// deadline, coalesces concurrent scrapes of one target, and exposes the result
// beside the daemon's own registry. It never answers HTTP 500 for a failed
// collection: failures show as scrape_collector_success 0, and a series that
// cannot be exposed (its Write fails, it is invalid, its name came with
// another type or help, it is a duplicate) is left out and counted in Errors.
type ScrapeHandler struct {
	Deadline  Deadline
	Coalescer *Coalescer
	// Own is gathered with every scrape (the daemon's own metrics); may be nil.
	Own         prometheus.Gatherer
	Target      TargetFunc
	MaxInFlight int
	Logger      *slog.Logger
	// Errors counts the series left out of an exposition, by reason (see
	// NewScrapeErrors); may be nil.
	Errors *prometheus.CounterVec

	semOnce  sync.Once
	sem      chan struct{}
	descs    descCache
	gzipPool sync.Pool
	bufPool  sync.Pool
	// scratchPool holds *[]byte for appendText.
	scratchPool sync.Pool
}

// NewScrapeErrors builds the <namespace>_exporter_scrape_errors_total counter
// that ScrapeHandler.Errors takes, with every reason at 0.
func NewScrapeErrors(namespace string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: buildInfoNamespace(namespace) + "_scrape_errors_total",
		Help: "Series left out of a scrape's exposition, by reason: write (the series could not be read), " +
			"invalid, conflict (its name came with another type or help), duplicate, gather (the daemon's own metrics).",
	}, []string{"reason"})
	for r := range numDropReasons {
		c.WithLabelValues(r.String())
	}
	return c
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
		code := http.StatusBadRequest
		if se := (*StatusError)(nil); errors.As(err, &se) {
			code = se.Code
		}
		http.Error(w, err.Error(), code)
		return
	}
	ctx, cancel := h.Deadline.Context(r)
	defer cancel()
	h.serveMetrics(w, r, h.Coalescer.Do(ctx, key, start))
}

// serveMetrics writes metrics and the daemon's own registry as one
// exposition. Drops found before the own registry is gathered show in this
// scrape's Errors; the few found later (conflicts with the own registry,
// duplicates in it) show in the next one.
func (h *ScrapeHandler) serveMetrics(w http.ResponseWriter, r *http.Request, metrics []prometheus.Metric) {
	e := newExposition()
	// One allocation for every series' dto.Metric. Pooling it across scrapes
	// saved little CPU and kept it resident between scrapes.
	e.addMetrics(metrics, &h.descs, make([]dto.Metric, len(metrics)))
	h.descs.scraped()
	e.normalize()
	var counted [numDropReasons]int
	h.count(e, &counted)
	if h.Own != nil {
		mfs, err := h.Own.Gather()
		if err != nil {
			e.drop(dropGather, 1, "gathering the daemon's own metrics: %w", err)
		}
		e.addFamilies(mfs)
	}
	fams, escape := e.families()
	h.count(e, &counted)
	if e.total() > 0 && h.Logger != nil {
		// One line per scrape, however many series were dropped.
		h.Logger.Warn("left series out of the exposition", "write", e.dropped[dropWrite],
			"invalid", e.dropped[dropInvalid], "conflict", e.dropped[dropConflict],
			"duplicate", e.dropped[dropDuplicate], "gather", e.dropped[dropGather], "first", e.firstErr)
	}
	h.encode(w, r, fams, escape)
}

// count adds to Errors what e dropped since the last call.
func (h *ScrapeHandler) count(e *exposition, counted *[numDropReasons]int) {
	for r, n := range e.dropped {
		if d := n - counted[r]; d > 0 && h.Errors != nil {
			h.Errors.WithLabelValues(dropReason(r).String()).Add(float64(d))
		}
		counted[r] = n
	}
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
