package info

import (
	"strconv"
	"strings"
)

// CommandStat is one cmdstat_<name> line of the commandstats section.
type CommandStat struct {
	Cmd           string // e.g. "get", "client|list"
	Calls         float64
	Usec          float64
	RejectedCalls float64
	FailedCalls   float64
}

// CommandStats returns the commandstats section.
func (in *Info) CommandStats() []CommandStat {
	var out []CommandStat
	for _, f := range in.Fields {
		cmd, ok := strings.CutPrefix(f.Key, "cmdstat_")
		if !ok || cmd == "" {
			continue
		}
		p := Pairs(f.Value)
		out = append(out, CommandStat{Cmd: cmd, Calls: num(p["calls"]), Usec: num(p["usec"]),
			RejectedCalls: num(p["rejected_calls"]), FailedCalls: num(p["failed_calls"])})
	}
	return out
}

// ErrorStat is one errorstat_<PREFIX>:count=N line.
type ErrorStat struct {
	Prefix string
	Count  float64
}

// ErrorStats returns the errorstats section (Redis 6.2+).
func (in *Info) ErrorStats() []ErrorStat {
	var out []ErrorStat
	for _, f := range in.Fields {
		prefix, ok := strings.CutPrefix(f.Key, "errorstat_")
		if !ok || prefix == "" {
			continue
		}
		out = append(out, ErrorStat{Prefix: prefix, Count: num(Pairs(f.Value)["count"])})
	}
	return out
}

// LatencyStat is one latency_percentiles_usec_<cmd> line (Redis 7+).
type LatencyStat struct {
	Cmd string
	// Percentiles maps the percentile as written ("50", "99", "99.9") to
	// microseconds.
	Percentiles map[string]float64
}

// LatencyStats returns the latencystats section.
func (in *Info) LatencyStats() []LatencyStat {
	var out []LatencyStat
	for _, f := range in.Fields {
		cmd, ok := strings.CutPrefix(f.Key, "latency_percentiles_usec_")
		if !ok || cmd == "" {
			continue
		}
		ls := LatencyStat{Cmd: cmd, Percentiles: map[string]float64{}}
		for k, v := range Pairs(f.Value) {
			p, ok := strings.CutPrefix(k, "p")
			if !ok {
				continue
			}
			if x, ok := ParseNumber(v); ok {
				ls.Percentiles[p] = x
			}
		}
		out = append(out, ls)
	}
	return out
}

// Keyspace is one dbN line of the keyspace section.
type Keyspace struct {
	DB      int
	Keys    float64
	Expires float64
	AvgTTL  float64 // milliseconds
}

// Keyspaces returns the keyspace section.
func (in *Info) Keyspaces() []Keyspace {
	var out []Keyspace
	for _, f := range in.Fields {
		if f.Section != "keyspace" {
			continue
		}
		n, ok := strings.CutPrefix(f.Key, "db")
		if !ok {
			continue
		}
		db, err := strconv.Atoi(n)
		if err != nil || db < 0 {
			continue
		}
		p := Pairs(f.Value)
		out = append(out, Keyspace{DB: db, Keys: num(p["keys"]), Expires: num(p["expires"]), AvgTTL: num(p["avg_ttl"])})
	}
	return out
}

// Replica is one slaveN line of a primary's replication section.
type Replica struct {
	IP, Port, State string
	Offset, Lag     float64
}

// Replicas returns the replicas a primary lists.
func (in *Info) Replicas() []Replica {
	var out []Replica
	for _, f := range in.Fields {
		n, ok := strings.CutPrefix(f.Key, "slave")
		if !ok || n == "" || strings.Trim(n, "0123456789") != "" {
			continue
		}
		p := Pairs(f.Value)
		out = append(out, Replica{IP: p["ip"], Port: p["port"], State: p["state"],
			Offset: num(p["offset"]), Lag: num(p["lag"])})
	}
	return out
}

func num(s string) float64 {
	f, _ := ParseNumber(s)
	return f
}
