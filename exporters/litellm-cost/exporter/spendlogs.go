package exporter

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/outrigger/outrigger/exporters/litellm-cost/litellm"
	"github.com/outrigger/outrigger/internal/promkit"
)

// spendState reads "LiteLLM_SpendLogs" so that every row is counted exactly
// once, however long its request ran: the proxy inserts a row when the
// request ends (within the lag of its "endTime"), stamped with the
// "startTime" it began at. Each refresh reads the rows that ended since the
// previous read minus the lag, among those begun within the lookback, and
// skips the request ids it has already counted. An id is remembered until
// its "endTime" falls behind the re-read window, so memory follows the rows
// that ended in the last lag plus one refresh (at most max-window).
type spendState struct {
	maxSeries int
	readTo    time.Time            // rows ended up to here have been read
	seen      map[string]time.Time // request_id -> "endTime", while it can be read again
	requests  map[requestKey]int64
	latency   map[string]*histAcc
	admitted  map[string]bool
	compat    []*compatFamily
	longTo    time.Time    // the last scan of the whole lookback reached here
	lastRead  [3]time.Time // the last read's bounds, for the benchmark
	lastLong  [3]time.Time // the last whole-lookback scan's bounds
}

type requestKey struct {
	modelGroup string
	cacheHit   bool
	status     string
}

// histAcc is one histogram series: per-bucket counts (not cumulative; the
// last is the overflow), count and sum.
type histAcc struct {
	count   uint64
	sum     float64
	buckets []uint64
}

func newHist(bounds []float64) *histAcc { return &histAcc{buckets: make([]uint64, len(bounds)+1)} }

func (h *histAcc) observe(bounds []float64, v float64) {
	h.count++
	h.sum += v
	h.buckets[sort.SearchFloat64s(bounds, v)]++
}

func (h *histAcc) cumulative(bounds []float64) map[float64]uint64 {
	out := make(map[float64]uint64, len(bounds))
	var c uint64
	for i, b := range bounds {
		c += h.buckets[i]
		out[b] = c
	}
	return out
}

// spendView is the spend-log detail served to scrapes.
type spendView struct {
	readTo   time.Time
	requests []requestCount
	latency  []latencySeries
	compat   []compatSeries
}

type requestCount struct {
	key   requestKey
	count int64
}

type latencySeries struct {
	modelGroup string
	count      uint64
	sum        float64
	cumulative map[float64]uint64
}

func newSpendState(maxSeries int) *spendState {
	return &spendState{maxSeries: maxSeries, seen: map[string]time.Time{}, requests: map[requestKey]int64{},
		latency: map[string]*histAcc{}, admitted: map[string]bool{}, compat: newCompatFamilies(maxSeries)}
}

// spendWindow is the read each refresh makes.
type spendWindow struct {
	// lag: longest delay between a row's "endTime" and its landing.
	// lookback: longest request counted. longEvery: how often the whole
	// lookback is scanned; between those scans a refresh looks only at the
	// requests begun within the lag before its window.
	lag, lookback, longEvery, maxWindow time.Duration
}

// refresh reads the rows that landed since the last refresh and returns the
// view and how many rows the reads returned.
//
// Two readers share one set of counted ids. Each refresh reads the rows that
// ended since its last read minus the lag, among the requests begun up to a
// lag before that: the cheap path, which finds every request shorter than
// about the lag at the next refresh. Every longEvery the same read is made
// over the whole lookback from where the last such scan ended: it alone would
// count every row (the cheap path only counts them sooner), and it is the
// one read whose cost follows the lookback rather than the new rows.
func (s *spendState) refresh(ctx context.Context, q litellm.Querier, schema *litellm.Schema, now time.Time, w spendWindow) (*spendView, int64, error) {
	hi := now.UTC().Truncate(time.Millisecond)
	if s.readTo.IsZero() {
		// Counting starts now (history is what the daily tables are for):
		// the rows a later read could see again are remembered, not counted.
		s.readTo, s.longTo = hi, hi
		n, err := s.read(ctx, q, schema, hi, w.lookback, w.lag, hi, false)
		if err != nil {
			s.readTo, s.longTo = time.Time{}, time.Time{}
			return nil, n, err
		}
		return s.view(), n, nil
	}
	var total int64
	if hi.Sub(s.longTo) >= w.longEvery {
		upTo := minTime(hi, s.longTo.Add(w.maxWindow))
		n, err := s.read(ctx, q, schema, s.longTo, w.lookback, w.lag, upTo, true)
		total += n
		if err != nil {
			return nil, total, err
		}
		s.lastLong = s.lastRead
		s.longTo = upTo
	}
	if upTo := minTime(hi, s.readTo.Add(w.maxWindow)); upTo.After(s.readTo) {
		n, err := s.read(ctx, q, schema, s.readTo, w.lag, w.lag, upTo, true)
		total += n
		if err != nil {
			return nil, total, err
		}
		s.readTo = upTo
	}
	// Only rows that ended after this can come back in a later read.
	floor := minTime(s.readTo, s.longTo).Add(-w.lag)
	for id, end := range s.seen {
		if !end.After(floor) {
			delete(s.seen, id)
		}
	}
	return s.view(), total, nil
}

