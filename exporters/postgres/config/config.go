package config

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/outrigger/outrigger/internal/promkit"
)

// Config is what the exporter's own flags say, before validation. main's
// flags fill it; nothing reads it but Validate.
type Config struct {
	DSN          string
	PasswordFile string
	ConfigFile   string
	Conn         ConnOptions

	TopNames        int
	NameRetention   time.Duration
	QueryThresholds []time.Duration
	LongTransaction time.Duration
	// StatementsTopN 0 disables the statements collector.
	StatementsTopN  int
	DatabaseSizeTTL time.Duration

	Databases               bool
	DatabasesInclude        string
	DatabasesExclude        string
	DatabasesTTL            time.Duration
	DatabasesTimeout        time.Duration
	DatabasesMaxConnections int
	TablesLimit             int
	IndexesLimit            int

	MaxProbeTargets int
}

// Collector is what a target's collectors are told: the validated values of
// the collector flags. The zero value of a field means the collector's
// default, as in a test's literal.
type Collector struct {
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
	Databases Databases
}

// Databases select the databases whose table statistics are read.
type Databases struct {
	// Enabled reads every matched database; otherwise only the DSN's.
	Enabled bool
	Include *regexp.Regexp
	// Exclude may be nil.
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

// ValidatedConfig is a Config that passed Validate; the exporter takes only
// this, and each component its part through the accessors.
type ValidatedConfig struct {
	configFile      string
	conn            *pgx.ConnConfig
	connOptions     ConnOptions
	dsnHosts        []string
	file            *File
	collector       Collector
	maxProbeTargets int
}

// Validate checks every value, parses the DSN, reads the password file and
// loads the configuration file. Each error names its flag (and, for the
// configuration file, its line); none contains the password.
func (c Config) Validate() (ValidatedConfig, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	v := ValidatedConfig{configFile: c.ConfigFile, connOptions: c.Conn, maxProbeTargets: c.MaxProbeTargets}
	password, err := promkit.Secret("", c.PasswordFile)
	if err != nil {
		bad("--postgres.password-file: %w", err)
	}
	if v.conn, err = ConnConfig(c.DSN, password, c.Conn); err != nil {
		bad("--postgres.dsn: %w", err)
	} else {
		v.dsnHosts = dsnHosts(v.conn)
	}
	for _, d := range []struct {
		flag string
		d    time.Duration
	}{
		{"postgres.statement-timeout", c.Conn.StatementTimeout}, {"postgres.lock-timeout", c.Conn.LockTimeout},
		{"postgres.connect-timeout", c.Conn.ConnectTimeout}, {"collector.activity.label-retention", c.NameRetention},
		{"collector.activity.long-transaction", c.LongTransaction}, {"collector.database-size.ttl", c.DatabaseSizeTTL},
		{"collector.databases.ttl", c.DatabasesTTL}, {"collector.databases.timeout", c.DatabasesTimeout},
	} {
		if d.d < 0 {
			bad("--%s must not be negative, not %v", d.flag, d.d)
		}
	}
	for _, th := range c.QueryThresholds {
		if th <= 0 {
			bad("--collector.activity.query-threshold must be positive, not %v", th)
		}
	}
	for _, n := range []struct {
		flag string
		n    int
	}{
		{"collector.activity.top-names", c.TopNames}, {"collector.databases.max-connections", c.DatabasesMaxConnections},
		{"collector.tables.limit", c.TablesLimit}, {"collector.indexes.limit", c.IndexesLimit},
		{"probe.max-targets", c.MaxProbeTargets},
	} {
		if n.n < 1 {
			bad("--%s must be at least 1, not %d", n.flag, n.n)
		}
	}
	dbs := Databases{Enabled: c.Databases, TTL: c.DatabasesTTL, Timeout: c.DatabasesTimeout,
		MaxConnections: c.DatabasesMaxConnections, TablesLimit: c.TablesLimit, IndexesLimit: c.IndexesLimit}
	if dbs.Include, err = regexp.Compile(c.DatabasesInclude); err != nil {
		bad("--collector.databases.include: %w", err)
	}
	if c.DatabasesExclude != "" {
		if dbs.Exclude, err = regexp.Compile(c.DatabasesExclude); err != nil {
			bad("--collector.databases.exclude: %w", err)
		}
	}
	statements := c.StatementsTopN
	if statements == 0 {
		statements = -1 // the flag's 0 disables; the collector's 0 is its default
	}
	v.collector = Collector{TopNames: c.TopNames, NameRetention: c.NameRetention, QueryThresholds: c.QueryThresholds,
		LongTransaction: c.LongTransaction, StatementsTopN: statements, DatabaseSizeTTL: c.DatabaseSizeTTL, Databases: dbs}
	v.file = &File{}
	if c.ConfigFile != "" {
		if v.file, err = LoadFile(c.ConfigFile); err != nil {
			bad("--config.file: %w", err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return ValidatedConfig{}, err
	}
	return v, nil
}

// ConnConfig returns a copy of the target's connection configuration.
func (v ValidatedConfig) ConnConfig() *pgx.ConnConfig { return v.conn.Copy() }

// ConnOptions are the session settings of every connection, /probe's too.
func (v ValidatedConfig) ConnOptions() ConnOptions { return v.connOptions }

// DSNHosts are the host:port pairs --postgres.dsn dials: where an auth
// module without targets may be used.
func (v ValidatedConfig) DSNHosts() []string { return slices.Clone(v.dsnHosts) }

// File returns the configuration file's content (empty without one).
func (v ValidatedConfig) File() *File { return v.file }

// ConfigFile is the path of the configuration file ("" without one), which
// a reload reads again.
func (v ValidatedConfig) ConfigFile() string { return v.configFile }

// Collector returns the collectors' options.
func (v ValidatedConfig) Collector() Collector {
	c := v.collector
	c.QueryThresholds = slices.Clone(c.QueryThresholds)
	return c
}

// MaxProbeTargets is how many /probe targets are held at once.
func (v ValidatedConfig) MaxProbeTargets() int { return v.maxProbeTargets }

// dsnHosts lists the host:port pairs a connection configuration dials, once
// each (pgx's fallbacks repeat a host for each sslmode it tries; a Unix
// socket has none).
func dsnHosts(cc *pgx.ConnConfig) []string {
	var out []string
	add := func(host string, port uint16) {
		hp := net.JoinHostPort(host, strconv.Itoa(int(port)))
		if host != "" && !strings.HasPrefix(host, "/") && !slices.Contains(out, hp) {
			out = append(out, hp)
		}
	}
	add(cc.Host, cc.Port)
	for _, fb := range cc.Fallbacks {
		add(fb.Host, fb.Port)
	}
	return out
}

// ApplicationName is what the exporter calls itself in pg_stat_activity.
const ApplicationName = "outrigger-postgres-exporter"

// ConnOptions are the session settings of every connection the exporter opens.
type ConnOptions struct {
	// StatementTimeout and LockTimeout are set as session defaults, a
	// server-side backstop beside the scrape deadline.
	StatementTimeout time.Duration
	LockTimeout      time.Duration
	// ConnectTimeout bounds one connection attempt.
	ConnectTimeout time.Duration
}

// ConnConfig turns a DSN (URI or key=value) and an optional password into a
// pgx configuration with the exporter's session settings. Errors never
// contain the password.
func ConnConfig(dsn, password string, o ConnOptions) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing the data source name: %w", redactErr(err))
	}
	if password != "" {
		cfg.Password = password
	}
	rp := cfg.RuntimeParams
	if rp["application_name"] == "" {
		rp["application_name"] = ApplicationName
	}
	if o.StatementTimeout > 0 {
		rp["statement_timeout"] = fmt.Sprint(o.StatementTimeout.Milliseconds())
	}
	if o.LockTimeout > 0 {
		rp["lock_timeout"] = fmt.Sprint(o.LockTimeout.Milliseconds())
	}
	// An exporter must never hold a transaction open on the target.
	rp["idle_in_transaction_session_timeout"] = "60000"
	if o.ConnectTimeout > 0 {
		cfg.ConnectTimeout = o.ConnectTimeout
	}
	// When a scrape's deadline passes or its client goes away, ask the server
	// to cancel the running statement (the default only drops the socket,
	// leaving the query running on the server), and keep the session.
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 2 * time.Second}
	}
	// Simple protocol: one round trip per query and no prepared statements
	// left on the server; the exporter sends no parameters from outside.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	return cfg, nil
}

// redactErr drops pgx's parse error, which quotes the connection string and
// masks passwords only on a best-effort basis.
func redactErr(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("not a valid URI or key=value connection string")
	}
	return err
}
