package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/exporters/postgres/config"
	"github.com/outrigger/outrigger/internal/promkit"
)

// Namespace is the prefix promkit gives the families it adds: the runner's
// pg_scrape_collector_* and the server's pg_exporter_build_info. The
// collectors' own families are declared by their full names.
const Namespace = "pg"

// Options shape what a target collects: the validated collector flags
// (config.ValidatedConfig.Collector; a zero field falls back to the default
// named in its comment) and what main wires in.
type Options struct {
	config.Collector
	// Queries returns the custom queries in force (reloadable); may be nil.
	Queries func() []config.Query
	Logger  *slog.Logger
}

func (o *Options) defaults() {
	if o.TopNames <= 0 {
		o.TopNames = 10
	}
	if o.NameRetention <= 0 {
		o.NameRetention = 15 * time.Minute
	}
	if len(o.QueryThresholds) == 0 {
		o.QueryThresholds = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 300 * time.Second}
	}
	if o.LongTransaction <= 0 {
		o.LongTransaction = time.Minute
	}
	if o.StatementsTopN == 0 {
		o.StatementsTopN = 20
	}
	if o.Databases.MaxConnections <= 0 {
		o.Databases.MaxConnections = 1
	}
	if o.Databases.TablesLimit <= 0 {
		o.Databases.TablesLimit = 10
	}
	if o.Databases.IndexesLimit <= 0 {
		o.Databases.IndexesLimit = 10
	}
	if o.Databases.TTL <= 0 {
		o.Databases.TTL = 5 * time.Minute
	}
	if o.Databases.Timeout <= 0 {
		o.Databases.Timeout = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Target is one PostgreSQL server: its connection and what the exporter
// remembers between scrapes (sticky label names, caches, last scrape).
type Target struct {
	conn *Conn
	opts Options
	// extra caps the connections opened to other databases.
	extra chan struct{}

	apps, users *stickyNames
	groups      *stickyGroups

	mu         sync.Mutex
	last       lastScrape
	sizeCache  cachedMetrics
	dbCache    map[string]cachedMetrics
	queryCache map[string]cachedMetrics
	// settingFamilies caches the family of every pg_settings_* metric.
	settingFamilies map[string]promkit.Family

	extraConnects atomic.Uint64
}

type lastScrape struct {
	scrapes  uint64
	failed   bool
	duration time.Duration
}

type cachedMetrics struct {
	at      time.Time
	metrics []prometheus.Metric
}

// NewTarget returns a target that connects on its first scrape.
func NewTarget(cfg *pgx.ConnConfig, opts Options) *Target {
	opts.defaults()
	return &Target{
		conn:       NewConn(cfg),
		opts:       opts,
		extra:      make(chan struct{}, opts.Databases.MaxConnections),
		apps:       newStickyNames(opts.TopNames, opts.NameRetention),
		users:      newStickyNames(opts.TopNames, opts.NameRetention),
		groups:     newStickyGroups(opts.NameRetention, 2000),
		dbCache:    map[string]cachedMetrics{},
		queryCache: map[string]cachedMetrics{},

		settingFamilies: map[string]promkit.Family{},
	}
}

// Conn is the target's connection.
func (t *Target) Conn() *Conn { return t.conn }

// Connects counts every connection opened, extra ones included.
func (t *Target) Connects() uint64 { return t.conn.Connects() + t.extraConnects.Load() }

// Close closes the target's connection.
func (t *Target) Close(ctx context.Context) { t.conn.Close(ctx) }

// Ready reports whether a trivial query succeeds now. The error names the
// endpoint, never credentials.
func (t *Target) Ready(ctx context.Context) error {
	err := t.conn.Query(ctx, "SELECT 1", func(pgx.Rows) error { return nil })
	if err != nil {
		return fmt.Errorf("postgres at %s is not answering: %w", t.conn.Endpoint(), cleanErr(err))
	}
	return nil
}

// cleanErr keeps error text free of anything but the server's message.
func cleanErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return err
}

// Start begins one collection: the collectors run one after another on the
// target's connection, cheap lock-free views first and lock-prone ones last.
func (t *Target) Start(ctx context.Context) *promkit.Run {
	s := &scrape{t: t, start: time.Now()}
	collectors := []promkit.Collector{
		promkit.CollectorFunc{ID: "up", Fn: s.up},
		promkit.CollectorFunc{ID: "activity", Fn: s.activity},
		promkit.CollectorFunc{ID: "settings", Fn: s.settings},
		promkit.CollectorFunc{ID: "stat_database", Fn: s.statDatabase},
		promkit.CollectorFunc{ID: "replication", Fn: s.replication},
		promkit.CollectorFunc{ID: "bgwriter", Fn: s.bgwriter},
	}
	if t.opts.StatementsTopN > 0 {
		collectors = append(collectors, promkit.CollectorFunc{ID: "statements", Fn: s.statements})
	}
	if t.opts.Queries != nil {
		for _, q := range t.opts.Queries() {
			collectors = append(collectors, promkit.CollectorFunc{ID: "query:" + q.Name, Fn: s.customQuery(q)})
		}
	}
	collectors = append(collectors,
		promkit.CollectorFunc{ID: "locks", Fn: s.locks},
		promkit.CollectorFunc{ID: "database_size", Fn: s.databaseSize},
		promkit.CollectorFunc{ID: "tables", Fn: s.tables},
	)
	runner := &promkit.Runner{Namespace: Namespace, Collectors: collectors, Ordered: true, Logger: t.opts.Logger}
	run := runner.Start(ctx)
	go func() {
		<-run.Done()
		t.mu.Lock()
		defer t.mu.Unlock()
		t.last = lastScrape{scrapes: t.last.scrapes + 1, failed: len(run.Errors()) > 0, duration: time.Since(s.start)}
	}()
	return run
}

// scrape is the state of one collection.
type scrape struct {
	t       *Target
	start   time.Time
	isUp    atomic.Bool
	version atomic.Int64 // server_version_num
}

var errDown = errors.New("postgres is down: skipped")

// query runs sql on the target's connection once the up check passed.
func (s *scrape) query(ctx context.Context, sql string, scan func(pgx.Rows) error) error {
	if !s.isUp.Load() {
		return errDown
	}
	return s.t.conn.Query(ctx, sql, scan)
}
