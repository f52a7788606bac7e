package promkit

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestConstMetricOutsideLabelValues(t *testing.T) {
	d := prometheus.NewDesc("t_rows", "Rows.", []string{"db", "table"}, nil)
	tests := []struct {
		name    string
		labels  []string
		want    []string
		invalid bool
	}{
		{"valid", []string{"app", "users"}, []string{"app", "users"}, false},
		{"latin1 table name", []string{"app", "caf\xe9"}, []string{"app", "caf\uFFFD"}, false},
		{"truncated sequence", []string{"\xe2\x82", "t"}, []string{"\uFFFD", "t"}, false},
		{"wrong count", []string{"app"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]string(nil), tc.labels...)
			m := ConstMetric(d, prometheus.GaugeValue, 1, in...)
			var out dto.Metric
			err := m.Write(&out)
			if tc.invalid {
				if err == nil {
					t.Fatal("want an invalid metric")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, lp := range out.GetLabel() {
				if lp.GetValue() != tc.want[i] || !utf8.ValidString(lp.GetValue()) {
					t.Errorf("label %s = %q, want %q", lp.GetName(), lp.GetValue(), tc.want[i])
				}
			}
			if strings.Join(in, ",") != strings.Join(tc.labels, ",") {
				t.Errorf("the caller's slice was changed: %q", in)
			}
		})
	}
	h := ConstHistogram(prometheus.NewDesc("t_h", "H.", []string{"task"}, nil), 1, 1, map[float64]uint64{1: 1}, "t\xff")
	var out dto.Metric
	if err := h.Write(&out); err != nil || out.GetLabel()[0].GetValue() != "t\uFFFD" {
		t.Errorf("histogram: %v %v", err, out.GetLabel())
	}
}
