package exporter

import (
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/outrigger/outrigger/internal/testkit"
)

func seedKeys(t *testing.T, p *proxyDB) {
	p.exec(t, `INSERT INTO "LiteLLM_TeamTable" ("team_id", "team_alias") VALUES ('team-1', 'search'), ('team-2', 'agents')`)
	p.exec(t, `INSERT INTO "LiteLLM_VerificationToken" ("token", "key_alias", "user_id", "team_id") VALUES
  ('%s', 'search-prod', 'u1', 'team-1'), ('%s', 'agents-bot', 'u2', 'team-2')`, token("sk-one"), token("sk-two"))
}

// counters returns every counter sample of the exposition by series identity.
func counters(fams map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for name, fam := range fams {
		// Only the counters read from the proxy's tables, not the process's own.
		if fam.GetType() != dto.MetricType_COUNTER || !strings.HasPrefix(name, "litellm_") || strings.HasPrefix(name, "litellm_exporter_") {
			continue
		}
		for _, m := range fam.GetMetric() {
			id := name
			for _, l := range m.GetLabel() {
				id += "," + l.GetName() + "=" + l.GetValue()
			}
			out[id] = m.GetCounter().GetValue()
		}
	}
	return out
}

// neverBackwards fails when a counter of next is below its value in prev.
func neverBackwards(t *testing.T, prev, next map[string]float64) {
	t.Helper()
	for id, v := range prev {
		if n, ok := next[id]; ok && n < v {
			t.Errorf("counter went backwards: %s %v -> %v", id, v, n)
		}
	}
}

func TestDailyTotalsNeverGoBackwardsAndSurviveRestart(t *testing.T) {
	p := startProxyDB(t, "../testdata/schema.sql")
	seedKeys(t, p)
	gpt := func(user, date string, spend float64, prompt, completion, ok, failed int64) daily {
		return daily{entity: user, date: date, key: "sk-one", model: "gpt-4o-2024-08-06", group: "gpt-4o", provider: "openai",
			spend: spend, prompt: prompt, completion: completion, cacheRead: prompt / 10, ok: ok, failed: failed}
	}
	claude := func(date string, spend float64) daily {
		return daily{entity: "u2", date: date, key: "sk-two", model: "claude-sonnet-4", group: "claude-sonnet", provider: "anthropic",
			spend: spend, prompt: 1000, completion: 500, ok: 1}
	}
	p.addDaily(t, gpt("u1", "2026-02-20", 1.1, 100, 50, 2, 0))  // last month, closed at start
	p.addDaily(t, gpt("u1", "2026-03-02", 2.2, 200, 100, 3, 1)) // this month, closed
	p.addDaily(t, gpt("u2", "2026-03-02", 0.3, 30, 10, 1, 0))   // same key and model, other user
	p.addDaily(t, claude("2026-03-09", 5))                      // recent
	for range 3 {                                               // today, three increments of 0.1
		p.addDaily(t, gpt("u1", "2026-03-10", 0.1, 10, 5, 1, 0))
	}
	p.addDaily(t, daily{table: "LiteLLM_DailyTagSpend", entityCol: "tag", entity: "prod", date: "2026-03-10", key: "sk-one",
		model: "gpt-4o-2024-08-06", group: "gpt-4o", provider: "openai", spend: 0.3, ok: 3})

	h := newHarness(t, p, opts{now: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)})
	h.refresh(t)
	fams, body := h.scrape(t, token("sk-one"), token("sk-two"))
	testkit.CheckMetrics(t, body, compatNames...)

	one := map[string]string{"key_alias": "search-prod", "key_id": KeyID(token("sk-one")), "team": "team-1", "team_alias": "search",
		"model_group": "gpt-4o", "provider": "openai"}
	two := map[string]string{"key_alias": "agents-bot", "team": "team-2", "team_alias": "agents", "model_group": "claude-sonnet", "provider": "anthropic"}
	with := func(m map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for a, b := range m {
			out[a] = b
		}
		return out
	}
	expect(t, fams, "litellm_usage_spend_usd_total", one, 1.1+2.2+0.3+0.3)
	expect(t, fams, "litellm_usage_spend_today_usd", one, 0.3)
	expect(t, fams, "litellm_usage_spend_month_usd", one, 2.2+0.3+0.3)
	expect(t, fams, "litellm_usage_tokens_total", with(one, "type", "prompt"), 100+200+30+30)
	expect(t, fams, "litellm_usage_tokens_total", with(one, "type", "completion"), 50+100+10+15)
	expect(t, fams, "litellm_usage_tokens_total", with(one, "type", "cache_read"), 10+20+3+3)
	expect(t, fams, "litellm_usage_requests_total", with(one, "status", "all"), 2+4+1+3)
	expect(t, fams, "litellm_usage_requests_total", with(one, "status", "failure"), 1)
	expect(t, fams, "litellm_usage_tokens_today", one, 30+15)
	expect(t, fams, "litellm_usage_requests_month", one, 4+1+3)
	expect(t, fams, "litellm_usage_spend_usd_total", two, 5)
	expect(t, fams, "litellm_usage_spend_today_usd", two, 0)
	expect(t, fams, "litellm_usage_spend_month_usd", two, 5)
	compatOne := map[string]string{"hashed_api_key": KeyID(token("sk-one")), "api_key_alias": "search-prod", "team": "team-1",
		"team_alias": "search", "model": "gpt-4o-2024-08-06", "requested_model": "gpt-4o"}
	expect(t, fams, "litellm_spend_metric_total", compatOne, 3.9)
	expect(t, fams, "litellm_total_tokens_metric_total", compatOne, 360+175)
	expect(t, fams, "litellm_input_tokens_metric_total", compatOne, 360)
	expect(t, fams, "litellm_tag_spend_usd_total", map[string]string{"tag": "prod"}, 0.3)
	expect(t, fams, "litellm_tag_spend_today_usd", map[string]string{"tag": "prod"}, 0.3)
	// Three increments of 0.1 add up to exactly 0.3 (nano-USD per day), not 0.30000000000000004.
	if got := testkit.MustValue(t, fams, "litellm_usage_spend_today_usd", one); got != 0.3 {
		t.Errorf("today = %v, want exactly 0.3", got)
	}
	prev := counters(fams)

	// The proxy keeps adding to today's rows while the exporter runs.
	p.addDaily(t, gpt("u1", "2026-03-10", 0.5, 40, 20, 1, 0))
	h.clock.Add(time.Minute)
	h.refresh(t)
	fams, _ = h.scrape(t)
	expect(t, fams, "litellm_usage_spend_usd_total", one, 4.4)
	expect(t, fams, "litellm_usage_spend_today_usd", one, 0.8)
	next := counters(fams)
	neverBackwards(t, prev, next)
	prev = next

	// Four days on: the days up to the 10th are closed and summed in memory,
	// a late batch lands on the 13th, and the key of claude is deleted.
	h.clock.Set(time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC))
	p.addDaily(t, gpt("u1", "2026-03-13", 1, 10, 10, 1, 0))
	p.addDaily(t, gpt("u1", "2026-03-14", 0.25, 10, 10, 1, 0))
	deleteKey(t, p, "sk-two")
	h.refresh(t)
	p.addDaily(t, gpt("u1", "2026-03-13", 0.75, 10, 10, 1, 0))
	h.refresh(t)
	fams, _ = h.scrape(t)
	expect(t, fams, "litellm_usage_spend_usd_total", one, 4.4+1+0.25+0.75)
	expect(t, fams, "litellm_usage_spend_today_usd", one, 0.25)
	expect(t, fams, "litellm_usage_spend_month_usd", one, 2.2+0.3+0.3+0.5+1+0.75+0.25)
	// The deleted key keeps its alias and team (from the deleted-keys table).
	expect(t, fams, "litellm_usage_spend_usd_total", two, 5)
	next = counters(fams)
	neverBackwards(t, prev, next)
	if len(next) < len(prev) {
		t.Errorf("counters disappeared: %d before, %d now", len(prev), len(next))
	}

	// A restarted exporter derives the same totals from the rows.
	h2 := newHarness(t, p, opts{now: h.clock.Now()})
	h2.refresh(t)
	fams2, _ := h2.scrape(t)
	again := counters(fams2)
	for id, v := range next {
		if again[id] != v {
			t.Errorf("after a restart %s = %v, before %v", id, again[id], v)
		}
	}
}

