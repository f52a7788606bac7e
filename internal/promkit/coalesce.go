package promkit

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// StartFunc begins one collection for a target under ctx.
type StartFunc func(ctx context.Context) *Run

// Coalescer makes concurrent scrapes of the same target share one collection,
// and with MinInterval set, serves the last result to scrapes that come sooner.
//
// A collection runs under the deadline of the scrape that started it, detached
// from that scrape's cancellation: it is cancelled only when every scrape
// waiting for it has gone away, so a client hanging up does not leave queries
// running on the target, and one impatient client does not spoil the others.
type Coalescer struct {
	MinInterval time.Duration

	mu      sync.Mutex
	flights map[string]*flight
	last    map[string]cached
	runs    uint64
}

type flight struct {
	run     *Run
	cancel  context.CancelFunc
	waiters int
}

type cached struct {
	at      time.Time
	metrics []prometheus.Metric
}

// Collections counts the collections actually started (for tests and the
// daemon's own metrics).
func (c *Coalescer) Collections() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs
}

// Do returns the metrics for key, joining a collection already in flight,
// serving a recent result, or starting a new collection. It returns by the
// time ctx ends, with whatever the collection produced by then.
func (c *Coalescer) Do(ctx context.Context, key string, start StartFunc) []prometheus.Metric {
	c.mu.Lock()
	if c.flights == nil {
		c.flights, c.last = map[string]*flight{}, map[string]cached{}
	}
	if c.MinInterval > 0 {
		if last, ok := c.last[key]; ok && time.Since(last.at) < c.MinInterval {
			c.mu.Unlock()
			return last.metrics
		}
	}
	f, ok := c.flights[key]
	if !ok {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		if dl, ok := ctx.Deadline(); ok {
			fctx, cancel = withDeadline(fctx, cancel, dl)
		}
		f = &flight{run: start(fctx), cancel: cancel}
		c.flights[key] = f
		c.runs++
		go c.finish(key, f)
	}
	f.waiters++
	c.mu.Unlock()

	metrics := f.run.Wait(ctx)

	c.mu.Lock()
	f.waiters--
	if f.waiters == 0 && ctx.Err() != nil {
		// Everyone who wanted this collection is gone: stop the queries.
		f.cancel()
	}
	c.mu.Unlock()
	return metrics
}

func (c *Coalescer) finish(key string, f *flight) {
	<-f.run.Done()
	metrics := f.run.Snapshot()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flights[key] == f {
		delete(c.flights, key)
	}
	if c.MinInterval > 0 {
		c.last[key] = cached{at: time.Now(), metrics: metrics}
	}
	f.cancel()
}

// Forget drops a target's cached result (e.g. when it is removed from config).
func (c *Coalescer) Forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.last, key)
}

func withDeadline(parent context.Context, cancelParent context.CancelFunc, dl time.Time) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithDeadline(parent, dl)
	return ctx, func() { cancel(); cancelParent() }
}
