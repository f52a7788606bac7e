package exporter

import (
	"context"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/exporters/litellm-cost/litellm"
	"github.com/outrigger/outrigger/internal/promkit"
)

// Namespace of the scrape_collector_* series and the exporter's own metrics.
const Namespace = "litellm"

var (
	budgetLabels = []string{"scope", "id", "name"}
	usageLabels  = []string{"model_group", "provider", "team", "team_alias", "key_alias", "key_id"}
	compatLabels = []string{"hashed_api_key", "api_key_alias", "team", "team_alias", "model", "requested_model"}

	dDatabaseUp   = promkit.Gauge("litellm_database_up", "Whether the last refresh reached the database and read its schema (1) or not (0).")
	dProxyUp      = promkit.Gauge("litellm_proxy_api_up", "HTTP mode: whether the last refresh reached the proxy's API and it accepted the master key (1) or not (0).")
	dCacheAge     = promkit.Gauge("litellm_exporter_cache_age_seconds", "Age of the data served, by part (budgets, usage, tags, spendlogs).", "part")
	dTablePresent = promkit.Gauge("litellm_table_present", "Whether a LiteLLM table the exporter reads exists (1) or not (0).", "table")

	dBudgetSpend     = promkit.Gauge("litellm_budget_spend_usd", "Spend in the current budget period (USD), per budget scope and entity.", budgetLabels...)
	dBudgetMax       = promkit.Gauge("litellm_budget_max_usd", "Maximum budget (USD); absent where none is set.", budgetLabels...)
	dBudgetSoft      = promkit.Gauge("litellm_budget_soft_usd", "Soft budget (USD, alerting threshold); absent where none is set.", budgetLabels...)
	dBudgetRatio     = promkit.Gauge("litellm_budget_utilization_ratio", "Spend divided by maximum budget; only where the maximum is above 0.", budgetLabels...)
	dBudgetRemaining = promkit.Gauge("litellm_budget_remaining_usd", "Maximum budget minus spend (USD, negative when overspent); only where a maximum is set.", budgetLabels...)
	dBudgetReset     = promkit.Gauge("litellm_budget_reset_seconds", "Seconds until the budget period resets (0 when the reset is due); only where a reset is scheduled.", budgetLabels...)
	dBudgetBlocked   = promkit.Gauge("litellm_budget_blocked", "Whether the entity is blocked (1) or not (0); only for scopes that can be blocked.", budgetLabels...)
	dBudgetEntities  = promkit.Gauge("litellm_budget_entities", "Entities in a budget scope, including those folded into id=\"other\" by --max-series.", "scope")

	dTeamMax         = promkit.Gauge("litellm_team_max_budget_metric", "LiteLLM-compatible: maximum budget of a team (USD); only where set.", "team", "team_alias")
	dTeamRemaining   = promkit.Gauge("litellm_remaining_team_budget_metric", "LiteLLM-compatible: remaining budget of a team (USD); only where a maximum is set.", "team", "team_alias")
	dTeamHours       = promkit.Gauge("litellm_team_budget_remaining_hours_metric", "LiteLLM-compatible: hours until a team's budget resets.", "team", "team_alias")
	dKeyMax          = promkit.Gauge("litellm_api_key_max_budget_metric", "LiteLLM-compatible: maximum budget of a key (USD); only where set.", "hashed_api_key", "api_key_alias")
	dKeyRemaining    = promkit.Gauge("litellm_remaining_api_key_budget_metric", "LiteLLM-compatible: remaining budget of a key (USD); only where a maximum is set.", "hashed_api_key", "api_key_alias")
	dKeyHours        = promkit.Gauge("litellm_api_key_budget_remaining_hours_metric", "LiteLLM-compatible: hours until a key's budget resets.", "hashed_api_key", "api_key_alias")
	dUserMax         = promkit.Gauge("litellm_user_max_budget_metric", "LiteLLM-compatible: maximum budget of a user (USD); only where set.", "user")
	dUserRemaining   = promkit.Gauge("litellm_remaining_user_budget_metric", "LiteLLM-compatible: remaining budget of a user (USD); only where a maximum is set.", "user")
	dUserHours       = promkit.Gauge("litellm_user_budget_remaining_hours_metric", "LiteLLM-compatible: hours until a user's budget resets.", "user")
	dSpendCompat     = promkit.Counter("litellm_spend_metric_total", "LiteLLM-compatible: spend (USD) from the daily tables; survives restarts.", compatLabels...)
	dTokensCompat    = promkit.Counter("litellm_total_tokens_metric_total", "LiteLLM-compatible: prompt plus completion tokens from the daily tables.", compatLabels...)
	dInputCompat     = promkit.Counter("litellm_input_tokens_metric_total", "LiteLLM-compatible: prompt tokens from the daily tables.", compatLabels...)
	dOutputCompat    = promkit.Counter("litellm_output_tokens_metric_total", "LiteLLM-compatible: completion tokens from the daily tables.", compatLabels...)
	dTokensOld       = promkit.Counter("litellm_total_tokens_total", "LiteLLM-compatible (an older LiteLLM name, still queried by its cookbook dashboard): as litellm_total_tokens_metric_total.", compatLabels...)
	dOrgMax          = promkit.Gauge("litellm_org_max_budget_metric", "LiteLLM-compatible: maximum budget of an organization (USD); only where set above 0.", "org_id", "org_alias")
	dOrgRemaining    = promkit.Gauge("litellm_remaining_org_budget_metric", "LiteLLM-compatible: remaining budget of an organization (USD); only where a maximum above 0 is set.", "org_id", "org_alias")
	dOrgHours        = promkit.Gauge("litellm_org_budget_remaining_hours_metric", "LiteLLM-compatible: hours until an organization's budget resets.", "org_id", "org_alias")
	dCustomerMax     = promkit.Gauge("litellm_customer_max_budget_metric", "LiteLLM-compatible: maximum budget of an end user (customer, USD); only where set.", "end_user")
	dCustomerRem     = promkit.Gauge("litellm_remaining_customer_budget_metric", "LiteLLM-compatible: remaining budget of an end user (USD); only where a maximum is set.", "end_user")
	dCustomerHours   = promkit.Gauge("litellm_customer_budget_remaining_hours_metric", "LiteLLM-compatible: hours until an end user's budget resets.", "end_user")
	dOrgsUnseen      = promkit.Gauge("litellm_proxy_api_organizations_unseen", "HTTP mode: organizations the proxy's teams belong to that /organization/list did not return (the key is not a proxy admin): their budgets are missing.")
	dTotalUsers      = promkit.Gauge("litellm_total_users", "LiteLLM-compatible: internal users in LiteLLM_UserTable (the proxy-wide budget row aside).")
	dTeamsCount      = promkit.Gauge("litellm_teams_count", "LiteLLM-compatible: teams in LiteLLM_TeamTable.")
	dKeyRateAllowed  = promkit.Gauge("litellm_api_key_rate_limit_allowed_metric", "LiteLLM-compatible: a key's own rpm_limit (rate_limit_type=\"rpm\") and tpm_limit (\"tpm\"), as LiteLLM's start-up job sets them; only where set, for the keys within --max-series.", "hashed_api_key", "api_key_alias", "rate_limit_type")
	dTeamRateAllowed = promkit.Gauge("litellm_team_rate_limit_allowed_metric", "LiteLLM-compatible: a team's own rpm_limit (rate_limit_type=\"rpm\") and tpm_limit (\"tpm\"); only where set, for the teams within --max-series.", "team", "team_alias", "rate_limit_type")
	dTeamMembers     = promkit.Gauge("litellm_team_members_metric", "LiteLLM-compatible: members of a team (the length of LiteLLM_TeamTable.members_with_roles); teams past --max-series are summed into team=\"other\".", "team", "team_alias")
	dCachedIn        = promkit.Counter("litellm_input_cached_tokens_metric_total", "LiteLLM-compatible: prompt tokens read from the provider's prompt cache, from the daily tables.", compatLabels...)
	dCacheCreateIn   = promkit.Counter("litellm_input_cache_creation_tokens_metric_total", "LiteLLM-compatible: prompt tokens written to the provider's prompt cache, from the daily tables.", compatLabels...)
	dProvCacheRead   = promkit.Counter("litellm_provider_cache_read_input_tokens_metric_total", "LiteLLM-compatible: as litellm_input_cached_tokens_metric_total.", compatLabels...)
	dProvCacheWrite  = promkit.Counter("litellm_provider_cache_creation_input_tokens_metric_total", "LiteLLM-compatible: as litellm_input_cache_creation_tokens_metric_total.", compatLabels...)

	dSpendTotal    = promkit.Counter("litellm_usage_spend_usd_total", "Spend (USD) summed over the daily tables' rows: monotonic, and the same after a restart.", usageLabels...)
	dTokensTotal   = promkit.Counter("litellm_usage_tokens_total", "Tokens by type (prompt, completion, cache_read, cache_creation), from the daily tables.", append(usageLabels, "type")...)
	dRequestsTotal = promkit.Counter("litellm_usage_requests_total", "Requests by status (success, failure) from the daily tables; \"all\" is the proxy's own request count.", append(usageLabels, "status")...)
	dSpendToday    = promkit.Gauge("litellm_usage_spend_today_usd", "Spend (USD) today (UTC, the day LiteLLM writes).", usageLabels...)
	dSpendMonth    = promkit.Gauge("litellm_usage_spend_month_usd", "Spend (USD) this calendar month (UTC).", usageLabels...)
	dTokensToday   = promkit.Gauge("litellm_usage_tokens_today", "Prompt plus completion tokens today (UTC, the day LiteLLM writes).", usageLabels...)
	dTokensMonth   = promkit.Gauge("litellm_usage_tokens_month", "Prompt plus completion tokens this month (UTC).", usageLabels...)
	dRequestsToday = promkit.Gauge("litellm_usage_requests_today", "Requests today (UTC, the day LiteLLM writes).", usageLabels...)
	dRequestsMonth = promkit.Gauge("litellm_usage_requests_month", "Requests this month (UTC).", usageLabels...)

	dTagSpendTotal    = promkit.Counter("litellm_tag_spend_usd_total", "Spend (USD) by request tag, from the daily tag table.", "tag")
	dTagRequestsTotal = promkit.Counter("litellm_tag_requests_total", "Requests by request tag, from the daily tag table.", "tag")
	dTagSpendToday    = promkit.Gauge("litellm_tag_spend_today_usd", "Spend (USD) by request tag today (UTC, the day LiteLLM writes).", "tag")
	dTagSpendMonth    = promkit.Gauge("litellm_tag_spend_month_usd", "Spend (USD) by request tag this month (UTC).", "tag")

	dLogRequests  = promkit.Counter("litellm_spendlog_requests_total", "Requests read from the spend logs since the exporter started, by model group, cache hit and status.", "model_group", "cache_hit", "status")
	dLogLatency   = promkit.Histogram("litellm_spendlog_request_duration_seconds", "Request latency (\"endTime\" - \"startTime\") from the spend logs since the exporter started.", "model_group")
	dLogWatermark = promkit.Gauge("litellm_spendlog_watermark_timestamp_seconds", "The spend logs have been read up to this \"endTime\" (Unix seconds).")
)

