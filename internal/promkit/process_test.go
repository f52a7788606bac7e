package promkit

import (
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
)

// The process families read as client_golang's do: same names, help and
// types, the same values (CPU and memory move between the two reads, so
// within a margin), and no network families.
func TestProcessCollectorMatchesClientGolang(t *testing.T) {
	gather := func(c prometheus.Collector) map[string]*dto.MetricFamily {
		t.Helper()
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(c)
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*dto.MetricFamily{}
		for _, f := range fams {
			out[f.GetName()] = f
		}
		return out
	}
	theirs := gather(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ours := gather(newProcessCollector())
	margins := map[string]float64{
		"process_cpu_seconds_total":        0.5,
		"process_open_fds":                 2, // the test's own reads may hold one open
		"process_max_fds":                  0,
		"process_virtual_memory_bytes":     64 << 20,
		"process_virtual_memory_max_bytes": 0,
		"process_resident_memory_bytes":    16 << 20,
		"process_start_time_seconds":       0.011,
	}
	for name, margin := range margins {
		o, th := ours[name], theirs[name]
		if o == nil || th == nil {
			t.Errorf("%s: ours %v, client_golang's %v", name, o != nil, th != nil)
			continue
		}
		if o.GetHelp() != th.GetHelp() || o.GetType() != th.GetType() {
			t.Errorf("%s: help %q type %v, client_golang's %q %v", name, o.GetHelp(), o.GetType(), th.GetHelp(), th.GetType())
		}
		value := func(f *dto.MetricFamily) float64 {
			m := f.Metric[0]
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
		if a, b := value(o), value(th); math.Abs(a-b) > margin || a < 0 || a == 0 && name != "process_cpu_seconds_total" {
			t.Errorf("%s = %v, client_golang reads %v", name, a, b)
		}
		delete(ours, name)
	}
	if len(ours) != 0 {
		t.Errorf("families beyond client_golang's: %v", ours)
	}
}

func TestParseSelfStat(t *testing.T) {
	line := []byte("4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 123456 987654321 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n")
	st, err := parseSelfStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := (selfStat{utime: 250, stime: 75, starttime: 123456, vsize: 987654321, rssPages: 2048}); st != want {
		t.Errorf("parsed %+v, want %+v", st, want)
	}
	for _, bad := range []string{"", "4242 no paren", "4242 (x) S 1 2", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 x 12 13 14 15 16 17 18 19 20 21 22"} {
		if _, err := parseSelfStat([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseSelfStat(f *testing.F) {
	f.Add([]byte("4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 123456 987654321 2048 18446744073709551615\n"))
	f.Add([]byte("1 (x) R"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if st, err := parseSelfStat(b); err != nil && st != (selfStat{}) {
			t.Errorf("an error with a partial result %+v", st)
		}
	})
}
