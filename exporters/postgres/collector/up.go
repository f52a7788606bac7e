package collector

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/internal/promkit"
)

var (
	pgUp            = promkit.Gauge("pg_up", "Whether a trivial query succeeded on the target during this scrape (1) or not (0).")
	pgStatic        = promkit.Gauge("pg_static", "Version string as reported by postgres.", "version", "short_version")
	lastScrapeError = promkit.Gauge("pg_exporter_last_scrape_error",
		"Whether the previous scrape of this target had a failing collector (1) or not (0).")
	lastScrapeDuration = promkit.Gauge("pg_exporter_last_scrape_duration_seconds", "How long the previous scrape of this target took.")
	scrapes            = promkit.Counter("pg_exporter_scrapes_total", "Scrapes of this target started since the exporter started.")
	postmasterStart    = promkit.Gauge("pg_postmaster_start_time_seconds", "Time at which postmaster started")
	isReplica          = promkit.Gauge("pg_replication_is_replica", "Whether the server is a standby (1) or a primary (0).")
)

// up runs the trivial query that decides pg_up. It keeps a share of the scrape
// budget back so that pg_up 0 is reported within the deadline even when the
// server does not answer at all.
func (s *scrape) up(ctx context.Context, ch chan<- prometheus.Metric) error {
	s.t.mu.Lock()
	last := s.t.last
	s.t.mu.Unlock()
	lastScrapeError.Send(ch, promkit.Bool(last.failed))
	lastScrapeDuration.Send(ch, last.duration.Seconds())
	scrapes.Send(ch, float64(last.scrapes+1))

	uctx, cancel := upContext(ctx)
	defer cancel()
	var version string
	var num int64
	var replica bool
	var started float64
	check := func() error {
		return s.t.conn.Query(uctx, "SELECT version(), current_setting('server_version_num')::int, pg_is_in_recovery(), extract(epoch FROM pg_postmaster_start_time())::float8",
			func(rows pgx.Rows) error { return rows.Scan(&version, &num, &replica, &started) })
	}
	err := check()
	if err != nil && uctx.Err() == nil {
		// A connection that broke since the last scrape (server restarted)
		// was dropped by the first attempt; the second one reconnects.
		err = check()
	}
	if err != nil {
		pgUp.Send(ch, 0)
		return fmt.Errorf("checking the server: %w", cleanErr(err))
	}
	s.version.Store(num)
	s.isUp.Store(true)
	pgUp.Send(ch, 1)
	pgStatic.Send(ch, 1, version, shortVersion(num))
	isReplica.Send(ch, promkit.Bool(replica))
	postmasterStart.Send(ch, started)
	return nil
}

// upContext cuts ctx to 80 % of what is left, so the answer fits the scrape.
func upContext(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	left := time.Until(dl)
	return context.WithTimeout(ctx, left*8/10)
}

// shortVersion formats server_version_num as postgres_exporter does: 15.4.0.
func shortVersion(num int64) string {
	if num >= 100000 {
		return fmt.Sprintf("%d.%d.0", num/10000, num%10000)
	}
	return fmt.Sprintf("%d.%d.%d", num/10000, num/100%100, num%100)
}
