package collector

import (
	"context"
	"time"

	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	scrapesFamily   = promkit.Counter("redis_exporter_scrapes_total", "Scrapes of this target since the exporter started.")
	scrapeDurFamily = promkit.Summary("redis_exporter_scrape_duration_seconds", "Durations of the scrapes of this target (count and sum).")
	lastDurFamily   = promkit.Gauge("redis_exporter_last_scrape_duration_seconds", "How long this scrape of the target took.")
	lastErrFamily   = promkit.Gauge("redis_exporter_last_scrape_error", "1 when a collector failed on this scrape, else 0 (see redis_scrape_collector_success).")
)

func (s *scrape) collectExporter(_ context.Context, ch chan<- prometheus.Metric) error {
	d := time.Since(s.started)
	n, sum := s.t.countScrape(d)
	scrapesFamily.Send(ch, n)
	lastDurFamily.Send(ch, d.Seconds())
	ch <- scrapeDurFamily.Summary(uint64(n), sum, nil)
	failed := 0.0
	if s.failed || !s.up {
		failed = 1
	}
	lastErrFamily.Send(ch, failed)
	return nil
}
