package promkit

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
)

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

// exposition groups the metrics of one scrape into families, the way
// prometheus.Registry.Gather does, without its per-series channel hand-off,
// hashing and second pass in Gatherers: a series that would make the
// registry complain is dropped and counted, and the rest is served.
type exposition struct {
	byName   map[string]*family
	fams     []*family
	dropped  [numDropReasons]int
	firstErr error
}

type family struct {
	name, help string
	typ        dto.MetricType
	metrics    []*dto.Metric
	// normalized: metrics are sorted and free of duplicates.
	normalized bool
	// escape: a label name is outside the legacy character set, so the
	// exposition may have to escape it (the family name is checked apart).
	escape bool
}

func newExposition() *exposition {
	return &exposition{byName: map[string]*family{}}
}

// drop counts n series dropped for r; the first drop of a scrape is kept
// for the log line (only that one is formatted).
func (e *exposition) drop(r dropReason, n int, format string, args ...any) {
	e.dropped[r] += n
	if e.firstErr == nil {
		e.firstErr = fmt.Errorf(format, args...)
	}
}

// total returns the number of series dropped.
func (e *exposition) total() int {
	n := 0
	for _, d := range e.dropped {
		n += d
	}
	return n
}

// addMetrics writes each metric to its dto form and files it under its
// family. Consecutive metrics of one Desc (the usual case) share one cache
// lookup and one family lookup.
//
// The dto.Metrics are written into slab, which must hold len(metrics) zero
// values.
func (e *exposition) addMetrics(metrics []prometheus.Metric, descs *descCache, slab []dto.Metric) {
	var (
		lastDesc *prometheus.Desc
		info     descInfo
		fam      *family
		// Label names of fam's series already checked: series of one Desc
		// repeat them, and each distinct one is checked once.
		checked []string
	)
	for i, m := range metrics {
		if m == nil {
			e.drop(dropInvalid, 1, "nil metric")
			continue
		}
		dm := &slab[i]
		if d := m.Desc(); d != lastDesc || d == nil {
			var known bool
			lastDesc, fam = d, nil
			if info, known = descs.lookup(d, m); !known {
				// m could not tell its family; the next metric of d is asked.
				lastDesc = nil
				if err := m.Write(dm); err != nil {
					e.drop(dropWrite, 1, "writing a series: %w", err)
				} else {
					e.drop(dropInvalid, 1, "%w", info.err)
				}
				continue
			}
		}
		if info.err != nil {
			e.drop(dropInvalid, 1, "%w", info.err)
			continue
		}
		if err := m.Write(dm); err != nil {
			e.drop(dropWrite, 1, "writing a series of %s: %w", info.name, err)
			continue
		}
		typ, ok := valueType(dm)
		if !ok {
			e.drop(dropInvalid, 1, "a series of %s has no value", info.name)
			continue
		}
		if fam == nil || fam.typ != typ {
			// The family is made before the labels are checked, as the
			// registry does: the first series of a name sets its type.
			if fam = e.family(info.name, info.help, typ, 1); fam == nil {
				continue
			}
			checked = checked[:0]
		}
		if err := checkLabels(dm, typ, &checked, &fam.escape); err != nil {
			e.drop(dropInvalid, 1, "a series of %s: %w", info.name, err)
			continue
		}
		fam.metrics = append(fam.metrics, dm)
		fam.normalized = false
	}
}

// addFamilies merges gathered families (the daemon's own registry), which a
// Registry has already checked, sorted and deduplicated.
func (e *exposition) addFamilies(mfs []*dto.MetricFamily) {
	for _, mf := range mfs {
		if len(mf.Metric) == 0 {
			continue
		}
		_, existed := e.byName[mf.GetName()]
		fam := e.family(mf.GetName(), mf.GetHelp(), mf.GetType(), len(mf.Metric))
		if fam == nil {
			continue
		}
		fam.metrics = append(fam.metrics, mf.Metric...)
		fam.normalized = !existed
		fam.escape = fam.escape || needsEscaping(mf)
	}
}

