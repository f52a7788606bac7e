package exporter

import (
	"context"
	"sort"
	"time"

	"github.com/outrigger/outrigger/exporters/litellm-cost/litellm"
	"github.com/outrigger/outrigger/internal/promkit"
)

// recentDays is how many days back the daily rows are re-read on every
// refresh: the proxy keeps adding to a day's rows while late batches of that
// day arrive. Older days are read once and summed in memory.
const recentDays = 3

// otherKey collects the series beyond the series limit.
const otherKey litellm.SeriesKey = "\x01other"

// dailyState turns a daily aggregate table into lifetime totals without
// re-reading the whole table on every refresh: days before the cutoff are
// summed once (at start, and as the cutoff moves on), days from the cutoff on
// are re-read each time. Totals are sums of day rows, so they come out the
// same after a restart; within a process they also never go below what was
// served before.
type dailyState struct {
	maxSeries int

	ready      bool
	cutoff     string
	closed     map[litellm.SeriesKey]litellm.Usage
	closedDays map[string]map[litellm.SeriesKey]litellm.Usage
	served     map[litellm.SeriesKey]litellm.Usage
	admitted   map[litellm.SeriesKey]bool
}

func newDailyState(maxSeries int) *dailyState {
	return &dailyState{maxSeries: maxSeries}
}

// daySource is where day rows come from: the proxy's daily table (dbDays)
// or its daily-activity API (apiDays).
type daySource interface {
	// totalsBefore sums every series over the days before `before`.
	totalsBefore(ctx context.Context, before string) (map[litellm.SeriesKey]litellm.Usage, error)
	// days returns usage per (day, series) for days in [from, to); "" is open.
	days(ctx context.Context, from, to string) ([]litellm.DayUsage, error)
	// has says which counters the source records.
	has() (requests, cache bool)
}

// dbDays reads a daily aggregate table.
type dbDays struct {
	q      litellm.Querier
	schema *litellm.Schema
	src    litellm.DailySource
}

func (d dbDays) totalsBefore(ctx context.Context, before string) (map[litellm.SeriesKey]litellm.Usage, error) {
	return litellm.ReadTotalsBefore(ctx, d.q, d.schema, d.src, before)
}

func (d dbDays) days(ctx context.Context, from, to string) ([]litellm.DayUsage, error) {
	return litellm.ReadDays(ctx, d.q, d.schema, d.src, from, to)
}

func (d dbDays) has() (requests, cache bool) {
	return d.schema.Has(d.src.Table, "api_requests"), d.schema.Has(d.src.Table, "cache_read_input_tokens")
}

// usageView is one refresh's daily usage, ready for scrapes.
type usageView struct {
	series []usageSeries
	// What the table's release records: families it lacks are left out
	// rather than shown as zeros.
	hasRequests, hasCache bool
}

type usageSeries struct {
	key    litellm.SeriesKey
	parts  []string
	labels seriesLabels
	total  litellm.Usage
	// days holds the recent days and the closed days of the current month.
	days map[string]litellm.Usage
}

type seriesLabels struct {
	KeyID, KeyAlias, Team, TeamAlias, Model, ModelGroup, Provider, Tag string
}

func day(t time.Time) string { return t.Format("2006-01-02") }

func (d *dailyState) refresh(ctx context.Context, src daySource, loc *time.Location, now time.Time) (*usageView, error) {
	local := now.In(loc)
	cutoff := day(local.AddDate(0, 0, -recentDays))
	monthStart := day(time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, loc))
	if !d.ready {
		closed, err := src.totalsBefore(ctx, cutoff)
		if err != nil {
			return nil, err
		}
		days := map[string]map[litellm.SeriesKey]litellm.Usage{}
		if monthStart < cutoff {
			rows, err := src.days(ctx, monthStart, cutoff)
			if err != nil {
				return nil, err
			}
			addDays(days, rows)
		}
		d.closed, d.closedDays, d.cutoff, d.ready = closed, days, cutoff, true
		d.served, d.admitted = map[litellm.SeriesKey]litellm.Usage{}, map[litellm.SeriesKey]bool{}
	} else if cutoff > d.cutoff {
		// Days between the old and the new cutoff are now closed.
		rows, err := src.days(ctx, d.cutoff, cutoff)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			u := d.closed[r.Key]
			u.Add(r.Usage)
			d.closed[r.Key] = u
		}
		addDays(d.closedDays, rows)
		d.cutoff = cutoff
	}
	for dd := range d.closedDays {
		if dd < monthStart && dd < d.cutoff {
			delete(d.closedDays, dd)
		}
	}
	rows, err := src.days(ctx, d.cutoff, "")
	if err != nil {
		return nil, err
	}
	recent := map[string]map[litellm.SeriesKey]litellm.Usage{}
	addDays(recent, rows)
	v := d.view(recent)
	v.hasRequests, v.hasCache = src.has()
	return v, nil
}

