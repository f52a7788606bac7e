package config

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseBroker(t *testing.T) {
	cases := []struct {
		url      string
		redacted string
		db       int
		vhost    string
	}{
		{"redis://localhost:6379/0", "redis://localhost:6379/0", 0, ""},
		{"redis://:pw@redis/3", "redis://redis:6379/3", 3, ""},
		{"rediss://u:pw@redis:6380/1", "rediss://redis:6380/1", 1, ""},
		{"amqp://guest:guest@rabbit:5672//", "amqp://rabbit:5672/%2F", 0, "/"},
		{"pyamqp://rabbit", "amqp://rabbit:5672/%2F", 0, "/"},
		{"amqps://u:p@rabbit/prod", "amqps://rabbit:5671/prod", 0, "prod"},
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			b, err := ParseBroker(c.url)
			if err != nil {
				t.Fatal(err)
			}
			if b.Redacted() != c.redacted || b.DB != c.db || b.VHost != c.vhost {
				t.Fatalf("got %s db %d vhost %q", b.Redacted(), b.DB, b.VHost)
			}
		})
	}
	for _, bad := range []string{"", "sqs://x", "redis://h/notanumber", "::"} {
		if _, err := ParseBroker(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestValidateNeverRepeatsThePassword(t *testing.T) {
	c := Config{BrokerURL: "redis://:hunter2@h/x", HostnameMode: "nope", PollInterval: time.Second}
	_, err := c.Validate()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"--broker-url", "--hostname.mode", "--events.silence-timeout", "--task.capacity"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
}

func FuzzParseBroker(f *testing.F) {
	for _, s := range []string{"redis://:pw@h:1/2", "amqp://u:p@h//", "rediss://h", "amqp://%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBroker(s)
		if err != nil {
			if b.Password != "" && strings.Contains(err.Error(), b.Password) {
				t.Fatal("error holds the password")
			}
			return
		}
		if b.Password != "" && strings.Contains(b.Redacted(), ":"+b.Password+"@") {
			t.Fatalf("Redacted %q holds credentials", b.Redacted())
		}
	})
}

// The management API's password file replaces the URL's password; its user
// is the URL's, or the broker's; the redacted form keeps only the user.
func TestManagementPassword(t *testing.T) {
	base := Config{BrokerURL: "amqp://celery:bpw@rabbit//", HostnameMode: "host", PollInterval: time.Second,
		SilenceTimeout: time.Second, TaskCapacity: 1, TaskTTL: time.Hour, MaxBackoff: time.Second, DefaultQueue: "celery",
		RuntimeBuckets: "1", WaitBuckets: "1"}
	for _, c := range []struct{ url, password, user, pass, redacted string }{
		{"http://mon@rabbit:15672", "filepw", "mon", "filepw", "http://mon@rabbit:15672"},
		{"http://rabbit:15672", "filepw", "celery", "filepw", "http://celery@rabbit:15672"},
		{"http://mon:inline@rabbit:15672", "filepw", "mon", "filepw", "http://mon@rabbit:15672"},
		{"http://mon:inline@rabbit:15672", "", "mon", "inline", "http://mon@rabbit:15672"},
	} {
		cfg := base
		cfg.ManagementURL = c.url
		if c.password != "" {
			cfg.ManagementPasswordFile = writeFile(t, c.password+"\n")
		}
		v, err := cfg.Validate()
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		u := v.Management()
		if pw, _ := u.User.Password(); u.User.Username() != c.user || pw != c.pass {
			t.Errorf("%s with %q: user %s", c.url, c.password, u.User)
		}
		if got := v.ManagementRedacted(); got != c.redacted {
			t.Errorf("%s: redacted %s, want %s", c.url, got, c.redacted)
		}
	}
	cfg := base
	cfg.ManagementURL = "ftp://mon:inline@rabbit"
	if _, err := cfg.Validate(); err == nil || strings.Contains(err.Error(), "inline") {
		t.Errorf("a bad management URL: %v", err)
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func valid() Config {
	return Config{BrokerURL: "redis://h/0", HostnameMode: "host", PollInterval: time.Second, SilenceTimeout: time.Second,
		TaskCapacity: 1, TaskTTL: time.Hour, MaxBackoff: time.Second}
}

// Validate parses every flag value: lists, escapes, buckets and the
// password files; a bad one is named by its flag.
func TestValidateParsesFlagValues(t *testing.T) {
	c := valid()
	c.PrioritySteps, c.Separator = "9, 0,3,3", `\x01:`
	c.RuntimeBuckets, c.WaitBuckets = ".5,1, 2", ""
	c.BrokerPasswordFile = writeFile(t, "filepw\n")
	v, err := c.Validate()
	if err != nil {
		t.Fatal(err)
	}
	w := v.WatchOptions()
	if !slices.Equal(w.PrioritySteps, []int{0, 3, 9}) || w.Separator != "\x01:" || w.Broker.Password != "filepw" ||
		w.UnackedKey != "unacked" || w.DefaultQueue != "celery" || w.DiscoverInterval != time.Minute {
		t.Errorf("watch options %+v", w)
	}
	if o := v.TrackerOptions(); !slices.Equal(o.RuntimeBuckets, []float64{.5, 1, 2}) || o.WaitBuckets != nil {
		t.Errorf("buckets %v %v", o.RuntimeBuckets, o.WaitBuckets)
	}
	if d := (Config{}).mustWatch(t); !slices.Equal(d.PrioritySteps, []int{0, 3, 6, 9}) || d.Separator != "\x06\x16" {
		t.Errorf("defaults: steps %v separator %q", d.PrioritySteps, d.Separator)
	}
	for _, bad := range []struct {
		mut  func(*Config)
		flag string
	}{
		{func(c *Config) { c.PrioritySteps = "0,x" }, "--redis.priority-steps"},
		{func(c *Config) { c.PrioritySteps = "0,256" }, "--redis.priority-steps"},
		{func(c *Config) { c.Separator = `\q` }, "--redis.separator"},
		{func(c *Config) { c.RuntimeBuckets = "1,x" }, "--buckets"},
		{func(c *Config) { c.WaitBuckets = "2,1" }, "--queue-wait-buckets"},
		{func(c *Config) { c.BrokerPasswordFile = "/nonexistent/pw" }, "--broker.password-file"},
		{func(c *Config) {
			c.ManagementURL, c.ManagementPasswordFile = "http://rabbit:15672", "/nonexistent/pw"
		}, "--rabbitmq.management-password-file"},
	} {
		c := valid()
		bad.mut(&c)
		if _, err := c.Validate(); err == nil || !strings.Contains(err.Error(), bad.flag) {
			t.Errorf("%s: err = %v", bad.flag, err)
		}
	}
}

// mustWatch is the watch options of c with the rest made valid.
func (c Config) mustWatch(t *testing.T) Watch {
	t.Helper()
	v := valid()
	v.PrioritySteps, v.Separator = c.PrioritySteps, c.Separator
	vc, err := v.Validate()
	if err != nil {
		t.Fatal(err)
	}
	return vc.WatchOptions()
}

// rediss:// and amqps:// verify the broker's host name with TLS 1.2 or
// later; plain URLs have no TLS.
func TestBrokerTLS(t *testing.T) {
	for url, host := range map[string]string{"rediss://:pw@redis.example:6380/1": "redis.example",
		"amqps://u:p@rabbit.example/prod": "rabbit.example", "redis://h/0": "", "amqp://h//": ""} {
		c := valid()
		c.BrokerURL = url
		v, err := c.Validate()
		if err != nil {
			t.Fatal(err)
		}
		tc := v.WatchOptions().TLS
		switch {
		case host == "" && tc != nil:
			t.Errorf("%s: TLS %+v", url, tc)
		case host != "" && (tc == nil || tc.ServerName != host || tc.MinVersion != tls.VersionTLS12 || tc.InsecureSkipVerify):
			t.Errorf("%s: TLS %+v", url, tc)
		}
	}
}

func TestWarningsForAnExpiryShorterThanTheMixinsAlert(t *testing.T) {
	for expiry, warn := range map[time.Duration]bool{0: false, 10 * time.Minute: true, 30 * time.Minute: false} {
		c := valid()
		c.WorkerExpiry = expiry
		v, err := c.Validate()
		if err != nil {
			t.Fatal(err)
		}
		if got := len(v.Warnings()) > 0; got != warn {
			t.Errorf("expiry %s: warnings %q", expiry, v.Warnings())
		}
	}
}