// emitter sends const metrics, leaving out any value that is not finite
// (PostgreSQL's float8 has NaN and Infinity). Label values come from the
// proxy's tables: promkit makes them valid UTF-8 without writing to the
// shared snapshot.
type emitter struct{ ch chan<- prometheus.Metric }

func (e emitter) send(f promkit.Family, v float64, labels ...string) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	f.Send(e.ch, v, labels...)
}

func (e emitter) histogram(f promkit.Family, count uint64, sum float64, buckets map[float64]uint64, labels ...string) {
	if math.IsNaN(sum) || math.IsInf(sum, 0) {
		return
	}
	e.ch <- f.Histogram(count, sum, buckets, labels...)
}

// Collectors read the cache; they never query the database.
func (e *Exporter) Collectors() []promkit.Collector {
	return []promkit.Collector{
		promkit.CollectorFunc{ID: e.sourceName(), Fn: e.collectDatabase},
		promkit.CollectorFunc{ID: "budgets", Fn: e.collectBudgets},
		promkit.CollectorFunc{ID: "usage", Fn: e.collectUsage},
		promkit.CollectorFunc{ID: "spendlogs", Fn: e.collectSpendLogs},
	}
}

// sourceName names what the exporter reads: "database" or, in HTTP mode, "proxy".
func (e *Exporter) sourceName() string {
	if e.api != nil {
		return "proxy"
	}
	return "database"
}

