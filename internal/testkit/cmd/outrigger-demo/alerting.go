package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/outrigger/outrigger/internal/testkit/amconfig"
)

// startAlerting starts a webhook sink that prints every notification, and
// Alertmanager with deploy/alertmanager/alertmanager.yml as shipped (routes,
// timings, inhibitions, templates) but for its receivers, which all post to
// the sink.
func startAlerting(t testkit.TB, root string) (*testkit.WebhookSink, *testkit.Alertmanager) {
	shipped, err := os.ReadFile(filepath.Join(root, "deploy", "alertmanager", "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	templates, _ := filepath.Abs(filepath.Join(root, "deploy", "alertmanager", "*.tmpl"))
	sink := testkit.StartWebhookSink(t, printNotification)
	cfg := amconfig.ForSink(t, shipped, amconfig.SinkConfig{SinkURL: sink.URL, Templates: []string{templates}})
	return sink, testkit.StartAlertmanager(t, testkit.AlertmanagerOptions{Config: cfg})
}

// printNotification writes one line per alert of a notification: what a
// person would be told, and where.
func printNotification(n testkit.Notification) {
	var b strings.Builder
	for _, a := range n.Alerts {
		fmt.Fprintf(&b, "alert -> %-6s %-8s %-8s %s: %s\n         runbook: %s\n", n.Receiver, strings.ToUpper(a.Status),
			a.Labels["severity"], a.Labels["alertname"], a.Annotations["summary"], a.Annotations["runbook_url"])
	}
	fmt.Print(b.String())
}
