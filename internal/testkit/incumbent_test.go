package testkit

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestFamilyDiffAndREADMEDifferences(t *testing.T) {
	theirs := []byte(`# TYPE a_total counter
a_total{x="1",server="s"} 1
# TYPE b gauge
b 1
# TYPE c untyped
c 1
# TYPE d gauge
d{y="1"} 1
`)
	ours := []byte(`# TYPE a_total counter
a_total{x="1"} 1
# TYPE c gauge
c 1
# TYPE d gauge
d{y="1",z="2"} 1
`)
	got := FamilyDiff(t, theirs, ours)
	want := []string{"a_total{server}", "b", "c:untyped"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("FamilyDiff = %v, want %v", got, want)
	}
	readme := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(readme, []byte("# x\n\n## Differences from the incumbent\n\ntext\n\n"+
		"| difference | theirs | reason |\n|---|---|---|\n| `*{server}` | a label | why |\n| `b` | a family | why |\n"+
		"| `e{p,q}` | labels | why |\n\n## Next\n\n| `f` | not this table | why |\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	allowed := READMEDifferences(t, readme, "Differences from the incumbent")
	wantAllowed := map[string]bool{"*{server}": true, "b": true, "e{p}": true, "e{q}": true}
	if !reflect.DeepEqual(allowed, wantAllowed) {
		t.Fatalf("READMEDifferences = %v, want %v", allowed, wantAllowed)
	}
	// c:untyped is not listed: RequireSuperset must report exactly it.
	rec := &recorder{TB: t}
	RequireSuperset(rec, theirs, ours, allowed)
	if len(rec.errors) != 1 {
		t.Fatalf("RequireSuperset reported %v, want one error (c:untyped)", rec.errors)
	}
}

// recorder keeps Errorf calls instead of failing.
type recorder struct {
	TB
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, format)
}
