package exporter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/outrigger/outrigger/exporters/litellm-cost/litellm"
	"github.com/outrigger/outrigger/exporters/litellm-cost/proxyapi"
	"github.com/outrigger/outrigger/internal/promkit"
)

// HTTP mode: the same refresh steps and the same cache as the database mode,
// fed from the proxy's management API (proxyapi) instead of its tables.
// What the API cannot give is left out (see the README): end-user and tag
// budgets, the provider and deployment-model labels of usage, spend logs.

func newAPIClient(e *Exporter) *proxyapi.Client {
	c := e.cfg.ProxyAPI()
	return proxyapi.New(proxyapi.Options{BaseURL: e.cfg.ProxyURL(), MasterKey: c.MasterKey, TLS: e.cfg.ProxyTLS(),
		PageSize: c.PageSize, MaxPages: c.MaxPages, ActivityPageSize: c.ActivityPageSize})
}

// refreshAPI runs the refresh steps against the proxy's API. A step that
// finds the proxy unreachable or refusing the key fails the rest with the
// same error (as a lost database connection does), and /ready reports it.
func (e *Exporter) refreshAPI(ctx context.Context, next *snapshot) {
	now := e.cfg.Now()
	loc := proxyDays
	next.dbErr, next.missing, next.schema, next.spendOff = nil, nil, nil, true
	meta := map[string]proxyapi.KeyMeta{}
	steps := []refreshStep{
		{"budgets", &next.budgets.err, func() error {
			if !e.apiBudgets.at.IsZero() && now.Sub(e.apiBudgets.at) < e.cfg.ProxyAPI().BudgetsInterval {
				return nil // the last listing is recent enough: keep it
			}
			b, unseen, err := e.listBudgets(ctx)
			if err == nil {
				next.budgets.data, next.budgets.at, next.orgsUnseen = b, now, unseen
				e.apiBudgets.at, e.apiBudgets.scopes, e.apiBudgets.orgsUnseen = now, b, unseen
			}
			return err
		}},
		{"daily usage", &next.usage.err, func() error {
			v, err := e.usage.refresh(ctx, apiDays{c: e.api, path: "/user/daily/activity", since: e.cfg.UsageSince(), now: now, meta: meta}, loc, now)
			if err == nil {
				next.usage.data, next.usage.at = e.resolveAPIUsage(v, meta), now
			}
			return err
		}},
		{"daily tag usage", &next.tags.err, func() error {
			v, err := e.tags.refresh(ctx, apiDays{c: e.api, path: "/tag/daily/activity", tags: true, since: e.cfg.UsageSince(), now: now}, loc, now)
			var se *proxyapi.StatusError
			if errors.As(err, &se) && (se.Status == http.StatusNotFound || se.Status == http.StatusForbidden) && next.usage.err == nil {
				// Tag reports are an enterprise feature on some releases:
				// without them there are simply no tag series.
				e.logger.Debug("no tag activity from the proxy", "status", se.Status)
				next.tags = part[*usageView]{}
				return nil
			}
			if err == nil {
				next.tags.data, next.tags.at = v, now
			}
			return err
		}},
	}
	e.runSteps(steps, func(err error) (lost bool) {
		if errors.Is(err, proxyapi.ErrUnavailable) {
			next.dbErr = err
			return true
		}
		return false
	})
	next.spend.err = nil
}

// apiListing is what HTTP mode lists for budgets.
type apiListing struct {
	keys  []proxyapi.Key
	teams []proxyapi.Team
	users []proxyapi.User
	orgs  []proxyapi.Org
	rows  []proxyapi.BudgetRow
}

// readListing lists keys, teams, users, organizations and budget rows.
func (e *Exporter) readListing(ctx context.Context) (apiListing, error) {
	var l apiListing
	var err error
	if l.keys, err = e.api.Keys(ctx); err != nil {
		return l, fmt.Errorf("listing keys: %w", err)
	}
	if l.teams, err = e.api.Teams(ctx); err != nil {
		return l, fmt.Errorf("listing teams: %w", err)
	}
	if l.users, err = e.api.Users(ctx); err != nil {
		return l, fmt.Errorf("listing users: %w", err)
	}
	if l.orgs, err = e.api.Orgs(ctx); err != nil {
		return l, fmt.Errorf("listing organizations: %w", err)
	}
	if l.rows, err = e.api.Budgets(ctx); err != nil {
		return l, fmt.Errorf("listing budgets: %w", err)
	}
	return l, nil
}

