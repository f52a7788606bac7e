package collector

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/outrigger/outrigger/exporters/redis/info"
	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

var (
	cfgMaxMemFamily     = promkit.Gauge("redis_config_maxmemory", "The value of the maxmemory configuration directive (from INFO where CONFIG is not allowed).")
	cfgMaxClientsFamily = promkit.Gauge("redis_config_maxclients", "The value of the maxclients configuration directive (from INFO where CONFIG is not allowed).")
	cfgIOThreadsFamily  = promkit.Gauge("redis_config_io_threads", "The value of the io-threads configuration directive.")

	clientGroupFamily  = promkit.Gauge("redis_client_group_connections", "Client connections by name, user and db: the top groups by count, the rest under \"other\".", "name", "user", "db")
	clientIdleFamily   = promkit.Gauge("redis_client_group_max_idle_seconds", "Longest idle time of a connection in the group.", "name", "user", "db")
	clientAgeFamily    = promkit.Gauge("redis_client_group_max_age_seconds", "Age of the oldest connection in the group.", "name", "user", "db")
	clientGroupsFamily = promkit.Gauge("redis_client_groups", "Distinct (name, user, db) groups among client connections, before top-N folding.")
	slowlogLenFamily   = promkit.Gauge("redis_slowlog_length", "Total slowlog")
	slowlogLastFamily  = promkit.Gauge("redis_slowlog_last_id", "Last id of slowlog")
	slowLastDurFamily  = promkit.Gauge("redis_last_slow_execution_duration_seconds", "The amount of time needed for last slow execution, in seconds")
	slowestFamily      = promkit.Gauge("redis_slowlog_slowest_duration_seconds", "Durations of the slowest entries among the most recent slowlog entries, by rank (1 = slowest).", "rank")
	latHistFamily      = promkit.Histogram("redis_command_latency_seconds", "Latency of commands as the server measured it (LATENCY HISTOGRAM), by command.", "cmd")
	keySizeFamily      = promkit.Gauge("redis_key_size", "The length or size of a configured single key (0 when it does not exist).", "db", "key")
	scrapesFamily      = promkit.Counter("redis_exporter_scrapes_total", "Scrapes of this target since the exporter started.")
	// A summary (count and sum): promkit has no Summary constructor, its
	// series are built with prometheus.NewConstSummary on Desc().
	scrapeDurFamily   = promkit.Untyped("redis_exporter_scrape_duration_seconds", "Durations of the scrapes of this target (count and sum).")
	keyGroupsMsFamily = promkit.Gauge("redis_last_key_groups_scrape_duration_milliseconds", "Wall time of the key-group pass served, in milliseconds (the incumbent's name; see redis_key_group_scan_duration_seconds).")
	lastDurFamily     = promkit.Gauge("redis_exporter_last_scrape_duration_seconds", "How long this scrape of the target took.")
	lastErrFamily     = promkit.Gauge("redis_exporter_last_scrape_error", "1 when a collector failed on this scrape, else 0 (see redis_scrape_collector_success).")
)

// collectConfig reports maxmemory and maxclients, and the CONFIG values
// INFO lacks (io-threads, databases). INFO carries the live maxmemory and
// maxclients, so CONFIG GET is sent once per server run (run_id), not per
// scrape; where CONFIG is disabled, renamed or forbidden (managed Redis) the
// first refusal is remembered and only INFO's values are reported.
func (s *scrape) collectConfig(ctx context.Context, ch chan<- prometheus.Metric) error {
	if !s.up {
		return errDown
	}
	runID, _ := s.in.Get("run_id")
	var err error
	if s.t.conn.Enabled(FeatConfig) && s.t.configRunID() != runID {
		err = s.readConfig(ctx, runID)
	}
	cfg := s.t.configValues()
	for _, v := range []struct {
		fam  promkit.Family
		info string
	}{{cfgMaxMemFamily, "maxmemory"}, {cfgMaxClientsFamily, "maxclients"}} {
		if x, ok := s.in.Float(v.info); ok {
			v.fam.Send(ch, x)
		} else if x, ok := cfg[v.info]; ok {
			v.fam.Send(ch, x)
		}
	}
	if x, ok := cfg["io-threads"]; ok {
		cfgIOThreadsFamily.Send(ch, x)
	}
	if err == nil && !s.t.conn.Enabled(FeatConfig) {
		return promkit.ErrSkipped
	}
	return err
}

