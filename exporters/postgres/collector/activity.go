package collector

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// States are the values of pg_stat_activity.state, written verbatim as
// postgres_exporter does. Every pool-view group reports all of them.
var States = []string{"active", "idle", "idle in transaction", "idle in transaction (aborted)", "fastpath function call", "disabled"}

var (
	connectionsDesc = desc("connections",
		"Client connections by database, user, application (top N, the rest \"other\") and state; the exporter's own is left out.",
		"datname", "usename", "application_name", "state")
	connMaxDesc      = desc("connections_max", "max_connections of the server.")
	connReservedDesc = desc("connections_reserved",
		"Connection slots reserved for superusers and pg_use_reserved_connections roles (superuser_reserved_connections + reserved_connections).")
	connAvailDesc = desc("connections_available",
		"Connection slots still open to ordinary roles: max_connections - reserved - client connections in use.")
	connUtilDesc = desc("connections_utilization_ratio",
		"Client connections in use / (max_connections - reserved): the pool utilization.")
	dbConnLimitDesc = desc("database_connection_limit", "Connection limit of the database (-1: none).", "datname")
	dbConnDesc      = desc("database_connections", "Client connections to the database.", "datname")
	roleLimitDesc   = desc("role_connection_limit", "Connection limit of a login role that has one.", "rolname")
	roleConnDesc    = desc("role_connections", "Client connections of a login role that has a connection limit.", "rolname")

	idleTxDesc = desc("connections_idle_in_transaction",
		"Client sessions idle in a transaction (including aborted ones) by database and application.", "datname", "application_name")
	idleTxAgeDesc = desc("connections_idle_in_transaction_max_age_seconds",
		"How long the oldest idle-in-transaction session has been idle, by database and application (0: none).", "datname", "application_name")
	activeAgeDesc = desc("connections_active_query_max_age_seconds",
		"How long the oldest running query has run, by database and application (0: none).", "datname", "application_name")
	activeOverDesc = desc("connections_active_queries_over_threshold",
		"Running queries older than threshold_seconds, by database and application.", "datname", "application_name", "threshold_seconds")
	lockWaitDesc = desc("connections_lock_waiting",
		"Client sessions waiting on a heavyweight lock, by database.", "datname")
	lockWaitAgeDesc = desc("connections_lock_wait_max_seconds",
		"How long the longest current heavyweight-lock wait has lasted, by database (0: none).", "datname")
	lockBlockersDesc = desc("connections_lock_blockers",
		"Distinct sessions blocking others on a heavyweight lock, by database of the waiter.", "datname")
	txAgeDesc = desc("connections_transaction_max_age_seconds",
		"How long the oldest open transaction of a client session has been open, by database (0: none).", "datname")
	txLongDesc = desc("connections_transactions_over_threshold",
		"Client transactions open for longer than the long-transaction threshold, by database.", "datname")

	activityCountDesc = desc("stat_activity_count", "number of connections in this state",
		"datname", "state", "usename", "application_name", "backend_type", "wait_event_type", "wait_event")
	activityMaxTxDesc = desc("stat_activity_max_tx_duration", "max duration in seconds any active transaction has been running",
		"datname", "state", "usename", "application_name", "backend_type", "wait_event_type", "wait_event")
	longTxDesc = desc("long_running_transactions",
		"Transactions open for longer than the long-transaction threshold (not every transaction, unlike postgres_exporter).")
	longTxOldestDesc = desc("long_running_transactions_oldest_timestamp_seconds",
		"Age in seconds of the oldest open transaction.")
)

