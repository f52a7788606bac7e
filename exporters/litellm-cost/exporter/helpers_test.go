package exporter

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/outrigger/outrigger/exporters/litellm-cost/config"
	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/outrigger/outrigger/internal/testkit"
)

// clock is the exporter's injected clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// proxyDB is a PostgreSQL database holding the proxy's tables, written the
// way the proxy writes them.
type proxyDB struct {
	pg *testkit.Postgres
	db string
}

func startProxyDB(t testing.TB, schemaFile string) *proxyDB {
	t.Helper()
	pg := testkit.StartPostgres(t, testkit.PostgresOptions{})
	p := &proxyDB{pg: pg, db: "litellm"}
	pg.PSQL(t, "postgres", "CREATE DATABASE litellm")
	if schemaFile != "" {
		ddl, err := os.ReadFile(schemaFile)
		if err != nil {
			t.Fatal(err)
		}
		p.exec(t, string(ddl))
	}
	return p
}

func (p *proxyDB) exec(t testing.TB, sql string, args ...any) string {
	t.Helper()
	if len(args) > 0 {
		sql = fmt.Sprintf(sql, args...)
	}
	return strings.TrimSpace(p.pg.PSQL(t, p.db, sql))
}

// token is what the proxy stores for a key: the sha256 of the sk- key.
func token(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func sqlNum(v *float64) string {
	if v == nil {
		return "NULL"
	}
	return fmt.Sprint(*v)
}

func sqlTime(v *time.Time) string {
	if v == nil {
		return "NULL"
	}
	return "'" + v.UTC().Format("2006-01-02 15:04:05.000") + "'"
}

func f(v float64) *float64 { return &v }

// createBudget inserts a LiteLLM_BudgetTable row (as /budget/new does).
func (p *proxyDB) createBudget(t testing.TB, id string, max, soft *float64, duration string, resetAt *time.Time) {
	t.Helper()
	p.exec(t, `INSERT INTO "LiteLLM_BudgetTable" ("budget_id", "max_budget", "soft_budget", "budget_duration", "budget_reset_at", "created_by", "updated_by")
VALUES ('%s', %s, %s, NULLIF('%s', ''), %s, 'admin', 'admin')`, id, sqlNum(max), sqlNum(soft), duration, sqlTime(resetAt))
}

// spendRequest applies one request's cost the way the proxy's spend update
// job does: increments on the key, its user, its team, the end user, and
// the proxy-wide budget row.
func (p *proxyDB) spendRequest(t testing.TB, key, user, team, endUser string, cost float64) {
	t.Helper()
	p.exec(t, `BEGIN;
UPDATE "LiteLLM_VerificationToken" SET "spend" = "spend" + %[1]v WHERE "token" = '%[2]s';
UPDATE "LiteLLM_UserTable" SET "spend" = "spend" + %[1]v WHERE "user_id" IN ('%[3]s', 'litellm-proxy-budget');
UPDATE "LiteLLM_TeamTable" SET "spend" = "spend" + %[1]v WHERE "team_id" = '%[4]s';
UPDATE "LiteLLM_EndUserTable" SET "spend" = "spend" + %[1]v WHERE "user_id" = '%[5]s';
COMMIT;`, cost, token(key), user, team, endUser)
}

// daily upserts an increment into a daily aggregate table, as the proxy's
// daily spend transactions do (create the row for the day, or add to it).
type daily struct {
	table, entityCol, entity, date, key, model, group, provider string
	spend                                                       float64
	prompt, completion, cacheRead, cacheCreation                int64
	ok, failed                                                  int64
}

func (p *proxyDB) addDaily(t testing.TB, d daily) {
	t.Helper()
	if d.table == "" {
		d.table, d.entityCol = "LiteLLM_DailyUserSpend", "user_id"
	}
	old := !strings.Contains(p.exec(t, `SELECT string_agg(column_name, ',') FROM information_schema.columns WHERE table_name = '%s' AND column_name = 'api_requests'`, d.table), "api_requests")
	id := fmt.Sprintf("%s|%s|%s|%s|%s|%s", d.entity, d.date, d.key, d.model, d.provider, d.table)
	if old {
		p.exec(t, `INSERT INTO %q ("id", %q, "date", "api_key", "model", "model_group", "custom_llm_provider", "prompt_tokens", "completion_tokens", "spend", "updated_at")
VALUES ('%s', '%s', '%s', '%s', '%s', '%s', '%s', %d, %d, %v, now())
ON CONFLICT ("id") DO UPDATE SET "prompt_tokens" = %q."prompt_tokens" + EXCLUDED."prompt_tokens",
  "completion_tokens" = %q."completion_tokens" + EXCLUDED."completion_tokens",
  "spend" = %q."spend" + EXCLUDED."spend", "updated_at" = now()`,
			d.table, d.entityCol, id, d.entity, d.date, token(d.key), d.model, d.group, d.provider, d.prompt, d.completion, d.spend,
			d.table, d.table, d.table)
		return
	}
	p.exec(t, `INSERT INTO %q ("id", %q, "date", "api_key", "model", "model_group", "custom_llm_provider", "prompt_tokens", "completion_tokens",
  "cache_read_input_tokens", "cache_creation_input_tokens", "spend", "api_requests", "successful_requests", "failed_requests", "updated_at")
VALUES ('%s', '%s', '%s', '%s', '%s', '%s', '%s', %d, %d, %d, %d, %v, %d, %d, %d, now())
ON CONFLICT ("id") DO UPDATE SET "prompt_tokens" = %[1]q."prompt_tokens" + EXCLUDED."prompt_tokens",
  "completion_tokens" = %[1]q."completion_tokens" + EXCLUDED."completion_tokens",
  "cache_read_input_tokens" = %[1]q."cache_read_input_tokens" + EXCLUDED."cache_read_input_tokens",
  "cache_creation_input_tokens" = %[1]q."cache_creation_input_tokens" + EXCLUDED."cache_creation_input_tokens",
  "spend" = %[1]q."spend" + EXCLUDED."spend",
  "api_requests" = %[1]q."api_requests" + EXCLUDED."api_requests",
  "successful_requests" = %[1]q."successful_requests" + EXCLUDED."successful_requests",
  "failed_requests" = %[1]q."failed_requests" + EXCLUDED."failed_requests", "updated_at" = now()`,
		d.table, d.entityCol, id, d.entity, d.date, token(d.key), d.model, d.group, d.provider, d.prompt, d.completion,
		d.cacheRead, d.cacheCreation, d.spend, d.ok+d.failed, d.ok, d.failed)
}

// harness is an exporter against a proxy database, served over HTTP.
type harness struct {
	exp   *Exporter
	clock *clock
	url   string
	srv   *httptest.Server
}

type opts struct {
	zone      string
	maxSeries int
	lag       time.Duration
	maxWindow time.Duration
	now       time.Time
	dsn       string
	interval  time.Duration
	// HTTP mode: the proxy's URL and key (p may then be nil).
	proxyURL, masterKey string
	pageSize, maxPages  int
	activityPageSize    int // 0: pageSize
	budgetsInterval     time.Duration
	timeout             time.Duration
	logs                io.Writer
}

func newHarness(t testing.TB, p *proxyDB, o opts) *harness {
	t.Helper()
	if o.zone == "" {
		o.zone = "UTC"
	}
	if o.maxSeries == 0 {
		o.maxSeries = 100
	}
	if o.lag == 0 {
		o.lag = time.Minute
	}
	if o.now.IsZero() {
		o.now = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	}
	if o.dsn == "" && o.proxyURL == "" {
		o.dsn = p.pg.DSN(p.db)
	}
	if o.pageSize == 0 {
		o.pageSize = 100
	}
	if o.maxPages == 0 {
		o.maxPages = 100
	}
	if o.timeout == 0 {
		o.timeout = 10 * time.Second
	}
	if o.maxWindow == 0 {
		o.maxWindow = 24 * time.Hour
	}
	if o.interval == 0 {
		o.interval = time.Hour
	}
	clk := &clock{t: o.now}
	cfg, err := config.Config{DatabaseURL: o.dsn, RefreshInterval: o.interval, RefreshTimeout: o.timeout,
		Zone: o.zone, SpendLogs: true, SpendLogsLag: o.lag, SpendLogsMaxWindow: o.maxWindow,
		MaxSeries: o.maxSeries, Now: clk.Now, ProxyURL: o.proxyURL, MasterKey: o.masterKey,
		PageSize: o.pageSize, MaxPages: o.maxPages,
		ActivityPageSize: cmp.Or(o.activityPageSize, o.pageSize), BudgetsInterval: o.budgetsInterval}.Validate()
	if err != nil {
		t.Fatal(err)
	}
	var logger *slog.Logger
	if o.logs != nil {
		logger = slog.New(slog.NewTextHandler(o.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	exp := New(cfg, logger)
	t.Cleanup(func() { exp.Close(context.Background()) })
	vc, err := promkit.Config{Service: "litellm-exporter", ListenAddresses: []string{"127.0.0.1:0"}, TelemetryPath: "/metrics",
		LogLevel: "error", LogFormat: "logfmt", ScrapeTimeoutMax: 10 * time.Second}.Validate()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := promkit.NewServer(vc, promkit.Options{Namespace: Namespace, Ready: exp.Ready,
		Target: func(*http.Request) (string, promkit.StartFunc, error) { return "default", exp.Runner().Start, nil }})
	if err != nil {
		t.Fatal(err)
	}
	srv.Registry().MustRegister(exp.SelfCollectors()...)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &harness{exp: exp, clock: clk, url: hs.URL, srv: hs}
}

func (h *harness) refresh(t testing.TB) {
	t.Helper()
	h.exp.Refresh(t.Context())
}

// scrape fetches /metrics, checks it has no NaN or Inf anywhere, no raw
// token, and returns the families.
func (h *harness) scrape(t testing.TB, secrets ...string) (map[string]*dto.MetricFamily, []byte) {
	t.Helper()
	code, body := testkit.Get(t, h.url+"/metrics", nil)
	if code != 200 {
		t.Fatalf("GET /metrics: %d\n%s", code, body)
	}
	for _, s := range secrets {
		if strings.Contains(string(body), s) {
			t.Fatalf("the exposition contains a secret (%q)", s[:8]+"...")
		}
	}
	fams := testkit.Families(t, body)
	for name, fam := range fams {
		for _, m := range fam.GetMetric() {
			for _, v := range []float64{m.GetGauge().GetValue(), m.GetCounter().GetValue(), m.GetUntyped().GetValue(), m.GetHistogram().GetSampleSum()} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("%s%v = %v: not finite", name, m.GetLabel(), v)
				}
			}
		}
	}
	return fams, body
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func expect(t testing.TB, fams map[string]*dto.MetricFamily, name string, labels map[string]string, want float64) {
	t.Helper()
	got := testkit.MustValue(t, fams, name, labels)
	if !near(got, want) {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

func absent(t testing.TB, fams map[string]*dto.MetricFamily, name string, labels map[string]string) {
	t.Helper()
	if v, ok := testkit.Value(fams, name, labels); ok {
		t.Errorf("%s%v = %v, want no such series", name, labels, v)
	}
}

// budgetWant is one entity's expected litellm_budget_* series; nil means the
// series must be absent.
type budgetWant struct {
	labels                                   map[string]string
	spend                                    float64
	max, soft, ratio, remain, reset, blocked *float64
}

func keyBudget(k, alias string) map[string]string {
	return map[string]string{"scope": "key", "id": KeyID(token(k)), "name": alias}
}

func teamBudget(id, alias string) map[string]string {
	return map[string]string{"scope": "team", "id": id, "name": alias}
}

// commonBudgets are the budgets fillBudgets (the database) and the fake
// proxy hold alike, computed by hand at 2026-03-10 12:00 UTC.
func commonBudgets() []budgetWant {
	return []budgetWant{
		// Key with its own max and a daily reset 6 h ahead: 7 of 10.
		{labels: keyBudget("sk-one", "search-prod"), spend: 7, max: f(10), ratio: f(0.7), remain: f(3), reset: f(6 * 3600), blocked: f(0)},
		// Key without a budget: spend only, and no ratio.
		{labels: keyBudget("sk-two", "agents-bot"), spend: 12.25, blocked: f(0)},
		// Key whose budget comes from a budget row: 4.5 of 5.
		{labels: keyBudget("sk-three", ""), spend: 4.5, max: f(5), soft: f(4), ratio: f(0.9), remain: f(0.5), blocked: f(0)},
		{labels: keyBudget("sk-four", "to-delete"), spend: 1, max: f(3), ratio: f(1.0 / 3), remain: f(2), blocked: f(0)},
		{labels: teamBudget("team-1", "search"), spend: 12.5, max: f(100), soft: f(80), ratio: f(0.125), remain: f(87.5), reset: f(12 * 3600), blocked: f(0)},
		{labels: teamBudget("team-2", "agents"), spend: 12.25, blocked: f(0)},
		{labels: teamBudget("team-3", "frozen"), spend: 0, max: f(50), ratio: f(0), remain: f(50), blocked: f(1)},
		// A max of 0 has no ratio (it would be +Inf), but a (negative) remainder.
		{labels: teamBudget("team-4", "zero"), spend: 2, max: f(0), remain: f(-2), blocked: f(0)},
		{labels: map[string]string{"scope": "user", "id": "u1", "name": "alice"}, spend: 11.5, max: f(20), ratio: f(0.575), remain: f(8.5)},
		{labels: map[string]string{"scope": "user", "id": "u2", "name": ""}, spend: 13.25},
		{labels: map[string]string{"scope": "proxy", "id": "litellm-proxy-budget", "name": "proxy"}, spend: 24.75, max: f(500), ratio: f(24.75 / 500), remain: f(475.25)},
		{labels: map[string]string{"scope": "org", "id": "org-a", "name": "Acme"}, spend: 12.5, max: f(1000), soft: f(800), ratio: f(0.0125), remain: f(987.5), reset: f((21*24 + 12) * 3600)},
		{labels: map[string]string{"scope": "org", "id": "org-b", "name": "Beta"}, spend: 12.25},
	}
}

// checkBudgets holds every litellm_budget_* series of each case to it.
func checkBudgets(t testing.TB, fams map[string]*dto.MetricFamily, cases []budgetWant) {
	t.Helper()
	for _, c := range cases {
		expect(t, fams, "litellm_budget_spend_usd", c.labels, c.spend)
		for _, m := range []struct {
			name string
			v    *float64
		}{{"litellm_budget_max_usd", c.max}, {"litellm_budget_soft_usd", c.soft}, {"litellm_budget_utilization_ratio", c.ratio},
			{"litellm_budget_remaining_usd", c.remain}, {"litellm_budget_reset_seconds", c.reset}, {"litellm_budget_blocked", c.blocked}} {
			if m.v == nil {
				absent(t, fams, m.name, c.labels)
			} else {
				expect(t, fams, m.name, c.labels, *m.v)
			}
		}
	}
}
