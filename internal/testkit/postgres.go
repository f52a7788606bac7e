package testkit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// PostgresOptions shape a throwaway PostgreSQL server.
type PostgresOptions struct {
	// MaxConnections sets max_connections (default 100).
	MaxConnections int
	// StatStatements preloads pg_stat_statements and creates the extension in
	// the postgres database.
	StatStatements bool
	// Password, when set, is required for TCP connections (scram-sha-256) of
	// the superuser "postgres"; unix-socket connections stay trusted.
	Password string
	// Settings are extra postgresql.conf parameters.
	Settings map[string]string
}

// Postgres is a running PostgreSQL server owned by a test.
type Postgres struct {
	Host string // 127.0.0.1
	Port int
	// SocketDir holds the unix socket.
	SocketDir string
	DataDir   string
	User      string
	Password  string
	proc      *Process
	bin       string
}

func postgresBinDir(t TB) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Strings(dirs)
	if len(dirs) == 0 {
		Binary(t, "initdb")
		return ""
	}
	return dirs[len(dirs)-1]
}

// StartPostgres initialises a cluster in a temporary directory and starts it
// on a free port. It is stopped and removed at cleanup.
func StartPostgres(t TB, opts PostgresOptions) *Postgres {
	t.Helper()
	bin := postgresBinDir(t)
	base := TempDir(t, "pg")
	pg := &Postgres{Host: "127.0.0.1", Port: FreePort(t), SocketDir: filepath.Join(base, "sock"),
		DataDir: filepath.Join(base, "data"), User: "postgres", Password: opts.Password, bin: bin}
	if err := os.MkdirAll(pg.SocketDir, 0o755); err != nil {
		t.Fatal(err)
	}
	chownTree(t, base, "postgres")
	run(t, "postgres", filepath.Join(bin, "initdb"), "-D", pg.DataDir, "-U", "postgres", "--auth=trust",
		"--no-sync", "-E", "UTF8", "--locale=C")

	conf := map[string]string{
		"listen_addresses":        "'127.0.0.1'",
		"port":                    fmt.Sprint(pg.Port),
		"unix_socket_directories": "'" + pg.SocketDir + "'",
		"max_connections":         "100",
		"fsync":                   "off",
		"synchronous_commit":      "off",
		"full_page_writes":        "off",
		"shared_buffers":          "32MB",
		"logging_collector":       "off",
	}
	if opts.MaxConnections > 0 {
		conf["max_connections"] = fmt.Sprint(opts.MaxConnections)
	}
	if opts.StatStatements {
		conf["shared_preload_libraries"] = "'pg_stat_statements'"
		conf["pg_stat_statements.track"] = "all"
	}
	for k, v := range opts.Settings {
		conf[k] = v
	}
	var b strings.Builder
	keys := make([]string, 0, len(conf))
	for k := range conf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, conf[k])
	}
	appendFile(t, filepath.Join(pg.DataDir, "postgresql.conf"), b.String())
	if opts.Password != "" {
		hba := "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n"
		if err := os.WriteFile(filepath.Join(pg.DataDir, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
			t.Fatal(err)
		}
		chownTree(t, pg.DataDir, "postgres")
	}

	pg.proc = &Process{Name: "postgres", Path: filepath.Join(bin, "postgres"), Args: []string{"-D", pg.DataDir},
		LogPath: filepath.Join(base, "postgres.log"), RunAs: "postgres", StopSignal: 2 /* SIGINT: fast shutdown */}
	t.Cleanup(func() {
		pg.proc.dumpOnFailure(t)
		pg.proc.Stop(t)
	})
	pg.Start(t)
	if opts.Password != "" {
		pg.PSQL(t, "postgres", fmt.Sprintf("ALTER USER postgres PASSWORD '%s'", strings.ReplaceAll(opts.Password, "'", "''")))
	}
	if opts.StatStatements {
		pg.PSQL(t, "postgres", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
	}
	return pg
}

func appendFile(t TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// Start starts the server (again, after Stop) and waits until it accepts
// connections.
func (pg *Postgres) Start(t TB) {
	t.Helper()
	pg.proc.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		out, err := pg.try("postgres", "SELECT 1")
		if err == nil && strings.TrimSpace(out) == "1" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("postgres did not become ready on port %d: %v %s\n%s", pg.Port, err, out, pg.proc.Log())
		case <-pg.proc.Exited():
			t.Fatalf("postgres exited at start:\n%s", pg.proc.Log())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop shuts the server down (fast shutdown: sessions are disconnected).
func (pg *Postgres) Stop(t TB) {
	t.Helper()
	pg.proc.Stop(t)
}

// DSN returns a URL for database db over TCP, with the password if any.
func (pg *Postgres) DSN(db string) string {
	auth := pg.User
	if pg.Password != "" {
		auth += ":" + pg.Password
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", auth, pg.Host, pg.Port, db)
}

// PSQL runs SQL through psql over the unix socket and returns unaligned,
// tuples-only output. It fails the test on error.
func (pg *Postgres) PSQL(t TB, db, sql string) string {
	t.Helper()
	out, err := pg.try(db, sql)
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", sql, err, out)
	}
	return out
}

func (pg *Postgres) try(db, sql string) (string, error) {
	psql := filepath.Join(pg.bin, "psql")
	if _, err := os.Stat(psql); err != nil {
		psql = "psql"
	}
	return output(psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", pg.SocketDir, "-p", fmt.Sprint(pg.Port),
		"-U", "postgres", "-d", db, "-c", sql)
}
