package exporter

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"

	"github.com/outrigger/outrigger/internal/testkit"
)

// Sizes of TestSpendLogScale: small by default so `go test` stays quick;
// bench/litellm/run.sh sets LITELLM_BENCH_ROWS=10000000.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// fillSpendLogs inserts rows n0+1..n1 spread evenly over (from, to], in one
// INSERT ... SELECT generate_series, the shape of a busy proxy's table.
func fillSpendLogs(t *testing.T, p *proxyDB, n0, n1 int, from, to time.Time) {
	t.Helper()
	step := to.Sub(from).Seconds() / float64(n1-n0)
	p.exec(t, `INSERT INTO "LiteLLM_SpendLogs" ("request_id", "call_type", "api_key", "spend", "total_tokens", "prompt_tokens",
  "completion_tokens", "startTime", "endTime", "model", "model_group", "custom_llm_provider", "user", "team_id", "end_user", "cache_hit", "status")
SELECT 'req-' || i, 'acompletion', md5((i %% 50)::text), (i %% 97) / 10000.0, 300 + i %% 700, 200 + i %% 500, 100 + i %% 200,
  ts, ts + ((i %% 4000) * interval '1 millisecond'), 'model-' || (i %% 8), 'group-' || (i %% 8), 'openai', 'user-' || (i %% 200),
  'team-' || (i %% 12), 'eu-' || (i %% 1000), CASE WHEN i %% 10 = 0 THEN 'True' ELSE 'False' END,
  CASE WHEN i %% 50 = 0 THEN 'failure' ELSE 'success' END
FROM (SELECT i, '%s'::timestamp + (i - %d) * %f * interval '1 second' AS ts FROM generate_series(%d, %d) i) g`,
		from.UTC().Format("2006-01-02 15:04:05.000"), n0, step, n0+1, n1)
}

