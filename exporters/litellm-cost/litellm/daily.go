package litellm

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Usage is the sum of daily-table counters. Spend is in nano-USD: each
// (day, series) sum is rounded once to an integer, so totals built from days
// are exact, independent of how days are grouped, and never decrease while
// the proxy only adds to its rows.
type Usage struct {
	SpendNano                                   int64
	Prompt, Completion, CacheRead, CacheCreated int64
	Requests, Successful, Failed                int64
}

// Add adds o to u.
func (u *Usage) Add(o Usage) {
	u.SpendNano += o.SpendNano
	u.Prompt += o.Prompt
	u.Completion += o.Completion
	u.CacheRead += o.CacheRead
	u.CacheCreated += o.CacheCreated
	u.Requests += o.Requests
	u.Successful += o.Successful
	u.Failed += o.Failed
}

// Max raises every field of u to at least o's.
func (u *Usage) Max(o Usage) {
	m := func(a *int64, b int64) {
		if b > *a {
			*a = b
		}
	}
	m(&u.SpendNano, o.SpendNano)
	m(&u.Prompt, o.Prompt)
	m(&u.Completion, o.Completion)
	m(&u.CacheRead, o.CacheRead)
	m(&u.CacheCreated, o.CacheCreated)
	m(&u.Requests, o.Requests)
	m(&u.Successful, o.Successful)
	m(&u.Failed, o.Failed)
}

// DailySource is a daily aggregate table and the columns a series is keyed by.
type DailySource struct {
	Table string
	Keys  []string
}

// Sources the exporter reads: every request lands in the user table (keyed
// by key, model, model group and provider); tags have their own table.
var (
	DailyUsage = DailySource{Table: TableDailyUserSpend, Keys: []string{"api_key", "model", "model_group", "custom_llm_provider"}}
	DailyTags  = DailySource{Table: TableDailyTagSpend, Keys: []string{"tag"}}
)

// SeriesKey joins a series' key column values.
type SeriesKey string

// Parts splits a SeriesKey into its column values.
func (k SeriesKey) Parts() []string { return strings.Split(string(k), "\x00") }

// DayUsage is one series' usage on one day.
type DayUsage struct {
	Day   string // YYYY-MM-DD
	Key   SeriesKey
	Usage Usage
}

// dateCast is how to compare "date" with a 'YYYY-MM-DD' parameter: older
// releases store text, newer ones a DATE.
func (s *Schema) dateCast(table string) (param, text string) {
	switch s.Type(table, "date") {
	case "text", "character varying":
		return "$%d::text", `"date"::text`
	default:
		return "$%d::date", `to_char("date"::date, 'YYYY-MM-DD')`
	}
}

func (s *Schema) perDaySQL(src DailySource, from, to bool) (string, int) {
	t := src.Table
	param, dayText := s.dateCast(t)
	var keys, groups []string
	for i, k := range src.Keys {
		keys = append(keys, "COALESCE("+s.col(t, "d", k, "NULL")+"::text, '')")
		groups = append(groups, fmt.Sprint(i+2))
	}
	sum := func(c string) string {
		if !s.Has(t, c) {
			return "0::int8"
		}
		return "COALESCE(sum(d." + Ident(c) + "), 0)::int8"
	}
	spend := "0::int8"
	if s.Has(t, "spend") {
		spend = `COALESCE(round(sum(d."spend"::numeric) * 1000000000), 0)::int8`
	}
	var where []string
	n := 0
	if from {
		n++
		where = append(where, `d."date" >= `+fmt.Sprintf(param, n))
	}
	if to {
		n++
		where = append(where, `d."date" < `+fmt.Sprintf(param, n))
	}
	w := ""
	if len(where) > 0 {
		w = " WHERE " + strings.Join(where, " AND ")
	}
	dayExpr := strings.Replace(dayText, `"date"`, `d."date"`, 1)
	return fmt.Sprintf(`SELECT %s AS day, %s, %s AS spend_nano, %s, %s, %s, %s, %s, %s, %s
FROM %s d%s GROUP BY 1, %s`, dayExpr, strings.Join(keys, ", "), spend,
		sum("prompt_tokens"), sum("completion_tokens"), sum("cache_read_input_tokens"),
		sum("cache_creation_input_tokens"), sum("api_requests"), sum("successful_requests"), sum("failed_requests"),
		Ident(t), w, strings.Join(groups, ", ")), n
}

// ReadDays returns usage per (day, series) for days in [from, to); an empty
// bound is open.
func ReadDays(ctx context.Context, q Querier, s *Schema, src DailySource, from, to string) ([]DayUsage, error) {
	if !s.HasTable(src.Table) || !s.Has(src.Table, "date") {
		return nil, nil
	}
	sql, _ := s.perDaySQL(src, from != "", to != "")
	var args []any
	if from != "" {
		args = append(args, from)
	}
	if to != "" {
		args = append(args, to)
	}
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", src.Table, err)
	}
	var out []DayUsage
	var d DayUsage
	keys := make([]string, len(src.Keys))
	dest := []any{&d.Day}
	for i := range keys {
		dest = append(dest, &keys[i])
	}
	u := &d.Usage
	dest = append(dest, &u.SpendNano, &u.Prompt, &u.Completion, &u.CacheRead, &u.CacheCreated,
		&u.Requests, &u.Successful, &u.Failed)
	_, err = pgx.ForEachRow(rows, dest, func() error {
		d.Key = SeriesKey(strings.Join(keys, "\x00"))
		out = append(out, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", src.Table, err)
	}
	return out, nil
}

// ReadTotalsBefore returns usage per series summed over all days before
// `before`, each day rounded as in ReadDays, so it adds up exactly with them.
func ReadTotalsBefore(ctx context.Context, q Querier, s *Schema, src DailySource, before string) (map[SeriesKey]Usage, error) {
	out := map[SeriesKey]Usage{}
	if !s.HasTable(src.Table) || !s.Has(src.Table, "date") {
		return out, nil
	}
	inner, _ := s.perDaySQL(src, false, true)
	var keys []string
	for i := range src.Keys {
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	// Rename the key columns of the per-day query so the outer query can group by them.
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT %s, sum(spend_nano)::int8, sum(p)::int8, sum(c)::int8, sum(cr)::int8, sum(cc)::int8, sum(r)::int8, sum(ok)::int8, sum(f)::int8 FROM (%s) s (day, %s, spend_nano, p, c, cr, cc, r, ok, f) GROUP BY %s",
		strings.Join(keys, ", "), inner, strings.Join(keys, ", "), strings.Join(keys, ", "))
	rows, err := q.Query(ctx, b.String(), before)
	if err != nil {
		return nil, fmt.Errorf("reading %s totals: %w", src.Table, err)
	}
	vals := make([]string, len(src.Keys))
	var u Usage
	var dest []any
	for i := range vals {
		dest = append(dest, &vals[i])
	}
	dest = append(dest, &u.SpendNano, &u.Prompt, &u.Completion, &u.CacheRead, &u.CacheCreated,
		&u.Requests, &u.Successful, &u.Failed)
	_, err = pgx.ForEachRow(rows, dest, func() error {
		out[SeriesKey(strings.Join(vals, "\x00"))] = u
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s totals: %w", src.Table, err)
	}
	return out, nil
}
