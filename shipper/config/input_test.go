package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/shipper/process"
)

// check runs one step of an input's validation and returns its errors.
func check(in *Input, step func(c *inputCheck)) []string {
	c := &inputCheck{f: &File{}, i: 0, in: in}
	step(c)
	var out []string
	for _, err := range c.errs {
		out = append(out, err.Error())
	}
	return out
}

func wantErrs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: errors %q, want %d", what, got, len(want))
		return
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("%s: error %d %q, want %q", what, i, got[i], w)
		}
	}
}

func TestInputReading(t *testing.T) {
	wantErrs(t, "fine", check(&Input{Paths: []string{"/var/log/*.log"}, Exclude: []string{"*.gz"}, StartAt: "end", Format: "raw"}, (*inputCheck).reading))
	wantErrs(t, "bad", check(&Input{Paths: []string{"logs/*.log", "/a/["}, Exclude: []string{"["}, StartAt: "middle", Format: "xml",
		FingerprintBytes: 2 << 20, MaxLineBytes: -1, Docker: &Docker{Host: "http://docker"}}, (*inputCheck).reading),
		`inputs[0].docker: host "http://docker"`, `glob "logs/*.log": must be an absolute path`, `glob "/a/["`, `inputs[0].exclude: glob "["`,
		`start_at: "middle"`, `format: "xml"`, "fingerprint_bytes", "must not be negative")
	wantErrs(t, "nothing to read", check(&Input{}, (*inputCheck).reading), "at least one path glob (or docker)")
}

func TestProcessConfig(t *testing.T) {
	pc := processConfig(&Input{Format: "raw", Labels: map[string]string{"job": "app"}})
	if pc.JSON || pc.TimestampField != "timestamp" || pc.StaticLabels["job"] != "app" || pc.FilenameLabel != "" {
		t.Errorf("raw: %+v", pc)
	}
	pc = processConfig(&Input{Timestamp: Timestamp{Field: "@timestamp"}, JSON: JSONOptions{Target: "doc", AddErrorKey: true}})
	if !pc.JSON || pc.TimestampField != "@timestamp" || pc.Target != "doc" || !pc.AddErrorKey {
		t.Errorf("json: %+v", pc)
	}
}

func TestInputContainers(t *testing.T) {
	name := "file"
	for _, tt := range []struct {
		what     string
		in       Input
		filename string
		errs     []string
	}{
		{"files", Input{}, "filename", nil},
		{"files with their own label", Input{FilenameLabel: &name}, "file", nil},
		{"docker", Input{Docker: &Docker{}, Multiline: &Multiline{}}, "", []string{"not supported on a docker input"}},
		{"container", Input{Container: &Container{Format: "syslog"}}, "", []string{"inputs[0].container: \"syslog\""}},
		{"docker and container", Input{Docker: &Docker{}, Container: &Container{}}, "", []string{"reads json-file records already"}},
		{"kubernetes", Input{Kubernetes: &Kubernetes{}, Multiline: &Multiline{}}, "", []string{"not supported on container logs"}},
	} {
		var got string
		errs := check(&tt.in, func(c *inputCheck) { got = c.containers() })
		wantErrs(t, tt.what, errs, tt.errs...)
		if got != tt.filename {
			t.Errorf("%s: filename label %q, want %q", tt.what, got, tt.filename)
		}
	}
}

func TestInputKubernetes(t *testing.T) {
	wantErrs(t, "fine", check(&Input{Kubernetes: &Kubernetes{APIURL: "https://10.0.0.1:443", PodLabels: map[string][]string{"app": {"app"}}}}, (*inputCheck).kubernetes))
	wantErrs(t, "bad", check(&Input{Docker: &Docker{}, Kubernetes: &Kubernetes{APIURL: "https://u:p@api", MaxPods: -1,
		PodLabels: map[string][]string{"app": nil}, PodAnnotations: map[string]string{"bad-name": "x"}}}, (*inputCheck).kubernetes),
		"does not apply to a docker input", "api_url", "max_pods", "pod_labels.app: at least one pod label key", "bad-name")
}

func TestStreamLabels(t *testing.T) {
	for _, tt := range []struct {
		what     string
		in       Input
		filename string
		want     int
	}{
		{"files", Input{Labels: map[string]string{"job": "a"}, LabelFields: map[string]string{"level": "level"}}, "filename", 3},
		{"docker", Input{Docker: &Docker{}}, "", 5},
		{"container", Input{Container: &Container{}}, "", 1},
		{"kubernetes", Input{Kubernetes: &Kubernetes{PodLabels: map[string][]string{"app": {"app"}}, PodAnnotations: map[string]string{"team": "t"}}}, "", 7},
	} {
		if got := streamLabels(&tt.in, tt.filename); got != tt.want {
			t.Errorf("%s: %d labels, want %d", tt.what, got, tt.want)
		}
	}
}

func TestInputLabels(t *testing.T) {
	many := map[string]string{}
	for _, k := range strings.Split("a b c d e f g h i j k l m n o", " ") {
		many[k] = "v"
	}
	wantErrs(t, "too many", check(&Input{Labels: many}, func(c *inputCheck) { c.labels("filename") }), "16 labels per stream")
	wantErrs(t, "bad names", check(&Input{Labels: map[string]string{"job": "a"}, LabelFields: map[string]string{"job": "j"},
		Metadata: map[string]string{"trace-id": "t"}}, func(c *inputCheck) { c.labels("file name") }),
		"filename_label", "label_fields: label \"job\" is also a static label", "structured_metadata")
}

func TestInputEdits(t *testing.T) {
	eq := "debug"
	var renames []process.Rename
	var conds []process.Condition
	errs := check(&Input{RenameFields: []RenameField{{From: "msg", To: "message"}, {From: "x"}},
		DropWhen: []Condition{{Field: "level", Equals: &eq}, {Field: "path", Regexp: "("}, {Field: "y"}}},
		func(c *inputCheck) { renames, conds = c.edits() })
	wantErrs(t, "edits", errs, "rename_fields: from and to", "drop_when: regexp", "a condition needs equals")
	if len(renames) != 2 || renames[0] != (process.Rename{From: "msg", To: "message"}) || len(conds) != 3 || *conds[0].Equals != "debug" {
		t.Errorf("%+v %+v", renames, conds)
	}
}

func TestRedaction(t *testing.T) {
	off := false
	if p, f := redaction(Redact{}); !p || !reflect.DeepEqual(f, process.DefaultRedactFields) {
		t.Errorf("defaults: %v %v", p, f)
	}
	if p, f := redaction(Redact{Patterns: &off, NoDefaultFields: true, Fields: []string{"", "pin"}}); p || !reflect.DeepEqual(f, []string{"pin"}) {
		t.Errorf("own: %v %v", p, f)
	}
	wantErrs(t, "redacted labels", check(&Input{LabelFields: map[string]string{"pw": "user.password"}, Metadata: map[string]string{"tok": "token"}},
		func(c *inputCheck) { c.notRedacted(process.DefaultRedactFields) }), "a secret must not become a label", "a secret must not become structured metadata")
}

func TestInputMultiline(t *testing.T) {
	wantErrs(t, "none", check(&Input{}, (*inputCheck).multiline))
	wantErrs(t, "fine", check(&Input{Multiline: &Multiline{Pattern: `^\s`, Match: "after"}}, (*inputCheck).multiline))
	wantErrs(t, "bad", check(&Input{Multiline: &Multiline{Pattern: "(", Match: "around"}}, (*inputCheck).multiline), "pattern \"(\"", "match \"around\"")
}
