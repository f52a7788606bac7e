package config

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/outrigger/outrigger/internal/promkit"
)

// Config is what the exporter's own flags say, before validation.
type Config struct {
	DSN          string
	PasswordFile string
	ConfigFile   string
	Conn         ConnOptions

	TopNames        int
	NameRetention   time.Duration
	QueryThresholds []time.Duration
	LongTransaction time.Duration
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

// ValidatedConfig is a Config that passed Validate; the exporter takes only this.
type ValidatedConfig struct {
	c       Config
	conn    *pgx.ConnConfig
	file    *File
	include *regexp.Regexp
	exclude *regexp.Regexp
}

// Validate checks every value, parses the DSN, reads the password file and
// loads the configuration file. Errors never contain the password.
func (c Config) Validate() (ValidatedConfig, error) {
	var errs []error
	v := ValidatedConfig{c: c}
	password, err := promkit.Secret("", c.PasswordFile)
	if err != nil {
		errs = append(errs, fmt.Errorf("--postgres.password-file: %w", err))
	}
	if v.conn, err = ConnConfig(c.DSN, password, c.Conn); err != nil {
		errs = append(errs, fmt.Errorf("--postgres.dsn: %w", err))
	}
	if c.Conn.StatementTimeout < 0 || c.Conn.LockTimeout < 0 || c.Conn.ConnectTimeout < 0 {
		errs = append(errs, errors.New("--postgres.statement-timeout, --postgres.lock-timeout and --postgres.connect-timeout must not be negative"))
	}
	if c.TopNames < 1 {
		errs = append(errs, errors.New("--collector.activity.top-names must be at least 1"))
	}
	for _, th := range c.QueryThresholds {
		if th <= 0 {
			errs = append(errs, errors.New("--collector.activity.query-threshold must be positive"))
		}
	}
	if c.DatabasesMaxConnections < 1 || c.TablesLimit < 1 || c.IndexesLimit < 1 || c.MaxProbeTargets < 1 {
		errs = append(errs, errors.New("--collector.databases.max-connections, --collector.tables.limit, --collector.indexes.limit and --probe.max-targets must be at least 1"))
	}
	if v.include, err = regexp.Compile(c.DatabasesInclude); err != nil {
		errs = append(errs, fmt.Errorf("--collector.databases.include: %w", err))
	}
	if c.DatabasesExclude != "" {
		if v.exclude, err = regexp.Compile(c.DatabasesExclude); err != nil {
			errs = append(errs, fmt.Errorf("--collector.databases.exclude: %w", err))
		}
	}
	v.file = &File{}
	if c.ConfigFile != "" {
		if v.file, err = LoadFile(c.ConfigFile); err != nil {
			errs = append(errs, fmt.Errorf("--config.file: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return ValidatedConfig{}, err
	}
	return v, nil
}

// Config returns the validated values.
func (v ValidatedConfig) Config() Config { return v.c }

// ConnConfig returns a copy of the target's connection configuration.
func (v ValidatedConfig) ConnConfig() *pgx.ConnConfig { return v.conn.Copy() }

// File returns the configuration file's content (empty without one).
func (v ValidatedConfig) File() *File { return v.file }

// Include and Exclude select the databases whose statistics are read.
func (v ValidatedConfig) Include() *regexp.Regexp { return v.include }

// Exclude may be nil.
func (v ValidatedConfig) Exclude() *regexp.Regexp { return v.exclude }

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
