package exporter

import (
	"context"
	"sort"
	"time"

	"github.com/outrigger/outrigger/exporters/litellm-cost/litellm"
)

// spendState reads "LiteLLM_SpendLogs" incrementally: each refresh reads the
// rows whose "startTime" lies between the watermark and now minus the lag
// (time for the proxy's batched inserts to land), then moves the watermark.
// Work per refresh follows the new rows, never the size of the table.
type spendState struct {
	maxSeries int
	watermark time.Time
	requests  map[requestKey]int64
	latency   map[string]*latencyAcc
	admitted  map[string]bool
}

type requestKey struct {
	modelGroup string
	cacheHit   bool
	status     string
}

type latencyAcc struct {
	count   uint64
	sum     float64
	buckets []uint64 // per bucket, not cumulative; last is the overflow
}

// spendView is the spend-log detail served to scrapes.
type spendView struct {
	watermark time.Time
	requests  []requestCount
	latency   []latencySeries
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
	return &spendState{maxSeries: maxSeries, requests: map[requestKey]int64{},
		latency: map[string]*latencyAcc{}, admitted: map[string]bool{}}
}

// refresh reads the next window and returns the view and how many spend-log
// rows it covered.
func (s *spendState) refresh(ctx context.Context, q litellm.Querier, schema *litellm.Schema, now time.Time, lag, maxWindow time.Duration) (*spendView, int64, error) {
	hi := now.Add(-lag).UTC().Truncate(time.Millisecond)
	if s.watermark.IsZero() {
		// Counting starts now: history is what the daily tables are for.
		s.watermark = hi
		return s.view(), 0, nil
	}
	if hi.Sub(s.watermark) > maxWindow {
		hi = s.watermark.Add(maxWindow)
	}
	if !hi.After(s.watermark) {
		return s.view(), 0, nil
	}
	groups, err := litellm.ReadSpendLogs(ctx, q, schema, s.watermark, hi)
	if err != nil {
		return nil, 0, err
	}
	var rows int64
	for _, g := range groups {
		rows += g.Count
		mg := g.ModelGroup
		if !s.admitted[mg] {
			if len(s.admitted) < s.maxSeries {
				s.admitted[mg] = true
			} else {
				mg = "other"
			}
		}
		s.requests[requestKey{mg, g.CacheHit, g.Status}] += g.Count
		acc := s.latency[mg]
		if acc == nil {
			acc = &latencyAcc{buckets: make([]uint64, len(litellm.LatencyBuckets)+1)}
			s.latency[mg] = acc
		}
		acc.count += uint64(g.Count)
		acc.sum += g.DurationSum
		for i, n := range g.Buckets {
			acc.buckets[i] += uint64(n)
		}
	}
	s.watermark = hi
	return s.view(), rows, nil
}

func (s *spendState) view() *spendView {
	v := &spendView{watermark: s.watermark}
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
		ls := latencySeries{modelGroup: mg, count: acc.count, sum: acc.sum, cumulative: map[float64]uint64{}}
		var c uint64
		for i, b := range litellm.LatencyBuckets {
			c += acc.buckets[i]
			ls.cumulative[b] = c
		}
		v.latency = append(v.latency, ls)
	}
	sort.Slice(v.latency, func(i, j int) bool { return v.latency[i].modelGroup < v.latency[j].modelGroup })
	return v
}
