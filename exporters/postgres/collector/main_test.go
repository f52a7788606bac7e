package collector

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/outrigger/outrigger/exporters/postgres/config"
	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/outrigger/outrigger/internal/testkit"
)

func TestMain(m *testing.M) {
	code := m.Run()
	// testkit.Get's clients keep idle connections in the default transport.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if code == 0 {
		// pgx's cancel-request goroutine outlives a cancelled query by 100 ms.
		err := goleak.Find(goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgconn.(*CancelRequestContextWatcherHandler).HandleCancel.func1"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// fixture is a real PostgreSQL server with an exporter in front of it.
type fixture struct {
	pg     *testkit.Postgres
	target *Target
	srv    *httptest.Server
}

type fixtureOptions struct {
	pg      testkit.PostgresOptions
	opts    config.Collector
	queries []config.Query
}

func newFixture(t *testing.T, fo fixtureOptions) *fixture {
	t.Helper()
	pg := testkit.StartPostgres(t, fo.pg)
	return newFixtureOn(t, pg, fo)
}

func newFixtureOn(t *testing.T, pg *testkit.Postgres, fo fixtureOptions) *fixture {
	t.Helper()
	return newFixtureOnTB(t, pg, fo)
}

func newFixtureOnTB(t testing.TB, pg *testkit.Postgres, fo fixtureOptions) *fixture {
	t.Helper()
	cc, err := config.ConnConfig(pg.DSN("postgres"), "", config.ConnOptions{
		StatementTimeout: 5 * time.Second, LockTimeout: 500 * time.Millisecond, ConnectTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Collector: fo.opts}
	if fo.queries != nil {
		qs := fo.queries
		opts.Queries = func() []config.Query { return qs }
	}
	target := NewTarget(cc, opts)
	vc, err := promkit.Config{Service: "postgres-exporter", ListenAddresses: []string{"127.0.0.1:0"}, TelemetryPath: "/metrics",
		LogLevel: "warn", LogFormat: "logfmt", ScrapeTimeoutOffset: 500 * time.Millisecond, ScrapeTimeoutMax: 10 * time.Second,
		DisableExporterMetrics: true}.Validate()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := promkit.NewServer(vc, promkit.Options{Namespace: Namespace, Ready: target.Ready,
		Target: func(*http.Request) (string, promkit.StartFunc, error) { return "default", target.Start, nil }})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		target.Close(ctx)
	})
	return &fixture{pg: pg, target: target, srv: hs}
}

// scrape fetches /metrics with Prometheus's timeout header.
func (f *fixture) scrape(t *testing.T, timeout string) (int, []byte, map[string]*dto.MetricFamily, time.Duration) {
	t.Helper()
	h := http.Header{}
	if timeout != "" {
		h.Set(promkit.TimeoutHeader, timeout)
	}
	start := time.Now()
	code, body := testkit.Get(t, f.srv.URL+"/metrics", h)
	took := time.Since(start)
	return code, body, testkit.Families(t, body), took
}

// session opens a connection the test controls, with an application name.
func openSession(t *testing.T, pg *testkit.Postgres, user, app string) *pgx.Conn {
	t.Helper()
	dsn := pg.DSN("postgres") + "&application_name=" + app
	if user != "postgres" {
		dsn = strings.Replace(dsn, "postgres://postgres@", "postgres://"+user+"@", 1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting as %s/%s: %v", user, app, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

func exec(t *testing.T, c *pgx.Conn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Exec(ctx, sql); err != nil && !strings.Contains(sql, "1/0") {
		t.Fatalf("%s: %v", sql, err)
	}
}

// exporterBackends counts the exporter's sessions on the server.
func exporterBackends(t *testing.T, pg *testkit.Postgres, where string) int {
	t.Helper()
	out := pg.PSQL(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"+config.ApplicationName+"'"+where)
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("counting exporter backends: %q: %v", out, err)
	}
	return n
}

// waitForPSQLGone waits, over a session the test already holds, until the
// backends of psql commands the test ran have exited: a backend outlives its
// psql client briefly, and on a loaded machine long enough to be counted.
func waitForPSQLGone(t *testing.T, c *pgx.Conn) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, "psql backends gone", func() error {
		var n int
		err := c.QueryRow(context.Background(),
			"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'psql' AND pid <> pg_backend_pid()").Scan(&n)
		if err == nil && n != 0 {
			err = fmt.Errorf("%d psql backends left", n)
		}
		return err
	})
}
