package promkit

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// oldServe is the exposition path promkit had before: a fresh registry per
// scrape beside the own one, served by promhttp.
func oldServe(w http.ResponseWriter, r *http.Request, metrics []prometheus.Metric, own prometheus.Gatherer, openMetrics bool) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(Metrics(metrics))
	gatherers := prometheus.Gatherers{reg}
	if own != nil {
		gatherers = append(gatherers, own)
	}
	promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: openMetrics,
	}).ServeHTTP(w, r)
}

type response struct {
	header http.Header
	body   []byte
}

func request(header http.Header) *http.Request {
	r := httptest.NewRequest("GET", "/metrics", nil)
	for k, v := range header {
		r.Header[k] = v
	}
	return r
}

func served(t testing.TB, rec *httptest.ResponseRecorder) response {
	t.Helper()
	res := rec.Result()
	body := rec.Body.Bytes()
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("reading gzip: %v", err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatalf("reading gzip: %v", err)
		}
	}
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	return response{header: res.Header, body: body}
}

func serveNew(t testing.TB, h *ScrapeHandler, metrics []prometheus.Metric, header http.Header) response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.serveMetrics(rec, request(header), metrics)
	return served(t, rec)
}

func serveOld(t testing.TB, metrics []prometheus.Metric, own prometheus.Gatherer, openMetrics bool, header http.Header) response {
	t.Helper()
	rec := httptest.NewRecorder()
	oldServe(rec, request(header), metrics, own, openMetrics)
	return served(t, rec)
}

// textLines turns an exposition in any format into sorted text-format lines.
func textLines(t testing.TB, res response) []string {
	t.Helper()
	text := res.body
	if format := expfmt.ResponseFormat(res.header); format.FormatType() == expfmt.TypeProtoDelim {
		var buf bytes.Buffer
		dec := expfmt.NewDecoder(bytes.NewReader(res.body), format)
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("decoding protobuf: %v", err)
			}
			if _, err := expfmt.MetricFamilyToText(&buf, &mf); err != nil {
				t.Fatalf("re-encoding protobuf: %v", err)
			}
		}
		text = buf.Bytes()
	}
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	slices.Sort(lines)
	return lines
}

func desc(name, help string, labels []string, constLabels prometheus.Labels) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, constLabels)
}

func gauge(d *prometheus.Desc, v float64, lvs ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lvs...)
}

func counter(d *prometheus.Desc, v float64, lvs ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, lvs...)
}

// metricSet is one case of the comparison with the old path.
type metricSet struct {
	name    string
	metrics func() []prometheus.Metric
	own     func() prometheus.Gatherer
}

