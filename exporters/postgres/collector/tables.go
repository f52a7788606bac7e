package collector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/internal/promkit"
)

// tableColumns are the families of pg_stat_user_tables' columns, in
// tablesSQL's order, with postgres_exporter's names and types (counters
// without _total, as upstream).
var tableColumns = []promkit.Family{
	promkit.Counter("pg_stat_user_tables_seq_scan", "Number of sequential scans initiated on this table", tableLabels...),
	promkit.Counter("pg_stat_user_tables_seq_tup_read", "Number of live rows fetched by sequential scans", tableLabels...),
	promkit.Counter("pg_stat_user_tables_idx_scan", "Number of index scans initiated on this table", tableLabels...),
	promkit.Counter("pg_stat_user_tables_idx_tup_fetch", "Number of live rows fetched by index scans", tableLabels...),
	promkit.Counter("pg_stat_user_tables_n_tup_ins", "Number of rows inserted", tableLabels...),
	promkit.Counter("pg_stat_user_tables_n_tup_upd", "Number of rows updated", tableLabels...),
	promkit.Counter("pg_stat_user_tables_n_tup_del", "Number of rows deleted", tableLabels...),
	promkit.Counter("pg_stat_user_tables_n_tup_hot_upd", "Number of rows HOT updated", tableLabels...),
	promkit.Gauge("pg_stat_user_tables_n_live_tup", "Estimated number of live rows", tableLabels...),
	promkit.Gauge("pg_stat_user_tables_n_dead_tup", "Estimated number of dead rows", tableLabels...),
	promkit.Gauge("pg_stat_user_tables_n_mod_since_analyze", "Estimated number of rows changed since last analyze", tableLabels...),
	promkit.Gauge("pg_stat_user_tables_last_vacuum", "Last time at which this table was manually vacuumed (not counting VACUUM FULL)", tableLabels...),
	promkit.Gauge("pg_stat_user_tables_last_autovacuum", "Last time at which this table was vacuumed by the autovacuum daemon", tableLabels...),
	promkit.Gauge("pg_stat_user_tables_last_analyze", "Last time at which this table was manually analyzed", tableLabels...),
	promkit.Gauge("pg_stat_user_tables_last_autoanalyze", "Last time at which this table was analyzed by the autovacuum daemon", tableLabels...),
	promkit.Counter("pg_stat_user_tables_vacuum_count", "Number of times this table has been manually vacuumed (not counting VACUUM FULL)", tableLabels...),
	promkit.Counter("pg_stat_user_tables_autovacuum_count", "Number of times this table has been vacuumed by the autovacuum daemon", tableLabels...),
	promkit.Counter("pg_stat_user_tables_analyze_count", "Number of times this table has been manually analyzed", tableLabels...),
	promkit.Counter("pg_stat_user_tables_autoanalyze_count", "Number of times this table has been analyzed by the autovacuum daemon", tableLabels...),
}

// tableLabels are the labels of pg_stat_user_tables_*.
var tableLabels = []string{"datname", "schemaname", "relname"}

const tablesSQL = `SELECT current_database(), schemaname, relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0),
  coalesce(idx_tup_fetch, 0), n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd, n_live_tup, n_dead_tup,
  n_mod_since_analyze,
  coalesce(extract(epoch FROM last_vacuum), 0)::float8, coalesce(extract(epoch FROM last_autovacuum), 0)::float8,
  coalesce(extract(epoch FROM last_analyze), 0)::float8, coalesce(extract(epoch FROM last_autoanalyze), 0)::float8,
  vacuum_count, autovacuum_count, analyze_count, autoanalyze_count
FROM pg_stat_user_tables ORDER BY n_live_tup + n_dead_tup DESC, relid LIMIT %d`

// indexColumns are the families of pg_stat_user_indexes' columns, in
// indexesSQL's order, under clean names (new families: postgres_exporter 0.11
// has none).
var indexColumns = []promkit.Family{
	promkit.Counter("pg_stat_user_indexes_scans_total", "Index scans initiated on this index (idx_scan); 0 for long means unused", indexLabels...),
	promkit.Counter("pg_stat_user_indexes_tuples_read_total", "Index entries returned by scans on this index (idx_tup_read)", indexLabels...),
	promkit.Counter("pg_stat_user_indexes_tuples_fetched_total", "Live table rows fetched by simple index scans using this index (idx_tup_fetch)", indexLabels...),
	promkit.Gauge("pg_stat_user_indexes_estimated_size_bytes", "relpages x block_size as of the index's last VACUUM, ANALYZE or CREATE INDEX (read without taking a lock)", indexLabels...),
}

// indexLabels are the labels of pg_stat_user_indexes_*.
var indexLabels = []string{"datname", "schemaname", "relname", "indexrelname"}

