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
	flag := common.Flag
	// The incumbent's well-known variables, REDIS_ADDR and REDIS_PASSWORD,
	// are read too (after ours).
	addr := app.Flag("redis.addr", "Address of the Redis served on the telemetry path: redis://host:port/db, rediss://... (TLS), unix:///path, or host:port. Env: "+promkit.EnvName(envPrefix, "redis.addr")+" or REDIS_ADDR.").
		Envar(envOr(promkit.EnvName(envPrefix, "redis.addr"), "REDIS_ADDR")).Default("redis://localhost:6379").String()
	user := app.Flag("redis.user", "ACL user name. Env: "+promkit.EnvName(envPrefix, "redis.user")+" or REDIS_USER.").
		Envar(envOr(promkit.EnvName(envPrefix, "redis.user"), "REDIS_USER")).Default("").String()
	password := app.Flag("redis.password", "Password (prefer --redis.password-file). Env: "+promkit.EnvName(envPrefix, "redis.password")+" or REDIS_PASSWORD.").
		Envar(envOr(promkit.EnvName(envPrefix, "redis.password"), "REDIS_PASSWORD")).Default("").String()
	passwordFile := app.Flag("redis.password-file", "File holding the password. Env: "+promkit.EnvName(envPrefix, "redis.password-file")+" or REDIS_PASSWORD_FILE.").
		Envar(envOr(promkit.EnvName(envPrefix, "redis.password-file"), "REDIS_PASSWORD_FILE")).Default("").String()
	clientName := flag("redis.client-name", "Name the exporter gives its connection (CLIENT SETNAME).").Default("outrigger-redis-exporter").String()
	tlsCA := flag("tls.ca-file", "CA certificate to verify the server's certificate (rediss://).").Default("").String()
	tlsCert := flag("tls.cert-file", "Client certificate for TLS (with --tls.key-file).").Default("").String()
	tlsKey := flag("tls.key-file", "Client key for TLS.").Default("").String()
	tlsServerName := flag("tls.server-name", "Server name to verify the certificate against.").Default("").String()
	tlsInsecure := flag("tls.insecure-skip-verify", "Do not verify the server's certificate.").Default("false").Bool()
	groups := flag("keys.group", "Key group to count in the background: [dbN=]PATTERN (Redis glob); repeatable, comma-separated.").Strings()
	singles := flag("keys.length", "Single key whose length to report: [dbN=]KEY; repeatable, comma-separated.").Strings()
	scanInterval := flag("keys.scan-interval", "How often a key-group scan cycle starts.").Default("10s").Duration()
	scanBudget := flag("keys.scan-budget", "Most time one scan cycle spends; an unfinished pass continues next cycle.").Default("2s").Duration()
	scanBatch := flag("keys.scan-batch", "SCAN COUNT of one step (one step holds the connection).").Default("1000").Int()
	topN := flag("clients.top-n", "Client groups (name, user, db) reported before folding the rest into \"other\".").Default("10").Int()
	slowTop := flag("slowlog.top", "Slowest recent slowlog entries whose durations are reported.").Default("5").Int()
	latHist := flag("latency.histogram", "Also report redis_command_latency_seconds, a histogram per command from LATENCY HISTOGRAM (Redis 7+).").Default("false").Bool()
	configFile := flag("config.file", "YAML file of targets for /scrape?target=NAME, each with its own credentials and keys.").Default("").String()
	configCheck := app.Flag("config.check", "Validate the configuration and exit.").Bool()
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v (see --help)\n", app.Name, err)
		return 2
	}
	vc, err := common.Config().Validate()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", app.Name, err)
		return 2
	}
	if code, done := promkit.HealthCheck(context.Background(), vc, os.Stderr); done {
		return code
	}
	keyGroups, err := config.ParseKeyGroups(*groups)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", app.Name, err)
		return 2
	}
	keys, err := config.ParseSingleKeys(*singles)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", app.Name, err)
		return 2
	}
	cfg := config.Config{
		Default: config.Target{Addr: *addr, User: *user, Password: *password, PasswordFile: *passwordFile,
			TLS: config.TLS{CAFile: *tlsCA, CertFile: *tlsCert, KeyFile: *tlsKey, ServerName: *tlsServerName,
				InsecureSkipVerify: *tlsInsecure},
			KeyGroups: keyGroups, Keys: keys},
		File: *configFile, ClientName: *clientName, ClientsTopN: *topN, SlowlogTop: *slowTop,
		Scan: config.Scan{Interval: *scanInterval, Budget: *scanBudget, Batch: *scanBatch},
	}
	valid, err := cfg.Validate()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", app.Name, err)
		return 2
	}
	if *configCheck {
		fmt.Printf("%s: configuration is valid (%d targets)\n", app.Name, len(valid.Targets))
		return 0
	}
	logger := vc.Logger()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	targets := collector.NewTargets(ctx, valid, collector.Options{ClientName: valid.ClientName,
		ClientsTopN: valid.ClientsTopN, SlowlogTop: valid.SlowlogTop, LatencyHistogram: *latHist, Scan: valid.Scan, Logger: logger})
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
	// The incumbent's count of refused /scrape requests (unknown targets).
	reqErrors := prometheus.NewCounter(prometheus.CounterOpts{Name: "redis_target_scrape_request_errors_total",
		Help: "Requests to /scrape refused (a target not in --config.file)."})
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
	logger.Info("serving", "redis", valid.Targets[0].Addr, "targets", len(valid.Targets))
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
