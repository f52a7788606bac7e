package collector

import (
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/outrigger/outrigger/exporters/redis/config"
	"github.com/outrigger/outrigger/internal/testkit"
)

// TestFiguresMatchInfo compares what a scrape reports with INFO read directly.
func TestFiguresMatchInfo(t *testing.T) {
	r := testkit.StartRedis(t, testkit.RedisOptions{Args: []string{"--maxmemory", "64mb", "--maxclients", "321"}})
	for i := range 50 {
		r.MustDo(t, "SET", fmt.Sprintf("k%d", i), "v")
	}
	r.MustDo(t, "SET", "ttl", "v", "EX", "1000")
	r.MustDo(t, "RPUSH", "q", "a", "b")
	r.MustDo(t, "GET", "k1")
	r.MustDo(t, "GET", "missing")
	_, _ = r.Do("INCR", "q") // one WRONGTYPE error for errorstats
	tg := newTarget(t, r, nil)

	fams := collect(t, tg, 5*time.Second)
	in := infoOf(t, r)
	num := func(k string) float64 {
		v, ok := in.Float(k)
		if !ok {
			t.Fatalf("INFO has no %s", k)
		}
		return v
	}
	var setCalls, getUsec float64
	for _, c := range in.CommandStats() {
		switch c.Cmd {
		case "set":
			setCalls = c.Calls
		case "get":
			getUsec = c.Usec
		}
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"redis_up", nil, 1},
		{"redis_memory_max_bytes", nil, 64 << 20},
		{"redis_config_maxmemory", nil, 64 << 20},
		{"redis_config_maxclients", nil, 321},
		{"redis_db_keys", map[string]string{"db": "db0"}, in.Keyspaces()[0].Keys},
		{"redis_db_keys_expiring", map[string]string{"db": "db0"}, 1},
		{"redis_db_keys", map[string]string{"db": "db15"}, 0},
		{"redis_keyspace_hits_total", nil, num("keyspace_hits")},
		{"redis_keyspace_misses_total", nil, num("keyspace_misses")},
		{"redis_commands_total", map[string]string{"cmd": "set"}, setCalls},
		{"redis_commands_duration_seconds_total", map[string]string{"cmd": "get"}, getUsec / 1e6},
		{"redis_errors_total", map[string]string{"err": "WRONGTYPE"}, 1},
		{"redis_commands_failed_calls_total", map[string]string{"cmd": "incr"}, 1},
		{"redis_instance_info", map[string]string{"role": "master", "redis_version": func() string { v, _ := in.Get("redis_version"); return v }()}, 1},
		{"redis_process_id", nil, num("process_id")},
		{"redis_rdb_changes_since_last_save", nil, num("rdb_changes_since_last_save")},
		{"redis_total_system_memory_bytes", nil, num("total_system_memory")},
		{"redis_slowlog_length", nil, 0},
		{"redis_scrape_collector_success", map[string]string{"collector": "config"}, 1},
		{"redis_scrape_collector_success", map[string]string{"collector": "latency"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := testkit.MustValue(t, fams, tt.name, tt.labels); got != tt.want {
				t.Errorf("%s%v = %v, INFO says %v", tt.name, tt.labels, got, tt.want)
			}
		})
	}
	used := testkit.MustValue(t, fams, "redis_memory_used_bytes", nil)
	if ratio := testkit.MustValue(t, fams, "redis_memory_used_ratio", map[string]string{"limit": "maxmemory"}); math.Abs(ratio-used/(64<<20)) > 1e-9 {
		t.Errorf("memory ratio %v, want %v", ratio, used/(64<<20))
	}
	if up := testkit.MustValue(t, fams, "redis_uptime_in_seconds", nil); math.Abs(up-num("uptime_in_seconds")) > 1 {
		t.Errorf("uptime %v, INFO %v", up, num("uptime_in_seconds"))
	}
	// Latency percentiles per command: the incumbent's summary, count from commandstats.
	lat := fams["redis_latency_percentiles_usec"]
	if lat == nil || len(lat.GetMetric()) == 0 || len(lat.GetMetric()[0].GetSummary().GetQuantile()) != 3 {
		t.Fatalf("redis_latency_percentiles_usec missing or without 3 quantiles: %v", lat)
	}
	if n := testkit.MustValue(t, fams, "redis_command_latency_seconds", map[string]string{"cmd": "set"}); n != setCalls {
		t.Errorf("latency histogram of set counts %v calls, commandstats %v", n, setCalls)
	}
}

// TestHitRatio checks the ratio over the interval between two scrapes after a
// known sequence of hits and misses; the exporter's own lookups (single-key
// lengths) are left out.
func TestHitRatio(t *testing.T) {
	r := testkit.StartRedis(t, testkit.RedisOptions{})
	r.MustDo(t, "SET", "a", "1")
	r.MustDo(t, "RPUSH", "queue", "x", "y")
	tg := newTarget(t, r, func(c *config.Target) {
		c.Keys = []config.SingleKey{{Key: "queue"}, {Key: "absent"}}
	})
	first := collect(t, tg, 5*time.Second)
	if _, ok := testkit.Value(first, "redis_keyspace_hit_ratio", nil); ok {
		t.Error("hit ratio reported on the first scrape, with no interval to measure")
	}
	if n := testkit.MustValue(t, first, "redis_key_size", map[string]string{"db": "db0", "key": "queue"}); n != 2 {
		t.Errorf("queue length %v, want 2", n)
	}
	for range 3 {
		r.MustDo(t, "GET", "a")
	}
	r.MustDo(t, "GET", "nope")
	second := collect(t, tg, 5*time.Second)
	if got := testkit.MustValue(t, second, "redis_keyspace_hit_ratio", nil); got != 0.75 {
		t.Errorf("hit ratio after 3 hits and 1 miss = %v, want 0.75", got)
	}
	third := collect(t, tg, 5*time.Second)
	if v, ok := testkit.Value(third, "redis_keyspace_hit_ratio", nil); ok {
		t.Errorf("hit ratio %v reported over an interval with no lookups but the exporter's own", v)
	}
}

