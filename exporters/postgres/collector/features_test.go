package collector

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/exporters/postgres/config"
	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/outrigger/outrigger/internal/testkit"
)

// pg_stat_statements: the top N by total time get series, the rest sum into
// "other", and the family sums to the server's totals.
func TestStatementsTopNAndOther(t *testing.T) {
	f := newFixture(t, fixtureOptions{pg: testkit.PostgresOptions{StatStatements: true}, opts: config.Collector{StatementsTopN: 3}})
	c := openSession(t, f.pg, "postgres", "api")
	exec(t, c, "SELECT pg_stat_statements_reset()")
	for i := range 8 {
		exec(t, c, fmt.Sprintf("SELECT pg_sleep(0.0%d), %d AS q%d", i, i, i))
	}
	_, body, fams, _ := f.scrape(t, "5")
	testkit.CheckMetrics(t, body, incumbentNames...)
	if v := testkit.MustValue(t, fams, "pg_stat_statements_available", nil); v != 1 {
		t.Fatalf("pg_stat_statements_available = %v", v)
	}
	calls := fams["pg_stat_statements_calls_total"].GetMetric()
	if len(calls) != 4 {
		t.Fatalf("%d call series, want 3 + other", len(calls))
	}
	if v := testkit.MustValue(t, fams, "pg_stat_statements_calls_total", map[string]string{"queryid": "other"}); v < 5 {
		t.Errorf("other calls = %v, want at least the 5 statements beyond the top 3", v)
	}
	secs := 0.0
	for _, m := range fams["pg_stat_statements_seconds_total"].GetMetric() {
		secs += m.GetCounter().GetValue()
	}
	if secs < 0.28 { // 0.00+0.01+...+0.07 s of sleeps
		t.Errorf("sum of seconds = %v, want at least the 0.28 s slept", secs)
	}
	top := testkit.MustValue(t, fams, "pg_stat_statements_max_seconds", map[string]string{"user": "postgres", "datname": "postgres", "queryid": topQueryID(t, f)})
	if top < 0.07 {
		t.Errorf("max seconds of the slowest statement = %v", top)
	}
}

func topQueryID(t *testing.T, f *fixture) string {
	return strings.TrimSpace(f.pg.PSQL(t, "postgres", "SELECT queryid FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 1"))
}

// Without the extension one gauge says so and nothing fails.
func TestStatementsAbsentIsNotAFailure(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	_, _, fams, _ := f.scrape(t, "5")
	if v := testkit.MustValue(t, fams, "pg_stat_statements_available", nil); v != 0 {
		t.Errorf("pg_stat_statements_available = %v", v)
	}
	if v := testkit.MustValue(t, fams, "pg_scrape_collector_success", map[string]string{"collector": "statements"}); v != 1 {
		t.Errorf("statements collector success = %v, want 1 (skipped)", v)
	}
}

