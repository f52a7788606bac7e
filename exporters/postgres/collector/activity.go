package collector

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/internal/promkit"
)

// The activity collector reads one pg_stat_activity snapshot (readActivity),
// folds it into the pool view and postgres_exporter's activity families (the
// pure functions of activity_view.go) and emits them (emitPool,
// emitIncumbentActivity).

var (
	connections = promkit.Gauge("pg_connections",
		"Client connections by database, user, application (top N, the rest \"other\") and state; the exporter's own is left out.",
		"datname", "usename", "application_name", "state")
	connectionsMax      = promkit.Gauge("pg_connections_max", "max_connections of the server.")
	connectionsReserved = promkit.Gauge("pg_connections_reserved",
		"Connection slots reserved for superusers and pg_use_reserved_connections roles (superuser_reserved_connections + reserved_connections).")
	connectionsAvailable = promkit.Gauge("pg_connections_available",
		"Connection slots still open to ordinary roles: max_connections - reserved - client connections in use.")
	connectionsUtilization = promkit.Gauge("pg_connections_utilization_ratio",
		"Client connections in use / (max_connections - reserved): the pool utilization.")
	databaseConnectionLimit = promkit.Gauge("pg_database_connection_limit", "Connection limit of the database (-1: none).", "datname")
	databaseConnections     = promkit.Gauge("pg_database_connections", "Client connections to the database.", "datname")
	roleConnectionLimit     = promkit.Gauge("pg_role_connection_limit", "Connection limit of a login role that has one.", "rolname")
	roleConnections         = promkit.Gauge("pg_role_connections", "Client connections of a login role that has a connection limit.", "rolname")

	idleInTransaction = promkit.Gauge("pg_connections_idle_in_transaction",
		"Client sessions idle in a transaction (including aborted ones) by database and application.", "datname", "application_name")
	idleInTransactionMaxAge = promkit.Gauge("pg_connections_idle_in_transaction_max_age_seconds",
		"How long the oldest idle-in-transaction session has been idle, by database and application (0: none).", "datname", "application_name")
	activeQueryMaxAge = promkit.Gauge("pg_connections_active_query_max_age_seconds",
		"How long the oldest running query has run, by database and application (0: none).", "datname", "application_name")
	activeQueriesOverThreshold = promkit.Gauge("pg_connections_active_queries_over_threshold",
		"Running queries older than threshold_seconds, by database and application.", "datname", "application_name", "threshold_seconds")
	lockWaiting = promkit.Gauge("pg_connections_lock_waiting",
		"Client sessions waiting on a heavyweight lock, by database.", "datname")
	lockWaitMax = promkit.Gauge("pg_connections_lock_wait_max_seconds",
		"How long the longest current heavyweight-lock wait has lasted, by database (0: none).", "datname")
	lockBlockers = promkit.Gauge("pg_connections_lock_blockers",
		"Distinct sessions blocking others on a heavyweight lock, by database of the waiter.", "datname")
	transactionMaxAge = promkit.Gauge("pg_connections_transaction_max_age_seconds",
		"How long the oldest open transaction of a client session has been open, by database (0: none).", "datname")
	transactionsOverThreshold = promkit.Gauge("pg_connections_transactions_over_threshold",
		"Client transactions open for longer than the long-transaction threshold, by database.", "datname")

	statActivityCount = promkit.Gauge("pg_stat_activity_count", "number of connections in this state",
		"datname", "state", "usename", "application_name", "backend_type", "wait_event_type", "wait_event")
	statActivityMaxTxDuration = promkit.Gauge("pg_stat_activity_max_tx_duration", "max duration in seconds any active transaction has been running",
		"datname", "state", "usename", "application_name", "backend_type", "wait_event_type", "wait_event")
	longRunningTransactions = promkit.Gauge("pg_long_running_transactions",
		"Transactions open for longer than the long-transaction threshold (not every transaction, unlike postgres_exporter).")
	longRunningTransactionsOldest = promkit.Gauge("pg_long_running_transactions_oldest_timestamp_seconds",
		"Age in seconds of the oldest open transaction.")
)

