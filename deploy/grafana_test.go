package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	promparser "github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"

	"github.com/outrigger/outrigger/internal/testkit"
)

// The provisioned Grafana dashboards (deploy/grafana) are checked here the way
// Grafana and Prometheus would read them: strict JSON, sane layout, every
// panel query parsed by Prometheus's own PromQL parser, and every metric a
// panel selects found among the names the daemons' Go source can produce.

const grafanaDashboardDir = "grafana/dashboards"

// wantDashboards are the dashboards Outrigger ships, by file.
var wantDashboards = []string{
	"celery.json", "llm-cost.json", "log-shipping.json", "overview.json", "postgres.json", "redis.json", "storage.json",
}

// Grafana's built-in variables, replaced by values that make valid PromQL.
var grafanaBuiltins = map[string]string{
	"__rate_interval": "1m", "__interval": "1m", "__interval_ms": "60000", "__auto": "1m",
	"__range": "1h", "__range_s": "3600", "__range_ms": "3600000",
}

// grafanaDashboard is the part of Grafana's dashboard model Outrigger uses.
// Decoding is strict: a misspelt key (gridpos, target, legendformat ...) is an
// error instead of a panel that silently shows nothing.
type grafanaDashboard struct {
	ID                   *int     `json:"id"`
	UID                  string   `json:"uid"`
	Title                string   `json:"title"`
	Description          string   `json:"description"`
	Tags                 []string `json:"tags"`
	SchemaVersion        int      `json:"schemaVersion"`
	Version              int      `json:"version"`
	Editable             bool     `json:"editable"`
	GraphTooltip         int      `json:"graphTooltip"`
	LiveNow              bool     `json:"liveNow"`
	FiscalYearStartMonth int      `json:"fiscalYearStartMonth"`
	Timezone             string   `json:"timezone"`
	WeekStart            string   `json:"weekStart"`
	Time                 struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"time"`
	Refresh     string          `json:"refresh"`
	Timepicker  json.RawMessage `json:"timepicker"`
	Annotations json.RawMessage `json:"annotations"`
	Links       json.RawMessage `json:"links"`
	Templating  struct {
		List []grafanaVariable `json:"list"`
	} `json:"templating"`
	Panels []grafanaPanel `json:"panels"`
}

type grafanaVariable struct {
	Name       string          `json:"name"`
	Label      string          `json:"label"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"` // a string, or the Prometheus variable editor's object
	Definition string          `json:"definition"`
	Datasource *grafanaDSRef   `json:"datasource"`
	Current    json.RawMessage `json:"current"`
	Hide       int             `json:"hide"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   *string         `json:"allValue"`
	Multi      bool            `json:"multi"`
	Options    []struct {
		Selected bool   `json:"selected"`
		Text     string `json:"text"`
		Value    string `json:"value"`
	} `json:"options"`
	Refresh     int    `json:"refresh"`
	Regex       string `json:"regex"`
	SkipURLSync bool   `json:"skipUrlSync"`
	Sort        int    `json:"sort"`
}

type grafanaDSRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type grafanaPanel struct {
	ID          int             `json:"id"`
	Type        string          `json:"type"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	GridPos     *grafanaGridPos `json:"gridPos"`
	Datasource  *grafanaDSRef   `json:"datasource"`
	Targets     []grafanaTarget `json:"targets"`
	FieldConfig *struct {
		Defaults  map[string]json.RawMessage `json:"defaults"`
		Overrides []json.RawMessage          `json:"overrides"`
	} `json:"fieldConfig"`
	Options         json.RawMessage `json:"options"`
	Transformations json.RawMessage `json:"transformations"`
	Interval        string          `json:"interval"`
	MaxDataPoints   int             `json:"maxDataPoints"`
	Collapsed       bool            `json:"collapsed"`
	Panels          []grafanaPanel  `json:"panels"` // a row's, when collapsed
	PluginVersion   string          `json:"pluginVersion"`
}

type grafanaGridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

