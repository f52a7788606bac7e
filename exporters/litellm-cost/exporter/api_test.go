package exporter

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/exporters/litellm-cost/internal/fakeproxy"
	"github.com/outrigger/outrigger/internal/testkit"
)

const masterKey = "sk-master-7f3a9c2e41b8d605"

// syncBuffer collects the exporter's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func tm(s string) *time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		panic(err)
	}
	return &t
}

func bp(b bool) *bool { return &b }

// fillProxy gives the fake proxy the state the database test builds with
// fillBudgets and its requests (end users and tags aside: the API has no
// listing of their budgets the exporter reads).
func fillProxy(p *fakeproxy.Proxy) {
	p.With(func(d *fakeproxy.Data) {
		d.Budgets = []fakeproxy.Budget{
			{BudgetID: "b-org-a", MaxBudget: f(1000), SoftBudget: f(800), BudgetResetAt: tm("2026-04-01 00:00:00")},
			{BudgetID: "b-org-b"},
			{BudgetID: "b-key", MaxBudget: f(5), SoftBudget: f(4)},
		}
		d.Orgs = []fakeproxy.Org{{OrganizationID: "org-a", OrganizationAlias: "Acme", BudgetID: "b-org-a", Spend: 12.5},
			{OrganizationID: "org-b", OrganizationAlias: "Beta", BudgetID: "b-org-b", Spend: 12.25}}
		d.Teams = []fakeproxy.Team{
			{TeamID: "team-1", TeamAlias: "search", OrganizationID: "org-a", Spend: 12.5, MaxBudget: f(100), SoftBudget: f(80), BudgetResetAt: tm("2026-03-11 00:00:00")},
			{TeamID: "team-2", TeamAlias: "agents", OrganizationID: "org-b", Spend: 12.25},
			{TeamID: "team-3", TeamAlias: "frozen", OrganizationID: "org-a", MaxBudget: f(50), Blocked: true},
			{TeamID: "team-4", TeamAlias: "zero", OrganizationID: "org-b", Spend: 2, MaxBudget: f(0)},
		}
		d.Users = []fakeproxy.User{
			{UserID: "u1", UserAlias: "alice", UserEmail: "alice@example.com", Spend: 11.5, MaxBudget: f(20)},
			{UserID: "u2", UserEmail: "bob@example.com", Spend: 13.25},
			{UserID: "litellm-proxy-budget", Spend: 24.75, MaxBudget: f(500)},
		}
		d.Keys = []fakeproxy.Key{
			{Token: token("sk-one"), KeyName: "sk-...-one", KeyAlias: "search-prod", UserID: "u1", TeamID: "team-1", Spend: 7, MaxBudget: f(10), BudgetResetAt: tm("2026-03-10 18:00:00")},
			{Token: token("sk-two"), KeyName: "sk-...-two", KeyAlias: "agents-bot", UserID: "u2", TeamID: "team-2", Spend: 12.25, Blocked: bp(false)},
			{Token: token("sk-three"), KeyName: "sk-...hree", UserID: "u1", TeamID: "team-1", Spend: 4.5, BudgetID: "b-key"},
			{Token: token("sk-four"), KeyName: "sk-...four", KeyAlias: "to-delete", UserID: "u2", TeamID: "team-1", Spend: 1, MaxBudget: f(3)},
		}
	})
}

func httpHarness(t *testing.T, p *fakeproxy.Proxy, o opts) (*harness, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	o.proxyURL, o.logs = p.URL(), logs
	if o.masterKey == "" {
		o.masterKey = masterKey
	}
	return newHarness(t, nil, o), logs
}