// Table statistics cover every matched database, read over one extra
// connection at a time, and are served from cache within the TTL.
func TestTablesFromEveryMatchedDatabase(t *testing.T) {
	f := newFixture(t, fixtureOptions{opts: config.Collector{Databases: config.Databases{Enabled: true,
		Exclude: regexp.MustCompile("^skipped$"), TTL: time.Hour, TablesLimit: 2, IndexesLimit: 2}}})
	for _, db := range []string{"shop", "crm", "skipped"} {
		f.pg.PSQL(t, "postgres", "CREATE DATABASE "+db)
		f.pg.PSQL(t, db, "CREATE TABLE a (id int); CREATE TABLE b (id int); CREATE TABLE c (id int); INSERT INTO a SELECT generate_series(1, 50); INSERT INTO b SELECT 1")
		// Indexes by size: a_big (5,000 rows) and a_id (50) are kept, c_id (empty) is beyond the limit of 2.
		f.pg.PSQL(t, db, "CREATE TABLE big (id int); INSERT INTO big SELECT generate_series(1, 5000); CREATE INDEX a_big ON big (id); CREATE INDEX a_id ON a (id); CREATE INDEX c_id ON c (id)")
	}
	// Three index scans on crm.a_id.
	f.pg.PSQL(t, "crm", "SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off; SELECT * FROM a WHERE id = 1; SELECT * FROM a WHERE id = 2; SELECT * FROM a WHERE id = 3")
	f.pg.PSQL(t, "postgres", "CREATE TABLE local (id int)")
	testkit.Eventually(t, 10*time.Second, "stats flushed", func() error {
		if out := f.pg.PSQL(t, "crm", "SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'a'"); out != "50\n" {
			return fmt.Errorf("n_live_tup %q", out)
		}
		return nil
	})
	testkit.Eventually(t, 10*time.Second, "index stats flushed", func() error {
		if out := f.pg.PSQL(t, "crm", "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'a_id'"); out != "3\n" {
			return fmt.Errorf("idx_scan %q", out)
		}
		return nil
	})
	_, _, fams, _ := f.scrape(t, "5")
	for _, db := range []string{"shop", "crm"} {
		if v := testkit.MustValue(t, fams, "pg_stat_user_tables_n_live_tup", map[string]string{"datname": db, "relname": "a"}); v != 50 {
			t.Errorf("%s.a n_live_tup = %v", db, v)
		}
		for _, idx := range []string{"a_big", "a_id"} {
			want, err := strconv.ParseFloat(strings.TrimSpace(f.pg.PSQL(t, db,
				"SELECT relpages::bigint * current_setting('block_size')::bigint FROM pg_class WHERE relname = '"+idx+"'")), 64)
			if err != nil {
				t.Fatal(err)
			}
			got := testkit.MustValue(t, fams, "pg_stat_user_indexes_estimated_size_bytes", map[string]string{"datname": db, "indexrelname": idx})
			if got != want || got < 8192 {
				t.Errorf("%s.%s size = %v, want %v (at least a page)", db, idx, got, want)
			}
		}
		if _, ok := testkit.Value(fams, "pg_stat_user_indexes_scans_total", map[string]string{"datname": db, "indexrelname": "c_id"}); ok {
			t.Errorf("%s.c_id reported beyond the limit of 2 indexes", db)
		}
	}
	if v := testkit.MustValue(t, fams, "pg_stat_user_indexes_scans_total", map[string]string{"datname": "crm", "relname": "a", "indexrelname": "a_id", "schemaname": "public"}); v != 3 {
		t.Errorf("crm.a_id scans = %v, want 3", v)
	}
	if v := testkit.MustValue(t, fams, "pg_stat_user_indexes_tuples_fetched_total", map[string]string{"datname": "crm", "indexrelname": "a_id"}); v != 3 {
		t.Errorf("crm.a_id tuples fetched = %v, want 3", v)
	}
	if _, ok := testkit.Value(fams, "pg_stat_user_tables_n_live_tup", map[string]string{"datname": "crm", "relname": "c"}); ok {
		t.Error("crm.c reported beyond the limit of 2 tables")
	}
	if _, ok := testkit.Value(fams, "pg_stat_user_tables_n_live_tup", map[string]string{"datname": "skipped"}); ok {
		t.Error("the excluded database was read")
	}
	if _, ok := testkit.Value(fams, "pg_stat_user_tables_seq_scan", map[string]string{"datname": "postgres", "relname": "local"}); !ok {
		t.Error("the DSN's database is missing")
	}
	before := f.target.Connects()
	_, _, fams, _ = f.scrape(t, "5")
	if got := f.target.Connects(); got != before {
		t.Errorf("a scrape within the TTL opened %d connections", got-before)
	}
	if _, ok := testkit.Value(fams, "pg_stat_user_tables_n_live_tup", map[string]string{"datname": "shop", "relname": "a"}); !ok {
		t.Error("cached database statistics not served")
	}
}