type grafanaTarget struct {
	RefID        string        `json:"refId"`
	Datasource   *grafanaDSRef `json:"datasource"`
	EditorMode   string        `json:"editorMode"`
	Expr         string        `json:"expr"`
	LegendFormat string        `json:"legendFormat"`
	Range        bool          `json:"range"`
	Instant      bool          `json:"instant"`
	Format       string        `json:"format"`
	Interval     string        `json:"interval"`
	Hide         bool          `json:"hide"`
	Exemplar     bool          `json:"exemplar"`
}

// Panel types the dashboards may use (Grafana 11 core panels).
var grafanaPanelTypes = map[string]bool{
	"stat": true, "timeseries": true, "gauge": true, "bargauge": true, "table": true, "state-timeline": true,
	"text": true, "row": true,
}

// loadedDashboard is one dashboard file, decoded.
type loadedDashboard struct {
	file string
	d    grafanaDashboard
}

// loadDashboards decodes every dashboard strictly; it fails the test on any
// file that does not decode.
func loadDashboards(t testing.TB) []loadedDashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(grafanaDashboardDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards under %s: %v", grafanaDashboardDir, err)
	}
	var out []loadedDashboard
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := decodeDashboard(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, loadedDashboard{file: filepath.Base(f), d: d})
	}
	return out
}

// decodeDashboard decodes one dashboard. encoding/json matches keys without
// regard to case and Grafana does not ("gridpos" is no gridPos), so the keys
// are also compared exactly with the model's.
func decodeDashboard(b []byte) (grafanaDashboard, error) {
	var d grafanaDashboard
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return d, err
	}
	if dec.More() {
		return d, errors.New("data after the dashboard object")
	}
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return d, err
	}
	return d, exactKeys(raw, reflect.TypeFor[grafanaDashboard](), "")
}

