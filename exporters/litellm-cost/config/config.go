package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	promconfig "github.com/prometheus/common/config"

	"github.com/outrigger/outrigger/internal/promkit"
)

// Config is what the flags hold, before validation: main fills it and calls
// Validate, which reads the secret files and the proxy's own environment
// variables (the fallbacks) and parses everything.
type Config struct {
	// DatabaseURL is the proxy's DATABASE_URL (Prisma form accepted).
	DatabaseURL string
	// DatabaseURLFile holds the database URL (a mounted secret).
	DatabaseURLFile string
	// RefreshInterval is how often the background refresh reads the database.
	RefreshInterval time.Duration
	// RefreshTimeout bounds one refresh (every query in it).
	RefreshTimeout time.Duration
	// Zone names the time zone of "today" and "this month" (IANA name).
	Zone string
	// SpendLogs enables the incremental read of "LiteLLM_SpendLogs".
	SpendLogs bool
	// SpendLogsLag is the longest delay between a request's "endTime" and
	// its spend-log row landing (the proxy's batched writer).
	SpendLogsLag time.Duration
	// SpendLogsLookback is the longest request counted: how far back in
	// "startTime" each refresh looks for rows that landed since the last one.
	SpendLogsLookback time.Duration
	// SpendLogsLookbackInterval is how often the whole lookback is scanned;
	// in between, refreshes look only at requests begun within the lag.
	SpendLogsLookbackInterval time.Duration
	// SpendLogsMaxWindow bounds the "endTime" range one refresh reads
	// (catch-up after an outage).
	SpendLogsMaxWindow time.Duration
	// MaxSeries bounds the series per budget scope and per usage family;
	// the rest is summed into an "other" series.
	MaxSeries int
	// Now is the clock; nil means time.Now. Tests inject their own.
	Now func() time.Time

	// ProxyURL selects the HTTP mode: the proxy's base URL, read with the
	// master key instead of the database (exactly one of the two is set).
	ProxyURL string
	// MasterKey is the proxy's master key (or an admin key), HTTP mode
	// only; MasterKeyFile, when set, holds it instead.
	MasterKey, MasterKeyFile string
	// ProxyCAFile verifies the proxy's certificate; ProxyInsecureSkipVerify
	// skips the check.
	ProxyCAFile             string
	ProxyInsecureSkipVerify bool
	// PageSize and MaxPages bound each paginated listing (HTTP mode).
	PageSize, MaxPages int
	// BudgetsInterval is how often HTTP mode lists keys, teams, users and
	// organizations (the proxy answers /team/list and /user/list with a
	// query per entry); 0 means every refresh.
	BudgetsInterval time.Duration
	// ActivityPageSize is the page size of daily-activity reports (HTTP
	// mode, 1-1000; 0 means 1000).
	ActivityPageSize int
	// UsageSince is the first day (YYYY-MM-DD) of usage read from the
	// proxy's daily-activity API; "" means all of it (HTTP mode).
	UsageSince string
	// Getenv reads the proxy's own variables (LITELLM_URL, DATABASE_URL,
	// DATABASE_URL_FILE, LITELLM_MASTER_KEY, LITELLM_MASTER_KEY_FILE), the
	// fallbacks of the flags; nil reads none.
	Getenv func(string) string
}

// ValidatedConfig is a Config that passed Validate; components read their
// options from its accessors.
type ValidatedConfig struct {
	c        Config
	conn     *pgx.ConnConfig
	location *time.Location
	schema   string
	proxy    *url.URL
	tls      *tls.Config
}

