package litellm

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Budget scopes, as the "scope" label shows them.
const (
	ScopeKey     = "key"
	ScopeTeam    = "team"
	ScopeUser    = "user"
	ScopeOrg     = "org"
	ScopeEndUser = "end_user"
	ScopeTag     = "tag"
	ScopeProxy   = "proxy"
)

// Budget is one entity's current budget period.
type Budget struct {
	// ID is the entity's id; for keys it is the token (the sha256 of the
	// key), which never leaves the exporter: metrics use KeyID(ID).
	ID    string
	Name  string
	Spend float64
	// Max and Soft are nil when no budget is set.
	Max, Soft *float64
	// ResetAt is nil when the budget never resets.
	ResetAt *time.Time
	// Blocked is nil where the table has no blocked column.
	Blocked *bool
	// TeamID is the key's team (keys only).
	TeamID string
	// RPM and TPM are the entity's own rpm_limit and tpm_limit (keys and
	// teams; nil where none is set), what LiteLLM's rate-limit "allowed"
	// gauges start from.
	RPM, TPM *float64
}

// BudgetScope is what one scope's table says.
type BudgetScope struct {
	Scope   string
	Budgets []Budget
	// Total and TotalSpend count every entity of the scope, including those
	// left out by the series limit.
	Total      int
	TotalSpend float64
}

type budgetSource struct {
	scope, table, idCol, nameCol string
	where                        string
	// ownMax: the entity's own max_budget/soft_budget columns win over the
	// linked BudgetTable row.
	ownMax bool
	// zeroIsNone: LiteLLM treats a max_budget of 0 as no budget (orgs).
	zeroIsNone bool
	// defaultMax: the proxy's default budget for entities without one
	// (end users: litellm_settings.max_end_user_budget in LiteLLM_Config).
	defaultMax string
	// limits: read the entity's own rpm_limit and tpm_limit.
	limits bool
}

// UISessionTeam is the team LiteLLM gives the admin UI's session tokens;
// the proxy hides those keys from its own key listings, and so do we.
const UISessionTeam = "litellm-dashboard"

var budgetSources = []budgetSource{
	{scope: ScopeKey, table: TableKeys, idCol: "token", nameCol: "key_alias", ownMax: true, limits: true,
		where: `t."team_id" IS DISTINCT FROM '` + UISessionTeam + `'`},
	{scope: ScopeTeam, table: TableTeams, idCol: "team_id", nameCol: "team_alias", ownMax: true, limits: true},
	{scope: ScopeUser, table: TableUsers, idCol: "user_id", nameCol: "user_alias", ownMax: true,
		where: `t."user_id" <> '` + ProxyBudgetUserID + `'`},
	{scope: ScopeProxy, table: TableUsers, idCol: "user_id", nameCol: "", ownMax: true,
		where: `t."user_id" = '` + ProxyBudgetUserID + `'`},
	{scope: ScopeOrg, table: TableOrgs, idCol: "organization_id", nameCol: "organization_alias", zeroIsNone: true},
	{scope: ScopeEndUser, table: TableEndUsers, idCol: "user_id", nameCol: "alias", defaultMax: "max_end_user_budget"},
	{scope: ScopeTag, table: TableTags, idCol: "tag_name", nameCol: "tag_name"},
}