func comparisonSets() []metricSet {
	ownRegistry := func() prometheus.Gatherer {
		reg := prometheus.NewRegistry()
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: "t_exporter_work_total", Help: "Work done."})
		c.Add(3)
		unused := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "t_exporter_unused_total", Help: "Never touched."}, []string{"x"})
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "t_exporter_targets", Help: "Targets."}, []string{"kind"})
		g.WithLabelValues("b").Set(2)
		g.WithLabelValues("a").Set(1)
		reg.MustRegister(c, unused, g)
		return reg
	}
	return []metricSet{
		{name: "gauges and counters, out of order", metrics: func() []prometheus.Metric {
			g := desc("t_rows", "Live rows.", []string{"datname", "relname"}, nil)
			c := desc("t_scans_total", "Sequential scans.", []string{"datname", "relname"}, nil)
			one := desc("t_up", "Whether the target is up.", nil, nil)
			return []prometheus.Metric{
				gauge(g, 3, "db2", "b"), counter(c, 1e9, "db2", "b"), gauge(g, 1, "db1", "z"),
				gauge(one, 1), gauge(g, 2, "db1", "a"), counter(c, 0.5, "db1", "a"),
				gauge(g, math.NaN(), "db3", "nan"), gauge(g, math.Inf(1), "db3", "inf"), gauge(g, math.Inf(-1), "db3", "-inf"),
			}
		}},
		{name: "histograms and summaries", metrics: func() []prometheus.Metric {
			h := desc("t_latency_seconds", "Latency.", []string{"op"}, nil)
			s := desc("t_size_bytes", "Sizes.", []string{"op"}, nil)
			live := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "t_live_seconds", Help: "A live histogram.", Buckets: []float64{0.1, 1}})
			live.Observe(0.5)
			live.Observe(3)
			liveSum := prometheus.NewSummary(prometheus.SummaryOpts{Name: "t_live_summary", Help: "A live summary.", Objectives: map[float64]float64{0.5: 0.05}})
			liveSum.Observe(7)
			return []prometheus.Metric{
				prometheus.MustNewConstHistogram(h, 10, 4.5, map[float64]uint64{0.1: 2, 1: 7, 5: 10}, "read"),
				prometheus.MustNewConstHistogram(h, 0, 0, map[float64]uint64{0.1: 0, 1: 0, 5: 0}, "write"),
				prometheus.MustNewConstSummary(s, 3, 300, map[float64]float64{0.5: 90, 0.99: 200}, "read"),
				prometheus.MustNewConstSummary(s, 0, 0, nil, "write"),
				live, liveSum,
			}
		}},
		{name: "const labels", metrics: func() []prometheus.Metric {
			d := desc("t_info", "Info.", []string{"version"}, prometheus.Labels{"target": "primary", "az": "a"})
			withUnit := prometheus.V2.NewDesc("t_memory_bytes", "With a unit.", prometheus.UnconstrainedLabels{"kind"},
				prometheus.Labels{"target": "primary"}, prometheus.WithUnit("bytes"))
			return []prometheus.Metric{gauge(d, 1, "15.4"), gauge(withUnit, 1024, "rss")}
		}},
		{name: "label values and help needing escaping", metrics: func() []prometheus.Metric {
			d := desc("t_query", "Help with a \\ backslash,\na newline and \"quotes\".", []string{"query"}, nil)
			return []prometheus.Metric{
				gauge(d, 1, `SELECT "x" FROM t WHERE a = '\n'`), gauge(d, 2, "line one\nline two"),
				gauge(d, 3, `back\slash`), gauge(d, 4, ""),
			}
		}},
		{name: "UTF-8", metrics: func() []prometheus.Metric {
			d := desc("t_city", "Städte – cities ✓.", []string{"name"}, nil)
			dotted := desc("t.dotted.name", "A UTF-8 metric name.", []string{"label.with.dots"}, nil)
			return []prometheus.Metric{gauge(d, 1, "München"), gauge(d, 2, "東京"), gauge(d, 3, "emoji 🚀"), gauge(dotted, 1, "x")}
		}},
		{name: "empty families", own: ownRegistry, metrics: func() []prometheus.Metric {
			return []prometheus.Metric{} // a Desc with no series yields nothing
		}},
		{name: "untyped, timestamps, exemplars", metrics: func() []prometheus.Metric {
			u := desc("t_untyped", "Untyped.", []string{"k"}, nil)
			c := desc("t_events_total", "Events.", nil, nil)
			ts := time.Unix(1700000000, 123e6)
			ex, err := prometheus.NewMetricWithExemplars(counter(c, 5), prometheus.Exemplar{Value: 1, Labels: prometheus.Labels{"trace_id": "abc"}, Timestamp: ts})
			if err != nil {
				panic(err)
			}
			return []prometheus.Metric{
				prometheus.MustNewConstMetric(u, prometheus.UntypedValue, 1, "a"),
				prometheus.NewMetricWithTimestamp(ts, prometheus.MustNewConstMetric(u, prometheus.UntypedValue, 2, "b")),
				ex,
			}
		}},
		{name: "merged with the own registry", own: ownRegistry, metrics: func() []prometheus.Metric {
			shared := desc("t_exporter_targets", "Targets.", []string{"kind"}, nil)
			return []prometheus.Metric{gauge(shared, 9, "c"), gauge(desc("t_up", "Up.", nil, nil), 1)}
		}},
		{name: "what the registry rejects", metrics: func() []prometheus.Metric {
			d := desc("t_dup", "Duplicates.", []string{"k"}, nil)
			sameNameOtherHelp := desc("t_dup", "Other help.", []string{"k"}, nil)
			hist := desc("t_h", "A histogram.", nil, nil)
			countGauge := desc("t_h_count", "Collides with the histogram's count.", nil, nil)
			return []prometheus.Metric{
				gauge(d, 1, "a"), gauge(d, 2, "a"), counter(d, 3, "b"), gauge(sameNameOtherHelp, 4, "c"),
				gauge(d, 5, "d"),
				prometheus.NewInvalidMetric(d, errors.New("view unreadable")),
				prometheus.NewInvalidMetric(prometheus.NewInvalidDesc(errors.New("bad desc")), errors.New("bad")),
				prometheus.MustNewConstHistogram(hist, 1, 1, map[float64]uint64{1: 1}),
				gauge(countGauge, 1),
			}
		}},
		{name: "a realistic scrape", own: ownRegistry, metrics: func() []prometheus.Metric { return benchMetrics(500) }},
	}
}

var formats = []struct {
	name   string
	header http.Header
}{
	{"no Accept", nil},
	{"text 0.0.4", http.Header{"Accept": {"text/plain;version=0.0.4;q=0.9,*/*;q=0.1"}}},
	{"Prometheus 3 default", http.Header{"Accept": {"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"}}},
	{"OpenMetrics 1.0.0", http.Header{"Accept": {"application/openmetrics-text;version=1.0.0"}}},
	{"protobuf", http.Header{"Accept": {"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3"}}},
	{"gzip", http.Header{"Accept-Encoding": {"gzip"}}},
}

// TestExpositionMatchesPromhttp holds the direct path to the old one: on the
// same metrics, in every format, the same lines (order aside).
func TestExpositionMatchesPromhttp(t *testing.T) {
	for _, set := range comparisonSets() {
		for _, f := range formats {
			t.Run(set.name+"/"+f.name, func(t *testing.T) {
				metrics := set.metrics()
				var own prometheus.Gatherer
				if set.own != nil {
					own = set.own()
				}
				h := &ScrapeHandler{Own: own}
				got := serveNew(t, h, metrics, f.header)
				want := serveOld(t, metrics, own, false, f.header)
				if g, w := got.header.Get("Content-Type"), want.header.Get("Content-Type"); g != w {
					t.Errorf("Content-Type = %q, the old path says %q", g, w)
				}
				if g, w := got.header.Get("Content-Encoding"), want.header.Get("Content-Encoding"); g != w {
					t.Errorf("Content-Encoding = %q, the old path says %q", g, w)
				}
				gl, wl := textLines(t, got), textLines(t, want)
				if !slices.Equal(gl, wl) {
					t.Errorf("expositions differ\n--- new\n%s\n--- old\n%s", strings.Join(gl, "\n"), strings.Join(wl, "\n"))
				}
			})
		}
	}
}

