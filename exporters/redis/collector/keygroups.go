package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/outrigger/outrigger/exporters/redis/config"
	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

var (
	groupKeysFamily   = promkit.Gauge("redis_key_group_keys", "Keys matching the group's pattern, as of the last complete background scan.", "db", "group")
	groupMemFamily    = promkit.Gauge("redis_key_group_memory_bytes", "Memory (MEMORY USAGE) of the keys matching the group's pattern, as of the last complete background scan.", "db", "group")
	keysCountFamily   = promkit.Gauge("redis_keys_count", "Count of keys matching a pattern (redis_exporter --count-keys compatible).", "db", "key")
	scanAgeFamily     = promkit.Gauge("redis_key_group_scan_age_seconds", "Time since the last complete key-group scan finished.")
	scanDurFamily     = promkit.Gauge("redis_key_group_scan_duration_seconds", "Wall time the last complete key-group scan took, across its cycles.")
	scanPassesFamily  = promkit.Counter("redis_key_group_scans_total", "Complete key-group scans since the exporter started.")
	keyGroupsMsFamily = promkit.Gauge("redis_last_key_groups_scrape_duration_milliseconds", "Wall time of the key-group pass served, in milliseconds (the incumbent's name; see redis_key_group_scan_duration_seconds).")
	scanScannedFamily = promkit.Gauge("redis_key_group_scanned_keys", "Keys the last complete scan went through, in all scanned databases.")
)

// Scanner counts the keys of configured groups with SCAN in the background:
// each cycle it works for at most its budget in short steps (one SCAN batch
// and the MEMORY USAGE of the batch's matching keys), taking turns with
// scrapes on the target's one connection; the cursor carries over to the next
// cycle until the pass completes, and only complete passes are served. Key
// names are matched and dropped batch by batch: memory does not grow with the
// keyspace.
type Scanner struct {
	conn   *Conn
	groups []config.KeyGroup
	globs  []Glob
	dbs    []int // the databases holding groups, ascending
	cfg    config.Scan
	logger *slog.Logger

	// Pass in progress, owned by Run's goroutine.
	dbIndex int
	cursor  uint64
	counts  []float64
	memory  []float64
	scanned float64
	began   time.Time

	mu     sync.Mutex
	result *ScanResult
	passes float64
}

// ScanResult is one complete pass.
type ScanResult struct {
	Finished time.Time
	Duration time.Duration
	Scanned  float64
	Keys     []float64 // by group, in configuration order
	Memory   []float64
}

// NewScanner prepares a worker for groups; Run starts it.
func NewScanner(conn *Conn, groups []config.KeyGroup, cfg config.Scan, logger *slog.Logger) *Scanner {
	s := &Scanner{conn: conn, groups: groups, cfg: cfg, logger: logger}
	seen := map[int]bool{}
	for _, g := range groups {
		s.globs = append(s.globs, CompileGlob(g.Pattern))
		if !seen[g.DB] {
			seen[g.DB] = true
			s.dbs = append(s.dbs, g.DB)
		}
	}
	sort.Ints(s.dbs)
	s.reset()
	return s
}

func (s *Scanner) reset() {
	s.dbIndex, s.cursor, s.scanned = 0, 0, 0
	s.counts = make([]float64, len(s.groups))
	s.memory = make([]float64, len(s.groups))
	s.began = time.Time{}
}

