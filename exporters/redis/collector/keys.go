package collector

import (
	"context"
	"fmt"
	"sort"

	"github.com/outrigger/outrigger/exporters/redis/config"
	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

var (
	keySizeFamily = promkit.Gauge("redis_key_size", "The length or size of a configured single key (0 when it does not exist).", "db", "key")
)

// lengthCommands gives the command that measures a key of each type.
var lengthCommands = map[string]string{
	"list": "LLEN", "set": "SCARD", "zset": "ZCARD", "hash": "HLEN", "stream": "XLEN", "string": "STRLEN",
}

// collectKeys reports the length of each configured single key with the
// command its type calls for (TYPE first, so no command fails WRONGTYPE).
func (s *scrape) collectKeys(ctx context.Context, ch chan<- prometheus.Metric) error {
	keys := s.t.keys
	if len(keys) == 0 {
		return promkit.ErrSkipped
	}
	if !s.up {
		return errDown
	}
	var read []keyReading
	err := s.do(ctx, func(ctx context.Context, cl *redis.Client) error {
		for _, d := range keysByDB(keys) {
			r, err := s.readKeys(ctx, cl, d)
			read = append(read, r...)
			if err != nil {
				return err
			}
		}
		return nil
	})
	var hits, misses float64
	for _, r := range read {
		h, m := r.lookups()
		hits, misses = hits+h, misses+m
	}
	s.t.ownLookups(hits, misses)
	if err != nil {
		return err
	}
	for _, r := range read {
		keySizeFamily.Send(ch, r.size(), dbLabel(r.db), r.key)
	}
	return nil
}

// dbKeys are the configured single keys of one database.
type dbKeys struct {
	db   int
	keys []string
}

// keysByDB groups keys by database, databases ascending, keys in
// configuration order, each once.
func keysByDB(keys []config.SingleKey) []dbKeys {
	var out []dbKeys
	index := map[int]int{}
	seen := map[config.SingleKey]bool{}
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		i, ok := index[k.DB]
		if !ok {
			i = len(out)
			index[k.DB] = i
			out = append(out, dbKeys{db: k.DB})
		}
		out[i].keys = append(out[i].keys, k.Key)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].db < out[j].db })
	return out
}

// keyReading is what TYPE and the length command said of one key.
type keyReading struct {
	db       int
	key      string
	typ      string // "none" when the key does not exist
	length   int64
	measured bool // the type has a length command, which was sent
}

// size is the key's redis_key_size: 0 for a missing key or a type without
// a length.
func (r keyReading) size() float64 {
	if r.typ == "none" || !r.measured {
		return 0
	}
	return float64(r.length)
}

// lookups are the keyspace hits and misses reading the key cost (TYPE and
// the length command each count), for the hit ratio to leave out.
func (r keyReading) lookups() (hits, misses float64) {
	switch {
	case r.typ == "none":
		return 0, 1
	case r.measured:
		return 2, 0
	default:
		return 1, 0
	}
}

// readKeys sends TYPE for the keys of one database, then the length
// command of each key's type.
func (s *scrape) readKeys(ctx context.Context, cl *redis.Client, d dbKeys) ([]keyReading, error) {
	if err := s.t.conn.Select(ctx, cl, d.db); err != nil {
		return nil, err
	}
	types := make([]*redis.StatusCmd, len(d.keys))
	if _, err := cl.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range d.keys {
			types[i] = p.Type(ctx, k)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading key types in db %d: %w", d.db, err)
	}
	lens := make([]*redis.Cmd, len(types))
	if _, err := cl.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range d.keys {
			if c, ok := lengthCommands[types[i].Val()]; ok {
				lens[i] = p.Do(ctx, c, k)
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading key lengths in db %d: %w", d.db, err)
	}
	out := make([]keyReading, len(d.keys))
	for i, k := range d.keys {
		out[i] = keyReading{db: d.db, key: k, typ: types[i].Val(), measured: lens[i] != nil}
		if lens[i] != nil {
			out[i].length, _ = lens[i].Int64()
		}
	}
	return out, nil
}