func addDays(into map[string]map[litellm.SeriesKey]litellm.Usage, rows []litellm.DayUsage) {
	for _, r := range rows {
		m := into[r.Day]
		if m == nil {
			m = map[litellm.SeriesKey]litellm.Usage{}
			into[r.Day] = m
		}
		u := m[r.Key]
		u.Add(r.Usage)
		m[r.Key] = u
	}
}

// view sums closed and recent days per series, folds the series beyond the
// limit into "other", and never lets a total fall below what was served.
func (d *dailyState) view(recent map[string]map[litellm.SeriesKey]litellm.Usage) *usageView {
	totals := map[litellm.SeriesKey]litellm.Usage{}
	for k, u := range d.closed {
		totals[k] = u
	}
	for _, m := range recent {
		for k, u := range m {
			t := totals[k]
			t.Add(u)
			totals[k] = t
		}
	}
	d.admit(totals)
	fold := func(k litellm.SeriesKey) litellm.SeriesKey {
		if d.admitted[k] {
			return k
		}
		return otherKey
	}
	byKey := map[litellm.SeriesKey]*usageSeries{}
	get := func(k litellm.SeriesKey) *usageSeries {
		s := byKey[k]
		if s == nil {
			s = &usageSeries{key: k, days: map[string]litellm.Usage{}}
			if k != otherKey {
				s.parts = k.Parts()
			}
			byKey[k] = s
		}
		return s
	}
	for k, u := range totals {
		s := get(fold(k))
		s.total.Add(u)
	}
	for _, days := range []map[string]map[litellm.SeriesKey]litellm.Usage{d.closedDays, recent} {
		for dd, m := range days {
			for k, u := range m {
				s := get(fold(k))
				v := s.days[dd]
				v.Add(u)
				s.days[dd] = v
			}
		}
	}
	v := &usageView{}
	for k, s := range byKey {
		s.total.Max(d.served[k])
		d.served[k] = s.total
		v.series = append(v.series, *s)
	}
	sort.Slice(v.series, func(i, j int) bool { return v.series[i].key < v.series[j].key })
	return v
}

// admit gives series their own labels up to the limit, biggest spenders
// first; a series once admitted keeps its labels for the life of the process
// (so neither it nor "other" ever goes backwards).
func (d *dailyState) admit(totals map[litellm.SeriesKey]litellm.Usage) {
	if len(d.admitted) >= d.maxSeries {
		return
	}
	var fresh []litellm.SeriesKey
	for k := range totals {
		if !d.admitted[k] {
			fresh = append(fresh, k)
		}
	}
	keep, _ := promkit.TopN(fresh, d.maxSeries-len(d.admitted), promkit.ByValue(
		func(k litellm.SeriesKey) float64 { return float64(totals[k].SpendNano) },
		func(k litellm.SeriesKey) string { return string(k) }))
	for _, k := range keep {
		d.admitted[k] = true
	}
}

// otherLabels label the series that holds what --max-series left out.
var otherLabels = seriesLabels{KeyID: promkit.Other, KeyAlias: promkit.Other, Team: promkit.Other, TeamAlias: promkit.Other,
	Model: promkit.Other, ModelGroup: promkit.Other, Provider: promkit.Other}

// resolveUsage labels usage series with key aliases, key ids and teams.
func (e *Exporter) resolveUsage(ctx context.Context, v *usageView) (*usageView, error) {
	var tokens []string
	for _, s := range v.series {
		if len(s.parts) == 4 && s.parts[0] != "" {
			tokens = append(tokens, s.parts[0])
		}
	}
	keys, err := litellm.ReadKeys(ctx, e.conn, e.schema, tokens)
	if err != nil {
		return nil, err
	}
	teamSet := map[string]bool{}
	for _, k := range keys {
		if k.TeamID != "" {
			teamSet[k.TeamID] = true
		}
	}
	var teamIDs []string
	for t := range teamSet {
		teamIDs = append(teamIDs, t)
	}
	teams, err := litellm.ReadTeamAliases(ctx, e.conn, e.schema, teamIDs)
	if err != nil {
		return nil, err
	}
	for i := range v.series {
		s := &v.series[i]
		if s.key == otherKey {
			s.labels = otherLabels
			continue
		}
		k := keys[s.parts[0]]
		s.labels = seriesLabels{KeyAlias: k.Alias, Team: k.TeamID, TeamAlias: teams[k.TeamID],
			Model: s.parts[1], ModelGroup: s.parts[2], Provider: s.parts[3]}
		if s.parts[0] != "" {
			s.labels.KeyID = KeyID(s.parts[0])
		}
	}
	return v, nil
}

// proxyDays is the zone of the daily tables' "date": LiteLLM's writer takes
// the date part of the request's UTC "startTime", so "today" and "this
// month" are UTC days whatever zone the proxy or the exporter runs in.
var proxyDays = time.UTC
