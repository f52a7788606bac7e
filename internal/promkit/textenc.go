package promkit

import (
	"math"
	"strconv"

	dto "github.com/prometheus/client_model/go"
)

// appendText appends mf in the Prometheus text format 0.0.4, byte for byte
// what expfmt.MetricFamilyToText writes, for a family whose names are all in
// the legacy character set (the caller knows: needsEscaping and checkLabels
// found none outside it). It skips expfmt's per-sample name validation,
// string replacers and small writes, which took a fifth of an exporter's
// scrape. ok is false, with b unchanged, for a family expfmt would refuse
// (no series, no name, a series without its type's value): the caller then
// lets expfmt report it.
func appendText(b []byte, mf *dto.MetricFamily) (_ []byte, ok bool) {
	name := mf.GetName()
	if len(mf.Metric) == 0 || name == "" {
		return b, false
	}
	start := len(b)
	if mf.Help != nil {
		b = append(b, "# HELP "...)
		b = append(b, name...)
		b = append(b, ' ')
		b = appendEscaped(b, *mf.Help, false)
		b = append(b, '\n')
	}
	b = append(b, "# TYPE "...)
	b = append(b, name...)
	typ := mf.GetType()
	switch typ {
	case dto.MetricType_COUNTER:
		b = append(b, " counter\n"...)
	case dto.MetricType_GAUGE:
		b = append(b, " gauge\n"...)
	case dto.MetricType_SUMMARY:
		b = append(b, " summary\n"...)
	case dto.MetricType_UNTYPED:
		b = append(b, " untyped\n"...)
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		b = append(b, " histogram\n"...)
	default:
		return b[:start], false
	}
	for _, m := range mf.Metric {
		switch typ {
		case dto.MetricType_COUNTER:
			if m.Counter == nil {
				return b[:start], false
			}
			b = appendSample(b, name, "", m, "", 0, m.Counter.GetValue())
		case dto.MetricType_GAUGE:
			if m.Gauge == nil {
				return b[:start], false
			}
			b = appendSample(b, name, "", m, "", 0, m.Gauge.GetValue())
		case dto.MetricType_UNTYPED:
			if m.Untyped == nil {
				return b[:start], false
			}
			b = appendSample(b, name, "", m, "", 0, m.Untyped.GetValue())
		case dto.MetricType_SUMMARY:
			if m.Summary == nil {
				return b[:start], false
			}
			for _, q := range m.Summary.Quantile {
				b = appendSample(b, name, "", m, "quantile", q.GetQuantile(), q.GetValue())
			}
			b = appendSample(b, name, "_sum", m, "", 0, m.Summary.GetSampleSum())
			b = appendSample(b, name, "_count", m, "", 0, float64(m.Summary.GetSampleCount()))
		default: // the histograms
			h := m.Histogram
			if h == nil {
				return b[:start], false
			}
			infSeen := false
			for _, bk := range h.Bucket {
				v := bk.GetCumulativeCountFloat()
				if v == 0 {
					v = float64(bk.GetCumulativeCount())
				}
				b = appendSample(b, name, "_bucket", m, "le", bk.GetUpperBound(), v)
				infSeen = infSeen || math.IsInf(bk.GetUpperBound(), +1)
			}
			count := h.GetSampleCountFloat()
			if count == 0 {
				count = float64(h.GetSampleCount())
			}
			if !infSeen {
				b = appendSample(b, name, "_bucket", m, "le", math.Inf(+1), count)
			}
			b = appendSample(b, name, "_sum", m, "", 0, h.GetSampleSum())
			b = appendSample(b, name, "_count", m, "", 0, count)
		}
	}
	return b, true
}

// appendSample appends one line: name+suffix, the labels (and extra="v" for
// a quantile or bucket bound), the value and the timestamp if there is one.
func appendSample(b []byte, name, suffix string, m *dto.Metric, extra string, extraValue, value float64) []byte {
	b = append(b, name...)
	b = append(b, suffix...)
	if len(m.Label) > 0 || extra != "" {
		sep := byte('{')
		for _, lp := range m.Label {
			b = append(b, sep)
			b = append(b, lp.GetName()...)
			b = append(b, '=', '"')
			b = appendEscaped(b, lp.GetValue(), true)
			b = append(b, '"')
			sep = ','
		}
		if extra != "" {
			b = append(b, sep)
			b = append(b, extra...)
			b = append(b, '=', '"')
			b = appendFloat(b, extraValue)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, value)
	if m.TimestampMs != nil {
		b = append(b, ' ')
		b = strconv.AppendInt(b, *m.TimestampMs, 10)
	}
	return append(b, '\n')
}

// appendEscaped escapes \ and newline, and " too in a label value, as the
// text format wants; most strings need none and are copied whole.
func appendEscaped(b []byte, s string, quote bool) []byte {
	i := 0
	for ; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == '\n' || c == '"' && quote {
			break
		}
	}
	if i == len(s) {
		return append(b, s...)
	}
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '"' && quote:
			b = append(b, '\\', '"')
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat formats a value as expfmt does.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case f == 1:
		return append(b, '1')
	case f == 0:
		return append(b, '0')
	case f == -1:
		return append(b, '-', '1')
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}
