package exporter

import (
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
)

func ptime(t time.Time) *time.Time { return &t }

// fillBudgets creates two orgs, four teams, keys with and without a max (one
// through a BudgetTable row), users with the proxy-wide budget row, end users
// and tags, then applies requests the way the proxy does.
func fillBudgets(t *testing.T, p *proxyDB) {
	p.createBudget(t, "b-org-a", f(1000), f(800), "30d", ptime(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)))
	p.createBudget(t, "b-org-b", nil, nil, "", nil)
	p.createBudget(t, "b-key", f(5), f(4), "", nil)
	p.createBudget(t, "b-eu", f(2), nil, "", nil)
	p.createBudget(t, "b-tag", f(30), nil, "", nil)
	p.exec(t, `INSERT INTO "LiteLLM_OrganizationTable" ("organization_id", "organization_alias", "budget_id", "created_by", "updated_by") VALUES
  ('org-a', 'Acme', 'b-org-a', 'admin', 'admin'), ('org-b', 'Beta', 'b-org-b', 'admin', 'admin')`)
	p.exec(t, `INSERT INTO "LiteLLM_TeamTable" ("team_id", "team_alias", "organization_id", "max_budget", "soft_budget", "budget_duration", "budget_reset_at", "blocked") VALUES
  ('team-1', 'search', 'org-a', 100, 80, '1d', '2026-03-11 00:00:00', false),
  ('team-2', 'agents', 'org-b', NULL, NULL, NULL, NULL, false),
  ('team-3', 'frozen', 'org-a', 50, NULL, NULL, NULL, true),
  ('team-4', 'zero', 'org-b', 0, NULL, NULL, NULL, false)`)
	p.exec(t, `INSERT INTO "LiteLLM_UserTable" ("user_id", "user_alias", "user_email", "max_budget") VALUES
  ('u1', 'alice', 'alice@example.com', 20), ('u2', NULL, 'bob@example.com', NULL), ('litellm-proxy-budget', NULL, NULL, 500)`)
	p.exec(t, `INSERT INTO "LiteLLM_VerificationToken" ("token", "key_name", "key_alias", "user_id", "team_id", "max_budget", "budget_duration", "budget_reset_at", "budget_id", "blocked") VALUES
  ('%s', 'sk-...-one', 'search-prod', 'u1', 'team-1', 10, '1d', '2026-03-10 18:00:00', NULL, NULL),
  ('%s', 'sk-...-two', 'agents-bot', 'u2', 'team-2', NULL, NULL, NULL, NULL, false),
  ('%s', 'sk-...hree', NULL, 'u1', 'team-1', NULL, NULL, NULL, 'b-key', NULL),
  ('%s', 'sk-...four', 'to-delete', 'u2', 'team-1', 3, NULL, NULL, NULL, NULL)`,
		token("sk-one"), token("sk-two"), token("sk-three"), token("sk-four"))
	p.exec(t, `INSERT INTO "LiteLLM_EndUserTable" ("user_id", "alias", "budget_id", "blocked") VALUES ('eu1', 'customer-1', 'b-eu', false), ('eu2', NULL, NULL, true)`)
	p.exec(t, `INSERT INTO "LiteLLM_TagTable" ("tag_name", "budget_id") VALUES ('prod', 'b-tag'), ('dev', NULL)`)

	p.spendRequest(t, "sk-one", "u1", "team-1", "eu1", 3.5)
	p.spendRequest(t, "sk-one", "u1", "team-1", "eu1", 3.5)
	p.spendRequest(t, "sk-two", "u2", "team-2", "eu2", 12.25)
	p.spendRequest(t, "sk-three", "u1", "team-1", "eu1", 4.5)
	p.spendRequest(t, "sk-four", "u2", "team-1", "", 1)
	p.exec(t, `UPDATE "LiteLLM_TeamTable" SET "spend" = "spend" + 2 WHERE "team_id" = 'team-4'`)
	p.exec(t, `UPDATE "LiteLLM_OrganizationTable" SET "spend" = "spend" + 12.5 WHERE "organization_id" = 'org-a'`)
	p.exec(t, `UPDATE "LiteLLM_OrganizationTable" SET "spend" = "spend" + 12.25 WHERE "organization_id" = 'org-b'`)
	p.exec(t, `UPDATE "LiteLLM_TagTable" SET "spend" = "spend" + 9 WHERE "tag_name" = 'prod'`)
	p.exec(t, `UPDATE "LiteLLM_TagTable" SET "spend" = "spend" + 4 WHERE "tag_name" = 'dev'`)
}

