package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLoadFileGood(t *testing.T) {
	f, err := LoadFile("testdata/good.yml")
	if err != nil {
		t.Fatal(err)
	}
	q := f.Queries[0]
	if q.Name != "app_job_queue" || q.TTL != 30*time.Second || q.Timeout != time.Second || q.MinVersionNum != 120000 || q.Line != 10 {
		t.Errorf("query decoded as %+v", q)
	}
	if got := q.Metric(q.Values[1]); got != "pg_app_job_queue_oldest_seconds" {
		t.Errorf("metric name %q", got)
	}
	if am := f.AuthModules["prod"]; am.UserPass.Username != "exporter" || am.Options["sslmode"] != "disable" {
		t.Errorf("auth module decoded as %+v", am)
	}
}

// Bad files fail with errors naming the line.
func TestLoadFileErrors(t *testing.T) {
	cases := map[string]string{
		"bad-unknown-field.yml": "line 4: field valuez not found",
		"bad-type.yml":          `line 5: query "q": value "one": type must be gauge or counter, not "histogram"`,
		"bad-duplicate.yml":     `line 5: query "q": name already used by the query at line 2`,
		"bad-version.yml":       `line 2: query "q": min_server_version: "fourteen": want MAJOR or MAJOR.MINOR`,
		"bad-auth.yml":          `line 2: auth module "prod": set userpass.password or userpass.password_file, not both`,
		"bad-duration.yml":      "line 5: cannot unmarshal !!str `soon` into time.Duration",
		"bad-targets.yml":       `line 2: auth module "prod": targets: "db.internal" is not host:port`,
	}
	for file, want := range cases {
		t.Run(file, func(t *testing.T) {
			_, err := LoadFile(filepath.Join("testdata", file))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v, want it to contain %q", err, want)
			}
		})
	}
}

