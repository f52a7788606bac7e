package collector

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/internal/promkit"
)

// bgwriterCounters are the families of the query's columns, in its order.
var bgwriterCounters = []promkit.Family{
	promkit.Counter("pg_stat_bgwriter_checkpoints_timed_total", "Number of scheduled checkpoints that have been performed"),
	promkit.Counter("pg_stat_bgwriter_checkpoints_req_total", "Number of requested checkpoints that have been performed"),
	promkit.Counter("pg_stat_bgwriter_checkpoint_write_time_total", "Total amount of time that has been spent in the portion of checkpoint processing where files are written to disk, in milliseconds"),
	promkit.Counter("pg_stat_bgwriter_checkpoint_sync_time_total", "Total amount of time that has been spent in the portion of checkpoint processing where files are synchronized to disk, in milliseconds"),
	promkit.Counter("pg_stat_bgwriter_buffers_checkpoint_total", "Number of buffers written during checkpoints"),
	promkit.Counter("pg_stat_bgwriter_buffers_clean_total", "Number of buffers written by the background writer"),
	promkit.Counter("pg_stat_bgwriter_maxwritten_clean_total", "Number of times the background writer stopped a cleaning scan because it had written too many buffers"),
	promkit.Counter("pg_stat_bgwriter_buffers_backend_total", "Number of buffers written directly by a backend"),
	promkit.Counter("pg_stat_bgwriter_buffers_backend_fsync_total", "Number of times a backend had to execute its own fsync call"),
	promkit.Counter("pg_stat_bgwriter_buffers_alloc_total", "Number of buffers allocated"),
	promkit.Counter("pg_stat_bgwriter_stats_reset_total", "Time at which these statistics were last reset"),
}

// bgwriter emits pg_stat_bgwriter_* as postgres_exporter names them; on 17+
// the checkpoint columns come from pg_stat_checkpointer.
func (s *scrape) bgwriter(ctx context.Context, ch chan<- prometheus.Metric) error {
	sql := `SELECT checkpoints_timed, checkpoints_req, checkpoint_write_time, checkpoint_sync_time,
  buffers_checkpoint, buffers_clean, maxwritten_clean, buffers_backend, buffers_backend_fsync, buffers_alloc,
  coalesce(extract(epoch FROM stats_reset), 0)::float8
FROM pg_stat_bgwriter`
	if s.version.Load() >= 170000 {
		sql = `SELECT c.num_timed, c.num_requested, c.write_time, c.sync_time, c.buffers_written,
  b.buffers_clean, b.maxwritten_clean, 0, 0, b.buffers_alloc, coalesce(extract(epoch FROM b.stats_reset), 0)::float8
FROM pg_stat_bgwriter b, pg_stat_checkpointer c`
	}
	vals := make([]float64, len(bgwriterCounters))
	err := s.query(ctx, sql, func(rows pgx.Rows) error {
		dest := make([]any, len(vals))
		for i := range vals {
			dest[i] = &vals[i]
		}
		return rows.Scan(dest...)
	})
	if err != nil {
		return fmt.Errorf("reading pg_stat_bgwriter: %w", err)
	}
	for i, f := range bgwriterCounters {
		f.Send(ch, vals[i])
	}
	return nil
}
