package testkit

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/ with what the code produces now")

// Get fetches url with the given headers and returns the status and body.
func Get(t TB, url string, header http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	// No keep-alive: a pooled connection would outlive the test and trip goleak.
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, body
}

// CheckMetrics lints an exposition with `promtool check metrics`. Problems
// reported for the names in allow (kept for compatibility with an incumbent's
// dashboards, such as counters without _total) are ignored.
func CheckMetrics(t TB, exposition []byte, allow ...string) {
	t.Helper()
	out, err := Promtool(t, string(exposition), "check", "metrics")
	if err == nil {
		return
	}
	allowed := map[string]bool{}
	for _, a := range allow {
		allowed[a] = true
	}
	var problems []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		// promtool prints "name problem" (2.x) or "name: problem".
		name := strings.TrimSuffix(strings.Fields(line)[0], ":")
		if allowed[name] {
			continue
		}
		problems = append(problems, line)
	}
	if len(problems) > 0 {
		t.Errorf("promtool check metrics found problems:\n%s", strings.Join(problems, "\n"))
	}
}

// Families parses a text exposition.
func Families(t TB, exposition []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(exposition))
	if err != nil {
		t.Fatalf("parsing exposition: %v\n%s", err, exposition)
	}
	return fams
}

// Value returns the value of the series of family name whose labels include
// all of want, and whether exactly one such series exists.
func Value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	found, v := 0, 0.0
	for _, m := range f.GetMetric() {
		if !labelsMatch(m, want) {
			continue
		}
		found++
		switch {
		case m.Gauge != nil:
			v = m.Gauge.GetValue()
		case m.Counter != nil:
			v = m.Counter.GetValue()
		case m.Untyped != nil:
			v = m.Untyped.GetValue()
		case m.Histogram != nil:
			v = float64(m.Histogram.GetSampleCount())
		case m.Summary != nil:
			v = float64(m.Summary.GetSampleCount())
		}
	}
	return v, found == 1
}

// MustValue is Value that fails the test when the series is missing or ambiguous.
func MustValue(t TB, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	v, ok := Value(fams, name, want)
	if !ok {
		t.Fatalf("no single series %s%v; have:\n%s", name, want, describe(fams[name]))
	}
	return v
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func describe(f *dto.MetricFamily) string {
	if f == nil {
		return "  (family absent)"
	}
	var lines []string
	for _, m := range f.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
		}
		lines = append(lines, "  {"+strings.Join(ls, ",")+"}")
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// Golden compares got with testdata/<name>, or rewrites the file with -update.
func Golden(t TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run the test with -update to create it): %v", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from what the code produces (run with -update after checking):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}