func TestSingleKeyLengthsByType(t *testing.T) {
	r := testkit.StartRedis(t, testkit.RedisOptions{})
	r.MustDo(t, "RPUSH", "list", "a", "b", "c")
	r.MustDo(t, "SADD", "set", "a", "b")
	r.MustDo(t, "ZADD", "zset", "1", "a")
	r.MustDo(t, "HSET", "hash", "f1", "v", "f2", "v", "f3", "v", "f4", "v")
	r.MustDo(t, "XADD", "stream", "*", "f", "v")
	r.MustDo(t, "SELECT", "0")
	r.MustDo(t, "SET", "str", "hello")
	// A key in db 2 (testkit.Do uses a fresh connection each time: use a
	// MULTI-free way, EVAL is not needed: a URL-less SELECT does not persist).
	tg := newTarget(t, r, func(c *config.Target) {
		c.Keys = []config.SingleKey{{Key: "list"}, {Key: "set"}, {Key: "zset"}, {Key: "hash"}, {Key: "stream"}, {Key: "str"}, {Key: "none"}, {DB: 2, Key: "list"}}
	})
	before := errorCounters(t, r)
	fams := collect(t, tg, 5*time.Second)
	want := map[string]float64{"list": 3, "set": 2, "zset": 1, "hash": 4, "stream": 1, "str": 5, "none": 0}
	for k, n := range want {
		if got := testkit.MustValue(t, fams, "redis_key_size", map[string]string{"db": "db0", "key": k}); got != n {
			t.Errorf("redis_key_size{key=%q} = %v, want %v", k, got, n)
		}
	}
	if got := testkit.MustValue(t, fams, "redis_key_size", map[string]string{"db": "db2", "key": "list"}); got != 0 {
		t.Errorf("db2 list = %v, want 0", got)
	}
	assertSame(t, before, errorCounters(t, r))
}

func assertSame(t *testing.T, before, after map[string]float64) {
	t.Helper()
	for k, v := range after {
		if before[k] != v {
			t.Errorf("%s moved from %v to %v", k, before[k], v)
		}
	}
}

// TestTenScrapesLeaveErrorCountersUnchanged: neither on a plain server nor on
// one that refuses CONFIG, SLOWLOG, CLIENT and LATENCY (as managed Redis
// does) do ten scrapes move the target's error counters; the refused
// commands are tried once and fall back cleanly.
func TestTenScrapesLeaveErrorCountersUnchanged(t *testing.T) {
	for _, restricted := range []bool{false, true} {
		t.Run("restricted="+strconv.FormatBool(restricted), func(t *testing.T) {
			r := testkit.StartRedis(t, testkit.RedisOptions{Args: []string{"--maxmemory", "32mb"}})
			r.MustDo(t, "RPUSH", "celery", "t1")
			r.MustDo(t, "SET", "cache:1", "v")
			mod := func(c *config.Target) {
				c.Keys = []config.SingleKey{{Key: "celery"}, {Key: "cache:1"}, {Key: "gone"}}
				c.KeyGroups = []config.KeyGroup{{Name: "cache", Pattern: "cache:*"}}
			}
			if restricted {
				r.MustDo(t, "ACL", "SETUSER", "limited", "on", ">pw", "~*", "&*", "+@all", "-config", "-slowlog", "-client|list", "-latency", "-memory")
				mod = func(c *config.Target) {
					c.Addr = fmt.Sprintf("redis://limited:pw@%s/0", r.Addr)
					c.Keys = []config.SingleKey{{Key: "celery"}}
					c.KeyGroups = []config.KeyGroup{{Name: "cache", Pattern: "cache:*"}}
				}
			}
			tg := newTarget(t, r, mod)
			first := collect(t, tg, 5*time.Second) // may learn what is refused
			if restricted {
				if got := testkit.MustValue(t, first, "redis_config_maxmemory", nil); got != 32<<20 {
					t.Errorf("maxmemory fallback from INFO = %v, want %v", got, 32<<20)
				}
				if err := tg.Scanner().Cycle(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			before := errorCounters(t, r)
			for range 10 {
				fams := collect(t, tg, 5*time.Second)
				if testkit.MustValue(t, fams, "redis_up", nil) != 1 {
					t.Fatal("redis_up 0")
				}
			}
			if err := tg.Scanner().Cycle(t.Context()); err != nil {
				t.Fatal(err)
			}
			assertSame(t, before, errorCounters(t, r))
			if res := tg.Scanner().Result(); res == nil || res.Keys[0] != 1 {
				t.Errorf("key group result %+v, want 1 key", res)
			}
		})
	}
}
