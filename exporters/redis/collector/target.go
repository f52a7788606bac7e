package collector

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/outrigger/outrigger/exporters/redis/config"
	"github.com/outrigger/outrigger/exporters/redis/info"
	"github.com/outrigger/outrigger/internal/promkit"
)

// Target is one Redis server: its connection, the state kept between scrapes
// (for the hit ratio), and its key-group worker.
type Target struct {
	Name   string
	cfg    config.Resolved
	opts   config.Scrape
	logger *slog.Logger
	keys   []config.SingleKey
	conn   *Conn
	scan   *Scanner // nil without key groups

	mu         sync.Mutex
	prevHits   float64
	prevMisses float64
	prevRunID  string
	ownHits    float64 // key lookups the exporter itself made since the last INFO
	ownMisses  float64
	scrapes    float64
	durSum     float64                   // seconds, over every scrape of the target
	dbs        int                       // CONFIG databases, 0 until known
	config     map[string]float64        // CONFIG values, read once per server run
	configRun  string                    // run_id of the server CONFIG was read from
	fallback   map[string]promkit.Family // families of fields no table knows
}

// fallbackFamily returns the family of an INFO field no table knows (a
// newer server's), declared once per target.
func (t *Target) fallbackFamily(name string, f info.Field) promkit.Family {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fam, ok := t.fallback[name]; ok {
		return fam
	}
	if t.fallback == nil {
		t.fallback = map[string]promkit.Family{}
	}
	fam := promkit.Gauge(name, "Redis INFO field "+f.Key+" ("+f.Section+").")
	t.fallback[name] = fam
	return fam
}

// NewTarget prepares a target; nothing is dialled yet. Call Start to run its
// key-group worker and Close to stop everything.
// A nil logger discards.
func NewTarget(r config.Resolved, o config.Scrape, logger *slog.Logger) *Target {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("target", r.Name())
	t := &Target{Name: r.Name(), cfg: r, opts: o, logger: logger, keys: r.Keys(), conn: NewConn(r.RedisOptions(), r.Addr(), o.ClientName)}
	if groups := r.KeyGroups(); len(groups) > 0 {
		t.scan = NewScanner(t.conn, groups, o.Scan, logger)
	}
	return t
}

// Fingerprint identifies the target's configuration (for reloads).
func (t *Target) Fingerprint() string { return t.cfg.Fingerprint() }

// Addr is the target's address without credentials.
func (t *Target) Addr() string { return t.cfg.Addr() }

// RunBackground runs the key-group worker until ctx ends (it returns at once
// when the target has no key groups).
func (t *Target) RunBackground(ctx context.Context) {
	if t.scan != nil {
		t.scan.Run(ctx)
	}
}

// Close closes the connection. Stop RunBackground first.
func (t *Target) Close() error { return t.conn.Close() }

// Ready reports whether the target answers PING.
func (t *Target) Ready(ctx context.Context) error { return t.conn.Ping(ctx) }

// Scanner exposes the key-group worker (nil without key groups).
func (t *Target) Scanner() *Scanner { return t.scan }

// Start begins one scrape; it is the target's promkit.StartFunc.
func (t *Target) Start(ctx context.Context) *promkit.Run {
	s := &scrape{t: t, started: time.Now()}
	s.cmdDeadline = commandDeadline(ctx, s.started)
	r := &promkit.Runner{
		Namespace: "redis",
		Ordered:   true,
		Logger:    t.logger,
		Collectors: []promkit.Collector{
			promkit.CollectorFunc{ID: "info", Fn: s.collectInfo},
			promkit.CollectorFunc{ID: "config", Fn: s.collectConfig},
			promkit.CollectorFunc{ID: "cluster", Fn: s.collectCluster},
			promkit.CollectorFunc{ID: "clients", Fn: s.collectClients},
			promkit.CollectorFunc{ID: "slowlog", Fn: s.collectSlowlog},
			promkit.CollectorFunc{ID: "latency", Fn: s.collectLatency},
			promkit.CollectorFunc{ID: "keys", Fn: s.collectKeys},
			promkit.CollectorFunc{ID: "key_groups", Fn: s.collectKeyGroups},
			promkit.CollectorFunc{ID: "exporter", Fn: s.collectExporter},
		},
	}
	return r.Start(ctx)
}

// commandDeadline leaves a margin between the last Redis command and the end
// of the scrape, so that a stalled server still gets a complete answer
// (redis_up 0, every collector's success) before Prometheus gives up.
func commandDeadline(ctx context.Context, now time.Time) time.Time {
	dl, ok := ctx.Deadline()
	if !ok {
		return time.Time{}
	}
	margin := dl.Sub(now) / 5
	if margin > 100*time.Millisecond {
		margin = 100 * time.Millisecond
	}
	return dl.Add(-margin)
}

// hitRatio returns the share of key lookups that hit since the previous
// scrape of this target, and false when there were none (or the server
// restarted in between).
func (t *Target) hitRatio(hits, misses float64, runID string) (float64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	dh, dm := hits-t.prevHits-t.ownHits, misses-t.prevMisses-t.ownMisses
	t.ownHits, t.ownMisses = 0, 0
	valid := t.prevRunID != "" && t.prevRunID == runID && dh >= 0 && dm >= 0 && dh+dm > 0
	t.prevHits, t.prevMisses, t.prevRunID = hits, misses, runID
	if !valid {
		return 0, false
	}
	return dh / (dh + dm), true
}

func (t *Target) countScrape(d time.Duration) (n, sum float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.scrapes++
	t.durSum += d.Seconds()
	return t.scrapes, t.durSum
}

// ownLookups records key lookups the exporter made (single-key lengths), so
// that the hit ratio leaves them out.
func (t *Target) ownLookups(hits, misses float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ownHits += hits
	t.ownMisses += misses
}

// databases is how many databases the server has (16 until CONFIG says).
func (t *Target) databases() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dbs <= 0 || t.dbs > 1024 {
		return 16
	}
	return t.dbs
}

func (t *Target) setConfig(runID string, values map[string]float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.configRun, t.config, t.dbs = runID, values, int(values["databases"])
}

func (t *Target) configRunID() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.configRun
}

func (t *Target) configValues() map[string]float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.config
}
