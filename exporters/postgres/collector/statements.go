package collector

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/internal/promkit"
)

var (
	stmtAvailableDesc = desc("stat_statements_available",
		"Whether pg_stat_statements is installed and loaded in the exporter's database (1) or not (0).")
	stmtCallsDesc = desc("stat_statements_calls_total",
		"Times the statement was executed; the top N by total time, the rest under queryid=\"other\".", "user", "datname", "queryid")
	stmtSecondsDesc = desc("stat_statements_seconds_total",
		"Time spent executing the statement; sum over all series / calls = mean latency.", "user", "datname", "queryid")
	stmtRowsDesc = desc("stat_statements_rows_total",
		"Rows retrieved or affected by the statement.", "user", "datname", "queryid")
	stmtMeanDesc = desc("stat_statements_mean_seconds",
		"Mean execution time of the statement since its statistics were reset (top N only).", "user", "datname", "queryid")
	stmtMaxDesc = desc("stat_statements_max_seconds",
		"Longest execution of the statement since its statistics were reset (top N only).", "user", "datname", "queryid")
)

// statements emits the top N statements by total execution time and one
// "other" series holding the rest, so sums over the family are the totals.
func (s *scrape) statements(ctx context.Context, ch chan<- prometheus.Metric) error {
	if !s.isUp.Load() {
		return errDown
	}
	var present bool
	if err := s.query(ctx, "SELECT to_regclass('pg_stat_statements') IS NOT NULL", func(rows pgx.Rows) error {
		return rows.Scan(&present)
	}); err != nil {
		return fmt.Errorf("looking for pg_stat_statements: %w", err)
	}
	if !present {
		gauge(ch, stmtAvailableDesc, 0)
		return promkit.ErrSkipped
	}
	total, maxCol := "total_exec_time", "max_exec_time"
	if s.version.Load() < 130000 {
		total, maxCol = "total_time", "max_time"
	}
	sql := fmt.Sprintf(`WITH s AS (
  SELECT userid, dbid, queryid, calls, %[1]s AS t, rows, %[2]s AS mx FROM pg_stat_statements(false) WHERE queryid IS NOT NULL)
SELECT coalesce(r.rolname, ''), coalesce(d.datname, ''), top.queryid::text, top.calls::float8, (top.t / 1000)::float8,
  top.rows::float8, (top.mx / 1000)::float8, true
FROM (SELECT * FROM s ORDER BY t DESC LIMIT %[3]d) top
LEFT JOIN pg_roles r ON r.oid = top.userid LEFT JOIN pg_database d ON d.oid = top.dbid
UNION ALL
SELECT '', '', '', coalesce(sum(calls), 0)::float8, coalesce(sum(t) / 1000, 0)::float8, coalesce(sum(rows), 0)::float8, 0, false FROM s`,
		total, maxCol, s.t.opts.StatementsTopN)
	var top [][3]float64
	var labels [][3]string
	var all [3]float64
	var maxes []float64
	err := s.query(ctx, sql, func(rows pgx.Rows) error {
		var user, db, id string
		var calls, secs, nrows, mx float64
		var isTop bool
		if err := rows.Scan(&user, &db, &id, &calls, &secs, &nrows, &mx, &isTop); err != nil {
			return err
		}
		if !isTop {
			all = [3]float64{calls, secs, nrows}
			return nil
		}
		top = append(top, [3]float64{calls, secs, nrows})
		labels = append(labels, [3]string{user, db, id})
		maxes = append(maxes, mx)
		return nil
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "55000" {
		// Created but not in shared_preload_libraries.
		gauge(ch, stmtAvailableDesc, 0)
		return promkit.ErrSkipped
	}
	if err != nil {
		return fmt.Errorf("reading pg_stat_statements: %w", err)
	}
	gauge(ch, stmtAvailableDesc, 1)
	rest := all
	for i, v := range top {
		l := labels[i]
		counter(ch, stmtCallsDesc, v[0], l[:]...)
		counter(ch, stmtSecondsDesc, v[1], l[:]...)
		counter(ch, stmtRowsDesc, v[2], l[:]...)
		mean := 0.0
		if v[0] > 0 {
			mean = v[1] / v[0]
		}
		gauge(ch, stmtMeanDesc, mean, l[:]...)
		gauge(ch, stmtMaxDesc, maxes[i], l[:]...)
		for j := range rest {
			rest[j] -= v[j]
		}
	}
	for j := range rest {
		rest[j] = max(rest[j], 0)
	}
	counter(ch, stmtCallsDesc, rest[0], Other, Other, Other)
	counter(ch, stmtSecondsDesc, rest[1], Other, Other, Other)
	counter(ch, stmtRowsDesc, rest[2], Other, Other, Other)
	return nil
}
