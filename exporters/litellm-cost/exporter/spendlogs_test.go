package exporter

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
)

// insertLogs writes one batch of spend-log rows, as the proxy's batch writer does.
func insertLogs(t *testing.T, p *proxyDB, rows ...string) {
	t.Helper()
	p.exec(t, `INSERT INTO "LiteLLM_SpendLogs" ("request_id", "call_type", "api_key", "spend", "startTime", "endTime",
  "completionStartTime", "request_duration_ms", "model", "model_id", "api_base", "custom_llm_provider", "model_group",
  "user", "team_id", "end_user", "cache_hit", "status", "prompt_tokens", "completion_tokens", "metadata") VALUES `+strings.Join(rows, ", "))
}

// logReq is one request as the proxy logs it.
type logReq struct {
	id              string
	start           time.Time
	seconds         float64 // "endTime" - "startTime"
	ttft            float64 // 0: not streamed ("completionStartTime" = "endTime")
	group, cacheHit string
	status          string // "success" or "failure"
	errClass        string
	errCode         string
	completion      int
	meta            string // the metadata JSON; "" writes what the status implies
}

func (r logReq) end() time.Time { return r.start.Add(time.Duration(r.seconds * float64(time.Second))) }

func (r logReq) sql() string {
	ts := func(t time.Time) string { return "'" + t.UTC().Format("2006-01-02 15:04:05.000") + "'" }
	first := r.end()
	if r.ttft > 0 {
		first = r.start.Add(time.Duration(r.ttft * float64(time.Second)))
	}
	meta := "{}"
	if r.meta != "" {
		meta = r.meta
	} else if r.status == "failure" {
		meta = fmt.Sprintf(`{"error_information": {"error_class": %q, "error_code": %q}}`, r.errClass, r.errCode)
	}
	return fmt.Sprintf("('%s', 'acompletion', '%s', 0.01, %s, %s, %s, %d, 'gpt-4o-2024-08-06', 'dep-1', 'https://api.example', 'openai', '%s', 'u1', 'team-1', 'eu1', '%s', '%s', 10, %d, '%s')",
		r.id, token("sk-one"), ts(r.start), ts(r.end()), ts(first), int(r.seconds*1000), r.group, r.cacheHit, r.status, r.completion, meta)
}