// TestExpositionLintsClean runs promtool over the direct path's text output.
func TestExpositionLintsClean(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewScrapeErrors("t"))
	h := &ScrapeHandler{Own: reg}
	got := serveNew(t, h, benchMetrics(300), nil)
	// The bench set keeps postgres_exporter's counter names.
	testkit.CheckMetrics(t, got.body, "pg_stat_user_tables_idx_scan", "pg_stat_user_tables_idx_tup_fetch",
		"pg_stat_user_tables_n_tup_del", "pg_stat_user_tables_n_tup_ins", "pg_stat_user_tables_n_tup_upd",
		"pg_stat_user_tables_seq_scan", "pg_stat_user_tables_seq_tup_read")
}

// TestSeriesKeptInTheOldOrder checks that series come sorted by label values
// inside each family and families by name, as the registry sorted them.
func TestSeriesKeptInTheOldOrder(t *testing.T) {
	metrics := comparisonSets()[0].metrics()
	got := serveNew(t, &ScrapeHandler{}, metrics, nil)
	want := serveOld(t, metrics, nil, false, nil)
	if !bytes.Equal(got.body, want.body) {
		t.Fatalf("order differs\n--- new\n%s\n--- old\n%s", got.body, want.body)
	}
}

func errorsByReason(t *testing.T, c *prometheus.CounterVec) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for r := range numDropReasons {
		var m dto.Metric
		if err := c.WithLabelValues(r.String()).Write(&m); err != nil {
			t.Fatal(err)
		}
		out[r.String()] = m.GetCounter().GetValue()
	}
	return out
}

func TestDuplicateSeriesKeepTheFirstAndAreCounted(t *testing.T) {
	d := desc("t_v", "V.", []string{"k"}, nil)
	errs := NewScrapeErrors("t")
	reg := prometheus.NewRegistry()
	reg.MustRegister(errs)
	h := &ScrapeHandler{Errors: errs, Own: reg}
	got := serveNew(t, h, []prometheus.Metric{gauge(d, 1, "a"), gauge(d, 2, "b"), gauge(d, 3, "a"), gauge(d, 4, "a")}, nil)
	fams := testkit.Families(t, got.body)
	if v := testkit.MustValue(t, fams, "t_v", map[string]string{"k": "a"}); v != 1 {
		t.Errorf("t_v{k=a} = %v, want the first value 1", v)
	}
	if n := len(fams["t_v"].GetMetric()); n != 2 {
		t.Errorf("t_v has %d series, want 2", n)
	}
	// Duplicates are found before the own registry is gathered: this very
	// scrape shows them.
	if v := testkit.MustValue(t, fams, "t_exporter_scrape_errors_total", map[string]string{"reason": "duplicate"}); v != 2 {
		t.Errorf("scrape_errors_total{reason=duplicate} = %v, want 2", v)
	}
	if v := testkit.MustValue(t, fams, "t_exporter_scrape_errors_total", map[string]string{"reason": "write"}); v != 0 {
		t.Errorf("scrape_errors_total{reason=write} = %v, want 0", v)
	}
}

func TestConflictingTypesAndHelpKeepTheFirst(t *testing.T) {
	first := desc("t_x", "First help.", []string{"k"}, nil)
	otherHelp := desc("t_x", "Second help.", []string{"k"}, nil)
	errs := NewScrapeErrors("t")
	h := &ScrapeHandler{Errors: errs}
	got := serveNew(t, h, []prometheus.Metric{
		gauge(first, 1, "a"), counter(first, 2, "b"), gauge(otherHelp, 3, "c"), gauge(first, 4, "d"),
	}, nil)
	testkit.CheckMetrics(t, got.body)
	fams := testkit.Families(t, got.body)
	f := fams["t_x"]
	if f.GetType() != dto.MetricType_GAUGE || f.GetHelp() != "First help." || len(f.GetMetric()) != 2 {
		t.Fatalf("t_x = %v, want the gauge with the first help and series a, d", f)
	}
	if got := errorsByReason(t, errs); got["conflict"] != 2 {
		t.Errorf("errors = %v, want 2 conflicts", got)
	}

	// The same name in the own registry with another type: the scrape's wins.
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "t_x", Help: "First help."})
	reg.MustRegister(c)
	h = &ScrapeHandler{Errors: errs, Own: reg}
	fams = testkit.Families(t, serveNew(t, h, []prometheus.Metric{gauge(first, 1, "a")}, nil).body)
	if fams["t_x"].GetType() != dto.MetricType_GAUGE || len(fams["t_x"].GetMetric()) != 1 {
		t.Fatalf("t_x = %v", fams["t_x"])
	}
	if got := errorsByReason(t, errs); got["conflict"] != 3 {
		t.Errorf("errors = %v, want 3 conflicts", got)
	}
}