// Every budget gauge from the API matches the database test's hand
// computation, for the scopes the API lists.
func TestHTTPModeBudgetsMatchHandComputation(t *testing.T) {
	p := fakeproxy.Start(t, masterKey)
	fillProxy(p)
	// Page size 2: the four keys and three users come in several pages.
	h, logs := httpHarness(t, p, opts{now: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC), pageSize: 2})
	h.refresh(t)
	secrets := []string{masterKey, token("sk-one"), token("sk-two"), token("sk-three"), token("sk-four"), "alice@example.com"}
	fams, body := h.scrape(t, secrets...)
	testkit.CheckMetrics(t, body, compatNames...)
	if n := p.Requests("/key/list"); n != 2 {
		t.Errorf("/key/list read in %d requests, want 2 pages", n)
	}
	if n := p.Requests("/user/list"); n != 2 {
		t.Errorf("/user/list read in %d requests, want 2 pages", n)
	}

	checkBudgets(t, fams, commonBudgets())
	for scope, n := range map[string]float64{"key": 4, "team": 4, "user": 2, "proxy": 1, "org": 2} {
		expect(t, fams, "litellm_budget_entities", map[string]string{"scope": scope}, n)
	}
	absent(t, fams, "litellm_budget_entities", map[string]string{"scope": "end_user"})
	k1 := map[string]string{"hashed_api_key": KeyID(token("sk-one")), "api_key_alias": "search-prod"}
	expect(t, fams, "litellm_api_key_max_budget_metric", k1, 10)
	expect(t, fams, "litellm_remaining_api_key_budget_metric", k1, 3)
	expect(t, fams, "litellm_team_max_budget_metric", map[string]string{"team": "team-1", "team_alias": "search"}, 100)
	absent(t, fams, "litellm_remaining_team_budget_metric", map[string]string{"team": "team-2"})
	expect(t, fams, "litellm_proxy_api_up", nil, 1)
	expect(t, fams, "litellm_scrape_collector_success", map[string]string{"collector": "proxy"}, 1)
	expect(t, fams, "litellm_scrape_collector_success", map[string]string{"collector": "budgets"}, 1)
	if _, ok := fams["litellm_database_up"]; ok {
		t.Error("litellm_database_up served in HTTP mode")
	}
	if code, reason := ready(t, h); code != 200 {
		t.Fatalf("/ready = %d %q", code, reason)
	}

	// A key deleted on the proxy disappears; a budget reset shows at once.
	p.With(func(d *fakeproxy.Data) {
		d.Deleted = append(d.Deleted, d.Keys[3])
		d.Keys = d.Keys[:3]
		d.Teams[0].Spend, d.Teams[0].BudgetResetAt = 0, tm("2026-03-12 00:00:00")
	})
	h.clock.Set(time.Date(2026, 3, 11, 0, 0, 1, 0, time.UTC))
	h.refresh(t)
	fams, _ = h.scrape(t, secrets...)
	absent(t, fams, "litellm_budget_spend_usd", keyBudget("sk-four", "to-delete"))
	expect(t, fams, "litellm_budget_entities", map[string]string{"scope": "key"}, 3)
	expect(t, fams, "litellm_budget_utilization_ratio", teamBudget("team-1", "search"), 0)
	expect(t, fams, "litellm_budget_reset_seconds", teamBudget("team-1", "search"), 86399)

	if p.MaxInFlight() != 1 {
		t.Errorf("the fake served %d requests at once, want one at a time", p.MaxInFlight())
	}
	assertNoKey(t, p, logs)
}

func assertNoKey(t *testing.T, p *fakeproxy.Proxy, logs *syncBuffer) {
	t.Helper()
	if strings.Contains(logs.String(), masterKey) {
		t.Errorf("the master key is in the log:\n%s", logs.String())
	}
	for _, q := range p.Queries() {
		if strings.Contains(q, masterKey) {
			t.Errorf("the master key is in a request URL: %s", q)
		}
	}
}

