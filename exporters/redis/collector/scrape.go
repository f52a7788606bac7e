package collector

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/outrigger/outrigger/exporters/redis/info"
	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// errDown is what collectors after a failed INFO return without sending
// anything: the target did not answer, there is no point asking again.
var errDown = errors.New("skipped: redis did not answer INFO")

// scrape is the state of one collection of one target.
type scrape struct {
	t           *Target
	started     time.Time
	cmdDeadline time.Time

	// Set by collectInfo, read by the collectors after it (the runner runs
	// them in order, one at a time).
	in     *info.Info
	up     bool
	failed bool
}

// cmdCtx bounds Redis commands to the scrape's command deadline.
func (s *scrape) cmdCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.cmdDeadline.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, s.cmdDeadline)
}

// do runs fn on the connection under the command deadline.
func (s *scrape) do(ctx context.Context, fn func(ctx context.Context, cl *redis.Client) error) error {
	if !s.up {
		return errDown
	}
	ctx, cancel := s.cmdCtx(ctx)
	defer cancel()
	err := s.t.conn.With(ctx, fn)
	if err != nil && !errors.Is(err, promkit.ErrSkipped) {
		s.failed = true
	}
	return err
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("redis_"+name, help, labels, nil)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- promkit.ConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- promkit.ConstMetric(d, prometheus.CounterValue, v, labels...)
}

var (
	upDesc           = desc("up", "Whether the last scrape could read INFO from Redis (1) or not (0).")
	instanceInfoDesc = desc("instance_info", "Information about the Redis instance.",
		"role", "redis_version", "redis_build_id", "redis_mode", "os", "maxmemory_policy", "tcp_port", "run_id", "process_id", "master_replid")
	slaveInfoDesc  = desc("slave_info", "Information about the primary of this replica.", "master_host", "master_port", "read_only")
	startTimeDesc  = desc("start_time_seconds", "Start time of the Redis instance since unix epoch in seconds.")
	dbKeysDesc     = desc("db_keys", "Total number of keys by DB.", "db")
	dbExpiringDesc = desc("db_keys_expiring", "Total number of expiring keys by DB.", "db")
	dbAvgTTLDesc   = desc("db_avg_ttl_seconds", "Avg TTL in seconds.", "db")
	cmdCallsDesc   = desc("commands_total", "Total number of calls per command.", "cmd")
	cmdUsecDesc    = desc("commands_duration_seconds_total", "Total amount of time in seconds spent per command.", "cmd")
	cmdRejDesc     = desc("commands_rejected_calls_total", "Total number of rejected calls per command.", "cmd")
	cmdFailDesc    = desc("commands_failed_calls_total", "Total number of failed calls per command.", "cmd")
	errorsDesc     = desc("errors_total", "Total number of error replies by error prefix.", "err")
	latPctDesc     = desc("latency_percentiles_usec", "A summary of latency percentile distribution per command.", "cmd")
	slaveOffDesc   = desc("connected_slave_offset_bytes", "Offset of connected replica.", "slave_ip", "slave_port", "slave_state")
	slaveLagDesc   = desc("connected_slave_lag_seconds", "Lag of connected replica.", "slave_ip", "slave_port", "slave_state")
	// A replica's view of its primary, labelled with the primary's address
	// as the incumbent does.
	masterDescs = map[string]*prometheus.Desc{
		"master_link_status":         desc("master_link_up", "Whether the link to the primary is up (on a replica).", "master_host", "master_port"),
		"master_last_io_seconds_ago": desc("master_last_io_seconds_ago", "Seconds since the last interaction with the primary.", "master_host", "master_port"),
		"master_sync_in_progress":    desc("master_sync_in_progress", "Whether the replica is syncing from the primary.", "master_host", "master_port"),
		"slave_repl_offset":          desc("slave_repl_offset", "Replication offset of the replica.", "master_host", "master_port"),
	}
	hitRatioDesc = desc("keyspace_hit_ratio", "Share of key lookups that found their key, over the interval since the previous scrape of this target (lookups made by the exporter itself excluded). Absent when there were none.")
	memRatioDesc = desc("memory_used_ratio", "used_memory divided by maxmemory, or by the system memory when maxmemory is 0 (see the limit label).", "limit")
)

// collectInfo reads INFO ALL: everything it shows, under the incumbent's
// names, plus redis_up, the hit ratio and the memory ratio.
func (s *scrape) collectInfo(ctx context.Context, ch chan<- prometheus.Metric) error {
	s.up = true // let do() try
	var text string
	err := s.do(ctx, func(ctx context.Context, cl *redis.Client) error {
		var err error
		text, err = cl.Info(ctx, "all").Result()
		if err != nil {
			return fmt.Errorf("reading INFO ALL from %s: %w", s.t.conn.Addr(), err)
		}
		return nil
	})
	if err != nil {
		s.up = false
		gauge(ch, upDesc, 0)
		return err
	}
	gauge(ch, upDesc, 1)
	s.in = info.Parse(text)
	runID, _ := s.in.Get("run_id")
	s.t.conn.serverRestarted(runID)
	s.emitInfo(ch)
	return nil
}

