package exporter

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/outrigger/outrigger/exporters/litellm-cost/litellm"
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
