package collector

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/internal/promkit"
)

// statDatabaseColumns are pg_stat_database's columns with postgres_exporter's
// types: counters keep their names without _total, as upstream.
var statDatabaseColumns = []column{
	{"numbackends", prometheus.GaugeValue, "Number of backends currently connected to this database."},
	{"xact_commit", prometheus.CounterValue, "Number of transactions in this database that have been committed."},
	{"xact_rollback", prometheus.CounterValue, "Number of transactions in this database that have been rolled back."},
	{"blks_read", prometheus.CounterValue, "Number of disk blocks read in this database."},
	{"blks_hit", prometheus.CounterValue, "Number of times disk blocks were found already in the buffer cache."},
	{"tup_returned", prometheus.CounterValue, "Number of rows returned by queries in this database."},
	{"tup_fetched", prometheus.CounterValue, "Number of rows fetched by queries in this database."},
	{"tup_inserted", prometheus.CounterValue, "Number of rows inserted by queries in this database."},
	{"tup_updated", prometheus.CounterValue, "Number of rows updated by queries in this database."},
	{"tup_deleted", prometheus.CounterValue, "Number of rows deleted by queries in this database."},
	{"conflicts", prometheus.CounterValue, "Number of queries canceled due to conflicts with recovery in this database."},
	{"temp_files", prometheus.CounterValue, "Number of temporary files created by queries in this database."},
	{"temp_bytes", prometheus.CounterValue, "Total amount of data written to temporary files by queries in this database."},
	{"deadlocks", prometheus.CounterValue, "Number of deadlocks detected in this database."},
	{"blk_read_time", prometheus.CounterValue, "Time spent reading data file blocks by backends in this database, in milliseconds."},
	{"blk_write_time", prometheus.CounterValue, "Time spent writing data file blocks by backends in this database, in milliseconds."},
	{"stats_reset", prometheus.CounterValue, "Time at which these statistics were last reset."},
}

// statDatabase14Columns are the session columns PostgreSQL 14 added, and
// the checksum ones of 12, under postgres_exporter's names (it leaves them
// untyped; here the cumulative ones are counters).
var statDatabase14Columns = []column{
	{"checksum_failures", prometheus.CounterValue, "Number of data page checksum failures detected in this database."},
	{"checksum_last_failure", prometheus.GaugeValue, "Time at which the last data page checksum failure was detected (0: none)."},
	{"session_time", prometheus.CounterValue, "Time spent by database sessions in this database, in milliseconds."},
	{"active_time", prometheus.CounterValue, "Time spent executing SQL statements in this database, in milliseconds."},
	{"idle_in_transaction_time", prometheus.CounterValue, "Time spent idling while in a transaction in this database, in milliseconds."},
	{"sessions", prometheus.CounterValue, "Total number of sessions established to this database."},
	{"sessions_abandoned", prometheus.CounterValue, "Number of database sessions that were terminated because connection to the client was lost."},
	{"sessions_fatal", prometheus.CounterValue, "Number of database sessions that were terminated by fatal errors."},
	{"sessions_killed", prometheus.CounterValue, "Number of database sessions that were terminated by operator intervention."},
}

// conflictColumns are pg_stat_database_conflicts' columns.
var conflictColumns = []column{
	{"confl_tablespace", prometheus.CounterValue, "Number of queries in this database that have been canceled due to dropped tablespaces."},
	{"confl_lock", prometheus.CounterValue, "Number of queries in this database that have been canceled due to lock timeouts."},
	{"confl_snapshot", prometheus.CounterValue, "Number of queries in this database that have been canceled due to old snapshots."},
	{"confl_bufferpin", prometheus.CounterValue, "Number of queries in this database that have been canceled due to pinned buffers."},
	{"confl_deadlock", prometheus.CounterValue, "Number of queries in this database that have been canceled due to deadlocks."},
}

var (
	statDatabase14Descs = columnDescs("stat_database_", statDatabase14Columns, "datid", "datname")
	conflictDescs       = columnDescs("stat_database_conflicts_", conflictColumns, "datid", "datname")
	archivedDesc        = desc("stat_archiver_archived_count", "Number of WAL files that have been successfully archived")
	archiveFailedDesc   = desc("stat_archiver_failed_count", "Number of failed attempts for archiving WAL files")
	archiveAgeDesc      = desc("stat_archiver_last_archive_age", "Time in seconds since last WAL segment was successfully archived (NaN: never)")
	statDatabaseDescs   = columnDescs("stat_database_", statDatabaseColumns, "datid", "datname")
	frozenAgeDesc       = desc("database_frozen_xid_age",
		"Transactions since the database's oldest unfrozen transaction id (age(datfrozenxid)): the anti-wraparound vacuum age.", "datname")
	dbSizeDesc = desc("database_size_bytes", "Disk space used by the database", "datname")
)

