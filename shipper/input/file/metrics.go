package file

import "github.com/prometheus/client_golang/prometheus"

// Metrics count the file input's work. One set serves every Tailer.
type Metrics struct {
	ReadBytes    prometheus.Counter
	FileEvents   *prometheus.CounterVec // event
	FilesOpen    prometheus.Gauge
	FilesWatched prometheus.Gauge
}

// NewMetrics creates the file input's metrics and registers them on reg
// (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ReadBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "log_shipper_read_bytes_total",
			Help: "Bytes read from files."}),
		FileEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "log_shipper_file_events_total",
			Help: "Files found, resumed, rotated, truncated, deleted, copied (copytruncate) or released."}, []string{"event"}),
		FilesOpen: prometheus.NewGauge(prometheus.GaugeOpts{Name: "log_shipper_files_open",
			Help: "Files open for reading."}),
		FilesWatched: prometheus.NewGauge(prometheus.GaugeOpts{Name: "log_shipper_files_watched",
			Help: "Files known to the shipper (open or idle)."}),
	}
	if reg != nil {
		reg.MustRegister(m.ReadBytes, m.FileEvents, m.FilesOpen, m.FilesWatched)
	}
	return m
}
