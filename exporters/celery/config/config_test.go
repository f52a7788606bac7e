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
