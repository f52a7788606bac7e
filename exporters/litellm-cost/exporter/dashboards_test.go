package exporter

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/outrigger/outrigger/internal/testkit"
)

// panel is one panel of LiteLLM's cookbook Grafana dashboards
// (BerriAI/litellm cookbook/litellm_proxy_server/grafana_dashboard:
// dashboard_v2, dashboard_1, dashboard_all_metrics, as of late 2026): the
// metric names its queries read and the label names they select or group
// by. reason, when set, says why the database cannot give that panel data.
type panel struct {
	dashboard, title string
	metrics, labels  []string
	reason           string
}

const (
	inProcess   = "process state of one proxy worker (in memory, per worker, lost on restart); nothing of it is written to the database"
	providerHdr = "rate-limit headers of the provider's last answer, held in the proxy's memory"
	rateWindow  = "rate-limit windows kept in the proxy's cache (memory or Redis), not in PostgreSQL"
	notLogged   = "not a column of the spend logs or the daily tables"
	// LiteLLM encrypts every litellm_params value of a model it stores
	// (LITELLM_SALT_KEY), and models of the config file are not stored.
	dbModelLimits = "deployment limits are config-file settings; LiteLLM_ProxyModelTable holds only models added through the UI, with their litellm_params values encrypted by the proxy's salt key"
	serviceHook   = "LiteLLM's service-callback metrics (service_callback: prometheus_system) about its own Redis, PostgreSQL, router and auth calls"
)

func p(dash, title string, metrics, labels []string, reason string) panel {
	return panel{dash, title, metrics, labels, reason}
}

func m(names ...string) []string { return names }