// Runner runs the collectors for a scrape.
func (e *Exporter) Runner() *promkit.Runner {
	return &promkit.Runner{Namespace: Namespace, Collectors: e.Collectors(), Logger: e.logger}
}

var readTables = []string{litellm.TableKeys, litellm.TableTeams, litellm.TableUsers, litellm.TableOrgs,
	litellm.TableEndUsers, litellm.TableTags, litellm.TableBudgets, litellm.TableDailyUserSpend,
	litellm.TableDailyTagSpend, litellm.TableSpendLogs, litellm.TableDeletedKeys}

func (e *Exporter) collectDatabase(ctx context.Context, ch chan<- prometheus.Metric) error {
	s, err := e.current(ctx)
	if err != nil {
		return err
	}
	out := emitter{ch}
	up := 1.0
	if s.dbErr != nil {
		up = 0
	}
	if e.api != nil {
		out.send(dProxyUp, up)
	} else {
		out.send(dDatabaseUp, up)
	}
	now := e.cfg.Now()
	for _, p := range []struct {
		name string
		at   time.Time
	}{{"budgets", s.budgets.at}, {"usage", s.usage.at}, {"tags", s.tags.at}, {"spendlogs", s.spend.at}} {
		if !p.at.IsZero() {
			out.send(dCacheAge, math.Max(0, now.Sub(p.at).Seconds()), p.name)
		}
	}
	if s.schema != nil {
		for _, t := range readTables {
			present := 0.0
			if s.schema.HasTable(t) {
				present = 1
			}
			out.send(dTablePresent, present, t)
		}
	}
	return s.dbErr
}

