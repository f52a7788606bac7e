package collector

import (
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
	dto "github.com/prometheus/client_model/go"
)

// currentIncumbentNames are INFO fields of Redis 7.0 that current
// oliver006/redis_exporter maps (exporter/exporter.go, metricMapGauges and
// metricMapCounters) to names, units or types that differ from Debian's
// 1.45 or from a clean name: facts of its source. TestIncumbentDiff covers
// the rest against the Debian binary.
var currentIncumbentNames = []struct {
	field, name string
	typ         dto.MetricType
}{
	{"maxclients", "redis_max_clients", dto.MetricType_GAUGE},
	{"used_memory_vm_total", "redis_memory_used_vm_total", dto.MetricType_GAUGE},
	{"current_eviction_exceeded_time", "redis_current_eviction_exceeded_time_ms", dto.MetricType_GAUGE},
	{"expire_cycle_cpu_milliseconds", "redis_expire_cycle_cpu_time_ms_total", dto.MetricType_COUNTER},
	{"total_eviction_exceeded_time", "redis_eviction_exceeded_time_ms_total", dto.MetricType_COUNTER},
	{"rdb_saves", "redis_rdb_saves_total", dto.MetricType_GAUGE},
	{"expired_time_cap_reached_count", "redis_expired_time_cap_reached_total", dto.MetricType_COUNTER},
	{"latest_fork_usec", "redis_latest_fork_seconds", dto.MetricType_GAUGE}, // converted to seconds there
	{"evicted_clients", "redis_evicted_clients_total", dto.MetricType_COUNTER},
	{"total_net_repl_input_bytes", "redis_net_repl_input_bytes_total", dto.MetricType_COUNTER},
	{"used_cpu_sys_main_thread", "redis_cpu_sys_main_thread_seconds_total", dto.MetricType_COUNTER},
	{"total_error_replies", "redis_total_error_replies", dto.MetricType_COUNTER},
	{"mem_cluster_links", "redis_mem_cluster_links_bytes", dto.MetricType_GAUGE},
}

// TestCurrentIncumbentNames: on a real server, each of those fields is
// exported under the current incumbent's name and type, with INFO's value
// in the incumbent's unit.
func TestCurrentIncumbentNames(t *testing.T) {
	t.Parallel()
	r := testkit.StartRedis(t, testkit.RedisOptions{Args: []string{"--maxclients", "321"}})
	tg := newTarget(t, r, nil)
	fams := collect(t, tg, 5*time.Second)
	in := infoOf(t, r)
	for _, c := range currentIncumbentNames {
		f := fams[c.name]
		if f == nil {
			t.Errorf("%s (INFO %s) is missing", c.name, c.field)
			continue
		}
		if f.GetType() != c.typ {
			t.Errorf("%s is a %v, the incumbent's a %v", c.name, f.GetType(), c.typ)
		}
		want, ok := in.Float(c.field)
		if !ok {
			t.Fatalf("INFO has no %s", c.field)
		}
		if c.field == "latest_fork_usec" {
			want /= 1e6
		}
		// Counters and gauges that move between the scrape and INFO.
		if c.field == "total_error_replies" || c.field == "used_cpu_sys_main_thread" || c.field == "total_net_repl_input_bytes" || c.field == "expire_cycle_cpu_milliseconds" {
			continue
		}
		if got := testkit.MustValue(t, fams, c.name, nil); got != want {
			t.Errorf("%s = %v, INFO %s = %v", c.name, got, c.field, want)
		}
	}
	if v := testkit.MustValue(t, fams, "redis_max_clients", nil); v != 321 {
		t.Errorf("redis_max_clients = %v, want 321", v)
	}
}
