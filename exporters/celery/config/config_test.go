package config

import (
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
		RuntimeBuckets: []float64{1}, WaitBuckets: []float64{1}}
	for _, c := range []struct{ url, password, user, pass, redacted string }{
		{"http://mon@rabbit:15672", "filepw", "mon", "filepw", "http://mon@rabbit:15672"},
		{"http://rabbit:15672", "filepw", "celery", "filepw", "http://celery@rabbit:15672"},
		{"http://mon:inline@rabbit:15672", "filepw", "mon", "filepw", "http://mon@rabbit:15672"},
		{"http://mon:inline@rabbit:15672", "", "mon", "inline", "http://mon@rabbit:15672"},
	} {
		cfg := base
		cfg.ManagementURL, cfg.ManagementPassword = c.url, c.password
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
