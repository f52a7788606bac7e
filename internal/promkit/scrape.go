package promkit

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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
// beside the daemon's own registry through client_golang (a registry per
// scrape holding the collection's metrics, merged with the own registry by
// prometheus.Gatherers, encoded and compressed by promhttp). It never answers
// HTTP 500 for a failed collection: failures show as scrape_collector_success
// 0, and a series that cannot be exposed (its Write fails, it is invalid, its
// name came with another type or help, it is a duplicate) is left out and
// counted in Errors.
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

	semOnce sync.Once
	sem     chan struct{}
}

// dropReason says why a series was left out of an exposition; it is the
// reason label of <ns>_exporter_scrape_errors_total.
type dropReason int

const (
	dropWrite     dropReason = iota // Metric.Write failed
	dropInvalid                     // invalid Desc, no value, bad label
	dropConflict                    // a name seen with another type or help, or a colliding _count/_sum/_bucket
	dropDuplicate                   // the same series twice in one family
	dropGather                      // the daemon's own registry reported an error
	numDropReasons
)

func (r dropReason) String() string {
	switch r {
	case dropWrite:
		return "write"
	case dropInvalid:
		return "invalid"
	case dropConflict:
		return "conflict"
	case dropDuplicate:
		return "duplicate"
	case dropGather:
		return "gather"
	}
	return "unknown"
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
	s := &scrape{h: h, metrics: metrics}
	// Text or protobuf only, as promhttp offers by default: under OpenMetrics
	// the incumbents' counters without _total would change name or type,
	// and the dashboards and alerts written for them would break.
	promhttp.HandlerFor(prometheus.GathererFunc(s.gather), promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
	}).ServeHTTP(w, r)
}

// scrape is one exposition: what it left out, and why.
type scrape struct {
	h        *ScrapeHandler
	metrics  []prometheus.Metric
	dropped  [numDropReasons]int
	counted  [numDropReasons]int
	firstErr error
	// scraped and own are what the two gatherers returned.
	scraped, own []*dto.MetricFamily
}

// gather merges the scrape's metrics with the own registry, counts and logs
// what was left out, and returns no error: what there is is served.
func (s *scrape) gather() ([]*dto.MetricFamily, error) {
	gs := prometheus.Gatherers{prometheus.GathererFunc(s.gatherScrape)}
	if s.h.Own != nil {
		gs = append(gs, prometheus.GathererFunc(s.gatherOwn))
	}
	mfs, err := gs.Gather()
	if err != nil {
		// Only merging fails here: the gatherers above return no error.
		s.mergeDrops(mfs, err)
	}
	s.count()
	if s.total() > 0 && s.h.Logger != nil {
		// One line per scrape, however many series were dropped.
		s.h.Logger.Warn("left series out of the exposition", "write", s.dropped[dropWrite],
			"invalid", s.dropped[dropInvalid], "conflict", s.dropped[dropConflict],
			"duplicate", s.dropped[dropDuplicate], "gather", s.dropped[dropGather], "first", s.firstErr)
	}
	return mfs, nil
}

// tracked is a metric of the scrape, remembering what the registry made of
// it, so that a series the registry rejects can be told apart.
type tracked struct {
	prometheus.Metric
	out    *dto.Metric // what Write filled
	failed bool        // Write returned an error
}

func (t *tracked) Write(m *dto.Metric) error {
	if err := t.Metric.Write(m); err != nil {
		t.failed = true
		return err
	}
	t.out = m
	return nil
}

// trackedMetrics is the scrape registry's one (unchecked) collector.
type trackedMetrics []tracked

func (trackedMetrics) Describe(chan<- *prometheus.Desc) {}

func (ts trackedMetrics) Collect(ch chan<- prometheus.Metric) {
	for i := range ts {
		if ts[i].Metric != nil {
			ch <- &ts[i]
		}
	}
}

