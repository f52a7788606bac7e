package config

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func valid() Config {
	return Config{DatabaseURL: "postgresql://llmproxy:dbpassword9090@db:5432/litellm", RefreshInterval: 30 * time.Second,
		RefreshTimeout: 10 * time.Second, SpendLogs: true, SpendLogsLag: 2 * time.Minute, SpendLogsMaxWindow: time.Hour, MaxSeries: 500}
}

func httpMode(c *Config) {
	c.DatabaseURL, c.ProxyURL, c.MasterKey, c.PageSize, c.MaxPages = "", "https://litellm:4000/", "sk-dbpassword9090", 100, 100
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"prisma url with schema and pool settings", func(c *Config) {
			c.DatabaseURL = "postgresql://u:p@db:5432/litellm?schema=proxy&connection_limit=5&pool_timeout=10&sslmode=disable"
		}, ""},
		{"key=value dsn", func(c *Config) { c.DatabaseURL = "host=db user=u password=p dbname=litellm" }, ""},
		{"empty url", func(c *Config) { c.DatabaseURL = "" }, "nothing to read"},
		{"garbage url", func(c *Config) { c.DatabaseURL = "postgres://u:dbpassword9090@db:notaport/x" }, "not a valid"},
		{"bad zone", func(c *Config) { c.Zone = "Mars/Olympus" }, "--time-zone"},
		{"zero interval", func(c *Config) { c.RefreshInterval = 0 }, "--refresh.interval"},
		{"zero timeout", func(c *Config) { c.RefreshTimeout = 0 }, "--refresh.timeout"},
		{"negative lag", func(c *Config) { c.SpendLogsLag = -time.Second }, "--spendlogs.lag"},
		{"no series", func(c *Config) { c.MaxSeries = 0 }, "--max-series"},
		{"http mode", httpMode, ""},
		{"both modes", func(c *Config) { httpMode(c); c.DatabaseURL = "postgresql://u:dbpassword9090@db/x" }, "not both"},
		{"http mode without a key", func(c *Config) { httpMode(c); c.MasterKey = "" }, "needs the master key"},
		{"http mode key with a newline", func(c *Config) { httpMode(c); c.MasterKey = "sk-dbpassword9090\nx" }, "line break"},
		{"http mode bad scheme", func(c *Config) { httpMode(c); c.ProxyURL = "ftp://litellm:4000" }, "--litellm.url"},
		{"http mode credentials in url", func(c *Config) { httpMode(c); c.ProxyURL = "http://admin:dbpassword9090@litellm:4000" }, "credentials"},
		{"http mode page size", func(c *Config) { httpMode(c); c.PageSize = 500 }, "--litellm.page-size"},
		{"http mode since", func(c *Config) { httpMode(c); c.UsageSince = "March" }, "--litellm.usage-since"},
		{"http mode missing ca", func(c *Config) { httpMode(c); c.ProxyCAFile = "/nonexistent/ca.pem" }, "--litellm.ca-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.edit(&c)
			vc, err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if vc.Now().IsZero() || vc.Location() == nil {
					t.Fatal("defaults not filled in")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate error = %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "dbpassword9090") {
				t.Fatalf("the error carries the password: %v", err)
			}
		})
	}
}

func TestPrismaSchemaBecomesSearchPath(t *testing.T) {
	c := valid()
	c.DatabaseURL = "postgresql://u:p@db:5432/litellm?schema=proxy&connection_limit=5&pgbouncer=true"
	vc, err := c.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if vc.Schema() != "proxy" {
		t.Fatalf("schema = %q, want proxy", vc.Schema())
	}
	cc := vc.ConnConfig()
	for _, p := range []string{"schema", "connection_limit", "pgbouncer"} {
		if _, ok := cc.RuntimeParams[p]; ok {
			t.Errorf("Prisma parameter %q would be sent to the server", p)
		}
	}
	if cc.Password != "p" || cc.Database != "litellm" {
		t.Fatalf("parsed %q/%q", cc.Password, cc.Database)
	}
}

func FuzzParseDatabaseURL(f *testing.F) {
	for _, s := range []string{
		"postgresql://llmproxy:dbpassword9090@db:5432/litellm",
		"postgresql://u:p@db:5432/litellm?schema=proxy&connection_limit=5&pool_timeout=10",
		"postgres://u@localhost/litellm?sslmode=require",
		"host=db user=u password=p dbname=litellm",
		"postgresql://u:p%40ss@[::1]:5432/db",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		cc, _, err := ParseDatabaseURL(raw)
		if err != nil {
			if len(raw) > 8 && strings.Contains(err.Error(), raw) {
				t.Fatalf("the error echoes the URL: %v", err)
			}
			return
		}
		if cc == nil {
			t.Fatal("nil config without an error")
		}
	})
}

func TestProxyTLS(t *testing.T) {
	c := valid()
	httpMode(&c)
	vc, err := c.Validate()
	if err != nil || vc.ProxyTLS() != nil {
		t.Fatalf("no TLS setting: %v, %v; want the defaults (nil)", vc.ProxyTLS(), err)
	}
	c.ProxyInsecureSkipVerify = true
	vc, err = c.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if tc := vc.ProxyTLS(); tc == nil || !tc.InsecureSkipVerify || tc.MinVersion != tls.VersionTLS12 {
		t.Fatalf("--litellm.insecure-skip-verify: %+v", tc)
	}
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.ProxyInsecureSkipVerify, c.ProxyCAFile = false, notPEM
	if _, err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--litellm.ca-file") {
		t.Fatalf("a CA file without PEM: %v", err)
	}
}

// The proxy's own variables are the fallbacks of the flags, and the secret
// files are read by Validate.
func TestSourcesFromTheProxysEnvironment(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("sk-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"LITELLM_URL": "http://litellm:4000", "LITELLM_MASTER_KEY": "sk-from-env", "DATABASE_URL": "postgres://u:p@db/x"}
	c := valid()
	c.DatabaseURL, c.PageSize, c.MaxPages = "", 100, 100
	c.Getenv = func(k string) string { return env[k] }
	vc, err := c.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if !vc.HTTPMode() || vc.ProxyAPI().MasterKey != "sk-from-env" {
		t.Fatalf("LITELLM_URL without a database URL: HTTP mode %v, key %q", vc.HTTPMode(), vc.ProxyAPI().MasterKey)
	}
	env["LITELLM_MASTER_KEY_FILE"] = keyFile
	if vc, err = c.Validate(); err != nil || vc.ProxyAPI().MasterKey != "sk-from-file" {
		t.Fatalf("LITELLM_MASTER_KEY_FILE: key %q, %v; want the file's", vc.ProxyAPI().MasterKey, err)
	}
	c.DatabaseURLFile = filepath.Join(dir, "missing")
	if _, err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--database-url.file") {
		t.Fatalf("a missing --database-url.file: %v", err)
	}
	delete(env, "LITELLM_URL")
	c.DatabaseURLFile = ""
	if vc, err = c.Validate(); err != nil || vc.HTTPMode() {
		t.Fatalf("DATABASE_URL alone: HTTP mode %v, %v; want database mode", vc.HTTPMode(), err)
	}
}
