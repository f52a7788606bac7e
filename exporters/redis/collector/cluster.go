package collector

import (
	"context"
	"fmt"
	"strings"

	"github.com/outrigger/outrigger/exporters/redis/info"
	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// clusterFields maps CLUSTER INFO fields to families (the incumbent's
// names); a cluster_* field not listed is exported as a gauge
// redis_<field>. cluster_state ok is 1.
var clusterFields = byKey([]infoField{
	{key: "cluster_state", fam: promkit.Gauge("redis_cluster_state", "Redis INFO field cluster_state (CLUSTER INFO).")},
	{key: "cluster_slots_assigned", fam: promkit.Gauge("redis_cluster_slots_assigned", "Redis INFO field cluster_slots_assigned (CLUSTER INFO).")},
	{key: "cluster_slots_ok", fam: promkit.Gauge("redis_cluster_slots_ok", "Redis INFO field cluster_slots_ok (CLUSTER INFO).")},
	{key: "cluster_slots_pfail", fam: promkit.Gauge("redis_cluster_slots_pfail", "Redis INFO field cluster_slots_pfail (CLUSTER INFO).")},
	{key: "cluster_slots_fail", fam: promkit.Gauge("redis_cluster_slots_fail", "Redis INFO field cluster_slots_fail (CLUSTER INFO).")},
	{key: "cluster_known_nodes", fam: promkit.Gauge("redis_cluster_known_nodes", "Redis INFO field cluster_known_nodes (CLUSTER INFO).")},
	{key: "cluster_size", fam: promkit.Gauge("redis_cluster_size", "Redis INFO field cluster_size (CLUSTER INFO).")},
	{key: "cluster_current_epoch", fam: promkit.Gauge("redis_cluster_current_epoch", "Redis INFO field cluster_current_epoch (CLUSTER INFO).")},
	{key: "cluster_my_epoch", fam: promkit.Gauge("redis_cluster_my_epoch", "Redis INFO field cluster_my_epoch (CLUSTER INFO).")},
	{key: "cluster_stats_messages_sent", fam: promkit.Gauge("redis_cluster_messages_sent_total", "Redis INFO field cluster_stats_messages_sent (CLUSTER INFO).")},
	{key: "cluster_stats_messages_received", fam: promkit.Gauge("redis_cluster_messages_received_total", "Redis INFO field cluster_stats_messages_received (CLUSTER INFO).")},
})

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
