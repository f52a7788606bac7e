package collector

import (
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
)

// clusterInfoCalls is how many CLUSTER INFO commands the server has run.
func clusterInfoCalls(t testing.TB, r *testkit.Redis) float64 {
	t.Helper()
	for _, c := range infoOf(t, r).CommandStats() {
		if c.Cmd == "cluster|info" {
			return c.Calls
		}
	}
	return 0
}

// TestClusterInfo: on a cluster node every scrape sends one CLUSTER INFO and
// reports the incumbent's cluster families; a standalone server is never
// sent one (it would answer with an error and count it); neither moves the
// server's error counters.
func TestClusterInfo(t *testing.T) {
	t.Parallel()
	for _, cluster := range []bool{true, false} {
		r := testkit.StartRedis(t, testkit.RedisOptions{Cluster: cluster})
		tg := newTarget(t, r, nil)
		collect(t, tg, 5*time.Second)
		before, calls := errorCounters(t, r), clusterInfoCalls(t, r)
		var fams = collect(t, tg, 5*time.Second)
		for range 9 {
			fams = collect(t, tg, 5*time.Second)
		}
		assertSame(t, before, errorCounters(t, r))
		got := clusterInfoCalls(t, r) - calls
		if !cluster {
			if got != 0 || fams["redis_cluster_state"] != nil {
				t.Errorf("standalone: %v CLUSTER INFO calls, redis_cluster_state present: %v", got, fams["redis_cluster_state"] != nil)
			}
			continue
		}
		if got != 10 {
			t.Errorf("10 scrapes sent %v CLUSTER INFO, want 10", got)
		}
		for name, want := range map[string]float64{
			"redis_cluster_state": 1, "redis_cluster_slots_assigned": 16384, "redis_cluster_slots_ok": 16384,
			"redis_cluster_slots_fail": 0, "redis_cluster_slots_pfail": 0, "redis_cluster_known_nodes": 1,
			"redis_cluster_size": 1, "redis_cluster_enabled": 1,
		} {
			if v := testkit.MustValue(t, fams, name, nil); v != want {
				t.Errorf("%s = %v, want %v", name, v, want)
			}
		}
		if v := testkit.MustValue(t, fams, "redis_scrape_collector_success", map[string]string{"collector": "cluster"}); v != 1 {
			t.Errorf("cluster collector success = %v", v)
		}
		if _, ok := testkit.Value(fams, "redis_db_keys", map[string]string{"db": "db1"}); ok {
			t.Error("a cluster node reports db1; it has db0 only")
		}
	}
}