func TestSuffixCollisionsAreDropped(t *testing.T) {
	hist := desc("t_h", "A histogram.", nil, nil)
	sum := desc("t_s", "A summary.", nil, nil)
	errs := NewScrapeErrors("t")
	h := &ScrapeHandler{Errors: errs}
	got := serveNew(t, h, []prometheus.Metric{
		prometheus.MustNewConstHistogram(hist, 1, 1, map[float64]uint64{1: 1}),
		gauge(desc("t_h_bucket", "Collides.", nil, nil), 1),
		gauge(desc("t_s_sum", "Collides.", nil, nil), 1),
		prometheus.MustNewConstSummary(sum, 1, 1, nil),
		gauge(desc("t_s_bucket", "Does not collide with a summary.", nil, nil), 1),
	}, nil)
	fams := testkit.Families(t, got.body)
	if _, ok := fams["t_s"]; ok {
		t.Error("the summary t_s came after the gauge t_s_sum and should be dropped")
	}
	if _, ok := fams["t_s_bucket"]; !ok {
		t.Error("t_s_bucket is no summary series and should stay")
	}
	if got := errorsByReason(t, errs); got["conflict"] != 2 {
		t.Errorf("errors = %v, want 2 conflicts", got)
	}
}

// failingMetric writes a value and then fails.
type failingMetric struct{ d *prometheus.Desc }

func (m failingMetric) Desc() *prometheus.Desc { return m.d }
func (m failingMetric) Write(out *dto.Metric) error {
	out.Gauge = &dto.Gauge{Value: new(float64)}
	return errors.New("connection reset")
}

// badMetric writes whatever it was given.
type badMetric struct {
	d   *prometheus.Desc
	out *dto.Metric
}

func (m badMetric) Desc() *prometheus.Desc { return m.d }
func (m badMetric) Write(out *dto.Metric) error {
	out.Label, out.Gauge, out.Summary = m.out.Label, m.out.Gauge, m.out.Summary
	return nil
}

func label(name, value string) *dto.LabelPair { return &dto.LabelPair{Name: &name, Value: &value} }

func TestBadSeriesAreDroppedAndCountedNever500(t *testing.T) {
	d := desc("t_v", "V.", []string{"k"}, nil)
	one := 1.0
	errs := NewScrapeErrors("t")
	var logs bytes.Buffer
	h := &ScrapeHandler{Errors: errs, Logger: slogTo(&logs)}
	metrics := []prometheus.Metric{
		gauge(d, 1, "good"),
		failingMetric{d},
		prometheus.NewInvalidMetric(d, errors.New("view unreadable")),
		prometheus.NewInvalidMetric(prometheus.NewInvalidDesc(errors.New("bad desc")), errors.New("bad")),
		nil,
		badMetric{d, &dto.Metric{}}, // no value
		badMetric{d, &dto.Metric{Label: []*dto.LabelPair{label("k", "a"), label("k", "b")}, Gauge: &dto.Gauge{Value: &one}}},
		// Names already checked at their places must not hide a repeat.
		badMetric{d, &dto.Metric{Label: []*dto.LabelPair{label("a", "1"), label("k", "2")}, Gauge: &dto.Gauge{Value: &one}}},
		badMetric{d, &dto.Metric{Label: []*dto.LabelPair{label("k", "1"), label("k", "2")}, Gauge: &dto.Gauge{Value: &one}}},
		badMetric{d, &dto.Metric{Label: []*dto.LabelPair{label("__k", "a")}, Gauge: &dto.Gauge{Value: &one}}},
		badMetric{d, &dto.Metric{Label: []*dto.LabelPair{label("k", "\xff")}, Gauge: &dto.Gauge{Value: &one}}},
		badMetric{desc("t_s", "S.", []string{"quantile"}, nil), &dto.Metric{Label: []*dto.LabelPair{label("quantile", "1")}, Summary: &dto.Summary{}}},
		// Labels out of order are fine: they get sorted.
		badMetric{d, &dto.Metric{Label: []*dto.LabelPair{label("z", "1"), label("k", "sorted")}, Gauge: &dto.Gauge{Value: &one}}},
	}
	got := serveNew(t, h, metrics, nil)
	fams := testkit.Families(t, got.body)
	if n := len(fams["t_v"].GetMetric()); n != 3 {
		t.Errorf("t_v has %d series, want the good one, {a,k} and the sorted one:\n%s", n, got.body)
	}
	if v, ok := testkit.Value(fams, "t_v", map[string]string{"k": "sorted", "z": "1"}); !ok || v != 1 {
		t.Errorf("series with labels out of order lost:\n%s", got.body)
	}
	want := map[string]float64{"write": 2, "invalid": 8, "conflict": 0, "duplicate": 0, "gather": 0}
	if got := errorsByReason(t, errs); !mapsEqual(got, want) {
		t.Errorf("errors = %v, want %v", got, want)
	}
	if n := strings.Count(logs.String(), "left series out"); n != 1 {
		t.Errorf("logged %d lines for one scrape, want 1:\n%s", n, logs.String())
	}

	// Nothing at all to serve is still a 200.
	rec := httptest.NewRecorder()
	h.serveMetrics(rec, request(nil), []prometheus.Metric{failingMetric{d}})
	if rec.Code != 200 {
		t.Fatalf("a scrape whose every series failed answered %d", rec.Code)
	}
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func mapsEqual(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// brokenGatherer returns one family and an error, as a registry whose
// process collector cannot read /proc would.
type brokenGatherer struct{}

func (brokenGatherer) Gather() ([]*dto.MetricFamily, error) {
	name, help, v := "t_exporter_ok", "Fine.", 1.0
	return []*dto.MetricFamily{{Name: &name, Help: &help, Type: dto.MetricType_GAUGE.Enum(),
		Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: &v}}}}}, errors.New("reading /proc: permission denied")
}

