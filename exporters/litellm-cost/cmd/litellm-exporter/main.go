// Command litellm-exporter serves the LiteLLM proxy's spend, token and budget
// accounting, read from the proxy's own PostgreSQL tables (or, in HTTP mode,
// from the proxy's management API with the master key), as Prometheus metrics.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"
	// The image is FROM scratch: --time-zone needs the zone database built in.
	_ "time/tzdata"

	"github.com/alecthomas/kingpin/v2"

	"github.com/outrigger/outrigger/exporters/litellm-cost/config"
	"github.com/outrigger/outrigger/exporters/litellm-cost/exporter"
	"github.com/outrigger/outrigger/internal/promkit"
)

const envPrefix = "LITELLM_EXPORTER_"

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	app := kingpin.New("litellm-exporter", "Prometheus exporter for LiteLLM proxy spend, tokens and budgets, read from the proxy's database (--database-url) or, without database access, from the proxy's API with its master key (--litellm.url).")
	common := promkit.AddFlags(app, promkit.Defaults{Service: "litellm-exporter", ListenAddress: ":9842", EnvPrefix: envPrefix})
	c := config.Config{Now: time.Now, Getenv: os.Getenv}
	addFlags(common.Flag, &c)
	vc, code, done := promkit.Parse(app, common, args, os.Stderr)
	if done {
		return code
	}
	cfg, err := c.Validate()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", app.Name, err)
		return 2
	}
	logger := vc.Logger()
	if z := cfg.IgnoredZone(); z != "" {
		logger.Warn("--time-zone is ignored: LiteLLM's daily rows are UTC days, so \"today\" and \"this month\" are too", "time_zone", z)
	}
	if cfg.HTTPMode() {
		logger.Info("HTTP mode: reading the proxy's API", "url", cfg.ProxyURL().Redacted())
	}
	exp := exporter.New(cfg, logger)
	srv, err := promkit.NewServer(vc, promkit.Options{
		Namespace:   exporter.Namespace,
		Description: description(cfg.HTTPMode()),
		Ready:       exp.Ready,
		Target: func(*http.Request) (string, promkit.StartFunc, error) {
			return "default", exp.Runner().Start, nil
		},
	})
	if err != nil {
		logger.Error("building server", "err", err)
		return 1
	}
	srv.Registry().MustRegister(exp.SelfCollectors()...)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { exp.Run(ctx) })
	err = srv.Run(ctx, nil)
	cancel()
	wg.Wait()
	if err != nil {
		logger.Error("serving", "err", err)
		return 1
	}
	return 0
}

func description(httpMode bool) string {
	if httpMode {
		return "LiteLLM spend, tokens and budgets from the proxy's API"
	}
	return "LiteLLM spend, tokens and budgets from the proxy's database"
}

// addFlags makes the flags fill c.
func addFlags(flag func(name, help string) *kingpin.FlagClause, c *config.Config) {
	flag("database-url", "PostgreSQL URL of the proxy's database (the proxy's own DATABASE_URL works as is; also read from DATABASE_URL). Read-only access is enough.").StringVar(&c.DatabaseURL)
	flag("database-url.file", "File holding the database URL (a mounted secret); also DATABASE_URL_FILE.").StringVar(&c.DatabaseURLFile)
	flag("refresh.interval", "How often the cache is refreshed from the database.").Default("30s").DurationVar(&c.RefreshInterval)
	flag("refresh.timeout", "Bound on one refresh, every query in it, and the connection's statement_timeout.").Default("10s").DurationVar(&c.RefreshTimeout)
	flag("time-zone", "Deprecated, ignored: \"today\" and \"this month\" are the UTC days LiteLLM writes on its daily rows.").Default("UTC").StringVar(&c.Zone)
	flag("spendlogs.enabled", "Read request latency and cache hits from LiteLLM_SpendLogs, incrementally.").Default("true").BoolVar(&c.SpendLogs)
	flag("spendlogs.lag", "Longest delay between a request's end (\"endTime\") and its spend-log row landing (the proxy writes spend logs in batches); rows that land later are not counted.").Default("2m").DurationVar(&c.SpendLogsLag)
	flag("spendlogs.lookback", "Longest request counted: rows whose \"startTime\" is older than this when they land are not counted.").Default("1h").DurationVar(&c.SpendLogsLookback)
	flag("spendlogs.lookback-interval", "How often the whole lookback is scanned for long requests; in between, each refresh looks only at requests begun within the lag.").Default("5m").DurationVar(&c.SpendLogsLookbackInterval)
	flag("spendlogs.max-window", "Most \"endTime\" range one refresh reads; a backlog is caught up over several refreshes.").Default("10m").DurationVar(&c.SpendLogsMaxWindow)
	flag("litellm.url", "HTTP mode: the proxy's base URL (e.g. http://litellm:4000), read with the master key instead of the database; also read from LITELLM_URL. Use either this or --database-url.").StringVar(&c.ProxyURL)
	flag("litellm.master-key-file", "HTTP mode: file holding the proxy's master key (or an admin key); also LITELLM_MASTER_KEY_FILE, or the key itself in LITELLM_MASTER_KEY. There is no flag for the key itself.").StringVar(&c.MasterKeyFile)
	flag("litellm.ca-file", "HTTP mode: PEM CA certificates that verify the proxy's https certificate.").StringVar(&c.ProxyCAFile)
	flag("litellm.insecure-skip-verify", "HTTP mode: do not verify the proxy's https certificate.").BoolVar(&c.ProxyInsecureSkipVerify)
	flag("litellm.page-size", "HTTP mode: page size asked of the proxy's paginated listings (at most 100).").Default("100").IntVar(&c.PageSize)
	flag("litellm.budgets-interval", "HTTP mode: how often keys, teams, users and organizations are listed (each /team/list and /user/list costs the proxy a query per entry); usage is read every refresh.").Default("5m").DurationVar(&c.BudgetsInterval)
	flag("litellm.activity-page-size", "HTTP mode: page size asked of the daily-activity reports (at most 1000).").Default("1000").IntVar(&c.ActivityPageSize)
	flag("litellm.max-pages", "HTTP mode: most pages read from one listing or report; a refresh that would need more fails.").Default("100").IntVar(&c.MaxPages)
	flag("litellm.usage-since", "HTTP mode: first day (YYYY-MM-DD) of the usage totals read from the proxy's daily-activity reports; empty: all of it.").StringVar(&c.UsageSince)
	flag("max-series", "Most series per budget scope and per usage family; the rest is folded into \"other\".").Default("500").IntVar(&c.MaxSeries)
}
