package collector

import (
	"context"
	"fmt"
	"strconv"

	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

var (
	cfgMaxMemFamily     = promkit.Gauge("redis_config_maxmemory", "The value of the maxmemory configuration directive (from INFO where CONFIG is not allowed).")
	cfgMaxClientsFamily = promkit.Gauge("redis_config_maxclients", "The value of the maxclients configuration directive (from INFO where CONFIG is not allowed).")
	cfgIOThreadsFamily  = promkit.Gauge("redis_config_io_threads", "The value of the io-threads configuration directive.")
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
