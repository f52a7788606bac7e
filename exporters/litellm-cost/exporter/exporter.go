package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/exporters/litellm-cost/config"
	"github.com/outrigger/outrigger/exporters/litellm-cost/litellm"
	"github.com/outrigger/outrigger/exporters/litellm-cost/proxyapi"
)

// Exporter reads the proxy's tables in the background and serves the result.
type Exporter struct {
	cfg    config.ValidatedConfig
	logger *slog.Logger

	// refreshMu serialises refreshes: it guards the connection, the schema
	// and the incremental state below.
	refreshMu sync.Mutex
	conn      *pgx.Conn
	schema    *litellm.Schema
	usage     *dailyState
	tags      *dailyState
	spend     *spendState

	mu        sync.RWMutex
	snap      *snapshot
	firstDone chan struct{}
	firstOnce sync.Once

	self selfMetrics

	// HTTP mode (nil in database mode); guarded by refreshMu.
	api        *proxyapi.Client
	apiTeams   map[string]string
	apiKeyMeta map[string]proxyapi.KeyMeta
	apiBudgets struct {
		at         time.Time
		scopes     []litellm.BudgetScope
		orgsUnseen int
	}
}

// snapshot is what scrapes read: immutable once published.
type snapshot struct {
	dbErr   error    // connecting or detecting the schema failed
	missing []string // readiness tables that do not exist
	schema  *litellm.Schema
	budgets part[[]litellm.BudgetScope]
	// members: the teams' member counts, read with the budgets (database
	// mode only).
	members  []litellm.TeamMembers
	usage    part[*usageView]
	tags     part[*usageView]
	spend    part[*spendView]
	spendOff bool
	// orgsUnseen (HTTP mode): organizations teams refer to that
	// /organization/list did not return; -1 before the first listing.
	orgsUnseen int
}

// part is one refresh step's last good result and its latest error.
type part[T any] struct {
	at   time.Time // when data was read (zero: never)
	data T
	err  error
}

// New builds an exporter; nothing connects until Refresh or Run.
func New(cfg config.ValidatedConfig, logger *slog.Logger) *Exporter {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Exporter{
		cfg: cfg, logger: logger, firstDone: make(chan struct{}),
		usage: newDailyState(cfg.MaxSeries()),
		tags:  newDailyState(cfg.MaxSeries()),
		spend: newSpendState(cfg.MaxSeries()),
		snap:  &snapshot{},
		self:  newSelfMetrics(),
	}
	if cfg.HTTPMode() {
		e.api = newAPIClient(e)
		e.apiTeams, e.apiKeyMeta = map[string]string{}, map[string]proxyapi.KeyMeta{}
	}
	return e
}

// Run refreshes at once and then every interval until ctx ends, then closes
// the connection.
func (e *Exporter) Run(ctx context.Context) {
	t := time.NewTicker(e.cfg.RefreshInterval())
	defer t.Stop()
	for {
		e.Refresh(ctx)
		select {
		case <-ctx.Done():
			e.Close(context.WithoutCancel(ctx))
			return
		case <-t.C:
		}
	}
}

// Close closes the connection.
func (e *Exporter) Close(ctx context.Context) {
	e.refreshMu.Lock()
	defer e.refreshMu.Unlock()
	e.dropConn(ctx)
	if e.api != nil {
		e.api.Close()
	}
}

func (e *Exporter) dropConn(ctx context.Context) {
	if e.conn != nil {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_ = e.conn.Close(cctx)
		cancel()
		e.conn, e.schema = nil, nil
	}
}

// Refresh reads everything once, bounded by the refresh timeout, and
// publishes the result for scrapes.
func (e *Exporter) Refresh(ctx context.Context) {
	e.refreshMu.Lock()
	defer e.refreshMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, e.cfg.RefreshTimeout())
	defer cancel()
	start := time.Now()

	e.mu.RLock()
	prev := *e.snap
	e.mu.RUnlock()
	next := prev

	// A connection that broke since the last refresh is only noticed when a
	// query fails on it: then reconnect (and read the schema again) at once.
	for attempt := 0; attempt < 2 && e.api == nil; attempt++ {
		next.dbErr, next.missing = nil, nil
		hadConn := e.conn != nil
		if err := e.ensureConn(ctx); err != nil {
			next.dbErr = err
			for _, p := range []*error{&next.budgets.err, &next.usage.err, &next.tags.err, &next.spend.err} {
				*p = err
			}
			break
		}
		next.schema = e.schema
		next.missing = e.schema.Missing(litellm.ReadinessTables()...)
		e.refreshParts(ctx, &next)
		if !hadConn || e.conn != nil || ctx.Err() != nil {
			break
		}
	}
	if e.api != nil {
		e.refreshAPI(ctx, &next)
	}
	ok := next.dbErr == nil && next.budgets.err == nil && next.usage.err == nil && next.tags.err == nil && next.spend.err == nil
	e.self.refreshed(ok, time.Since(start))

	e.mu.Lock()
	e.snap = &next
	e.mu.Unlock()
	e.firstOnce.Do(func() { close(e.firstDone) })
}

