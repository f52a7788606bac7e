package collector

import (
	"context"
	"fmt"

	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

var (
	latHistFamily = promkit.Histogram("redis_command_latency_seconds", "Latency of commands as the server measured it (LATENCY HISTOGRAM), by command.", "cmd")
)

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
