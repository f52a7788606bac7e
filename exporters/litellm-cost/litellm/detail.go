package litellm

import (
	"encoding/json"
	"math"
)

// detailSQL picks, from a spend-log row's "metadata" (LiteLLM's
// SpendLogsMetadata, written by _get_spend_logs_metadata in
// litellm/proxy/spend_tracking/spend_tracking_utils.py), the parts the
// exporter counts, as one small JSON text: the provider's usage object, the
// guardrails run, the MCP tool call and the proxy's own overhead. Releases
// that do not write a part leave it null.
const detailSQL = `COALESCE(jsonb_build_object(
    'usage', (l."metadata"::jsonb)->'usage_object',
    'guardrails', (l."metadata"::jsonb)->'guardrail_information',
    'mcp', (l."metadata"::jsonb)->'mcp_tool_call_metadata',
    'overhead_ms', (l."metadata"::jsonb)->'litellm_overhead_time_ms')::text, '')`

// SpendDetail is what a spend-log row's metadata holds beyond its columns.
// Values the proxy did not write are zero or nil, never guessed.
type SpendDetail struct {
	// From usage_object (the provider's usage, as LiteLLM normalised it).
	ReasoningTokens, AudioInputTokens, AudioOutputTokens int64
	// OverheadSeconds is litellm_overhead_time_ms in seconds.
	OverheadSeconds *float64
	Guardrails      []GuardrailRun
	// MCP is set for a row of an MCP tool call.
	MCP *MCPCall
}

// GuardrailRun is one entry of guardrail_information
// (StandardLoggingGuardrailInformation).
type GuardrailRun struct {
	Name, Status, Mode string
	Duration           *float64 // seconds
}

// MCPCall is mcp_tool_call_metadata (StandardLoggingMCPToolCall).
type MCPCall struct {
	Server, Tool string
}

type detailJSON struct {
	Usage *struct {
		Completion *struct {
			Reasoning json.Number `json:"reasoning_tokens"`
			Audio     json.Number `json:"audio_tokens"`
		} `json:"completion_tokens_details"`
		Prompt *struct {
			Audio json.Number `json:"audio_tokens"`
		} `json:"prompt_tokens_details"`
	} `json:"usage"`
	Guardrails json.RawMessage `json:"guardrails"`
	MCP        *struct {
		Name   string `json:"name"`
		Server string `json:"mcp_server_name"`
	} `json:"mcp"`
	Overhead json.Number `json:"overhead_ms"`
}

type guardrailJSON struct {
	Name     string          `json:"guardrail_name"`
	Status   string          `json:"guardrail_status"`
	Mode     json.RawMessage `json:"guardrail_mode"`
	Duration json.Number     `json:"duration"`
}

// ParseSpendDetail reads detailSQL's text. Anything malformed (the column is
// free-form JSON) is left out rather than failing the row: the row still
// counts in every other family.
func ParseSpendDetail(text string) SpendDetail {
	var d SpendDetail
	if text == "" {
		return d
	}
	var j detailJSON
	if json.Unmarshal([]byte(text), &j) != nil {
		// One malformed part spoils the decode of the whole text: read the
		// parts one by one.
		return parseParts(text)
	}
	return fromJSON(j)
}

func parseParts(text string) SpendDetail {
	var parts map[string]json.RawMessage
	if json.Unmarshal([]byte(text), &parts) != nil {
		return SpendDetail{}
	}
	var d SpendDetail
	for k, raw := range parts {
		var j detailJSON
		one, _ := json.Marshal(map[string]json.RawMessage{k: raw})
		if json.Unmarshal(one, &j) != nil {
			continue
		}
		p := fromJSON(j)
		d.ReasoningTokens += p.ReasoningTokens
		d.AudioInputTokens += p.AudioInputTokens
		d.AudioOutputTokens += p.AudioOutputTokens
		if p.OverheadSeconds != nil {
			d.OverheadSeconds = p.OverheadSeconds
		}
		if p.Guardrails != nil {
			d.Guardrails = p.Guardrails
		}
		if p.MCP != nil {
			d.MCP = p.MCP
		}
	}
	return d
}

func fromJSON(j detailJSON) SpendDetail {
	var d SpendDetail
	if u := j.Usage; u != nil {
		if u.Completion != nil {
			d.ReasoningTokens, d.AudioOutputTokens = count(u.Completion.Reasoning), count(u.Completion.Audio)
		}
		if u.Prompt != nil {
			d.AudioInputTokens = count(u.Prompt.Audio)
		}
	}
	if ms, ok := finite(j.Overhead); ok && ms >= 0 {
		v := ms / 1000
		d.OverheadSeconds = &v
	}
	if j.MCP != nil {
		d.MCP = &MCPCall{Server: j.MCP.Server, Tool: j.MCP.Name}
	}
	d.Guardrails = guardrails(j.Guardrails)
	return d
}

// guardrails reads guardrail_information: a list in current releases, one
// object in older ones.
func guardrails(raw json.RawMessage) []GuardrailRun {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var list []guardrailJSON
	if json.Unmarshal(raw, &list) != nil {
		var one guardrailJSON
		if json.Unmarshal(raw, &one) != nil {
			return nil
		}
		list = []guardrailJSON{one}
	}
	var out []GuardrailRun
	for _, g := range list {
		if g.Name == "" {
			continue
		}
		run := GuardrailRun{Name: g.Name, Status: g.Status, Mode: hookType(g.Mode)}
		if s, ok := finite(g.Duration); ok && s >= 0 {
			run.Duration = &s
		}
		out = append(out, run)
	}
	return out
}

// hookType is guardrail_mode when it is one event hook ("pre_call"); a list
// or a tag map gives "".
func hookType(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

func count(n json.Number) int64 {
	v, ok := finite(n)
	if !ok || v <= 0 || v > math.MaxInt32*1024.0 {
		return 0
	}
	return int64(v)
}

func finite(n json.Number) (float64, bool) {
	if n == "" {
		return 0, false
	}
	v, err := n.Float64()
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}
