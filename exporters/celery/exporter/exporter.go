package exporter

import (
	"context"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/exporters/celery/broker"
	"github.com/outrigger/outrigger/exporters/celery/config"
	"github.com/outrigger/outrigger/exporters/celery/events"
	"github.com/outrigger/outrigger/exporters/celery/state"
	"github.com/outrigger/outrigger/internal/promkit"
)

// Watcher is what a broker implementation offers.
type Watcher interface {
	Run(ctx context.Context)
	Ready(ctx context.Context) error
	CollectHealth(ch chan<- prometheus.Metric)
	CollectQueues(ch chan<- prometheus.Metric)
}

// Exporter is one running celery-exporter.
type Exporter struct {
	Tracker *state.Tracker
	watcher Watcher
	runner  *promkit.Runner

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// New builds the exporter; Start runs its background work.
func New(vc config.ValidatedConfig, log *slog.Logger) *Exporter {
	e := &Exporter{Tracker: state.New(vc.TrackerOptions())}
	sink := func(ev *events.Event) { e.Tracker.Apply(ev) }
	switch w := vc.WatchOptions(); w.Broker.Kind {
	case config.AMQP:
		e.watcher = broker.NewAMQP(w, log, sink, e.Tracker)
	default:
		e.watcher = broker.NewRedis(w, log, sink, e.Tracker)
	}
	e.runner = &promkit.Runner{Namespace: "celery", Logger: log, Collectors: []promkit.Collector{
		promkit.CollectorFunc{ID: "queues", Fn: e.collect(e.watcher.CollectQueues)},
		promkit.CollectorFunc{ID: "events", Fn: e.collect(e.Tracker.Collect)},
		promkit.CollectorFunc{ID: "broker", Fn: e.collect(e.watcher.CollectHealth)},
	}}
	return e
}

func (e *Exporter) collect(f func(chan<- prometheus.Metric)) func(context.Context, chan<- prometheus.Metric) error {
	return func(ctx context.Context, ch chan<- prometheus.Metric) error {
		f(ch)
		return ctx.Err()
	}
}

// Start runs the event consumer and depth poller until Stop or ctx ends.
// It is idempotent.
func (e *Exporter) Start(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done != nil {
		return
	}
	ctx, e.cancel = context.WithCancel(ctx)
	e.done = make(chan struct{})
	go func() {
		defer close(e.done)
		e.watcher.Run(ctx)
	}()
}

// Stop ends the background work and waits for it. Safe without Start.
func (e *Exporter) Stop() {
	e.mu.Lock()
	cancel, done := e.cancel, e.done
	e.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// Ready reports whether the broker is reachable.
func (e *Exporter) Ready(ctx context.Context) error { return e.watcher.Ready(ctx) }

// Runner returns the scrape's collector runner.
func (e *Exporter) Runner() *promkit.Runner { return e.runner }
