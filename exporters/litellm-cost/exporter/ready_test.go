package exporter

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
)

func ready(t *testing.T, h *harness) (int, string) {
	t.Helper()
	code, body := testkit.Get(t, h.url+"/ready", nil)
	var r struct{ Status, Reason string }
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("/ready: %v: %s", err, body)
	}
	return code, r.Reason
}

func TestReadyWhenTablesAreMissing(t *testing.T) {
	p := startProxyDB(t, "") // a database the proxy never migrated
	h := newHarness(t, p, opts{})
	h.refresh(t)
	code, reason := ready(t, h)
	if code != 503 || !strings.Contains(reason, "LiteLLM_VerificationToken") {
		t.Fatalf("/ready = %d %q, want 503 naming the missing table", code, reason)
	}
	fams, _ := h.scrape(t)
	expect(t, fams, "litellm_database_up", nil, 1)
	expect(t, fams, "litellm_table_present", map[string]string{"table": "LiteLLM_SpendLogs"}, 0)
	expect(t, fams, "litellm_scrape_collector_success", map[string]string{"collector": "spendlogs"}, 1) // skipped
}

func TestReadyWhenTheDatabaseIsUnreachableNamesNoSecret(t *testing.T) {
	p := startProxyDB(t, "../testdata/schema.sql")
	port := testkit.FreePort(t)
	h := newHarness(t, p, opts{dsn: fmt.Sprintf("postgresql://litellm:Sup3rSecretPw@127.0.0.1:%d/litellm?schema=public&connection_limit=5", port)})
	h.refresh(t)
	code, reason := ready(t, h)
	if code != 503 || !strings.Contains(reason, "database unreachable") {
		t.Fatalf("/ready = %d %q, want 503 saying the database is unreachable", code, reason)
	}
	fams, _ := h.scrape(t, "Sup3rSecretPw")
	if strings.Contains(reason, "Sup3rSecretPw") {
		t.Fatal("the /ready reason carries the password")
	}
	expect(t, fams, "litellm_database_up", nil, 0)
	expect(t, fams, "litellm_scrape_collector_success", map[string]string{"collector": "budgets"}, 0)
}

// The proxy's database restarts, and the proxy migrates a column in while it
// is down: the exporter reconnects, reads the schema again, serves the last
// good data meanwhile, and picks up the new column.
func TestReconnectsAndDetectsColumnsAgain(t *testing.T) {
	p := startProxyDB(t, "../testdata/schema_old.sql")
	p.exec(t, `INSERT INTO "LiteLLM_TeamTable" ("team_id", "team_alias", "max_budget", "spend") VALUES ('team-1', 'search', 100, 81)`)
	h := newHarness(t, p, opts{})
	h.refresh(t)
	team := map[string]string{"scope": "team", "id": "team-1"}
	fams, _ := h.scrape(t)
	expect(t, fams, "litellm_budget_utilization_ratio", team, 0.81)
	absent(t, fams, "litellm_budget_soft_usd", team)
	if code, reason := ready(t, h); code != 200 {
		t.Fatalf("/ready = %d %q", code, reason)
	}

	p.pg.Stop(t)
	h.refresh(t)
	if code, reason := ready(t, h); code != 503 || !strings.Contains(reason, "database unreachable") {
		t.Fatalf("/ready with the database down = %d %q", code, reason)
	}
	fams, _ = h.scrape(t)
	expect(t, fams, "litellm_database_up", nil, 0)
	expect(t, fams, "litellm_scrape_collector_success", map[string]string{"collector": "budgets"}, 0)
	expect(t, fams, "litellm_budget_utilization_ratio", team, 0.81) // last good data, with its age
	testkit.MustValue(t, fams, "litellm_exporter_cache_age_seconds", map[string]string{"part": "budgets"})

	p.pg.Start(t)
	p.exec(t, `ALTER TABLE "LiteLLM_TeamTable" ADD COLUMN "soft_budget" DOUBLE PRECISION`)
	p.exec(t, `UPDATE "LiteLLM_TeamTable" SET "soft_budget" = 80`)
	h.refresh(t)
	if code, reason := ready(t, h); code != 200 {
		t.Fatalf("/ready after the restart = %d %q", code, reason)
	}
	fams, _ = h.scrape(t)
	expect(t, fams, "litellm_database_up", nil, 1)
	expect(t, fams, "litellm_budget_soft_usd", team, 80)
	expect(t, fams, "litellm_scrape_collector_success", map[string]string{"collector": "budgets"}, 1)

	// A restart between two refreshes: the next refresh finds its connection
	// broken and replaces it at once, without a failed round.
	p.pg.Stop(t)
	p.pg.Start(t)
	p.exec(t, `UPDATE "LiteLLM_TeamTable" SET "spend" = 90`)
	h.refresh(t)
	fams, _ = h.scrape(t)
	expect(t, fams, "litellm_scrape_collector_success", map[string]string{"collector": "budgets"}, 1)
	expect(t, fams, "litellm_budget_utilization_ratio", team, 0.9)
	expect(t, fams, "litellm_exporter_refreshes_total", map[string]string{"result": "error"}, 1)
}