var cookbookPanels = []panel{
	p("dashboard_v2", "Proxy - Requests per second (success + failure)", m("litellm_proxy_total_requests_metric_total"), nil, ""),
	p("dashboard_v2", "Proxy Failure Responses / Second By Exception Class", m("litellm_proxy_failed_requests_metric_total"), m("exception_class"), ""),
	p("dashboard_v2", "Proxy - Average & Median Response Latency (seconds)", m("litellm_request_total_latency_metric_sum", "litellm_request_total_latency_metric_count", "litellm_request_total_latency_metric_bucket"), m("le"), ""),
	p("dashboard_v2", "x-ratelimit-remaining-requests", m("litellm_remaining_requests"), nil, providerHdr),
	p("dashboard_v2", "x-ratelimit-remaining-tokens", m("litellm_remaining_tokens"), nil, providerHdr),
	p("dashboard_v2", "Requests per second by Key Alias", m("litellm_proxy_total_requests_metric_total"), m("api_key_alias"), ""),
	p("dashboard_v2", "Requests per second by Team Alias", m("litellm_proxy_total_requests_metric_total"), m("team_alias"), ""),

	p("dashboard_1", "Time to first token (latency)", m("litellm_self_latency_bucket"), m("self", "le"), serviceHook),
	p("dashboard_1", "Spend by team", m("litellm_spend_metric_total"), m("hashed_api_key"), ""),
	p("dashboard_1", "Requests by model", m("litellm_requests_metric_total"), m("model"), ""),
	p("dashboard_1", "Failed Requests", m("litellm_llm_api_failed_requests_metric_total"), nil, ""),
	p("dashboard_1", "Spend", m("litellm_spend_metric_total"), m("model"), ""),
	p("dashboard_1", "Tokens", m("litellm_total_tokens_total"), m("model"), ""),

	p("all_metrics", "litellm_proxy_total_requests_metric rate", m("litellm_proxy_total_requests_metric_total"), m("status_code"), ""),
	p("all_metrics", "litellm_proxy_failed_requests_metric rate", m("litellm_proxy_failed_requests_metric_total"), m("exception_class"), ""),
	p("all_metrics", "litellm_requests_metric rate", m("litellm_requests_metric_total"), m("model"), ""),
	p("all_metrics", "litellm_llm_api_failed_requests_metric rate", m("litellm_llm_api_failed_requests_metric_total"), m("model"), ""),
	p("all_metrics", "litellm_in_flight_requests", m("litellm_in_flight_requests"), nil, inProcess),
	p("all_metrics", "litellm_request_queue_time_seconds p50 / p95 / p99", m("litellm_request_queue_time_seconds_bucket"), m("le"), notLogged),
	p("all_metrics", "litellm_admission_admitted_requests", m("litellm_admission_admitted_requests"), nil, inProcess),
	p("all_metrics", "litellm_admission_queued_requests", m("litellm_admission_queued_requests"), nil, inProcess),
	p("all_metrics", "litellm_admission_rejected_requests rate", m("litellm_admission_rejected_requests_total"), m("reason"), inProcess),
	p("all_metrics", "litellm_request_total_latency_metric p50 / p95 / p99", m("litellm_request_total_latency_metric_bucket"), m("le"), ""),
	p("all_metrics", "litellm_llm_api_latency_metric p50 / p95 / p99", m("litellm_llm_api_latency_metric_bucket"), m("le"), ""),
	p("all_metrics", "litellm_llm_api_time_to_first_token_metric p50 / p95 / p99", m("litellm_llm_api_time_to_first_token_metric_bucket"), m("le"), ""),
	p("all_metrics", "litellm_overhead_latency_metric p50 / p95 / p99", m("litellm_overhead_latency_metric_bucket"), m("le"), ""),
	p("all_metrics", "litellm_overhead_with_guardrails_latency_metric p50 / p95 / p99", m("litellm_overhead_with_guardrails_latency_metric_bucket"), m("le"), "measured in process around the guardrail hooks; the spend log holds only litellm_overhead_time_ms, without them"),
	p("all_metrics", "litellm_deployment_latency_per_output_token p50 / p95 / p99", m("litellm_deployment_latency_per_output_token_bucket"), m("le"), ""),
	p("all_metrics", "litellm_spend_metric rate", m("litellm_spend_metric_total"), m("model"), ""),
	p("all_metrics", "litellm_total_tokens_metric rate", m("litellm_total_tokens_metric_total"), m("model"), ""),
	p("all_metrics", "litellm_input_tokens_metric rate", m("litellm_input_tokens_metric_total"), m("model"), ""),
	p("all_metrics", "litellm_output_tokens_metric rate", m("litellm_output_tokens_metric_total"), m("model"), ""),
	p("all_metrics", "litellm_input_cached_tokens_metric rate", m("litellm_input_cached_tokens_metric_total"), m("model"), ""),
	p("all_metrics", "litellm_input_cache_creation_tokens_metric rate", m("litellm_input_cache_creation_tokens_metric_total"), m("model"), ""),
	p("all_metrics", "litellm_input_audio_tokens_metric rate", m("litellm_input_audio_tokens_metric_total"), m("model"), ""),
	p("all_metrics", "litellm_output_audio_tokens_metric rate", m("litellm_output_audio_tokens_metric_total"), m("model"), ""),
	p("all_metrics", "litellm_output_reasoning_tokens_metric rate", m("litellm_output_reasoning_tokens_metric_total"), m("model"), ""),
	p("all_metrics", "litellm_images_generated_metric rate", m("litellm_images_generated_metric_total"), m("model"), notLogged),
	p("all_metrics", "litellm_video_duration_seconds_metric rate", m("litellm_video_duration_seconds_metric_total"), m("model"), notLogged),
	p("all_metrics", "litellm_cache_hits_metric rate", m("litellm_cache_hits_metric_total"), m("model"), ""),
	p("all_metrics", "litellm_cache_misses_metric rate", m("litellm_cache_misses_metric_total"), m("model"), ""),
	p("all_metrics", "litellm_cached_tokens_metric rate", m("litellm_cached_tokens_metric_total"), m("model"), ""),
	p("all_metrics", "litellm_provider_cache_read_input_tokens_metric rate", m("litellm_provider_cache_read_input_tokens_metric_total"), m("model"), ""),
	p("all_metrics", "litellm_provider_cache_creation_input_tokens_metric rate", m("litellm_provider_cache_creation_input_tokens_metric_total"), m("model"), ""),
	p("all_metrics", "litellm_deployment_state", m("litellm_deployment_state"), m("litellm_model_name", "api_base"), inProcess+" (the router's health view)"),
	p("all_metrics", "litellm_deployment_total_requests rate", m("litellm_deployment_total_requests_total"), m("requested_model"), ""),
	p("all_metrics", "litellm_deployment_success_responses rate", m("litellm_deployment_success_responses_total"), m("requested_model"), ""),
	p("all_metrics", "litellm_deployment_failure_responses rate", m("litellm_deployment_failure_responses_total"), m("litellm_model_name", "exception_class"), ""),
	p("all_metrics", "litellm_deployment_cooled_down rate", m("litellm_deployment_cooled_down_total"), m("litellm_model_name", "exception_status"), inProcess+" (router cooldowns)"),
	p("all_metrics", "litellm_deployment_successful_fallbacks rate", m("litellm_deployment_successful_fallbacks_total"), m("requested_model", "fallback_model"), notLogged+" (fallbacks)"),
	p("all_metrics", "litellm_deployment_failed_fallbacks rate", m("litellm_deployment_failed_fallbacks_total"), m("requested_model", "fallback_model"), notLogged+" (fallbacks)"),
	p("all_metrics", "litellm_deployment_rpm_limit", m("litellm_deployment_rpm_limit"), m("litellm_model_name", "api_base"), dbModelLimits),
	p("all_metrics", "litellm_deployment_tpm_limit", m("litellm_deployment_tpm_limit"), m("litellm_model_name", "api_base"), dbModelLimits),
	p("all_metrics", "litellm_remaining_requests_metric", m("litellm_remaining_requests_metric"), m("model_group", "api_provider"), providerHdr),
	p("all_metrics", "litellm_remaining_tokens_metric", m("litellm_remaining_tokens_metric"), m("model_group", "api_provider"), providerHdr),
	p("all_metrics", "litellm_remaining_api_key_requests_for_model", m("litellm_remaining_api_key_requests_for_model"), m("api_key_alias", "model"), rateWindow),
	p("all_metrics", "litellm_remaining_api_key_tokens_for_model", m("litellm_remaining_api_key_tokens_for_model"), m("api_key_alias", "model"), rateWindow),
	p("all_metrics", "litellm_api_key_rate_limit_allowed_metric", m("litellm_api_key_rate_limit_allowed_metric"), m("api_key_alias", "rate_limit_type"), ""),
	p("all_metrics", "litellm_api_key_rate_limit_used_metric", m("litellm_api_key_rate_limit_used_metric"), m("api_key_alias", "rate_limit_type"), rateWindow),
	p("all_metrics", "litellm_team_rate_limit_allowed_metric", m("litellm_team_rate_limit_allowed_metric"), m("team_alias", "rate_limit_type"), ""),
	p("all_metrics", "litellm_team_rate_limit_used_metric", m("litellm_team_rate_limit_used_metric"), m("team_alias", "rate_limit_type"), rateWindow),
	p("all_metrics", "litellm_remaining_team_budget_metric", m("litellm_remaining_team_budget_metric"), m("team_alias"), ""),
	p("all_metrics", "litellm_team_max_budget_metric", m("litellm_team_max_budget_metric"), m("team_alias"), ""),
	p("all_metrics", "litellm_team_budget_remaining_hours_metric", m("litellm_team_budget_remaining_hours_metric"), m("team_alias"), ""),
	p("all_metrics", "litellm_remaining_api_key_budget_metric", m("litellm_remaining_api_key_budget_metric"), m("api_key_alias"), ""),
	p("all_metrics", "litellm_api_key_max_budget_metric", m("litellm_api_key_max_budget_metric"), m("api_key_alias"), ""),
	p("all_metrics", "litellm_api_key_budget_remaining_hours_metric", m("litellm_api_key_budget_remaining_hours_metric"), m("api_key_alias"), ""),
	p("all_metrics", "litellm_remaining_user_budget_metric", m("litellm_remaining_user_budget_metric"), m("user"), ""),
	p("all_metrics", "litellm_user_max_budget_metric", m("litellm_user_max_budget_metric"), m("user"), ""),
	p("all_metrics", "litellm_user_budget_remaining_hours_metric", m("litellm_user_budget_remaining_hours_metric"), m("user"), ""),
	p("all_metrics", "litellm_remaining_org_budget_metric", m("litellm_remaining_org_budget_metric"), m("org_alias"), ""),
	p("all_metrics", "litellm_org_max_budget_metric", m("litellm_org_max_budget_metric"), m("org_alias"), ""),
	p("all_metrics", "litellm_org_budget_remaining_hours_metric", m("litellm_org_budget_remaining_hours_metric"), m("org_alias"), ""),
	p("all_metrics", "litellm_remaining_customer_budget_metric", m("litellm_remaining_customer_budget_metric"), m("end_user"), ""),
	p("all_metrics", "litellm_customer_max_budget_metric", m("litellm_customer_max_budget_metric"), m("end_user"), ""),
	p("all_metrics", "litellm_customer_budget_remaining_hours_metric", m("litellm_customer_budget_remaining_hours_metric"), m("end_user"), ""),
	p("all_metrics", "litellm_provider_remaining_budget_metric", m("litellm_provider_remaining_budget_metric"), m("api_provider"), "provider budgets are config-file settings tracked in the proxy's cache"),
	p("all_metrics", "litellm_guardrail_requests rate", m("litellm_guardrail_requests_total"), m("guardrail_name", "status"), ""),
	p("all_metrics", "litellm_guardrail_errors rate", m("litellm_guardrail_errors_total"), m("guardrail_name", "error_type"), "the exception class of a failing guardrail (error_type) is not logged; its runs are status=\"guardrail_failed_to_respond\" in litellm_guardrail_requests_total"),
	p("all_metrics", "litellm_guardrail_latency_seconds p50 / p95 / p99", m("litellm_guardrail_latency_seconds_bucket"), m("le"), ""),
	p("all_metrics", "litellm_mcp_tool_calls rate", m("litellm_mcp_tool_calls_total"), m("mcp_server_name", "mcp_tool_name"), ""),
	p("all_metrics", "litellm_mcp_tool_call_spend_metric rate", m("litellm_mcp_tool_call_spend_metric_total"), m("mcp_server_name", "mcp_tool_name"), ""),
	p("all_metrics", "litellm_managed_file_created rate", m("litellm_managed_file_created_total"), m("model"), inProcess),
	p("all_metrics", "litellm_managed_file_deleted rate", m("litellm_managed_file_deleted_total"), m("result"), inProcess),
	p("all_metrics", "litellm_managed_file_size_bytes", m("litellm_managed_file_size_bytes"), m("purpose", "model"), inProcess),
	p("all_metrics", "litellm_managed_batch_created rate", m("litellm_managed_batch_created_total"), m("model"), inProcess),
	p("all_metrics", "litellm_managed_batch_duration_seconds p50 / p95 / p99", m("litellm_managed_batch_duration_seconds_bucket"), m("le"), inProcess),
	p("all_metrics", "litellm_check_batch_cost_jobs_polled", m("litellm_check_batch_cost_jobs_polled"), nil, inProcess),
	p("all_metrics", "litellm_check_batch_cost_jobs_processed rate", m("litellm_check_batch_cost_jobs_processed_total"), m("model", "api_provider"), inProcess),
	p("all_metrics", "litellm_check_batch_cost_errors rate", m("litellm_check_batch_cost_errors_total"), m("error_type"), inProcess),
	p("all_metrics", "litellm_check_batch_cost_last_run_timestamp (seconds since last run)", m("litellm_check_batch_cost_last_run_timestamp"), nil, inProcess),
	p("all_metrics", "litellm_total_users", m("litellm_total_users"), nil, ""),
	p("all_metrics", "litellm_active_users", m("litellm_active_users"), nil, "the billable-user rule (SCIM deactivation) is not in the tables read"),
	p("all_metrics", "litellm_teams_count", m("litellm_teams_count"), nil, ""),
	p("all_metrics", "litellm_team_members_metric", m("litellm_team_members_metric"), m("team_alias"), ""),
	p("all_metrics", "litellm_callback_logging_failures_metric rate", m("litellm_callback_logging_failures_metric_total"), m("callback_name"), inProcess),
	p("all_metrics", "litellm_redis_circuit_breaker_state", m("litellm_redis_circuit_breaker_state"), m("state"), inProcess),
	p("all_metrics", "litellm_redis_circuit_breaker_transitions rate", m("litellm_redis_circuit_breaker_transitions_total"), m("state"), inProcess),
	p("all_metrics", "litellm_redis_circuit_breaker_failures rate", m("litellm_redis_circuit_breaker_failures_total"), m("failure_class"), inProcess),
	p("all_metrics", "litellm_spend_log_cleanup_runs rate", m("litellm_spend_log_cleanup_runs_total"), m("outcome"), inProcess),
	p("all_metrics", "litellm_spend_log_cleanup_rows_deleted rate", m("litellm_spend_log_cleanup_rows_deleted_total"), m("table"), inProcess),
	p("all_metrics", "litellm_spend_log_cleanup_rows_remaining", m("litellm_spend_log_cleanup_rows_remaining"), m("table"), inProcess),
	p("all_metrics", "litellm_spend_log_cleanup_batch_duration_seconds p50 / p95 / p99", m("litellm_spend_log_cleanup_batch_duration_seconds_bucket"), m("le"), inProcess),
	p("all_metrics", "litellm_spend_log_cleanup_batch_failures rate", m("litellm_spend_log_cleanup_batch_failures_total"), m("table"), inProcess),
	p("all_metrics", "Service latency p95 (litellm_<service>_latency)", m("litellm_auth_latency_bucket", "litellm_postgres_latency_bucket", "litellm_redis_latency_bucket", "litellm_router_latency_bucket", "litellm_self_latency_bucket"), m("le"), serviceHook),
	p("all_metrics", "Service request rate (litellm_<service>_total_requests)", m("litellm_auth_total_requests_total", "litellm_postgres_total_requests_total", "litellm_self_total_requests_total"), nil, serviceHook),
	p("all_metrics", "Service failure rate (litellm_<service>_failed_requests)", m("litellm_auth_failed_requests_total", "litellm_postgres_failed_requests_total", "litellm_self_failed_requests_total"), m("error_class"), serviceHook),
	p("all_metrics", "Spend update queue sizes (litellm_<queue>_size)", m("litellm_in_memory_spend_update_queue_size", "litellm_redis_spend_update_queue_size", "litellm_pod_lock_manager_size"), nil, inProcess),
	p("all_metrics", "litellm_zero_cost_requests rate", m("litellm_zero_cost_requests_total"), m("requested_model", "reason"), "its reason label is decided in the proxy's cost calculation, not logged"),
}