// indexesSQL takes no lock: the size comes from pg_class, not
// pg_relation_size, which would queue behind an ACCESS EXCLUSIVE lock.
const indexesSQL = `SELECT current_database(), s.schemaname, s.relname, s.indexrelname, coalesce(s.idx_scan, 0)::float8,
  coalesce(s.idx_tup_read, 0)::float8, coalesce(s.idx_tup_fetch, 0)::float8,
  greatest(c.relpages, 0)::float8 * current_setting('block_size')::float8
FROM pg_stat_user_indexes s JOIN pg_class c ON c.oid = s.indexrelid
ORDER BY c.relpages DESC, s.indexrelid LIMIT %d`

// dbQuery is one database-scoped statement and what reads its rows.
type dbQuery struct {
	what, sql string
	scan      func(ch chan<- prometheus.Metric) func(pgx.Rows) error
}

// tables emits pg_stat_user_tables_* for the busiest tables and
// pg_stat_user_indexes_* for the largest indexes of the DSN's database and,
// when enabled, of every matched database: those are read over one extra
// short-lived connection at a time (within the configured cap), each within
// its time budget, and served from cache for the TTL.
func (s *scrape) tables(ctx context.Context, ch chan<- prometheus.Metric) error {
	if !s.isUp.Load() {
		return errDown
	}
	o := s.t.opts.Databases
	queries := []dbQuery{
		{"pg_stat_user_tables", fmt.Sprintf(tablesSQL, o.TablesLimit), tableScanner},
		{"pg_stat_user_indexes", fmt.Sprintf(indexesSQL, o.IndexesLimit), indexScanner},
	}
	main := s.t.conn.Database()
	for _, q := range queries {
		if err := s.query(ctx, q.sql, q.scan(ch)); err != nil {
			return fmt.Errorf("reading %s of %s: %w", q.what, main, err)
		}
	}
	if !o.Enabled {
		return nil
	}
	var dbs []string
	err := s.query(ctx, `SELECT datname FROM pg_database
WHERE datallowconn AND NOT datistemplate AND has_database_privilege(oid, 'CONNECT') ORDER BY datname`,
		func(rows pgx.Rows) error {
			var name string
			err := rows.Scan(&name)
			if name != main && (o.Include == nil || o.Include.MatchString(name)) && (o.Exclude == nil || !o.Exclude.MatchString(name)) {
				dbs = append(dbs, name)
			}
			return err
		})
	if err != nil {
		return fmt.Errorf("listing databases: %w", err)
	}
	var errs []error
	for _, db := range dbs {
		if err := s.otherDatabase(ctx, db, queries, ch); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *scrape) otherDatabase(ctx context.Context, db string, queries []dbQuery, ch chan<- prometheus.Metric) error {
	t := s.t
	t.mu.Lock()
	cached, ok := t.dbCache[db]
	t.mu.Unlock()
	if ok && time.Since(cached.at) < t.opts.Databases.TTL {
		for _, m := range cached.metrics {
			ch <- m
		}
		return nil
	}
	var fresh []prometheus.Metric
	collect := make(chan prometheus.Metric, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range collect {
			fresh = append(fresh, m)
		}
	}()
	err := s.readDatabase(ctx, db, queries, collect)
	close(collect)
	<-done
	if err != nil {
		// Serve what was read before rather than nothing.
		for _, m := range cached.metrics {
			ch <- m
		}
		return fmt.Errorf("reading database %s: %w", db, err)
	}
	t.mu.Lock()
	t.dbCache[db] = cachedMetrics{at: time.Now(), metrics: fresh}
	t.mu.Unlock()
	for _, m := range fresh {
		ch <- m
	}
	return nil
}

// readDatabase opens a connection to db (waiting for a free slot under the
// cap), runs the queries and closes it, all within the per-database budget.
func (s *scrape) readDatabase(ctx context.Context, db string, queries []dbQuery, ch chan<- prometheus.Metric) error {
	t := s.t
	ctx, cancel := context.WithTimeout(ctx, t.opts.Databases.Timeout)
	defer cancel()
	select {
	case t.extra <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting for a connection slot: %w", ctx.Err())
	}
	defer func() { <-t.extra }()
	cfg := t.conn.cfg.Copy()
	cfg.Database = db
	t.extraConnects.Add(1)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	for _, q := range queries {
		if err := query(ctx, conn, &t.conn.queries, q.sql, q.scan(ch)); err != nil {
			return fmt.Errorf("reading %s: %w", q.what, err)
		}
	}
	return nil
}

func tableScanner(ch chan<- prometheus.Metric) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		var db, schema, rel string
		vals := make([]float64, len(tableColumns))
		dest := []any{&db, &schema, &rel}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		for i, f := range tableColumns {
			f.Send(ch, vals[i], db, schema, rel)
		}
		return nil
	}
}

func indexScanner(ch chan<- prometheus.Metric) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		var db, schema, rel, index string
		var vals [4]float64
		if err := rows.Scan(&db, &schema, &rel, &index, &vals[0], &vals[1], &vals[2], &vals[3]); err != nil {
			return err
		}
		for i, f := range indexColumns {
			f.Send(ch, vals[i], db, schema, rel, index)
		}
		return nil
	}
}
