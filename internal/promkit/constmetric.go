package promkit

import (
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// LabelValue makes a label value from the outside world (a database, table,
// file, client or task name) valid UTF-8: every invalid byte sequence becomes
// U+FFFD. A valid value is returned unchanged.
func LabelValue(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// labelValues applies LabelValue, copying only when a value changes.
func labelValues(values []string) []string {
	out := values
	for i, v := range values {
		if utf8.ValidString(v) {
			continue
		}
		if &out[0] == &values[0] {
			out = append([]string(nil), values...)
		}
		out[i] = LabelValue(v)
	}
	return out
}

// ConstMetric makes a const metric (prometheus.NewConstMetric) from label
// values of the outside world without ever panicking: they are made valid
// UTF-8, and any other error (a wrong number of values) gives an invalid
// metric, which the exposition drops and counts in
// <ns>_exporter_scrape_errors_total.
func ConstMetric(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(d, t, v, labelValues(labels)...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}

// ConstHistogram is ConstMetric for a histogram.
func ConstHistogram(d *prometheus.Desc, count uint64, sum float64, buckets map[float64]uint64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstHistogram(d, count, sum, buckets, labelValues(labels)...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}
