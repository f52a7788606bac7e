package collector

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/outrigger/outrigger/exporters/redis/info"
	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

var (
	upFamily           = promkit.Gauge("redis_up", "Whether the last scrape could read INFO from Redis (1) or not (0).")
	instanceInfoFamily = promkit.Gauge("redis_instance_info", "Information about the Redis instance.",
		"role", "redis_version", "redis_build_id", "redis_mode", "os", "maxmemory_policy", "tcp_port", "run_id", "process_id", "master_replid")
	slaveInfoFamily  = promkit.Gauge("redis_slave_info", "Information about the primary of this replica.", "master_host", "master_port", "read_only")
	startTimeFamily  = promkit.Gauge("redis_start_time_seconds", "Start time of the Redis instance since unix epoch in seconds.")
	dbKeysFamily     = promkit.Gauge("redis_db_keys", "Total number of keys by DB.", "db")
	dbExpiringFamily = promkit.Gauge("redis_db_keys_expiring", "Total number of expiring keys by DB.", "db")
	dbAvgTTLFamily   = promkit.Gauge("redis_db_avg_ttl_seconds", "Avg TTL in seconds.", "db")
	cmdCallsFamily   = promkit.Counter("redis_commands_total", "Total number of calls per command.", "cmd")
	cmdUsecFamily    = promkit.Counter("redis_commands_duration_seconds_total", "Total amount of time in seconds spent per command.", "cmd")
	cmdRejFamily     = promkit.Counter("redis_commands_rejected_calls_total", "Total number of rejected calls per command.", "cmd")
	cmdFailFamily    = promkit.Counter("redis_commands_failed_calls_total", "Total number of failed calls per command.", "cmd")
	errorsFamily     = promkit.Counter("redis_errors_total", "Total number of error replies by error prefix.", "err")
	latPctFamily     = promkit.Summary("redis_latency_percentiles_usec", "A summary of latency percentile distribution per command.", "cmd")
	slaveOffFamily   = promkit.Gauge("redis_connected_slave_offset_bytes", "Offset of connected replica.", "slave_ip", "slave_port", "slave_state")
	slaveLagFamily   = promkit.Gauge("redis_connected_slave_lag_seconds", "Lag of connected replica.", "slave_ip", "slave_port", "slave_state")
	hitRatioFamily   = promkit.Gauge("redis_keyspace_hit_ratio", "Share of key lookups that found their key, over the interval since the previous scrape of this target (lookups made by the exporter itself excluded). Absent when there were none.")
	memRatioFamily   = promkit.Gauge("redis_memory_used_ratio", "used_memory divided by maxmemory, or by the system memory when maxmemory is 0 (see the limit label).", "limit")
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
		upFamily.Send(ch, 0)
		return err
	}
	upFamily.Send(ch, 1)
	s.in = info.Parse(text)
	runID, _ := s.in.Get("run_id")
	s.t.conn.serverRestarted(runID)
	s.emitInfo(ch)
	return nil
}

func (s *scrape) emitInfo(ch chan<- prometheus.Metric) {
	in := s.in
	get := func(k string) string { v, _ := in.Get(k); return v }
	instanceInfoFamily.Send(ch, 1, get("role"), get("redis_version"), get("redis_build_id"), get("redis_mode"),
		get("os"), get("maxmemory_policy"), get("tcp_port"), get("run_id"), get("process_id"), get("master_replid"))
	if get("role") == "slave" {
		slaveInfoFamily.Send(ch, 1, get("master_host"), get("master_port"), get("slave_read_only"))
	}
	if up, ok := in.Float("uptime_in_seconds"); ok {
		now := float64(time.Now().UnixNano()) / 1e9
		if t, ok := in.Float("server_time_usec"); ok {
			now = t / 1e6
		}
		startTimeFamily.Send(ch, now-up)
	}
	s.emitFields(ch)
	s.emitKeyspace(ch)
	for _, c := range in.CommandStats() {
		cmdCallsFamily.Send(ch, c.Calls, c.Cmd)
		cmdUsecFamily.Send(ch, c.Usec/1e6, c.Cmd)
		cmdRejFamily.Send(ch, c.RejectedCalls, c.Cmd)
		cmdFailFamily.Send(ch, c.FailedCalls, c.Cmd)
	}
	for _, e := range in.ErrorStats() {
		errorsFamily.Send(ch, e.Count, e.Prefix)
	}
	s.emitLatencyStats(ch)
	for _, r := range in.Replicas() {
		slaveOffFamily.Send(ch, r.Offset, r.IP, r.Port, r.State)
		slaveLagFamily.Send(ch, r.Lag, r.IP, r.Port, r.State)
	}
	hits, _ := in.Float("keyspace_hits")
	misses, _ := in.Float("keyspace_misses")
	if r, ok := s.t.hitRatio(hits, misses, get("run_id")); ok {
		hitRatioFamily.Send(ch, r)
	}
	used, _ := in.Float("used_memory")
	if max, _ := in.Float("maxmemory"); max > 0 {
		memRatioFamily.Send(ch, used/max, "maxmemory")
	} else if sys, _ := in.Float("total_system_memory"); sys > 0 {
		memRatioFamily.Send(ch, used/sys, "system")
	}
}

// emitFields reports INFO's numeric fields, each under its family of
// infoFields or masterFields (the first of two keys sharing a family wins).
func (s *scrape) emitFields(ch chan<- prometheus.Metric) {
	master := [2]string{}
	master[0], _ = s.in.Get("master_host")
	master[1], _ = s.in.Get("master_port")
	emitted := map[string]bool{}
	for _, f := range s.in.Fields {
		if skipField(f) {
			continue
		}
		v, ok := info.ParseNumber(f.Value)
		if !ok {
			continue
		}
		if m, ok := masterFields[f.Key]; ok {
			m.fam.Send(ch, v, master[0], master[1])
			continue
		}
		m, known := infoFields[f.Key]
		if !known {
			m = infoField{fam: s.t.fallbackFamily(fallbackName(f.Key), f)}
		}
		if emitted[m.fam.Name()] {
			continue
		}
		emitted[m.fam.Name()] = true
		if m.scale != 0 {
			v *= m.scale
		}
		m.fam.Send(ch, v)
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
	case "arch_bits", "uptime_in_days", "redis_git_dirty", "process_supervised",
		"tcp_port",    // a label of redis_instance_info
		"master_port": // a label of redis_slave_info
		return true
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
		dbKeysFamily.Send(ch, k.Keys, dbLabel(k.DB))
		dbExpiringFamily.Send(ch, k.Expires, dbLabel(k.DB))
		dbAvgTTLFamily.Send(ch, k.AvgTTL/1000, dbLabel(k.DB))
	}
	dbs := s.t.databases()
	if v, _ := s.in.Get("cluster_enabled"); v == "1" {
		dbs = 1 // a cluster node has db0 only
	}
	for db := range dbs {
		if !seen[db] {
			dbKeysFamily.Send(ch, 0, dbLabel(db))
			dbExpiringFamily.Send(ch, 0, dbLabel(db))
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
		ch <- latPctFamily.Summary(uint64(c.Calls), c.Usec, q, l.Cmd)
	}
}