// gatherScrape runs the scrape's metrics through a registry of their own,
// which checks, sorts and deduplicates them, and counts what it rejected
// before the own registry (which holds Errors) is gathered.
func (s *scrape) gatherScrape() ([]*dto.MetricFamily, error) {
	ts := make(trackedMetrics, len(s.metrics))
	for i, m := range s.metrics {
		// The registry would panic on these.
		switch {
		case m == nil:
			s.drop(dropInvalid, 1, errors.New("nil metric"))
		case m.Desc() == nil:
			s.drop(dropInvalid, 1, errors.New("metric without a Desc"))
		default:
			ts[i].Metric = m
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(ts)
	mfs, err := reg.Gather()
	if err != nil {
		s.rejected(ts, mfs, err)
	}
	s.scraped = mfs
	s.count()
	return mfs, nil
}

// rejected counts each series the scrape registry left out by its reason.
// It runs only when the registry reported an error.
func (s *scrape) rejected(ts trackedMetrics, mfs []*dto.MetricFamily, err error) {
	var errs prometheus.MultiError
	if !errors.As(err, &errs) {
		errs = prometheus.MultiError{err}
	}
	kept := map[*dto.Metric]bool{}
	byName := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
		for _, m := range mf.Metric {
			kept[m] = true
		}
	}
	var first error
	if len(errs) > 0 {
		first = errs[0]
	}
	for i := range ts {
		t := &ts[i]
		switch {
		case t.Metric == nil, t.out != nil && kept[t.out]:
			continue
		case t.Desc().Err() != nil:
			s.drop(dropInvalid, 1, first)
		case t.failed:
			s.drop(dropWrite, 1, first)
		default:
			s.drop(reasonRejected(t.Metric, byName), 1, first)
		}
	}
}

// reasonRejected tells why the registry refused a series it could write:
// one that a registry refuses even alone is invalid; one whose family was
// kept with the same type and help is a duplicate; the others came with
// another type or help, or collide with a histogram's or summary's series.
func reasonRejected(m prometheus.Metric, kept map[string]*dto.MetricFamily) dropReason {
	alone := prometheus.NewRegistry()
	alone.MustRegister(Metrics{m})
	mfs, err := alone.Gather()
	if err != nil || len(mfs) != 1 {
		return dropInvalid
	}
	if f := kept[mfs[0].GetName()]; f != nil && f.GetType() == mfs[0].GetType() && f.GetHelp() == mfs[0].GetHelp() {
		return dropDuplicate
	}
	return dropConflict
}

// gatherOwn gathers the daemon's own registry; an error of it is counted,
// and what it returned is served.
func (s *scrape) gatherOwn() ([]*dto.MetricFamily, error) {
	mfs, err := s.h.Own.Gather()
	if err != nil {
		s.drop(dropGather, 1, fmt.Errorf("gathering the daemon's own metrics: %w", err))
	}
	s.own = mfs
	return mfs, nil
}

// mergeDrops counts the own registry's series that merging left out: a
// whole family whose name the scrape has with another type or help (or that
// collides with a histogram's or summary's series), or series the scrape
// already has.
func (s *scrape) mergeDrops(merged []*dto.MetricFamily, err error) {
	byName := make(map[string]*dto.MetricFamily, len(merged))
	for _, mf := range merged {
		byName[mf.GetName()] = mf
	}
	scraped := make(map[string]int, len(s.scraped))
	for _, mf := range s.scraped {
		scraped[mf.GetName()] = len(mf.Metric)
	}
	var errs prometheus.MultiError
	if !errors.As(err, &errs) || len(errs) == 0 {
		errs = prometheus.MultiError{err}
	}
	for _, own := range s.own {
		if len(own.Metric) == 0 {
			continue
		}
		out := byName[own.GetName()]
		if out == nil || out.GetType() != own.GetType() || out.GetHelp() != own.GetHelp() {
			s.drop(dropConflict, len(own.Metric), errs[0])
			continue
		}
		if n := scraped[own.GetName()] + len(own.Metric) - len(out.Metric); n > 0 {
			s.drop(dropDuplicate, n, errs[0])
		}
	}
}

// drop counts n series dropped for r; the first error of a scrape is kept
// for the log line.
func (s *scrape) drop(r dropReason, n int, err error) {
	s.dropped[r] += n
	if s.firstErr == nil {
		s.firstErr = err
	}
}

// total returns the number of series dropped.
func (s *scrape) total() int {
	n := 0
	for _, d := range s.dropped {
		n += d
	}
	return n
}

// count adds to Errors what was dropped since the last call.
func (s *scrape) count() {
	for r, n := range s.dropped {
		if d := n - s.counted[r]; d > 0 && s.h.Errors != nil {
			s.h.Errors.WithLabelValues(dropReason(r).String()).Add(float64(d))
		}
		s.counted[r] = n
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
