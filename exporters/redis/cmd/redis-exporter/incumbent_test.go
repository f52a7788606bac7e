package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
)

// TestIncumbentDiff runs Debian's prometheus-redis-exporter and ours against
// the same servers (standalone, a replica of it, a one-node cluster) and
// requires every family, type and label name of theirs here too, except
// the differences the README lists with their reasons.
func TestIncumbentDiff(t *testing.T) {
	t.Parallel()
	ours := build(t)
	theirs := testkit.Binary(t, "prometheus-redis-exporter", "/usr/bin")
	allowed := testkit.READMEDifferences(t, "../../README.md", "Differences from the incumbent")

	primary := testkit.StartRedis(t, testkit.RedisOptions{})
	primary.MustDo(t, "SET", "cache:1", "x")
	primary.MustDo(t, "SET", "session:1", "y", "EX", "600")
	replica := testkit.StartRedis(t, testkit.RedisOptions{Args: []string{"--replicaof", primary.Host, fmt.Sprint(primary.Port)}})
	testkit.Eventually(t, 30*time.Second, "the replica is in sync", func() error {
		s, err := replica.Do("INFO", "replication")
		if err == nil && !strings.Contains(s, "master_link_status:up") {
			err = fmt.Errorf("not in sync yet:\n%s", s)
		}
		return err
	})
	cluster := testkit.StartRedis(t, testkit.RedisOptions{Cluster: true})

	for _, tc := range []struct {
		name string
		r    *testkit.Redis
		want []string // families that must exist on both sides on this server
	}{
		{"standalone", primary, []string{"redis_connected_slave_lag_seconds", "redis_db_keys_expiring"}},
		{"replica", replica, []string{"redis_master_link_up", "redis_master_last_io_seconds_ago", "redis_slave_info"}},
		{"cluster", cluster, []string{"redis_cluster_state", "redis_cluster_slots_ok", "redis_cluster_slots_fail",
			"redis_cluster_slots_pfail", "redis_cluster_known_nodes", "redis_cluster_messages_sent_total"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc := testkit.StartDaemon(t, theirs, "--redis.addr=redis://"+tc.r.Addr)
			us := testkit.StartDaemon(t, ours, "--redis.addr=redis://"+tc.r.Addr)
			_, theirBody := inc.Get(t, "/metrics", nil)
			_, ourBody := us.Get(t, "/metrics", nil)
			testkit.RequireSuperset(t, theirBody, ourBody, allowed)
			th, us2 := testkit.Families(t, theirBody), testkit.Families(t, ourBody)
			for _, name := range tc.want {
				if th[name] == nil || us2[name] == nil {
					t.Errorf("%s: incumbent has it: %v, we have it: %v", name, th[name] != nil, us2[name] != nil)
				}
			}
		})
	}
}