// session is one row of the pg_stat_activity snapshot.
type session struct {
	datname, usename, app, state, backendType, waitType, wait string
	xactAge, queryAge, stateAge                               float64 // seconds, -1 when NULL
	blockers                                                  []int32
	pid                                                       int32
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
	var sessions []session
	err := s.query(ctx, activitySQL, func(rows pgx.Rows) error {
		var x session
		if err := rows.Scan(&x.datname, &x.usename, &x.app, &x.state, &x.backendType, &x.waitType, &x.wait,
			&x.xactAge, &x.queryAge, &x.stateAge, &x.blockers, &x.pid); err != nil {
			return err
		}
		sessions = append(sessions, x)
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading pg_stat_activity: %w", err)
	}
	var maxConn, suReserved, reserved float64
	if err := s.query(ctx, capacitySQL, func(rows pgx.Rows) error { return rows.Scan(&maxConn, &suReserved, &reserved) }); err != nil {
		return fmt.Errorf("reading connection settings: %w", err)
	}
	type limit struct {
		name  string
		limit float64
	}
	var dbs, roles []limit
	if err := s.query(ctx, "SELECT datname, datconnlimit FROM pg_database ORDER BY datname", func(rows pgx.Rows) error {
		var l limit
		err := rows.Scan(&l.name, &l.limit)
		dbs = append(dbs, l)
		return err
	}); err != nil {
		return fmt.Errorf("reading pg_database: %w", err)
	}
	if err := s.query(ctx, "SELECT rolname, rolconnlimit FROM pg_roles WHERE rolcanlogin AND rolconnlimit >= 0 ORDER BY rolname", func(rows pgx.Rows) error {
		var l limit
		err := rows.Scan(&l.name, &l.limit)
		roles = append(roles, l)
		return err
	}); err != nil {
		return fmt.Errorf("reading pg_roles: %w", err)
	}
	waitAges, err := s.lockWaitAges(ctx, sessions)
	if err != nil {
		return err
	}

	now := time.Now()
	appCounts, userCounts := map[string]int{}, map[string]int{}
	for _, x := range sessions {
		if x.datname != "" {
			appCounts[x.app]++
			userCounts[x.usename]++
		}
	}
	appLabel := s.t.apps.update(now, appCounts)
	userLabel := s.t.users.update(now, userCounts)

	names := make([]string, len(dbs))
	for i, d := range dbs {
		names[i] = d.name
	}
	s.emitIncumbentActivity(ch, sessions, names, appLabel, userLabel)

	// The pool view: client backends only.
	pool := map[group]map[string]int{}
	current := map[group]bool{}
	perDB := map[string]int{}
	perRole := map[string]int{}
	used := 0
	type dbApp struct{ datname, app string }
	idleN, activeOver := map[dbApp]int{}, map[dbApp][]int{}
	idleAge, activeAge := map[dbApp]float64{}, map[dbApp]float64{}
	waitN, blockers := map[string]int{}, map[string]map[int32]bool{}
	waitMax, txMax, txLong := map[string]float64{}, map[string]float64{}, map[string]int{}
	for _, x := range sessions {
		if x.backendType != "client backend" {
			continue
		}
		used++
		perDB[x.datname]++
		perRole[x.usename]++
		g := group{x.datname, userLabel(x.usename), appLabel(x.app)}
		current[g] = true
		if pool[g] == nil {
			pool[g] = map[string]int{}
		}
		pool[g][x.state]++
		da := dbApp{x.datname, g.app}
		switch x.state {
		case "idle in transaction", "idle in transaction (aborted)":
			idleN[da]++
			idleAge[da] = max(idleAge[da], x.stateAge)
		case "active":
			activeAge[da] = max(activeAge[da], x.queryAge)
			if activeOver[da] == nil {
				activeOver[da] = make([]int, len(s.t.opts.QueryThresholds))
			}
			for i, th := range s.t.opts.QueryThresholds {
				if x.queryAge > th.Seconds() {
					activeOver[da][i]++
				}
			}
		}
		if x.waitType == "Lock" {
			waitN[x.datname]++
			age, ok := waitAges[x.pid]
			if !ok {
				age = x.stateAge
			}
			waitMax[x.datname] = max(waitMax[x.datname], age)
			if blockers[x.datname] == nil {
				blockers[x.datname] = map[int32]bool{}
			}
			for _, b := range x.blockers {
				blockers[x.datname][b] = true
			}
		}
		if x.xactAge >= 0 {
			txMax[x.datname] = max(txMax[x.datname], x.xactAge)
			if x.xactAge > s.t.opts.LongTransaction.Seconds() {
				txLong[x.datname]++
			}
		}
	}
	groups := s.t.groups.update(now, current)
	for _, g := range groups {
		for _, st := range States {
			gauge(ch, connectionsDesc, float64(pool[g][st]), g.datname, g.usename, g.app, st)
		}
	}
	seenDA := map[dbApp]bool{}
	for _, g := range groups {
		da := dbApp{g.datname, g.app}
		if seenDA[da] {
			continue
		}
		seenDA[da] = true
		gauge(ch, idleTxDesc, float64(idleN[da]), da.datname, da.app)
		gauge(ch, idleTxAgeDesc, idleAge[da], da.datname, da.app)
		gauge(ch, activeAgeDesc, activeAge[da], da.datname, da.app)
		for i, th := range s.t.opts.QueryThresholds {
			n := 0
			if activeOver[da] != nil {
				n = activeOver[da][i]
			}
			gauge(ch, activeOverDesc, float64(n), da.datname, da.app, strconv.FormatFloat(th.Seconds(), 'g', -1, 64))
		}
	}

	allReserved := suReserved + reserved
	gauge(ch, connMaxDesc, maxConn)
	gauge(ch, connReservedDesc, allReserved)
	gauge(ch, connAvailDesc, maxConn-allReserved-float64(used))
	ratio := 0.0
	if open := maxConn - allReserved; open > 0 {
		ratio = float64(used) / open
	}
	gauge(ch, connUtilDesc, ratio)
	for _, d := range dbs {
		gauge(ch, dbConnLimitDesc, d.limit, d.name)
		gauge(ch, dbConnDesc, float64(perDB[d.name]), d.name)
		gauge(ch, lockWaitDesc, float64(waitN[d.name]), d.name)
		gauge(ch, lockWaitAgeDesc, waitMax[d.name], d.name)
		gauge(ch, lockBlockersDesc, float64(len(blockers[d.name])), d.name)
		gauge(ch, txAgeDesc, txMax[d.name], d.name)
		gauge(ch, txLongDesc, float64(txLong[d.name]), d.name)
	}
	for _, r := range roles {
		gauge(ch, roleLimitDesc, r.limit, r.name)
		gauge(ch, roleConnDesc, float64(perRole[r.name]), r.name)
	}
	return nil
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

// activityStates are the states postgres_exporter reports for every
// database, with zeros where no session is in them.
var activityStates = []string{"active", "idle", "idle in transaction", "idle in transaction (aborted)",
	"fastpath function call", "disabled"}

// emitIncumbentActivity emits pg_stat_activity_count, _max_tx_duration and
// pg_long_running_transactions* with postgres_exporter's names and labels,
// over every backend attached to a database.
func (s *scrape) emitIncumbentActivity(ch chan<- prometheus.Metric, sessions []session, databases []string, appLabel, userLabel func(string) string) {
	type key struct{ datname, state, usename, app, backendType, waitType, wait string }
	count, maxTx := map[key]int{}, map[key]float64{}
	long, oldest := 0, 0.0
	for _, x := range sessions {
		if x.xactAge >= 0 && x.backendType == "client backend" {
			oldest = max(oldest, x.xactAge)
			if x.xactAge > s.t.opts.LongTransaction.Seconds() {
				long++
			}
		}
		if x.datname == "" {
			continue
		}
		k := key{x.datname, x.state, userLabel(x.usename), appLabel(x.app), x.backendType, x.waitType, x.wait}
		count[k]++
		maxTx[k] = max(maxTx[k], x.xactAge, 0)
	}
	// As postgres_exporter: every database and state has a series, 0 while
	// no session is in it, so the families exist on an idle server.
	seen := map[[2]string]bool{}
	for k := range count {
		seen[[2]string{k.datname, k.state}] = true
	}
	for _, db := range databases {
		for _, state := range activityStates {
			if !seen[[2]string{db, state}] {
				count[key{datname: db, state: state}] = 0
			}
		}
	}
	keys := make([]key, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	for _, k := range keys {
		labels := []string{k.datname, k.state, k.usename, k.app, k.backendType, k.waitType, k.wait}
		gauge(ch, activityCountDesc, float64(count[k]), labels...)
		gauge(ch, activityMaxTxDesc, maxTx[k], labels...)
	}
	gauge(ch, longTxDesc, float64(long))
	gauge(ch, longTxOldestDesc, oldest)
}
