package promkit

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testDesc = prometheus.NewDesc("t_value", "A test value.", []string{"from"}, nil)

func emit(name string, v float64) Collector {
	return CollectorFunc{ID: name, Fn: func(ctx context.Context, ch chan<- prometheus.Metric) error {
		ch <- prometheus.MustNewConstMetric(testDesc, prometheus.GaugeValue, v, name)
		return nil
	}}
}

// hang sends one metric, then blocks until release is closed, ignoring ctx
// the way a collector stuck in a syscall would.
func hang(name string, release <-chan struct{}) Collector {
	return CollectorFunc{ID: name, Fn: func(ctx context.Context, ch chan<- prometheus.Metric) error {
		ch <- prometheus.MustNewConstMetric(testDesc, prometheus.GaugeValue, 1, name)
		<-release
		return nil
	}}
}

func fail(name string) Collector {
	return CollectorFunc{ID: name, Fn: func(ctx context.Context, ch chan<- prometheus.Metric) error {
		ch <- prometheus.MustNewConstMetric(testDesc, prometheus.GaugeValue, 7, name)
		return errors.New("view unreadable")
	}}
}

// summarize maps metric name+collector label to its value.
func summarize(t *testing.T, ms []prometheus.Metric) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range ms {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		key := m.Desc().String()
		for _, l := range pb.GetLabel() {
			key = l.GetValue()
		}
		switch {
		case strings.Contains(m.Desc().String(), "collector_success"):
			out["success/"+key] = pb.GetGauge().GetValue()
		case strings.Contains(m.Desc().String(), "collector_duration"):
			out["duration/"+key] = pb.GetGauge().GetValue()
		default:
			out["value/"+key] = pb.GetGauge().GetValue()
		}
	}
	return out
}

func TestRunnerReportsEveryCollector(t *testing.T) {
	for _, ordered := range []bool{false, true} {
		r := &Runner{Namespace: "x", Ordered: ordered, Collectors: []Collector{
			emit("a", 1), fail("b"), CollectorFunc{ID: "c", Fn: func(context.Context, chan<- prometheus.Metric) error { return ErrSkipped }},
		}}
		got := summarize(t, r.Start(t.Context()).Wait(t.Context()))
		want := map[string]float64{"value/a": 1, "success/a": 1, "value/b": 7, "success/b": 0, "success/c": 1}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("ordered=%v: %s = %v, want %v (all: %v)", ordered, k, got[k], v, got)
			}
		}
	}
}

func TestRunnerAnswersByTheDeadlineWhenACollectorHangs(t *testing.T) {
	for _, ordered := range []bool{false, true} {
		release := make(chan struct{})
		r := &Runner{Namespace: "x", Ordered: ordered, Collectors: []Collector{emit("fast", 2), hang("stuck", release), emit("after", 3)}}
		ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
		start := time.Now()
		got := summarize(t, r.Start(ctx).Wait(ctx))
		elapsed := time.Since(start)
		cancel()
		close(release)
		if elapsed > time.Second {
			t.Fatalf("ordered=%v: the run waited %s for a hanging collector", ordered, elapsed)
		}
		if got["success/stuck"] != 0 || got["value/stuck"] != 1 {
			t.Errorf("ordered=%v: the stuck collector should fail and keep what it sent: %v", ordered, got)
		}
		if got["success/fast"] != 1 || got["value/fast"] != 2 {
			t.Errorf("ordered=%v: the fast collector lost its result: %v", ordered, got)
		}
		if _, ok := got["success/after"]; !ok {
			t.Errorf("ordered=%v: a collector that never ran must still report success: %v", ordered, got)
		}
		if ordered && got["success/after"] != 0 {
			t.Errorf("a collector that never ran reported success: %v", got)
		}
	}
}

func TestCoalescerSharesOneCollection(t *testing.T) {
	var started atomic.Int32
	gate := make(chan struct{})
	r := &Runner{Namespace: "x", Collectors: []Collector{CollectorFunc{ID: "slow", Fn: func(ctx context.Context, ch chan<- prometheus.Metric) error {
		started.Add(1)
		<-gate
		ch <- prometheus.MustNewConstMetric(testDesc, prometheus.GaugeValue, 5, "slow")
		return nil
	}}}}
	c := &Coalescer{}
	var wg sync.WaitGroup
	results := make([]map[string]float64, 20)
	for i := range results {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			results[i] = summarize(t, c.Do(ctx, "target", r.Start))
		})
	}
	testWait(t, func() bool { return started.Load() == 1 })
	time.Sleep(50 * time.Millisecond) // let every scrape join
	close(gate)
	wg.Wait()
	if n := c.Collections(); n != 1 {
		t.Fatalf("20 concurrent scrapes ran %d collections, want 1", n)
	}
	for i, res := range results {
		if res["value/slow"] != 5 || res["success/slow"] != 1 {
			t.Errorf("scrape %d got %v", i, res)
		}
	}
}

func TestCoalescerCancelsWhenEveryScrapeLeft(t *testing.T) {
	cancelled := make(chan struct{})
	r := &Runner{Collectors: []Collector{CollectorFunc{ID: "q", Fn: func(ctx context.Context, ch chan<- prometheus.Metric) error {
		<-ctx.Done()
		close(cancelled)
		return ctx.Err()
	}}}}
	c := &Coalescer{}
	ctx, cancel := context.WithCancel(t.Context())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	// The scrape has a long deadline but its client hangs up after 50 ms.
	dctx, dcancel := context.WithTimeout(ctx, time.Hour)
	defer dcancel()
	c.Do(dctx, "k", r.Start)
	select {
	case <-cancelled:
	case <-time.After(2 * time.Second):
		t.Fatal("the collection kept running after its only scrape went away")
	}
}

func TestCoalescerMinIntervalServesLastResult(t *testing.T) {
	var n atomic.Int32
	r := &Runner{Collectors: []Collector{CollectorFunc{ID: "n", Fn: func(ctx context.Context, ch chan<- prometheus.Metric) error {
		ch <- prometheus.MustNewConstMetric(testDesc, prometheus.GaugeValue, float64(n.Add(1)), "n")
		return nil
	}}}}
	c := &Coalescer{MinInterval: time.Hour}
	for range 3 {
		c.Do(t.Context(), "k", r.Start)
		testWait(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return len(c.flights) == 0 })
	}
	if got := n.Load(); got != 1 {
		t.Fatalf("3 scrapes within the minimum interval ran %d collections, want 1", got)
	}
}

func testWait(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A collector that panics fails its own scrape; the daemon and the other
// collectors carry on.
func TestRunnerSurvivesAPanickingCollector(t *testing.T) {
	r := &Runner{Namespace: "x", Collectors: []Collector{
		emit("a", 1),
		CollectorFunc{ID: "p", Fn: func(ctx context.Context, ch chan<- prometheus.Metric) error {
			panic("a value from the target the collector did not expect")
		}},
	}}
	run := r.Start(t.Context())
	got := summarize(t, run.Wait(t.Context()))
	if got["success/a"] != 1 || got["value/a"] != 1 || got["success/p"] != 0 {
		t.Errorf("got %v, want a served and p failed", got)
	}
	if err := run.Errors()["p"]; err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("p's error = %v", err)
	}
}