// session is one row of the pg_stat_activity snapshot.
type session struct {
	datname, usename, app, state, backendType, waitType, wait string
	xactAge, queryAge, stateAge                               float64 // seconds, -1 when NULL
	blockers                                                  []int32
	pid                                                       int32
}

// limit is a connection limit of a database or a role.
type limit struct {
	name  string
	limit float64
}

// capacity is the server's connection slots.
type capacity struct {
	maxConnections, superuserReserved, reserved float64
}

// activitySnapshot is everything the activity collector reads on one scrape.
type activitySnapshot struct {
	sessions   []session
	capacity   capacity
	databases  []limit // every database, by name
	roles      []limit // login roles with a connection limit, by name
	lockWaited map[int32]float64
}

const activitySQL = `SELECT coalesce(datname, ''), coalesce(usename, ''), coalesce(application_name, ''),
  coalesce(state, ''), coalesce(backend_type, ''), coalesce(wait_event_type, ''), coalesce(wait_event, ''),
  coalesce(extract(epoch FROM now() - xact_start), -1)::float8,
  coalesce(extract(epoch FROM now() - query_start), -1)::float8,
  coalesce(extract(epoch FROM now() - state_change), -1)::float8,
  CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) END, pid
FROM pg_stat_activity WHERE pid <> pg_backend_pid()`

const capacitySQL = `SELECT current_setting('max_connections')::int,
  current_setting('superuser_reserved_connections')::int,
  coalesce(current_setting('reserved_connections', true)::int, 0)`