// groupByAll is the community exporters' query: a GROUP BY over the whole
// spend-log table on every scrape.
const groupByAll = `SELECT model, api_key, team_id, "user", count(*), sum(spend), sum(total_tokens),
  avg(EXTRACT(EPOCH FROM ("endTime" - "startTime"))) FROM "LiteLLM_SpendLogs" GROUP BY 1, 2, 3, 4`

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func pct(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

// TestSpendLogScale checks, at two table sizes, that an incremental refresh
// reads only the new rows (and so costs the same however big the table is),
// that scrapes only read the cache, and times a plain GROUP BY beside it.
func TestSpendLogScale(t *testing.T) {
	total := envInt(t, "LITELLM_BENCH_ROWS", 20000)
	fresh := envInt(t, "LITELLM_BENCH_NEW_ROWS", 1000)
	rounds := envInt(t, "LITELLM_BENCH_ROUNDS", 3)
	pg := testkit.StartPostgres(t, testkit.PostgresOptions{Settings: map[string]string{
		"shared_buffers": "512MB", "max_wal_size": "8GB", "work_mem": "64MB", "maintenance_work_mem": "256MB"}})
	p := &proxyDB{pg: pg, db: "litellm"}
	pg.PSQL(t, "postgres", "CREATE DATABASE litellm")
	ddl, err := os.ReadFile("../testdata/schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	p.exec(t, string(ddl))

	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	history := t0.Add(-30 * 24 * time.Hour)
	var report []string
	report = append(report, "| spend-log rows | incremental refresh, median / slowest (ms) | new rows per refresh | rows returned per refresh | pages read by the incremental query | pages read by the whole-lookback scan (every 5 min) | plain GROUP BY (ms) | pages read by the GROUP BY | scrape p50 / p99 / max (ms) |",
		"|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	conn, err := pgx.Connect(t.Context(), pg.DSN("litellm"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	loaded := 0
	for phase, size := range []int{total / 10, total} {
		// Each phase has its own hour of new traffic, after all the history.
		now := t0.Add(time.Duration(phase) * time.Hour)
		start := time.Now()
		if loaded < size {
			fillSpendLogs(t, p, loaded, size, history, now.Add(-time.Hour))
			loaded = size
		}
		// The hour before now carries the traffic rate the refreshes see:
		// it is what every refresh's lookback scans.
		fillSpendLogs(t, p, loaded, loaded+60*fresh, now.Add(-time.Hour), now.Add(-time.Minute))
		loaded += 60 * fresh
		p.exec(t, `ANALYZE "LiteLLM_SpendLogs"`)
		t.Logf("loaded %d spend-log rows in %s", size, time.Since(start).Round(time.Second))

		h := newHarness(t, p, opts{now: now, lag: time.Minute, maxWindow: 10 * time.Minute})
		h.refresh(t) // remembers the rows the next read sees again
		var refreshes []time.Duration
		var readPerRefresh int
		for r := range rounds {
			// A minute of traffic lands, then the clock moves a minute on.
			wfrom := now.Add(time.Duration(r)*time.Minute - time.Minute)
			fillSpendLogs(t, p, loaded, loaded+fresh, wfrom, wfrom.Add(time.Minute))
			loaded += fresh
			h.clock.Add(time.Minute)
			before := testkit.MustValue(t, mustFams(t, h), "litellm_exporter_spendlog_rows_read_total", nil)
			longBefore := h.exp.spend.lastLong
			s := time.Now()
			h.refresh(t)
			refreshes = append(refreshes, time.Since(s))
			after := testkit.MustValue(t, mustFams(t, h), "litellm_exporter_spendlog_rows_read_total", nil)
			rows := int(after - before)
			if h.exp.spend.lastLong != longBefore {
				continue // the whole-lookback scan re-reads the last five minutes too
			}
			readPerRefresh = rows
			// Each read returns the rows that ended since the last one
			// minus the lag: the new minute and the one re-read.
			if rows < fresh || rows > 2*fresh+fresh/10 {
				t.Fatalf("refresh %d read %d spend-log rows, want the %d new ones plus at most a lag's worth re-read", r, rows, fresh)
			}
		}
		fams, _ := h.scrape(t)
		var served float64
		for _, m := range fams["litellm_spendlog_requests_total"].GetMetric() {
			served += m.GetCounter().GetValue()
		}
		if int(served) != fresh*rounds {
			t.Fatalf("requests counted = %v, want %d", served, fresh*rounds)
		}
		var scrapes []time.Duration
		for range 100 {
			s := time.Now()
			testkit.Get(t, h.url+"/metrics", nil)
			scrapes = append(scrapes, time.Since(s))
		}
		if m := median(scrapes); m > 50*time.Millisecond && !raceEnabled {
			t.Errorf("median scrape took %s, want under 50 ms", m)
		}
		var groupBys []time.Duration
		for range 3 {
			s := time.Now()
			drain(t, conn, groupByAll)
			groupBys = append(groupBys, time.Since(s))
		}
		// Pages each query touches: the database's own measure of work.
		b := h.exp.spend.lastRead
		incPages := pages(t, conn, h.exp.schemaForTest().SpendLogsSQL(), b[0], b[1], b[2])
		longPages := int64(0)
		if l := h.exp.spend.lastLong; !l[2].IsZero() {
			longPages = pages(t, conn, h.exp.schemaForTest().SpendLogsSQL(), l[0], l[1], l[2])
		}
		allPages := pages(t, conn, groupByAll)
		report = append(report, fmt.Sprintf("| %d | %s / %s | %d | %d | %d | %d | %s | %d | %s / %s / %s |", loaded, ms(median(refreshes)), ms(pct(refreshes, 1)), fresh, readPerRefresh,
			incPages, longPages, ms(median(groupBys)), allPages, ms(median(scrapes)), ms(pct(scrapes, 0.99)), ms(pct(scrapes, 1))))
		h.exp.Close(t.Context())
		h.srv.Close()
	}
	t.Log("results:\n" + strings.Join(report, "\n"))
	if out := os.Getenv("LITELLM_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(strings.Join(report, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func drain(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	rows, err := conn.Query(t.Context(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// pages runs EXPLAIN (ANALYZE, BUFFERS) and returns the shared buffers the
// query hit or read.
func pages(t *testing.T, conn *pgx.Conn, sql string, args ...any) int64 {
	t.Helper()
	var plan []struct {
		Plan struct {
			Hit  int64 `json:"Shared Hit Blocks"`
			Read int64 `json:"Shared Read Blocks"`
		} `json:"Plan"`
	}
	var raw string
	if err := conn.QueryRow(t.Context(), "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+sql, args...).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(raw), &plan); err != nil || len(plan) == 0 {
		t.Fatalf("reading the plan: %v", err)
	}
	return plan[0].Plan.Hit + plan[0].Plan.Read
}

func mustFams(t *testing.T, h *harness) map[string]*dto.MetricFamily {
	fams, _ := h.scrape(t)
	return fams
}
