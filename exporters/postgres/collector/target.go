package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/exporters/postgres/config"
	"github.com/outrigger/outrigger/internal/promkit"
)

// Namespace prefixes every metric, as postgres_exporter's do.
const Namespace = "pg"

// Options shape what a target collects. The zero value of a field falls back
// to the default named in its comment.
type Options struct {
	// TopNames is how many application and user names get their own label
	// value in the pool view; the rest are "other" (default 10).
	TopNames int
	// NameRetention is how long a label group stays (at 0) after it was last
	// seen, so series do not come and go (default 15m).
	NameRetention time.Duration
	// QueryThresholds are the ages above which running queries are counted
	// (default 1s, 5s, 30s, 300s).
	QueryThresholds []time.Duration
	// LongTransaction is the age above which a transaction counts as long
	// running (default 1m).
	LongTransaction time.Duration
	// StatementsTopN is how many pg_stat_statements entries get their own
	// series (default 20; negative disables the collector).
	StatementsTopN int
	// DatabaseSizeTTL caches pg_database_size, which stats every file.
	DatabaseSizeTTL time.Duration
	// Databases are the database-scoped statistics.
	Databases DatabaseOptions
	// Queries returns the custom queries in force (reloadable); may be nil.
	Queries func() []config.Query
	Logger  *slog.Logger
}

// DatabaseOptions select the databases whose table statistics are read.
type DatabaseOptions struct {
	// Enabled reads every matched database; otherwise only the DSN's.
	Enabled bool
	Include *regexp.Regexp
	Exclude *regexp.Regexp
	// TTL is how long one database's statistics are served from cache.
	TTL time.Duration
	// Timeout bounds the reading of one database.
	Timeout time.Duration
	// MaxConnections caps the extra connections open at once (default 1).
	MaxConnections int
	// TablesLimit is how many tables (by live+dead tuples) per database get
	// series (default 10).
	TablesLimit int
	// IndexesLimit is how many indexes (by size) per database get
	// series (default 10).
	IndexesLimit int
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
	// settingDescs caches the Desc of every pg_settings_* metric.
	settingDescs map[string]*prometheus.Desc

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
		conn:       NewConn(cfg, opts.Logger),
		opts:       opts,
		extra:      make(chan struct{}, opts.Databases.MaxConnections),
		apps:       newStickyNames(opts.TopNames, opts.NameRetention),
		users:      newStickyNames(opts.TopNames, opts.NameRetention),
		groups:     newStickyGroups(opts.NameRetention, 2000),
		dbCache:    map[string]cachedMetrics{},
		queryCache: map[string]cachedMetrics{},

		settingDescs: map[string]*prometheus.Desc{},
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

// column is one value column of a statistics view: the metric name's suffix,
// its type and help.
type column struct {
	column string
	typ    prometheus.ValueType
	help   string
}

// columnDescs makes the Desc of each column, named prefix+column.
func columnDescs(prefix string, cols []column, labels ...string) []*prometheus.Desc {
	out := make([]*prometheus.Desc, len(cols))
	for i, c := range cols {
		out[i] = desc(prefix+c.column, c.help, labels...)
	}
	return out
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(Namespace+"_"+name, help, labels, nil)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- promkit.ConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- promkit.ConstMetric(d, prometheus.CounterValue, v, labels...)
}
