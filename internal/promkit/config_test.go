package promkit

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
)

func TestDeadlineFromHeader(t *testing.T) {
	d := Deadline{Offset: 500 * time.Millisecond, Max: 10 * time.Second}
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", 10 * time.Second},
		{"1", 500 * time.Millisecond},
		{"2.5", 2 * time.Second},
		{"0.4", 200 * time.Millisecond}, // less than the offset: half of it
		{"60", 10 * time.Second},        // capped by Max
		{"garbage", 10 * time.Second},
		{"-3", 10 * time.Second},
	} {
		r, _ := http.NewRequest("GET", "/metrics", nil)
		if tc.header != "" {
			r.Header.Set(TimeoutHeader, tc.header)
		}
		if got := d.Timeout(r); got != tc.want {
			t.Errorf("header %q: timeout %s, want %s", tc.header, got, tc.want)
		}
	}
}

func TestFlagsReadEnvAndValidate(t *testing.T) {
	t.Setenv("X_WEB_LISTEN_ADDRESS", "127.0.0.1:1234")
	t.Setenv("X_LOG_LEVEL", "debug")
	app := kingpin.New("x", "")
	f := AddFlags(app, Defaults{Service: "x", ListenAddress: ":1", EnvPrefix: "X_"})
	if _, err := app.Parse([]string{"--scrape.timeout-max=3s"}); err != nil {
		t.Fatal(err)
	}
	cfg := f.Config()
	if len(cfg.ListenAddresses) != 1 || cfg.ListenAddresses[0] != "127.0.0.1:1234" || cfg.LogLevel != "debug" || cfg.ScrapeTimeoutMax != 3*time.Second {
		t.Fatalf("config from env and flags = %+v", cfg)
	}
	if _, err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateRejects(t *testing.T) {
	good := Config{Service: "x", ListenAddresses: []string{":1"}, TelemetryPath: "/metrics", LogLevel: "info",
		LogFormat: "logfmt", ScrapeTimeoutMax: time.Second}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"no listen address", func(c *Config) { c.ListenAddresses = nil }, "--web.listen-address"},
		{"relative telemetry path", func(c *Config) { c.TelemetryPath = "metrics" }, "must start with /"},
		{"telemetry path on /health", func(c *Config) { c.TelemetryPath = "/health" }, "built-in"},
		{"missing web config", func(c *Config) { c.WebConfigFile = "/nonexistent/web.yml" }, "--web.config.file"},
		{"bad level", func(c *Config) { c.LogLevel = "loud" }, "--log.level"},
		{"zero max timeout", func(c *Config) { c.ScrapeTimeoutMax = 0 }, "--scrape.timeout-max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mutate(&c)
			_, err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestSecretFromFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(p, []byte("hunter2\n"), 0o600)
	if s, err := Secret("ignored", p); err != nil || s != "hunter2" {
		t.Fatalf("Secret = %q, %v", s, err)
	}
	if s, _ := Secret("direct", ""); s != "direct" {
		t.Fatalf("Secret without file = %q", s)
	}
	_, err := Secret("", filepath.Join(t.TempDir(), "missing"))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("missing secret file: %v", err)
	}
}