// Usage from the daily-activity reports: totals, today and this month by
// model group and key (over several pages), tags, and the LiteLLM names.
func TestHTTPModeUsageFromDailyActivity(t *testing.T) {
	p := fakeproxy.Start(t, masterKey)
	fillProxy(p)
	p.With(func(d *fakeproxy.Data) {
		d.Deleted = []fakeproxy.Key{{Token: token("sk-gone"), KeyAlias: "old-bot", TeamID: "team-2"}}
		row := func(id, date, user, key, model, group string, spend float64, prompt, completion, ok, failed int64) fakeproxy.DailyRow {
			return fakeproxy.DailyRow{ID: id, Date: date, Entity: user, APIKey: token(key), Model: model, ModelGroup: group,
				Provider: "openai", Spend: spend, Prompt: prompt, Completion: completion, CacheRead: prompt / 10,
				Requests: ok + failed, Successful: ok, Failed: failed}
		}
		d.UserDaily = []fakeproxy.DailyRow{
			row("r1", "2026-03-10", "u1", "sk-one", "gpt-4o-2024-08-06", "gpt-4o", 1.5, 100, 50, 2, 1),
			row("r2", "2026-03-10", "u1", "sk-one", "gpt-4o-mini", "gpt-4o", 0.25, 40, 10, 1, 0),
			row("r3", "2026-03-01", "u2", "sk-two", "claude-3-5", "claude", 2, 20, 10, 1, 0),
			row("r4", "2026-02-15", "u1", "sk-one", "gpt-4o-2024-08-06", "gpt-4o", 4, 300, 100, 5, 0),
			row("r5", "2026-03-09", "u2", "sk-gone", "gpt-4o-mini", "gpt-4o", 0.5, 10, 5, 1, 0),
		}
		d.TagDaily = []fakeproxy.DailyRow{
			{ID: "t1", Date: "2026-03-10", Entity: "prod", APIKey: token("sk-one"), ModelGroup: "gpt-4o", Spend: 1, Requests: 2, Successful: 2},
			{ID: "t2", Date: "2026-03-05", Entity: "dev", APIKey: token("sk-two"), ModelGroup: "claude", Spend: 0.5, Requests: 1, Successful: 1},
		}
	})
	h, logs := httpHarness(t, p, opts{pageSize: 2})
	h.refresh(t)
	fams, body := h.scrape(t, masterKey, token("sk-one"))
	testkit.CheckMetrics(t, body, compatNames...)
	one := map[string]string{"key_alias": "search-prod", "key_id": KeyID(token("sk-one")), "model_group": "gpt-4o",
		"team": "team-1", "team_alias": "search", "provider": ""}
	expect(t, fams, "litellm_usage_spend_usd_total", one, 5.75)
	expect(t, fams, "litellm_usage_spend_today_usd", one, 1.75)
	expect(t, fams, "litellm_usage_spend_month_usd", one, 1.75)
	expect(t, fams, "litellm_usage_tokens_total", withLabel(one, "type", "prompt"), 440)
	expect(t, fams, "litellm_usage_tokens_total", withLabel(one, "type", "cache_read"), 10+4+30)
	expect(t, fams, "litellm_usage_requests_total", withLabel(one, "status", "failure"), 1)
	expect(t, fams, "litellm_usage_requests_today", one, 4)
	two := map[string]string{"key_alias": "agents-bot", "model_group": "claude", "team_alias": "agents"}
	expect(t, fams, "litellm_usage_spend_usd_total", two, 2)
	expect(t, fams, "litellm_usage_spend_today_usd", two, 0)
	expect(t, fams, "litellm_usage_spend_month_usd", two, 2)
	// A deleted key keeps its alias and team (the proxy resolves them).
	expect(t, fams, "litellm_usage_spend_usd_total", map[string]string{"key_alias": "old-bot", "team": "team-2", "team_alias": "agents"}, 0.5)
	expect(t, fams, "litellm_spend_metric_total", map[string]string{"hashed_api_key": KeyID(token("sk-one")), "requested_model": "gpt-4o", "model": ""}, 5.75)
	expect(t, fams, "litellm_tag_spend_usd_total", map[string]string{"tag": "prod"}, 1)
	expect(t, fams, "litellm_tag_spend_month_usd", map[string]string{"tag": "dev"}, 0.5)
	expect(t, fams, "litellm_scrape_collector_success", map[string]string{"collector": "usage"}, 1)
	expect(t, fams, "litellm_scrape_collector_success", map[string]string{"collector": "spendlogs"}, 1) // skipped
	if n := p.Requests("/user/daily/activity"); n < 3 {
		t.Errorf("/user/daily/activity read in %d requests, want several pages", n)
	}

	// More traffic today: totals grow, nothing goes backwards.
	p.With(func(d *fakeproxy.Data) {
		d.UserDaily = append(d.UserDaily, fakeproxy.DailyRow{ID: "r6", Date: "2026-03-10", Entity: "u1", APIKey: token("sk-one"),
			ModelGroup: "gpt-4o", Spend: 0.75, Requests: 1, Successful: 1})
	})
	h.refresh(t)
	fams, _ = h.scrape(t, masterKey)
	expect(t, fams, "litellm_usage_spend_usd_total", one, 6.5)
	expect(t, fams, "litellm_usage_spend_today_usd", one, 2.5)

	// A 500 on the report fails that part only, keeps the last data, and
	// leaves /ready alone.
	p.Fail("/user/daily/activity", http.StatusInternalServerError)
	h.refresh(t)
	fams, _ = h.scrape(t, masterKey)
	expect(t, fams, "litellm_scrape_collector_success", map[string]string{"collector": "usage"}, 0)
	expect(t, fams, "litellm_scrape_collector_success", map[string]string{"collector": "budgets"}, 1)
	expect(t, fams, "litellm_usage_spend_usd_total", one, 6.5)
	if code, reason := ready(t, h); code != 200 {
		t.Fatalf("/ready after a 500 on one report = %d %q", code, reason)
	}
	assertNoKey(t, p, logs)
}

func withLabel(l map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range l {
		out[a] = b
	}
	return out
}

// More pages than --litellm.max-pages: the step fails with an error that
// names the flag, rather than serving partial totals.
func TestHTTPModePaginationIsBounded(t *testing.T) {
	p := fakeproxy.Start(t, masterKey)
	fillProxy(p)
	h, logs := httpHarness(t, p, opts{pageSize: 1, maxPages: 2})
	h.refresh(t)
	fams, _ := h.scrape(t, masterKey)
	expect(t, fams, "litellm_scrape_collector_success", map[string]string{"collector": "budgets"}, 0)
	if n := p.Requests("/key/list"); n != 2 {
		t.Errorf("/key/list requested %d times, want it to stop at 2 pages", n)
	}
	if !strings.Contains(logs.String(), "--litellm.max-pages") {
		t.Errorf("the log does not say which flag to raise:\n%s", logs.String())
	}
}

