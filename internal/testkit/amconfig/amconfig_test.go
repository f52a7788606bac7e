package amconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/testkit"
)

const shipped = `global: {resolve_timeout: 5m, slack_api_url_file: /run/slack}
route:
  receiver: chat
  group_wait: 30s
  routes:
    - matchers: ['severity="critical"']
      receiver: page
      group_wait: 10s
inhibit_rules:
  - source_matchers: ['alertname="Down"']
    target_matchers: ['alertname="Slow"']
    equal: [instance]
receivers:
  - name: page
    email_configs: [{to: a@example.com, from: b@example.com, smarthost: 'smtp.example.com:25', send_resolved: true}]
  - name: chat
    slack_configs: [{channel: '#x'}]
`

// ForSink keeps the routes and inhibitions, sets the timings asked for by
// receiver, and sends every receiver to the sink.
func TestForSinkChangesOnlyTimingsAndDestinations(t *testing.T) {
	out := ForSink(t, []byte(shipped), SinkConfig{SinkURL: "http://127.0.0.1:1", ResolveTimeout: "1m",
		GroupWait: map[string]string{"page": "1s", "*": "2s"}})
	for _, want := range []string{"resolve_timeout: 1m", "group_wait: 1s", "group_wait: 2s", `alertname="Down"`,
		"url: http://127.0.0.1:1/page", "url: http://127.0.0.1:1/chat", "send_resolved: true", "send_resolved: false"} {
		if !strings.Contains(out, want) {
			t.Errorf("derived config lacks %q:\n%s", want, out)
		}
	}
	for _, gone := range []string{"email_configs", "slack_configs", "group_wait: 30s", "group_wait: 10s"} {
		if strings.Contains(out, gone) {
			t.Errorf("derived config still has %q:\n%s", gone, out)
		}
	}
	p := filepath.Join(t.TempDir(), "am.yml")
	if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := testkit.Amtool(t, "config", "routes", "test", "--config.file="+p, "--verify.receivers=page", "severity=critical"); err != nil {
		t.Errorf("routes changed: %v\n%s", err, msg)
	}
}