// LiteLLM writes "date" from the request's UTC "startTime", so "today" and
// "this month" are UTC days, whatever zone the exporter runs in (or is told,
// with the deprecated --time-zone). The clock is the test kit's, moved to
// 05:00 UTC on the first of its month, when it is still the previous day
// (and month) in Pago Pago (UTC-11); it is injected into the exporter, and
// the rows' dates derive from it.
func TestTodayAndMonthAreLiteLLMsUTCDays(t *testing.T) {
	p := startProxyDB(t, "../testdata/schema.sql")
	seedKeys(t, p)
	row := func(date time.Time, spend float64) daily {
		return daily{entity: "u1", date: date.UTC().Format("2006-01-02"), key: "sk-one", model: "m", group: "g", provider: "openai", spend: spend, prompt: 1, ok: 1}
	}
	real := testkit.Now().UTC()
	first := time.Date(real.Year(), real.Month(), 1, 5, 0, 0, 0, time.UTC)
	p.addDaily(t, row(first.AddDate(0, 0, -16), 4)) // mid previous month
	p.addDaily(t, row(first.AddDate(0, 0, -1), 1))  // the last day of the previous month
	p.addDaily(t, row(first, 2))                    // today, UTC
	series := map[string]string{"key_alias": "search-prod", "model_group": "g"}

	pago, err := time.LoadLocation("Pacific/Pago_Pago")
	if err != nil {
		t.Fatal(err)
	}
	now := first.In(pago)
	if now.Day() == first.Day() {
		t.Fatalf("%s is the same date in Pago Pago", first)
	}
	zoned := newHarness(t, p, opts{zone: "Pacific/Pago_Pago", now: now})
	utc := newHarness(t, p, opts{zone: "UTC", now: now})
	zoned.refresh(t)
	utc.refresh(t)

	check := func(h *harness, today, month float64) {
		t.Helper()
		fams, _ := h.scrape(t)
		expect(t, fams, "litellm_usage_spend_today_usd", series, today)
		expect(t, fams, "litellm_usage_spend_month_usd", series, month)
		expect(t, fams, "litellm_usage_spend_usd_total", series, 7)
	}
	check(zoned, 2, 2)
	check(utc, 2, 2)

	// Midnight UTC, 19 hours later: a new day, nothing spent yet; the
	// scrape sees it at once, before any refresh.
	for _, h := range []*harness{zoned, utc} {
		h.clock.Add(19 * time.Hour)
		check(h, 0, 2)
		h.refresh(t)
		check(h, 0, 2)
	}
}