// listBudgets builds, from the proxy's listings, the same scopes the
// database mode reads from the tables. The second result counts the
// organizations teams refer to that the listing left out:
// /organization/list shows a key that is not a proxy admin only the
// organizations it is a member of.
func (e *Exporter) listBudgets(ctx context.Context) ([]litellm.BudgetScope, int, error) {
	l, err := e.readListing(ctx)
	if err != nil {
		return nil, 0, err
	}
	scopes, aliases, unseen := budgetsOf(l, e.cfg.MaxSeries())
	if unseen > 0 {
		e.logger.Warn("the proxy listed fewer organizations than its teams belong to: the key is not a proxy admin, and those organizations' budgets are missing",
			"organizations_unseen", unseen)
	}
	e.apiTeams = aliases
	return scopes, unseen, nil
}

// budgetsOf turns the listings into budget scopes (each kept to limit), the
// team aliases and the count of organizations teams belong to that the
// listing did not return.
func budgetsOf(l apiListing, limit int) (scopes []litellm.BudgetScope, aliases map[string]string, unseen int) {
	budgetRows := map[string]proxyapi.BudgetRow{}
	for _, b := range l.rows {
		budgetRows[b.BudgetID] = b
	}
	linked := func(nested *proxyapi.BudgetRow, id *string) proxyapi.BudgetRow {
		if nested != nil {
			return *nested
		}
		if id != nil {
			return budgetRows[*id]
		}
		return proxyapi.BudgetRow{}
	}
	var keyB, teamB, userB, proxyB, orgB []litellm.Budget
	for _, k := range l.keys {
		if str(k.TeamID) == litellm.UISessionTeam {
			continue // the admin UI's session tokens, hidden by the proxy too
		}
		b := linked(k.BudgetTable, k.BudgetID)
		blocked := k.Blocked != nil && *k.Blocked
		keyB = append(keyB, litellm.Budget{ID: k.Token, Name: str(k.KeyAlias), Spend: val(k.Spend),
			Max: firstOf(k.MaxBudget, b.MaxBudget), Soft: firstOf(k.SoftBudget, b.SoftBudget),
			ResetAt: firstTime(k.BudgetResetAt, b.BudgetResetAt), Blocked: &blocked, TeamID: str(k.TeamID)})
	}
	aliases = map[string]string{}
	for _, t := range l.teams {
		aliases[t.TeamID] = str(t.TeamAlias)
		blocked := t.Blocked != nil && *t.Blocked
		teamB = append(teamB, litellm.Budget{ID: t.TeamID, Name: str(t.TeamAlias), Spend: val(t.Spend),
			Max: t.MaxBudget, Soft: t.SoftBudget, ResetAt: t.BudgetResetAt.Ptr(), Blocked: &blocked})
	}
	for _, u := range l.users {
		b := litellm.Budget{ID: u.UserID, Name: str(u.UserAlias), Spend: val(u.Spend), Max: u.MaxBudget, ResetAt: u.BudgetResetAt.Ptr()}
		if u.UserID == litellm.ProxyBudgetUserID {
			b.Name = ""
			proxyB = append(proxyB, b)
		} else {
			userB = append(userB, b)
		}
	}
	listed := map[string]bool{}
	for _, o := range l.orgs {
		listed[o.OrganizationID] = true
		b := linked(o.BudgetTable, o.BudgetID)
		max := b.MaxBudget
		if max != nil && *max == 0 {
			max = nil // LiteLLM treats a max_budget of 0 as no budget
		}
		orgB = append(orgB, litellm.Budget{ID: o.OrganizationID, Name: str(o.OrganizationAlias), Spend: val(o.Spend),
			Max: max, Soft: b.SoftBudget, ResetAt: b.BudgetResetAt.Ptr()})
	}
	missing := map[string]bool{}
	for _, t := range l.teams {
		if id := str(t.OrganizationID); id != "" && !listed[id] {
			missing[id] = true
		}
	}
	return []litellm.BudgetScope{
		limitScope(litellm.ScopeKey, keyB, limit), limitScope(litellm.ScopeTeam, teamB, limit),
		limitScope(litellm.ScopeUser, userB, limit), limitScope(litellm.ScopeProxy, proxyB, limit),
		limitScope(litellm.ScopeOrg, orgB, limit),
	}, aliases, len(missing)
}

