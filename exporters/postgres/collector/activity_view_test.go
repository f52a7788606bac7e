package collector

import (
	"reflect"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/promkit"
)

// keepNames labels every name as itself; topOnly keeps only the names given.
var keepNames = labelNames{app: func(s string) string { return s }, user: func(s string) string { return s }}

func topOnly(apps ...string) labelNames {
	return labelNames{user: keepNames.user, app: func(s string) string {
		for _, a := range apps {
			if a == s {
				return s
			}
		}
		return promkit.Other
	}}
}

func client(db, user, app, state string) session {
	return session{datname: db, usename: user, app: app, state: state, backendType: "client backend",
		xactAge: -1, queryAge: -1, stateAge: -1}
}

var thresholds = []time.Duration{time.Second, 30 * time.Second}

// The pool view counts client backends only, folds names beyond the top N
// into "other", and takes ages, lock waits and long transactions per
// database and per (database, application).
func TestAggregatePool(t *testing.T) {
	idleTx := client("app", "web", "api", "idle in transaction")
	idleTx.stateAge, idleTx.xactAge = 12, 90
	aborted := client("app", "web", "api", "idle in transaction (aborted)")
	aborted.stateAge, aborted.xactAge = 40, 41
	slow := client("app", "web", "api", "active")
	slow.queryAge, slow.xactAge = 45, 45
	quick := client("app", "web", "cron", "active")
	quick.queryAge, quick.xactAge = 2, 2
	waiter := client("app", "batch", "etl", "active")
	waiter.queryAge, waiter.stateAge, waiter.xactAge = 0.5, 7, 8
	waiter.waitType, waiter.pid, waiter.blockers = "Lock", 42, []int32{7, 8}
	waiter2 := client("app", "batch", "etl", "active")
	waiter2.queryAge, waiter2.stateAge, waiter2.xactAge = 0.5, 3, 3
	waiter2.waitType, waiter2.pid, waiter2.blockers = "Lock", 43, []int32{8}
	walsender := session{datname: "app", usename: "repl", app: "standby", state: "active", backendType: "walsender", xactAge: 500}
	sessions := []session{idleTx, aborted, slow, quick, waiter, waiter2, client("other_db", "web", "api", "idle"), walsender}

	p := aggregatePool(sessions, map[int32]float64{42: 20}, thresholds, time.Minute, topOnly("api", "etl"))

	if p.used != 7 {
		t.Errorf("used = %d, want 7 (the walsender left out)", p.used)
	}
	wantStates := map[group]map[string]int{
		{"app", "web", "api"}:      {"idle in transaction": 1, "idle in transaction (aborted)": 1, "active": 1},
		{"app", "web", "other"}:    {"active": 1},
		{"app", "batch", "etl"}:    {"active": 2},
		{"other_db", "web", "api"}: {"idle": 1},
	}
	if !reflect.DeepEqual(p.states, wantStates) {
		t.Errorf("states = %v, want %v", p.states, wantStates)
	}
	api := p.dbApps[dbApp{"app", "api"}]
	if api.idle != 2 || api.idleAge != 40 || api.activeAge != 45 || !reflect.DeepEqual(api.over, []int{1, 1}) {
		t.Errorf("app/api = %+v", *api)
	}
	if other := p.dbApps[dbApp{"app", "other"}]; other.activeAge != 2 || !reflect.DeepEqual(other.over, []int{1, 0}) {
		t.Errorf("app/other = %+v", *other)
	}
	db := p.dbs["app"]
	if db.conns != 6 || db.waiting != 2 || db.waitMax != 20 || len(db.blockers) != 2 || db.txMax != 90 || db.txLong != 1 {
		t.Errorf("app = %+v (wait age from pg_locks for pid 42, from state_change for 43)", *db)
	}
	if !reflect.DeepEqual(p.roles, map[string]int{"web": 5, "batch": 2}) {
		t.Errorf("roles = %v", p.roles)
	}
	if got := len(p.current()); got != 4 {
		t.Errorf("current groups = %d, want 4", got)
	}
}

// A lock waiter without a pg_locks wait start (before PostgreSQL 14) counts
// from its last state change.
func TestAggregatePoolWaitWithoutWaitStart(t *testing.T) {
	w := client("app", "web", "api", "active")
	w.waitType, w.stateAge = "Lock", 9
	if got := aggregatePool([]session{w}, nil, thresholds, time.Minute, keepNames).dbs["app"].waitMax; got != 9 {
		t.Errorf("wait max = %v, want 9", got)
	}
}

func TestCapacityOf(t *testing.T) {
	for _, c := range []struct {
		in   capacity
		used int
		want capacityFigures
	}{
		{capacity{100, 3, 0}, 7, capacityFigures{reserved: 3, available: 90, utilization: 7.0 / 97}},
		{capacity{50, 3, 2}, 45, capacityFigures{reserved: 5, available: 0, utilization: 1}},
		{capacity{3, 3, 0}, 1, capacityFigures{reserved: 3, available: -1, utilization: 0}},
	} {
		if got := capacityOf(c.in, c.used); got != c.want {
			t.Errorf("capacityOf(%+v, %d) = %+v, want %+v", c.in, c.used, got, c.want)
		}
	}
}