// resolveSources applies the proxy's own variables where no flag is set
// (LITELLM_URL only when no database is configured, DATABASE_URL only when no
// proxy URL is) and reads the secret files.
func (c Config) resolveSources() (Config, error) {
	env := c.Getenv
	if env == nil {
		env = func(string) string { return "" }
	}
	if c.ProxyURL == "" && c.DatabaseURL == "" && c.DatabaseURLFile == "" {
		c.ProxyURL = env("LITELLM_URL")
	}
	if c.ProxyURL == "" && c.DatabaseURL == "" && c.DatabaseURLFile == "" {
		c.DatabaseURL, c.DatabaseURLFile = env("DATABASE_URL"), env("DATABASE_URL_FILE")
	}
	var err error
	if c.DatabaseURL, err = promkit.Secret(c.DatabaseURL, c.DatabaseURLFile); err != nil {
		return c, fmt.Errorf("--database-url.file: %w", err)
	}
	if c.ProxyURL == "" {
		return c, nil
	}
	if c.MasterKeyFile == "" {
		c.MasterKeyFile = env("LITELLM_MASTER_KEY_FILE")
	}
	if c.MasterKey == "" {
		c.MasterKey = env("LITELLM_MASTER_KEY")
	}
	if c.MasterKey, err = promkit.Secret(c.MasterKey, c.MasterKeyFile); err != nil {
		return c, fmt.Errorf("--litellm.master-key-file: %w", err)
	}
	return c, nil
}

// Prisma-only parameters in DATABASE_URL that libpq/pgx would send to the
// server as settings (and fail on).
var prismaParams = []string{"connection_limit", "pool_timeout", "pgbouncer", "socket_timeout",
	"statement_cache_size", "sslaccept", "sslidentity", "sslpassword", "schema"}

// ParseDatabaseURL accepts the URL as the proxy reads it (Prisma's
// postgresql:// form with its own parameters) and returns the pgx
// configuration plus the schema Prisma would use ("" for the default search
// path). Errors never contain the URL (it holds the password).
func ParseDatabaseURL(raw string) (*pgx.ConnConfig, string, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, "", errors.New("the database URL is empty (set --database-url or DATABASE_URL)")
	}
	schema := ""
	if strings.HasPrefix(raw, "postgres://") || strings.HasPrefix(raw, "postgresql://") {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, "", errors.New("parsing the database URL: not a valid URL")
		}
		q := u.Query()
		schema = q.Get("schema")
		for _, p := range prismaParams {
			q.Del(p)
		}
		u.RawQuery = q.Encode()
		raw = u.String()
	}
	cc, err := pgx.ParseConfig(raw)
	if err != nil {
		return nil, "", errors.New("parsing the database URL: not a valid PostgreSQL connection string")
	}
	return cc, schema, nil
}

