package promkit

import (
	"cmp"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// Family is one metric family as a daemon declares it: the literal full name
// (so a grep for a name in a README finds the line that declares it), help,
// type and variable label names. It is node_exporter's typedDesc. Declare
// families as package variables next to the code that fills them:
//
//	var connUtil = promkit.Gauge("pg_connections_utilization_ratio",
//		"Client connections divided by max_connections minus reserved slots.")
//	...
//	connUtil.Send(ch, v)
//
// Families of live instruments (counters a component increments) are
// client_golang's CounterOpts/GaugeOpts with the same literal full Name and no
// Namespace or Subsystem.
type Family struct {
	desc *prometheus.Desc
	name string
	typ  prometheus.ValueType // 0 for a histogram or a summary
}

// NewFamily declares a family with constant labels (rarely needed: a
// label that is the same on every series of one process).
func NewFamily(typ prometheus.ValueType, name, help string, constLabels prometheus.Labels, labels ...string) Family {
	return Family{desc: prometheus.NewDesc(name, help, labels, constLabels), name: name, typ: typ}
}

// Gauge declares a gauge family.
func Gauge(name, help string, labels ...string) Family {
	return NewFamily(prometheus.GaugeValue, name, help, nil, labels...)
}

// Counter declares a counter family; name ends in _total unless an
// incumbent's name (kept for its dashboards) does not.
func Counter(name, help string, labels ...string) Family {
	return NewFamily(prometheus.CounterValue, name, help, nil, labels...)
}

// Untyped declares an untyped family (values whose kind is not known, such
// as a custom query's columns).
func Untyped(name, help string, labels ...string) Family {
	return NewFamily(prometheus.UntypedValue, name, help, nil, labels...)
}

// Histogram declares a histogram family, filled with Family.Histogram.
func Histogram(name, help string, labels ...string) Family {
	return NewFamily(0, name, help, nil, labels...)
}

// Summary declares a summary family, filled with Family.Summary.
func Summary(name, help string, labels ...string) Family {
	return NewFamily(0, name, help, nil, labels...)
}

// Name is the family's full name.
func (f Family) Name() string { return f.name }

// Desc is the client_golang Desc, for Describe and for tests.
func (f Family) Desc() *prometheus.Desc { return f.desc }

// Metric makes one series of a gauge, counter or untyped family. Label values
// from the outside world are made valid UTF-8; a wrong number of them gives
// an invalid metric, which the exposition leaves out and counts (ConstMetric).
func (f Family) Metric(v float64, labels ...string) prometheus.Metric {
	return ConstMetric(f.desc, f.typ, v, labels...)
}

// Send sends Metric(v, labels...) to ch.
func (f Family) Send(ch chan<- prometheus.Metric, v float64, labels ...string) {
	ch <- f.Metric(v, labels...)
}

// Histogram makes one series of a histogram family from cumulative bucket
// counts (ConstHistogram).
func (f Family) Histogram(count uint64, sum float64, buckets map[float64]uint64, labels ...string) prometheus.Metric {
	return ConstHistogram(f.desc, count, sum, buckets, labels...)
}

// Summary makes one series of a summary family from its count, sum and
// quantiles (none for a count and sum only), like ConstMetric: an error
// gives an invalid metric, left out and counted.
func (f Family) Summary(count uint64, sum float64, quantiles map[float64]float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstSummary(f.desc, count, sum, quantiles, labelValues(labels)...)
	if err != nil {
		return prometheus.NewInvalidMetric(f.desc, err)
	}
	return m
}

// Bool is 1 for true and 0 for false, the value of a 0/1 gauge.
func Bool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Other is the label value of the series that holds what a top-N limit left
// out, so that sums over a family stay the totals.
const Other = "other"

// TopN orders items by cmp (the ones to keep first; ties must be broken by
// cmp for a stable choice from one scrape to the next) and splits them into
// the first n and the rest, which the caller folds into one Other series.
// A negative n keeps everything. items is sorted in place.
func TopN[T any](items []T, n int, cmp func(a, b T) int) (keep, rest []T) {
	slices.SortStableFunc(items, cmp)
	if n < 0 || n >= len(items) {
		return items, nil
	}
	return items[:n], items[n:]
}

// ByValue is a TopN order: larger value first, then smaller key.
func ByValue[T any](value func(T) float64, key func(T) string) func(a, b T) int {
	return func(a, b T) int {
		if c := cmp.Compare(value(b), value(a)); c != 0 {
			return c
		}
		return cmp.Compare(key(a), key(b))
	}
}
