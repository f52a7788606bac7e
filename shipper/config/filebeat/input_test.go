package filebeat

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/outrigger/outrigger/shipper/config"
)

// inputNode is the tree of one input written in YAML.
func inputNode(t *testing.T, src string) *node {
	t.Helper()
	var y yaml.Node
	if err := yaml.Unmarshal([]byte(src), &y); err != nil {
		t.Fatal(err)
	}
	n, err := build(&y)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestInputType(t *testing.T) {
	for _, tt := range []struct {
		src, typ string
		ok       bool
		note     string
	}{
		{"paths: [/a]", "log", true, ""},
		{"type: filestream", "filestream", true, ""},
		{"type: container", "container", true, ""},
		{"type: filestream\nenabled: false", "", false, ""},
		{"type: journald", "", false, "input type journald is not supported"},
	} {
		tr := &translator{name: "fb.yml"}
		typ, ok := tr.inputType(inputNode(t, tt.src), "in")
		if typ != tt.typ || ok != tt.ok || len(tr.errs) != 0 {
			t.Errorf("%q: %q %v %v", tt.src, typ, ok, tr.errs)
		}
		if got := strings.Join(tr.notes, "\n"); !strings.Contains(got, tt.note) || (tt.note == "" && got != "") {
			t.Errorf("%q: notes %q, want %q", tt.src, got, tt.note)
		}
	}
	tr := &translator{name: "fb.yml"}
	if _, ok := tr.inputType(inputNode(t, "[a]"), "in"); ok || len(tr.errs) != 1 {
		t.Errorf("a list as an input: %v %v", ok, tr.errs)
	}
}

func TestFiles(t *testing.T) {
	tr := &translator{name: "fb.yml"}
	var in config.Input
	tr.files(inputNode(t, "paths: [/var/log/*.log]\nexclude_files: ['\\.gz$']\nprospector.scanner.exclude_files: ['^/tmp']"), "in", &in)
	if len(tr.errs) != 0 || !reflect.DeepEqual(in.Paths, []string{"/var/log/*.log"}) || len(in.ExcludeRegexps) != 2 ||
		in.ExcludeRegexps[0].String() != `\.gz$` || in.ExcludeRegexps[1].String() != "^/tmp" {
		t.Errorf("%+v %v", in, tr.errs)
	}
	tr = &translator{name: "fb.yml"}
	tr.files(inputNode(t, "paths: [logs/*.log]\nexclude_files: ['(']"), "in", &config.Input{})
	if len(tr.errs) != 2 || !strings.Contains(tr.errs[0].Error(), "absolute paths") {
		t.Errorf("relative path and bad regexp: %v", tr.errs)
	}
	tr = &translator{name: "fb.yml"}
	tr.files(inputNode(t, "type: log"), "in", &config.Input{})
	if len(tr.errs) != 1 || !strings.Contains(tr.errs[0].Error(), "at least one path") {
		t.Errorf("no paths: %v", tr.errs)
	}
}

func TestHarvest(t *testing.T) {
	tr := &translator{name: "fb.yml"}
	var in config.Input
	tr.harvest(inputNode(t, "scan_frequency: 5s\nclose_inactive: 1m\ntail_files: true\nencoding: latin1"), "in", &in)
	if in.ScanInterval != config.Duration(5*time.Second) || in.CloseInactive != config.Duration(time.Minute) || in.StartAt != "end" ||
		len(tr.notes) != 1 || !strings.Contains(tr.notes[0], "latin1 is not supported") {
		t.Errorf("log spellings: %+v %v", in, tr.notes)
	}
	tr, in = &translator{name: "fb.yml"}, config.Input{}
	tr.harvest(inputNode(t, "prospector.scanner.check_interval: 2s\nclose.on_state_change.inactive: 3m\nencoding: UTF-8"), "in", &in)
	if in.ScanInterval != config.Duration(2*time.Second) || in.CloseInactive != config.Duration(3*time.Minute) || in.StartAt != "" || len(tr.notes) != 0 {
		t.Errorf("filestream spellings: %+v %v", in, tr.notes)
	}
}

func TestLineFilter(t *testing.T) {
	a, b := regexp.MustCompile("a"), regexp.MustCompile("b")
	if got := lineFilter(nil, true); got != nil {
		t.Errorf("no regexps: %+v", got)
	}
	ex := lineFilter([]*regexp.Regexp{a, b}, false)
	if len(ex) != 2 || ex[0].Leaf.Regexp != a || ex[1].Leaf.Regexp != b || ex[0].Leaf.Field != "" {
		t.Errorf("exclude: %+v", ex)
	}
	inc := lineFilter([]*regexp.Regexp{a, b}, true)
	if len(inc) != 1 || inc[0].Not == nil || len(inc[0].Not.Or) != 2 || inc[0].Not.Or[1].Leaf.Regexp != b {
		t.Errorf("include: %+v", inc)
	}
	tr := &translator{name: "fb.yml"}
	var in config.Input
	tr.lineFilters(inputNode(t, "exclude_lines: ['^DBG', '(']\ninclude_lines: ['ERR']"), "in", &in)
	if len(tr.errs) != 1 || len(in.Drop) != 2 || in.Drop[0].Leaf == nil || in.Drop[1].Not == nil {
		t.Errorf("%+v %v", in.Drop, tr.errs)
	}
}

func TestParsersAndRecordFormat(t *testing.T) {
	for _, tt := range []struct {
		src, typ, format string
		json, wrap       bool
		multiline        bool
		container        string
	}{
		{"paths: [/a]", "log", "raw", false, true, false, ""},
		{"json.keys_under_root: true", "log", "json", true, false, false, ""},
		{"parsers: [{ndjson: {target: ''}}, {multiline: {pattern: '^\\s', match: after}}]", "filestream", "json", true, false, true, ""},
		{"format: cri", "container", "json", false, false, false, "cri"},
	} {
		tr := &translator{name: "fb.yml"}
		var in config.Input
		n := inputNode(t, tt.src)
		jsonOn := tr.parsers(n, "in", &in)
		tr.recordFormat(n, "in", tt.typ, jsonOn, &in)
		gotContainer := ""
		if in.Container != nil {
			gotContainer = in.Container.Format
		}
		if len(tr.errs) != 0 || jsonOn != tt.json || in.Format != tt.format || in.WrapRaw != tt.wrap ||
			(in.Multiline != nil) != tt.multiline || gotContainer != tt.container {
			t.Errorf("%q: json %v %+v %v", tt.src, jsonOn, in, tr.errs)
		}
	}
	tr := &translator{name: "fb.yml"}
	tr.recordFormat(inputNode(t, "format: syslog"), "in", "container", false, &config.Input{})
	if len(tr.errs) != 1 {
		t.Errorf("bad container format: %v", tr.errs)
	}
}

func TestStaticFields(t *testing.T) {
	global := common{fields: map[string]any{"env": "prod", "team": "a"}, tags: []any{"g"}}
	input := common{fields: map[string]any{"team": "b"}, tags: []any{"i"}}
	got := staticFields(global, input)
	want := map[string]any{"fields": map[string]any{"env": "prod", "team": "b"}, "tags": []any{"i", "g"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("under fields: %v, want %v", got, want)
	}
	input.fieldsUnderRoot = true
	got = staticFields(global, input)
	want = map[string]any{"fields": map[string]any{"env": "prod", "team": "a"}, "team": "b", "tags": []any{"i", "g"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("input's under root: %v, want %v", got, want)
	}
	if got := staticFields(common{}, common{}); len(got) != 0 {
		t.Errorf("none: %v", got)
	}
}