// Validate resolves the fallbacks and secret files, and checks and parses
// the configuration.
func (c Config) Validate() (ValidatedConfig, error) {
	c, err := c.resolveSources()
	if err != nil {
		return ValidatedConfig{}, err
	}
	var errs []error
	var cc *pgx.ConnConfig
	var schema string
	var proxy *url.URL
	var tlsConf *tls.Config
	switch {
	case c.DatabaseURL != "" && c.ProxyURL != "":
		errs = append(errs, errors.New("set either --database-url (database mode) or --litellm.url (HTTP mode), not both"))
	case c.ProxyURL != "":
		proxy, tlsConf, err = c.validateProxy()
		if err != nil {
			errs = append(errs, err)
		}
	case strings.TrimSpace(c.DatabaseURL) == "":
		errs = append(errs, errors.New("nothing to read: set --database-url (or DATABASE_URL) for database mode, or --litellm.url (or LITELLM_URL) with a master key for HTTP mode"))
	default:
		cc, schema, err = ParseDatabaseURL(c.DatabaseURL)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c.RefreshInterval <= 0 {
		errs = append(errs, fmt.Errorf("--refresh.interval %s: must be positive", c.RefreshInterval))
	}
	if c.RefreshTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--refresh.timeout %s: must be positive", c.RefreshTimeout))
	}
	if c.SpendLogsLag < 0 {
		errs = append(errs, fmt.Errorf("--spendlogs.lag %s: must not be negative", c.SpendLogsLag))
	}
	if c.SpendLogsLookback == 0 {
		c.SpendLogsLookback = time.Hour
	}
	if c.SpendLogsLookbackInterval == 0 {
		c.SpendLogsLookbackInterval = 5 * time.Minute
	}
	if c.SpendLogsLookbackInterval < 0 {
		errs = append(errs, fmt.Errorf("--spendlogs.lookback-interval %s: must be positive", c.SpendLogsLookbackInterval))
	}
	if c.SpendLogsLookback < 0 {
		errs = append(errs, fmt.Errorf("--spendlogs.lookback %s: must be positive", c.SpendLogsLookback))
	}
	if c.SpendLogsMaxWindow <= 0 {
		errs = append(errs, fmt.Errorf("--spendlogs.max-window %s: must be positive", c.SpendLogsMaxWindow))
	}
	if c.MaxSeries < 1 {
		errs = append(errs, fmt.Errorf("--max-series %d: must be at least 1", c.MaxSeries))
	}
	zone := c.Zone
	if zone == "" {
		zone = "UTC"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		errs = append(errs, fmt.Errorf("--time-zone %q: %w", c.Zone, err))
	}
	if err := errors.Join(errs...); err != nil {
		return ValidatedConfig{}, err
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Zone = zone
	return ValidatedConfig{c: c, conn: cc, location: loc, schema: schema, proxy: proxy, tls: tlsConf}, nil
}

// validateProxy checks the HTTP-mode settings. Errors never contain the key.
func (c Config) validateProxy() (*url.URL, *tls.Config, error) {
	var errs []error
	u, err := url.Parse(c.ProxyURL)
	switch {
	case err != nil:
		errs = append(errs, errors.New("--litellm.url: not a valid URL"))
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("--litellm.url: scheme %q: use http:// or https://", u.Scheme))
	case u.Host == "":
		errs = append(errs, errors.New("--litellm.url: no host"))
	case u.User != nil:
		errs = append(errs, errors.New("--litellm.url: credentials in the URL are not used: put the master key in --litellm.master-key-file"))
	case u.RawQuery != "" || u.Fragment != "":
		errs = append(errs, errors.New("--litellm.url: give the proxy's base URL, without a query"))
	}
	if strings.TrimSpace(c.MasterKey) == "" {
		errs = append(errs, errors.New("HTTP mode needs the master key: set --litellm.master-key-file, LITELLM_MASTER_KEY_FILE or LITELLM_MASTER_KEY"))
	} else if strings.ContainsAny(c.MasterKey, "\r\n") {
		errs = append(errs, errors.New("the master key contains a line break (is the key file more than one line?)"))
	}
	if c.PageSize < 1 || c.PageSize > 100 {
		errs = append(errs, fmt.Errorf("--litellm.page-size %d: must be 1 to 100 (the proxy's limit)", c.PageSize))
	}
	if c.ActivityPageSize < 0 || c.ActivityPageSize > 1000 {
		errs = append(errs, fmt.Errorf("--litellm.activity-page-size %d: must be 1 to 1000 (the proxy's limit)", c.ActivityPageSize))
	}
	if c.BudgetsInterval < 0 {
		errs = append(errs, fmt.Errorf("--litellm.budgets-interval %s: must not be negative", c.BudgetsInterval))
	}
	if c.MaxPages < 1 {
		errs = append(errs, fmt.Errorf("--litellm.max-pages %d: must be at least 1", c.MaxPages))
	}
	if c.UsageSince != "" {
		if _, err := time.Parse("2006-01-02", c.UsageSince); err != nil {
			errs = append(errs, fmt.Errorf("--litellm.usage-since %q: not YYYY-MM-DD", c.UsageSince))
		}
	}
	var tc *tls.Config
	if c.ProxyCAFile != "" || c.ProxyInsecureSkipVerify {
		var err error
		tc, err = promconfig.NewTLSConfig(&promconfig.TLSConfig{CAFile: c.ProxyCAFile,
			InsecureSkipVerify: c.ProxyInsecureSkipVerify, MinVersion: promconfig.TLSVersion(tls.VersionTLS12)})
		if err != nil {
			errs = append(errs, fmt.Errorf("--litellm.ca-file %s: %w (give a file of PEM CA certificates)", c.ProxyCAFile, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, tc, nil
}

// RefreshInterval is how often the background refresh runs.
func (v ValidatedConfig) RefreshInterval() time.Duration { return v.c.RefreshInterval }

// RefreshTimeout bounds one refresh and the connection's statement_timeout.
func (v ValidatedConfig) RefreshTimeout() time.Duration { return v.c.RefreshTimeout }

// MaxSeries bounds the series per budget scope and per usage family.
func (v ValidatedConfig) MaxSeries() int { return v.c.MaxSeries }

// SpendLogs says whether "LiteLLM_SpendLogs" is read.
func (v ValidatedConfig) SpendLogs() bool { return v.c.SpendLogs }

// SpendLogWindow is the spend-log read's settings.
type SpendLogWindow struct {
	Lag, Lookback, LookbackInterval, MaxWindow time.Duration
}

// SpendLogWindow returns the spend-log read's settings, defaults filled in.
func (v ValidatedConfig) SpendLogWindow() SpendLogWindow {
	return SpendLogWindow{Lag: v.c.SpendLogsLag, Lookback: v.c.SpendLogsLookback,
		LookbackInterval: v.c.SpendLogsLookbackInterval, MaxWindow: v.c.SpendLogsMaxWindow}
}

// ProxyAPI is what the HTTP-mode client needs besides the URL and TLS.
type ProxyAPI struct {
	MasterKey                            string
	PageSize, MaxPages, ActivityPageSize int
	BudgetsInterval                      time.Duration
}

// ProxyAPI returns the HTTP-mode client's settings.
func (v ValidatedConfig) ProxyAPI() ProxyAPI {
	return ProxyAPI{MasterKey: v.c.MasterKey, PageSize: v.c.PageSize, MaxPages: v.c.MaxPages,
		ActivityPageSize: v.c.ActivityPageSize, BudgetsInterval: v.c.BudgetsInterval}
}

// IgnoredZone is the deprecated --time-zone when it names a zone other
// than UTC (it changes nothing; main warns about it), else "".
func (v ValidatedConfig) IgnoredZone() string {
	if v.c.Zone == "UTC" {
		return ""
	}
	return v.c.Zone
}

// HTTPMode says the exporter reads the proxy's API, not its database.
func (v ValidatedConfig) HTTPMode() bool { return v.proxy != nil }

// ProxyURL is the proxy's base URL (HTTP mode), a copy.
func (v ValidatedConfig) ProxyURL() *url.URL {
	if v.proxy == nil {
		return nil
	}
	u := *v.proxy
	return &u
}

// ProxyTLS is the TLS configuration for the proxy (nil: the defaults).
func (v ValidatedConfig) ProxyTLS() *tls.Config {
	if v.tls == nil {
		return nil
	}
	return v.tls.Clone()
}

// UsageSince is the first day of usage read in HTTP mode.
func (v ValidatedConfig) UsageSince() string {
	if v.c.UsageSince == "" {
		return "2000-01-01"
	}
	return v.c.UsageSince
}

// ConnConfig returns a fresh copy of the connection configuration.
func (v ValidatedConfig) ConnConfig() *pgx.ConnConfig { return v.conn.Copy() }

// Schema is the PostgreSQL schema from the URL's Prisma "schema" parameter, or "".
func (v ValidatedConfig) Schema() string { return v.schema }

// Location is the zone of "today" and "this month".
func (v ValidatedConfig) Location() *time.Location { return v.location }

// Now reads the configured clock.
func (v ValidatedConfig) Now() time.Time { return v.c.Now() }

// Secrets returns the database password or the master key, so that error
// texts can be scrubbed of them.
func (v ValidatedConfig) Secrets() []string {
	var out []string
	if v.conn != nil && v.conn.Password != "" {
		out = append(out, v.conn.Password)
	}
	if v.c.MasterKey != "" {
		out = append(out, v.c.MasterKey)
	}
	return out
}