func (s *scrape) readConfig(ctx context.Context, runID string) error {
	values := map[string]float64{}
	var refused error
	err := s.do(ctx, func(ctx context.Context, cl *redis.Client) error {
		cmds, err := cl.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, n := range []string{"maxmemory", "maxclients", "io-threads", "databases"} {
				p.ConfigGet(ctx, n)
			}
			return nil
		})
		for _, c := range cmds {
			if IsServerError(c.Err()) {
				refused = c.Err()
				continue
			}
			for k, v := range c.(*redis.MapStringStringCmd).Val() {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					values[k] = f
				}
			}
		}
		if err != nil && refused == nil {
			return fmt.Errorf("reading CONFIG: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if refused != nil {
		s.t.conn.Refused(FeatConfig, refused)
		return nil
	}
	s.t.setConfig(runID, values)
	return nil
}

type clientGroup struct {
	name, user, db string
	count          float64
	maxIdle        float64
	maxAge         float64
}

// collectClients aggregates CLIENT LIST by name, user and db: a bounded set
// of series however many connections there are.
func (s *scrape) collectClients(ctx context.Context, ch chan<- prometheus.Metric) error {
	if !s.up {
		return errDown
	}
	if !s.t.conn.Enabled(FeatClients) {
		return promkit.ErrSkipped
	}
	var text string
	err := s.do(ctx, func(ctx context.Context, cl *redis.Client) error {
		var err error
		text, err = cl.ClientList(ctx).Result()
		return err
	})
	if s.t.conn.Refused(FeatClients, err) {
		return promkit.ErrSkipped
	}
	if err != nil {
		return fmt.Errorf("reading CLIENT LIST: %w", err)
	}
	groups := AggregateClients(text, s.t.opts.ClientsTopN)
	clientGroupsFamily.Send(ch, float64(groups.Distinct))
	for _, g := range groups.Top {
		clientGroupFamily.Send(ch, g.count, g.name, g.user, g.db)
		clientIdleFamily.Send(ch, g.maxIdle, g.name, g.user, g.db)
		clientAgeFamily.Send(ch, g.maxAge, g.name, g.user, g.db)
	}
	return nil
}

// ClientGroups is CLIENT LIST folded into top groups.
type ClientGroups struct {
	Top      []clientGroup
	Distinct int
}

// AggregateClients folds CLIENT LIST output into at most topN groups plus
// "other".
func AggregateClients(text string, topN int) ClientGroups {
	byKey := map[[3]string]*clientGroup{}
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var name, user, db string
		var age, idle float64
		user, db = "default", "0"
		for kv := range strings.SplitSeq(line, " ") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "name":
				name = v
			case "user":
				user = v
			case "db":
				db = v
			case "age":
				age, _ = strconv.ParseFloat(v, 64)
			case "idle":
				idle, _ = strconv.ParseFloat(v, 64)
			}
		}
		key := [3]string{name, user, db}
		g := byKey[key]
		if g == nil {
			g = &clientGroup{name: name, user: user, db: db}
			byKey[key] = g
		}
		g.count++
		g.maxIdle = math.Max(g.maxIdle, idle)
		g.maxAge = math.Max(g.maxAge, age)
	}
	all := make([]*clientGroup, 0, len(byKey))
	for _, g := range byKey {
		all = append(all, g)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].count != all[j].count {
			return all[i].count > all[j].count
		}
		a, b := all[i], all[j]
		return a.name+"\x00"+a.user+"\x00"+a.db < b.name+"\x00"+b.user+"\x00"+b.db
	})
	out := ClientGroups{Distinct: len(all)}
	var other *clientGroup
	for i, g := range all {
		if i < topN {
			out.Top = append(out.Top, *g)
			continue
		}
		if other == nil {
			other = &clientGroup{name: "other", user: "other", db: "other"}
		}
		other.count += g.count
		other.maxIdle = math.Max(other.maxIdle, g.maxIdle)
		other.maxAge = math.Max(other.maxAge, g.maxAge)
	}
	if other != nil {
		out.Top = append(out.Top, *other)
	}
	return out
}

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