// deterministic matches every family of fams but the volatile ones.
func deterministic(fams map[string]*dto.MetricFamily, volatile ...string) *regexp.Regexp {
	var names []string
	for n := range fams {
		if !slices.Contains(volatile, n) {
			names = append(names, regexp.QuoteMeta(n))
		}
	}
	sort.Strings(names)
	return regexp.MustCompile("^(" + strings.Join(names, "|") + ")$")
}

// exposed maps each metric name a query can use (histograms also by
// _bucket, _sum and _count) to the label names its series carry.
func exposed(fams map[string]*dto.MetricFamily) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for name, fam := range fams {
		labels := map[string]bool{}
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		out[name] = labels
		if fam.GetType() == dto.MetricType_HISTOGRAM {
			bucket := map[string]bool{"le": true}
			for l := range labels {
				bucket[l] = true
			}
			out[name+"_bucket"], out[name+"_sum"], out[name+"_count"] = bucket, labels, labels
		}
	}
	return out
}

// TestCookbookDashboardsFindTheirNames: after traffic (budgets of every
// scope, daily rows, spend-log rows of successes, a failure, a streamed
// request and cache hits and misses), every metric and label name of every
// cookbook panel the database can feed is in the exposition; the panels it
// cannot feed say why, and their names are indeed absent (so this table is
// updated when one becomes served).
func TestCookbookDashboardsFindTheirNames(t *testing.T) {
	pg := startProxyDB(t, "../testdata/schema.sql")
	fillBudgets(t, pg)
	// Every row derives from the exporter's injected clock.
	h := newHarness(t, pg, opts{})
	t0 := h.clock.Now()
	today := t0.UTC().Format(time.DateOnly)
	reset := t0.UTC().Truncate(24*time.Hour).AddDate(0, 0, 21).Format(time.DateTime)
	pg.exec(t, `UPDATE "LiteLLM_UserTable" SET "budget_reset_at" = '%s' WHERE "user_id" = 'u1'`, reset)
	pg.exec(t, `UPDATE "LiteLLM_BudgetTable" SET "budget_reset_at" = '%s' WHERE "budget_id" = 'b-eu'`, reset)
	pg.addDaily(t, daily{entity: "u1", date: today, key: "sk-one", model: "gpt-4o-2024-08-06", group: "gpt-4o", provider: "openai",
		spend: 1.5, prompt: 100, completion: 50, cacheRead: 20, cacheCreation: 5, ok: 2, failed: 1})
	pg.addDaily(t, daily{table: "LiteLLM_DailyTagSpend", entityCol: "tag", entity: "prod", date: today, key: "sk-one",
		model: "gpt-4o-2024-08-06", group: "gpt-4o", provider: "openai", spend: 0.5, prompt: 10, completion: 5, ok: 1})
	pg.exec(t, `UPDATE "LiteLLM_VerificationToken" SET "rpm_limit" = 100, "tpm_limit" = 50000 WHERE "token" = '%s'`, token("sk-one"))
	pg.exec(t, `UPDATE "LiteLLM_TeamTable" SET "tpm_limit" = 200000 WHERE "team_id" = 'team-1'`)
	pg.exec(t, `UPDATE "LiteLLM_TeamTable" SET "members_with_roles" = '[{"user_id": "u1", "role": "admin"}, {"user_id": "u2", "role": "user"}]' WHERE "team_id" = 'team-1'`)
	h.refresh(t)
	insertLogs(t, pg,
		logReq{id: "a", start: t0.Add(-10 * time.Second), seconds: 2, ttft: 0.4, group: "gpt-4o", cacheHit: "False", status: "success", completion: 20,
			// What a current proxy writes: the provider's usage, the
			// guardrails run and its own overhead.
			meta: `{"usage_object": {"completion_tokens": 20, "completion_tokens_details": {"reasoning_tokens": 12, "audio_tokens": 3},
  "prompt_tokens_details": {"audio_tokens": 4, "cached_tokens": 0}},
  "guardrail_information": [{"guardrail_name": "pii-mask", "guardrail_mode": "pre_call", "guardrail_status": "success", "duration": 0.02},
    {"guardrail_name": "moderation", "guardrail_mode": "post_call", "guardrail_status": "guardrail_intervened", "duration": 0.3}],
  "litellm_overhead_time_ms": 7.5}`}.sql(),
		logReq{id: "b", start: t0.Add(-8 * time.Second), seconds: 0.01, group: "gpt-4o", cacheHit: "True", status: "success", completion: 20}.sql(),
		logReq{id: "c", start: t0.Add(-6 * time.Second), seconds: 1, group: "gpt-4o", cacheHit: "False", status: "failure",
			errClass: "RateLimitError", errCode: "429"}.sql(),
		// An MCP tool call through the proxy's MCP gateway, with a cost.
		logReq{id: "d", start: t0.Add(-4 * time.Second), seconds: 0.5, group: "", cacheHit: "", status: "success",
			meta: `{"mcp_tool_call_metadata": {"name": "search_issues", "mcp_server_name": "github", "namespaced_tool_name": "github-search_issues"}}`}.sql())
	h.clock.Add(30 * time.Second)
	h.refresh(t)
	fams, body := h.scrape(t)
	have := exposed(fams)
	// The exposition of this setup is the daemon's golden file (every family
	// the database mode serves; deploy's dashboard test reads it). The clock
	// is injected and every row derives from it, so values are kept but for
	// the durations the exporter measures itself.
	testkit.GoldenExposition(t, "litellm-exporter.golden.prom", body, testkit.Mask{
		Keep: deterministic(fams, "litellm_exporter_refresh_duration_seconds", "litellm_scrape_collector_duration_seconds"),
		Drop: regexp.MustCompile("^(go_|process_)"),
	})

	served := map[string][2]int{}
	for _, pn := range cookbookPanels {
		var missing []string
		for _, name := range pn.metrics {
			labels, ok := have[name]
			if !ok {
				missing = append(missing, name)
				continue
			}
			for _, l := range pn.labels {
				if l == "le" && !strings.HasSuffix(name, "_bucket") {
					continue // a by (le) is on the buckets only
				}
				if !labels[l] {
					missing = append(missing, name+"{"+l+"}")
				}
			}
		}
		c := served[pn.dashboard]
		c[1]++
		switch {
		case pn.reason == "" && len(missing) > 0:
			t.Errorf("%s / %q: not in the exposition: %s", pn.dashboard, pn.title, strings.Join(missing, ", "))
		case pn.reason == "":
			c[0]++
		case len(missing) == 0:
			t.Errorf("%s / %q is listed as unserved (%s) but every name it queries is served: update the table", pn.dashboard, pn.title, pn.reason)
		}
		served[pn.dashboard] = c
	}
	var dashes []string
	for d := range served {
		dashes = append(dashes, d)
	}
	sort.Strings(dashes)
	var total [2]int
	for _, d := range dashes {
		c := served[d]
		total[0], total[1] = total[0]+c[0], total[1]+c[1]
		t.Logf("%s: %d of %d panels find every name they query", d, c[0], c[1])
	}
	t.Logf("all three: %d of %d panels (%.0f %%); every other panel reads data the database does not hold", total[0], total[1], 100*float64(total[0])/float64(total[1]))
}