func TestOwnRegistryErrorsServeWhatThereIs(t *testing.T) {
	errs := NewScrapeErrors("t")
	h := &ScrapeHandler{Errors: errs, Own: brokenGatherer{}}
	fams := testkit.Families(t, serveNew(t, h, []prometheus.Metric{gauge(desc("t_up", "Up.", nil, nil), 1)}, nil).body)
	testkit.MustValue(t, fams, "t_up", nil)
	testkit.MustValue(t, fams, "t_exporter_ok", nil)
	if got := errorsByReason(t, errs); got["gather"] != 1 {
		t.Errorf("errors = %v, want 1 gather error", got)
	}
}

func TestGzipNegotiation(t *testing.T) {
	metrics := benchMetrics(200)
	plain := serveNew(t, &ScrapeHandler{}, metrics, nil)
	for _, tc := range []struct {
		accept string
		gzip   bool
		// promhttp compares codings case-sensitively; RFC 9110 says they are not.
		promhttpDiffers bool
	}{
		{"", false, false},
		{"gzip", true, false},
		{"GZIP", true, true},
		{"gzip, deflate, br", true, false},
		{"identity;q=0.5, gzip;q=1.0", true, false},
		{"gzip;q=0.5, identity", false, false},
		{"gzip;q=0", false, false},
		{"*", false, false}, // promhttp offers identity first
		{"deflate", false, false},
		{"gzip;q=2", false, false},
	} {
		t.Run(tc.accept, func(t *testing.T) {
			var header http.Header
			if tc.accept != "" {
				header = http.Header{"Accept-Encoding": {tc.accept}}
			}
			rec := httptest.NewRecorder()
			(&ScrapeHandler{}).serveMetrics(rec, request(header), metrics)
			if got := rec.Header().Get("Content-Encoding") == "gzip"; got != tc.gzip {
				t.Fatalf("Accept-Encoding %q: gzip = %v, want %v", tc.accept, got, tc.gzip)
			}
			if tc.gzip && rec.Body.Len() >= len(plain.body)/3 {
				t.Errorf("gzip body is %d bytes for %d plain", rec.Body.Len(), len(plain.body))
			}
			if got := served(t, rec); !bytes.Equal(got.body, plain.body) {
				t.Errorf("the decompressed body differs from the plain one")
			}
			// Same decision as promhttp.
			old := httptest.NewRecorder()
			oldServe(old, request(header), metrics, nil, false)
			if o := old.Header().Get("Content-Encoding") == "gzip"; o != tc.gzip && !tc.promhttpDiffers {
				t.Errorf("promhttp says gzip = %v", o)
			}
		})
	}
}

func TestFormatNegotiation(t *testing.T) {
	d := desc("t_events_total", "Events.", nil, nil)
	metrics := []prometheus.Metric{counter(d, 5)}
	for _, tc := range []struct {
		accept, contentType, contains string
	}{
		{"", "text/plain; version=0.0.4; charset=utf-8; escaping=underscores", "t_events_total 5\n"},
		// OpenMetrics is not offered (as promhttp by default): names stay the incumbents'.
		{"application/openmetrics-text;version=1.0.0", "text/plain; version=0.0.4; charset=utf-8; escaping=underscores", "t_events_total 5\n"},
		{"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=0.0.4;q=0.2",
			"text/plain; version=0.0.4; charset=utf-8; escaping=allow-utf-8", "t_events_total 5\n"},
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
			"application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; escaping=underscores", "t_events_total"},
	} {
		t.Run(tc.accept, func(t *testing.T) {
			var header http.Header
			if tc.accept != "" {
				header = http.Header{"Accept": {tc.accept}}
			}
			got := serveNew(t, &ScrapeHandler{}, metrics, header)
			if ct := got.header.Get("Content-Type"); ct != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", ct, tc.contentType)
			}
			if !strings.Contains(string(got.body), tc.contains) {
				t.Errorf("body lacks %q:\n%s", tc.contains, got.body)
			}
			if vary := got.header.Values("Vary"); !slices.Contains(vary, "Accept") || !slices.Contains(vary, "Accept-Encoding") {
				t.Errorf("Vary = %v", vary)
			}
		})
	}
}

func TestNameFilter(t *testing.T) {
	a, b := desc("t_a", "A.", nil, nil), desc("t_b", "B.", nil, nil)
	rec := httptest.NewRecorder()
	(&ScrapeHandler{}).serveMetrics(rec, httptest.NewRequest("GET", "/metrics?name[]=t_b", nil), []prometheus.Metric{gauge(a, 1), gauge(b, 2)})
	if body := rec.Body.String(); strings.Contains(body, "t_a") || !strings.Contains(body, "t_b 2") {
		t.Fatalf("name[]=t_b served:\n%s", body)
	}
}