func TestOlderSchemaDegradesGracefully(t *testing.T) {
	p := startProxyDB(t, "../testdata/schema_old.sql")
	seedKeys(t, p)
	p.exec(t, `UPDATE "LiteLLM_VerificationToken" SET "max_budget" = 10, "spend" = 8.5 WHERE "key_alias" = 'search-prod'`)
	p.addDaily(t, daily{entity: "u1", date: "2026-03-10", key: "sk-one", model: "m", group: "g", provider: "openai", spend: 1.5, prompt: 10, completion: 5})
	p.addDaily(t, daily{entity: "u1", date: "2026-02-01", key: "sk-one", model: "m", group: "g", provider: "openai", spend: 2, prompt: 10, completion: 5})
	insertLogs := `INSERT INTO "LiteLLM_SpendLogs" ("request_id", "call_type", "startTime", "endTime", "model_group", "cache_hit") VALUES ('r1', 'acompletion', '2026-03-10 11:59:30', '2026-03-10 11:59:31', 'g', 'True')`
	h := newHarness(t, p, opts{})
	h.refresh(t)
	p.exec(t, insertLogs)
	h.clock.Add(2 * time.Minute)
	h.refresh(t)
	fams, body := h.scrape(t)
	testkit.CheckMetrics(t, body, compatNames...)
	key := map[string]string{"scope": "key", "name": "search-prod"}
	expect(t, fams, "litellm_budget_utilization_ratio", key, 0.85)
	series := map[string]string{"key_alias": "search-prod", "model_group": "g"}
	expect(t, fams, "litellm_usage_spend_usd_total", series, 3.5)
	expect(t, fams, "litellm_usage_spend_today_usd", series, 1.5)
	expect(t, fams, "litellm_usage_tokens_total", map[string]string{"key_alias": "search-prod", "type": "prompt"}, 20)
	// What this release does not record is left out, not shown as 0.
	absent(t, fams, "litellm_usage_tokens_total", map[string]string{"type": "cache_read"})
	if _, ok := fams["litellm_usage_requests_total"]; ok {
		t.Error("litellm_usage_requests_total is served although the table has no request counts")
	}
	if _, ok := fams["litellm_tag_spend_usd_total"]; ok {
		t.Error("tag series served although there is no tag table")
	}
	expect(t, fams, "litellm_spendlog_requests_total", map[string]string{"model_group": "g", "cache_hit": "true", "status": "unknown"}, 1)
	for _, c := range []string{"database", "budgets", "usage", "spendlogs"} {
		expect(t, fams, "litellm_scrape_collector_success", map[string]string{"collector": c}, 1)
	}
}

// The background loop refreshes on its interval, scrapes follow the
// database without querying it, and cancelling the context stops the loop
// and closes the connection (goleak checks nothing is left behind).
func TestRunRefreshesInTheBackgroundAndStops(t *testing.T) {
	p := startProxyDB(t, "../testdata/schema.sql")
	p.exec(t, `INSERT INTO "LiteLLM_TeamTable" ("team_id", "max_budget", "spend") VALUES ('t1', 10, 1)`)
	h := newHarness(t, p, opts{interval: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.exp.Run(ctx)
	}()
	p.exec(t, `UPDATE "LiteLLM_TeamTable" SET "spend" = 9`)
	testkit.Eventually(t, 10*time.Second, "the new spend is served", func() error {
		code, body := testkit.Get(t, h.url+"/metrics", nil)
		fams := testkit.Families(t, body)
		if v, ok := testkit.Value(fams, "litellm_budget_utilization_ratio", map[string]string{"id": "t1"}); code != 200 || !ok || v != 0.9 {
			return fmt.Errorf("ratio %v (%v)", v, ok)
		}
		return nil
	})
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	// The server notices the closed session a moment after the client.
	testkit.Eventually(t, 5*time.Second, "the exporter's connection is closed", func() error {
		if n := p.exec(t, `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'litellm-exporter'`); n != "0" {
			return fmt.Errorf("%s exporter connections open", n)
		}
		return nil
	})
}