// A wrong master key: /ready is 503 with a reason that names the problem
// and carries neither key, though the proxy's error body echoes it.
func TestHTTPModeRefusedKeyMakesReady503WithoutTheKey(t *testing.T) {
	p := fakeproxy.Start(t, masterKey)
	fillProxy(p)
	wrong := "sk-wrong-0d1e2f3a4b5c6d7e"
	h, logs := httpHarness(t, p, opts{masterKey: wrong})
	h.refresh(t)
	code, reason := ready(t, h)
	if code != 503 || !strings.Contains(reason, "refused the master key") || !strings.Contains(reason, "401") {
		t.Fatalf("/ready = %d %q, want 503 saying the key was refused", code, reason)
	}
	for _, k := range []string{wrong, masterKey} {
		if strings.Contains(reason, k) || strings.Contains(logs.String(), k) {
			t.Fatalf("a key is in the /ready reason or the log: %q\n%s", reason, logs.String())
		}
	}
	fams, _ := h.scrape(t, wrong, masterKey)
	expect(t, fams, "litellm_proxy_api_up", nil, 0)
	for _, c := range []string{"proxy", "budgets", "usage"} {
		expect(t, fams, "litellm_scrape_collector_success", map[string]string{"collector": c}, 0)
	}
	// Only the first request is made: the rest of the refresh is not tried
	// with a key the proxy refuses.
	if n := p.Requests("/team/list") + p.Requests("/user/daily/activity"); n != 0 {
		t.Errorf("%d further requests after the key was refused", n)
	}
}

// A 403 from the right key (e.g. a key without admin rights), then a
// recovery: /ready follows the proxy.
func TestHTTPModeReadyFollowsTheProxy(t *testing.T) {
	p := fakeproxy.Start(t, masterKey)
	fillProxy(p)
	h, logs := httpHarness(t, p, opts{})
	p.Fail("/key/list", http.StatusForbidden)
	h.refresh(t)
	if code, reason := ready(t, h); code != 503 || !strings.Contains(reason, "403") {
		t.Fatalf("/ready = %d %q, want 503 on a 403", code, reason)
	}
	h.refresh(t)
	if code, reason := ready(t, h); code != 200 {
		t.Fatalf("/ready after the proxy took the key again = %d %q", code, reason)
	}

	// The proxy goes away.
	down := fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))
	h2, logs2 := httpHarness(t, p, opts{})
	h2.exp.api = newAPIClientFor(t, h2.exp, down)
	h2.refresh(t)
	if code, reason := ready(t, h2); code != 503 || !strings.Contains(reason, "unreachable") {
		t.Fatalf("/ready with the proxy down = %d %q", code, reason)
	}
	assertNoKey(t, p, logs)
	assertNoKey(t, p, logs2)
}

// A hanging proxy: scrapes still answer within their deadline (1 s header),
// from the cache, while the refresh waits for its own timeout.
func TestHTTPModeHangingProxyDoesNotHoldScrapes(t *testing.T) {
	p := fakeproxy.Start(t, masterKey)
	fillProxy(p)
	h, _ := httpHarness(t, p, opts{timeout: 3 * time.Second})

	// Before any data: the scrape gives up at its deadline.
	p.Hang()
	var wg sync.WaitGroup
	wg.Go(func() { h.refresh(t) })
	start := time.Now()
	code, body := testkit.Get(t, h.url+"/metrics", http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"1"}})
	if took := time.Since(start); code != 200 || took > 1500*time.Millisecond {
		t.Fatalf("scrape during a hanging first refresh: %d after %s", code, took)
	}
	fams := testkit.Families(t, body)
	expect(t, fams, "litellm_scrape_collector_success", map[string]string{"collector": "budgets"}, 0)
	wg.Wait() // the refresh ends at its timeout
	if code, reason := ready(t, h); code != 503 || strings.Contains(reason, masterKey) {
		t.Fatalf("/ready after a timed-out refresh = %d %q", code, reason)
	}

	// With data cached, a hanging refresh does not delay scrapes at all.
	p.Release()
	h.refresh(t)
	p.Hang()
	wg.Go(func() { h.refresh(t) })
	start = time.Now()
	code, body = testkit.Get(t, h.url+"/metrics", http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"1"}})
	if took := time.Since(start); code != 200 || took > time.Second {
		t.Fatalf("scrape during a hanging refresh: %d after %s", code, took)
	}
	fams = testkit.Families(t, body)
	expect(t, fams, "litellm_budget_spend_usd", map[string]string{"scope": "team", "id": "team-1"}, 12.5)
	p.Release()
	wg.Wait()
}
