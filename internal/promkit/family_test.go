package promkit

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestFamilyMakesTypedSeries(t *testing.T) {
	for _, tc := range []struct {
		f    Family
		want func(*dto.Metric) bool
	}{
		{Gauge("x_ratio", "h", "l"), func(m *dto.Metric) bool { return m.Gauge.GetValue() == 2 }},
		{Counter("x_total", "h", "l"), func(m *dto.Metric) bool { return m.Counter.GetValue() == 2 }},
		{Untyped("x", "h", "l"), func(m *dto.Metric) bool { return m.Untyped.GetValue() == 2 }},
	} {
		var m dto.Metric
		if err := tc.f.Metric(2, "v").Write(&m); err != nil {
			t.Fatalf("%s: %v", tc.f.Name(), err)
		}
		if !tc.want(&m) || m.GetLabel()[0].GetValue() != "v" {
			t.Errorf("%s: got %v", tc.f.Name(), &m)
		}
		if !strings.Contains(tc.f.Desc().String(), `"`+tc.f.Name()+`"`) {
			t.Errorf("%s: Desc %s", tc.f.Name(), tc.f.Desc())
		}
	}
	h := Histogram("x_seconds", "h")
	var m dto.Metric
	if err := h.Histogram(3, 1.5, map[float64]uint64{1: 2}, nil...).Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Histogram.GetSampleCount() != 3 {
		t.Errorf("histogram: %v", &m)
	}
	s := Summary("x_duration_seconds", "h", "cmd")
	m.Reset()
	if err := s.Summary(4, 2.5, map[float64]float64{0.5: 0.1}, "get").Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Summary.GetSampleCount() != 4 || m.Summary.GetQuantile()[0].GetValue() != 0.1 {
		t.Errorf("summary: %v", &m)
	}
	if err := s.Summary(1, 1, nil).Write(&m); err == nil {
		t.Error("summary without its label value: want an invalid metric")
	}
}

func TestFamilyWrongLabelCountIsInvalidNotPanic(t *testing.T) {
	f := Gauge("x", "h", "a", "b")
	var m dto.Metric
	if err := f.Metric(1, "only-one").Write(&m); err == nil {
		t.Fatal("want an error for a missing label value")
	}
	ch := make(chan prometheus.Metric, 1)
	f.Send(ch, 1, "a", "\xff")
	if err := (<-ch).Write(&m); err != nil || m.GetLabel()[1].GetValue() != "\uFFFD" {
		t.Fatalf("invalid UTF-8 label value: %v %v", err, &m)
	}
}

func TestTopN(t *testing.T) {
	type item struct {
		k string
		v float64
	}
	order := ByValue(func(i item) float64 { return i.v }, func(i item) string { return i.k })
	items := []item{{"c", 1}, {"a", 5}, {"b", 5}, {"d", 9}}
	keep, rest := TopN(items, 2, order)
	if len(keep) != 2 || keep[0].k != "d" || keep[1].k != "a" || len(rest) != 2 || rest[0].k != "b" || rest[1].k != "c" {
		t.Fatalf("keep %v rest %v", keep, rest)
	}
	if keep, rest = TopN(items, -1, order); len(keep) != 4 || rest != nil {
		t.Fatalf("no limit: keep %v rest %v", keep, rest)
	}
	if keep, rest = TopN(items, 0, order); len(keep) != 0 || len(rest) != 4 {
		t.Fatalf("zero: keep %v rest %v", keep, rest)
	}
	if Bool(true) != 1 || Bool(false) != 0 {
		t.Fatal("Bool")
	}
}
