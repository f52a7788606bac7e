package exporter

// compatNames are LiteLLM's own metric names, kept as they are for existing
// dashboards even where promtool would name them differently.
var compatNames = []string{
	"litellm_team_max_budget_metric", "litellm_remaining_team_budget_metric", "litellm_team_budget_remaining_hours_metric",
	"litellm_api_key_max_budget_metric", "litellm_remaining_api_key_budget_metric", "litellm_api_key_budget_remaining_hours_metric",
	"litellm_user_max_budget_metric", "litellm_remaining_user_budget_metric", "litellm_user_budget_remaining_hours_metric",
}
