package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/testkit"
	"github.com/outrigger/outrigger/internal/testkit/amconfig"
	"gopkg.in/yaml.v3"
)

const shippedAlertmanager = "alertmanager/alertmanager.yml"

// shippedTemplates is where alertmanager.yml expects the templates (the
// config directory in compose and Kubernetes).
const shippedTemplates = "/etc/alertmanager/config/*.tmpl"

// withLocalTemplates returns the shipped configuration with its template
// glob pointed at deploy/alertmanager, so that amtool and Alertmanager parse
// the templates as shipped.
func withLocalTemplates(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(shippedAlertmanager)
	if err != nil {
		t.Fatal(err)
	}
	local, _ := filepath.Abs("alertmanager/*.tmpl")
	if !strings.Contains(string(b), shippedTemplates) {
		t.Fatalf("%s does not load its templates from %s", shippedAlertmanager, shippedTemplates)
	}
	return strings.ReplaceAll(string(b), shippedTemplates, local)
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAlertmanagerConfigPassesAmtool(t *testing.T) {
	for name, path := range map[string]string{
		"as shipped":          shippedAlertmanager,
		"with its templates":  writeTemp(t, "alertmanager.yml", withLocalTemplates(t)),
		"as the test runs it": writeTemp(t, "alertmanager-test.yml", alertmanagerTestConfig(t, "http://127.0.0.1:1")),
		// What `make demo` runs (internal/testkit/cmd/outrigger-demo): shipped timings.
		"as the demo runs it": writeTemp(t, "alertmanager-demo.yml",
			amconfig.ForSink(t, []byte(withLocalTemplates(t)), amconfig.SinkConfig{SinkURL: "http://127.0.0.1:1"})),
	} {
		out, err := testkit.Amtool(t, "check-config", path)
		if err != nil || !strings.Contains(out, "SUCCESS") {
			t.Errorf("amtool check-config (%s): %v\n%s", name, err, out)
		}
		if name == "with its templates" && !strings.Contains(out, " - 1 templates") {
			t.Errorf("amtool found no template in deploy/alertmanager:\n%s", out)
		}
	}
}

// wantReceiver is where each shipped alert must go: critical pages, warning
// goes to the team's chat, info to the daily digest.
var wantReceiver = map[string]string{
	"CeleryQueueBacklog": "chat", "CeleryTaskWaitingTooLong": "chat", "CeleryTaskFailureRateHigh": "chat",
	"CeleryWorkerDown": "page", "CeleryBrokerDown": "page",
	"LLMBudgetAbove80Percent": "chat", "LLMBudgetExhausted": "page", "LLMDailySpendUnusual": "chat",
	"LLMSpendDatabaseDown":        "page",
	"PostgresPoolUtilizationHigh": "chat", "PostgresConnectionsExhausted": "page",
	"PostgresIdleInTransactionTooLong": "chat", "PostgresLockWaits": "chat", "PostgresReplicationLag": "chat",
	"PostgresSlowQueries": "chat", "PostgresDown": "page",
	"RedisMemoryHigh": "chat", "RedisEvictingKeys": "chat", "RedisLowHitRate": "digest",
	"RedisRejectedConnections": "page", "RedisDown": "page",
	"LogShipperLagging": "chat", "LogShipperDroppingLines": "chat", "LogShipperOutputDown": "page",
	"LogShipperRegistryStale": "chat",
	"ScreenshotStoreAbove5GB": "chat", "DiskAbove80Percent": "chat", "StorageWalkFailing": "chat",
	"OutriggerDaemonDown": "page",
}

// TestEveryAlertRoutesToItsReceiver runs `amtool config routes test` with
// each shipped alert's own labels (those its rule sets, plus the target
// labels it carries) and checks the receiver it reaches.
func TestEveryAlertRoutesToItsReceiver(t *testing.T) {
	rules := shippedRules(t)
	for name := range wantReceiver {
		if _, ok := rules[name]; !ok {
			t.Errorf("wantReceiver names %s, which no rule defines", name)
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range rules {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		r := rules[name]
		t.Run(name, func(t *testing.T) {
			want, ok := wantReceiver[name]
			if !ok {
				t.Fatalf("alert %s (severity %s) has no expected receiver in this test", name, r.Labels["severity"])
			}
			args := []string{"config", "routes", "test", "--config.file=" + shippedAlertmanager, "--verify.receivers=" + want,
				"alertname=" + name, "instance=exporter:9100", "job=some-exporter", "datastore=postgres"}
			for k, v := range r.Labels {
				args = append(args, k+"="+v)
			}
			out, err := testkit.Amtool(t, args...)
			if err != nil || routedTo(out) != want {
				t.Errorf("%s (%v) reaches %q, want %s: %v", name, r.Labels, routedTo(out), want, err)
			}
		})
	}
	// Alerts from rules added later without a known severity still reach someone.
	for _, labels := range [][]string{{"alertname=Custom"}, {"alertname=Custom", "severity=page-me"}} {
		out, err := testkit.Amtool(t, append([]string{"config", "routes", "test", "--config.file=" + shippedAlertmanager}, labels...)...)
		if err != nil || routedTo(out) != "chat" {
			t.Errorf("%v reaches %q, want the default receiver chat: %v", labels, out, err)
		}
	}
}

// routedTo picks the receiver list out of amtool's output, past its warnings.
func routedTo(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(strings.ToLower(l), "warning") {
			return l
		}
	}
	return ""
}

// TestAlertmanagerTemplatesCarryWhatAPersonNeeds renders the message
// templates with amtool for a firing alert of the shipped rules.
func TestAlertmanagerTemplatesCarryWhatAPersonNeeds(t *testing.T) {
	runbook := runbookBase + "PostgresPoolUtilizationHigh.md"
	data := fmt.Sprintf(`{"receiver":"chat","status":"firing","alerts":[{"status":"firing",
		"labels":{"alertname":"PostgresPoolUtilizationHigh","severity":"warning","instance":"postgres-exporter:9187","job":"postgres-exporter"},
		"annotations":{"summary":"PostgreSQL postgres-exporter:9187: 91%% of the connections open to applications are in use","runbook_url":%q},
		"startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph?g0.expr=x"}],
		"groupLabels":{"alertname":"PostgresPoolUtilizationHigh","instance":"postgres-exporter:9187"},
		"commonLabels":{"alertname":"PostgresPoolUtilizationHigh","severity":"warning","instance":"postgres-exporter:9187"},
		"commonAnnotations":{},"externalURL":"http://alertmanager:9093"}`, runbook)
	dataPath := writeTemp(t, "data.json", data)
	for tmpl, want := range map[string][]string{
		"outrigger.title":   {"[FIRING:1] PostgresPoolUtilizationHigh on postgres-exporter:9187"},
		"outrigger.runbook": {runbook},
		"outrigger.text": {"FIRING warning: PostgreSQL postgres-exporter:9187: 91% of the connections", // summary, with the value
			"target: instance=postgres-exporter:9187 job=postgres-exporter", // the affected target
			"runbook: " + runbook, "graph: http://prometheus:9090/graph"},
	} {
		out, err := testkit.Amtool(t, "template", "render", "--template.glob=alertmanager/*.tmpl",
			"--template.data="+dataPath, "--template.text={{ template \""+tmpl+"\" . }}")
		if err != nil {
			t.Fatalf("amtool template render %s: %v\n%s", tmpl, err, out)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s renders\n%s\nwithout %q", tmpl, out, w)
			}
		}
	}
}

type amConfig struct {
	InhibitRules []struct {
		SourceMatchers []string `yaml:"source_matchers"`
		TargetMatchers []string `yaml:"target_matchers"`
		Equal          []string `yaml:"equal"`
	} `yaml:"inhibit_rules"`
	Receivers []map[string]any `yaml:"receivers"`
	Global    map[string]any   `yaml:"global"`
}

// TestAlertmanagerNamesOnlyShippedAlertsAndNoSecrets: every alert name an
// inhibition rule matches is one a rule defines (a typo would silently
// inhibit nothing), and every credential is read from a file.
func TestAlertmanagerNamesOnlyShippedAlertsAndNoSecrets(t *testing.T) {
	b, err := os.ReadFile(shippedAlertmanager)
	if err != nil {
		t.Fatal(err)
	}
	var cfg amConfig
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	rules := shippedRules(t)
	nameRe := regexp.MustCompile(`^alertname(=|=~|!=)"([^"]+)"$`)
	for i, ir := range cfg.InhibitRules {
		if len(ir.Equal) == 0 {
			t.Errorf("inhibit rule %d links alerts of every target: give it equal labels", i)
		}
		for _, m := range append(slices.Clone(ir.SourceMatchers), ir.TargetMatchers...) {
			sub := nameRe.FindStringSubmatch(m)
			if sub == nil {
				continue
			}
			for _, n := range strings.Split(sub[2], "|") {
				if _, ok := rules[n]; !ok {
					t.Errorf("inhibit rule %d matches %s, which no rule defines", i, n)
				}
			}
		}
	}
	// Keys that would hold a secret inline; their *_file forms are the allowed ones.
	inline := regexp.MustCompile(`^(api_url|api_key|auth_password|auth_secret|password|credentials|routing_key|service_key|bot_token|url|webhook_url|slack_api_url|smtp_auth_password|smtp_auth_secret|opsgenie_api_key|victorops_api_key|wechat_api_secret|telegram_api_url)$`)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if inline.MatchString(k) && !(k == "url" && !strings.Contains(fmt.Sprint(c), "@")) {
					t.Errorf("%s.%s is inline; read it from a file (%s_file)", path, k, k)
				}
				walk(path+"."+k, c)
			}
		case []any:
			for i, c := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), c)
			}
		}
	}
	walk("global", cfg.Global)
	for _, r := range cfg.Receivers {
		walk(fmt.Sprint("receivers.", r["name"]), r)
	}
}

