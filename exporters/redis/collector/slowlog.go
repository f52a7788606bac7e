package collector

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

var (
	slowlogLenFamily  = promkit.Gauge("redis_slowlog_length", "Total slowlog")
	slowlogLastFamily = promkit.Gauge("redis_slowlog_last_id", "Last id of slowlog")
	slowLastDurFamily = promkit.Gauge("redis_last_slow_execution_duration_seconds", "The amount of time needed for last slow execution, in seconds")
	slowestFamily     = promkit.Gauge("redis_slowlog_slowest_duration_seconds", "Durations of the slowest entries among the most recent slowlog entries, by rank (1 = slowest).", "rank")
)

// slowlogWindow is how many recent slowlog entries are read to find the
// slowest ones.
const slowlogWindow = 32

// collectSlowlog reports the slowlog's length, its newest entry, and the
// durations of the slowest recent entries. Command text never becomes a label.
func (s *scrape) collectSlowlog(ctx context.Context, ch chan<- prometheus.Metric) error {
	if !s.up {
		return errDown
	}
	if !s.t.conn.Enabled(FeatSlowlog) {
		return promkit.ErrSkipped
	}
	var length int64
	var entries []redis.SlowLog
	err := s.do(ctx, func(ctx context.Context, cl *redis.Client) error {
		var lenCmd *redis.IntCmd
		var getCmd *redis.SlowLogCmd
		_, err := cl.Pipelined(ctx, func(p redis.Pipeliner) error {
			lenCmd = p.SlowLogLen(ctx)
			getCmd = p.SlowLogGet(ctx, slowlogWindow)
			return nil
		})
		if err != nil {
			return err
		}
		length, entries = lenCmd.Val(), getCmd.Val()
		return nil
	})
	if s.t.conn.Refused(FeatSlowlog, err) {
		return promkit.ErrSkipped
	}
	if err != nil {
		return fmt.Errorf("reading SLOWLOG: %w", err)
	}
	slowlogLenFamily.Send(ch, float64(length))
	var lastID int64
	var lastDur time.Duration
	for _, e := range entries {
		if e.ID >= lastID {
			lastID, lastDur = e.ID, e.Duration
		}
	}
	slowlogLastFamily.Send(ch, float64(lastID))
	slowLastDurFamily.Send(ch, lastDur.Seconds())
	sort.Slice(entries, func(i, j int) bool { return entries[i].Duration > entries[j].Duration })
	for i := 0; i < len(entries) && i < s.t.opts.SlowlogTop; i++ {
		slowestFamily.Send(ch, entries[i].Duration.Seconds(), strconv.Itoa(i+1))
	}
	return nil
}
