package exporter

import (
	"strings"
	"testing"
)

// prismaFacts are LiteLLM's own column declarations (schema.prisma of
// BerriAI/litellm, 2026), table by table, for the columns testdata/schema.sql
// carries: Prisma type, "?" when nullable. Prisma maps String to TEXT, Float
// to DOUBLE PRECISION, Int to INTEGER, BigInt to BIGINT, DateTime to
// TIMESTAMP(3), Boolean to BOOLEAN, Json to JSONB and String[] to TEXT[] (a
// list is nullable in the database).
var prismaFacts = map[string]string{
	"LiteLLM_Config":                   "param_name String, param_value Json?",
	"LiteLLM_BudgetTable":              "budget_id String, max_budget Float?, soft_budget Float?, max_parallel_requests Int?, tpm_limit BigInt?, rpm_limit BigInt?, budget_duration String?, budget_reset_at DateTime?, created_at DateTime, created_by String, updated_at DateTime, updated_by String",
	"LiteLLM_OrganizationTable":        "organization_id String, organization_alias String, budget_id String, metadata Json, models String[], spend Float, model_spend Json, created_at DateTime, created_by String, updated_at DateTime, updated_by String",
	"LiteLLM_TeamTable":                "team_id String, team_alias String?, organization_id String?, admins String[], members String[], members_with_roles Json, metadata Json, max_budget Float?, soft_budget Float?, spend Float, models String[], tpm_limit BigInt?, rpm_limit BigInt?, budget_duration String?, budget_reset_at DateTime?, blocked Boolean, created_at DateTime, updated_at DateTime, model_spend Json, model_max_budget Json",
	"LiteLLM_UserTable":                "user_id String, user_alias String?, team_id String?, organization_id String?, teams String[], user_role String?, max_budget Float?, spend Float, user_email String?, models String[], metadata Json, budget_duration String?, budget_reset_at DateTime?, model_spend Json, model_max_budget Json, created_at DateTime?, updated_at DateTime?",
	"LiteLLM_VerificationToken":        "token String, key_name String?, key_alias String?, soft_budget_cooldown Boolean, spend Float, expires DateTime?, models String[], aliases Json, config Json, user_id String?, team_id String?, permissions Json, metadata Json, blocked Boolean?, tpm_limit BigInt?, rpm_limit BigInt?, max_budget Float?, budget_duration String?, budget_reset_at DateTime?, model_spend Json, model_max_budget Json, budget_id String?, organization_id String?, created_at DateTime?, created_by String?, updated_at DateTime?, updated_by String?",
	"LiteLLM_DeletedVerificationToken": "id String, token String, key_name String?, key_alias String?, spend Float, user_id String?, team_id String?, max_budget Float?, budget_id String?, organization_id String?, created_at DateTime?, deleted_at DateTime, deleted_by String?",
	"LiteLLM_EndUserTable":             "user_id String, alias String?, spend Float, allowed_model_region String?, default_model String?, budget_id String?, blocked Boolean",
	"LiteLLM_TagTable":                 "tag_name String, description String?, models String[], spend Float, budget_id String?, created_at DateTime, created_by String?, updated_at DateTime",
	"LiteLLM_TeamMembership":           "user_id String, team_id String, spend Float, total_spend Float, budget_id String?",
	"LiteLLM_SpendLogs":                "request_id String, call_type String, api_key String, spend Float, total_tokens Int, prompt_tokens Int, completion_tokens Int, startTime DateTime, endTime DateTime, request_duration_ms Int?, completionStartTime DateTime?, model String, model_id String?, model_group String?, custom_llm_provider String?, api_base String?, user String?, metadata Json?, cache_hit String?, cache_key String?, request_tags Json?, team_id String?, organization_id String?, end_user String?, requester_ip_address String?, messages Json?, response Json?, session_id String?, status String?, mcp_namespaced_tool_name String?, agent_id String?, proxy_server_request Json?",
	"LiteLLM_DailyUserSpend":           "id String, user_id String?, date String, api_key String, model String?, model_group String?, custom_llm_provider String?, mcp_namespaced_tool_name String?, endpoint String?, prompt_tokens BigInt, completion_tokens BigInt, cache_read_input_tokens BigInt, cache_creation_input_tokens BigInt, spend Float, api_requests BigInt, successful_requests BigInt, failed_requests BigInt, created_at DateTime, updated_at DateTime",
	"LiteLLM_DailyTeamSpend":           "id String, team_id String?, date String, api_key String, model String?, model_group String?, custom_llm_provider String?, mcp_namespaced_tool_name String?, endpoint String?, prompt_tokens BigInt, completion_tokens BigInt, cache_read_input_tokens BigInt, cache_creation_input_tokens BigInt, spend Float, api_requests BigInt, successful_requests BigInt, failed_requests BigInt, created_at DateTime, updated_at DateTime",
	"LiteLLM_DailyTagSpend":            "id String, request_id String?, tag String?, date String, api_key String, model String?, model_group String?, custom_llm_provider String?, mcp_namespaced_tool_name String?, endpoint String?, prompt_tokens BigInt, completion_tokens BigInt, cache_read_input_tokens BigInt, cache_creation_input_tokens BigInt, spend Float, api_requests BigInt, successful_requests BigInt, failed_requests BigInt, created_at DateTime, updated_at DateTime",
}

var prismaToPG = map[string]string{
	"String": "text", "Float": "double precision", "Int": "integer", "BigInt": "bigint",
	"DateTime": "timestamp(3) without time zone", "Boolean": "boolean", "Json": "jsonb", "String[]": "text[]",
}

// TestSchemaFollowsLiteLLM holds the test schema to LiteLLM's column names,
// types and nullability: every column the tests build exists in LiteLLM with
// that type, and every fact is in the test schema.
func TestSchemaFollowsLiteLLM(t *testing.T) {
	p := startProxyDB(t, "../testdata/schema.sql")
	got := map[string]string{}
	for _, line := range strings.Split(p.exec(t, `SELECT c.relname || '.' || a.attname || '|' || format_type(a.atttypid, a.atttypmod) || '|' || (NOT a.attnotnull)::text
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped`), "\n") {
		f := strings.Split(strings.TrimSpace(line), "|")
		if len(f) == 3 {
			got[f[0]] = f[1] + "|" + f[2]
		}
	}
	want := map[string]string{}
	for table, cols := range prismaFacts {
		for _, c := range strings.Split(cols, ", ") {
			name, typ, _ := strings.Cut(c, " ")
			nullable := strings.HasSuffix(typ, "?") || strings.HasSuffix(typ, "[]")
			pg, ok := prismaToPG[strings.TrimSuffix(typ, "?")]
			if !ok {
				t.Fatalf("%s.%s: unknown Prisma type %q", table, name, typ)
			}
			want[table+"."+name] = pg + "|" + map[bool]string{true: "true", false: "false"}[nullable]
		}
	}
	for col, w := range want {
		if got[col] != w {
			t.Errorf("%s: test schema has %q, LiteLLM declares %q (type|nullable)", col, got[col], w)
		}
	}
	for col, g := range got {
		if _, ok := want[col]; !ok {
			t.Errorf("%s (%s): in the test schema but not among LiteLLM's facts", col, g)
		}
	}
}
