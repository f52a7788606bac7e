package proxyapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The JSON shapes below follow the BerriAI/litellm sources of early to mid
// 2026 (the 1.8x releases): proxy/management_endpoints/key_management_endpoints.py
// (list_keys, _list_key_helper -> KeyListResponseObject), team_endpoints.py
// (/team/list: a JSON array of team rows), internal_user_endpoints.py
// (/user/list: {users, total, page, page_size, total_pages}),
// organization_endpoints.py (/organization/list: an array of
// LiteLLM_OrganizationTableWithMembers), budget_management_endpoints.py
// (/budget/list: an array of LiteLLM_BudgetTable rows) and
// types/proxy/management_endpoints/common_daily_activity.py
// (SpendAnalyticsPaginatedResponse). Only the fields the exporter uses are
// decoded; unknown fields are ignored, so newer releases keep working.

// Time is a timestamp as the proxy serialises it: ISO 8601, with or without
// a zone (naive values are UTC, as the proxy stores them), or null.
type Time struct {
	time.Time
	Valid bool
}

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02"}

// UnmarshalJSON accepts null, an ISO 8601 string or an empty string.
func (t *Time) UnmarshalJSON(b []byte) error {
	*t = Time{}
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("a timestamp is not a string")
	}
	if s == "" {
		return nil
	}
	for _, l := range timeLayouts {
		if v, err := time.Parse(l, s); err == nil {
			t.Time, t.Valid = v.UTC(), true
			return nil
		}
	}
	return fmt.Errorf("timestamp %q is not ISO 8601", truncate(s, 40))
}

// Ptr returns the time, or nil when it was null.
func (t Time) Ptr() *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time
	return &v
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// BudgetRow is a LiteLLM_BudgetTable row (/budget/list, and nested as
// litellm_budget_table in keys and organizations).
type BudgetRow struct {
	BudgetID      string   `json:"budget_id"`
	MaxBudget     *float64 `json:"max_budget"`
	SoftBudget    *float64 `json:"soft_budget"`
	BudgetResetAt Time     `json:"budget_reset_at"`
}

// Key is a virtual key as /key/list?return_full_object=true returns it.
// Token is the sha256 of the key, never the key itself.
type Key struct {
	Token         string     `json:"token"`
	KeyAlias      *string    `json:"key_alias"`
	Spend         *float64   `json:"spend"`
	MaxBudget     *float64   `json:"max_budget"`
	SoftBudget    *float64   `json:"soft_budget"`
	BudgetResetAt Time       `json:"budget_reset_at"`
	Blocked       *bool      `json:"blocked"`
	TeamID        *string    `json:"team_id"`
	BudgetID      *string    `json:"budget_id"`
	BudgetTable   *BudgetRow `json:"litellm_budget_table"`
}

// KeyPage is one page of /key/list.
type KeyPage struct {
	Keys        []Key `json:"keys"`
	TotalCount  int   `json:"total_count"`
	CurrentPage int   `json:"current_page"`
	TotalPages  int   `json:"total_pages"`
}

// Team is one entry of /team/list.
type Team struct {
	TeamID         string   `json:"team_id"`
	TeamAlias      *string  `json:"team_alias"`
	OrganizationID *string  `json:"organization_id"`
	Spend          *float64 `json:"spend"`
	MaxBudget      *float64 `json:"max_budget"`
	SoftBudget     *float64 `json:"soft_budget"`
	BudgetResetAt  Time     `json:"budget_reset_at"`
	Blocked        *bool    `json:"blocked"`
}

// User is one entry of /user/list; the row "litellm-proxy-budget" is the
// proxy-wide budget.
type User struct {
	UserID        string   `json:"user_id"`
	UserAlias     *string  `json:"user_alias"`
	Spend         *float64 `json:"spend"`
	MaxBudget     *float64 `json:"max_budget"`
	BudgetResetAt Time     `json:"budget_reset_at"`
}

// UserPage is one page of /user/list.
type UserPage struct {
	Users      []User `json:"users"`
	Total      int    `json:"total"`
	Page       int    `json:"page"`
	PageSize   int    `json:"page_size"`
	TotalPages int    `json:"total_pages"`
}