// latencyBuckets are the bucket bounds of redis_command_latency_seconds, in
// microseconds: every third power of two of the server's histogram, fixed so
// that series do not come and go as commands get slower.
var latencyBuckets = []float64{8, 64, 512, 4096, 32768, 262144, 2097152}

// collectLatency reads LATENCY HISTOGRAM (Redis 7.0+) when asked to
// (--latency.histogram): ten series per command the server has seen.
func (s *scrape) collectLatency(ctx context.Context, ch chan<- prometheus.Metric) error {
	if !s.up {
		return errDown
	}
	if !s.t.opts.LatencyHistogram {
		return promkit.ErrSkipped
	}
	if caps := s.t.conn.Caps(); !caps.Version.AtLeast(7, 0) || !s.t.conn.Enabled(FeatLatency) {
		return promkit.ErrSkipped
	}
	var reply any
	err := s.do(ctx, func(ctx context.Context, cl *redis.Client) error {
		var err error
		reply, err = cl.Do(ctx, "LATENCY", "HISTOGRAM").Result()
		return err
	})
	if s.t.conn.Refused(FeatLatency, err) {
		return promkit.ErrSkipped
	}
	if err != nil {
		return fmt.Errorf("reading LATENCY HISTOGRAM: %w", err)
	}
	usec := map[string]float64{}
	for _, c := range s.in.CommandStats() {
		usec[c.Cmd] = c.Usec
	}
	for _, h := range ParseLatencyHistogram(reply) {
		buckets := map[float64]uint64{}
		for _, b := range latencyBuckets {
			buckets[b/1e6] = h.CumulativeAt(b)
		}
		m, err := prometheus.NewConstHistogram(latHistFamily.Desc(), h.Calls, usec[h.Cmd]/1e6, buckets, promkit.LabelValue(h.Cmd))
		if err == nil {
			ch <- m
		}
	}
	return nil
}

// LatencyHistogram is one command's entry of LATENCY HISTOGRAM.
type LatencyHistogram struct {
	Cmd   string
	Calls uint64
	// Bounds and Counts: cumulative counts of calls up to each bound (µs).
	Bounds []float64
	Counts []uint64
}

// CumulativeAt is the number of calls that took at most bound µs, as far as
// the server's power-of-two buckets tell.
func (h LatencyHistogram) CumulativeAt(bound float64) uint64 {
	var n uint64
	for i, b := range h.Bounds {
		if b <= bound {
			n = h.Counts[i]
		}
	}
	return n
}

// ParseLatencyHistogram reads the RESP2 reply of LATENCY HISTOGRAM:
// [cmd, ["calls", n, "histogram_usec", [bound, count, ...]], ...]. Anything
// it does not recognise is skipped.
func ParseLatencyHistogram(reply any) []LatencyHistogram {
	arr, _ := reply.([]any)
	var out []LatencyHistogram
	for i := 0; i+1 < len(arr); i += 2 {
		name, ok := arr[i].(string)
		body, ok2 := arr[i+1].([]any)
		if !ok || !ok2 {
			continue
		}
		h := LatencyHistogram{Cmd: name}
		for j := 0; j+1 < len(body); j += 2 {
			switch key, _ := body[j].(string); key {
			case "calls":
				if n, ok := body[j+1].(int64); ok && n >= 0 {
					h.Calls = uint64(n)
				}
			case "histogram_usec":
				pairs, _ := body[j+1].([]any)
				for k := 0; k+1 < len(pairs); k += 2 {
					b, ok1 := pairs[k].(int64)
					c, ok2 := pairs[k+1].(int64)
					if ok1 && ok2 && c >= 0 {
						h.Bounds = append(h.Bounds, float64(b))
						h.Counts = append(h.Counts, uint64(c))
					}
				}
			}
		}
		out = append(out, h)
	}
	return out
}

// lengthCommands gives the command that measures a key of each type.
var lengthCommands = map[string]string{
	"list": "LLEN", "set": "SCARD", "zset": "ZCARD", "hash": "HLEN", "stream": "XLEN", "string": "STRLEN",
}

