// Command litellm-exporter serves the LiteLLM proxy's spend, token and budget
// accounting, read from the proxy's own PostgreSQL tables, as Prometheus metrics.
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
	app := kingpin.New("litellm-exporter", "Prometheus exporter for LiteLLM proxy spend, tokens and budgets, read from the proxy's database.")
	common := promkit.AddFlags(app, promkit.Defaults{Service: "litellm-exporter", ListenAddress: ":9842", EnvPrefix: envPrefix})
	env := func(flag string) string { return promkit.EnvName(envPrefix, flag) }
	dbURL := app.Flag("database-url", "PostgreSQL URL of the proxy's database (the proxy's own DATABASE_URL works as is; also read from DATABASE_URL). Read-only access is enough.").
		Envar(env("database-url")).String()
	dbURLFile := app.Flag("database-url.file", "File holding the database URL (a mounted secret); also DATABASE_URL_FILE.").
		Envar(env("database-url.file")).String()
	interval := app.Flag("refresh.interval", "How often the cache is refreshed from the database.").
		Envar(env("refresh.interval")).Default("30s").Duration()
	timeout := app.Flag("refresh.timeout", "Bound on one refresh, every query in it, and the connection's statement_timeout.").
		Envar(env("refresh.timeout")).Default("10s").Duration()
	zone := app.Flag("time-zone", "IANA time zone of \"today\" and \"this month\" (match the proxy's budget resets).").
		Envar(env("time-zone")).Default("UTC").String()
	spendLogs := app.Flag("spendlogs.enabled", "Read request latency and cache hits from LiteLLM_SpendLogs, incrementally.").
		Envar(env("spendlogs.enabled")).Default("true").Bool()
	lag := app.Flag("spendlogs.lag", "How long after its startTime a spend-log row is read (the proxy writes spend logs in batches).").
		Envar(env("spendlogs.lag")).Default("2m").Duration()
	window := app.Flag("spendlogs.max-window", "Most startTime range one refresh reads; a backlog is caught up over several refreshes.").
		Envar(env("spendlogs.max-window")).Default("1h").Duration()
	maxSeries := app.Flag("max-series", "Most series per budget scope and per usage family; the rest is folded into \"other\".").
		Envar(env("max-series")).Default("500").Int()
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v (see --help)\n", app.Name, err)
		return 2
	}
	vc, err := common.Config().Validate()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", app.Name, err)
		return 2
	}
	if vc.Config().HealthCheck {
		// A container healthcheck probes the running daemon; it needs no database.
		srv, err := promkit.NewServer(vc, promkit.Options{Namespace: exporter.Namespace})
		if err == nil {
			err = srv.Run(context.Background(), nil)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", app.Name, err)
			return 1
		}
		return 0
	}
	url, file := *dbURL, *dbURLFile
	if url == "" && file == "" {
		url, file = os.Getenv("DATABASE_URL"), os.Getenv("DATABASE_URL_FILE")
	}
	url, err = promkit.Secret(url, file)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: --database-url.file: %v\n", app.Name, err)
		return 2
	}
	cfg, err := config.Config{DatabaseURL: url, RefreshInterval: *interval, RefreshTimeout: *timeout, Zone: *zone,
		SpendLogs: *spendLogs, SpendLogsLag: *lag, SpendLogsMaxWindow: *window, MaxSeries: *maxSeries,
		Now: time.Now}.Validate()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", app.Name, err)
		return 2
	}
	logger := vc.Logger()
	exp := exporter.New(cfg, logger)
	srv, err := promkit.NewServer(vc, promkit.Options{
		Namespace:   exporter.Namespace,
		Description: "LiteLLM spend, tokens and budgets from the proxy's database",
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