// TestSpendLogsCountEveryRowOnce follows the proxy's writer: a row lands
// when its request ends (up to the lag after "endTime"), stamped with the
// "startTime" it began at. Whatever the request's duration, each row is
// counted once; re-read windows never count a row twice. The clock is the
// test kit's, injected into the exporter, and every row's times derive from it.
func TestSpendLogsCountEveryRowOnce(t *testing.T) {
	p := startProxyDB(t, "../testdata/schema.sql")
	seedKeys(t, p)
	t0 := testkit.Now().UTC().Truncate(time.Second)
	// History from before the exporter started is never counted (the daily
	// tables are the source of totals).
	p.exec(t, `INSERT INTO "LiteLLM_SpendLogs" ("request_id", "call_type", "startTime", "endTime", "model_group")
  SELECT 'old-' || i, 'acompletion', '%[1]s'::timestamp - i * interval '1 second', '%[1]s'::timestamp - i * interval '1 second' + interval '1 second', 'gpt-4o'
  FROM generate_series(1, 1000) i`, t0.Format("2006-01-02 15:04:05"))
	h := newHarness(t, p, opts{now: t0, lag: time.Minute})
	h.refresh(t)
	fams, _ := h.scrape(t)
	expect(t, fams, "litellm_spendlog_watermark_timestamp_seconds", nil, float64(t0.Unix()))
	absent(t, fams, "litellm_spendlog_requests_total", map[string]string{"model_group": "gpt-4o"})

	// A ten-minute streamed request began before the exporter started,
	// longer than the lag: it lands when it ends and is counted once.
	long := logReq{id: "long", start: t0.Add(-9 * time.Minute), seconds: 600, ttft: 1.2, group: "gpt-4o", cacheHit: "False", status: "success", completion: 100,
		meta: `{"usage_object": {"completion_tokens_details": {"reasoning_tokens": 40}},
  "guardrail_information": [{"guardrail_name": "pii-mask", "guardrail_status": "success", "duration": 0.05}]}`}
	quick := logReq{id: "quick", start: t0.Add(20 * time.Second), seconds: 0.3, group: "gpt-4o", cacheHit: "True", status: "success", completion: 3}
	fail := logReq{id: "fail", start: t0.Add(30 * time.Second), seconds: 2, group: "claude", cacheHit: "", status: "failure",
		errClass: "RateLimitError", errCode: "429"}
	h.clock.Set(t0.Add(61 * time.Second))
	insertLogs(t, p, long.sql(), quick.sql(), fail.sql())
	h.refresh(t)
	// The same batch seen again by the next re-read windows, and a refresh
	// with no new rows: nothing is counted twice.
	for i := 0; i < 3; i++ {
		h.clock.Add(20 * time.Second)
		h.refresh(t)
	}
	// A row that lands late (within the lag of its "endTime") for a
	// request that ended before the last refresh: counted once.
	late := logReq{id: "late", start: h.clock.Now().Add(-40 * time.Second), seconds: 30, group: "claude", cacheHit: "False", status: "success"}
	insertLogs(t, p, late.sql())
	h.clock.Add(20 * time.Second)
	h.refresh(t)
	h.clock.Add(5 * time.Minute)
	h.refresh(t)

	fams, body := h.scrape(t)
	testkit.CheckMetrics(t, body, compatNames...)
	expect(t, fams, "litellm_spendlog_requests_total", map[string]string{"model_group": "gpt-4o", "cache_hit": "false", "status": "success"}, 1)
	expect(t, fams, "litellm_spendlog_requests_total", map[string]string{"model_group": "gpt-4o", "cache_hit": "true", "status": "success"}, 1)
	expect(t, fams, "litellm_spendlog_requests_total", map[string]string{"model_group": "claude", "cache_hit": "false", "status": "failure"}, 1)
	expect(t, fams, "litellm_spendlog_requests_total", map[string]string{"model_group": "claude", "cache_hit": "false", "status": "success"}, 1)
	expect(t, fams, "litellm_spendlog_request_duration_seconds", map[string]string{"model_group": "gpt-4o"}, 2)
	// The metadata families ride on the same reading: the long row's
	// reasoning tokens and guardrail run count once, whatever the re-reads.
	expect(t, fams, "litellm_output_reasoning_tokens_metric_total", map[string]string{"requested_model": "gpt-4o"}, 40)
	expect(t, fams, "litellm_guardrail_requests_total", map[string]string{"guardrail_name": "pii-mask", "status": "success", "hook_type": ""}, 1)

	// LiteLLM's own names and labels.
	who := map[string]string{"hashed_api_key": KeyID(token("sk-one")), "api_key_alias": "search-prod", "team": "team-1",
		"team_alias": "search", "user": "u1", "end_user": "eu1"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range who {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	expect(t, fams, "litellm_proxy_total_requests_metric_total", with(map[string]string{"requested_model": "gpt-4o", "status_code": "200"}), 2)
	expect(t, fams, "litellm_proxy_total_requests_metric_total", with(map[string]string{"requested_model": "claude", "status_code": "429"}), 1)
	expect(t, fams, "litellm_proxy_failed_requests_metric_total", with(map[string]string{"requested_model": "claude",
		"exception_status": "429", "exception_class": "RateLimitError"}), 1)
	expect(t, fams, "litellm_requests_metric_total", with(map[string]string{"model": "gpt-4o-2024-08-06"}), 4)
	expect(t, fams, "litellm_deployment_failure_responses_total", map[string]string{"litellm_model_name": "gpt-4o-2024-08-06",
		"model_id": "dep-1", "api_base": "https://api.example", "api_provider": "openai", "requested_model": "claude"}, 1)
	hist := func(name string, labels map[string]string) (count uint64, sum float64, le map[float64]uint64) {
		t.Helper()
		le = map[float64]uint64{}
		for _, m := range fams[name].GetMetric() {
			match := true
			for _, l := range m.GetLabel() {
				if w, ok := labels[l.GetName()]; ok && w != l.GetValue() {
					match = false
				}
			}
			if !match {
				continue
			}
			count += m.GetHistogram().GetSampleCount()
			sum += m.GetHistogram().GetSampleSum()
			for _, b := range m.GetHistogram().GetBucket() {
				le[b.GetUpperBound()] += b.GetCumulativeCount()
			}
		}
		return count, sum, le
	}
	n, sum, le := hist("litellm_request_total_latency_metric", map[string]string{"requested_model": "gpt-4o"})
	if n != 2 || !near(sum, 600.3) || le[0.5] != 1 || le[300] != 1 {
		t.Errorf("litellm_request_total_latency_metric{requested_model=gpt-4o}: count %d sum %v le=0.5 %d le=300 %d; want 2, 600.3, 1, 1", n, sum, le[0.5], le[300])
	}
	// Only the streamed request has a time to first token.
	n, sum, _ = hist("litellm_llm_api_time_to_first_token_metric", nil)
	if n != 1 || !near(sum, 1.2) {
		t.Errorf("litellm_llm_api_time_to_first_token_metric: count %d sum %v, want 1 and 1.2", n, sum)
	}
	n, sum, _ = hist("litellm_deployment_latency_per_output_token", map[string]string{"requested_model": "", "model_id": "dep-1"})
	if n != 2 || !near(sum, 6+0.1) {
		t.Errorf("litellm_deployment_latency_per_output_token: count %d sum %v, want 2 and 6.1", n, sum)
	}
}