func TestVersionNum(t *testing.T) {
	for in, want := range map[string]int64{"14": 140000, "9.6": 90600, "15.4": 150004, "10": 100000} {
		if got, err := VersionNum(in); err != nil || got != want {
			t.Errorf("VersionNum(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

// The password never appears in validation errors, whatever is wrong.
func TestValidateKeepsSecretsOut(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dsn := range []string{"postgres://u:s3cret-pw@host:99999999/db", "host=x password=s3cret-pw port=notaport", "postgres://u:s3cret-pw@[::1"} {
		c := validConfig()
		c.DSN = dsn
		c.PasswordFile = pw
		_, err := c.Validate()
		if err == nil {
			t.Errorf("%q: no error", "dsn")
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
	c := validConfig()
	c.PasswordFile = pw
	v, err := c.Validate()
	if err != nil {
		t.Fatal(err)
	}
	cc := v.ConnConfig()
	if cc.Password != "s3cret-pw" || cc.RuntimeParams["application_name"] != ApplicationName ||
		cc.RuntimeParams["statement_timeout"] != "5000" || cc.RuntimeParams["lock_timeout"] != "500" {
		t.Errorf("connection config: password set %v, params %v", cc.Password != "", cc.RuntimeParams)
	}
}

func validConfig() Config {
	return Config{DSN: "postgres://exporter@localhost:5432/postgres", TopNames: 10, DatabasesInclude: ".*",
		DatabasesMaxConnections: 1, TablesLimit: 25, IndexesLimit: 25, MaxProbeTargets: 8,
		Conn: ConnOptions{StatementTimeout: 5 * time.Second, LockTimeout: 500 * time.Millisecond}}
}

func FuzzParseFile(f *testing.F) {
	for _, name := range []string{"good.yml", "bad-type.yml", "bad-auth.yml", "bad-unknown-field.yml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(""))
	f.Add([]byte("queries: [{name: x}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := ParseFile(b)
		if err == nil {
			for _, q := range file.Queries {
				if !nameRE.MatchString(q.Name) || len(q.Values) == 0 {
					t.Fatalf("accepted an invalid query %+v", q)
				}
			}
		}
	})
}

func FuzzConnConfig(f *testing.F) {
	f.Add("postgres://u:pw@localhost:5432/db?sslmode=disable")
	f.Add("host=localhost user=u password=pw dbname=db")
	f.Add("postgres://u@[::1]:5432/db")
	f.Add("postgres://u:pw-secret@host:bad/db")
	f.Add("host=x password=pw-secret port=x")
	f.Fuzz(func(t *testing.T, dsn string) {
		_, err := ConnConfig(dsn, "", ConnOptions{})
		if err != nil && strings.Contains(dsn, "pw-secret") && strings.Contains(err.Error(), "pw-secret") {
			t.Fatalf("error quotes the password: %v", err)
		}
	})
}

// A module's credentials may be sent only to its targets' host:port
// patterns, or without any to the DSN's own host:port.
func TestAuthModuleAllows(t *testing.T) {
	listed := AuthModule{Targets: []string{"db-*.internal:5432", "10.0.0.7:*", "[::1]:6432"}}
	none := AuthModule{}
	dsn := []string{"pg.internal:5432"}
	cases := []struct {
		am     AuthModule
		target string
		want   bool
	}{
		{listed, "db-1.internal:5432", true},
		{listed, "DB-1.Internal:5432", true},
		{listed, "db-1.internal:5433", false},
		{listed, "db-1.internal.evil.com:5432", false},
		{listed, "evil.com:5432", false},
		{listed, "10.0.0.7:1", true},
		{listed, "10.0.0.70:5432", false},
		{listed, "[::1]:6432", true},
		{listed, "pg.internal:5432", false}, // targets replace the DSN's host
		{none, "pg.internal:5432", true},
		{none, "pg.internal:5433", false},
		{none, "other:5432", false},
		{none, "not-host-port", false},
	}
	for _, c := range cases {
		if got := c.am.Allows(c.target, dsn); got != c.want {
			t.Errorf("%v allows %s = %v, want %v", c.am.Targets, c.target, got, c.want)
		}
	}
}

// Validate hands the collectors parsed, flag-checked values: the flag's 0 for
// statements disables the collector, the regexps are compiled, the DSN's
// hosts are listed for auth modules without targets.
func TestValidateHandsOutOptions(t *testing.T) {
	c := validConfig()
	c.DSN = "postgres://exporter@db1:5433,db2/postgres"
	c.StatementsTopN = 0
	c.DatabasesExclude = "^tmp_"
	c.QueryThresholds = []time.Duration{time.Second}
	v, err := c.Validate()
	if err != nil {
		t.Fatal(err)
	}
	o := v.Collector()
	if o.StatementsTopN != -1 || o.TopNames != 10 || o.Databases.TablesLimit != 25 || o.Databases.MaxConnections != 1 {
		t.Errorf("collector options %+v", o)
	}
	if !o.Databases.Include.MatchString("app") || !o.Databases.Exclude.MatchString("tmp_x") || o.Databases.Exclude.MatchString("app") {
		t.Errorf("database regexps %v %v", o.Databases.Include, o.Databases.Exclude)
	}
	o.QueryThresholds[0] = time.Hour
	if v.Collector().QueryThresholds[0] != time.Second {
		t.Errorf("Collector() shares its thresholds with the caller")
	}
	if got := strings.Join(v.DSNHosts(), " "); got != "db1:5433 db2:5432" {
		t.Errorf("DSN hosts %q", got)
	}
	if v.MaxProbeTargets() != 8 || v.ConnOptions().LockTimeout != 500*time.Millisecond || v.ConfigFile() != "" {
		t.Errorf("probe targets %d, conn options %+v, config file %q", v.MaxProbeTargets(), v.ConnOptions(), v.ConfigFile())
	}
	c.StatementsTopN = 5
	if v, _ := c.Validate(); v.Collector().StatementsTopN != 5 {
		t.Errorf("statements top-n %d, want 5", v.Collector().StatementsTopN)
	}
	c.DSN = "host=/run/postgresql dbname=postgres"
	if v, _ := c.Validate(); len(v.DSNHosts()) != 0 {
		t.Errorf("a Unix socket DSN has hosts %v", v.DSNHosts())
	}
}

// Each bad flag gets its own error naming it and the value given.
func TestValidateNamesEachBadFlag(t *testing.T) {
	c := validConfig()
	c.TablesLimit = 0
	c.MaxProbeTargets = -2
	c.LongTransaction = -time.Second
	c.QueryThresholds = []time.Duration{0}
	c.DatabasesInclude = "("
	_, err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		"--collector.activity.long-transaction must not be negative, not -1s",
		"--collector.activity.query-threshold must be positive, not 0s",
		"--collector.tables.limit must be at least 1, not 0",
		"--probe.max-targets must be at least 1, not -2",
		"--collector.databases.include: error parsing regexp",
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("error %d = %q, want %q", i, lines[i], w)
		}
	}
}