// activity builds the pool view and postgres_exporter's activity families
// from one pg_stat_activity snapshot.
func (s *scrape) activity(ctx context.Context, ch chan<- prometheus.Metric) error {
	snap, err := s.readActivity(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	apps, users := nameCounts(snap.sessions)
	names := labelNames{app: s.t.apps.update(now, apps), user: s.t.users.update(now, users)}
	o := s.t.opts
	emitIncumbentActivity(ch, incumbentActivity(snap.sessions, limitNames(snap.databases), o.LongTransaction, names))
	pool := aggregatePool(snap.sessions, snap.lockWaited, o.QueryThresholds, o.LongTransaction, names)
	groups := s.t.groups.update(now, pool.current())
	emitPool(ch, pool, groups, snap, o.QueryThresholds)
	return nil
}

// readActivity runs the activity collector's queries: the pg_stat_activity
// snapshot, the connection settings, the database and role limits, and the
// lock wait starts when some session waits.
func (s *scrape) readActivity(ctx context.Context) (activitySnapshot, error) {
	var snap activitySnapshot
	err := s.query(ctx, activitySQL, func(rows pgx.Rows) error {
		var x session
		if err := rows.Scan(&x.datname, &x.usename, &x.app, &x.state, &x.backendType, &x.waitType, &x.wait,
			&x.xactAge, &x.queryAge, &x.stateAge, &x.blockers, &x.pid); err != nil {
			return err
		}
		snap.sessions = append(snap.sessions, x)
		return nil
	})
	if err != nil {
		return snap, fmt.Errorf("reading pg_stat_activity: %w", err)
	}
	c := &snap.capacity
	if err := s.query(ctx, capacitySQL, func(rows pgx.Rows) error {
		return rows.Scan(&c.maxConnections, &c.superuserReserved, &c.reserved)
	}); err != nil {
		return snap, fmt.Errorf("reading connection settings: %w", err)
	}
	if snap.databases, err = s.limits(ctx, "SELECT datname, datconnlimit FROM pg_database ORDER BY datname"); err != nil {
		return snap, fmt.Errorf("reading pg_database: %w", err)
	}
	if snap.roles, err = s.limits(ctx, "SELECT rolname, rolconnlimit FROM pg_roles WHERE rolcanlogin AND rolconnlimit >= 0 ORDER BY rolname"); err != nil {
		return snap, fmt.Errorf("reading pg_roles: %w", err)
	}
	snap.lockWaited, err = s.lockWaitAges(ctx, snap.sessions)
	return snap, err
}

// limits reads (name, limit) rows.
func (s *scrape) limits(ctx context.Context, sql string) ([]limit, error) {
	var out []limit
	err := s.query(ctx, sql, func(rows pgx.Rows) error {
		var l limit
		err := rows.Scan(&l.name, &l.limit)
		out = append(out, l)
		return err
	})
	return out, err
}

// lockWaitAges returns how long each lock-waiting session has waited, from
// pg_locks.waitstart (PostgreSQL 14+). It sends a query only when some session
// waits.
func (s *scrape) lockWaitAges(ctx context.Context, sessions []session) (map[int32]float64, error) {
	waiting := false
	for _, x := range sessions {
		waiting = waiting || x.waitType == "Lock"
	}
	if !waiting || s.version.Load() < 140000 {
		return nil, nil
	}
	ages := map[int32]float64{}
	err := s.query(ctx, `SELECT pid, extract(epoch FROM now() - min(waitstart))::float8 FROM pg_locks
WHERE NOT granted AND waitstart IS NOT NULL GROUP BY pid`, func(rows pgx.Rows) error {
		var pid int32
		var age float64
		err := rows.Scan(&pid, &age)
		ages[pid] = age
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading lock wait starts: %w", err)
	}
	return ages, nil
}

// emitPool emits the pool view: every reported group with all its states,
// the per-(database, application) ages and counts, the capacity, and the
// per-database and per-role use and limits.
func emitPool(ch chan<- prometheus.Metric, p poolView, groups []group, snap activitySnapshot, thresholds []time.Duration) {
	for _, g := range groups {
		for _, st := range sessionStates {
			connections.Send(ch, float64(p.states[g][st]), g.datname, g.usename, g.app, st)
		}
	}
	for _, da := range dbAppsOf(groups) {
		a := p.dbApps[da]
		if a == nil {
			a = &dbAppStats{}
		}
		idleInTransaction.Send(ch, float64(a.idle), da.datname, da.app)
		idleInTransactionMaxAge.Send(ch, a.idleAge, da.datname, da.app)
		activeQueryMaxAge.Send(ch, a.activeAge, da.datname, da.app)
		for i, th := range thresholds {
			n := 0
			if a.over != nil {
				n = a.over[i]
			}
			activeQueriesOverThreshold.Send(ch, float64(n), da.datname, da.app, thresholdLabel(th))
		}
	}
	c := capacityOf(snap.capacity, p.used)
	connectionsMax.Send(ch, snap.capacity.maxConnections)
	connectionsReserved.Send(ch, c.reserved)
	connectionsAvailable.Send(ch, c.available)
	connectionsUtilization.Send(ch, c.utilization)
	for _, d := range snap.databases {
		db := p.dbs[d.name]
		if db == nil {
			db = &dbStats{}
		}
		databaseConnectionLimit.Send(ch, d.limit, d.name)
		databaseConnections.Send(ch, float64(db.conns), d.name)
		lockWaiting.Send(ch, float64(db.waiting), d.name)
		lockWaitMax.Send(ch, db.waitMax, d.name)
		lockBlockers.Send(ch, float64(len(db.blockers)), d.name)
		transactionMaxAge.Send(ch, db.txMax, d.name)
		transactionsOverThreshold.Send(ch, float64(db.txLong), d.name)
	}
	for _, r := range snap.roles {
		roleConnectionLimit.Send(ch, r.limit, r.name)
		roleConnections.Send(ch, float64(p.roles[r.name]), r.name)
	}
}

// emitIncumbentActivity emits pg_stat_activity_count, _max_tx_duration and
// pg_long_running_transactions* with postgres_exporter's names and labels.
func emitIncumbentActivity(ch chan<- prometheus.Metric, v incumbentView) {
	for _, r := range v.rows {
		k := r.key
		labels := []string{k.datname, k.state, k.usename, k.app, k.backendType, k.waitType, k.wait}
		statActivityCount.Send(ch, float64(r.count), labels...)
		statActivityMaxTxDuration.Send(ch, r.maxTx, labels...)
	}
	longRunningTransactions.Send(ch, float64(v.long))
	longRunningTransactionsOldest.Send(ch, v.oldest)
}