// read reads the rows that ended in (from - lag, upTo] among the requests
// begun in (from - lag - lookback, upTo], and counts those not yet counted.
func (s *spendState) read(ctx context.Context, q litellm.Querier, schema *litellm.Schema, from time.Time, lookback, lag time.Duration, upTo time.Time, count bool) (int64, error) {
	endAfter := from.Add(-lag)
	startAfter := endAfter.Add(-lookback)
	s.lastRead = [3]time.Time{startAfter, endAfter, upTo}
	var fresh []litellm.SpendLogRow
	n, err := litellm.ReadSpendLogs(ctx, q, schema, startAfter, endAfter, upTo, func(r litellm.SpendLogRow) {
		if _, ok := s.seen[r.RequestID]; !ok {
			fresh = append(fresh, r)
		}
	})
	if err != nil {
		return n, err
	}
	if count {
		if err := labelRows(ctx, q, schema, fresh); err != nil {
			return n, err
		}
	}
	for _, r := range fresh {
		if _, ok := s.seen[r.RequestID]; ok {
			continue
		}
		s.seen[r.RequestID] = r.End
		if count {
			s.count(r)
		}
	}
	return n, nil
}

// labelRows fills in key and team aliases, one lookup per distinct key and
// team (deleted keys keep theirs) instead of a join per row.
func labelRows(ctx context.Context, q litellm.Querier, schema *litellm.Schema, rows []litellm.SpendLogRow) error {
	tokenSet, teamSet := map[string]bool{}, map[string]bool{}
	for _, r := range rows {
		if r.Token != "" {
			tokenSet[r.Token] = true
		}
		if r.Team != "" {
			teamSet[r.Team] = true
		}
	}
	keys, err := litellm.ReadKeys(ctx, q, schema, slices.Collect(maps.Keys(tokenSet)))
	if err != nil {
		return err
	}
	teams, err := litellm.ReadTeamAliases(ctx, q, schema, slices.Collect(maps.Keys(teamSet)))
	if err != nil {
		return err
	}
	for i := range rows {
		rows[i].KeyAlias = keys[rows[i].Token].Alias
		rows[i].TeamAlias = teams[rows[i].Team]
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (s *spendState) count(r litellm.SpendLogRow) {
	mg := r.ModelGroup
	if !s.admitted[mg] {
		if len(s.admitted) < s.maxSeries {
			s.admitted[mg] = true
		} else {
			mg = promkit.Other
		}
	}
	status := r.Status
	if status == "" {
		status = "unknown"
	}
	s.requests[requestKey{mg, r.CacheHit == "true", status}]++
	acc := s.latency[mg]
	if acc == nil {
		acc = newHist(litellm.LatencyBuckets)
		s.latency[mg] = acc
	}
	acc.observe(litellm.LatencyBuckets, r.Duration)
	for _, f := range s.compat {
		f.add(r)
	}
}

func (s *spendState) view() *spendView {
	v := &spendView{readTo: s.readTo}
	for k, n := range s.requests {
		v.requests = append(v.requests, requestCount{k, n})
	}
	sort.Slice(v.requests, func(i, j int) bool {
		a, b := v.requests[i].key, v.requests[j].key
		if a.modelGroup != b.modelGroup {
			return a.modelGroup < b.modelGroup
		}
		if a.cacheHit != b.cacheHit {
			return !a.cacheHit
		}
		return a.status < b.status
	})
	for mg, acc := range s.latency {
		v.latency = append(v.latency, latencySeries{modelGroup: mg, count: acc.count, sum: acc.sum,
			cumulative: acc.cumulative(litellm.LatencyBuckets)})
	}
	sort.Slice(v.latency, func(i, j int) bool { return v.latency[i].modelGroup < v.latency[j].modelGroup })
	for _, f := range s.compat {
		v.compat = append(v.compat, f.view()...)
	}
	return v
}

// label reads one LiteLLM label (litellm/types/integrations/prometheus.py)
// from a spend-log row.
func label(r litellm.SpendLogRow, name string) string {
	switch name {
	case "end_user":
		return r.EndUser
	case "user":
		return r.User
	case "hashed_api_key":
		if r.Token == "" {
			return ""
		}
		return KeyID(r.Token)
	case "api_key_alias":
		return r.KeyAlias
	case "team":
		return r.Team
	case "team_alias":
		return r.TeamAlias
	case "requested_model", "model_group":
		return r.ModelGroup
	case "model", "litellm_model_name":
		return r.Model
	case "model_id":
		return r.ModelID
	case "api_base":
		return r.APIBase
	case "api_provider":
		return r.Provider
	case "status_code":
		if r.Status != "failure" {
			return "200"
		}
		return httpCode(r.ErrorCode)
	case "exception_status":
		return httpCode(r.ErrorCode)
	case "exception_class":
		return r.ErrorClass
	case "mcp_tool_name":
		if r.Detail.MCP != nil {
			return r.Detail.MCP.Tool
		}
	case "mcp_server_name":
		if r.Detail.MCP != nil {
			return r.Detail.MCP.Server
		}
	}
	return ""
}

// httpCode keeps a three-digit status and drops anything else (the proxy
// writes whatever the provider's exception carried).
func httpCode(s string) string {
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n >= 100 && n <= 599 {
		return strconv.Itoa(n)
	}
	return ""
}
