package exporter

import (
	"sort"
	"strings"

	"github.com/outrigger/outrigger/exporters/litellm-cost/litellm"
	"github.com/outrigger/outrigger/internal/promkit"
)

// litellmLatencyBuckets are LiteLLM's own histogram bounds (LATENCY_BUCKETS
// in litellm/types/integrations/prometheus.py), so quantiles over our series
// and the proxy's agree; +Inf is implicit.
var litellmLatencyBuckets = []float64{0.005, 0.00625, 0.0125, 0.025, 0.05, 0.1, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5,
	5, 5.5, 6, 6.5, 7, 7.5, 8, 8.5, 9, 9.5, 10, 15, 20, 25, 30, 60, 120, 180, 240, 300}

// LiteLLM's label sets, per family, as litellm/types/integrations/prometheus.py
// declares them (PrometheusMetricLabels).
var (
	lProxyRequests = []string{"end_user", "hashed_api_key", "api_key_alias", "requested_model", "team", "team_alias", "user", "status_code"}
	lProxyFailed   = []string{"end_user", "hashed_api_key", "api_key_alias", "requested_model", "team", "team_alias", "user", "exception_status", "exception_class"}
	lRequests      = []string{"end_user", "hashed_api_key", "api_key_alias", "model", "team", "team_alias", "user"}
	lLLMLatency    = []string{"model", "hashed_api_key", "api_key_alias", "team", "team_alias", "requested_model", "end_user", "user"}
	lTotalLatency  = []string{"end_user", "hashed_api_key", "api_key_alias", "requested_model", "team", "team_alias", "user", "model"}
	lTTFT          = []string{"model", "hashed_api_key", "api_key_alias", "team", "team_alias", "requested_model", "end_user", "user"}
	lDeployment    = []string{"litellm_model_name", "model_id", "api_base", "api_provider", "requested_model", "hashed_api_key", "api_key_alias", "team", "team_alias"}
	lDeployFailed  = append(append([]string{}, lDeployment...), "exception_status", "exception_class")
	// The cache families are not in the PrometheusMetricLabels read; they
	// carry the LLM-call labels.
	lCache    = lLLMLatency
	lPerToken = []string{"litellm_model_name", "model_id", "api_base", "api_provider", "hashed_api_key", "api_key_alias", "team", "team_alias"}
	lOverhead = []string{"model_group", "api_provider", "api_base", "litellm_model_name", "hashed_api_key", "api_key_alias", "model_id"}
	// The token-detail families carry the labels of LiteLLM's token families.
	lTokenDetail = []string{"end_user", "hashed_api_key", "api_key_alias", "model", "team", "team_alias", "user", "requested_model"}
	lMCP         = []string{"mcp_tool_name", "mcp_server_name", "hashed_api_key", "api_key_alias", "team", "team_alias", "user", "end_user"}
	// The guardrail families' labels come from each guardrail_information
	// entry, not from the row (see guardrailRuns).
	lGuardrail = []string{"guardrail_name", "status", "hook_type"}
)

// compatFamily is one of LiteLLM's metric families, built from spend-log rows.
type compatFamily struct {
	fam    promkit.Family
	labels []string
	hist   []float64 // nil: a counter
	// value is what a row adds (a counter) or observes (a histogram); ok
	// false leaves the row out of this family.
	value func(r litellm.SpendLogRow) (v float64, ok bool)
	// runs, when set instead of value, gives several observations of a
	// row, each with its own label values (one per guardrail run).
	runs  func(r litellm.SpendLogRow) []compatObs
	limit int
	acc   map[string]*compatAcc
}

// compatObs is one observation of a row with its label values.
type compatObs struct {
	values []string
	v      float64
}

type compatAcc struct {
	values []string
	n      float64
	h      *histAcc
}

// compatSeries is one series of a family, for the exposition.
type compatSeries struct {
	f      *compatFamily
	values []string
	n      float64
	count  uint64
	sum    float64
	cum    map[float64]uint64
}

func one(litellm.SpendLogRow) (float64, bool) { return 1, true }

func failed(r litellm.SpendLogRow) (float64, bool) { return 1, r.Status == "failure" }

func succeeded(r litellm.SpendLogRow) (float64, bool) { return 1, r.Status != "failure" }

// positive counts a value only where the proxy wrote one above 0, as
// LiteLLM's own token-detail counters do.
func positive(v int64) (float64, bool) { return float64(v), v > 0 }

