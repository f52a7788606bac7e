package testkit

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The sink takes what the real Alertmanager posts, strictly: a firing
// alert posted to Alertmanager's API arrives at the sink whole.
func TestAlertmanagerDeliversToTheSink(t *testing.T) {
	sink := StartWebhookSink(t, nil)
	am := StartAlertmanager(t, AlertmanagerOptions{Config: fmt.Sprintf(`route: {receiver: hook, group_by: [alertname], group_wait: 1s}
receivers:
  - name: hook
    webhook_configs: [{url: %q, send_resolved: true}]
`, sink.URL+"/hook")})
	body := `[{"labels":{"alertname":"Probe","instance":"x:1","severity":"warning"},"annotations":{"runbook_url":"https://example.com/Probe.md"}}]`
	resp, err := http.Post(am.URL+"/api/v2/alerts", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts: %s", resp.Status)
	}
	Eventually(t, 30*time.Second, "notification at the sink", func() error {
		if len(sink.Notifications()) == 0 {
			return fmt.Errorf("none yet")
		}
		return nil
	})
	n := sink.Notifications()[0]
	if n.Receiver != "hook" || n.Path != "/hook" || n.Status != "firing" || len(n.Alerts) != 1 ||
		n.Alerts[0].Annotations["runbook_url"] != "https://example.com/Probe.md" || n.Alerts[0].Labels["instance"] != "x:1" {
		t.Fatalf("notification %+v", n)
	}
	if a := am.Alerts(t); len(a) != 1 || a[0].Status.State != "active" {
		t.Fatalf("Alertmanager holds %+v", a)
	}
}

func TestWebhookSinkRefusesWhatAlertmanagerDoesNotSend(t *testing.T) {
	for name, body := range map[string]string{
		"unknown field": `{"version":"4","status":"firing","receiver":"r","alerts":[{"status":"firing"}],"extra":1}`,
		"old version":   `{"version":"3","status":"firing","receiver":"r","alerts":[{"status":"firing"}]}`,
		"no alerts":     `{"version":"4","status":"firing","receiver":"r","alerts":[]}`,
		"bad status":    `{"version":"4","status":"pending","receiver":"r","alerts":[{"status":"firing"}]}`,
		"not JSON":      `version=4`,
	} {
		r := httptest.NewRequest(http.MethodPost, "/r", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if _, err := decodeNotification(r); err == nil {
			t.Errorf("%s: accepted %s", name, body)
		}
	}
}

func FuzzDecodeNotification(f *testing.F) {
	f.Add([]byte(`{"version":"4","groupKey":"{}:{}","truncatedAlerts":0,"status":"firing","receiver":"r","groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am","alerts":[{"status":"firing","labels":{"a":"b"},"annotations":{},"startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"f"}]}`))
	f.Add([]byte(`{"alerts":[{"startsAt":"not a time"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/r", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		n, err := decodeNotification(r)
		if err == nil && (n.Version != "4" || len(n.Alerts) == 0) {
			t.Fatalf("accepted %q as %+v", body, n)
		}
	})
}
