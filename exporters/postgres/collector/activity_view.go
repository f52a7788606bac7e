package collector

import (
	"cmp"
	"slices"
	"strconv"
	"time"
)

// sessionStates are the values of pg_stat_activity.state, written verbatim as
// postgres_exporter does. Every pool-view group and, in
// pg_stat_activity_count, every database reports all of them.
var sessionStates = []string{"active", "idle", "idle in transaction", "idle in transaction (aborted)", "fastpath function call", "disabled"}

// labelNames maps open-ended names (applications, users) to their label
// values: the name itself or promkit.Other.
type labelNames struct {
	app, user func(string) string
}

// nameCounts counts the sessions attached to a database by application and
// by user: what the sticky top-N choice of label values weighs.
func nameCounts(sessions []session) (apps, users map[string]int) {
	apps, users = map[string]int{}, map[string]int{}
	for _, x := range sessions {
		if x.datname != "" {
			apps[x.app]++
			users[x.usename]++
		}
	}
	return apps, users
}

func limitNames(ls []limit) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.name
	}
	return out
}

// dbApp is one (database, application label) pair of the pool view.
type dbApp struct{ datname, app string }

// dbAppStats are the pool view's figures of one dbApp.
type dbAppStats struct {
	idle               int     // sessions idle in a transaction
	idleAge, activeAge float64 // oldest of them; oldest running query
	over               []int   // running queries over each threshold
}

// dbStats are the pool view's figures of one database.
type dbStats struct {
	conns, waiting, txLong int
	waitMax, txMax         float64
	blockers               map[int32]bool
}

// poolView is the connection-pool view of one snapshot, client backends only.
type poolView struct {
	used   int
	states map[group]map[string]int // sessions by group and state
	dbApps map[dbApp]*dbAppStats
	dbs    map[string]*dbStats
	roles  map[string]int // sessions by user name
}

// current is the set of groups seen in the snapshot.
func (p poolView) current() map[group]bool {
	out := make(map[group]bool, len(p.states))
	for g := range p.states {
		out[g] = true
	}
	return out
}

// aggregatePool folds the client backends of a snapshot into the pool view.
// lockWaited holds pg_locks' wait ages by pid; a waiter without one counts
// from its last state change.
func aggregatePool(sessions []session, lockWaited map[int32]float64, thresholds []time.Duration, long time.Duration, names labelNames) poolView {
	p := poolView{states: map[group]map[string]int{}, dbApps: map[dbApp]*dbAppStats{}, dbs: map[string]*dbStats{}, roles: map[string]int{}}
	for _, x := range sessions {
		if x.backendType != "client backend" {
			continue
		}
		p.used++
		p.roles[x.usename]++
		g := group{x.datname, names.user(x.usename), names.app(x.app)}
		if p.states[g] == nil {
			p.states[g] = map[string]int{}
		}
		p.states[g][x.state]++
		p.dbApp(dbApp{x.datname, g.app}).add(x, thresholds)
		p.db(x.datname).add(x, lockWaited, long)
	}
	return p
}

func (p poolView) dbApp(da dbApp) *dbAppStats {
	a := p.dbApps[da]
	if a == nil {
		a = &dbAppStats{}
		p.dbApps[da] = a
	}
	return a
}

func (p poolView) db(name string) *dbStats {
	d := p.dbs[name]
	if d == nil {
		d = &dbStats{blockers: map[int32]bool{}}
		p.dbs[name] = d
	}
	return d
}

func (a *dbAppStats) add(x session, thresholds []time.Duration) {
	switch x.state {
	case "idle in transaction", "idle in transaction (aborted)":
		a.idle++
		a.idleAge = max(a.idleAge, x.stateAge)
	case "active":
		a.activeAge = max(a.activeAge, x.queryAge)
		if a.over == nil {
			a.over = make([]int, len(thresholds))
		}
		for i, th := range thresholds {
			if x.queryAge > th.Seconds() {
				a.over[i]++
			}
		}
	}
}