// Org is one entry of /organization/list.
type Org struct {
	OrganizationID    string     `json:"organization_id"`
	OrganizationAlias *string    `json:"organization_alias"`
	Spend             *float64   `json:"spend"`
	BudgetID          *string    `json:"budget_id"`
	BudgetTable       *BudgetRow `json:"litellm_budget_table"`
}

// Metrics is SpendMetrics of the daily-activity reports.
type Metrics struct {
	Spend                    float64 `json:"spend"`
	PromptTokens             int64   `json:"prompt_tokens"`
	CompletionTokens         int64   `json:"completion_tokens"`
	CacheReadInputTokens     int64   `json:"cache_read_input_tokens"`
	CacheCreationInputTokens int64   `json:"cache_creation_input_tokens"`
	APIRequests              int64   `json:"api_requests"`
	SuccessfulRequests       int64   `json:"successful_requests"`
	FailedRequests           int64   `json:"failed_requests"`
}

// KeyMeta is what the report says of a key (KeyMetadata).
type KeyMeta struct {
	KeyAlias *string `json:"key_alias"`
	TeamID   *string `json:"team_id"`
}

// KeyMetrics is one api_key_breakdown entry.
type KeyMetrics struct {
	Metrics  Metrics `json:"metrics"`
	Metadata KeyMeta `json:"metadata"`
}

// Bucket is one breakdown entry (MetricWithMetadata).
type Bucket struct {
	Metrics         Metrics               `json:"metrics"`
	APIKeyBreakdown map[string]KeyMetrics `json:"api_key_breakdown"`
}

// Breakdown is BreakdownMetrics, the dimensions the exporter reads.
type Breakdown struct {
	ModelGroups map[string]Bucket `json:"model_groups"`
	Entities    map[string]Bucket `json:"entities"`
}

// Day is one DailySpendData.
type Day struct {
	Date      string    `json:"date"`
	Metrics   Metrics   `json:"metrics"`
	Breakdown Breakdown `json:"breakdown"`
}

// ActivityPage is one page of a daily-activity report
// (SpendAnalyticsPaginatedResponse).
type ActivityPage struct {
	Results  []Day `json:"results"`
	Metadata struct {
		Page       int  `json:"page"`
		TotalPages int  `json:"total_pages"`
		HasMore    bool `json:"has_more"`
	} `json:"metadata"`
}

func decode[T any](what string, b []byte) (T, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		var zero T
		return zero, fmt.Errorf("decoding %s: %w", what, describe(err))
	}
	return v, nil
}

// describe keeps JSON errors short and free of response bytes.
func describe(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %q: %s where %s was expected", te.Field, te.Value, te.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("not JSON (offset %d)", se.Offset)
	}
	return errors.New(strings.TrimPrefix(err.Error(), "json: "))
}

// ParseKeyPage decodes a /key/list page; keys must be full objects with a token.
func ParseKeyPage(b []byte) (KeyPage, error) {
	p, err := decode[KeyPage]("/key/list", b)
	if err != nil {
		return p, err
	}
	for _, k := range p.Keys {
		if k.Token == "" {
			return KeyPage{}, errors.New("decoding /key/list: a key without a token")
		}
	}
	return p, nil
}

// ParseTeams decodes /team/list.
func ParseTeams(b []byte) ([]Team, error) { return decode[[]Team]("/team/list", b) }

// ParseUserPage decodes a /user/list page.
func ParseUserPage(b []byte) (UserPage, error) { return decode[UserPage]("/user/list", b) }

// ParseOrgs decodes /organization/list.
func ParseOrgs(b []byte) ([]Org, error) { return decode[[]Org]("/organization/list", b) }

// ParseBudgets decodes /budget/list.
func ParseBudgets(b []byte) ([]BudgetRow, error) { return decode[[]BudgetRow]("/budget/list", b) }

// ParseActivityPage decodes a daily-activity page; every date must be YYYY-MM-DD.
func ParseActivityPage(b []byte) (ActivityPage, error) {
	p, err := decode[ActivityPage]("daily activity", b)
	if err != nil {
		return p, err
	}
	for _, d := range p.Results {
		if _, err := time.Parse("2006-01-02", d.Date); err != nil {
			return ActivityPage{}, fmt.Errorf("decoding daily activity: date %q is not YYYY-MM-DD", truncate(d.Date, 20))
		}
	}
	return p, nil
}