// budgetQuery builds the query of one scope, or "" when its table is absent.
func (s *Schema) budgetQuery(src budgetSource) string {
	if !s.HasTable(src.table) || !s.Has(src.table, src.idCol) {
		return ""
	}
	join := ""
	linked := s.HasTable(TableBudgets) && s.Has(src.table, "budget_id")
	if linked {
		join = ` LEFT JOIN "LiteLLM_BudgetTable" b ON b."budget_id" = t."budget_id"`
	}
	pick := func(column, cast string) string {
		var parts []string
		if src.ownMax && s.Has(src.table, column) {
			parts = append(parts, "t."+Ident(column))
		}
		if linked && s.Has(TableBudgets, column) {
			parts = append(parts, "b."+Ident(column))
		}
		switch len(parts) {
		case 0:
			return "NULL::" + cast
		case 1:
			return parts[0] + "::" + cast
		}
		return "COALESCE(" + strings.Join(parts, ", ") + ")::" + cast
	}
	name := "''"
	if src.nameCol != "" {
		name = "COALESCE(" + s.col(src.table, "t", src.nameCol, "NULL") + "::text, '')"
	}
	team := "''"
	if src.scope == ScopeKey {
		team = "COALESCE(" + s.col(src.table, "t", "team_id", "NULL") + "::text, '')"
	}
	spend := "COALESCE(" + s.col(src.table, "t", "spend", "NULL") + ", 0)::float8"
	// A NULL "blocked" (keys) means not blocked; no column means the scope
	// cannot be blocked at all.
	blocked := "NULL::bool"
	if s.Has(src.table, "blocked") {
		blocked = `COALESCE(t."blocked", false)`
	}
	where := ""
	if src.where != "" && (src.scope != ScopeKey || s.Has(src.table, "team_id")) {
		where = " WHERE " + src.where
	}
	maxBudget := pick("max_budget", "float8")
	if src.defaultMax != "" && s.Has(TableConfig, "param_value") {
		maxBudget = fmt.Sprintf(`COALESCE(%s, (SELECT (c."param_value"->>'%s')::float8 FROM "LiteLLM_Config" c
    WHERE c."param_name" = 'litellm_settings' AND jsonb_typeof(c."param_value"->'%[2]s') = 'number'))`, maxBudget, src.defaultMax)
	}
	if src.zeroIsNone {
		maxBudget = "NULLIF(" + maxBudget + ", 0)"
	}
	limit := func(column string) string {
		if !src.limits {
			return "NULL::float8"
		}
		return s.col(src.table, "t", column, "NULL") + "::float8"
	}
	inner := fmt.Sprintf(`SELECT t.%s::text AS id, %s AS name, %s AS spend, %s AS max_budget, %s AS soft_budget,
  %s AS reset_at, %s AS blocked, %s AS team_id, %s AS rpm_limit, %s AS tpm_limit
FROM %s t%s%s`,
		Ident(src.idCol), name, spend, maxBudget, pick("soft_budget", "float8"),
		pick("budget_reset_at", "timestamp"), blocked, team, limit("rpm_limit"), limit("tpm_limit"),
		Ident(src.table), join, where)
	// Entities with a budget come first, fullest first, then the biggest
	// spenders: the series limit keeps what an alert or a dashboard needs.
	return `SELECT id, name, spend, max_budget, soft_budget, reset_at, blocked, team_id, rpm_limit, tpm_limit,
  count(*) OVER (), COALESCE(sum(spend) OVER (), 0)::float8
FROM (` + inner + `) s
ORDER BY (max_budget > 0) DESC NULLS LAST,
  CASE WHEN max_budget > 0 THEN spend / max_budget END DESC NULLS LAST, spend DESC, id
LIMIT $1`
}

// ReadBudgets reads every budget scope whose table exists, at most limit
// entities per scope.
func ReadBudgets(ctx context.Context, q Querier, s *Schema, limit int) ([]BudgetScope, error) {
	var out []BudgetScope
	for _, src := range budgetSources {
		sql := s.budgetQuery(src)
		if sql == "" {
			continue
		}
		scope, err := readBudgetScope(ctx, q, sql, src.scope, limit)
		if err != nil {
			return nil, err
		}
		out = append(out, scope)
	}
	return out, nil
}

func readBudgetScope(ctx context.Context, q Querier, sql, scope string, limit int) (BudgetScope, error) {
	rows, err := q.Query(ctx, sql, limit)
	if err != nil {
		return BudgetScope{}, fmt.Errorf("reading %s budgets: %w", scope, err)
	}
	bs := BudgetScope{Scope: scope}
	var b Budget
	var total int64
	_, err = pgx.ForEachRow(rows, []any{&b.ID, &b.Name, &b.Spend, &b.Max, &b.Soft, &b.ResetAt, &b.Blocked,
		&b.TeamID, &b.RPM, &b.TPM, &total, &bs.TotalSpend}, func() error {
		bs.Budgets = append(bs.Budgets, b)
		b = Budget{}
		return nil
	})
	if err != nil {
		return BudgetScope{}, fmt.Errorf("reading %s budgets: %w", scope, err)
	}
	bs.Total = int(total)
	return bs, nil
}

