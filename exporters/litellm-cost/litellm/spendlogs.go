package litellm

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// LatencyBuckets are the upper bounds, in seconds, of our own request
// latency histogram read from the spend logs.
var LatencyBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// SpendLogRow is one request as the proxy logged it in "LiteLLM_SpendLogs".
// Missing columns read as "" or, for the optional durations, as not set.
type SpendLogRow struct {
	RequestID                                     string
	ModelGroup, Model, ModelID, APIBase, Provider string
	Token, KeyAlias, Team, TeamAlias, User        string
	EndUser, Status, CacheHit                     string
	ErrorClass, ErrorCode                         string
	// Duration is "endTime" - "startTime" in seconds (the LLM API call).
	Duration float64
	// Total is request_duration_ms in seconds (the whole proxy request),
	// when the release writes it.
	Total    *float64
	TTFT     *float64 // "completionStartTime" - "startTime", streaming only
	Prompt   int64
	Complete int64
	Spend    float64
	End      time.Time
	// Detail is what the row's metadata says beyond the columns.
	Detail SpendDetail
}

// SpendLogsSQL reads (KeyAlias and TeamAlias left empty: the caller looks
// them up once per key and team, not per row) the rows with "startTime" in ($1, $3] and "endTime" in
// ($2, $3]: an index range scan on "startTime" (the only index that helps),
// filtered on "endTime", so each refresh touches the rows of requests begun
// within the lookback and returns only those that ended recently.
func (s *Schema) SpendLogsSQL() string {
	t := TableSpendLogs
	text := func(col string) string { return fmt.Sprintf("COALESCE(%s::text, '')", s.col(t, "l", col, "NULL")) }
	num := func(col string) string { return fmt.Sprintf("COALESCE(%s, 0)::bigint", s.col(t, "l", col, "NULL")) }
	errField := func(f string) string {
		if !s.Has(t, "metadata") {
			return "''"
		}
		return fmt.Sprintf("COALESCE(l.\"metadata\"->'error_information'->>'%s', '')", f)
	}
	total, ttft := "NULL::float8", "NULL::float8"
	if s.Has(t, "request_duration_ms") {
		total = `(l."request_duration_ms" / 1000.0)::float8`
	}
	if s.Has(t, "completionStartTime") {
		// The proxy writes "completionStartTime" = "endTime" when nothing
		// was streamed: only an earlier first chunk is a time to first token.
		ttft = `CASE WHEN l."completionStartTime" >= l."startTime" AND l."completionStartTime" < l."endTime"
    THEN EXTRACT(EPOCH FROM (l."completionStartTime" - l."startTime"))::float8 END`
	}
	detail := "''"
	if s.Has(t, "metadata") {
		detail = detailSQL
	}
	return fmt.Sprintf(`SELECT l."request_id", %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
  EXTRACT(EPOCH FROM (l."endTime" - l."startTime"))::float8, %s, %s, %s, %s, COALESCE(%s, 0)::float8, l."endTime", %s
FROM "LiteLLM_SpendLogs" l
WHERE l."startTime" > $1 AND l."startTime" <= $3 AND l."endTime" > $2 AND l."endTime" <= $3`,
		text("model_group"), text("model"), text("model_id"), text("api_base"), text("custom_llm_provider"),
		text("api_key"), "''", text("team_id"), "''", text("user"), text("end_user"), text("status"),
		`lower(`+text("cache_hit")+`)`, errField("error_class"), errField("error_code"),
		total, ttft, num("prompt_tokens"), num("completion_tokens"), s.col(t, "l", "spend", "NULL"), detail)
}

// CanReadSpendLogs reports whether the spend-log table has what the read needs.
func (s *Schema) CanReadSpendLogs() bool {
	return s.Has(TableSpendLogs, "request_id") && s.Has(TableSpendLogs, "startTime") && s.Has(TableSpendLogs, "endTime")
}

// ReadSpendLogs returns the rows with "startTime" in (startAfter, upTo] and
// "endTime" in (endAfter, upTo]. Times are UTC, as the proxy writes them.
func ReadSpendLogs(ctx context.Context, q Querier, s *Schema, startAfter, endAfter, upTo time.Time, each func(SpendLogRow)) (int64, error) {
	rows, err := q.Query(ctx, s.SpendLogsSQL(), naive(startAfter), naive(endAfter), naive(upTo))
	if err != nil {
		return 0, fmt.Errorf("reading spend logs: %w", err)
	}
	var r SpendLogRow
	var detail string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&r.RequestID, &r.ModelGroup, &r.Model, &r.ModelID, &r.APIBase, &r.Provider,
		&r.Token, &r.KeyAlias, &r.Team, &r.TeamAlias, &r.User, &r.EndUser, &r.Status, &r.CacheHit,
		&r.ErrorClass, &r.ErrorCode, &r.Duration, &r.Total, &r.TTFT, &r.Prompt, &r.Complete, &r.Spend, &r.End, &detail}, func() error {
		n++
		row := r
		row.End = row.End.UTC()
		row.Detail = ParseSpendDetail(detail)
		each(row)
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("reading spend logs: %w", err)
	}
	return n, nil
}

// naive drops the zone: "startTime" is TIMESTAMP(3) without time zone, in UTC.
func naive(t time.Time) time.Time {
	u := t.UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), u.Hour(), u.Minute(), u.Second(), u.Nanosecond(), time.UTC)
}