// Custom queries: types, labels, NULLs, minimum server version, TTL.
func TestCustomQueries(t *testing.T) {
	queries := []config.Query{
		{Name: "app_jobs", SQL: "SELECT kind, count(*) AS waiting, sum(size)::numeric AS bytes FROM jobs GROUP BY kind",
			Labels: []string{"kind"}, Values: []config.Value{{Column: "waiting", Type: "gauge"}, {Column: "bytes", Type: "counter"}}, TTL: time.Hour},
		{Name: "future", SQL: "SELECT 1 AS one", Values: []config.Value{{Column: "one", Type: "gauge"}}, MinVersionNum: 990000},
		{Name: "nulls", SQL: "SELECT NULL::int AS v", Values: []config.Value{{Column: "v", Type: "gauge"}}},
		{Name: "broken", SQL: "SELECT 1 AS other", Values: []config.Value{{Column: "v", Type: "gauge"}}},
	}
	f := newFixture(t, fixtureOptions{queries: queries})
	f.pg.PSQL(t, "postgres", "CREATE TABLE jobs (kind text, size int); INSERT INTO jobs VALUES ('mail', 10), ('mail', 5), ('pdf', 100)")
	_, body, fams, _ := f.scrape(t, "5")
	testkit.CheckMetrics(t, body, append(incumbentNames, "pg_app_jobs_bytes")...)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"pg_app_jobs_waiting", map[string]string{"kind": "mail"}, 2},
		{"pg_app_jobs_bytes", map[string]string{"kind": "pdf"}, 100},
		{"pg_scrape_collector_success", map[string]string{"collector": "query:app_jobs"}, 1},
		{"pg_scrape_collector_success", map[string]string{"collector": "query:future"}, 1},
		{"pg_scrape_collector_success", map[string]string{"collector": "query:nulls"}, 1},
		{"pg_scrape_collector_success", map[string]string{"collector": "query:broken"}, 0},
	} {
		if got := testkit.MustValue(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, ok := fams["pg_future_one"]; ok {
		t.Error("a query for a newer server ran")
	}
	f.pg.PSQL(t, "postgres", "INSERT INTO jobs VALUES ('mail', 1)")
	_, _, fams, _ = f.scrape(t, "5")
	if got := testkit.MustValue(t, fams, "pg_app_jobs_waiting", map[string]string{"kind": "mail"}); got != 2 {
		t.Errorf("within the TTL the cached value should be served: %v", got)
	}
}

// /probe: credentials from the auth module, one target per (target, module).
func TestProbeWithAuthModule(t *testing.T) {
	pg := testkit.StartPostgres(t, testkit.PostgresOptions{Password: "probe-pw"})
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("probe-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := &config.File{AuthModules: map[string]config.AuthModule{
		"main": {Type: "userpass", UserPass: config.UserPass{Username: "postgres", PasswordFile: pw}, Options: map[string]string{"sslmode": "disable"}},
		"bad":  {Type: "userpass", UserPass: config.UserPass{Username: "postgres", Password: "wrong"}, Options: map[string]string{"sslmode": "disable"}},
	}}
	probes := &Probes{Conn: config.ConnOptions{ConnectTimeout: 2 * time.Second}, File: func() *config.File { return file }, Max: 4,
		DSNHosts: []string{fmt.Sprintf("127.0.0.1:%d", pg.Port)}}
	vc, err := promkit.Config{Service: "postgres-exporter", ListenAddresses: []string{"127.0.0.1:0"}, TelemetryPath: "/metrics",
		LogLevel: "warn", LogFormat: "logfmt", ScrapeTimeoutOffset: 500 * time.Millisecond, ScrapeTimeoutMax: 10 * time.Second,
		DisableExporterMetrics: true}.Validate()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := promkit.NewServer(vc, promkit.Options{Namespace: Namespace})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle("/probe", srv.ScrapeHandler(probes.TargetFunc))
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		probes.Reset(ctx)
	})
	target := fmt.Sprintf("127.0.0.1:%d/postgres", pg.Port)
	for module, want := range map[string]float64{"main": 1, "bad": 0} {
		code, body := testkit.Get(t, hs.URL+"/probe?target="+target+"&auth_module="+module, http.Header{promkit.TimeoutHeader: {"3"}})
		if code != http.StatusOK {
			t.Fatalf("probe %s: %d %s", module, code, body)
		}
		if got := testkit.MustValue(t, testkit.Families(t, body), "pg_up", nil); got != want {
			t.Errorf("probe with auth module %s: pg_up = %v, want %v", module, got, want)
		}
		if strings.Contains(string(body), "probe-pw") {
			t.Error("the password is in the exposition")
		}
	}
	code, _ := testkit.Get(t, hs.URL+"/probe?target=postgres://postgres:probe-pw@"+target, nil)
	if code != http.StatusBadRequest {
		t.Errorf("credentials in the target URL: %d, want 400", code)
	}
}
