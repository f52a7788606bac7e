package collector

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

var (
	clientGroupFamily  = promkit.Gauge("redis_client_group_connections", "Client connections by name, user and db: the top groups by count, the rest under \"other\".", "name", "user", "db")
	clientIdleFamily   = promkit.Gauge("redis_client_group_max_idle_seconds", "Longest idle time of a connection in the group.", "name", "user", "db")
	clientAgeFamily    = promkit.Gauge("redis_client_group_max_age_seconds", "Age of the oldest connection in the group.", "name", "user", "db")
	clientGroupsFamily = promkit.Gauge("redis_client_groups", "Distinct (name, user, db) groups among client connections, before top-N folding.")
)

type clientGroup struct {
	name, user, db string
	count          float64
	maxIdle        float64
	maxAge         float64
}

// collectClients reports CLIENT LIST aggregated by name, user and db: a
// bounded set of series however many connections there are.
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
	emitClients(ch, AggregateClients(text, s.t.opts.ClientsTopN))
	return nil
}

func emitClients(ch chan<- prometheus.Metric, groups ClientGroups) {
	clientGroupsFamily.Send(ch, float64(groups.Distinct))
	for _, g := range groups.Top {
		clientGroupFamily.Send(ch, g.count, g.name, g.user, g.db)
		clientIdleFamily.Send(ch, g.maxIdle, g.name, g.user, g.db)
		clientAgeFamily.Send(ch, g.maxAge, g.name, g.user, g.db)
	}
}

// ClientGroups is CLIENT LIST folded into top groups.
type ClientGroups struct {
	Top      []clientGroup // by count, then name, user and db; promkit.Other last
	Distinct int
}

// AggregateClients folds CLIENT LIST output into at most topN groups plus
// one promkit.Other group holding the rest.
func AggregateClients(text string, topN int) ClientGroups {
	all := groupClients(text)
	keep, rest := promkit.TopN(all, topN, promkit.ByValue(
		func(g clientGroup) float64 { return g.count },
		func(g clientGroup) string { return g.name + "\x00" + g.user + "\x00" + g.db }))
	out := ClientGroups{Top: keep, Distinct: len(all)}
	if len(rest) > 0 {
		other := clientGroup{name: promkit.Other, user: promkit.Other, db: promkit.Other}
		for _, g := range rest {
			other.count += g.count
			other.maxIdle = math.Max(other.maxIdle, g.maxIdle)
			other.maxAge = math.Max(other.maxAge, g.maxAge)
		}
		out.Top = append(out.Top, other)
	}
	return out
}

// groupClients groups CLIENT LIST lines by name, user and db.
func groupClients(text string) []clientGroup {
	index := map[[3]string]int{}
	var groups []clientGroup
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		c := parseClient(line)
		key := [3]string{c.name, c.user, c.db}
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, clientGroup{name: c.name, user: c.user, db: c.db})
		}
		g := &groups[i]
		g.count++
		g.maxIdle = math.Max(g.maxIdle, c.maxIdle)
		g.maxAge = math.Max(g.maxAge, c.maxAge)
	}
	return groups
}

// parseClient reads one CLIENT LIST line as a group of one connection.
func parseClient(line string) clientGroup {
	c := clientGroup{user: "default", db: "0", count: 1}
	for kv := range strings.SplitSeq(line, " ") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "name":
			c.name = v
		case "user":
			c.user = v
		case "db":
			c.db = v
		case "age":
			c.maxAge, _ = strconv.ParseFloat(v, 64)
		case "idle":
			c.maxIdle, _ = strconv.ParseFloat(v, 64)
		}
	}
	return c
}
