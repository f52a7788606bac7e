package exporter

// compatNames are LiteLLM's own names, kept as they are although promtool's
// lint dislikes them (hours as a unit, _count on a gauge).
var compatNames = []string{
	"litellm_team_max_budget_metric", "litellm_remaining_team_budget_metric", "litellm_team_budget_remaining_hours_metric",
	"litellm_api_key_max_budget_metric", "litellm_remaining_api_key_budget_metric", "litellm_api_key_budget_remaining_hours_metric",
	"litellm_user_max_budget_metric", "litellm_remaining_user_budget_metric", "litellm_user_budget_remaining_hours_metric",
	"litellm_org_budget_remaining_hours_metric", "litellm_customer_budget_remaining_hours_metric", "litellm_teams_count",
}