func (e *Exporter) refreshParts(ctx context.Context, next *snapshot) {
	now := e.cfg.Now()
	next.spendOff = !e.cfg.SpendLogs() || !e.schema.CanReadSpendLogs()
	steps := []refreshStep{
		{"budgets", &next.budgets.err, func() error {
			b, err := litellm.ReadBudgets(ctx, e.conn, e.schema, e.cfg.MaxSeries())
			if err != nil {
				return err
			}
			members, err := litellm.ReadTeamMembers(ctx, e.conn, e.schema)
			if err == nil {
				next.budgets.data, next.budgets.at, next.members = b, now, members
			}
			return err
		}},
		{"daily usage", &next.usage.err, func() error {
			v, err := e.usage.refresh(ctx, dbDays{e.conn, e.schema, litellm.DailyUsage}, proxyDays, now)
			if err == nil {
				v, err = e.resolveUsage(ctx, v)
			}
			if err == nil {
				next.usage.data, next.usage.at = v, now
			}
			return err
		}},
		{"daily tag usage", &next.tags.err, func() error {
			v, err := e.tags.refresh(ctx, dbDays{e.conn, e.schema, litellm.DailyTags}, proxyDays, now)
			if err == nil {
				next.tags.data, next.tags.at = v, now
			}
			return err
		}},
		{"spend logs", &next.spend.err, func() error {
			if next.spendOff {
				return nil
			}
			w := e.cfg.SpendLogWindow()
			v, rows, err := e.spend.refresh(ctx, e.conn, e.schema, now,
				spendWindow{lag: w.Lag, lookback: w.Lookback, longEvery: w.LookbackInterval, maxWindow: w.MaxWindow})
			e.self.spendRows.Add(float64(rows))
			if err == nil {
				next.spend.data, next.spend.at = v, now
			}
			return err
		}},
	}
	e.runSteps(steps, func(err error) (lost bool) {
		e.afterError(ctx, err)
		return e.conn == nil
	})
}

// refreshStep is one part of a refresh: what it reads and where its error goes.
type refreshStep struct {
	name string
	err  *error
	run  func() error
}

// runSteps runs the steps in order, logging each failure (scrubbed of
// secrets) and handing it to failed; once failed says the source is lost,
// the remaining steps fail with that error without running.
func (e *Exporter) runSteps(steps []refreshStep, failed func(error) (lost bool)) {
	var lost error
	for _, st := range steps {
		if lost != nil {
			*st.err = lost
			continue
		}
		err := st.run()
		if err != nil {
			err = e.scrub(fmt.Errorf("refreshing %s: %w", st.name, err))
			e.logger.Warn("refresh failed", "part", st.name, "err", err)
			if failed(err) {
				lost = err
			}
		}
		*st.err = err
	}
}

// afterError drops a broken connection (it is reopened, and the schema read
// again, on the next refresh) and forgets the schema when a table or column
// went away under us.
func (e *Exporter) afterError(ctx context.Context, err error) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "42703") {
		e.logger.Info("the schema changed; reading it again on the next refresh")
		e.dropConn(ctx)
		return
	}
	if e.conn != nil && e.conn.IsClosed() {
		e.conn, e.schema = nil, nil
	}
}

func (e *Exporter) ensureConn(ctx context.Context) error {
	if e.conn != nil && !e.conn.IsClosed() {
		return nil
	}
	e.conn, e.schema = nil, nil
	timeout := e.cfg.RefreshTimeout()
	cc := e.cfg.ConnConfig()
	cc.RuntimeParams["application_name"] = "litellm-exporter"
	// Read-only by construction, and never a query that outlives a refresh.
	cc.RuntimeParams["default_transaction_read_only"] = "on"
	cc.RuntimeParams["statement_timeout"] = fmt.Sprint(timeout.Milliseconds())
	if s := e.cfg.Schema(); s != "" {
		cc.RuntimeParams["search_path"] = s
	}
	if cc.ConnectTimeout == 0 || cc.ConnectTimeout > timeout {
		cc.ConnectTimeout = timeout
	}
	e.self.connects.Inc()
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		err = e.scrub(fmt.Errorf("database unreachable: %w", err))
		e.logger.Warn("connecting failed", "err", err)
		return err
	}
	schema, err := litellm.DetectSchema(ctx, conn)
	if err != nil {
		_ = conn.Close(ctx)
		return e.scrub(fmt.Errorf("database unreachable: %w", err))
	}
	e.conn, e.schema = conn, schema
	e.logger.Info("connected", "litellm_tables", len(schema.Tables()))
	return nil
}

// scrub removes the password from an error text, should a driver ever echo it.
func (e *Exporter) scrub(err error) error {
	if err == nil {
		return nil
	}
	// Secrets this short would mangle ordinary words ("tcp" for "p") and
	// are not worth hiding; drivers do not echo passwords in any case.
	msg := err.Error()
	for _, pw := range e.cfg.Secrets() {
		if len(pw) >= 4 {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	if msg != err.Error() {
		return scrubbed{msg: msg, err: err}
	}
	return err
}

type scrubbed struct {
	msg string
	err error
}

func (s scrubbed) Error() string { return s.msg }
func (s scrubbed) Unwrap() error { return s.err }

func (e *Exporter) current(ctx context.Context) (*snapshot, error) {
	select {
	case <-e.firstDone:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the first refresh: %w", ctx.Err())
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.snap, nil
}

// Ready reports whether the database answered the last refresh and holds
// the proxy's tables (in HTTP mode: whether the proxy answered and took the
// master key). Its text is shown on /ready; it carries no secret.
func (e *Exporter) Ready(ctx context.Context) error {
	s, err := e.current(ctx)
	if err != nil {
		return err
	}
	if s.dbErr != nil {
		return s.dbErr
	}
	if len(s.missing) > 0 {
		return fmt.Errorf("LiteLLM tables missing (is this the proxy's database, and has it migrated?): %s",
			strings.Join(s.missing, ", "))
	}
	return nil
}

// SelfCollectors are the exporter's own counters, for the daemon's registry.
func (e *Exporter) SelfCollectors() []prometheus.Collector { return e.self.collectors() }