// family returns the family called name, creating it if it is new. It
// returns nil, and drops n series, when the name was first seen with another
// type or help, or collides with a summary's or histogram's own series.
func (e *exposition) family(name, help string, typ dto.MetricType, n int) *family {
	if f, ok := e.byName[name]; ok {
		switch {
		case f.typ != typ:
			e.drop(dropConflict, n, "%s came as %s and as %s: keeping the %s", name, f.typ, typ, f.typ)
			return nil
		case f.help != help:
			e.drop(dropConflict, n, "%s came with help %q and %q: keeping the first", name, f.help, help)
			return nil
		}
		return f
	}
	if err := e.suffixCollision(name, typ); err != nil {
		e.drop(dropConflict, n, "%w", err)
		return nil
	}
	f := &family{name: name, help: help, typ: typ, escape: !model.LegacyValidation.IsValidMetricName(name)}
	e.byName[name] = f
	e.fams = append(e.fams, f)
	return f
}

// suffixCollision reports a name whose series would clash with a summary's or
// histogram's _count, _sum or _bucket series in the text format, as the
// registry does.
func (e *exposition) suffixCollision(name string, typ dto.MetricType) error {
	for _, suffix := range []string{"_count", "_sum", "_bucket"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		if f, ok := e.byName[base]; ok &&
			(f.typ == dto.MetricType_HISTOGRAM || f.typ == dto.MetricType_SUMMARY && suffix != "_bucket") {
			return fmt.Errorf("%s collides with the %s %s", name, strings.ToLower(f.typ.String()), base)
		}
	}
	if typ == dto.MetricType_SUMMARY || typ == dto.MetricType_HISTOGRAM {
		for _, suffix := range []string{"_count", "_sum", "_bucket"} {
			if suffix == "_bucket" && typ == dto.MetricType_SUMMARY {
				continue
			}
			if _, ok := e.byName[name+suffix]; ok {
				return fmt.Errorf("%s %s collides with %s", strings.ToLower(typ.String()), name, name+suffix)
			}
		}
	}
	return nil
}

// normalize sorts each family's series as the registry does and drops exact
// duplicates (same labels and timestamp), keeping the first.
func (e *exposition) normalize() {
	for _, f := range e.fams {
		if f.normalized {
			continue
		}
		f.normalized = true
		ms := f.metrics
		if isStrictlySorted(ms) {
			continue
		}
		sortStable(ms)
		out := ms[:1]
		for _, m := range ms[1:] {
			if compareMetrics(out[len(out)-1], m) == 0 {
				e.drop(dropDuplicate, 1, "%s: series %s collected twice: keeping the first", f.name, labelSet(m.Label))
				continue
			}
			out = append(out, m)
		}
		clear(ms[len(out):])
		f.metrics = out
	}
}