// collectKeys reports the length of each configured single key with the
// command its type calls for (TYPE first, so no command fails WRONGTYPE).
func (s *scrape) collectKeys(ctx context.Context, ch chan<- prometheus.Metric) error {
	keys := s.t.cfg.Keys
	if len(keys) == 0 {
		return promkit.ErrSkipped
	}
	if !s.up {
		return errDown
	}
	byDB := map[int][]string{}
	var dbs []int
	for _, k := range keys {
		if _, ok := byDB[k.DB]; !ok {
			dbs = append(dbs, k.DB)
		}
		byDB[k.DB] = append(byDB[k.DB], k.Key)
	}
	sort.Ints(dbs)
	sizes := map[int]map[string]float64{}
	var hits, misses float64
	err := s.do(ctx, func(ctx context.Context, cl *redis.Client) error {
		for _, db := range dbs {
			if err := s.t.conn.Select(ctx, cl, db); err != nil {
				return err
			}
			types := make([]*redis.StatusCmd, len(byDB[db]))
			if _, err := cl.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range byDB[db] {
					types[i] = p.Type(ctx, k)
				}
				return nil
			}); err != nil {
				return fmt.Errorf("reading key types in db %d: %w", db, err)
			}
			lens := make([]*redis.Cmd, len(types))
			if _, err := cl.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range byDB[db] {
					if c, ok := lengthCommands[types[i].Val()]; ok {
						lens[i] = p.Do(ctx, c, k)
					}
				}
				return nil
			}); err != nil {
				return fmt.Errorf("reading key lengths in db %d: %w", db, err)
			}
			sizes[db] = map[string]float64{}
			for i, k := range byDB[db] {
				var n float64
				switch {
				case types[i].Val() == "none":
					misses++
				case lens[i] != nil:
					v, _ := lens[i].Int64()
					n = float64(v)
					hits += 2
				default:
					hits++
				}
				sizes[db][k] = n
			}
		}
		return nil
	})
	s.t.ownLookups(hits, misses)
	if err != nil {
		return err
	}
	for db, m := range sizes {
		for k, n := range m {
			keySizeFamily.Send(ch, n, dbLabel(db), k)
		}
	}
	return nil
}

func (s *scrape) collectKeyGroups(_ context.Context, ch chan<- prometheus.Metric) error {
	if s.t.scan == nil {
		keyGroupsMsFamily.Send(ch, 0)
		return promkit.ErrSkipped
	}
	s.t.scan.Collect(ch)
	return nil
}

func (s *scrape) collectExporter(_ context.Context, ch chan<- prometheus.Metric) error {
	d := time.Since(s.started)
	n, sum := s.t.countScrape(d)
	scrapesFamily.Send(ch, n)
	lastDurFamily.Send(ch, d.Seconds())
	if m, err := prometheus.NewConstSummary(scrapeDurFamily.Desc(), uint64(n), sum, nil); err == nil {
		ch <- m
	}
	failed := 0.0
	if s.failed || !s.up {
		failed = 1
	}
	lastErrFamily.Send(ch, failed)
	return nil
}

// collectCluster reads CLUSTER INFO, one command, on servers whose INFO says
// cluster_enabled:1 only: on others the command fails and would raise the
// server's error counters on every scrape.
func (s *scrape) collectCluster(ctx context.Context, ch chan<- prometheus.Metric) error {
	if !s.up {
		return errDown
	}
	if v, _ := s.in.Get("cluster_enabled"); v != "1" || !s.t.conn.Enabled(FeatCluster) {
		return promkit.ErrSkipped
	}
	var text string
	err := s.do(ctx, func(ctx context.Context, cl *redis.Client) error {
		var err error
		text, err = cl.ClusterInfo(ctx).Result()
		return err
	})
	if s.t.conn.Refused(FeatCluster, err) {
		return promkit.ErrSkipped
	}
	if err != nil {
		return fmt.Errorf("reading CLUSTER INFO: %w", err)
	}
	for _, f := range info.Parse(text).Fields {
		v, ok := info.ParseNumber(f.Value)
		if !ok || !strings.HasPrefix(f.Key, "cluster_") {
			continue
		}
		m, ok := clusterFields[f.Key]
		if !ok {
			f.Section = "CLUSTER INFO"
			m.fam = s.t.fallbackFamily(fallbackName(f.Key), f)
		}
		m.fam.Send(ch, v)
	}
	return nil
}
