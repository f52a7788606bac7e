package collector

import (
	"fmt"
	"github.com/jackc/pgx/v5"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/outrigger/outrigger/internal/testkit"
)

// The upstream mixin's alert expressions (testdata/mixin-alerts.yml) select
// and evaluate our series: promtool rule tests fed with what the exporter
// scraped from a server at its connection limit, holding many locks and an
// unused replication slot, then stopped.
func TestUpstreamMixinAlertsEvaluateOnOurSeries(t *testing.T) {
	f := newFixture(t, fixtureOptions{pg: testkit.PostgresOptions{MaxConnections: 10,
		Settings: map[string]string{"max_locks_per_transaction": "10", "autovacuum": "off"}}})
	var ddl strings.Builder
	for i := range 25 {
		fmt.Fprintf(&ddl, "CREATE TABLE t%d (id int);", i)
	}
	f.pg.PSQL(t, "postgres", ddl.String())
	f.pg.PSQL(t, "postgres", "SELECT pg_create_physical_replication_slot('standby1')")
	f.pg.PSQL(t, "postgres", "CREATE TABLE churn (id int); INSERT INTO churn SELECT generate_series(1, 1000); DELETE FROM churn")
	var sessions []string
	for i := range 7 {
		sessions = append(sessions, fmt.Sprintf("app%d", i))
	}
	var idle *pgx.Conn
	for i, app := range sessions {
		c := openSession(t, f.pg, "postgres", app)
		if i == 1 {
			idle = c
		}
		if i == 0 {
			exec(t, c, "BEGIN")
			for j := range 25 {
				exec(t, c, fmt.Sprintf("LOCK TABLE t%d IN ACCESS EXCLUSIVE MODE", j))
			}
		}
	}
	testkit.Eventually(t, 10*time.Second, "dead tuples reported", func() error {
		if out := f.pg.PSQL(t, "postgres", "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'churn'"); out != "1000\n" {
			return fmt.Errorf("n_dead_tup %q", out)
		}
		return nil
	})
	waitForPSQLGone(t, idle)
	_, _, up, _ := f.scrape(t, "5")

	rules, err := os.ReadFile("../testdata/mixin-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, name := range regexp.MustCompile(`\bpg_[a-z_]+`).FindAllString(string(rules), -1) {
		used[name] = true
		if _, ok := up[name]; !ok {
			t.Errorf("the mixin queries %s, which the exporter does not emit", name)
		}
	}
	f.pg.Stop(t)
	_, _, down, _ := f.scrape(t, "3")
	if v := testkit.MustValue(t, down, "pg_up", nil); v != 0 {
		t.Fatalf("pg_up = %v with the server stopped", v)
	}

	// 10 minutes of the "up" scrape, then 30 of the "down" one for pg_up.
	var series []string
	for name := range used {
		fam := up[name]
		for _, m := range fam.GetMetric() {
			v := value(m)
			values := fmt.Sprintf("%sx40", strconv.FormatFloat(v, 'g', -1, 64))
			if name == "pg_up" {
				values = "1x9 0x30"
			}
			series = append(series, fmt.Sprintf("      - series: '%s'\n        values: '%s'\n", seriesName(name, m), values))
		}
	}
	sort.Strings(series)
	inst := `job: postgres, instance: "db:5432"`
	test := `rule_files: [` + absPath(t, "../testdata/mixin-alerts.yml") + `]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
` + strings.Join(series, "") + `
    alert_rule_test:
      - {eval_time: 15m, alertname: PostgreSQLMaxConnectionsReached, exp_alerts: [{exp_labels: {severity: warning, ` + inst + `}}]}
      - {eval_time: 15m, alertname: PostgreSQLHighConnections, exp_alerts: [{exp_labels: {severity: warning, ` + inst + `}}]}
      - {eval_time: 15m, alertname: PostgreSQLDown, exp_alerts: [{exp_labels: {severity: warning, ` + inst + `}}]}
      - {eval_time: 5m, alertname: PostgreSQLDown, exp_alerts: []}
      - {eval_time: 15m, alertname: PostgresAcquiredTooManyLocks, exp_alerts: [{exp_labels: {severity: warning, datname: postgres, ` + inst + `}}]}
      - {eval_time: 35m, alertname: PostgresHasReplicationSlotUsed, exp_alerts: [{exp_labels: {severity: critical, slot_name: standby1, ` + inst + `}}]}
      - {eval_time: 35m, alertname: PostgresHasExporterErrors, exp_alerts: []}
      - {eval_time: 35m, alertname: PostgresReplicationLaggingMore1Hour, exp_alerts: []}
      - {eval_time: 35m, alertname: PostgresReplicationRoleChanged, exp_alerts: []}
      - {eval_time: 35m, alertname: PostgreSQLCacheHitRatio, exp_alerts: []}
      - {eval_time: 35m, alertname: PostgresHasHighDeadLocks, exp_alerts: []}
    promql_expr_test:
      - expr: sum(pg_stat_activity_count)
        eval_time: 1m
        exp_samples: [{labels: '{}', value: 7}]
      - expr: |
          count(pg_stat_user_tables_n_dead_tup{relname="churn"} >
            pg_stat_user_tables_n_live_tup * on(job, instance, server) group_left pg_settings_autovacuum_vacuum_scale_factor
            + on(job, instance, server) group_left pg_settings_autovacuum_vacuum_threshold)
        eval_time: 1m
        exp_samples: [{labels: '{}', value: 1}]
`
	path := filepath.Join(t.TempDir(), "mixin_test.yml")
	if err := os.WriteFile(path, []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := testkit.Promtool(t, "", "test", "rules", path); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	default:
		return m.Untyped.GetValue()
	}
}

func seriesName(name string, m *dto.Metric) string {
	labels := []string{`job="postgres"`, `instance="db:5432"`}
	for _, l := range m.GetLabel() {
		labels = append(labels, fmt.Sprintf("%s=%s", l.GetName(), strconv.Quote(l.GetValue())))
	}
	return name + "{" + strings.Join(labels, ",") + "}"
}

func absPath(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
