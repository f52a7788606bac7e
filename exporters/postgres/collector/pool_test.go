package collector

import (
	"context"
	"fmt"
	"github.com/jackc/pgx/v5"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/exporters/postgres/config"
	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/outrigger/outrigger/internal/testkit"
)

// Sessions opened in known states and with known application names appear
// exactly in pg_connections, and the utilization ratio counts them, not the
// exporter's own backend.
func TestPoolViewCountsKnownSessionsExactly(t *testing.T) {
	f := newFixture(t, fixtureOptions{pg: testkit.PostgresOptions{MaxConnections: 50}})
	f.pg.PSQL(t, "postgres", "CREATE ROLE reporter LOGIN CONNECTION LIMIT 5")
	var idle *pgx.Conn
	for range 3 {
		idle = openSession(t, f.pg, "postgres", "billing-api")
	}
	for range 2 {
		c := openSession(t, f.pg, "postgres", "worker")
		exec(t, c, "BEGIN")
		exec(t, c, "SELECT 1")
	}
	aborted := openSession(t, f.pg, "reporter", "reports")
	exec(t, aborted, "BEGIN")
	exec(t, aborted, "SELECT 1/0")
	busy := openSession(t, f.pg, "postgres", "worker")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = busy.Exec(ctx, "SELECT pg_sleep(30)") })
	t.Cleanup(func() { cancel(); wg.Wait() })
	testkit.Eventually(t, 10*time.Second, "the sleeping query running for over 1 s", func() error {
		out := f.pg.PSQL(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND now() - query_start > interval '1.2 s'")
		if out != "1\n" {
			return fmt.Errorf("got %q", out)
		}
		return nil
	})
	waitForPSQLGone(t, idle)

	code, body, fams, _ := f.scrape(t, "5")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	testkit.CheckMetrics(t, body, incumbentNames...)
	want := []struct {
		user, app, state string
		n                float64
	}{
		{"postgres", "billing-api", "idle", 3},
		{"postgres", "billing-api", "active", 0},
		{"postgres", "worker", "idle in transaction", 2},
		{"postgres", "worker", "active", 1},
		{"postgres", "worker", "idle", 0},
		{"reporter", "reports", "idle in transaction (aborted)", 1},
		{"reporter", "reports", "idle", 0},
	}
	for _, w := range want {
		got := testkit.MustValue(t, fams, "pg_connections", map[string]string{
			"datname": "postgres", "usename": w.user, "application_name": w.app, "state": w.state})
		if got != w.n {
			t.Errorf("pg_connections{%s,%s,%s} = %v, want %v", w.user, w.app, w.state, got, w.n)
		}
	}
	for _, m := range fams["pg_connections"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "application_name" && l.GetValue() == config.ApplicationName {
				t.Errorf("the exporter counts its own backend: %v", m)
			}
		}
	}
	used := 7.0
	check := map[string]float64{
		"pg_connections_max":               50,
		"pg_connections_reserved":          3,
		"pg_connections_available":         50 - 3 - used,
		"pg_connections_utilization_ratio": used / 47,
		"pg_long_running_transactions":     0,
	}
	for name, w := range check {
		if got := testkit.MustValue(t, fams, name, nil); fmt.Sprintf("%.6f", got) != fmt.Sprintf("%.6f", w) {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
	}
	byLabels := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"pg_database_connections", map[string]string{"datname": "postgres"}, used},
		{"pg_role_connections", map[string]string{"rolname": "reporter"}, 1},
		{"pg_role_connection_limit", map[string]string{"rolname": "reporter"}, 5},
		{"pg_connections_idle_in_transaction", map[string]string{"datname": "postgres", "application_name": "worker"}, 2},
		{"pg_connections_idle_in_transaction", map[string]string{"datname": "postgres", "application_name": "reports"}, 1},
		{"pg_connections_idle_in_transaction", map[string]string{"datname": "postgres", "application_name": "billing-api"}, 0},
		{"pg_connections_active_queries_over_threshold", map[string]string{"datname": "postgres", "application_name": "worker", "threshold_seconds": "1"}, 1},
		{"pg_connections_active_queries_over_threshold", map[string]string{"datname": "postgres", "application_name": "worker", "threshold_seconds": "30"}, 0},
		{"pg_connections_lock_waiting", map[string]string{"datname": "postgres"}, 0},
		{"pg_stat_activity_count", map[string]string{"datname": "postgres", "state": "idle in transaction", "application_name": "worker"}, 2},
	}
	for _, c := range byLabels {
		if got := testkit.MustValue(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if age := testkit.MustValue(t, fams, "pg_connections_active_query_max_age_seconds",
		map[string]string{"datname": "postgres", "application_name": "worker"}); age < 1 || age > 30 {
		t.Errorf("oldest running query age = %v, want between 1 and 30 s", age)
	}
	for _, m := range fams["pg_scrape_collector_success"].GetMetric() {
		if m.GetGauge().GetValue() != 1 {
			t.Errorf("collector failed: %v", m)
		}
	}
}

// Application names beyond the top N go to "other", and the label set stays
// once the sessions are gone (reported as 0).
func TestPoolViewTopNamesAndStableSeries(t *testing.T) {
	f := newFixture(t, fixtureOptions{opts: config.Collector{TopNames: 2}})
	for i, app := range []string{"a", "a", "a", "b", "b", "c", "d"} {
		_ = i
		openSession(t, f.pg, "postgres", app)
	}
	_, _, fams, _ := f.scrape(t, "5")
	for app, want := range map[string]float64{"a": 3, "b": 2, "other": 2} {
		got := testkit.MustValue(t, fams, "pg_connections", map[string]string{"application_name": app, "state": "idle"})
		if got != want {
			t.Errorf("idle connections of %q = %v, want %v", app, got, want)
		}
	}
	if _, ok := testkit.Value(fams, "pg_connections", map[string]string{"application_name": "c", "state": "idle"}); ok {
		t.Error(`"c" has its own series beyond the top 2`)
	}
}

// With an ACCESS EXCLUSIVE lock held and a session waiting on it, a scrape
// with a 2 s timeout answers in under 2 s with the pool and lock figures
// right; the collector stuck behind the lock fails alone.
func TestLockStormScrapeAnswersWithinDeadline(t *testing.T) {
	locked := config.Query{Name: "locked_rows", SQL: "SELECT count(*) AS n FROM jobs", Values: []config.Value{{Column: "n", Type: "gauge"}}}
	f := newFixture(t, fixtureOptions{queries: []config.Query{locked}})
	f.pg.PSQL(t, "postgres", "CREATE TABLE jobs (id int); INSERT INTO jobs SELECT generate_series(1, 100)")
	holder := openSession(t, f.pg, "postgres", "migration")
	exec(t, holder, "BEGIN")
	exec(t, holder, "LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE")
	waiter := openSession(t, f.pg, "postgres", "api")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = waiter.Exec(ctx, "SELECT count(*) FROM jobs") })
	t.Cleanup(func() { cancel(); wg.Wait() })
	testkit.Eventually(t, 10*time.Second, "the api session waiting on the lock", func() error {
		if out := f.pg.PSQL(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'api' AND wait_event_type = 'Lock'"); out != "1\n" {
			return fmt.Errorf("waiting sessions: %q", out)
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond)

	code, _, fams, took := f.scrape(t, "2")
	if code != http.StatusOK || took >= 2*time.Second {
		t.Fatalf("scrape took %s with status %d, want 200 in under 2 s", took, code)
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"pg_up", nil, 1},
		{"pg_connections_lock_waiting", map[string]string{"datname": "postgres"}, 1},
		{"pg_connections_lock_blockers", map[string]string{"datname": "postgres"}, 1},
		{"pg_connections", map[string]string{"application_name": "migration", "state": "idle in transaction"}, 1},
		{"pg_connections", map[string]string{"application_name": "api", "state": "active"}, 1},
		{"pg_connections_idle_in_transaction", map[string]string{"datname": "postgres", "application_name": "migration"}, 1},
		{"pg_scrape_collector_success", map[string]string{"collector": "activity"}, 1},
		{"pg_scrape_collector_success", map[string]string{"collector": "query:locked_rows"}, 0},
	}
	for _, c := range checks {
		if got := testkit.MustValue(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if age := testkit.MustValue(t, fams, "pg_connections_lock_wait_max_seconds", map[string]string{"datname": "postgres"}); age < 0.3 || age > 15 {
		t.Errorf("lock wait age = %v, want the time since the api session began waiting", age)
	}
	if n, ok := testkit.Value(fams, "pg_locks_count", map[string]string{"datname": "postgres", "mode": "accessexclusivelock"}); ok && n < 1 {
		t.Errorf("pg_locks_count accessexclusivelock = %v, want >= 1", n)
	}
	testkit.Eventually(t, 5*time.Second, "no exporter query left running", func() error {
		if n := exporterBackends(t, f.pg, " AND state = 'active'"); n != 0 {
			return fmt.Errorf("%d exporter queries still active", n)
		}
		return nil
	})
}

// 20 concurrent scrapes, half of whose clients hang up early, keep the
// exporter within its connection cap (1 with database-scoped statistics off,
// 1 + 1 with them on), and leave no query of it running.
func TestConcurrentScrapesStayWithinConnectionCap(t *testing.T) {
	for _, c := range []struct {
		name      string
		databases bool
		cap       int
	}{{"databases off", false, 1}, {"databases on", true, 2}} {
		t.Run(c.name, func(t *testing.T) {
			slow := config.Query{Name: "slow", SQL: "SELECT 1 AS one FROM pg_sleep(0.4)", Values: []config.Value{{Column: "one", Type: "gauge"}}}
			f := newFixture(t, fixtureOptions{queries: []config.Query{slow},
				opts: config.Collector{Databases: config.Databases{Enabled: c.databases, TTL: time.Nanosecond}}})
			for _, db := range []string{"other1", "other2", "other3"} {
				f.pg.PSQL(t, "postgres", "CREATE DATABASE "+db)
			}
			maxSeen := concurrentScrapes(t, f)
			if maxSeen > c.cap {
				t.Errorf("the exporter held %d backends at once, want at most %d", maxSeen, c.cap)
			}
			if c.databases && f.target.extraConnects.Load() == 0 {
				t.Error("no database-scoped connection was opened: the cap was not exercised")
			}
			testkit.Eventually(t, 5*time.Second, "no exporter query left running", func() error {
				if n := exporterBackends(t, f.pg, " AND state <> 'idle'"); n != 0 {
					return fmt.Errorf("%d exporter sessions not idle", n)
				}
				return nil
			})
			if n := exporterBackends(t, f.pg, ""); n > 1 {
				t.Errorf("%d exporter backends left, want at most 1", n)
			}
		})
	}
}

// concurrentScrapes runs 20 scrapes at once, half of them by clients that
// hang up after 150 ms, then 5 more, and returns the most exporter backends
// seen at any moment.
func concurrentScrapes(t *testing.T, f *fixture) int {
	stop := make(chan struct{})
	var maxSeen int
	var watch sync.WaitGroup
	watch.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if n := exporterBackends(t, f.pg, ""); n > maxSeen {
				maxSeen = n
			}
		}
	})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			timeout := 10 * time.Second
			if i%2 == 0 {
				timeout = 150 * time.Millisecond
			}
			client := &http.Client{Timeout: timeout}
			req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/metrics", nil)
			req.Header.Set(promkit.TimeoutHeader, "3")
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	for range 5 {
		wg.Go(func() { f.scrape(t, "3") })
	}
	wg.Wait()
	close(stop)
	watch.Wait()
	return maxSeen
}

