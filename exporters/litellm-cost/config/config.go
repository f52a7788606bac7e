package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Config is what main read from flags and environment, before validation.
type Config struct {
	// DatabaseURL is the proxy's DATABASE_URL (Prisma form accepted).
	DatabaseURL string
	// RefreshInterval is how often the background refresh reads the database.
	RefreshInterval time.Duration
	// RefreshTimeout bounds one refresh (every query in it).
	RefreshTimeout time.Duration
	// Zone names the time zone of "today" and "this month" (IANA name).
	Zone string
	// SpendLogs enables the incremental read of "LiteLLM_SpendLogs".
	SpendLogs bool
	// SpendLogsLag is how long after its "startTime" a spend-log row is read,
	// to let the proxy's batched writes land.
	SpendLogsLag time.Duration
	// SpendLogsMaxWindow bounds the time range one refresh reads (catch-up
	// after an outage happens over several refreshes).
	SpendLogsMaxWindow time.Duration
	// MaxSeries bounds the series per budget scope and per usage family;
	// the rest is summed into an "other" series.
	MaxSeries int
	// Now is the clock; nil means time.Now. Tests inject their own.
	Now func() time.Time
}

// ValidatedConfig is a Config that passed Validate.
type ValidatedConfig struct {
	c        Config
	conn     *pgx.ConnConfig
	location *time.Location
	schema   string
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

// Validate checks the configuration.
func (c Config) Validate() (ValidatedConfig, error) {
	var errs []error
	cc, schema, err := ParseDatabaseURL(c.DatabaseURL)
	if err != nil {
		errs = append(errs, err)
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
	return ValidatedConfig{c: c, conn: cc, location: loc, schema: schema}, nil
}

// Config returns the validated values.
func (v ValidatedConfig) Config() Config { return v.c }

// ConnConfig returns a fresh copy of the connection configuration.
func (v ValidatedConfig) ConnConfig() *pgx.ConnConfig { return v.conn.Copy() }

// Schema is the PostgreSQL schema from the URL's Prisma "schema" parameter, or "".
func (v ValidatedConfig) Schema() string { return v.schema }

// Location is the zone of "today" and "this month".
func (v ValidatedConfig) Location() *time.Location { return v.location }

// Now reads the configured clock.
func (v ValidatedConfig) Now() time.Time { return v.c.Now() }

// Password returns the connection password, so that error texts can be
// scrubbed of it.
func (v ValidatedConfig) Password() string { return v.conn.Password }
