package main

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outrigger/outrigger/internal/testkit"
)

// goldenSettings make the end-to-end server's activity deterministic (no
// autovacuum worker comes and goes) and able to stream logical replication
// to itself, so the replication families have series.
var goldenSettings = map[string]string{"wal_level": "logical", "autovacuum": "off"}

// goldenMask is what of the end-to-end scrape varies from run to run: every
// value but those of the families in Keep, and the label values that are
// addresses, versions, oids, hashes or wait events.
var goldenMask = testkit.Mask{
	Keep: regexp.MustCompile(`^(pg_up|pg_static|pg_replication_is_replica|pg_replication_slots_active|` +
		`pg_stat_statements_available|pg_connections|pg_connections_max|pg_connections_reserved|` +
		`pg_database_connection_limit|pg_database_connections|pg_role_connection_limit|pg_role_connections|` +
		`pg_connections_idle_in_transaction|pg_connections_lock_waiting|pg_connections_lock_blockers|` +
		`pg_connections_transactions_over_threshold|pg_connections_active_queries_over_threshold|` +
		`pg_scrape_collector_success|pg_stat_activity_count|pg_long_running_transactions|pg_exporter_last_scrape_error|` +
		`pg_answer_value)$`),
	Labels: []string{"short_version", "datid", "queryid", "wait_event", "wait_event_type"},
	Drop:   regexp.MustCompile(`^go_`),
}

// goldenSetup gives the end-to-end server something in every family: a
// login role with a connection limit, a table with an index, a statement
// that dominates pg_stat_statements, a database subscribed to a publication
// of the same server (a walsender and a replication slot), and an idle
// client session, returned, that the test holds for the whole run.
func goldenSetup(t *testing.T, pg *testkit.Postgres) *pgx.Conn {
	t.Helper()
	pg.PSQL(t, "postgres", "CREATE ROLE golden_app LOGIN CONNECTION LIMIT 3")
	pg.PSQL(t, "postgres", "CREATE TABLE golden_jobs (id int PRIMARY KEY, kind text); INSERT INTO golden_jobs SELECT g, 'k' || g % 3 FROM generate_series(1, 100) g")
	pg.PSQL(t, "postgres", "CREATE PUBLICATION golden_pub FOR TABLE golden_jobs")
	pg.PSQL(t, "postgres", "SELECT pg_create_logical_replication_slot('golden_sub', 'pgoutput')")
	pg.PSQL(t, "postgres", "CREATE DATABASE golden_replica")
	pg.PSQL(t, "golden_replica", "CREATE TABLE golden_jobs (id int PRIMARY KEY, kind text)")
	pg.PSQL(t, "golden_replica", fmt.Sprintf(`CREATE SUBSCRIPTION golden_sub CONNECTION 'host=%s port=%d user=postgres dbname=postgres'
  PUBLICATION golden_pub WITH (create_slot = false, slot_name = 'golden_sub', copy_data = false)`, pg.SocketDir, pg.Port))
	// The top statement (--collector.statements.top-n=1): postgres's, in postgres.
	pg.PSQL(t, "postgres", "SELECT pg_sleep(1)")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	held, err := pgx.Connect(ctx, pg.DSN("postgres")+"&application_name=golden-api")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = held.Close(ctx)
	})
	waitFor(t, held, "the subscription streaming and the psql backends gone", `SELECT
  (SELECT count(*) FROM pg_stat_replication WHERE application_name = 'golden_sub' AND state = 'streaming') = 1
  AND (SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'golden_sub' AND active) = 1
  AND (SELECT count(*) FROM pg_stat_activity WHERE application_name = 'psql' AND pid <> pg_backend_pid()) = 0`)
	return held
}

// waitForExtraConnectionsGone waits until the backends of the exporter's
// database-scoped connections (opened by the first scrape, reused from cache
// after it) have exited: a backend seen by a later scrape would stay in the
// pool view for the label retention.
func waitForExtraConnectionsGone(t *testing.T, held *pgx.Conn) {
	t.Helper()
	waitFor(t, held, "the exporter's database-scoped backends gone", `SELECT count(*) = 0 FROM pg_stat_activity
WHERE application_name = 'outrigger-postgres-exporter' AND datname <> 'postgres'`)
}

// waitFor polls a query answering one boolean over the held session.
func waitFor(t *testing.T, held *pgx.Conn, what, sql string) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, what, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var ok bool
		if err := held.QueryRow(ctx, sql).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("not yet")
		}
		return nil
	})
}