func (e *Exporter) collectBudgets(ctx context.Context, ch chan<- prometheus.Metric) error {
	s, err := e.current(ctx)
	if err != nil {
		return err
	}
	if s.budgets.at.IsZero() {
		return s.budgets.err
	}
	out := emitter{ch}
	now := e.cfg.Now()
	if e.api != nil {
		out.send(dOrgsUnseen, float64(s.orgsUnseen))
	}
	for _, scope := range s.budgets.data {
		out.send(dBudgetEntities, float64(scope.Total), scope.Scope)
		switch scope.Scope {
		case litellm.ScopeUser:
			out.send(dTotalUsers, float64(scope.Total))
		case litellm.ScopeTeam:
			out.send(dTeamsCount, float64(scope.Total))
		}
		var shown float64
		for _, b := range scope.Budgets {
			id, name := b.ID, b.Name
			if scope.Scope == litellm.ScopeKey {
				id = KeyID(b.ID)
			}
			if scope.Scope == litellm.ScopeProxy && name == "" {
				name = "proxy"
			}
			l := []string{scope.Scope, id, name}
			shown += b.Spend
			out.send(dBudgetSpend, b.Spend, l...)
			var remaining, hours *float64
			if b.Max != nil {
				out.send(dBudgetMax, *b.Max, l...)
				r := *b.Max - b.Spend
				remaining = &r
				out.send(dBudgetRemaining, r, l...)
				if *b.Max > 0 {
					out.send(dBudgetRatio, b.Spend / *b.Max, l...)
				}
			}
			if b.Soft != nil {
				out.send(dBudgetSoft, *b.Soft, l...)
			}
			if b.ResetAt != nil {
				secs := math.Max(0, b.ResetAt.Sub(now).Seconds())
				h := secs / 3600
				hours = &h
				out.send(dBudgetReset, secs, l...)
			}
			if b.Blocked != nil {
				v := 0.0
				if *b.Blocked {
					v = 1
				}
				out.send(dBudgetBlocked, v, l...)
			}
			e.compatBudget(out, scope.Scope, id, name, b.Max, remaining, hours)
			emitRateLimits(out, scope.Scope, id, name, b.RPM, b.TPM)
		}
		if scope.Total > len(scope.Budgets) {
			out.send(dBudgetSpend, scope.TotalSpend-shown, scope.Scope, promkit.Other, promkit.Other)
		}
	}
	emitTeamMembers(out, s.members, e.cfg.MaxSeries())
	return s.budgets.err
}