// postgres_exporter's families: every backend attached to a database,
// names folded, every (database, state) present, rows in label order; long
// transactions over client backends only.
func TestIncumbentActivity(t *testing.T) {
	a := client("app", "web", "api", "idle in transaction")
	a.xactAge = 120
	b := client("app", "web", "cron", "idle in transaction")
	b.xactAge = 30
	autovac := session{datname: "app", state: "active", backendType: "autovacuum worker", xactAge: 600}
	background := session{backendType: "checkpointer", xactAge: -1}
	v := incumbentActivity([]session{a, b, autovac, background}, []string{"app"}, time.Minute, topOnly("api"))

	if v.long != 1 || v.oldest != 120 {
		t.Errorf("long = %d, oldest = %v; want 1, 120 (the autovacuum worker is no client)", v.long, v.oldest)
	}
	want := []activityRow{
		{key: activityKey{datname: "app", state: "active", app: "other", backendType: "autovacuum worker"}, count: 1, maxTx: 600},
		{key: activityKey{datname: "app", state: "disabled"}},
		{key: activityKey{datname: "app", state: "fastpath function call"}},
		{key: activityKey{datname: "app", state: "idle"}},
		{key: activityKey{"app", "idle in transaction", "web", "api", "client backend", "", ""}, count: 1, maxTx: 120},
		{key: activityKey{"app", "idle in transaction", "web", "other", "client backend", "", ""}, count: 1, maxTx: 30},
		{key: activityKey{datname: "app", state: "idle in transaction (aborted)"}},
	}
	if !reflect.DeepEqual(v.rows, want) {
		t.Errorf("rows:\n%v\nwant\n%v", v.rows, want)
	}
}

func TestNameCountsAndDbApps(t *testing.T) {
	apps, users := nameCounts([]session{client("app", "web", "api", "idle"), client("app", "web", "api", "idle"),
		client("app", "batch", "etl", "idle"), {usename: "repl", app: "standby"}})
	if !reflect.DeepEqual(apps, map[string]int{"api": 2, "etl": 1}) || !reflect.DeepEqual(users, map[string]int{"web": 2, "batch": 1}) {
		t.Errorf("apps %v, users %v (sessions without a database left out)", apps, users)
	}
	got := dbAppsOf([]group{{"a", "u1", "x"}, {"a", "u2", "x"}, {"a", "u1", "y"}, {"b", "u1", "x"}})
	if want := []dbApp{{"a", "x"}, {"a", "y"}, {"b", "x"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("dbAppsOf = %v, want %v", got, want)
	}
	if got := thresholdLabel(1500 * time.Millisecond); got != "1.5" {
		t.Errorf("threshold label %q", got)
	}
}

// The "other" statements are the totals minus the top N, never below 0.
func TestOtherStatements(t *testing.T) {
	top := []statement{{statementTotals: statementTotals{10, 2, 100}}, {statementTotals: statementTotals{5, 1, 60}}}
	if got, want := otherStatements(top, statementTotals{20, 3.5, 150}), (statementTotals{5, 0.5, 0}); got != want {
		t.Errorf("other = %+v, want %+v", got, want)
	}
	if m := (statement{statementTotals: statementTotals{calls: 4, seconds: 2}}).mean(); m != 0.5 {
		t.Errorf("mean = %v", m)
	}
	if m := (statement{}).mean(); m != 0 {
		t.Errorf("mean without calls = %v", m)
	}
}

// Sticky names: the busiest fresh names take the free slots, ties by name;
// a name keeps its slot while seen within the retention.
func TestStickyNames(t *testing.T) {
	s := newStickyNames(2, time.Minute)
	t0 := time.Unix(1000, 0)
	label := s.update(t0, map[string]int{"c": 1, "b": 3, "a": 3, "other": 9})
	if label("a") != "a" || label("b") != "b" || label("c") != promkit.Other || label("other") != promkit.Other {
		t.Errorf("first choice: a=%s b=%s c=%s", label("a"), label("b"), label("c"))
	}
	label = s.update(t0.Add(30*time.Second), map[string]int{"c": 50, "a": 1})
	if label("b") != "b" || label("c") != promkit.Other {
		t.Errorf("b lost its slot within the retention, or c took one: b=%s c=%s", label("b"), label("c"))
	}
	label = s.update(t0.Add(2*time.Minute), map[string]int{"c": 50, "a": 1})
	if label("b") != promkit.Other || label("c") != "c" || label("a") != "a" {
		t.Errorf("after b's retention: a=%s b=%s c=%s", label("a"), label("b"), label("c"))
	}
}

// Sticky groups: at most max, the most recently seen kept, returned in
// label order; a group is forgotten after the retention.
func TestStickyGroups(t *testing.T) {
	s := newStickyGroups(time.Minute, 2)
	t0 := time.Unix(1000, 0)
	g := func(app string) group { return group{"db", "u", app} }
	s.update(t0, map[group]bool{g("c"): true})
	got := s.update(t0.Add(time.Second), map[group]bool{g("b"): true, g("a"): true})
	if want := []group{g("a"), g("b")}; !reflect.DeepEqual(got, want) {
		t.Errorf("groups %v, want %v (c the oldest, dropped)", got, want)
	}
	got = s.update(t0.Add(2*time.Second), map[group]bool{g("c"): true})
	if want := []group{g("a"), g("c")}; !reflect.DeepEqual(got, want) {
		t.Errorf("groups %v, want %v (a before b at the same time)", got, want)
	}
	got = s.update(t0.Add(2*time.Minute), map[group]bool{})
	if len(got) != 0 {
		t.Errorf("groups past the retention: %v", got)
	}
}