func (d *dbStats) add(x session, lockWaited map[int32]float64, long time.Duration) {
	d.conns++
	if x.waitType == "Lock" {
		d.waiting++
		age, ok := lockWaited[x.pid]
		if !ok {
			age = x.stateAge
		}
		d.waitMax = max(d.waitMax, age)
		for _, b := range x.blockers {
			d.blockers[b] = true
		}
	}
	if x.xactAge >= 0 {
		d.txMax = max(d.txMax, x.xactAge)
		if x.xactAge > long.Seconds() {
			d.txLong++
		}
	}
}

// dbAppsOf lists the (database, application) pairs of groups once each, in
// the groups' order.
func dbAppsOf(groups []group) []dbApp {
	seen := map[dbApp]bool{}
	var out []dbApp
	for _, g := range groups {
		da := dbApp{g.datname, g.app}
		if !seen[da] {
			seen[da] = true
			out = append(out, da)
		}
	}
	return out
}

// thresholdLabel is a threshold as its threshold_seconds label value.
func thresholdLabel(th time.Duration) string {
	return strconv.FormatFloat(th.Seconds(), 'g', -1, 64)
}

// capacityFigures are the derived capacity gauges.
type capacityFigures struct {
	reserved, available, utilization float64
}

// capacityOf derives the reserved and available slots and the utilization
// ratio from the settings and the client connections in use.
func capacityOf(c capacity, used int) capacityFigures {
	reserved := c.superuserReserved + c.reserved
	f := capacityFigures{reserved: reserved, available: c.maxConnections - reserved - float64(used)}
	if open := c.maxConnections - reserved; open > 0 {
		f.utilization = float64(used) / open
	}
	return f
}

// activityKey is the label set of pg_stat_activity_count.
type activityKey struct{ datname, state, usename, app, backendType, waitType, wait string }

// activityRow is one series pair of pg_stat_activity_count/_max_tx_duration.
type activityRow struct {
	key   activityKey
	count int
	maxTx float64
}

// incumbentView is postgres_exporter's activity families of one snapshot.
type incumbentView struct {
	rows   []activityRow // sorted by key
	long   int           // client transactions past the threshold
	oldest float64       // age of the oldest client transaction
}

// incumbentActivity folds every backend attached to a database into
// pg_stat_activity_count and _max_tx_duration, and the client backends'
// transactions into pg_long_running_transactions*. As postgres_exporter,
// every database and state has a series, 0 while no session is in it, so
// the families exist on an idle server.
func incumbentActivity(sessions []session, databases []string, long time.Duration, names labelNames) incumbentView {
	var v incumbentView
	rows := map[activityKey]*activityRow{}
	seen := map[[2]string]bool{}
	for _, x := range sessions {
		if x.xactAge >= 0 && x.backendType == "client backend" {
			v.oldest = max(v.oldest, x.xactAge)
			if x.xactAge > long.Seconds() {
				v.long++
			}
		}
		if x.datname == "" {
			continue
		}
		k := activityKey{x.datname, x.state, names.user(x.usename), names.app(x.app), x.backendType, x.waitType, x.wait}
		r := rows[k]
		if r == nil {
			r = &activityRow{key: k}
			rows[k] = r
		}
		r.count++
		r.maxTx = max(r.maxTx, x.xactAge, 0)
		seen[[2]string{k.datname, k.state}] = true
	}
	for _, db := range databases {
		for _, state := range sessionStates {
			k := activityKey{datname: db, state: state}
			if !seen[[2]string{db, state}] {
				rows[k] = &activityRow{key: k}
			}
		}
	}
	v.rows = make([]activityRow, 0, len(rows))
	for _, r := range rows {
		v.rows = append(v.rows, *r)
	}
	slices.SortFunc(v.rows, func(a, b activityRow) int { return compareActivityKeys(a.key, b.key) })
	return v
}

func compareActivityKeys(a, b activityKey) int {
	return cmp.Or(cmp.Compare(a.datname, b.datname), cmp.Compare(a.state, b.state), cmp.Compare(a.usename, b.usename),
		cmp.Compare(a.app, b.app), cmp.Compare(a.backendType, b.backendType), cmp.Compare(a.waitType, b.waitType),
		cmp.Compare(a.wait, b.wait))
}