// guardrailRuns: each guardrail_information entry is one guardrail run,
// observed by value (1 for the counter, the duration for the histogram);
// status is guardrail_status as the proxy wrote it (success,
// guardrail_intervened, guardrail_failed_to_respond, not_run).
func guardrailRuns(value func(litellm.GuardrailRun) (float64, bool)) func(litellm.SpendLogRow) []compatObs {
	return func(r litellm.SpendLogRow) []compatObs {
		var out []compatObs
		for _, g := range r.Detail.Guardrails {
			if v, ok := value(g); ok {
				out = append(out, compatObs{values: []string{g.Name, g.Status, g.Mode}, v: v})
			}
		}
		return out
	}
}

// compatHelp begins the help of every family built from the spend logs.
const compatHelp = "LiteLLM-compatible, from the spend logs since the exporter started: "

func newCompatFamilies(maxSeries int) []*compatFamily {
	// Histograms have 36 buckets a series: fewer label sets keep them small.
	histLimit := max(maxSeries/5, 10)
	c := func(f promkit.Family, labels []string, v func(litellm.SpendLogRow) (float64, bool)) *compatFamily {
		return &compatFamily{fam: f, labels: labels, value: v, limit: maxSeries, acc: map[string]*compatAcc{}}
	}
	h := func(f promkit.Family, labels []string, v func(litellm.SpendLogRow) (float64, bool)) *compatFamily {
		cf := c(f, labels, v)
		cf.hist, cf.limit = litellmLatencyBuckets, histLimit
		return cf
	}
	return []*compatFamily{
		c(promkit.Counter("litellm_proxy_total_requests_metric_total", compatHelp+"requests to the proxy.", lProxyRequests...), lProxyRequests, one),
		c(promkit.Counter("litellm_proxy_failed_requests_metric_total", compatHelp+"failed requests.", lProxyFailed...), lProxyFailed, failed),
		c(promkit.Counter("litellm_requests_metric_total", compatHelp+"LLM calls.", lRequests...), lRequests, one),
		c(promkit.Counter("litellm_llm_api_failed_requests_metric_total", compatHelp+"failed LLM calls (LiteLLM's deprecated name).", lRequests...), lRequests, failed),
		c(promkit.Counter("litellm_deployment_total_requests_total", compatHelp+"requests per deployment.", lDeployment...), lDeployment, one),
		c(promkit.Counter("litellm_deployment_success_responses_total", compatHelp+"successful responses per deployment.", lDeployment...), lDeployment, succeeded),
		c(promkit.Counter("litellm_deployment_failure_responses_total", compatHelp+"failed responses per deployment.", lDeployFailed...), lDeployFailed, failed),
		c(promkit.Counter("litellm_cache_hits_metric_total", compatHelp+"requests answered from LiteLLM's cache (cache_hit true).", lCache...), lCache,
			func(r litellm.SpendLogRow) (float64, bool) { return 1, r.CacheHit == "true" }),
		c(promkit.Counter("litellm_cache_misses_metric_total", compatHelp+"requests LiteLLM's cache did not answer (cache_hit false; none when caching is off).", lCache...), lCache,
			func(r litellm.SpendLogRow) (float64, bool) { return 1, r.CacheHit == "false" }),
		c(promkit.Counter("litellm_cached_tokens_metric_total", compatHelp+"prompt plus completion tokens of requests answered from LiteLLM's cache.", lCache...), lCache,
			func(r litellm.SpendLogRow) (float64, bool) {
				return float64(r.Prompt + r.Complete), r.CacheHit == "true"
			}),
		h(promkit.Histogram("litellm_llm_api_latency_metric", compatHelp+"LLM API latency (\"endTime\" - \"startTime\", seconds).", lLLMLatency...), lLLMLatency,
			func(r litellm.SpendLogRow) (float64, bool) { return r.Duration, true }),
		h(promkit.Histogram("litellm_request_total_latency_metric", compatHelp+"whole request latency (request_duration_ms where written, else the LLM API latency; seconds).", lTotalLatency...), lTotalLatency,
			func(r litellm.SpendLogRow) (float64, bool) {
				if r.Total != nil {
					return *r.Total, true
				}
				return r.Duration, true
			}),
		h(promkit.Histogram("litellm_llm_api_time_to_first_token_metric", compatHelp+"time to first token of streamed responses (\"completionStartTime\" - \"startTime\", seconds).", lTTFT...), lTTFT,
			func(r litellm.SpendLogRow) (float64, bool) {
				if r.TTFT == nil {
					return 0, false
				}
				return *r.TTFT, true
			}),
		h(promkit.Histogram("litellm_deployment_latency_per_output_token", compatHelp+"LLM API latency per completion token (seconds).", lPerToken...), lPerToken,
			func(r litellm.SpendLogRow) (float64, bool) {
				if r.Complete <= 0 {
					return 0, false
				}
				return r.Duration / float64(r.Complete), true
			}),
		c(promkit.Counter("litellm_output_reasoning_tokens_metric_total", compatHelp+"reasoning tokens (metadata.usage_object.completion_tokens_details.reasoning_tokens; only rows where it is above 0).", lTokenDetail...), lTokenDetail,
			func(r litellm.SpendLogRow) (float64, bool) { return positive(r.Detail.ReasoningTokens) }),
		c(promkit.Counter("litellm_input_audio_tokens_metric_total", compatHelp+"audio prompt tokens (metadata.usage_object.prompt_tokens_details.audio_tokens; only rows where it is above 0).", lTokenDetail...), lTokenDetail,
			func(r litellm.SpendLogRow) (float64, bool) { return positive(r.Detail.AudioInputTokens) }),
		c(promkit.Counter("litellm_output_audio_tokens_metric_total", compatHelp+"audio completion tokens (metadata.usage_object.completion_tokens_details.audio_tokens; only rows where it is above 0).", lTokenDetail...), lTokenDetail,
			func(r litellm.SpendLogRow) (float64, bool) { return positive(r.Detail.AudioOutputTokens) }),
		h(promkit.Histogram("litellm_overhead_latency_metric", compatHelp+"the proxy's own overhead per request (metadata.litellm_overhead_time_ms, seconds; releases that write it).", lOverhead...), lOverhead,
			func(r litellm.SpendLogRow) (float64, bool) {
				if r.Detail.OverheadSeconds == nil {
					return 0, false
				}
				return *r.Detail.OverheadSeconds, true
			}),
		c(promkit.Counter("litellm_mcp_tool_calls_total", compatHelp+"MCP tool calls (rows with metadata.mcp_tool_call_metadata).", lMCP...), lMCP,
			func(r litellm.SpendLogRow) (float64, bool) { return 1, r.Detail.MCP != nil }),
		c(promkit.Counter("litellm_mcp_tool_call_spend_metric_total", compatHelp+"spend (USD) of MCP tool calls with a cost above 0.", lMCP...), lMCP,
			func(r litellm.SpendLogRow) (float64, bool) { return r.Spend, r.Detail.MCP != nil && r.Spend > 0 }),
		{fam: promkit.Counter("litellm_guardrail_requests_total", compatHelp+"guardrail runs (metadata.guardrail_information entries), by guardrail_status as written.", lGuardrail...),
			labels: lGuardrail, limit: maxSeries, acc: map[string]*compatAcc{},
			runs: guardrailRuns(func(litellm.GuardrailRun) (float64, bool) { return 1, true })},
		{fam: promkit.Histogram("litellm_guardrail_latency_seconds", compatHelp+"guardrail run duration (guardrail_information[].duration, seconds).", lGuardrail...),
			labels: lGuardrail, limit: histLimit, hist: litellmLatencyBuckets, acc: map[string]*compatAcc{},
			runs: guardrailRuns(func(g litellm.GuardrailRun) (float64, bool) {
				if g.Duration == nil {
					return 0, false
				}
				return *g.Duration, true
			})},
	}
}

