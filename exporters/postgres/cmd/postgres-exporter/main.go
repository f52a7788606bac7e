// Command postgres-exporter is a Prometheus exporter for PostgreSQL: the
// connection pool first, safe under locks and load, with postgres_exporter's
// metric names.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/outrigger/outrigger/exporters/postgres/collector"
	"github.com/outrigger/outrigger/exporters/postgres/config"
	"github.com/outrigger/outrigger/internal/promkit"
)

const envPrefix = "PG_EXPORTER_"

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	app := kingpin.New("postgres-exporter", "Prometheus exporter for PostgreSQL: connection pool view, locks, statements, and postgres_exporter's metric names.")
	common := promkit.AddFlags(app, promkit.Defaults{Service: "postgres-exporter", ListenAddress: ":9187", EnvPrefix: envPrefix})
	var c config.Config
	configCheck := addFlags(app, common.Flag, &c)
	vc, code, done := promkit.Parse(app, common, args, os.Stderr)
	if done {
		return code
	}
	cfg, err := c.Validate()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", app.Name, err)
		return 2
	}
	if *configCheck {
		fmt.Printf("%s: configuration is valid (%d custom queries, %d auth modules)\n", app.Name,
			len(cfg.File().Queries), len(cfg.File().AuthModules))
		return 0
	}
	return serve(vc, cfg)
}

// addFlags declares the exporter's own flags, which fill c; the result is
// --config.check.
func addFlags(app *kingpin.Application, flag func(name, help string) *kingpin.FlagClause, c *config.Config) *bool {
	app.Flag("postgres.dsn", "PostgreSQL connection string, URI (postgres://user@host:5432/db?sslmode=disable) or key=value. Keep the password out of it: use --postgres.password-file.").
		Envar("DATA_SOURCE_NAME").Default("postgres://postgres@localhost:5432/postgres?sslmode=disable").StringVar(&c.DSN)
	flag("postgres.password-file", "File holding the password (a mounted secret).").StringVar(&c.PasswordFile)
	flag("postgres.statement-timeout", "Session statement_timeout: the server ends any exporter query running longer.").
		Default("5s").DurationVar(&c.Conn.StatementTimeout)
	flag("postgres.lock-timeout", "Session lock_timeout: an exporter query gives up waiting for a lock after this.").
		Default("500ms").DurationVar(&c.Conn.LockTimeout)
	flag("postgres.connect-timeout", "Bound of one connection attempt.").Default("5s").DurationVar(&c.Conn.ConnectTimeout)
	flag("config.file", "YAML file with custom queries and the auth modules of /probe; reloaded on SIGHUP.").StringVar(&c.ConfigFile)
	configCheck := flag("config.check", "Validate the flags and the configuration file, then exit.").Bool()
	flag("collector.activity.top-names", "Application and user names with their own label value in the pool view; the rest are \"other\".").
		Default("10").IntVar(&c.TopNames)
	flag("collector.activity.label-retention", "How long a pool-view label group is kept (at 0) after its sessions left.").
		Default("15m").DurationVar(&c.NameRetention)
	flag("collector.activity.query-threshold", "Age above which running queries are counted; repeatable.").
		Default("1s", "5s", "30s", "300s").DurationListVar(&c.QueryThresholds)
	flag("collector.activity.long-transaction", "Age above which a transaction counts as long running.").
		Default("1m").DurationVar(&c.LongTransaction)
	flag("collector.statements.top-n", "pg_stat_statements entries with their own series (by total time); the rest are \"other\". 0 disables.").
		Default("20").IntVar(&c.StatementsTopN)
	flag("collector.database-size.ttl", "How long pg_database_size results are reused.").Default("1m").DurationVar(&c.DatabaseSizeTTL)
	flag("collector.databases", "Read table statistics from every matched database, not only the DSN's (one extra short-lived connection at a time).").
		Default("true").BoolVar(&c.Databases)
	flag("collector.databases.include", "Regular expression of the databases to read.").Default(".*").StringVar(&c.DatabasesInclude)
	flag("collector.databases.exclude", "Regular expression of the databases to leave out.").Default("").StringVar(&c.DatabasesExclude)
	flag("collector.databases.ttl", "How long one database's statistics are reused before reading it again.").
		Default("5m").DurationVar(&c.DatabasesTTL)
	flag("collector.databases.timeout", "Time budget for reading one database.").Default("2s").DurationVar(&c.DatabasesTimeout)
	flag("collector.databases.max-connections", "Extra connections open at once for database-scoped statistics.").
		Default("1").IntVar(&c.DatabasesMaxConnections)
	flag("collector.tables.limit", "Tables per database (by live+dead tuples) with pg_stat_user_tables series.").
		Default("10").IntVar(&c.TablesLimit)
	flag("collector.indexes.limit", "Indexes per database (by size) with pg_stat_user_indexes series.").
		Default("10").IntVar(&c.IndexesLimit)
	flag("probe.max-targets", "Most /probe targets held (one connection each); the least recently used is closed first.").
		Default("32").IntVar(&c.MaxProbeTargets)

	return configCheck
}

// serve runs the exporter until it is told to stop.
func serve(vc promkit.ValidatedConfig, cfg config.ValidatedConfig) int {
	logger := vc.Logger()

	var file atomic.Pointer[config.File]
	file.Store(cfg.File())
	opts := collector.Options{Collector: cfg.Collector(), Queries: func() []config.Query { return file.Load().Queries }, Logger: logger}
	target := collector.NewTarget(cfg.ConnConfig(), opts)
	probes := &collector.Probes{Conn: cfg.ConnOptions(), Options: opts, File: file.Load, Max: cfg.MaxProbeTargets(),
		DSNHosts: cfg.DSNHosts()}

	srv, err := promkit.NewServer(vc, promkit.Options{
		Namespace:   collector.Namespace,
		Description: "Prometheus exporter for PostgreSQL",
		Ready:       target.Ready,
		Target: func(*http.Request) (string, promkit.StartFunc, error) {
			return "default", target.Start, nil
		},
		Links: []web.LandingLinks{{Address: "/probe?target=localhost:5432/postgres", Text: "Probe (multi-target)"}},
	})
	if err != nil {
		logger.Error("building the server", "err", err)
		return 1
	}
	srv.Handle("/probe", srv.ScrapeHandler(probes.TargetFunc))
	srv.Registry().MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "pg_exporter_connections_opened_total",
		Help: "Connections the exporter opened to its target (the main one and database-scoped ones).",
	}, func() float64 { return float64(target.Connects()) }))
	srv.Registry().MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "pg_exporter_queries_total",
		Help: "Queries the exporter sent to its target.",
	}, func() float64 { return float64(target.Conn().Queries()) }))

	ctx := context.Background()
	reload := func() error {
		if cfg.ConfigFile() == "" {
			return nil
		}
		f, err := config.LoadFile(cfg.ConfigFile())
		if err != nil {
			return err
		}
		file.Store(f)
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		probes.Reset(rctx)
		return nil
	}
	err = srv.Run(ctx, reload)
	closeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	target.Close(closeCtx)
	probes.Reset(closeCtx)
	if err != nil {
		logger.Error("serving", "err", err)
		return 1
	}
	return 0
}