// limitScope orders a scope as the database query does (entities with a
// budget first, fullest first, then the biggest spenders) and keeps limit.
func limitScope(scope string, bs []litellm.Budget, limit int) litellm.BudgetScope {
	out := litellm.BudgetScope{Scope: scope, Total: len(bs)}
	for _, b := range bs {
		if !math.IsNaN(b.Spend) && !math.IsInf(b.Spend, 0) {
			out.TotalSpend += b.Spend
		}
	}
	hasMax := func(b litellm.Budget) bool { return b.Max != nil && *b.Max > 0 }
	out.Budgets, _ = promkit.TopN(bs, limit, func(a, b litellm.Budget) int {
		if hasMax(a) != hasMax(b) {
			if hasMax(a) {
				return -1
			}
			return 1
		}
		if hasMax(a) {
			if c := cmp.Compare(b.Spend / *b.Max, a.Spend / *a.Max); c != 0 {
				return c
			}
		}
		if c := cmp.Compare(b.Spend, a.Spend); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func val(v *float64) float64 {
	if v == nil {
		return 0
	}
	return *v
}

func firstOf(a, b *float64) *float64 {
	if a != nil {
		return a
	}
	return b
}

func firstTime(a, b proxyapi.Time) *time.Time {
	if a.Valid {
		return a.Ptr()
	}
	return b.Ptr()
}

// apiDays reads a daily-activity report as day rows: usage by (key, model
// group) from breakdown.model_groups[].api_key_breakdown, or by tag from
// breakdown.entities. Series keys have the database mode's shape (key,
// model, model group, provider) with model and provider empty: the report
// does not cross them with keys.
type apiDays struct {
	c     *proxyapi.Client
	path  string
	tags  bool
	since string
	now   time.Time
	// meta collects what the report says of each key (alias, team).
	meta map[string]proxyapi.KeyMeta
}

const dayFormat = "2006-01-02"

func (a apiDays) days(ctx context.Context, from, to string) ([]litellm.DayUsage, error) {
	start := from
	if start == "" || start < a.since {
		start = a.since
	}
	// The proxy's end_date is inclusive; an open end reaches tomorrow (UTC)
	// so that zones ahead of UTC see their whole "today".
	end := day(a.now.UTC().AddDate(0, 0, 1))
	if to != "" {
		t, err := time.Parse(dayFormat, to)
		if err != nil {
			return nil, fmt.Errorf("day %q: %w", to, err)
		}
		end = day(t.AddDate(0, 0, -1))
	}
	if start > end {
		return nil, nil
	}
	days, err := a.c.Activity(ctx, a.path, start, end)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", a.path, err)
	}
	var out []litellm.DayUsage
	for _, d := range days {
		if a.tags {
			for tag, b := range d.Breakdown.Entities {
				out = append(out, litellm.DayUsage{Day: d.Date, Key: litellm.SeriesKey(tag), Usage: usageOf(b.Metrics)})
			}
			continue
		}
		for group, b := range d.Breakdown.ModelGroups {
			for token, k := range b.APIKeyBreakdown {
				if a.meta != nil && (k.Metadata.KeyAlias != nil || k.Metadata.TeamID != nil) {
					a.meta[token] = k.Metadata
				}
				key := litellm.SeriesKey(strings.Join([]string{token, "", group, ""}, "\x00"))
				out = append(out, litellm.DayUsage{Day: d.Date, Key: key, Usage: usageOf(k.Metrics)})
			}
		}
	}
	return out, nil
}

func (a apiDays) totalsBefore(ctx context.Context, before string) (map[litellm.SeriesKey]litellm.Usage, error) {
	rows, err := a.days(ctx, "", before)
	if err != nil {
		return nil, err
	}
	out := map[litellm.SeriesKey]litellm.Usage{}
	for _, r := range rows {
		u := out[r.Key]
		u.Add(r.Usage)
		out[r.Key] = u
	}
	return out, nil
}

func (a apiDays) has() (requests, cache bool) { return true, true }

// usageOf converts report metrics; spend is rounded to nano-USD once per
// (day, series) entry, as the database mode does.
func usageOf(m proxyapi.Metrics) litellm.Usage {
	spend := int64(0)
	if s := m.Spend * nano; !math.IsNaN(s) && !math.IsInf(s, 0) && math.Abs(s) < math.MaxInt64/2 {
		spend = int64(math.Round(s))
	}
	return litellm.Usage{SpendNano: spend, Prompt: m.PromptTokens, Completion: m.CompletionTokens,
		CacheRead: m.CacheReadInputTokens, CacheCreated: m.CacheCreationInputTokens,
		Requests: m.APIRequests, Successful: m.SuccessfulRequests, Failed: m.FailedRequests}
}

// resolveAPIUsage labels usage series with key aliases and teams from the
// report's key metadata (the proxy resolves deleted keys itself) and team
// aliases from the last team listing.
func (e *Exporter) resolveAPIUsage(v *usageView, meta map[string]proxyapi.KeyMeta) *usageView {
	for i := range v.series {
		s := &v.series[i]
		if s.key == otherKey || len(s.parts) != 4 {
			s.labels = otherLabels
			continue
		}
		token := s.parts[0]
		m, ok := meta[token]
		if !ok {
			m = e.apiKeyMeta[token]
		} else {
			e.apiKeyMeta[token] = m
		}
		team := str(m.TeamID)
		s.labels = seriesLabels{KeyAlias: str(m.KeyAlias), Team: team, TeamAlias: e.apiTeams[team],
			ModelGroup: s.parts[2]}
		if token != "" {
			s.labels.KeyID = KeyID(token)
		}
	}
	return v
}
