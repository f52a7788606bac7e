package collector

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/internal/promkit"
)

var locksCount = promkit.Gauge("pg_locks_count", "Number of locks", "datname", "mode")

// locks emits pg_locks_count for every database and lock mode (0 included),
// leaving out the exporter's own locks. Reading pg_locks takes every lock
// manager partition, so it runs after the cheap views.
func (s *scrape) locks(ctx context.Context, ch chan<- prometheus.Metric) error {
	err := s.query(ctx, `SELECT d.datname, m.mode, coalesce(l.n, 0)::float8
FROM pg_database d
CROSS JOIN (VALUES ('accesssharelock'), ('rowsharelock'), ('rowexclusivelock'), ('shareupdateexclusivelock'),
  ('sharelock'), ('sharerowexclusivelock'), ('exclusivelock'), ('accessexclusivelock'), ('sireadlock')) m(mode)
LEFT JOIN (SELECT database, lower(mode) AS mode, count(*) AS n FROM pg_locks
  WHERE database IS NOT NULL AND pid IS DISTINCT FROM pg_backend_pid() GROUP BY 1, 2) l
  ON l.database = d.oid AND l.mode = m.mode`, func(rows pgx.Rows) error {
		var db, mode string
		var n float64
		if err := rows.Scan(&db, &mode, &n); err != nil {
			return err
		}
		locksCount.Send(ch, n, db, mode)
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading pg_locks: %w", err)
	}
	return nil
}