// Run scans until ctx ends: a cycle now, then one every interval.
func (s *Scanner) Run(ctx context.Context) {
	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	for {
		if err := s.Cycle(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("key-group scan failed; starting over next cycle", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Cycle works on the pass for at most the budget. It returns early when the
// pass completes (the next pass starts next cycle). A step is never cut off
// by the budget (a command timing out would cost the connection); it starts
// only while budget remains, and is bounded by stepTimeout.
func (s *Scanner) Cycle(ctx context.Context) error {
	end := time.Now().Add(s.cfg.Budget)
	for time.Now().Before(end) && ctx.Err() == nil {
		done, err := s.stepWithTimeout(ctx)
		if err != nil {
			s.reset()
			return err
		}
		if done {
			return nil
		}
	}
	return nil
}

// stepTimeout bounds one step: far above what a batch takes on a healthy
// server, it only matters when the server stalls.
const stepTimeout = 2 * time.Second

func (s *Scanner) stepWithTimeout(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	return s.step(ctx)
}

// step does one SCAN batch; done reports a completed pass.
func (s *Scanner) step(ctx context.Context) (done bool, err error) {
	if s.began.IsZero() {
		s.began = time.Now()
	}
	b, err := s.readBatch(ctx, s.dbs[s.dbIndex])
	if err != nil {
		return false, err
	}
	addBatch(s.counts, s.memory, b)
	s.scanned += float64(b.scanned)
	s.cursor = b.next
	if b.next != 0 {
		return false, nil
	}
	s.dbIndex++
	if s.dbIndex < len(s.dbs) {
		return false, nil
	}
	s.publish()
	s.reset()
	return true, nil
}

// batch is what one SCAN step found: the keys that matched a group, with
// the groups each matched and its memory (nil without MEMORY USAGE).
type batch struct {
	scanned int
	next    uint64
	keys    []string
	groups  [][]int
	memory  []float64
}

// readBatch runs one SCAN of db from the pass's cursor and the MEMORY USAGE
// of the keys that match a group, in one turn on the connection.
func (s *Scanner) readBatch(ctx context.Context, db int) (batch, error) {
	var b batch
	var mem []*redis.IntCmd
	err := s.conn.With(ctx, func(ctx context.Context, cl *redis.Client) error {
		if err := s.conn.Select(ctx, cl, db); err != nil {
			return err
		}
		keys, next, err := cl.Scan(ctx, s.cursor, "", int64(s.cfg.Batch)).Result()
		if err != nil {
			return fmt.Errorf("scanning db %d: %w", db, err)
		}
		b.scanned, b.next = len(keys), next
		b.keys, b.groups = matchKeys(keys, db, s.groups, s.globs)
		if len(b.keys) == 0 || !s.conn.Enabled(FeatMemory) {
			return nil
		}
		mem = make([]*redis.IntCmd, 0, len(b.keys))
		_, err = cl.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range b.keys {
				mem = append(mem, p.MemoryUsage(ctx, k))
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) && !IsServerError(err) {
			return fmt.Errorf("reading MEMORY USAGE in db %d: %w", db, err)
		}
		return nil
	})
	if err != nil {
		return batch{}, err
	}
	if mem != nil {
		b.memory = make([]float64, len(mem))
		for i, c := range mem {
			if s.conn.Refused(FeatMemory, c.Err()) {
				s.logger.Warn("MEMORY USAGE refused; key groups report counts only", "err", c.Err())
			}
			b.memory[i] = float64(c.Val()) // 0 when the key expired in between
		}
	}
	return b, nil
}

// matchKeys keeps the keys of db that match a group, each with the indexes
// of the groups it matches.
func matchKeys(keys []string, db int, groups []config.KeyGroup, globs []Glob) (matched []string, in [][]int) {
	for _, k := range keys {
		var gs []int
		for gi, g := range groups {
			if g.DB == db && globs[gi].Match(k) {
				gs = append(gs, gi)
			}
		}
		if len(gs) > 0 {
			matched = append(matched, k)
			in = append(in, gs)
		}
	}
	return matched, in
}

// addBatch adds a batch's matching keys to the pass's per-group counts and
// memory.
func addBatch(counts, memory []float64, b batch) {
	for i, gs := range b.groups {
		var bytes float64
		if b.memory != nil {
			bytes = b.memory[i]
		}
		for _, gi := range gs {
			counts[gi]++
			memory[gi] += bytes
		}
	}
}

func (s *Scanner) publish() {
	r := &ScanResult{Finished: time.Now(), Duration: time.Since(s.began), Scanned: s.scanned,
		Keys: append([]float64(nil), s.counts...), Memory: append([]float64(nil), s.memory...)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.result = r
	s.passes++
}

// Result returns the last complete pass, or nil before the first.
func (s *Scanner) Result() *ScanResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.result
}

// Collect sends the last complete pass with its age; nothing per group
// before the first pass completes (a partial count would look like a drop).
func (s *Scanner) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	r, passes := s.result, s.passes
	s.mu.Unlock()
	scanPassesFamily.Send(ch, passes)
	if r == nil {
		return
	}
	scanAgeFamily.Send(ch, time.Since(r.Finished).Seconds())
	scanDurFamily.Send(ch, r.Duration.Seconds())
	keyGroupsMsFamily.Send(ch, float64(r.Duration.Milliseconds()))
	scanScannedFamily.Send(ch, r.Scanned)
	for i, g := range s.groups {
		groupKeysFamily.Send(ch, r.Keys[i], dbLabel(g.DB), g.Name)
		groupMemFamily.Send(ch, r.Memory[i], dbLabel(g.DB), g.Name)
		keysCountFamily.Send(ch, r.Keys[i], dbLabel(g.DB), g.Pattern)
	}
}

func (s *scrape) collectKeyGroups(_ context.Context, ch chan<- prometheus.Metric) error {
	if s.t.scan == nil {
		keyGroupsMsFamily.Send(ch, 0)
		return promkit.ErrSkipped
	}
	s.t.scan.Collect(ch)
	return nil
}
