package exporter

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/exporters/litellm-cost/internal/fakeproxy"
)

// The proxy pages its daily rows by offset while its writer upserts them. A
// row inserted between two pages of one read shifts the rest by one: read
// naively, a row is counted twice, and the double count sticks (totals
// never go down). A read whose totals moved is done again; one that never
// settles fails the step and keeps the last good data.
func TestHTTPModeActivityReadWhileTheProxyWrites(t *testing.T) {
	p := fakeproxy.Start(t, masterKey)
	fillProxy(p)
	today := "2026-03-10" // the harness's default clock, injected into the exporter
	row := func(id string, spend float64) fakeproxy.DailyRow {
		return fakeproxy.DailyRow{ID: id, Date: today, Entity: "u1", APIKey: token("sk-one"), Model: "gpt-4o-2024-08-06",
			ModelGroup: "gpt-4o", Provider: "openai", Spend: spend, Requests: 1, Successful: 1}
	}
	p.With(func(d *fakeproxy.Data) {
		d.UserDaily = []fakeproxy.DailyRow{row("r2", 1), row("r3", 2), row("r4", 4), row("r5", 8), row("r6", 16)}
	})
	recentFirstPage := func(path string, q url.Values) bool {
		return path == "/user/daily/activity" && q.Get("page") == "1" && q.Get("start_date") <= today && q.Get("end_date") >= today
	}
	inserted := false
	p.AfterEach(func(d *fakeproxy.Data, path string, q url.Values) {
		if !inserted && recentFirstPage(path, q) {
			// A new row that sorts first: every later row moves one place on.
			d.UserDaily = append(d.UserDaily, row("r1", 32))
			inserted = true
		}
	})
	h, _ := httpHarness(t, p, opts{pageSize: 2})
	h.refresh(t)
	fams, _ := h.scrape(t, masterKey)
	series := map[string]string{"key_alias": "search-prod", "model_group": "gpt-4o"}
	expect(t, fams, "litellm_usage_spend_usd_total", series, 63)
	expect(t, fams, "litellm_usage_requests_total", withLabel(series, "status", "all"), 6)
	expect(t, fams, "litellm_scrape_collector_success", map[string]string{"collector": "usage"}, 1)

	// A writer that never lets a read settle: the step fails, the data stays.
	p.AfterEach(func(d *fakeproxy.Data, path string, q url.Values) {
		if path == "/user/daily/activity" && len(d.UserDaily) > 0 {
			d.UserDaily[0].Spend += 0.5
			d.UserDaily[0].Requests++
		}
	})
	h.refresh(t)
	fams, _ = h.scrape(t, masterKey)
	expect(t, fams, "litellm_scrape_collector_success", map[string]string{"collector": "usage"}, 0)
	expect(t, fams, "litellm_usage_spend_usd_total", series, 63)
}

// Organization budgets: on releases whose /organization/list does not nest
// the budget row, the exporter takes it from /budget/list; a key that is
// not a proxy admin sees no organizations, and says so.
func TestHTTPModeOrganizations(t *testing.T) {
	orgA := map[string]string{"scope": "org", "id": "org-a", "name": "Acme"}
	t.Run("budget rows from /budget/list", func(t *testing.T) {
		p := fakeproxy.Start(t, masterKey)
		fillProxy(p)
		p.With(func(d *fakeproxy.Data) { d.OrgsNotNested = true })
		h, _ := httpHarness(t, p, opts{})
		h.refresh(t)
		fams, _ := h.scrape(t, masterKey)
		expect(t, fams, "litellm_budget_max_usd", orgA, 1000)
		expect(t, fams, "litellm_budget_soft_usd", orgA, 800)
		expect(t, fams, "litellm_proxy_api_organizations_unseen", nil, 0)
		if n := p.Requests("/budget/list"); n != 1 {
			t.Errorf("/budget/list read %d times, want 1", n)
		}
	})
	t.Run("a key that is not a proxy admin", func(t *testing.T) {
		p := fakeproxy.Start(t, masterKey)
		fillProxy(p)
		p.With(func(d *fakeproxy.Data) { d.NotAdmin = true })
		h, logs := httpHarness(t, p, opts{})
		h.refresh(t)
		fams, _ := h.scrape(t, masterKey)
		absent(t, fams, "litellm_budget_spend_usd", orgA)
		expect(t, fams, "litellm_proxy_api_organizations_unseen", nil, 2)
		if !strings.Contains(logs.String(), "not a proxy admin") {
			t.Errorf("no warning in the log:\n%s", logs)
		}
	})
}

// Keys, teams, users and organizations are listed every
// --litellm.budgets-interval (each /team/list and /user/list costs the proxy
// a query per entry), usage every refresh.
func TestHTTPModeListsBudgetsOnItsOwnInterval(t *testing.T) {
	p := fakeproxy.Start(t, masterKey)
	fillProxy(p)
	p.With(func(d *fakeproxy.Data) {
		d.Keys = append(d.Keys, fakeproxy.Key{Token: token("sk-ui"), KeyAlias: "ui-session", TeamID: "litellm-dashboard", Spend: 1})
		d.Orgs = append(d.Orgs, fakeproxy.Org{OrganizationID: "org-z", OrganizationAlias: "Zero", BudgetID: "b-zero", Spend: 3})
		d.Budgets = append(d.Budgets, fakeproxy.Budget{BudgetID: "b-zero", MaxBudget: f(0)})
	})
	h, _ := httpHarness(t, p, opts{budgetsInterval: 5 * time.Minute})
	for range 3 {
		h.refresh(t)
		h.clock.Add(time.Minute)
	}
	if n := p.Requests("/team/list"); n != 1 {
		t.Errorf("/team/list read %d times in 3 refreshes within the budgets interval, want 1", n)
	}
	if n := p.Requests("/user/daily/activity"); n < 3 {
		t.Errorf("/user/daily/activity read %d times in 3 refreshes, want every refresh", n)
	}
	h.clock.Add(5 * time.Minute)
	h.refresh(t)
	if n := p.Requests("/team/list"); n != 2 {
		t.Errorf("/team/list read %d times after the interval, want 2", n)
	}
	fams, _ := h.scrape(t, masterKey)
	// The admin UI's session tokens are not keys; an org's max of 0 is no budget.
	absent(t, fams, "litellm_budget_spend_usd", map[string]string{"scope": "key", "name": "ui-session"})
	absent(t, fams, "litellm_budget_remaining_usd", map[string]string{"scope": "org", "id": "org-z"})
	expect(t, fams, "litellm_budget_spend_usd", map[string]string{"scope": "org", "id": "org-z"}, 3)
}