// alertmanagerTestConfig derives the full-stack test's configuration from
// the shipped file, changing only timings and where receivers send: every
// receiver posts to sinkURL/<receiver name> (send_resolved as shipped), and
// the first notification of a group goes out after 1 s. Every group
// interval is 90 s: like the shipped 5m, longer than PostgresDown's `for`
// (1m), so that the pool alert, which resolves when PostgreSQL stops, is
// next flushed while PostgresDown inhibits it; and long enough that
// LLMSpendDatabaseDown, first flushed while inhibited, has resolved by its
// next flush when PostgreSQL is back (inhibition ends with the source).
func alertmanagerTestConfig(t *testing.T, sinkURL string) string {
	t.Helper()
	return amconfig.ForSink(t, []byte(withLocalTemplates(t)), amconfig.SinkConfig{SinkURL: sinkURL, ResolveTimeout: "1m",
		GroupWait: map[string]string{"*": "1s"}, GroupInterval: map[string]string{"*": "90s"}})
}

// TestAlertmanagerSecretFilesAreMounted: every secret file alertmanager.yml
// reads is mounted by the compose service and by the Kubernetes resource,
// and the example Secret has its key.
func TestAlertmanagerSecretFilesAreMounted(t *testing.T) {
	b, err := os.ReadFile(shippedAlertmanager)
	if err != nil {
		t.Fatal(err)
	}
	paths := regexp.MustCompile(`/etc/alertmanager/secrets/([a-z0-9-]+)/([a-z0-9_]+)`).FindAllStringSubmatch(string(b), -1)
	if len(paths) < 3 {
		t.Fatalf("alertmanager.yml reads %d secret files; want Slack's, SMTP's and the pager's", len(paths))
	}
	p := loadCompose(t, map[string]string{}, "compose/outrigger.yml")
	svc, err := p.GetService("alertmanager")
	if err != nil {
		t.Fatal("compose/outrigger.yml has no alertmanager service")
	}
	mounted := map[string]bool{}
	for _, s := range svc.Secrets {
		mounted[s.Target] = true
	}
	m := loadManifests(t)
	if len(m.alertmanagers) != 1 {
		t.Fatalf("want one Alertmanager resource, have %d", len(m.alertmanagers))
	}
	am := m.alertmanagers[0]
	keys := map[string]bool{}
	for _, s := range m.secrets {
		for k := range s.StringData {
			keys[s.Name+"/"+k] = true
		}
	}
	for _, path := range paths {
		if !mounted[path[0]] {
			t.Errorf("compose: the alertmanager service does not mount %s", path[0])
		}
		if !slices.Contains(am.Spec.Secrets, path[1]) {
			t.Errorf("kubernetes: Alertmanager/%s does not mount the Secret %s (for %s)", am.Name, path[1], path[0])
		}
		if !keys[path[1]+"/"+path[2]] {
			t.Errorf("kubernetes: secrets.example.yaml has no key %s in Secret %s", path[2], path[1])
		}
	}
	if am.Spec.ConfigSecret == "" {
		t.Errorf("kubernetes: Alertmanager/%s names no configSecret", am.Name)
	}
}
