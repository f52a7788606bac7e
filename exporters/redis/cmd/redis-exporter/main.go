// Command redis-exporter is a Prometheus exporter for Redis: a drop-in for
// oliver006/redis_exporter's metric names, safe on big keyspaces and honest
// when the server stalls.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/outrigger/outrigger/exporters/redis/collector"
	"github.com/outrigger/outrigger/exporters/redis/config"
	"github.com/outrigger/outrigger/internal/promkit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"
)

const envPrefix = "REDIS_EXPORTER_"

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	app := kingpin.New("redis-exporter", "Prometheus exporter for Redis.")
	common := promkit.AddFlags(app, promkit.Defaults{Service: "redis-exporter", ListenAddress: ":9121", EnvPrefix: envPrefix})
	var cfg config.Config
	addFlags(app, common.Flag, &cfg)
	configCheck := app.Flag("config.check", "Validate the configuration and exit.").Bool()
	vc, code, done := promkit.Parse(app, common, args, os.Stderr)
	if done {
		return code
	}
	valid, err := cfg.Validate()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", app.Name, err)
		return 2
	}
	if *configCheck {
		fmt.Printf("%s: configuration is valid (%d targets)\n", app.Name, len(valid.Targets()))
		return 0
	}
	return serve(vc, cfg, valid)
}

// addFlags binds the exporter's own flags to the fields of cfg. The
// incumbent's well-known variables, REDIS_ADDR and REDIS_PASSWORD, are read
// too (after ours).
func addFlags(app *kingpin.Application, flag func(name, help string) *kingpin.FlagClause, cfg *config.Config) {
	withEnv := func(name, theirs, help string) *kingpin.FlagClause {
		ours := promkit.EnvName(envPrefix, name)
		return app.Flag(name, help+" Env: "+ours+" or "+theirs+".").Envar(envOr(ours, theirs))
	}
	d := &cfg.Default
	withEnv("redis.addr", "REDIS_ADDR", "Address of the Redis served on the telemetry path: redis://host:port/db, rediss://... (TLS), unix:///path, or host:port.").
		Default("redis://localhost:6379").StringVar(&d.Addr)
	withEnv("redis.user", "REDIS_USER", "ACL user name.").Default("").StringVar(&d.User)
	withEnv("redis.password", "REDIS_PASSWORD", "Password (prefer --redis.password-file).").Default("").StringVar(&d.Password)
	withEnv("redis.password-file", "REDIS_PASSWORD_FILE", "File holding the password.").Default("").StringVar(&d.PasswordFile)
	flag("redis.client-name", "Name the exporter gives its connection (CLIENT SETNAME).").Default("outrigger-redis-exporter").StringVar(&cfg.ClientName)
	flag("tls.ca-file", "CA certificate to verify the server's certificate (rediss://).").Default("").StringVar(&d.TLS.CAFile)
	flag("tls.cert-file", "Client certificate for TLS (with --tls.key-file).").Default("").StringVar(&d.TLS.CertFile)
	flag("tls.key-file", "Client key for TLS.").Default("").StringVar(&d.TLS.KeyFile)
	flag("tls.server-name", "Server name to verify the certificate against.").Default("").StringVar(&d.TLS.ServerName)
	flag("tls.insecure-skip-verify", "Do not verify the server's certificate.").Default("false").BoolVar(&d.TLS.InsecureSkipVerify)
	flag("keys.group", "Key group to count in the background: [dbN=]PATTERN (Redis glob); repeatable, comma-separated.").StringsVar(&cfg.KeyGroupFlags)
	flag("keys.length", "Single key whose length to report: [dbN=]KEY; repeatable, comma-separated.").StringsVar(&cfg.KeyFlags)
	flag("keys.scan-interval", "How often a key-group scan cycle starts.").Default("10s").DurationVar(&cfg.Scan.Interval)
	flag("keys.scan-budget", "Most time one scan cycle spends; an unfinished pass continues next cycle.").Default("2s").DurationVar(&cfg.Scan.Budget)
	flag("keys.scan-batch", "SCAN COUNT of one step (one step holds the connection).").Default("1000").IntVar(&cfg.Scan.Batch)
	flag("clients.top-n", "Client groups (name, user, db) reported before folding the rest into \"other\".").Default("10").IntVar(&cfg.ClientsTopN)
	flag("slowlog.top", "Slowest recent slowlog entries whose durations are reported.").Default("5").IntVar(&cfg.SlowlogTop)
	flag("latency.histogram", "Also report redis_command_latency_seconds, a histogram per command from LATENCY HISTOGRAM (Redis 7+).").Default("false").BoolVar(&cfg.LatencyHistogram)
	flag("config.file", "YAML file of targets for /scrape?target=NAME, each with its own credentials and keys.").Default("").StringVar(&cfg.File)
}

// scrapeRequestErrors is the incumbent's count of refused /scrape requests
// (unknown targets).
var scrapeRequestErrors = prometheus.CounterOpts{Name: "redis_target_scrape_request_errors_total",
	Help: "Requests to /scrape refused (a target not in --config.file)."}

// serve runs the exporter until a signal stops it; SIGHUP re-reads the
// config file (cfg validated again).
func serve(vc promkit.ValidatedConfig, cfg config.Config, valid config.ValidatedConfig) int {
	logger := vc.Logger()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	targets := collector.NewTargets(ctx, valid, logger)
	defer targets.Close()

	srv, err := promkit.NewServer(vc, promkit.Options{
		Namespace: "redis", Description: "Prometheus exporter for Redis", Ready: targets.Ready,
		Target: targets.DefaultScrape,
		Links:  []web.LandingLinks{{Address: "/scrape?target=default", Text: "Scrape a configured target"}},
	})
	if err != nil {
		logger.Error("building server", "err", err)
		return 1
	}
	reqErrors := prometheus.NewCounter(scrapeRequestErrors)
	srv.Registry().MustRegister(reqErrors)
	srv.Handle("/scrape", srv.ScrapeHandler(func(r *http.Request) (string, promkit.StartFunc, error) {
		key, start, err := targets.Scrape(r)
		if err != nil {
			reqErrors.Inc()
		}
		return key, start, err
	}))
	reload := func() error {
		next, err := cfg.Validate()
		if err != nil {
			return err
		}
		targets.Apply(next)
		return nil
	}
	logger.Info("serving", "redis", valid.Targets()[0].Addr(), "targets", len(valid.Targets()))
	if err := srv.Run(ctx, reload); err != nil && err != http.ErrServerClosed {
		logger.Error("serving", "err", err)
		return 1
	}
	return 0
}

// envOr names our variable unless only the incumbent's is set.
func envOr(ours, theirs string) string {
	if os.Getenv(ours) == "" && os.Getenv(theirs) != "" {
		return theirs
	}
	return ours
}