// emitRateLimits serves a key's or a team's own request and token limits.
func emitRateLimits(out emitter, scope, id, name string, rpm, tpm *float64) {
	var f promkit.Family
	switch scope {
	case litellm.ScopeKey:
		f = dKeyRateAllowed
	case litellm.ScopeTeam:
		f = dTeamRateAllowed
	default:
		return
	}
	if rpm != nil {
		out.send(f, *rpm, id, name, "rpm")
	}
	if tpm != nil {
		out.send(f, *tpm, id, name, "tpm")
	}
}

// emitTeamMembers serves the largest teams' member counts and the sum of the
// rest as team="other".
func emitTeamMembers(out emitter, teams []litellm.TeamMembers, limit int) {
	keep, rest := promkit.TopN(slices.Clone(teams), limit, promkit.ByValue(
		func(t litellm.TeamMembers) float64 { return float64(t.Members) },
		func(t litellm.TeamMembers) string { return t.ID }))
	for _, t := range keep {
		out.send(dTeamMembers, float64(t.Members), t.ID, t.Alias)
	}
	if len(rest) > 0 {
		var n int64
		for _, t := range rest {
			n += t.Members
		}
		out.send(dTeamMembers, float64(n), promkit.Other, promkit.Other)
	}
}

func (e *Exporter) compatBudget(out emitter, scope, id, name string, max, remaining, hours *float64) {
	var dMax, dRem, dHours promkit.Family
	labels := []string{id, name}
	switch scope {
	case litellm.ScopeTeam:
		dMax, dRem, dHours = dTeamMax, dTeamRemaining, dTeamHours
	case litellm.ScopeKey:
		dMax, dRem, dHours = dKeyMax, dKeyRemaining, dKeyHours
	case litellm.ScopeUser:
		dMax, dRem, dHours = dUserMax, dUserRemaining, dUserHours
		labels = []string{id}
	case litellm.ScopeOrg:
		dMax, dRem, dHours = dOrgMax, dOrgRemaining, dOrgHours
	case litellm.ScopeEndUser:
		dMax, dRem, dHours = dCustomerMax, dCustomerRem, dCustomerHours
		labels = []string{id}
	default:
		return
	}
	if max != nil {
		out.send(dMax, *max, labels...)
	}
	if remaining != nil {
		out.send(dRem, *remaining, labels...)
	}
	if hours != nil {
		out.send(dHours, *hours, labels...)
	}
}

const nano = 1e9

func (e *Exporter) collectUsage(ctx context.Context, ch chan<- prometheus.Metric) error {
	s, err := e.current(ctx)
	if err != nil {
		return err
	}
	out := emitter{ch}
	local := e.cfg.Now().In(proxyDays)
	today, month := day(local), day(local)[:7]
	if !s.usage.at.IsZero() {
		emitUsage(out, s.usage.data, today, month)
	}
	if !s.tags.at.IsZero() {
		emitTags(out, s.tags.data, today, month)
	}
	if s.usage.err != nil {
		return s.usage.err
	}
	return s.tags.err
}

func todayMonth(days map[string]litellm.Usage, today, month string) (t, m litellm.Usage) {
	for d, u := range days {
		if d == today {
			t.Add(u)
		}
		if len(d) >= 7 && d[:7] == month && d <= today {
			m.Add(u)
		}
	}
	return t, m
}

type usageAgg struct {
	total, today, month litellm.Usage
}

