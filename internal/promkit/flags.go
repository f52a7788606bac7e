package promkit

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/version"
)

// Defaults are what a daemon passes to AddFlags.
type Defaults struct {
	// Service is the binary's name, e.g. "postgres-exporter".
	Service string
	// ListenAddress is the default --web.listen-address, e.g. ":9187".
	ListenAddress string
	// EnvPrefix prefixes the environment variable of every flag, e.g.
	// "PG_EXPORTER_" makes --web.listen-address read PG_EXPORTER_WEB_LISTEN_ADDRESS.
	EnvPrefix string
	// MaxScrapeTimeout is the default --scrape.timeout-max.
	MaxScrapeTimeout time.Duration
}

// Flags holds the values of the common flags until main turns them into a Config.
type Flags struct {
	app            *kingpin.Application
	envPrefix      string
	service        string
	listen         *[]string
	webConfig      *string
	telemetryPath  *string
	logLevel       *string
	logFormat      *string
	timeoutOffset  *time.Duration
	timeoutMax     *time.Duration
	minInterval    *time.Duration
	maxInFlight    *int
	disableDefault *bool
	healthcheck    *bool
}

// EnvName is the environment variable that also sets flag name:
// EnvName("PG_EXPORTER_", "web.listen-address") = "PG_EXPORTER_WEB_LISTEN_ADDRESS".
func EnvName(prefix, flag string) string {
	r := strings.NewReplacer(".", "_", "-", "_")
	return prefix + strings.ToUpper(r.Replace(flag))
}

// AddFlags registers the flags every daemon has on app, each also readable
// from its environment variable, plus --version. It is meant to be called from
// main only.
func AddFlags(app *kingpin.Application, d Defaults) *Flags {
	if d.MaxScrapeTimeout == 0 {
		d.MaxScrapeTimeout = 10 * time.Second
	}
	flag := func(name, help string) *kingpin.FlagClause {
		return app.Flag(name, help).Envar(EnvName(d.EnvPrefix, name))
	}
	f := &Flags{app: app, envPrefix: d.EnvPrefix, service: d.Service}
	f.listen = flag("web.listen-address", "Address to listen on for metrics and status; repeat for several.").
		Default(d.ListenAddress).Strings()
	f.webConfig = flag("web.config.file", "Path to a web configuration file enabling TLS and basic auth (exporter-toolkit format).").
		Default("").String()
	f.telemetryPath = flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
	f.maxInFlight = flag("web.max-requests", "Most scrape requests served at once; more get HTTP 503. 0 means no limit.").
		Default("40").Int()
	f.timeoutOffset = flag("scrape.timeout-offset", "Taken off Prometheus's scrape timeout so the answer arrives in time.").
		Default("500ms").Duration()
	f.timeoutMax = flag("scrape.timeout-max", "Budget of a scrape that sends no timeout header, and upper bound of every scrape.").
		Default(d.MaxScrapeTimeout.String()).Duration()
	f.minInterval = flag("scrape.min-interval", "Serve the last result to scrapes that come sooner than this after a collection (0: always collect).").
		Default("0s").Duration()
	f.disableDefault = flag("web.disable-exporter-metrics", "Leave out the Go runtime and process metrics of the daemon itself.").
		Default("false").Bool()
	f.healthcheck = app.Flag("web.healthcheck", "Probe the /health endpoint of a daemon running with the same flags and exit 0 if it answers: the container healthcheck for images without a shell.").
		Bool()
	f.logLevel = flag("log.level", "Only log messages with the given severity or above: debug, info, warn, error.").
		Default("info").Enum(promslog.LevelFlagOptions...)
	f.logFormat = flag("log.format", "Output format of log messages: logfmt, json.").
		Default("logfmt").Enum(promslog.FormatFlagOptions...)
	app.Version(version.Print(d.Service))
	app.HelpFlag.Short('h')
	return f
}

// Flag registers one of the daemon's own flags on the same application, also
// read from its environment variable (EnvName of the daemon's prefix).
func (f *Flags) Flag(name, help string) *kingpin.FlagClause {
	return f.app.Flag(name, help).Envar(EnvName(f.envPrefix, name))
}