// KeyInfo is what the exporter shows of a virtual key.
type KeyInfo struct {
	Alias, TeamID string
	Deleted       bool
}

// ReadKeys looks up aliases and teams of the given tokens, in the live table
// and, for keys deleted since, in the deleted-keys table.
func ReadKeys(ctx context.Context, q Querier, s *Schema, tokens []string) (map[string]KeyInfo, error) {
	out := map[string]KeyInfo{}
	if len(tokens) == 0 {
		return out, nil
	}
	read := func(table string, deleted bool) error {
		if !s.HasTable(table) {
			return nil
		}
		order := ""
		if s.Has(table, "deleted_at") {
			order = `, t."deleted_at" DESC`
		}
		sql := fmt.Sprintf(`SELECT DISTINCT ON (t."token") t."token", COALESCE(%s::text, ''), COALESCE(%s::text, '')
FROM %s t WHERE t."token" = ANY($1) ORDER BY t."token"%s`,
			s.col(table, "t", "key_alias", "NULL"), s.col(table, "t", "team_id", "NULL"), Ident(table), order)
		rows, err := q.Query(ctx, sql, tokens)
		if err != nil {
			return fmt.Errorf("reading key aliases from %s: %w", table, err)
		}
		var token string
		var info KeyInfo
		_, err = pgx.ForEachRow(rows, []any{&token, &info.Alias, &info.TeamID}, func() error {
			if _, seen := out[token]; !seen {
				info.Deleted = deleted
				out[token] = info
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading key aliases from %s: %w", table, err)
		}
		return nil
	}
	if err := read(TableKeys, false); err != nil {
		return nil, err
	}
	var missing []string
	for _, t := range tokens {
		if _, ok := out[t]; !ok {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		tokens = missing
		if err := read(TableDeletedKeys, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ReadTeamAliases maps team ids to their aliases.
func ReadTeamAliases(ctx context.Context, q Querier, s *Schema, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 || !s.Has(TableTeams, "team_alias") {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT "team_id", COALESCE("team_alias", '') FROM "LiteLLM_TeamTable" WHERE "team_id" = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("reading team aliases: %w", err)
	}
	var id, alias string
	_, err = pgx.ForEachRow(rows, []any{&id, &alias}, func() error { out[id] = alias; return nil })
	if err != nil {
		return nil, fmt.Errorf("reading team aliases: %w", err)
	}
	return out, nil
}

// TeamMembers is a team's member count: the length of members_with_roles,
// what LiteLLM's litellm_team_members_metric sets.
type TeamMembers struct {
	ID, Alias string
	Members   int64
}

// ReadTeamMembers returns every team's member count (one row per team; the
// caller keeps the largest). A release without members_with_roles gives
// none.
func ReadTeamMembers(ctx context.Context, q Querier, s *Schema) ([]TeamMembers, error) {
	if !s.Has(TableTeams, "members_with_roles") {
		return nil, nil
	}
	alias := "''"
	if s.Has(TableTeams, "team_alias") {
		alias = `COALESCE("team_alias", '')`
	}
	rows, err := q.Query(ctx, `SELECT "team_id", `+alias+`,
  CASE WHEN jsonb_typeof("members_with_roles"::jsonb) = 'array' THEN jsonb_array_length("members_with_roles"::jsonb) ELSE 0 END
FROM "LiteLLM_TeamTable" WHERE "team_id" <> $1`, UISessionTeam)
	if err != nil {
		return nil, fmt.Errorf("reading team members: %w", err)
	}
	var out []TeamMembers
	var t TeamMembers
	_, err = pgx.ForEachRow(rows, []any{&t.ID, &t.Alias, &t.Members}, func() error { out = append(out, t); return nil })
	if err != nil {
		return nil, fmt.Errorf("reading team members: %w", err)
	}
	return out, nil
}