func TestDescCacheStaysBounded(t *testing.T) {
	h := &ScrapeHandler{}
	stable := desc("t_stable", "Made once.", nil, nil)
	for i := range 100 {
		// A Desc made per scrape, as a custom query's may be.
		perScrape := desc("t_per_scrape", "Made every scrape.", nil, nil)
		got := serveNew(t, h, []prometheus.Metric{gauge(stable, 1), gauge(perScrape, float64(i))}, nil)
		if !strings.Contains(string(got.body), fmt.Sprintf("t_per_scrape %d\n", i)) {
			t.Fatalf("scrape %d:\n%s", i, got.body)
		}
	}
	// Per-scrape Descs are let go after two generations of scrapes.
	if n := h.descs.len(); n > 2*descScrapesPerGeneration+1 {
		t.Fatalf("after 100 scrapes the desc cache holds %d entries", n)
	}
	h.descs.mu.Lock()
	_, inCur := h.descs.cur[stable]
	_, inOld := h.descs.old[stable]
	ok := inCur || inOld
	h.descs.mu.Unlock()
	if !ok {
		t.Fatal("a Desc used on every scrape fell out of the cache")
	}

	// One scrape with more Descs than a generation holds.
	var many []prometheus.Metric
	for i := range 3 * maxDescGeneration {
		many = append(many, gauge(desc(fmt.Sprintf("t_many_%d", i), "Many.", nil, nil), 1))
	}
	body := serveNew(t, h, many, nil).body
	if n := bytes.Count(body, []byte("# TYPE t_many_")); n != len(many) {
		t.Fatalf("served %d of %d families", n, len(many))
	}
	if n := h.descs.len(); n > 2*maxDescGeneration {
		t.Fatalf("the desc cache holds %d entries, bound is %d", n, 2*maxDescGeneration)
	}
}

// The name and help of a Desc come from a registry gathering one of its
// metrics, whatever they hold; an invalid Desc is an error, and a metric the
// registry refuses alone tells nothing (and is not cached).
func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		d          *prometheus.Desc
		name, help string
	}{
		{desc("a_b", "Plain.", []string{"x"}, prometheus.Labels{"c": "d"}), "a_b", "Plain."},
		{desc("a", "Quotes \" and \\ and\nnewline, unit: \"x\"", nil, nil), "a", "Quotes \" and \\ and\nnewline, unit: \"x\""},
		{desc("ü.名前", "UTF-8 ✓", nil, nil), "ü.名前", "UTF-8 ✓"},
		{desc("a", "", nil, nil), "a", ""},
		{prometheus.V2.NewDesc("t_size_bytes", "With a unit.", prometheus.UnconstrainedLabels(nil), nil, prometheus.WithUnit("bytes")), "t_size_bytes", "With a unit."},
	} {
		lvs := make([]string, 0, 1)
		if tc.name == "a_b" {
			lvs = append(lvs, "v")
		}
		info, ok := describe(tc.d, gauge(tc.d, 1, lvs...))
		if !ok || info.err != nil || info.name != tc.name || info.help != tc.help {
			t.Errorf("describe(%s) = %+v, %v", tc.d, info, ok)
		}
	}
	for _, d := range []*prometheus.Desc{desc("", "x", nil, nil), desc("bad\xff", "x", nil, nil), prometheus.NewInvalidDesc(errors.New("x"))} {
		if info, ok := describe(d, prometheus.NewInvalidMetric(d, errors.New("x"))); !ok || info.err == nil {
			t.Errorf("describe(%s) = %+v, %v; want an error to cache", d, info, ok)
		}
	}
	d := desc("t_v", "V.", []string{"k"}, nil)
	var c descCache
	if _, ok := c.lookup(d, failingMetric{d}); ok || c.len() != 0 {
		t.Errorf("a metric whose Write fails told its Desc (cache %d)", c.len())
	}
	if info, ok := c.lookup(d, gauge(d, 1, "a")); !ok || info.name != "t_v" || c.len() != 1 {
		t.Errorf("lookup = %+v, %v (cache %d)", info, ok, c.len())
	}
	if info, ok := c.lookup(d, failingMetric{d}); !ok || info.name != "t_v" {
		t.Errorf("a cached Desc = %+v, %v", info, ok)
	}
}

func FuzzDescribe(f *testing.F) {
	f.Add("pg_stat_database_xact_commit", "Number of transactions in this database that have been committed", "")
	f.Add("a.b", "Quotes \" and \\ and\nnewline, help: \"x\"", "seconds")
	f.Add("redis_commands_total", "Total number of calls per command.", "")
	f.Fuzz(func(t *testing.T, name, help, unit string) {
		d := prometheus.V2.NewDesc(name, help, prometheus.UnconstrainedLabels(nil), nil, prometheus.WithUnit(unit))
		var m prometheus.Metric = prometheus.NewInvalidMetric(d, errors.New("invalid Desc"))
		if d.Err() == nil {
			m = gauge(d, 1)
		}
		info, ok := describe(d, m)
		if d.Err() != nil {
			if !ok || info.err == nil {
				t.Fatalf("invalid Desc %s described as %+v, %v", d, info, ok)
			}
			return
		}
		if !ok || info.err != nil || info.name != name || info.help != help {
			t.Fatalf("describe(%s) = %+v, %v", d, info, ok)
		}
	})
}

