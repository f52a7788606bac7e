package exporter

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/testkit"
)

// TestBudgetAlertFiresFromOurSeries feeds the utilization series the exporter
// served into `promtool test rules`: the team and the key above 80 % fire
// after five minutes, the others (under 80 %, no budget, or another scope)
// never do.
func TestBudgetAlertFiresFromOurSeries(t *testing.T) {
	p := startProxyDB(t, "../testdata/schema.sql")
	fillBudgets(t, p)
	p.exec(t, `INSERT INTO "LiteLLM_TeamTable" ("team_id", "team_alias", "max_budget", "spend") VALUES ('team-5', 'hot', 100, 85)`)
	h := newHarness(t, p, opts{})
	h.refresh(t)
	fams, _ := h.scrape(t)

	var series []string
	for _, m := range fams["litellm_budget_utilization_ratio"].GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
		}
		sort.Strings(ls)
		series = append(series, fmt.Sprintf("      - series: '%s{%s}'\n        values: '%vx20'",
			"litellm_budget_utilization_ratio", strings.Join(ls, ","), m.GetGauge().GetValue()))
	}
	if len(series) < 5 {
		t.Fatalf("only %d utilization series served", len(series))
	}
	rules, err := filepath.Abs("../rules/litellm-budget.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	keyID := KeyID(token("sk-three"))
	test := fmt.Sprintf(`rule_files:
  - %s
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
%s
    alert_rule_test:
      - eval_time: 4m
        alertname: LiteLLMBudgetAbove80Percent
        exp_alerts: []
      - eval_time: 10m
        alertname: LiteLLMBudgetAbove80Percent
        exp_alerts:
          - exp_labels: {severity: warning, scope: key, id: "%s"}
            exp_annotations:
              summary: "LiteLLM key  (%s) has used 90%% of its budget"
          - exp_labels: {severity: warning, scope: team, id: team-5, name: hot}
            exp_annotations:
              summary: "LiteLLM team hot (team-5) has used 85%% of its budget"
      - eval_time: 10m
        alertname: LiteLLMProxyBudgetAbove80Percent
        exp_alerts: []
`, rules, strings.Join(series, "\n"), keyID, keyID)
	dir := t.TempDir()
	path := filepath.Join(dir, "budget_test.yml")
	if err := os.WriteFile(path, []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := testkit.Promtool(t, "", "test", "rules", path); err != nil {
		t.Fatalf("promtool test rules: %v\n%s\n--- test file\n%s", err, out, test)
	}
	if out, err := testkit.Promtool(t, "", "check", "rules", rules); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}