func emitUsage(out emitter, v *usageView, today, month string) {
	clean := map[[6]string]*usageAgg{}
	compat := map[[6]string]*litellm.Usage{}
	for _, s := range v.series {
		l := s.labels
		ck := [6]string{l.ModelGroup, l.Provider, l.Team, l.TeamAlias, l.KeyAlias, l.KeyID}
		a := clean[ck]
		if a == nil {
			a = &usageAgg{}
			clean[ck] = a
		}
		t, m := todayMonth(s.days, today, month)
		a.total.Add(s.total)
		a.today.Add(t)
		a.month.Add(m)
		pk := [6]string{l.KeyID, l.KeyAlias, l.Team, l.TeamAlias, l.Model, l.ModelGroup}
		c := compat[pk]
		if c == nil {
			c = &litellm.Usage{}
			compat[pk] = c
		}
		c.Add(s.total)
	}
	for _, k := range sortedKeys(clean) {
		a, l := clean[k], k[:]
		out.send(dSpendTotal, float64(a.total.SpendNano)/nano, l...)
		out.send(dTokensTotal, float64(a.total.Prompt), append(l, "prompt")...)
		out.send(dTokensTotal, float64(a.total.Completion), append(l, "completion")...)
		if v.hasCache {
			out.send(dTokensTotal, float64(a.total.CacheRead), append(l, "cache_read")...)
			out.send(dTokensTotal, float64(a.total.CacheCreated), append(l, "cache_creation")...)
		}
		if v.hasRequests {
			out.send(dRequestsTotal, float64(a.total.Requests), append(l, "all")...)
			out.send(dRequestsTotal, float64(a.total.Successful), append(l, "success")...)
			out.send(dRequestsTotal, float64(a.total.Failed), append(l, "failure")...)
			out.send(dRequestsToday, float64(a.today.Requests), l...)
			out.send(dRequestsMonth, float64(a.month.Requests), l...)
		}
		out.send(dSpendToday, float64(a.today.SpendNano)/nano, l...)
		out.send(dSpendMonth, float64(a.month.SpendNano)/nano, l...)
		out.send(dTokensToday, float64(a.today.Prompt+a.today.Completion), l...)
		out.send(dTokensMonth, float64(a.month.Prompt+a.month.Completion), l...)
	}
	for _, k := range sortedKeys(compat) {
		u, l := compat[k], k[:]
		out.send(dSpendCompat, float64(u.SpendNano)/nano, l...)
		out.send(dTokensCompat, float64(u.Prompt+u.Completion), l...)
		out.send(dInputCompat, float64(u.Prompt), l...)
		out.send(dOutputCompat, float64(u.Completion), l...)
		out.send(dTokensOld, float64(u.Prompt+u.Completion), l...)
		if v.hasCache {
			out.send(dCachedIn, float64(u.CacheRead), l...)
			out.send(dCacheCreateIn, float64(u.CacheCreated), l...)
			out.send(dProvCacheRead, float64(u.CacheRead), l...)
			out.send(dProvCacheWrite, float64(u.CacheCreated), l...)
		}
	}
}

// untagged labels the usage of requests without a tag.
const untagged = "Unassigned"

func emitTags(out emitter, v *usageView, today, month string) {
	for _, s := range v.series {
		tag := promkit.Other
		if s.key != otherKey {
			tag = s.parts[0]
		}
		if tag == "" {
			// What LiteLLM's own tag report calls requests without a tag
			// (HTTP mode reads that report), so both modes agree.
			tag = untagged
		}
		t, m := todayMonth(s.days, today, month)
		out.send(dTagSpendTotal, float64(s.total.SpendNano)/nano, tag)
		if v.hasRequests {
			out.send(dTagRequestsTotal, float64(s.total.Requests), tag)
		}
		out.send(dTagSpendToday, float64(t.SpendNano)/nano, tag)
		out.send(dTagSpendMonth, float64(m.SpendNano)/nano, tag)
	}
}

func sortedKeys[V any](m map[[6]string]V) [][6]string {
	keys := make([][6]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		for x := range keys[i] {
			if keys[i][x] != keys[j][x] {
				return keys[i][x] < keys[j][x]
			}
		}
		return false
	})
	return keys
}

func (e *Exporter) collectSpendLogs(ctx context.Context, ch chan<- prometheus.Metric) error {
	s, err := e.current(ctx)
	if err != nil {
		return err
	}
	if s.spendOff {
		return promkit.ErrSkipped
	}
	if s.spend.at.IsZero() {
		return s.spend.err
	}
	out := emitter{ch}
	v := s.spend.data
	out.send(dLogWatermark, float64(v.readTo.UnixMilli())/1000)
	for _, r := range v.requests {
		hit := "false"
		if r.key.cacheHit {
			hit = "true"
		}
		out.send(dLogRequests, float64(r.count), r.key.modelGroup, hit, r.key.status)
	}
	for _, l := range v.latency {
		out.histogram(dLogLatency, l.count, l.sum, l.cumulative, l.modelGroup)
	}
	for _, c := range v.compat {
		if c.f.hist != nil {
			out.histogram(c.f.fam, c.count, c.sum, c.cum, c.values...)
		} else {
			out.send(c.f.fam, c.n, c.values...)
		}
	}
	return s.spend.err
}
