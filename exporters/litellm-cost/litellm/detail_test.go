package litellm

import (
	"reflect"
	"testing"
)

func fp(v float64) *float64 { return &v }

// ParseSpendDetail reads what _get_spend_logs_metadata writes, in its
// current and older shapes, and never guesses what is not there.
func TestParseSpendDetail(t *testing.T) {
	for _, tt := range []struct {
		name, text string
		want       SpendDetail
	}{
		{"nothing written", "", SpendDetail{}},
		{"release without the parts", `{"usage": null, "guardrails": null, "mcp": null, "overhead_ms": null}`, SpendDetail{}},
		{"current release", `{"usage": {"completion_tokens_details": {"reasoning_tokens": 12, "audio_tokens": 3}, "prompt_tokens_details": {"audio_tokens": 4}},
  "guardrails": [{"guardrail_name": "pii", "guardrail_mode": "pre_call", "guardrail_status": "success", "duration": 0.02},
    {"guardrail_name": "mod", "guardrail_mode": ["pre_call", "post_call"], "guardrail_status": "guardrail_intervened"}],
  "mcp": {"name": "search_issues", "mcp_server_name": "github"}, "overhead_ms": 7.5}`,
			SpendDetail{ReasoningTokens: 12, AudioOutputTokens: 3, AudioInputTokens: 4, OverheadSeconds: fp(0.0075),
				Guardrails: []GuardrailRun{{Name: "pii", Status: "success", Mode: "pre_call", Duration: fp(0.02)}, {Name: "mod", Status: "guardrail_intervened"}},
				MCP:        &MCPCall{Server: "github", Tool: "search_issues"}}},
		{"older release: one guardrail object", `{"guardrails": {"guardrail_name": "pii", "guardrail_status": "failure"}}`,
			SpendDetail{Guardrails: []GuardrailRun{{Name: "pii", Status: "failure"}}}},
		{"null token details", `{"usage": {"completion_tokens_details": null, "prompt_tokens_details": {"audio_tokens": null}}}`, SpendDetail{}},
		{"negative or absurd values are left out", `{"usage": {"completion_tokens_details": {"reasoning_tokens": -5}}, "overhead_ms": -1}`, SpendDetail{}},
		{"a malformed part spoils only itself", `{"usage": {"completion_tokens_details": {"reasoning_tokens": "many"}}, "mcp": {"name": "t", "mcp_server_name": "s"}}`,
			SpendDetail{MCP: &MCPCall{Server: "s", Tool: "t"}}},
		{"not JSON", `{`, SpendDetail{}},
		{"a guardrail without a name is not counted", `{"guardrails": [{"guardrail_status": "success"}]}`, SpendDetail{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseSpendDetail(tt.text); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseSpendDetail(%s)\n got %+v\nwant %+v", tt.text, got, tt.want)
			}
		})
	}
}