// exactKeys reports the first object key in v that is not spelt exactly as
// a json tag of t; json.RawMessage and maps are not checked.
func exactKeys(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch x := v.(type) {
	case []any:
		if t.Kind() != reflect.Slice || t == reflect.TypeFor[json.RawMessage]() {
			return nil
		}
		for i, el := range x {
			if err := exactKeys(el, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return nil
		}
		fields := map[string]reflect.Type{}
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" {
				name = f.Name
			}
			fields[name] = f.Type
		}
		for k, el := range x {
			ft, ok := fields[k]
			if !ok {
				return fmt.Errorf("%s: unknown key %q", path, k)
			}
			if err := exactKeys(el, ft, path+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

// allPanels flattens rows' nested panels.
func allPanels(ps []grafanaPanel) []grafanaPanel {
	var out []grafanaPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

var grafanaVarRef = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// variableValues gives each template variable of d a value that keeps PromQL
// valid where the variable is used as intended: custom variables take their
// current value (a number for $topn), query variables a label value.
func variableValues(d grafanaDashboard) map[string]string {
	vals := map[string]string{}
	for k, v := range grafanaBuiltins {
		vals[k] = v
	}
	for _, v := range d.Templating.List {
		switch v.Type {
		case "custom", "interval", "constant":
			var cur struct{ Value any }
			_ = json.Unmarshal(v.Current, &cur)
			vals[v.Name] = fmt.Sprint(cur.Value)
		case "query", "textbox":
			vals[v.Name] = "outrigger-test"
		}
		// Datasource variables stay unset: one in an expression is an error.
	}
	return vals
}

// expandVariables replaces $var, ${var} and [[var]]; an unknown variable is
// an error.
func expandVariables(expr string, vals map[string]string) (string, error) {
	var unknown []string
	out := grafanaVarRef.ReplaceAllStringFunc(expr, func(m string) string {
		sm := grafanaVarRef.FindStringSubmatch(m)
		name := sm[1] + sm[2] + sm[3]
		v, ok := vals[name]
		if !ok {
			unknown = append(unknown, name)
			return m
		}
		return v
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("unknown template variable(s) %v", unknown)
	}
	return out, nil
}

// metricNamesOf parses a PromQL expression and returns the metric names its
// selectors select. A selector without a metric name is an error: the
// dashboards must name what they read, so that it can be verified.
func metricNamesOf(expr string) ([]string, error) {
	e, err := promparser.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	var selErr error
	promparser.Inspect(e, func(n promparser.Node, _ []promparser.Node) error {
		vs, ok := n.(*promparser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == "__name__" && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
		}
		if name == "" {
			selErr = fmt.Errorf("selector %s names no metric", vs)
			return selErr
		}
		names = append(names, name)
		return nil
	})
	return names, selErr
}

var labelValuesQuery = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*,\s*(\w+)\s*\)\s*$`)

// variableQueryExpr returns the PromQL inside a query variable's query
// (label_values(selector, label) or query_result(expr)).
func variableQueryExpr(v grafanaVariable) (string, error) {
	var q string
	if err := json.Unmarshal(v.Query, &q); err != nil {
		var obj struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &obj); err != nil {
			return "", fmt.Errorf("query of variable %s: %w", v.Name, err)
		}
		q = obj.Query
	}
	if v.Definition != "" && v.Definition != q {
		return "", fmt.Errorf("variable %s: definition %q differs from query %q", v.Name, v.Definition, q)
	}
	if m := labelValuesQuery.FindStringSubmatch(q); m != nil {
		return m[1], nil
	}
	if inner, ok := strings.CutPrefix(strings.TrimSpace(q), "query_result("); ok && strings.HasSuffix(inner, ")") {
		return strings.TrimSuffix(inner, ")"), nil
	}
	return "", fmt.Errorf("variable %s: query %q is neither label_values(selector, label) nor query_result(expr)", v.Name, q)
}

// dashboardQuery is one PromQL expression of a dashboard, template
// variables replaced.
type dashboardQuery struct {
	where string // "postgres.json: \"Pool utilization\" A", "celery.json: variable $queue"
	expr  string
}

// dashboardQueries returns every panel and variable query of the shipped
// dashboards; an undeclared variable or a malformed variable query fails t.
func dashboardQueries(t *testing.T) []dashboardQuery {
	t.Helper()
	var out []dashboardQuery
	add := func(where, expr string, vals map[string]string) {
		x, err := expandVariables(expr, vals)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			return
		}
		out = append(out, dashboardQuery{where: where, expr: x})
	}
	for _, ld := range loadDashboards(t) {
		vals := variableValues(ld.d)
		for _, v := range ld.d.Templating.List {
			if v.Type != "query" {
				continue
			}
			expr, err := variableQueryExpr(v)
			if err != nil {
				t.Errorf("%s: %v", ld.file, err)
				continue
			}
			add(fmt.Sprintf("%s: variable $%s", ld.file, v.Name), expr, vals)
		}
		for _, p := range allPanels(ld.d.Panels) {
			for _, tg := range p.Targets {
				add(fmt.Sprintf("%s: %q %s", ld.file, p.Title, tg.RefID), tg.Expr, vals)
			}
		}
	}
	return out
}

// dashboardMetricNames returns every metric name the shipped dashboards
// select, each with the dashboards and panels (or variables) that use it.
// Every query is parsed with Prometheus's parser after template variables are
// replaced; a query that does not parse fails t.
func dashboardMetricNames(t *testing.T) map[string][]string {
	t.Helper()
	uses := map[string][]string{}
	for _, q := range dashboardQueries(t) {
		names, err := metricNamesOf(q.expr)
		if err != nil {
			t.Errorf("%s: %q: %v", q.where, q.expr, err)
			continue
		}
		for _, n := range names {
			if !slices.Contains(uses[n], q.where) {
				uses[n] = append(uses[n], q.where)
			}
		}
	}
	for _, w := range uses {
		sort.Strings(w)
	}
	return uses
}

func TestGrafanaDashboardsAreTheShippedSet(t *testing.T) {
	var got []string
	for _, ld := range loadDashboards(t) {
		got = append(got, ld.file)
	}
	if !slices.Equal(got, wantDashboards) {
		t.Errorf("dashboards %v, want %v", got, wantDashboards)
	}
}

func TestGrafanaDashboardsAreWellFormed(t *testing.T) {
	uids, titles := map[string]string{}, map[string]string{}
	uidOK := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
	for _, ld := range loadDashboards(t) {
		d, file := ld.d, ld.file
		t.Run(file, func(t *testing.T) {
			if !uidOK.MatchString(d.UID) {
				t.Errorf("uid %q: want a stable lower-case uid of at most 40 characters", d.UID)
			}
			if other, dup := uids[d.UID]; dup {
				t.Errorf("uid %q also used by %s", d.UID, other)
			}
			uids[d.UID] = file
			if other, dup := titles[d.Title]; dup || d.Title == "" {
				t.Errorf("title %q empty or also used by %s", d.Title, other)
			}
			titles[d.Title] = file
			if d.ID != nil {
				t.Errorf("id %d: a provisioned dashboard must not carry a database id", *d.ID)
			}
			if d.SchemaVersion != 39 {
				t.Errorf("schemaVersion %d, want 39", d.SchemaVersion)
			}
			if !slices.Contains(d.Tags, "outrigger") {
				t.Errorf("tags %v: want \"outrigger\" (the dashboards link to each other by it)", d.Tags)
			}
			checkVariables(t, d)
			checkPanels(t, d)
		})
	}
}

func checkVariables(t *testing.T, d grafanaDashboard) {
	t.Helper()
	seen := map[string]bool{}
	hasDS := false
	for _, v := range d.Templating.List {
		if seen[v.Name] || v.Name == "" {
			t.Errorf("variable %q empty or declared twice", v.Name)
		}
		seen[v.Name] = true
		switch v.Type {
		case "datasource":
			var q string
			if json.Unmarshal(v.Query, &q) != nil || q != "prometheus" {
				t.Errorf("variable %s: want a prometheus data source variable, have %s", v.Name, v.Query)
			}
			var cur struct{ Value string }
			_ = json.Unmarshal(v.Current, &cur)
			if cur.Value != "prometheus" {
				t.Errorf("variable %s defaults to %q, want the provisioned uid \"prometheus\"", v.Name, cur.Value)
			}
			hasDS = hasDS || v.Name == "datasource"
		case "query":
			if v.Datasource == nil || v.Datasource.UID != "${datasource}" {
				t.Errorf("variable %s: datasource %+v, want ${datasource}", v.Name, v.Datasource)
			}
		case "custom":
			if len(v.Options) == 0 {
				t.Errorf("variable %s has no options", v.Name)
			}
		default:
			t.Errorf("variable %s: unexpected type %q", v.Name, v.Type)
		}
	}
	if !hasDS {
		t.Error("no $datasource variable")
	}
}

func checkPanels(t *testing.T, d grafanaDashboard) {
	t.Helper()
	ids := map[int]string{}
	grid := map[[2]int]string{}
	for _, p := range allPanels(d.Panels) {
		name := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.ID <= 0 {
			t.Errorf("%s: id must be positive", name)
		}
		if other, dup := ids[p.ID]; dup {
			t.Errorf("%s: id also used by %q", name, other)
		}
		ids[p.ID] = p.Title
		if p.Title == "" {
			t.Errorf("%s: no title", name)
		}
		if !grafanaPanelTypes[p.Type] {
			t.Errorf("%s: unknown panel type %q", name, p.Type)
		}
		if g := p.GridPos; g == nil {
			t.Errorf("%s: no gridPos", name)
		} else if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("%s: gridPos %+v outside the 24-column grid", name, *g)
		} else if other := occupy(grid, *g, name); other != "" {
			t.Errorf("%s overlaps %s", name, other)
		}
		if p.Type == "row" {
			if len(p.Targets) > 0 {
				t.Errorf("%s: a row has no queries", name)
			}
			continue
		}
		checkQueries(t, name, p)
		var unit string
		if p.FieldConfig != nil {
			_ = json.Unmarshal(p.FieldConfig.Defaults["unit"], &unit)
		}
		if unit == "" {
			t.Errorf("%s: no unit in fieldConfig.defaults", name)
		}
	}
}

// occupy marks the grid cells of a panel; it returns the panel already in
// one of them, if any.
func occupy(grid map[[2]int]string, g grafanaGridPos, name string) string {
	for y := g.Y; y < g.Y+g.H; y++ {
		for x := g.X; x < g.X+g.W; x++ {
			if other, taken := grid[[2]int{x, y}]; taken {
				return other
			}
			grid[[2]int{x, y}] = name
		}
	}
	return ""
}

func checkQueries(t *testing.T, name string, p grafanaPanel) {
	t.Helper()
	if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
		t.Errorf("%s: datasource %+v, want {prometheus ${datasource}}", name, p.Datasource)
		return
	}
	if len(p.Targets) == 0 {
		t.Errorf("%s: no queries", name)
	}
	refs := map[string]bool{}
	for _, tg := range p.Targets {
		if tg.RefID == "" || refs[tg.RefID] {
			t.Errorf("%s: refId %q empty or repeated", name, tg.RefID)
		}
		refs[tg.RefID] = true
		if strings.TrimSpace(tg.Expr) == "" {
			t.Errorf("%s %s: empty expression", name, tg.RefID)
		}
		if tg.Datasource != nil && *tg.Datasource != *p.Datasource {
			t.Errorf("%s %s: query datasource %+v differs from the panel's", name, tg.RefID, *tg.Datasource)
		}
		if tg.Format == "table" && !tg.Instant {
			t.Errorf("%s %s: a table query should be instant", name, tg.RefID)
		}
	}
}

func TestGrafanaQueriesParse(t *testing.T) {
	names := dashboardMetricNames(t)
	if len(names) < 50 {
		t.Errorf("only %d metric names in the dashboards: the extraction is broken", len(names))
	}
	// The parser must reject what Grafana would show as an error, or the test
	// above proves nothing.
	for _, bad := range []string{`sum(rate(x[5m])`, `rate(x)`, `{job="a"}`, `topk($topn, x)`, `x{job=~"$job"`} {
		if _, err := metricNamesOf(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
	if _, err := expandVariables(`x{job=~"$jobb"}`, map[string]string{"job": "a"}); err == nil {
		t.Error("an undeclared variable was accepted")
	}
}

func TestGrafanaDecodingIsStrict(t *testing.T) {
	for _, bad := range []string{
		`{"uid": "a", "panels": [{"id": 1, "gridpos": {"h": 1, "w": 1, "x": 0, "y": 0}}]}`,
		`{"uid": "a", "panels": [{"id": 1, "targets": [{"refId": "A", "legendformat": "x"}]}]}`,
		`{"uid": "a", "panels": [{"id": 1, "target": [{"refId": "A"}]}]}`,
		`{"uid": "a", "templating": {"list": [{"name": "job", "allvalue": ".*"}]}}`,
		`{"uid": "a"} {}`,
	} {
		if _, err := decodeDashboard([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	if _, err := decodeDashboard([]byte(`{"uid": "a", "panels": [{"id": 1, "gridPos": {"h": 1, "w": 1, "x": 0, "y": 0}, "options": {"anything": 1}}]}`)); err != nil {
		t.Errorf("rejected a valid dashboard: %v", err)
	}
}

// TestGrafanaQueriesRunOnDebianPrometheus runs every query on Debian's
// Prometheus 2.x: the parser above is Prometheus 3's, and the stacks (and
// the demo) still run 2.x, which lacks some of 3's functions and syntax.
func TestGrafanaQueriesRunOnDebianPrometheus(t *testing.T) {
	prom := testkit.StartPrometheus(t, testkit.PrometheusOptions{Config: "global:\n  scrape_interval: 15s\n"})
	queries := dashboardQueries(t)
	end := time.Now()
	for _, q := range queries {
		for _, path := range []string{"/api/v1/query", "/api/v1/query_range"} {
			params := url.Values{"query": {q.expr}}
			if path == "/api/v1/query_range" {
				params.Set("start", strconv.FormatInt(end.Add(-time.Hour).Unix(), 10))
				params.Set("end", strconv.FormatInt(end.Unix(), 10))
				params.Set("step", "60")
			}
			if err := prometheusQuery(prom.URL + path + "?" + params.Encode()); err != nil {
				t.Errorf("%s: %q: %v", q.where, q.expr, err)
			}
		}
	}
	if len(queries) < 100 {
		t.Errorf("only %d queries ran", len(queries))
	}
	if err := prometheusQuery(prom.URL + "/api/v1/query?" + url.Values{"query": {"sum(rate(x[5m])"}}.Encode()); err == nil {
		t.Error("Prometheus accepted a broken query: the check above proves nothing")
	}
}

// prometheusQuery returns the error Prometheus answers a query with.
func prometheusQuery(u string) error {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Close = true // no idle connection outlives the test
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("decoding the answer (HTTP %d): %w", resp.StatusCode, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, env.Error)
	}
	return nil
}

// Names a dashboard or rule may use that no Outrigger daemon exposes, each
// with the reason. Keep this list short.
var metricAllowList = map[string]string{
	"up":     "Prometheus's own per-target series",
	"ALERTS": "Prometheus's own series of pending and firing alerts",
}

func TestGrafanaProvisioning(t *testing.T) {
	var ds struct {
		APIVersion  int `json:"apiVersion"`
		Datasources []struct {
			Name      string         `json:"name"`
			UID       string         `json:"uid"`
			Type      string         `json:"type"`
			Access    string         `json:"access"`
			URL       string         `json:"url"`
			IsDefault bool           `json:"isDefault"`
			Editable  bool           `json:"editable"`
			JSONData  map[string]any `json:"jsonData"`
		} `json:"datasources"`
	}
	readYAMLStrict(t, "grafana/provisioning/datasources/outrigger.yml", &ds)
	want := map[string][2]string{"prometheus": {"prometheus", "http://prometheus:9090"}, "loki": {"loki", "http://loki:3100"}}
	got := map[string][2]string{}
	for _, d := range ds.Datasources {
		got[d.UID] = [2]string{d.Type, d.URL}
	}
	if ds.APIVersion != 1 || len(got) != len(want) || got["prometheus"] != want["prometheus"] || got["loki"] != want["loki"] {
		t.Errorf("datasources %v, want %v", got, want)
	}

	var prov struct {
		APIVersion int `json:"apiVersion"`
		Providers  []struct {
			Name                  string `json:"name"`
			OrgID                 int    `json:"orgId"`
			Folder                string `json:"folder"`
			FolderUID             string `json:"folderUid"`
			Type                  string `json:"type"`
			DisableDeletion       bool   `json:"disableDeletion"`
			AllowUIUpdates        bool   `json:"allowUiUpdates"`
			UpdateIntervalSeconds int    `json:"updateIntervalSeconds"`
			Options               struct {
				Path                      string `json:"path"`
				FoldersFromFilesStructure bool   `json:"foldersFromFilesStructure"`
			} `json:"options"`
		} `json:"providers"`
	}
	readYAMLStrict(t, "grafana/provisioning/dashboards/outrigger.yml", &prov)
	if prov.APIVersion != 1 || len(prov.Providers) != 1 || prov.Providers[0].Type != "file" ||
		prov.Providers[0].Options.Path != "/var/lib/grafana/dashboards" {
		t.Errorf("dashboard provider %+v, want one file provider reading /var/lib/grafana/dashboards", prov)
	}
}

func readYAMLStrict(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
