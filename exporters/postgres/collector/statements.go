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
	statementsAvailable = promkit.Gauge("pg_stat_statements_available",
		"Whether pg_stat_statements is installed and loaded in the exporter's database (1) or not (0).")
	statementsCalls = promkit.Counter("pg_stat_statements_calls_total",
		"Times the statement was executed; the top N by total time, the rest under queryid=\"other\".", "user", "datname", "queryid")
	statementsSeconds = promkit.Counter("pg_stat_statements_seconds_total",
		"Time spent executing the statement; sum over all series / calls = mean latency.", "user", "datname", "queryid")
	statementsRows = promkit.Counter("pg_stat_statements_rows_total",
		"Rows retrieved or affected by the statement.", "user", "datname", "queryid")
	statementsMean = promkit.Gauge("pg_stat_statements_mean_seconds",
		"Mean execution time of the statement since its statistics were reset (top N only).", "user", "datname", "queryid")
	statementsMax = promkit.Gauge("pg_stat_statements_max_seconds",
		"Longest execution of the statement since its statistics were reset (top N only).", "user", "datname", "queryid")
)

// statementTotals are the cumulative figures of a statement or of a set of them.
type statementTotals struct {
	calls, seconds, rows float64
}

// statement is one of the top N rows of pg_stat_statements.
type statement struct {
	user, datname, queryid string
	statementTotals
	maxSeconds float64
}

// statementsSQL picks the top N statements by total time in the server
// (pg_stat_statements can hold thousands) and adds one row, isTop false,
// with the totals over every statement.
const statementsSQL = `WITH s AS (
  SELECT userid, dbid, queryid, calls, %[1]s AS t, rows, %[2]s AS mx FROM pg_stat_statements(false) WHERE queryid IS NOT NULL)
SELECT coalesce(r.rolname, ''), coalesce(d.datname, ''), top.queryid::text, top.calls::float8, (top.t / 1000)::float8,
  top.rows::float8, (top.mx / 1000)::float8, true
FROM (SELECT * FROM s ORDER BY t DESC LIMIT %[3]d) top
LEFT JOIN pg_roles r ON r.oid = top.userid LEFT JOIN pg_database d ON d.oid = top.dbid
UNION ALL
SELECT '', '', '', coalesce(sum(calls), 0)::float8, coalesce(sum(t) / 1000, 0)::float8, coalesce(sum(rows), 0)::float8, 0, false FROM s`

// statements emits the top N statements by total execution time and one
// "other" series holding the rest, so sums over the family are the totals.
func (s *scrape) statements(ctx context.Context, ch chan<- prometheus.Metric) error {
	top, all, ok, err := s.readStatements(ctx)
	if err != nil {
		return err
	}
	if !ok {
		statementsAvailable.Send(ch, 0)
		return promkit.ErrSkipped
	}
	statementsAvailable.Send(ch, 1)
	for _, st := range top {
		l := []string{st.user, st.datname, st.queryid}
		statementsCalls.Send(ch, st.calls, l...)
		statementsSeconds.Send(ch, st.seconds, l...)
		statementsRows.Send(ch, st.rows, l...)
		statementsMean.Send(ch, st.mean(), l...)
		statementsMax.Send(ch, st.maxSeconds, l...)
	}
	rest := otherStatements(top, all)
	other := []string{promkit.Other, promkit.Other, promkit.Other}
	statementsCalls.Send(ch, rest.calls, other...)
	statementsSeconds.Send(ch, rest.seconds, other...)
	statementsRows.Send(ch, rest.rows, other...)
	return nil
}

// readStatements reads the top N statements and the totals over all of them;
// ok is false when pg_stat_statements is not installed or not loaded.
func (s *scrape) readStatements(ctx context.Context) (top []statement, all statementTotals, ok bool, err error) {
	if !s.isUp.Load() {
		return nil, all, false, errDown
	}
	var present bool
	if err := s.query(ctx, "SELECT to_regclass('pg_stat_statements') IS NOT NULL", func(rows pgx.Rows) error {
		return rows.Scan(&present)
	}); err != nil {
		return nil, all, false, fmt.Errorf("looking for pg_stat_statements: %w", err)
	}
	if !present {
		return nil, all, false, nil
	}
	total, maxCol := "total_exec_time", "max_exec_time"
	if s.version.Load() < 130000 {
		total, maxCol = "total_time", "max_time"
	}
	err = s.query(ctx, fmt.Sprintf(statementsSQL, total, maxCol, s.t.opts.StatementsTopN), func(rows pgx.Rows) error {
		var st statement
		var isTop bool
		if err := rows.Scan(&st.user, &st.datname, &st.queryid, &st.calls, &st.seconds, &st.rows, &st.maxSeconds, &isTop); err != nil {
			return err
		}
		if isTop {
			top = append(top, st)
		} else {
			all = st.statementTotals
		}
		return nil
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "55000" {
		// Created but not in shared_preload_libraries.
		return nil, all, false, nil
	}
	if err != nil {
		return nil, all, false, fmt.Errorf("reading pg_stat_statements: %w", err)
	}
	return top, all, true, nil
}

// mean is the statement's mean execution time (0 before its first call).
func (st statement) mean() float64 {
	if st.calls > 0 {
		return st.seconds / st.calls
	}
	return 0
}

// otherStatements is what the top N leave of the totals: the "other" series
// (a difference below 0 is clamped to 0).
func otherStatements(top []statement, all statementTotals) statementTotals {
	rest := all
	for _, st := range top {
		rest.calls -= st.calls
		rest.seconds -= st.seconds
		rest.rows -= st.rows
	}
	return statementTotals{max(rest.calls, 0), max(rest.seconds, 0), max(rest.rows, 0)}
}
