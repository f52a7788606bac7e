package litellm

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// LatencyBuckets are the upper bounds, in seconds, of the request latency
// histogram read from the spend logs.
var LatencyBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// SpendLogGroup is the spend-log detail of one (model group, cache hit,
// status) within a time window.
type SpendLogGroup struct {
	ModelGroup string
	CacheHit   bool
	Status     string
	Count      int64
	// DurationSum is the sum of "endTime" - "startTime" in seconds.
	DurationSum float64
	// Buckets[i] counts requests with latency in bucket i (non-cumulative;
	// index len(LatencyBuckets) is the overflow).
	Buckets []int64
}

// SpendLogsSQL is the incremental read: rows with "startTime" in ($1, $2],
// an index range scan on "startTime", grouped in the database so only a
// handful of rows come back however busy the window was.
func (s *Schema) SpendLogsSQL() string {
	t := TableSpendLogs
	status := "'unknown'"
	if s.Has(t, "status") {
		status = `COALESCE(NULLIF(l."status", ''), 'unknown')`
	}
	return fmt.Sprintf(`SELECT COALESCE(%s::text, ''), lower(COALESCE(%s::text, '')) = 'true', %s,
  width_bucket(EXTRACT(EPOCH FROM (l."endTime" - l."startTime"))::float8, $3::float8[]),
  count(*), COALESCE(sum(EXTRACT(EPOCH FROM (l."endTime" - l."startTime"))), 0)::float8
FROM "LiteLLM_SpendLogs" l
WHERE l."startTime" > $1 AND l."startTime" <= $2
GROUP BY 1, 2, 3, 4`, s.col(t, "l", "model_group", "NULL"), s.col(t, "l", "cache_hit", "NULL"), status)
}

// CanReadSpendLogs reports whether the spend-log table has what the read needs.
func (s *Schema) CanReadSpendLogs() bool {
	return s.Has(TableSpendLogs, "startTime") && s.Has(TableSpendLogs, "endTime")
}

// ReadSpendLogs aggregates the spend-log rows with "startTime" in (after, upTo].
// Times are UTC, as the proxy writes them.
func ReadSpendLogs(ctx context.Context, q Querier, s *Schema, after, upTo time.Time) ([]SpendLogGroup, error) {
	rows, err := q.Query(ctx, s.SpendLogsSQL(), naive(after), naive(upTo), LatencyBuckets)
	if err != nil {
		return nil, fmt.Errorf("reading spend logs: %w", err)
	}
	byKey := map[[3]string]*SpendLogGroup{}
	var out []SpendLogGroup
	var g SpendLogGroup
	var bucket int32
	var count int64
	var sum float64
	_, err = pgx.ForEachRow(rows, []any{&g.ModelGroup, &g.CacheHit, &g.Status, &bucket, &count, &sum}, func() error {
		k := [3]string{g.ModelGroup, fmt.Sprint(g.CacheHit), g.Status}
		e := byKey[k]
		if e == nil {
			e = &SpendLogGroup{ModelGroup: g.ModelGroup, CacheHit: g.CacheHit, Status: g.Status,
				Buckets: make([]int64, len(LatencyBuckets)+1)}
			byKey[k] = e
		}
		e.Count += count
		e.DurationSum += sum
		// width_bucket gives 0 below the first bound, i for [b[i-1], b[i]),
		// and len(b) at or above the last: the index of the first bound the
		// latency stays under, the overflow last.
		idx := min(max(int(bucket), 0), len(LatencyBuckets))
		e.Buckets[idx] += count
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading spend logs: %w", err)
	}
	for _, e := range byKey {
		out = append(out, *e)
	}
	return out, nil
}

// naive drops the zone: "startTime" is TIMESTAMP(3) without time zone, in UTC.
func naive(t time.Time) time.Time {
	u := t.UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), u.Hour(), u.Minute(), u.Second(), u.Nanosecond(), time.UTC)
}
