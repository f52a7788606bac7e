package collector

import (
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/outrigger/outrigger/exporters/postgres/config"
)

func TestSettingMetric(t *testing.T) {
	cases := []struct {
		name, setting, unit, vartype string
		metric                       string
		value                        float64
	}{
		{"max_connections", "100", "", "integer", "pg_settings_max_connections", 100},
		{"shared_buffers", "4096", "8kB", "integer", "pg_settings_shared_buffers_bytes", 4096 * 8192},
		{"work_mem", "4096", "kB", "integer", "pg_settings_work_mem_bytes", 4096 * 1024},
		{"wal_segment_size", "16777216", "B", "integer", "pg_settings_wal_segment_size_bytes", 16777216},
		{"statement_timeout", "1500", "ms", "integer", "pg_settings_statement_timeout_seconds", 1.5},
		{"checkpoint_timeout", "5", "min", "integer", "pg_settings_checkpoint_timeout_seconds", 300},
		{"temp_file_limit", "-1", "kB", "integer", "pg_settings_temp_file_limit_bytes", -1},
		{"fsync", "on", "", "bool", "pg_settings_fsync", 1},
		{"pg_stat_statements.track_utility", "off", "", "bool", "pg_settings_pg_stat_statements_track_utility", 0},
		{"autovacuum_vacuum_scale_factor", "0.2", "", "real", "pg_settings_autovacuum_vacuum_scale_factor", 0.2},
	}
	for _, c := range cases {
		metric, v, _, ok := settingMetric(c.name, c.setting, c.unit, "help", c.vartype)
		if !ok || metric != c.metric || v != c.value {
			t.Errorf("%s: got %s %v %v, want %s %v", c.name, metric, v, ok, c.metric, c.value)
		}
	}
}

func FuzzSettingMetric(f *testing.F) {
	f.Add("shared_buffers", "4096", "8kB", "integer")
	f.Add("fsync", "on", "", "bool")
	f.Add("x.y-z", "1e3", "ms", "real")
	f.Fuzz(func(t *testing.T, name, setting, unit, vartype string) {
		metric, _, _, ok := settingMetric(name, setting, unit, "help", vartype)
		if ok && !strings.HasPrefix(metric, "pg_settings_") {
			t.Fatalf("metric %q", metric)
		}
	})
}

// Probe targets never take credentials from the URL.
func TestProbeTargetRejectsCredentialsInURL(t *testing.T) {
	p := &Probes{File: func() *config.File { return &config.File{} }, Max: 2}
	for _, target := range []string{"postgres://u:pw@db:5432/app", ""} {
		r := httptest.NewRequest("GET", "/probe?target="+target, nil)
		if _, _, err := p.TargetFunc(r); err == nil {
			t.Errorf("target %q accepted", target)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("error quotes the password: %v", err)
		}
	}
	r := httptest.NewRequest("GET", "/probe?target=db:5432/app&auth_module=missing", nil)
	if _, _, err := p.TargetFunc(r); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("unknown auth module: %v", err)
	}
}

// The probe's DSN holds the module's password only as a password, and dials
// exactly the host:port the module's targets were checked against (no
// second host, no user smuggled in through the target).
func FuzzProbeDSN(f *testing.F) {
	f.Add("db:5432/app", "")
	f.Add("postgres://db/app?sslmode=disable", "")
	f.Add("[::1]:5432", "m")
	f.Add("a:5432,b:5432/app", "m")
	f.Add("u@db:5432/app", "m")
	am := config.AuthModule{Type: "userpass", UserPass: config.UserPass{Username: "u", Password: "pw"}}
	f.Fuzz(func(t *testing.T, target, module string) {
		hostport, db, err := splitTarget(target)
		if err != nil {
			return
		}
		dsn, _, _, err := dsn(hostport, db, module, am)
		if err != nil {
			return
		}
		if strings.Contains(dsn, "pw") && !strings.Contains(target, "pw") {
			t.Fatalf("the password went into the DSN: %q", dsn)
		}
		cc, err := pgx.ParseConfig(dsn)
		if err != nil {
			return
		}
		if got := net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))); got != hostport {
			t.Fatalf("target %q checked as %s dials %s", target, hostport, got)
		}
		for _, fb := range cc.Fallbacks { // sslmode=prefer: the same host without TLS
			if got := net.JoinHostPort(fb.Host, strconv.Itoa(int(fb.Port))); got != hostport {
				t.Fatalf("target %q checked as %s also dials %s", target, hostport, got)
			}
		}
	})
}