// deleteKey does what /key/delete does: copy the row to the deleted-keys
// table, then delete it.
func deleteKey(t *testing.T, p *proxyDB, key string) {
	p.exec(t, `BEGIN;
INSERT INTO "LiteLLM_DeletedVerificationToken" ("id", "token", "key_name", "key_alias", "spend", "user_id", "team_id", "max_budget", "deleted_by")
  SELECT gen_random_uuid()::text, "token", "key_name", "key_alias", "spend", "user_id", "team_id", "max_budget", 'admin'
  FROM "LiteLLM_VerificationToken" WHERE "token" = '%[1]s';
DELETE FROM "LiteLLM_VerificationToken" WHERE "token" = '%[1]s';
COMMIT;`, token(key))
}

func TestBudgetsMatchHandComputation(t *testing.T) {
	p := startProxyDB(t, "../testdata/schema.sql")
	fillBudgets(t, p)
	h := newHarness(t, p, opts{now: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)})
	h.refresh(t)
	secrets := []string{token("sk-one"), token("sk-two"), token("sk-three"), token("sk-four"), "sk-one", "alice@example.com"}
	fams, body := h.scrape(t, secrets...)
	testkit.CheckMetrics(t, body, compatNames...)

	checkBudgets(t, fams, append(commonBudgets(),
		budgetWant{labels: map[string]string{"scope": "end_user", "id": "eu1", "name": "customer-1"}, spend: 11.5, max: f(2), ratio: f(5.75), remain: f(-9.5), blocked: f(0)},
		budgetWant{labels: map[string]string{"scope": "end_user", "id": "eu2", "name": ""}, spend: 12.25, blocked: f(1)},
		budgetWant{labels: map[string]string{"scope": "tag", "id": "prod", "name": "prod"}, spend: 9, max: f(30), ratio: f(0.3), remain: f(21)},
		budgetWant{labels: map[string]string{"scope": "tag", "id": "dev", "name": "dev"}, spend: 4},
	))
	for scope, n := range map[string]float64{"key": 4, "team": 4, "user": 2, "proxy": 1, "org": 2, "end_user": 2, "tag": 2} {
		expect(t, fams, "litellm_budget_entities", map[string]string{"scope": scope}, n)
	}

	// LiteLLM's own names, where a budget exists, and never +Inf.
	expect(t, fams, "litellm_team_max_budget_metric", map[string]string{"team": "team-1", "team_alias": "search"}, 100)
	expect(t, fams, "litellm_remaining_team_budget_metric", map[string]string{"team": "team-1", "team_alias": "search"}, 87.5)
	expect(t, fams, "litellm_team_budget_remaining_hours_metric", map[string]string{"team": "team-1"}, 12)
	absent(t, fams, "litellm_remaining_team_budget_metric", map[string]string{"team": "team-2"})
	k1 := map[string]string{"hashed_api_key": KeyID(token("sk-one")), "api_key_alias": "search-prod"}
	expect(t, fams, "litellm_api_key_max_budget_metric", k1, 10)
	expect(t, fams, "litellm_remaining_api_key_budget_metric", k1, 3)
	expect(t, fams, "litellm_api_key_budget_remaining_hours_metric", k1, 6)
	absent(t, fams, "litellm_api_key_max_budget_metric", map[string]string{"api_key_alias": "agents-bot"})
	expect(t, fams, "litellm_remaining_user_budget_metric", map[string]string{"user": "u1"}, 8.5)

	// A deleted key's budget series go away with it.
	deleteKey(t, p, "sk-four")
	h.refresh(t)
	fams, _ = h.scrape(t, secrets...)
	absent(t, fams, "litellm_budget_spend_usd", keyBudget("sk-four", "to-delete"))
	expect(t, fams, "litellm_budget_entities", map[string]string{"scope": "key"}, 3)
	expect(t, fams, "litellm_budget_spend_usd", keyBudget("sk-one", "search-prod"), 7)

	// Midnight: the proxy's reset job zeroes the daily budgets that are due
	// and schedules the next reset.
	h.clock.Set(time.Date(2026, 3, 11, 0, 0, 1, 0, time.UTC))
	p.exec(t, `UPDATE "LiteLLM_TeamTable" SET "spend" = 0, "budget_reset_at" = '2026-03-12 00:00:00' WHERE "budget_reset_at" <= '2026-03-11 00:00:01'`)
	p.exec(t, `UPDATE "LiteLLM_VerificationToken" SET "spend" = 0, "budget_reset_at" = '2026-03-11 18:00:00' WHERE "budget_reset_at" <= '2026-03-11 00:00:01'`)
	h.refresh(t)
	fams, _ = h.scrape(t, secrets...)
	expect(t, fams, "litellm_budget_spend_usd", teamBudget("team-1", "search"), 0)
	expect(t, fams, "litellm_budget_utilization_ratio", teamBudget("team-1", "search"), 0)
	expect(t, fams, "litellm_budget_remaining_usd", teamBudget("team-1", "search"), 100)
	expect(t, fams, "litellm_budget_reset_seconds", teamBudget("team-1", "search"), 86399)
	expect(t, fams, "litellm_budget_spend_usd", keyBudget("sk-one", "search-prod"), 0)
	expect(t, fams, "litellm_budget_reset_seconds", keyBudget("sk-one", "search-prod"), 18*3600-1)
	// A budget whose reset is overdue (the job has not run) shows 0, not a negative time.
	h.clock.Set(time.Date(2026, 3, 12, 0, 5, 0, 0, time.UTC))
	fams, _ = h.scrape(t, secrets...)
	expect(t, fams, "litellm_budget_reset_seconds", teamBudget("team-1", "search"), 0)
}