func (s *scrape) emitInfo(ch chan<- prometheus.Metric) {
	in := s.in
	get := func(k string) string { v, _ := in.Get(k); return v }
	gauge(ch, instanceInfoDesc, 1, get("role"), get("redis_version"), get("redis_build_id"), get("redis_mode"),
		get("os"), get("maxmemory_policy"), get("tcp_port"), get("run_id"), get("process_id"), get("master_replid"))
	if get("role") == "slave" {
		gauge(ch, slaveInfoDesc, 1, get("master_host"), get("master_port"), get("slave_read_only"))
	}
	if up, ok := in.Float("uptime_in_seconds"); ok {
		now := float64(time.Now().UnixNano()) / 1e9
		if t, ok := in.Float("server_time_usec"); ok {
			now = t / 1e6
		}
		gauge(ch, startTimeDesc, now-up)
	}
	emitted := map[string]bool{}
	for _, f := range in.Fields {
		if skipField(f) {
			continue
		}
		v, ok := info.ParseNumber(f.Value)
		if !ok {
			continue
		}
		if d, ok := masterDescs[f.Key]; ok {
			gauge(ch, d, v, get("master_host"), get("master_port"))
			continue
		}
		m, known := fields[f.Key]
		if !known {
			m = field{name: fallbackName(f.Key)}
		}
		if m.name == "" || emitted[m.name] {
			continue
		}
		emitted[m.name] = true
		if m.scale != 0 {
			v *= m.scale
		}
		d := s.t.infoDesc(m.name, f)
		if m.counter {
			counter(ch, d, v)
		} else {
			gauge(ch, d, v)
		}
	}
	s.emitKeyspace(ch)
	for _, c := range in.CommandStats() {
		counter(ch, cmdCallsDesc, c.Calls, c.Cmd)
		counter(ch, cmdUsecDesc, c.Usec/1e6, c.Cmd)
		counter(ch, cmdRejDesc, c.RejectedCalls, c.Cmd)
		counter(ch, cmdFailDesc, c.FailedCalls, c.Cmd)
	}
	for _, e := range in.ErrorStats() {
		counter(ch, errorsDesc, e.Count, e.Prefix)
	}
	s.emitLatencyStats(ch)
	for _, r := range in.Replicas() {
		gauge(ch, slaveOffDesc, r.Offset, r.IP, r.Port, r.State)
		gauge(ch, slaveLagDesc, r.Lag, r.IP, r.Port, r.State)
	}
	hits, _ := in.Float("keyspace_hits")
	misses, _ := in.Float("keyspace_misses")
	if r, ok := s.t.hitRatio(hits, misses, get("run_id")); ok {
		gauge(ch, hitRatioDesc, r)
	}
	used, _ := in.Float("used_memory")
	if max, _ := in.Float("maxmemory"); max > 0 {
		gauge(ch, memRatioDesc, used/max, "maxmemory")
	} else if sys, _ := in.Float("total_system_memory"); sys > 0 {
		gauge(ch, memRatioDesc, used/sys, "system")
	}
}

// skipField leaves out what is exported another way or is not a metric.
func skipField(f info.Field) bool {
	switch f.Section {
	case "commandstats", "errorstats", "latencystats", "keyspace", "modules", "keysizes":
		return true
	}
	if strings.HasSuffix(f.Key, "_human") || strings.HasPrefix(f.Key, "cmdstat_") ||
		strings.HasPrefix(f.Key, "errorstat_") || strings.HasPrefix(f.Key, "latency_percentiles_usec_") {
		return true
	}
	if n, ok := strings.CutPrefix(f.Key, "slave"); ok && n != "" && strings.Trim(n, "0123456789") == "" {
		return true
	}
	switch f.Key {
	case "run_id", "master_replid", "master_replid2", "redis_build_id", "redis_git_sha1", "redis_version",
		"gcc_version", "os", "executable", "config_file", "role", "redis_mode", "master_host", "mem_allocator",
		"maxmemory_policy", "multiplexing_api", "atomicvar_api", "monotonic_clock", "master_failover_state":
		return true
	}
	return false
}

// emitKeyspace reports every database, and zero for the empty ones up to
// the configured number of databases, so a database that empties does not
// turn into an absent series.
func (s *scrape) emitKeyspace(ch chan<- prometheus.Metric) {
	seen := map[int]bool{}
	for _, k := range s.in.Keyspaces() {
		seen[k.DB] = true
		gauge(ch, dbKeysDesc, k.Keys, dbLabel(k.DB))
		gauge(ch, dbExpiringDesc, k.Expires, dbLabel(k.DB))
		gauge(ch, dbAvgTTLDesc, k.AvgTTL/1000, dbLabel(k.DB))
	}
	dbs := s.t.databases()
	if v, _ := s.in.Get("cluster_enabled"); v == "1" {
		dbs = 1 // a cluster node has db0 only
	}
	for db := range dbs {
		if !seen[db] {
			gauge(ch, dbKeysDesc, 0, dbLabel(db))
			gauge(ch, dbExpiringDesc, 0, dbLabel(db))
		}
	}
}

// emitLatencyStats reports INFO latencystats (7+) as the incumbent's
// summary: quantiles in microseconds, count and sum from commandstats.
func (s *scrape) emitLatencyStats(ch chan<- prometheus.Metric) {
	calls := map[string]info.CommandStat{}
	for _, c := range s.in.CommandStats() {
		calls[c.Cmd] = c
	}
	for _, l := range s.in.LatencyStats() {
		q := map[float64]float64{}
		for p, v := range l.Percentiles {
			if f, err := strconv.ParseFloat(p, 64); err == nil {
				q[f] = v
			}
		}
		c := calls[l.Cmd]
		m, err := prometheus.NewConstSummary(latPctDesc, uint64(c.Calls), c.Usec, q, promkit.LabelValue(l.Cmd))
		if err == nil {
			ch <- m
		}
	}
}