// add counts a row.
func (f *compatFamily) add(r litellm.SpendLogRow) {
	if f.runs != nil {
		for _, o := range f.runs(r) {
			f.observe(o.values, o.v)
		}
		return
	}
	v, ok := f.value(r)
	if !ok {
		return
	}
	values := make([]string, len(f.labels))
	for i, l := range f.labels {
		values[i] = label(r, l)
	}
	f.observe(values, v)
}

// observe adds v under values; past the family's limit of label sets, a new
// set is counted under every label "other" (so sums stay the totals, and a
// set once admitted never moves: no series goes backwards).
func (f *compatFamily) observe(values []string, v float64) {
	k := strings.Join(values, "\xff")
	a := f.acc[k]
	if a == nil {
		if len(f.acc) >= f.limit {
			for i := range values {
				values[i] = promkit.Other
			}
			k = strings.Join(values, "\xff")
			a = f.acc[k]
		}
		if a == nil {
			a = &compatAcc{values: values}
			if f.hist != nil {
				a.h = newHist(f.hist)
			}
			f.acc[k] = a
		}
	}
	if a.h != nil {
		a.h.observe(f.hist, v)
		return
	}
	a.n += v
}

func (f *compatFamily) view() []compatSeries {
	keys := make([]string, 0, len(f.acc))
	for k := range f.acc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]compatSeries, 0, len(keys))
	for _, k := range keys {
		a := f.acc[k]
		s := compatSeries{f: f, values: a.values, n: a.n}
		if a.h != nil {
			s.count, s.sum, s.cum = a.h.count, a.h.sum, a.h.cumulative(f.hist)
		}
		out = append(out, s)
	}
	return out
}