// statDatabase emits pg_stat_database_* for every database, and each
// database's vacuum age.
func (s *scrape) statDatabase(ctx context.Context, ch chan<- prometheus.Metric) error {
	sql := `SELECT s.datid::text, s.datname, s.numbackends, s.xact_commit, s.xact_rollback, s.blks_read, s.blks_hit,
  s.tup_returned, s.tup_fetched, s.tup_inserted, s.tup_updated, s.tup_deleted, s.conflicts, s.temp_files,
  s.temp_bytes, s.deadlocks, s.blk_read_time, s.blk_write_time,
  coalesce(extract(epoch FROM s.stats_reset), 0)::float8, age(d.datfrozenxid)
FROM pg_stat_database s JOIN pg_database d ON d.oid = s.datid`
	err := s.query(ctx, sql, func(rows pgx.Rows) error {
		var datid, datname string
		vals := make([]float64, len(statDatabaseColumns))
		var age float64
		dest := []any{&datid, &datname}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		dest = append(dest, &age)
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		for i, c := range statDatabaseColumns {
			ch <- promkit.ConstMetric(statDatabaseDescs[i], c.typ, vals[i], datid, datname)
		}
		gauge(ch, frozenAgeDesc, age, datname)
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading pg_stat_database: %w", err)
	}
	if s.version.Load() >= 140000 {
		sql := `SELECT s.datid::text, s.datname, coalesce(s.checksum_failures, 0),
  coalesce(extract(epoch FROM s.checksum_last_failure), 0)::float8, s.session_time, s.active_time,
  s.idle_in_transaction_time, s.sessions, s.sessions_abandoned, s.sessions_fatal, s.sessions_killed
FROM pg_stat_database s JOIN pg_database d ON d.oid = s.datid`
		if err := s.queryColumns(ctx, sql, statDatabase14Columns, statDatabase14Descs, ch); err != nil {
			return fmt.Errorf("reading pg_stat_database sessions: %w", err)
		}
	}
	sql = `SELECT datid::text, datname, confl_tablespace, confl_lock, confl_snapshot, confl_bufferpin, confl_deadlock
FROM pg_stat_database_conflicts`
	if err := s.queryColumns(ctx, sql, conflictColumns, conflictDescs, ch); err != nil {
		return fmt.Errorf("reading pg_stat_database_conflicts: %w", err)
	}
	sql = `SELECT archived_count, failed_count,
  coalesce(extract(epoch FROM now() - last_archived_time), 'NaN')::float8 FROM pg_stat_archiver`
	return s.query(ctx, sql, func(rows pgx.Rows) error {
		var archived, failed, age float64
		if err := rows.Scan(&archived, &failed, &age); err != nil {
			return fmt.Errorf("reading pg_stat_archiver: %w", err)
		}
		counter(ch, archivedDesc, archived)
		counter(ch, archiveFailedDesc, failed)
		gauge(ch, archiveAgeDesc, age)
		return nil
	})
}

// queryColumns emits one metric per column of each row of sql, whose first
// two columns are datid and datname.
func (s *scrape) queryColumns(ctx context.Context, sql string, cols []column, descs []*prometheus.Desc, ch chan<- prometheus.Metric) error {
	return s.query(ctx, sql, func(rows pgx.Rows) error {
		var datid, datname string
		vals := make([]float64, len(cols))
		dest := []any{&datid, &datname}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		for i, c := range cols {
			ch <- promkit.ConstMetric(descs[i], c.typ, vals[i], datid, datname)
		}
		return nil
	})
}

// databaseSize emits pg_database_size_bytes, from a cache younger than the
// configured TTL: the function stats every file of every database.
func (s *scrape) databaseSize(ctx context.Context, ch chan<- prometheus.Metric) error {
	if !s.isUp.Load() {
		return errDown
	}
	t := s.t
	t.mu.Lock()
	cached := t.sizeCache
	t.mu.Unlock()
	if cached.metrics != nil && time.Since(cached.at) < t.opts.DatabaseSizeTTL {
		for _, m := range cached.metrics {
			ch <- m
		}
		return nil
	}
	var fresh []prometheus.Metric
	err := s.query(ctx, `SELECT datname, pg_database_size(oid)::float8 FROM pg_database
WHERE has_database_privilege(oid, 'CONNECT')`, func(rows pgx.Rows) error {
		var name string
		var size float64
		if err := rows.Scan(&name, &size); err != nil {
			return err
		}
		fresh = append(fresh, promkit.ConstMetric(dbSizeDesc, prometheus.GaugeValue, size, name))
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading database sizes: %w", err)
	}
	t.mu.Lock()
	t.sizeCache = cachedMetrics{at: time.Now(), metrics: fresh}
	t.mu.Unlock()
	for _, m := range fresh {
		ch <- m
	}
	return nil
}
