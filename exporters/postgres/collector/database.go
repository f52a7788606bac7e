package collector

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/internal/promkit"
)

// statDatabaseColumns are the families of pg_stat_database's columns, in the
// query's order, with postgres_exporter's types: counters keep their names
// without _total, as upstream.
var statDatabaseColumns = []promkit.Family{
	promkit.Gauge("pg_stat_database_numbackends", "Number of backends currently connected to this database.", databaseLabels...),
	promkit.Counter("pg_stat_database_xact_commit", "Number of transactions in this database that have been committed.", databaseLabels...),
	promkit.Counter("pg_stat_database_xact_rollback", "Number of transactions in this database that have been rolled back.", databaseLabels...),
	promkit.Counter("pg_stat_database_blks_read", "Number of disk blocks read in this database.", databaseLabels...),
	promkit.Counter("pg_stat_database_blks_hit", "Number of times disk blocks were found already in the buffer cache.", databaseLabels...),
	promkit.Counter("pg_stat_database_tup_returned", "Number of rows returned by queries in this database.", databaseLabels...),
	promkit.Counter("pg_stat_database_tup_fetched", "Number of rows fetched by queries in this database.", databaseLabels...),
	promkit.Counter("pg_stat_database_tup_inserted", "Number of rows inserted by queries in this database.", databaseLabels...),
	promkit.Counter("pg_stat_database_tup_updated", "Number of rows updated by queries in this database.", databaseLabels...),
	promkit.Counter("pg_stat_database_tup_deleted", "Number of rows deleted by queries in this database.", databaseLabels...),
	promkit.Counter("pg_stat_database_conflicts", "Number of queries canceled due to conflicts with recovery in this database.", databaseLabels...),
	promkit.Counter("pg_stat_database_temp_files", "Number of temporary files created by queries in this database.", databaseLabels...),
	promkit.Counter("pg_stat_database_temp_bytes", "Total amount of data written to temporary files by queries in this database.", databaseLabels...),
	promkit.Counter("pg_stat_database_deadlocks", "Number of deadlocks detected in this database.", databaseLabels...),
	promkit.Counter("pg_stat_database_blk_read_time", "Time spent reading data file blocks by backends in this database, in milliseconds.", databaseLabels...),
	promkit.Counter("pg_stat_database_blk_write_time", "Time spent writing data file blocks by backends in this database, in milliseconds.", databaseLabels...),
	promkit.Counter("pg_stat_database_stats_reset", "Time at which these statistics were last reset.", databaseLabels...),
}

// statDatabase14Columns are the session columns PostgreSQL 14 added, and
// the checksum ones of 12, under postgres_exporter's names (it leaves them
// untyped; here the cumulative ones are counters).
var statDatabase14Columns = []promkit.Family{
	promkit.Counter("pg_stat_database_checksum_failures", "Number of data page checksum failures detected in this database.", databaseLabels...),
	promkit.Gauge("pg_stat_database_checksum_last_failure", "Time at which the last data page checksum failure was detected (0: none).", databaseLabels...),
	promkit.Counter("pg_stat_database_session_time", "Time spent by database sessions in this database, in milliseconds.", databaseLabels...),
	promkit.Counter("pg_stat_database_active_time", "Time spent executing SQL statements in this database, in milliseconds.", databaseLabels...),
	promkit.Counter("pg_stat_database_idle_in_transaction_time", "Time spent idling while in a transaction in this database, in milliseconds.", databaseLabels...),
	promkit.Counter("pg_stat_database_sessions", "Total number of sessions established to this database.", databaseLabels...),
	promkit.Counter("pg_stat_database_sessions_abandoned", "Number of database sessions that were terminated because connection to the client was lost.", databaseLabels...),
	promkit.Counter("pg_stat_database_sessions_fatal", "Number of database sessions that were terminated by fatal errors.", databaseLabels...),
	promkit.Counter("pg_stat_database_sessions_killed", "Number of database sessions that were terminated by operator intervention.", databaseLabels...),
}

// conflictColumns are pg_stat_database_conflicts' columns.
var conflictColumns = []promkit.Family{
	promkit.Counter("pg_stat_database_conflicts_confl_tablespace", "Number of queries in this database that have been canceled due to dropped tablespaces.", databaseLabels...),
	promkit.Counter("pg_stat_database_conflicts_confl_lock", "Number of queries in this database that have been canceled due to lock timeouts.", databaseLabels...),
	promkit.Counter("pg_stat_database_conflicts_confl_snapshot", "Number of queries in this database that have been canceled due to old snapshots.", databaseLabels...),
	promkit.Counter("pg_stat_database_conflicts_confl_bufferpin", "Number of queries in this database that have been canceled due to pinned buffers.", databaseLabels...),
	promkit.Counter("pg_stat_database_conflicts_confl_deadlock", "Number of queries in this database that have been canceled due to deadlocks.", databaseLabels...),
}

// databaseLabels are the labels of pg_stat_database_*.
var databaseLabels = []string{"datid", "datname"}

var (
	archivedCount  = promkit.Counter("pg_stat_archiver_archived_count", "Number of WAL files that have been successfully archived")
	archiveFailed  = promkit.Counter("pg_stat_archiver_failed_count", "Number of failed attempts for archiving WAL files")
	lastArchiveAge = promkit.Gauge("pg_stat_archiver_last_archive_age", "Time in seconds since last WAL segment was successfully archived (NaN: never)")
	frozenXIDAge   = promkit.Gauge("pg_database_frozen_xid_age",
		"Transactions since the database's oldest unfrozen transaction id (age(datfrozenxid)): the anti-wraparound vacuum age.", "datname")
	databaseSize = promkit.Gauge("pg_database_size_bytes", "Disk space used by the database", "datname")
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
		for i, f := range statDatabaseColumns {
			f.Send(ch, vals[i], datid, datname)
		}
		frozenXIDAge.Send(ch, age, datname)
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
		if err := s.queryColumns(ctx, sql, statDatabase14Columns, ch); err != nil {
			return fmt.Errorf("reading pg_stat_database sessions: %w", err)
		}
	}
	sql = `SELECT datid::text, datname, confl_tablespace, confl_lock, confl_snapshot, confl_bufferpin, confl_deadlock
FROM pg_stat_database_conflicts`
	if err := s.queryColumns(ctx, sql, conflictColumns, ch); err != nil {
		return fmt.Errorf("reading pg_stat_database_conflicts: %w", err)
	}
	sql = `SELECT archived_count, failed_count,
  coalesce(extract(epoch FROM now() - last_archived_time), 'NaN')::float8 FROM pg_stat_archiver`
	return s.query(ctx, sql, func(rows pgx.Rows) error {
		var archived, failed, age float64
		if err := rows.Scan(&archived, &failed, &age); err != nil {
			return fmt.Errorf("reading pg_stat_archiver: %w", err)
		}
		archivedCount.Send(ch, archived)
		archiveFailed.Send(ch, failed)
		lastArchiveAge.Send(ch, age)
		return nil
	})
}

// queryColumns emits one metric of fams per value column of each row of sql,
// whose first two columns are datid and datname.
func (s *scrape) queryColumns(ctx context.Context, sql string, fams []promkit.Family, ch chan<- prometheus.Metric) error {
	return s.query(ctx, sql, func(rows pgx.Rows) error {
		var datid, datname string
		vals := make([]float64, len(fams))
		dest := []any{&datid, &datname}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		for i, f := range fams {
			f.Send(ch, vals[i], datid, datname)
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
		fresh = append(fresh, databaseSize.Metric(size, name))
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
