package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runbookBase is where the rules' runbook_url links point: the runbooks
// folder of the repository's main branch.
const runbookBase = "https://github.com/outrigger/outrigger/blob/main/deploy/runbooks/"

// runbookSections are the parts every runbook has, in order: the port
// runbook's troubleshooting shape (check, then act, then verify).
var runbookSections = []string{"## What it means", "## Confirm it", "## What to do first", "## When to escalate"}

// TestEveryRuleHasARunbook: every shipped alert links a runbook that exists
// under deploy/runbooks, named after the alert, with the four sections; and
// every runbook belongs to a shipped alert.
func TestEveryRuleHasARunbook(t *testing.T) {
	rules := shippedRules(t)
	// A runbook queries only series a dashboard or a rule reads: the
	// full-stack test proves that the daemons produce those.
	known := dashboardMetricNames(t)
	for _, r := range rules {
		names, _ := metricNamesOf(r.Expr)
		for _, n := range names {
			known[n] = append(known[n], r.Alert)
		}
	}
	for name, r := range rules {
		url := r.Annotations["runbook_url"]
		if url == "" {
			t.Errorf("%s: alert %s has no runbook_url annotation", r.file, name)
			continue
		}
		file, ok := strings.CutPrefix(url, runbookBase)
		if !ok || file != name+".md" {
			t.Errorf("%s: alert %s links %s, want %s%s.md", r.file, name, url, runbookBase, name)
			continue
		}
		b, err := os.ReadFile(filepath.Join("runbooks", file))
		if err != nil {
			t.Errorf("alert %s: its runbook is missing: %v", name, err)
			continue
		}
		text := string(b)
		if !strings.HasPrefix(text, "# "+name+"\n") {
			t.Errorf("runbooks/%s does not start with the heading # %s", file, name)
		}
		at := 0
		for _, s := range runbookSections {
			i := strings.Index(text[at:], "\n"+s+"\n")
			if i < 0 {
				t.Errorf("runbooks/%s lacks %q (or has it out of order)", file, s)
				break
			}
			at += i + 1
		}
		if sev := "Severity **" + r.Labels["severity"] + "**"; !strings.Contains(text, sev) {
			t.Errorf("runbooks/%s does not say %s, the rule's severity", file, sev)
		}
		_, block, ok := strings.Cut(text, "```promql\n")
		block, _, closed := strings.Cut(block, "\n```")
		if !ok || !closed || strings.TrimSpace(block) == "" {
			t.Errorf("runbooks/%s gives no PromQL line to confirm the alert", file)
		}
		for _, q := range strings.Split(block, "\n") {
			names, err := metricNamesOf(q)
			if err != nil {
				t.Errorf("runbooks/%s: %q: %v", file, q, err)
			}
			for _, n := range names {
				if _, ok := known[n]; !ok {
					t.Errorf("runbooks/%s queries %s, which no dashboard or rule reads", file, n)
				}
			}
		}
	}
	pages, _ := filepath.Glob("runbooks/*.md")
	for _, p := range pages {
		name := strings.TrimSuffix(filepath.Base(p), ".md")
		if _, ok := rules[name]; !ok && name != "README" {
			t.Errorf("%s belongs to no shipped alert", p)
		}
	}
}
