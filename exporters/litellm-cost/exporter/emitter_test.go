package exporter

import (
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Whatever the database holds (PostgreSQL's float8 has NaN and Infinity),
// nothing non-finite is ever served.
func TestEmitterDropsNonFiniteValues(t *testing.T) {
	ch := make(chan prometheus.Metric, 10)
	out := emitter{ch}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		out.gauge(dDatabaseUp, v)
		out.counter(dTagSpendTotal, v, "t")
	}
	out.gauge(dDatabaseUp, 1)
	close(ch)
	n := 0
	for range ch {
		n++
	}
	if n != 1 {
		t.Fatalf("%d metrics sent, want only the finite one", n)
	}
}
