package promkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector is one unit of a scrape: it reads one view of the target and sends
// const metrics. It must honour ctx; the runner stops waiting for it when ctx
// ends, keeps what it already sent, and reports it as failed.
type Collector interface {
	Name() string
	Update(ctx context.Context, ch chan<- prometheus.Metric) error
}

// CollectorFunc adapts a function to Collector.
type CollectorFunc struct {
	ID string
	Fn func(ctx context.Context, ch chan<- prometheus.Metric) error
}

// Name implements Collector.
func (c CollectorFunc) Name() string { return c.ID }

// Update implements Collector.
func (c CollectorFunc) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	return c.Fn(ctx, ch)
}

// ErrSkipped marks a collector that chose not to run (a missing extension, a
// capability the target lacks). It is reported as success: nothing failed.
var ErrSkipped = errors.New("collector skipped")

// Runner runs a daemon's collectors for one target.
type Runner struct {
	// Namespace prefixes the scrape_collector_* series, e.g. "pg".
	Namespace string
	// Collectors run in parallel, or one after another in the given order when
	// Ordered is set (cheap, lock-free views first).
	Collectors []Collector
	Ordered    bool
	Logger     *slog.Logger
	// ExtraLabels are added to the scrape_collector_* series (e.g. a target).
	ExtraLabels prometheus.Labels

	// successDesc and durationDesc are made on the first Start: a Desc the
	// exposition has seen before costs it nothing, a new one a lookup.
	descOnce                  sync.Once
	successDesc, durationDesc *prometheus.Desc
}

// Run is one collection in progress.
type Run struct {
	runner *Runner
	done   chan struct{}
	mu     sync.Mutex
	states []*collectorState
	// successDesc and durationDesc are the runner's.
	successDesc, durationDesc *prometheus.Desc
}

type collectorState struct {
	name     string
	start    time.Time
	duration time.Duration
	started  bool
	finished bool
	err      error
	metrics  []prometheus.Metric
}

// Start begins a collection under ctx and returns at once.
func (r *Runner) Start(ctx context.Context) *Run {
	r.descOnce.Do(func() {
		r.successDesc = prometheus.NewDesc(prometheus.BuildFQName(r.Namespace, "scrape", "collector_success"),
			"Whether a collector succeeded on this scrape (1) or failed or ran out of time (0).",
			[]string{"collector"}, r.ExtraLabels)
		r.durationDesc = prometheus.NewDesc(prometheus.BuildFQName(r.Namespace, "scrape", "collector_duration_seconds"),
			"How long a collector ran on this scrape.", []string{"collector"}, r.ExtraLabels)
	})
	run := &Run{runner: r, done: make(chan struct{}), successDesc: r.successDesc, durationDesc: r.durationDesc}
	for _, c := range r.Collectors {
		run.states = append(run.states, &collectorState{name: c.Name()})
	}
	go func() {
		defer close(run.done)
		if r.Ordered {
			for i, c := range r.Collectors {
				if ctx.Err() != nil {
					return
				}
				run.collect(ctx, i, c)
			}
			return
		}
		var wg sync.WaitGroup
		for i, c := range r.Collectors {
			wg.Go(func() { run.collect(ctx, i, c) })
		}
		wg.Wait()
	}()
	return run
}

// collect runs one collector and returns when it finished or ctx ended,
// whichever comes first. A collector that ignores ctx keeps its goroutine until
// it returns, but nobody waits for it and what it sends later is discarded.
func (run *Run) collect(ctx context.Context, i int, c Collector) {
	st := run.states[i]
	run.mu.Lock()
	st.started, st.start = true, time.Now()
	run.mu.Unlock()

	ch := make(chan prometheus.Metric, 64)
	finished := make(chan error, 1)
	go func() {
		defer close(ch)
		// A collector that panics (a bad value from the target) fails this
		// scrape, reported by its success series, instead of the daemon.
		defer func() {
			if r := recover(); r != nil {
				finished <- fmt.Errorf("collector panicked: %v", r)
			}
		}()
		finished <- c.Update(ctx, ch)
	}()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for m := range ch {
			run.mu.Lock()
			if !st.finished {
				st.metrics = append(st.metrics, m)
			}
			run.mu.Unlock()
		}
	}()

	var err error
	select {
	case err = <-finished:
		<-drained
	case <-ctx.Done():
		err = ctx.Err()
	}
	run.mu.Lock()
	if !st.finished {
		st.finished, st.err, st.duration = true, err, time.Since(st.start)
	}
	run.mu.Unlock()
	if err != nil && !errors.Is(err, ErrSkipped) && run.runner.Logger != nil {
		run.runner.Logger.Warn("collector failed", "collector", c.Name(), "err", err)
	}
}

// Done is closed when every collector finished or the run's context ended.
func (run *Run) Done() <-chan struct{} { return run.done }

// Wait blocks until the run is done or ctx ends, and returns what the run has
// produced by then: collectors still running count as failed.
func (run *Run) Wait(ctx context.Context) []prometheus.Metric {
	select {
	case <-run.done:
	case <-ctx.Done():
	}
	return run.Snapshot()
}

// Snapshot returns the metrics produced so far plus a success and a duration
// series for every collector. Unfinished collectors report success 0.
func (run *Run) Snapshot() []prometheus.Metric {
	run.mu.Lock()
	defer run.mu.Unlock()
	var out []prometheus.Metric
	for _, st := range run.states {
		out = append(out, st.metrics...)
		success, dur := 0.0, st.duration
		if st.finished && (st.err == nil || errors.Is(st.err, ErrSkipped)) {
			success = 1
		}
		if !st.finished && st.started {
			dur = time.Since(st.start)
		}
		out = append(out,
			ConstMetric(run.successDesc, prometheus.GaugeValue, success, st.name),
			ConstMetric(run.durationDesc, prometheus.GaugeValue, dur.Seconds(), st.name))
	}
	return out
}

// Errors returns the error of every collector that failed, by name.
func (run *Run) Errors() map[string]error {
	run.mu.Lock()
	defer run.mu.Unlock()
	errs := map[string]error{}
	for _, st := range run.states {
		switch {
		case !st.finished:
			errs[st.name] = context.DeadlineExceeded
		case st.err != nil && !errors.Is(st.err, ErrSkipped):
			errs[st.name] = st.err
		}
	}
	return errs
}