// families returns the non-empty families sorted by name, normalized, and
// for each whether a name in it may need escaping.
func (e *exposition) families() (fams []*dto.MetricFamily, escape []bool) {
	e.normalize()
	slices.SortFunc(e.fams, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	fams, escape = make([]*dto.MetricFamily, 0, len(e.fams)), make([]bool, 0, len(e.fams))
	for _, f := range e.fams {
		if len(f.metrics) == 0 {
			continue
		}
		// No Unit, as prometheus.Gatherers (the old path) had none: an
		// OpenMetrics UNIT that is not the name's suffix fails the scrape.
		mf := &dto.MetricFamily{Name: &f.name, Help: &f.help, Type: f.typ.Enum(), Metric: f.metrics}
		fams, escape = append(fams, mf), append(escape, f.escape)
	}
	return fams, escape
}

// valueType gives a written metric's type from the field that is set, in the
// order the registry looks at them.
func valueType(m *dto.Metric) (dto.MetricType, bool) {
	switch {
	case m.Gauge != nil:
		return dto.MetricType_GAUGE, true
	case m.Counter != nil:
		return dto.MetricType_COUNTER, true
	case m.Summary != nil:
		return dto.MetricType_SUMMARY, true
	case m.Untyped != nil:
		return dto.MetricType_UNTYPED, true
	case m.Histogram != nil:
		return dto.MetricType_HISTOGRAM, true
	}
	return 0, false
}

// checkLabels holds a series to the registry's rules: valid, distinct label
// names sorted by name, UTF-8 values, no quantile label on a summary. Labels
// out of order are sorted on a copy: the slice may be shared with the metric.
// Names equal to the one at the same place in checked passed before; the
// others are checked and recorded there, and set *escape when they are
// outside the legacy character set.
func checkLabels(m *dto.Metric, typ dto.MetricType, checked *[]string, escape *bool) error {
	for i, lp := range m.Label {
		if i > 0 && lp.GetName() <= m.Label[i-1].GetName() {
			sorted := slices.Clone(m.Label)
			slices.SortFunc(sorted, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
			m.Label = sorted
			break
		}
	}
	for i, lp := range m.Label {
		name := lp.GetName()
		switch {
		case i > 0 && name == m.Label[i-1].GetName():
			return fmt.Errorf("label %q appears twice", name)
		case !utf8.ValidString(lp.GetValue()):
			return fmt.Errorf("label %q has a value that is not UTF-8", name)
		case i < len(*checked) && (*checked)[i] == name:
			continue
		}
		switch {
		case name == "" || !utf8.ValidString(name) || strings.HasPrefix(name, "__"):
			return fmt.Errorf("invalid label name %q", name)
		case typ == dto.MetricType_SUMMARY && name == "quantile":
			return errors.New("a summary must not have a quantile label")
		}
		if !model.LegacyValidation.IsValidMetricName(name) {
			*escape = true
		}
		if i < len(*checked) {
			(*checked)[i] = name
		} else {
			*checked = append(*checked, name)
		}
	}
	return nil
}

// compareMetrics orders series as the registry does (by label values, then
// timestamp, missing last), with label names as a tie-break so that series of
// different label names never compare equal: equal means duplicate.
func compareMetrics(a, b *dto.Metric) int {
	if c := cmp.Compare(len(a.Label), len(b.Label)); c != 0 {
		return c
	}
	for i, lp := range a.Label {
		if c := strings.Compare(lp.GetValue(), b.Label[i].GetValue()); c != 0 {
			return c
		}
	}
	for i, lp := range a.Label {
		if c := strings.Compare(lp.GetName(), b.Label[i].GetName()); c != 0 {
			return c
		}
	}
	switch {
	case a.TimestampMs == nil && b.TimestampMs == nil:
		return 0
	case a.TimestampMs == nil:
		return 1
	case b.TimestampMs == nil:
		return -1
	}
	return cmp.Compare(a.GetTimestampMs(), b.GetTimestampMs())
}

// sortStable sorts series with compareMetrics, keeping the order of equal
// ones (so the first of duplicates stays first). pdqsort with the position as
// a tie-break is much faster here than slices.SortStableFunc's merge sort.
func sortStable(ms []*dto.Metric) {
	type positioned struct {
		m *dto.Metric
		i int
	}
	ps := make([]positioned, len(ms))
	for i, m := range ms {
		ps[i] = positioned{m, i}
	}
	slices.SortFunc(ps, func(a, b positioned) int {
		if c := compareMetrics(a.m, b.m); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	for i, p := range ps {
		ms[i] = p.m
	}
}

func isStrictlySorted(ms []*dto.Metric) bool {
	for i := 1; i < len(ms); i++ {
		if compareMetrics(ms[i-1], ms[i]) >= 0 {
			return false
		}
	}
	return true
}

// labelSet prints labels as {a="x",b="y"}, only when a log line needs it.
type labelSet []*dto.LabelPair

func (ls labelSet) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, lp := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", lp.GetName(), lp.GetValue())
	}
	b.WriteByte('}')
	return b.String()
}
