package testkit

import (
	"os"
	"regexp"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// FamilyDiff lists what the exposition theirs has and ours lacks, one entry
// per difference, written as the README's differences table writes them:
//
//	name            the family is missing
//	name:type       the family has another type here (theirs is named)
//	name{label}     the family lacks a label name
//
// The Go runtime, process and promhttp families are left out: both sides
// get them from client_golang.
func FamilyDiff(t TB, theirs, ours []byte) []string {
	t.Helper()
	th, us := Families(t, theirs), Families(t, ours)
	var diffs []string
	for name, f := range th {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "promhttp_") {
			continue
		}
		o, ok := us[name]
		if !ok {
			diffs = append(diffs, name)
			continue
		}
		if f.GetType() != o.GetType() {
			diffs = append(diffs, name+":"+strings.ToLower(f.GetType().String()))
		}
		have := labelNames(o)
		for l := range labelNames(f) {
			if !have[l] {
				diffs = append(diffs, name+"{"+l+"}")
			}
		}
	}
	sort.Strings(diffs)
	return diffs
}

func labelNames(f *dto.MetricFamily) map[string]bool {
	out := map[string]bool{}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			out[l.GetName()] = true
		}
	}
	return out
}

var diffCell = regexp.MustCompile("^`([a-zA-Z_:*][a-zA-Z0-9_:]*(?:\\{[a-z_,]+\\})?)`")

// READMEDifferences reads the differences table of a README: the rows of
// the first table after a heading that contains heading, whose first cell is
// a backquoted entry in FamilyDiff's notation (`name`, `name:type`, or
// `name{a,b}` for several labels); `*` stands for every family, as in
// `*{server}` or `*:untyped`. It fails when the table is missing or a
// row has no reason.
func READMEDifferences(t TB, path, heading string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	in, seen := false, false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#") {
			if seen {
				break
			}
			in = strings.Contains(line, heading)
			continue
		}
		if !in || !strings.HasPrefix(line, "|") {
			if seen && in && strings.TrimSpace(line) != "" {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		m := diffCell.FindStringSubmatch(strings.TrimSpace(cells[0]))
		if m == nil {
			continue // the header or separator row
		}
		seen = true
		if len(cells) < 2 || strings.TrimSpace(cells[len(cells)-1]) == "" {
			t.Errorf("%s: difference %s has no reason", path, m[1])
		}
		entry := m[1]
		if name, labels, ok := strings.Cut(entry, "{"); ok {
			for _, l := range strings.Split(strings.TrimSuffix(labels, "}"), ",") {
				out[name+"{"+l+"}"] = true
			}
			continue
		}
		out[entry] = true
	}
	if !seen {
		t.Fatalf("%s: no table of differences under a heading containing %q", path, heading)
	}
	return out
}

// RequireSuperset fails for every difference between the incumbent's
// exposition and ours that allowed (the README's table) does not list.
func RequireSuperset(t TB, theirs, ours []byte, allowed map[string]bool) {
	t.Helper()
	for _, d := range FamilyDiff(t, theirs, ours) {
		wild := d
		if i := strings.IndexAny(d, ":{"); i > 0 {
			wild = "*" + d[i:]
		}
		if !allowed[d] && !allowed[wild] {
			t.Errorf("the incumbent has %s and we do not (not listed in the README's differences)", d)
		}
	}
}
