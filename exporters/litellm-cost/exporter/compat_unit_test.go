package exporter

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/outrigger/outrigger/exporters/litellm-cost/litellm"
	"github.com/outrigger/outrigger/exporters/litellm-cost/proxyapi"
)

func collect(t *testing.T, fn func(emitter)) map[string]float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 100)
	fn(emitter{ch})
	close(ch)
	out := map[string]float64{}
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		key := ""
		for _, l := range d.GetLabel() {
			key += l.GetName() + "=" + l.GetValue() + " "
		}
		out[key] = d.GetGauge().GetValue()
	}
	return out
}

// The largest teams keep their labels; the rest are summed into "other".
func TestEmitTeamMembers(t *testing.T) {
	teams := []litellm.TeamMembers{{ID: "b", Alias: "B", Members: 2}, {ID: "a", Alias: "A", Members: 5}, {ID: "c", Members: 2}, {ID: "d", Alias: "D", Members: 1}}
	got := collect(t, func(out emitter) { emitTeamMembers(out, teams, 2) })
	want := map[string]float64{"team=a team_alias=A ": 5, "team=b team_alias=B ": 2, "team=other team_alias=other ": 3}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if teams[0].ID != "b" {
		t.Error("the snapshot's slice was reordered")
	}
	if got := collect(t, func(out emitter) { emitTeamMembers(out, nil, 2) }); len(got) != 0 {
		t.Errorf("no teams: %v", got)
	}
}

// Each guardrail run of a row is one observation under its own labels; past
// the limit, new label sets go to "other" and admitted ones stay.
func TestGuardrailRunsFoldPastTheLimit(t *testing.T) {
	var f *compatFamily
	for _, cf := range newCompatFamilies(1) {
		if cf.fam.Name() == "litellm_guardrail_requests_total" {
			f = cf
		}
	}
	if f == nil {
		t.Fatal("no litellm_guardrail_requests_total")
	}
	f.limit = 2
	row := func(runs ...litellm.GuardrailRun) litellm.SpendLogRow {
		return litellm.SpendLogRow{Detail: litellm.SpendDetail{Guardrails: runs}}
	}
	f.add(row(litellm.GuardrailRun{Name: "pii", Status: "success", Mode: "pre_call"}, litellm.GuardrailRun{Name: "mod", Status: "guardrail_intervened"}))
	f.add(row(litellm.GuardrailRun{Name: "new", Status: "success"}, litellm.GuardrailRun{Name: "pii", Status: "success", Mode: "pre_call"}))
	f.add(row())
	got := map[string]float64{}
	for _, s := range f.view() {
		got[s.values[0]+"/"+s.values[1]+"/"+s.values[2]] = s.n
	}
	want := map[string]float64{"pii/success/pre_call": 2, "mod/guardrail_intervened/": 1, "other/other/other": 1}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func sp(s string) *string { return &s }

// budgetsOf builds HTTP mode's scopes from the listings alone.
func TestBudgetsOf(t *testing.T) {
	l := apiListing{
		keys: []proxyapi.Key{{Token: "tok1", KeyAlias: sp("k1"), Spend: f(2), BudgetID: sp("b1")},
			{Token: "ui", TeamID: sp(litellm.UISessionTeam)}},
		teams: []proxyapi.Team{{TeamID: "t1", TeamAlias: sp("search"), OrganizationID: sp("org-hidden")},
			{TeamID: "t2", OrganizationID: sp("org-a")}},
		users: []proxyapi.User{{UserID: litellm.ProxyBudgetUserID, UserAlias: sp("x"), MaxBudget: f(100)}, {UserID: "u1"}},
		orgs:  []proxyapi.Org{{OrganizationID: "org-a", BudgetTable: &proxyapi.BudgetRow{MaxBudget: f(0)}}},
		rows:  []proxyapi.BudgetRow{{BudgetID: "b1", MaxBudget: f(10)}},
	}
	scopes, aliases, unseen := budgetsOf(l, 10)
	if unseen != 1 || aliases["t1"] != "search" {
		t.Fatalf("unseen %d, aliases %v", unseen, aliases)
	}
	by := map[string]litellm.BudgetScope{}
	for _, s := range scopes {
		by[s.Scope] = s
	}
	if k := by[litellm.ScopeKey]; k.Total != 1 || *k.Budgets[0].Max != 10 {
		t.Errorf("keys: %+v (the UI session key is hidden; the budget row's max applies)", k)
	}
	if o := by[litellm.ScopeOrg]; o.Budgets[0].Max != nil {
		t.Errorf("an org max_budget of 0 is no budget: %+v", o.Budgets[0])
	}
	if p := by[litellm.ScopeProxy]; p.Total != 1 || p.Budgets[0].Name != "" || by[litellm.ScopeUser].Total != 1 {
		t.Errorf("proxy %+v, users %+v", p, by[litellm.ScopeUser])
	}
}
