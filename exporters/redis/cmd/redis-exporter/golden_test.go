package main

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
)

// goldenMask says what of a scrape varies from run to run: every value but
// those of the families below, and the labels that carry a version, a port
// or an id.
var goldenMask = testkit.Mask{
	Keep: regexp.MustCompile(`^redis_(up|cluster_(enabled|state|slots_assigned|slots_ok|slots_pfail|slots_fail|known_nodes|size)|` +
		`db_keys|db_keys_expiring|key_group_keys|keys_count|key_size|memory_max_bytes|config_maxmemory|` +
		`errors_total|connected_slaves|aof_enabled|exporter_last_scrape_error|scrape_collector_success|client_groups)$`),
	Labels: []string{"redis_version", "redis_build_id", "os", "tcp_port", "run_id", "process_id", "master_replid",
		"cmd"}, // the commands the server has seen: ours, testkit's, the test's
	Drop: regexp.MustCompile(`^go_`),
}

// TestGoldenExposition scrapes the binary once, in a setup that makes every
// family it can produce on one server appear (a one-node cluster with key
// groups, a single key, slowlog entries, an error reply, the latency
// histogram, lookups between two scrapes for the hit ratio), and diffs the
// exposition with testdata/redis-exporter.golden.prom (-update rewrites it).
func TestGoldenExposition(t *testing.T) {
	t.Parallel()
	bin := build(t)
	r := testkit.StartRedis(t, testkit.RedisOptions{Cluster: true,
		Args: []string{"--maxmemory", "64mb", "--slowlog-log-slower-than", "0"}})
	r.MustDo(t, "SET", "cache:1", "x")
	r.MustDo(t, "SET", "cache:2", "y")
	r.MustDo(t, "SET", "session:1", "z", "EX", "3600")
	r.MustDo(t, "RPUSH", "celery", "t")
	if _, err := r.Do("INCR", "celery"); err == nil {
		t.Fatal("INCR of a list did not fail")
	}
	d := testkit.StartDaemon(t, bin, "--redis.addr="+r.URL(0), "--keys.group=cache:*", "--keys.length=celery", "--latency.histogram")
	testkit.Eventually(t, 10*time.Second, "key groups counted", func() error {
		_, body := d.Get(t, "/metrics", nil)
		if v, ok := testkit.Value(testkit.Families(t, body), "redis_key_group_keys", map[string]string{"db": "db0", "group": "cache:*"}); !ok || v != 2 {
			return fmt.Errorf("redis_key_group_keys %v (present: %v)", v, ok)
		}
		return nil
	})
	r.MustDo(t, "GET", "cache:1") // a lookup since the previous scrape: the hit ratio is reported
	code, body := d.Get(t, "/metrics", nil)
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	testkit.GoldenExposition(t, "redis-exporter.golden.prom", body, goldenMask)
}