// Config is what the common flags say, before validation.
type Config struct {
	Service                string
	ListenAddresses        []string
	WebConfigFile          string
	TelemetryPath          string
	LogLevel               string
	LogFormat              string
	ScrapeTimeoutOffset    time.Duration
	ScrapeTimeoutMax       time.Duration
	MinInterval            time.Duration
	MaxRequestsInFlight    int
	DisableExporterMetrics bool
	// HealthCheck makes Server.Run probe a running daemon instead of serving.
	HealthCheck bool
}

// Config returns the flags' values.
func (f *Flags) Config() Config {
	return Config{
		Service:                f.service,
		ListenAddresses:        *f.listen,
		WebConfigFile:          *f.webConfig,
		TelemetryPath:          *f.telemetryPath,
		LogLevel:               *f.logLevel,
		LogFormat:              *f.logFormat,
		ScrapeTimeoutOffset:    *f.timeoutOffset,
		ScrapeTimeoutMax:       *f.timeoutMax,
		MinInterval:            *f.minInterval,
		MaxRequestsInFlight:    *f.maxInFlight,
		DisableExporterMetrics: *f.disableDefault,
		HealthCheck:            *f.healthcheck,
	}
}

// ValidatedConfig is a Config that passed Validate; the server takes only this.
type ValidatedConfig struct {
	c      Config
	logger *slog.Logger
}

// Validate checks the configuration and builds the logger.
func (c Config) Validate() (ValidatedConfig, error) {
	var errs []error
	if c.Service == "" {
		errs = append(errs, errors.New("service name is empty"))
	}
	if len(c.ListenAddresses) == 0 {
		errs = append(errs, errors.New("--web.listen-address: at least one address is needed"))
	}
	if !strings.HasPrefix(c.TelemetryPath, "/") {
		errs = append(errs, fmt.Errorf("--web.telemetry-path %q: must start with /", c.TelemetryPath))
	}
	for _, p := range []string{"/", "/health", "/ready"} {
		if c.TelemetryPath == p {
			errs = append(errs, fmt.Errorf("--web.telemetry-path %q: taken by the built-in endpoints", p))
		}
	}
	if c.ScrapeTimeoutOffset < 0 || c.ScrapeTimeoutMax <= 0 || c.MinInterval < 0 || c.MaxRequestsInFlight < 0 {
		errs = append(errs, errors.New("--scrape.timeout-offset, --scrape.min-interval and --web.max-requests must not be negative, --scrape.timeout-max must be positive"))
	}
	if c.WebConfigFile != "" {
		if _, err := os.Stat(c.WebConfigFile); err != nil {
			errs = append(errs, fmt.Errorf("--web.config.file: %w", err))
		}
	}
	level, format := promslog.NewLevel(), promslog.NewFormat()
	if err := level.Set(c.LogLevel); err != nil {
		errs = append(errs, fmt.Errorf("--log.level: %w", err))
	}
	if err := format.Set(c.LogFormat); err != nil {
		errs = append(errs, fmt.Errorf("--log.format: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return ValidatedConfig{}, err
	}
	logger := promslog.New(&promslog.Config{Level: level, Format: format, Writer: os.Stderr})
	return ValidatedConfig{c: c, logger: logger.With("service", c.Service)}, nil
}

// Config returns the validated values.
func (v ValidatedConfig) Config() Config { return v.c }

// Logger returns the logger the flags asked for.
func (v ValidatedConfig) Logger() *slog.Logger { return v.logger }

// Deadline returns the scrape deadline policy.
func (v ValidatedConfig) Deadline() Deadline {
	return Deadline{Offset: v.c.ScrapeTimeoutOffset, Max: v.c.ScrapeTimeoutMax}
}

// Secret returns value, or the trimmed content of file when file is set. It is
// how every daemon reads passwords and keys: from a flag or env, or from a
// mounted secret file (`*_FILE`). Errors never contain the secret.
func Secret(value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading secret file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
