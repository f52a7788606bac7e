package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/testkit"
	"gopkg.in/yaml.v3"
)

type ruleFile struct {
	Groups []struct {
		Name  string      `yaml:"name"`
		Rules []alertRule `yaml:"rules"`
	} `yaml:"groups"`
}

type alertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
	file        string
}

// readAlertRules returns every alerting rule of prometheus/rules, in file
// order, each with its file.
func readAlertRules(t *testing.T) []alertRule {
	t.Helper()
	files, _ := filepath.Glob("prometheus/rules/*.yml")
	if len(files) == 0 {
		t.Fatal("no rule files")
	}
	var out []alertRule
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf ruleFile
		if err := yaml.Unmarshal(b, &rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					r.file = f
					out = append(out, r)
				}
			}
		}
	}
	return out
}

// shippedRules returns every alerting rule of prometheus/rules by name.
func shippedRules(t *testing.T) map[string]alertRule {
	t.Helper()
	out := map[string]alertRule{}
	for _, r := range readAlertRules(t) {
		out[r.Alert] = r
	}
	return out
}

// alertNames returns the file of every alert, failing for an alert defined
// twice or without a severity label.
func alertNames(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range readAlertRules(t) {
		if prev, dup := out[r.Alert]; dup {
			t.Errorf("alert %s defined in %s and %s", r.Alert, prev, r.file)
		}
		if r.Labels["severity"] == "" {
			t.Errorf("%s: alert %s has no severity label for routing", r.file, r.Alert)
		}
		out[r.Alert] = r.file
	}
	return out
}

func TestAlertRulesPassPromtool(t *testing.T) {
	rules, _ := filepath.Glob("prometheus/rules/*.yml")
	if out, err := testkit.Promtool(t, "", append([]string{"check", "rules"}, rules...)...); err != nil {
		t.Fatalf("promtool check rules:\n%s", out)
	}
	if out, err := testkit.Promtool(t, "", "check", "config", "prometheus/demo-prometheus.yml"); err != nil &&
		!strings.Contains(out, "/etc/prometheus/rules") { // the demo's rule path exists only in the container
		t.Fatalf("promtool check config:\n%s", out)
	}
	tests, _ := filepath.Glob("prometheus/tests/*_test.yml")
	out, err := testkit.Promtool(t, "", append([]string{"test", "rules"}, tests...)...)
	if err != nil {
		t.Fatalf("promtool test rules:\n%s", out)
	}
	if n := strings.Count(out, "SUCCESS"); n != len(tests) {
		t.Fatalf("%d of %d rule test files succeeded:\n%s", n, len(tests), out)
	}
}

// Every alert is exercised by a promtool test that expects it to fire.
func TestEveryAlertHasARuleTest(t *testing.T) {
	tests, _ := filepath.Glob("prometheus/tests/*_test.yml")
	var all strings.Builder
	for _, f := range tests {
		b, _ := os.ReadFile(f)
		all.Write(b)
	}
	for alert, file := range alertNames(t) {
		if !strings.Contains(all.String(), "alertname: "+alert+"\n        exp_alerts:\n          - exp_labels") {
			t.Errorf("alert %s (%s) has no promtool test in which it fires", alert, file)
		}
	}
}
