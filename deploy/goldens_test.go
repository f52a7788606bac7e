package deploy

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	promparser "github.com/prometheus/prometheus/promql/parser"

	"github.com/outrigger/outrigger/internal/testkit"
)

// daemonGoldens are the golden expositions every daemon's end-to-end test
// keeps (testdata/<binary>.golden.prom): what a deterministic scrape of the
// daemon against real services exposes, volatile values masked. They are
// the list of names the dashboards and alert rules may use.
var daemonGoldens = []string{"celery-exporter", "litellm-exporter", "log-shipper", "postgres-exporter",
	"redis-exporter", "storage-exporter"}

// exposedNames maps each sample name of the goldens (histograms by _bucket,
// _sum and _count too) to the label names its series carry, and to the
// golden it comes from.
type exposedNames struct {
	labels map[string]map[string]bool
	from   map[string]string
}

func readGoldens(t *testing.T) exposedNames {
	t.Helper()
	out := exposedNames{labels: map[string]map[string]bool{}, from: map[string]string{}}
	found := map[string]string{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		name, ok := strings.CutSuffix(d.Name(), ".golden.prom")
		if !ok || d.IsDir() {
			return nil
		}
		if prev, dup := found[name]; dup {
			return fmt.Errorf("two goldens for %s: %s and %s", name, prev, path)
		}
		found[name] = path
		series, err := testkit.ReadGolden(path)
		if err != nil {
			return err
		}
		for _, s := range series {
			for _, n := range []string{s.Name, s.Family} {
				if out.labels[n] == nil {
					out.labels[n] = map[string]bool{}
					out.from[n] = path
				}
				for l := range s.Labels {
					if n == s.Family && l == "le" && s.Name != s.Family {
						continue // le is on the buckets only
					}
					out.labels[n][l] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range daemonGoldens {
		if found[g] == "" {
			t.Errorf("no %s.golden.prom: its end-to-end test must keep one (run it with -update)", g)
		}
	}
	if len(found) != len(daemonGoldens) {
		t.Errorf("goldens found %v, want one of each of %v", found, daemonGoldens)
	}
	return out
}

// targetLabels are the labels Prometheus adds to every scraped series
// (job, instance) or that a query may match to say a label is absent.
var targetLabels = map[string]bool{"job": true, "instance": true}

// selectorProblems returns, for one PromQL expression, each selector whose
// metric name no golden holds or whose label matchers name a label the
// series do not carry.
func (e exposedNames) selectorProblems(expr string) ([]string, error) {
	x, err := promparser.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var problems []string
	promparser.Inspect(x, func(n promparser.Node, _ []promparser.Node) error {
		vs, ok := n.(*promparser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if _, ok := metricAllowList[name]; ok {
			return nil
		}
		have, ok := e.labels[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: no daemon exposes it", vs))
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName || targetLabels[m.Name] || have[m.Name] {
				continue
			}
			// A matcher that an absent label satisfies (l="" or l!~".+")
			// asks for its absence; anything else needs the label.
			if m.Matches("") {
				continue
			}
			problems = append(problems, fmt.Sprintf("%s: %s has no label %s (golden %s)", vs, name, m.Name, e.from[name]))
		}
		return nil
	})
	return problems, nil
}

// TestDashboardsAndRulesUseExposedNames: every metric name a shipped
// dashboard or alert rule selects, and every label its matchers need, is in
// some daemon's golden exposition.
func TestDashboardsAndRulesUseExposedNames(t *testing.T) {
	exposed := readGoldens(t)
	for _, name := range []string{"pg_up", "pg_connections_utilization_ratio", "redis_up", "celery_queue_length",
		"litellm_budget_utilization_ratio", "storage_walks_total", "log_shipper_read_lines_total",
		"log_shipper_batch_duration_seconds_bucket", "process_resident_memory_bytes"} {
		if _, ok := exposed.labels[name]; !ok {
			t.Errorf("the goldens miss %s", name)
		}
	}
	queries := dashboardQueries(t)
	for _, r := range readAlertRules(t) {
		queries = append(queries, dashboardQuery{where: r.file + ": alert " + r.Alert, expr: r.Expr})
	}
	var problems []string
	for _, q := range queries {
		ps, err := exposed.selectorProblems(q.expr)
		if err != nil {
			t.Errorf("%s: %q: %v", q.where, q.expr, err)
		}
		for _, p := range ps {
			problems = append(problems, q.where+": "+p)
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d queries checked against %d exposed names", len(queries), len(exposed.labels))
}