func FuzzAcceptsGzip(f *testing.F) {
	for _, s := range []string{"gzip", "gzip, deflate, br, zstd", "identity;q=0.5, gzip;q=1.0", "*;q=0", "gzip;q=0.001", ";;,,=", "gzip;q=NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got := acceptsGzip([]string{header})
		if !strings.Contains(strings.ToLower(header), "gzip") && !strings.Contains(header, "*") && got {
			t.Fatalf("gzip chosen for %q", header)
		}
	})
}

// BenchmarkScrape compares the old exposition path (a registry per scrape and
// promhttp) with the direct one on a postgres-like scrape of ~5,000 series,
// beside an own registry with Go and process metrics. Run:
//
//	go test -run '^$' -bench Scrape -benchmem ./
func BenchmarkScrape(b *testing.B) {
	metrics := benchMetrics(5000)
	own := prometheus.NewRegistry()
	own.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), NewScrapeErrors("pg"))
	b.Logf("%d series", len(metrics))
	for _, enc := range []struct {
		name   string
		header http.Header
	}{
		{"text", nil},
		{"text+gzip", http.Header{"Accept-Encoding": {"gzip"}}},
	} {
		b.Run("old/"+enc.name, func(b *testing.B) {
			r := request(enc.header)
			b.ReportAllocs()
			for b.Loop() {
				oldServe(newDiscard(), r, metrics, own, false)
			}
		})
		b.Run("new/"+enc.name, func(b *testing.B) {
			h := &ScrapeHandler{Own: own}
			r := request(enc.header)
			b.ReportAllocs()
			for b.Loop() {
				h.serveMetrics(newDiscard(), r, metrics)
			}
		})
	}
}

// discard is a ResponseWriter that throws the body away.
type discard struct{ h http.Header }

func newDiscard() *discard                           { return &discard{h: http.Header{}} }
func (d *discard) Header() http.Header               { return d.h }
func (d *discard) Write(p []byte) (int, error)       { return len(p), nil }
func (d *discard) WriteHeader(int)                   {}
func (d *discard) WriteString(s string) (int, error) { return len(s), nil }

// benchMetrics builds about n series shaped like a postgres-exporter scrape:
// per-table counters and gauges with three labels, per-database series,
// ~150 single-series settings, two histograms and the runner's series.
func benchMetrics(n int) []prometheus.Metric {
	tableLabels := []string{"datname", "schemaname", "relname"}
	var tableDescs []*prometheus.Desc
	for _, col := range []string{"seq_scan", "seq_tup_read", "idx_scan", "idx_tup_fetch", "n_tup_ins", "n_tup_upd", "n_tup_del"} {
		tableDescs = append(tableDescs, desc("pg_stat_user_tables_"+col, "Number of "+col+".", tableLabels, nil))
	}
	gaugeDescs := []*prometheus.Desc{
		desc("pg_stat_user_tables_n_live_tup", "Estimated number of live rows.", tableLabels, nil),
		desc("pg_stat_user_tables_n_dead_tup", "Estimated number of dead rows.", tableLabels, nil),
		desc("pg_stat_user_tables_last_autovacuum", "Last autovacuum, unix seconds.", tableLabels, nil),
		desc("pg_table_size_bytes", "Table size.", tableLabels, nil),
	}
	perTable := len(tableDescs) + len(gaugeDescs)
	fixed := 150 + 2*4*12 + 20
	tables := max(1, (n-fixed)/perTable)
	var out []prometheus.Metric
	// Collectors emit in query order: families one after another, tables in
	// the database's order, not sorted by label value.
	for _, d := range tableDescs {
		for i := range tables {
			out = append(out, counter(d, float64(i*7919%100000), fmt.Sprintf("db%d", i%20), "public", fmt.Sprintf("t%d", (i*37)%tables)))
		}
	}
	for _, d := range gaugeDescs {
		for i := range tables {
			out = append(out, gauge(d, float64(i*31), fmt.Sprintf("db%d", i%20), "public", fmt.Sprintf("t%d", (i*37)%tables)))
		}
	}
	for i := range 150 {
		out = append(out, gauge(desc(fmt.Sprintf("pg_settings_setting_%d", i), "Server setting.", nil, nil), float64(i)))
	}
	h := desc("pg_query_duration_seconds", "Query durations.", []string{"datname"}, nil)
	for i := range 4 {
		out = append(out, prometheus.MustNewConstHistogram(h, 100, 12.5,
			map[float64]uint64{0.001: 1, 0.005: 5, 0.01: 10, 0.05: 50, 0.1: 80, 0.5: 95, 1: 99, 5: 100, 10: 100, 30: 100}, fmt.Sprintf("db%d", i)))
	}
	succ := desc("pg_scrape_collector_success", "Whether a collector succeeded.", []string{"collector"}, nil)
	dur := desc("pg_scrape_collector_duration_seconds", "How long a collector ran.", []string{"collector"}, nil)
	for i := range 10 {
		out = append(out, gauge(succ, 1, fmt.Sprintf("c%d", i)), gauge(dur, 0.001*float64(i), fmt.Sprintf("c%d", i)))
	}
	return out
}