// The server stopped and started again: pg_up goes to 0 (answer still 200,
// collector series still there, /ready 503) and back to 1 without restarting
// the exporter.
func TestServerRestartUpGoesToZeroAndBack(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	_, _, fams, _ := f.scrape(t, "3")
	if v := testkit.MustValue(t, fams, "pg_up", nil); v != 1 {
		t.Fatalf("pg_up = %v before the stop", v)
	}
	f.pg.Stop(t)
	code, body, fams, took := f.scrape(t, "3")
	if code != http.StatusOK || took > 3*time.Second {
		t.Fatalf("down: status %d after %s, want 200 within 3 s", code, took)
	}
	if v := testkit.MustValue(t, fams, "pg_up", nil); v != 0 {
		t.Errorf("pg_up = %v with the server stopped", v)
	}
	for _, c := range []string{"up", "activity", "settings", "locks", "tables"} {
		if v := testkit.MustValue(t, fams, "pg_scrape_collector_success", map[string]string{"collector": c}); v != 0 {
			t.Errorf("collector %s success = %v while down", c, v)
		}
	}
	testkit.CheckMetrics(t, body, incumbentNames...)
	if code, body := testkit.Get(t, f.srv.URL+"/ready", nil); code != http.StatusServiceUnavailable {
		t.Errorf("/ready = %d %s while down, want 503", code, body)
	}
	f.pg.Start(t)
	_, _, fams, _ = f.scrape(t, "3")
	if v := testkit.MustValue(t, fams, "pg_up", nil); v != 1 {
		t.Errorf("pg_up = %v after the restart", v)
	}
	if v := testkit.MustValue(t, fams, "pg_exporter_last_scrape_error", nil); v != 1 {
		t.Errorf("pg_exporter_last_scrape_error = %v after a failed scrape, want 1", v)
	}
	if code, _ := testkit.Get(t, f.srv.URL+"/ready", nil); code != http.StatusOK {
		t.Errorf("/ready = %d after the restart", code)
	}
}

// incumbentNames are postgres_exporter's names that promtool flags (counters
// without _total): kept for its dashboards.
var incumbentNames = func() []string {
	var out []string
	for _, fams := range [][]promkit.Family{statDatabaseColumns, statDatabase14Columns, conflictColumns, tableColumns} {
		for _, f := range fams {
			out = append(out, f.Name())
		}
	}
	return append(out, "pg_stat_archiver_archived_count", "pg_stat_archiver_failed_count", "pg_locks_count", "pg_stat_activity_count", "pg_settings_tcp_keepalives_count")
}()
