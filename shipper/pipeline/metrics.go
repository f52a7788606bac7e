package pipeline

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/internal/promkit"
)

// metrics are the pipeline's own: lines it was handed and the memory cap.
type metrics struct {
	readLines    prometheus.Counter
	truncated    prometheus.Counter
	repairedUTF8 prometheus.Counter
	buffered     prometheus.Gauge
	bufferLimit  prometheus.Gauge
	// Shared families the pipeline also counts in (Config).
	dropped      *prometheus.CounterVec
	decodeErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, dropped *prometheus.CounterVec, decodeErrors prometheus.Counter) *metrics {
	m := &metrics{
		readLines: prometheus.NewCounter(prometheus.CounterOpts{Name: "log_shipper_read_lines_total",
			Help: "Lines read from files."}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{Name: "log_shipper_lines_truncated_total",
			Help: "Lines longer than the maximum line size, cut and flagged."}),
		repairedUTF8: prometheus.NewCounter(prometheus.CounterOpts{Name: "log_shipper_lines_utf8_repaired_total",
			Help: "Lines whose invalid UTF-8 was replaced."}),
		buffered: prometheus.NewGauge(prometheus.GaugeOpts{Name: "log_shipper_buffered_bytes",
			Help: "Bytes of lines read and not yet acknowledged by every output."}),
		bufferLimit: prometheus.NewGauge(prometheus.GaugeOpts{Name: "log_shipper_buffer_limit_bytes",
			Help: "The memory cap on buffered lines; reading pauses at it."}),
		dropped: dropped, decodeErrors: decodeErrors,
	}
	if reg != nil {
		reg.MustRegister(m.readLines, m.truncated, m.repairedUTF8, m.buffered, m.bufferLimit)
	}
	return m
}

var (
	fileLag = promkit.Gauge("log_shipper_file_lag_bytes",
		"Bytes of a file not yet acknowledged by every output (the 50 most lagging files; the rest summed as path=\"other\").", "path")
	registryAge = promkit.Gauge("log_shipper_registry_age_seconds",
		"Seconds since the registry of offsets was last written.")
)

// maxLagPaths is how many files get a series of their own in fileLag.
const maxLagPaths = 50

// collector reports per-file lag and the registry's age at every scrape.
type collector struct{ p *Pipeline }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- fileLag.Desc()
	ch <- registryAge.Desc()
}

// fileLagBytes is one file's lag.
type fileLagBytes struct {
	path string
	n    int64
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	var lags []fileLagBytes
	for _, t := range c.p.tailers {
		for _, s := range t.Sources() {
			lags = append(lags, fileLagBytes{s.CurrentPath(), s.Lag()})
		}
	}
	keep, rest := foldLags(lags, maxLagPaths)
	for _, l := range keep {
		fileLag.Send(ch, float64(l.n), l.path)
	}
	if len(rest) > 0 {
		var other int64
		for _, l := range rest {
			other += l.n
		}
		fileLag.Send(ch, float64(other), promkit.Other)
	}
	if saved := c.p.reg.SavedAt(); !saved.IsZero() {
		registryAge.Send(ch, time.Since(saved).Seconds())
	}
}

// foldLags keeps the n most lagging files (ties by path) and sums the
// lags of the ones sharing a path once made valid UTF-8 (a label value
// must be, a file name need not).
func foldLags(lags []fileLagBytes, n int) (keep, rest []fileLagBytes) {
	keep, rest = promkit.TopN(lags, n, promkit.ByValue(
		func(l fileLagBytes) float64 { return float64(l.n) },
		func(l fileLagBytes) string { return l.path }))
	merged := keep[:0:0]
	at := map[string]int{}
	for _, l := range keep {
		l.path = strings.ToValidUTF8(l.path, "\uFFFD")
		if i, ok := at[l.path]; ok {
			merged[i].n += l.n
			continue
		}
		at[l.path] = len(merged)
		merged = append(merged, l)
	}
	return merged, rest
}