// TestPrometheusIngestsTheExposition has a real Prometheus scrape the direct
// path. Prometheus asks for OpenMetrics first and gets text, as promhttp
// answers by default: every sample must arrive, names unchanged (counters
// without _total too), label values intact.
func TestPrometheusIngestsTheExposition(t *testing.T) {
	var sets []prometheus.Metric
	for _, set := range comparisonSets() {
		sets = append(sets, set.metrics()...)
	}
	runner := &Runner{Namespace: "t", Collectors: []Collector{CollectorFunc{ID: "sets", Fn: func(ctx context.Context, ch chan<- prometheus.Metric) error {
		for _, m := range sets {
			ch <- m
		}
		return nil
	}}}}
	reg := prometheus.NewRegistry()
	errs := NewScrapeErrors("t")
	reg.MustRegister(errs)
	h := &ScrapeHandler{Deadline: Deadline{Max: 5 * time.Second}, Coalescer: &Coalescer{}, Own: reg, Errors: errs,
		Target: func(*http.Request) (string, StartFunc, error) { return "t", runner.Start, nil }}
	var accept atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accept.Store(r.Header.Get("Accept"))
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()

	p := testkit.StartPrometheus(t, testkit.PrometheusOptions{Config: fmt.Sprintf(`
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: direct
    static_configs: [{targets: [%q]}]
`, strings.TrimPrefix(srv.URL, "http://"))})
	value := func(expr string) (float64, error) {
		res := p.Query(t, expr)
		if len(res) != 1 {
			return 0, fmt.Errorf("%s: %d results", expr, len(res))
		}
		var v float64
		_, err := fmt.Sscan(res[0].Value[1].(string), &v)
		return v, err
	}
	testkit.Eventually(t, 30*time.Second, "a successful scrape", func() error {
		if v, err := value(`up{job="direct"}`); err != nil || v != 1 {
			return fmt.Errorf("up = %v (%v)", v, err)
		}
		return nil
	})
	if a, _ := accept.Load().(string); !strings.Contains(a, "openmetrics") {
		t.Fatalf("Prometheus sent Accept %q; this test means to exercise its real negotiation", a)
	}
	_, body := testkit.Get(t, srv.URL, nil)
	want := 0
	for line := range strings.SplitSeq(strings.TrimSpace(string(body)), "\n") {
		if !strings.HasPrefix(line, "#") {
			want++
		}
	}
	if v, err := value(`scrape_samples_scraped{job="direct"}`); err != nil || int(v) != want {
		t.Errorf("Prometheus ingested %v samples (%v), the text exposition has %d", v, err, want)
	}
	for expr, want := range map[string]float64{
		`t_scans_total{relname="b"}`:                             1e9,
		`t_events_total`:                                         5,
		`t_latency_seconds_count{op="read"}`:                     10,
		`t_query{query="line one\nline two"}`:                    2,
		`t_city{name="東京"}`:                                      2,
		`t_dotted_name{label_with_dots="x"}`:                     1,
		`t_dup{k="a"}`:                                           1,
		`t_exporter_targets{kind="c"}`:                           9,
		`t_exporter_scrape_errors_total{reason="duplicate"} > 0`: 0, // only that it exists
		`t_scrape_collector_success{collector="sets"}`:           1,
		`t_size_bytes{op="read",quantile="0.99"}`:                200,
		`t_live_seconds_bucket{le="+Inf"}`:                       2,
		`t_untyped{k="a"}`:                                       1, // k="b" has a 2023 timestamp: too old to ingest
	} {
		v, err := value(expr)
		if err != nil || (want != 0 && v != want) {
			t.Errorf("%s = %v (%v), want %v", expr, v, err, want)
		}
	}
}

func TestServeHTTPKeeps400AndInFlightCap(t *testing.T) {
	h := &ScrapeHandler{Deadline: Deadline{Max: 5 * time.Second}, Coalescer: &Coalescer{},
		Target: func(*http.Request) (string, StartFunc, error) { return "", nil, errors.New("unknown target \"x\"") }}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request(nil))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `unknown target "x"`) {
		t.Fatalf("a TargetFunc error answered %d %q, want 400 with its text", rec.Code, rec.Body)
	}

	release, started := make(chan struct{}), make(chan struct{})
	runner := &Runner{Collectors: []Collector{CollectorFunc{ID: "slow", Fn: func(ctx context.Context, ch chan<- prometheus.Metric) error {
		close(started)
		<-release
		return nil
	}}}}
	h = &ScrapeHandler{Deadline: Deadline{Max: 5 * time.Second}, Coalescer: &Coalescer{}, MaxInFlight: 1,
		Target: func(*http.Request) (string, StartFunc, error) { return "t", runner.Start, nil }}
	first := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { defer close(done); h.ServeHTTP(first, request(nil)) }()
	<-started
	second := httptest.NewRecorder()
	h.ServeHTTP(second, request(nil))
	close(release)
	<-done
	if second.Code != http.StatusServiceUnavailable {
		t.Errorf("a scrape over the in-flight cap answered %d, want 503", second.Code)
	}
	if first.Code != 200 || !strings.Contains(first.Body.String(), `scrape_collector_success{collector="slow"} 1`) {
		t.Errorf("the first scrape answered %d:\n%s", first.Code, first.Body)
	}
}