func TestBudgetSeriesLimitFoldsTheRestIntoOther(t *testing.T) {
	p := startProxyDB(t, "../testdata/schema.sql")
	p.exec(t, `INSERT INTO "LiteLLM_TeamTable" ("team_id", "team_alias", "max_budget", "spend")
  SELECT 'team-' || i, 'alias-' || i, CASE WHEN i <= 2 THEN 10 END, i FROM generate_series(1, 6) i`)
	h := newHarness(t, p, opts{maxSeries: 3})
	h.refresh(t)
	fams, _ := h.scrape(t)
	// Teams with a budget first (team-2 is fuller than team-1), then the biggest spender.
	for _, id := range []string{"team-2", "team-1", "team-6"} {
		expect(t, fams, "litellm_budget_spend_usd", map[string]string{"scope": "team", "id": id}, float64(id[len(id)-1]-'0'))
	}
	expect(t, fams, "litellm_budget_spend_usd", map[string]string{"scope": "team", "id": "other"}, 3+4+5)
	expect(t, fams, "litellm_budget_entities", map[string]string{"scope": "team"}, 6)
}

// What LiteLLM itself does with its budgets: the admin UI's session tokens
// (team "litellm-dashboard") are not keys anyone budgets; an organization's
// max_budget of 0 means no budget; an end user without a budget row gets the
// proxy's default end-user budget (litellm_settings.max_end_user_budget).
func TestBudgetsFollowLiteLLMsRules(t *testing.T) {
	p := startProxyDB(t, "../testdata/schema.sql")
	now := testkit.Now().UTC().Truncate(time.Second)
	p.createBudget(t, "b-zero", f(0), nil, "", nil)
	p.exec(t, `INSERT INTO "LiteLLM_OrganizationTable" ("organization_id", "organization_alias", "budget_id", "spend", "created_by", "updated_by") VALUES
  ('org-z', 'Zero', 'b-zero', 3, 'admin', 'admin')`)
	p.exec(t, `INSERT INTO "LiteLLM_VerificationToken" ("token", "key_alias", "team_id", "spend") VALUES
  ('%s', 'ui-session', 'litellm-dashboard', 1), ('%s', 'real', NULL, 2)`, token("sk-ui"), token("sk-real"))
	p.exec(t, `INSERT INTO "LiteLLM_EndUserTable" ("user_id", "alias", "spend") VALUES ('eu-default', NULL, 1.5)`)
	p.exec(t, `INSERT INTO "LiteLLM_Config" ("param_name", "param_value") VALUES ('litellm_settings', '{"max_end_user_budget": 10}')`)
	// Usage of requests without a tag: "Unassigned", as LiteLLM's own tag
	// report (and so HTTP mode) calls it.
	p.addDaily(t, daily{table: "LiteLLM_DailyTagSpend", entityCol: "tag", entity: "", date: now.Format("2006-01-02"),
		key: "sk-real", model: "m", group: "g", provider: "openai", spend: 0.5, ok: 1})
	h := newHarness(t, p, opts{now: now})
	h.refresh(t)
	fams, _ := h.scrape(t)

	expect(t, fams, "litellm_tag_spend_usd_total", map[string]string{"tag": "Unassigned"}, 0.5)
	absent(t, fams, "litellm_budget_spend_usd", map[string]string{"scope": "key", "name": "ui-session"})
	expect(t, fams, "litellm_budget_spend_usd", map[string]string{"scope": "key", "name": "real"}, 2)
	expect(t, fams, "litellm_budget_entities", map[string]string{"scope": "key"}, 1)

	org := map[string]string{"scope": "org", "id": "org-z"}
	expect(t, fams, "litellm_budget_spend_usd", org, 3)
	for _, name := range []string{"litellm_budget_max_usd", "litellm_budget_remaining_usd", "litellm_budget_utilization_ratio"} {
		absent(t, fams, name, org)
	}
	absent(t, fams, "litellm_remaining_org_budget_metric", map[string]string{"org_id": "org-z"})

	eu := map[string]string{"scope": "end_user", "id": "eu-default"}
	expect(t, fams, "litellm_budget_max_usd", eu, 10)
	expect(t, fams, "litellm_budget_utilization_ratio", eu, 0.15)
	expect(t, fams, "litellm_remaining_customer_budget_metric", map[string]string{"end_user": "eu-default"}, 8.5)
}
