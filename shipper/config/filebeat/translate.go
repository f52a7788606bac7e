package filebeat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/outrigger/outrigger/shipper/config"
	"github.com/outrigger/outrigger/shipper/decode"
	"github.com/outrigger/outrigger/shipper/process"
)

// Result is a translated Filebeat configuration.
type Result struct {
	File *config.File
	// Unsupported are the key paths (setup.kibana.host) and the parts
	// (an input type, a processor) that are not run; the shipper lists
	// them at start.
	Unsupported []string
}

// Load reads and translates a Filebeat configuration file.
func Load(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading filebeat configuration: %w", err)
	}
	return Translate(path, b)
}

type translator struct {
	name  string
	notes []string
	errs  []error
}

func (t *translator) note(format string, args ...any) {
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

func (t *translator) fail(n *node, what string, err error) {
	line := 0
	if n != nil {
		line = n.line
	}
	t.errs = append(t.errs, fmt.Errorf("%s:%d: %s: %w", t.name, line, what, err))
}

// Translate translates a Filebeat configuration; name is used in messages.
func Translate(name string, data []byte) (*Result, error) {
	var y yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&y); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	root, err := build(&y)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !root.isMap {
		return nil, fmt.Errorf("%s: a Filebeat configuration is a mapping", name)
	}
	t := &translator{name: name}
	f := &config.File{}
	global := t.common(root, "")
	fb := root.get("filebeat")
	inputs := fb.get("inputs")
	if inputs == nil || !inputs.isList {
		t.fail(fb, "filebeat.inputs", errors.New("a list of inputs is required"))
	} else {
		for i, in := range inputs.list {
			if ci, ok := t.input(in, fmt.Sprintf("filebeat.inputs[%d]", i), global); ok {
				f.Inputs = append(f.Inputs, ci)
			}
		}
		if len(f.Inputs) == 0 && len(t.errs) == 0 {
			t.fail(inputs, "filebeat.inputs", errors.New("no enabled input of a supported type (log, filestream, container)"))
		}
	}
	if reg := fb.get("registry").get("path"); reg != nil {
		if p, ok := reg.str(); ok {
			f.Registry.Path = filepath.Join(p, "log-shipper-registry.json")
		}
	}
	t.outputs(root.get("output"), f)
	for _, in := range f.Inputs {
		if in.Kubernetes != nil { // documents get kubernetes.* as Filebeat writes them
			if f.Outputs.Elasticsearch != nil {
				f.Outputs.Elasticsearch.KubernetesFields = true
			}
			if f.Outputs.Stdout != nil {
				f.Outputs.Stdout.KubernetesFields = true
			}
		}
	}
	var unused []string
	root.unused("", &unused)
	for _, u := range unused {
		t.notes = append(t.notes, u+": not supported, ignored")
	}
	if err := errors.Join(t.errs...); err != nil {
		return nil, err
	}
	return &Result{File: f, Unsupported: t.notes}, nil
}

// settings common to the top level and each input.
type common struct {
	fields          map[string]any
	fieldsUnderRoot bool
	tags            []any
	drop            []process.Expr
	dropFields      []string
	renames         []config.RenameField
	rawFields       map[string]any // add_fields results
	kubernetes      *config.Kubernetes
}

func (t *translator) boolOf(n *node, what string) bool {
	s, ok := n.str()
	if !ok {
		t.fail(n, what, errors.New("want true or false"))
		return false
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		t.fail(n, what, errors.New("want true or false"))
	}
	return b
}

func (t *translator) strOf(n *node, what string) string {
	s, ok := n.str()
	if !ok {
		t.fail(n, what, errors.New("want a string"))
	}
	return s
}

func (t *translator) listOf(n *node, what string) []string {
	if n == nil {
		return nil
	}
	if s, ok := n.str(); ok {
		return []string{s}
	}
	if !n.isList {
		t.fail(n, what, errors.New("want a list of strings"))
		return nil
	}
	var out []string
	for _, c := range n.list {
		out = append(out, t.strOf(c, what))
	}
	return out
}

func (t *translator) durOf(n *node, what string) config.Duration {
	s := t.strOf(n, what)
	d, err := time.ParseDuration(s)
	if err != nil {
		t.fail(n, what, fmt.Errorf("duration %q: %w", s, err))
	}
	return config.Duration(d)
}

// common reads fields, fields_under_root, tags and processors of the top
// level or an input.
func (t *translator) common(n *node, at string) common {
	var c common
	if f := n.get("fields"); f != nil {
		f.markAll()
		if v, ok := f.value().(map[string]any); ok {
			c.fields = v
		} else {
			t.fail(f, at+"fields", errors.New("want a mapping"))
		}
	}
	if f := n.get("fields_under_root"); f != nil {
		c.fieldsUnderRoot = t.boolOf(f, at+"fields_under_root")
	}
	if tags := n.get("tags"); tags != nil {
		for _, s := range t.listOf(tags, at+"tags") {
			c.tags = append(c.tags, s)
		}
	}
	if procs := n.get("processors"); procs != nil {
		if !procs.isList {
			t.fail(procs, at+"processors", errors.New("want a list"))
		} else {
			for i, p := range procs.list {
				t.processor(p, fmt.Sprintf("%sprocessors[%d]", at, i), &c)
			}
		}
	}
	return c
}

func (t *translator) processor(p *node, at string, c *common) {
	if !p.isMap || len(p.keys) != 1 {
		t.fail(p, at, errors.New("a processor is a mapping with one key (its name)"))
		return
	}
	name := p.keys[0]
	body := p.get(name)
	if w := body.get("when"); w != nil && name != "drop_event" {
		t.note("%s: %s with a when condition is not supported; processor not run", at, name)
		w.markAll()
		body.markAll()
		return
	}
	switch name {
	case "add_fields":
		target := "fields"
		if tn := body.get("target"); tn != nil {
			target, _ = tn.str()
		}
		fn := body.get("fields")
		if fn == nil || !fn.isMap {
			t.fail(p, at+".add_fields.fields", errors.New("want a mapping"))
			return
		}
		fn.markAll()
		vals := fn.value().(map[string]any)
		if c.rawFields == nil {
			c.rawFields = map[string]any{}
		}
		if target == "" {
			for k, v := range vals {
				c.rawFields[k] = v
			}
			return
		}
		obj, _ := c.rawFields[target].(map[string]any)
		if obj == nil {
			obj = map[string]any{}
		}
		for k, v := range vals {
			obj[k] = v
		}
		c.rawFields[target] = obj
	case "drop_fields":
		body.get("ignore_missing")
		for _, fld := range t.listOf(body.get("fields"), at+".drop_fields.fields") {
			if strings.Contains(fld, ".") {
				t.note("%s.drop_fields: nested field %s is not supported; only top-level fields are dropped", at, fld)
				continue
			}
			c.dropFields = append(c.dropFields, fld)
		}
	case "rename":
		body.get("ignore_missing")
		body.get("fail_on_error")
		fl := body.get("fields")
		if fl == nil || !fl.isList {
			t.fail(p, at+".rename.fields", errors.New("want a list of {from, to}"))
			return
		}
		for _, r := range fl.list {
			from, to := t.strOf(r.get("from"), at+".rename.from"), t.strOf(r.get("to"), at+".rename.to")
			if strings.Contains(from, ".") || strings.Contains(to, ".") {
				t.note("%s.rename: nested field %s -> %s is not supported; not renamed", at, from, to)
				continue
			}
			c.renames = append(c.renames, config.RenameField{From: from, To: to})
		}
	case "add_kubernetes_metadata":
		// Pod metadata become stream labels (namespace, pod, container,
		// node, app, component): under labels in Elasticsearch documents,
		// not under kubernetes.* as Filebeat writes them.
		k := &config.Kubernetes{}
		if h := body.get("host"); h != nil {
			k.Node = t.strOf(h, at+".add_kubernetes_metadata.host")
		}
		if kc := body.get("kube_config"); kc != nil {
			t.note("%s.add_kubernetes_metadata.kube_config: not supported; the in-cluster service account is used", at)
			kc.markAll()
		}
		for _, known := range []string{"in_cluster", "matchers", "default_matchers", "default_indexers", "indexers", "namespace", "scope"} {
			if v := body.get(known); v != nil {
				v.markAll() // the log path names the pod: no matcher is needed
			}
		}
		c.kubernetes = k
	case "drop_event":
		w := body.get("when")
		if w == nil {
			c.drop = append(c.drop, process.Expr{And: []process.Expr{}}) // drops everything
			return
		}
		e, ok := t.cond(w, at+".drop_event.when")
		if !ok {
			t.note("%s.drop_event: the condition is not supported; processor not run", at)
			w.markAll()
			return
		}
		c.drop = append(c.drop, e)
	default:
		t.note("%s: processor %s is not supported; not run", at, name)
		body.markAll()
		p.used[name] = true
	}
}

// cond translates a Filebeat condition; ok is false for an unsupported one.
func (t *translator) cond(n *node, at string) (process.Expr, bool) {
	if n == nil || !n.isMap || len(n.keys) == 0 {
		t.fail(n, at, errors.New("want a condition"))
		return process.Expr{}, false
	}
	var all []process.Expr
	for _, op := range n.keys {
		body := n.get(op)
		switch op {
		case "equals", "contains", "regexp":
			if !body.isMap {
				t.fail(body, at+"."+op, errors.New("want field: value"))
				return process.Expr{}, false
			}
			for _, field := range body.keys {
				v := body.get(field)
				s, ok := v.str()
				if !ok {
					t.fail(v, at+"."+op+"."+field, errors.New("want a value"))
					return process.Expr{}, false
				}
				c := process.Condition{Field: field}
				switch op {
				case "equals":
					c.Equals = &s
				case "contains":
					c.Contains = s
				case "regexp":
					re, err := regexp.Compile(s)
					if err != nil {
						t.fail(v, at+".regexp."+field, err)
						return process.Expr{}, false
					}
					c.Regexp = re
				}
				all = append(all, process.Expr{Leaf: &c})
			}
		case "has_fields":
			all = append(all, process.Expr{HasFields: t.listOf(body, at+".has_fields")})
		case "or", "and":
			if !body.isList {
				t.fail(body, at+"."+op, errors.New("want a list of conditions"))
				return process.Expr{}, false
			}
			var subs []process.Expr
			for i, s := range body.list {
				e, ok := t.cond(s, fmt.Sprintf("%s.%s[%d]", at, op, i))
				if !ok {
					return process.Expr{}, false
				}
				subs = append(subs, e)
			}
			if op == "or" {
				all = append(all, process.Expr{Or: subs})
			} else {
				all = append(all, process.Expr{And: subs})
			}
		case "not":
			e, ok := t.cond(body, at+".not")
			if !ok {
				return process.Expr{}, false
			}
			all = append(all, process.Expr{Not: &e})
		default:
			return process.Expr{}, false // range, network...
		}
	}
	if len(all) == 1 {
		return all[0], true
	}
	return process.Expr{And: all}, true
}

// input translates one input; ok is false when it is skipped.
// input translates one input: which inputs run, its files, how they are
// harvested, its line filters, parsers and record format, then the static
// fields and processors of the input and of the top level.
func (t *translator) input(n *node, at string, global common) (config.Input, bool) {
	var in config.Input
	typ, ok := t.inputType(n, at)
	if !ok {
		return in, false
	}
	in.InputType = typ
	n.get("id")
	t.files(n, at, &in)
	t.harvest(n, at, &in)
	t.lineFilters(n, at, &in)
	jsonOn := t.parsers(n, at, &in)
	t.recordFormat(n, at, typ, jsonOn, &in)
	in.Timestamp = config.Timestamp{Field: "@timestamp"}
	in.ExtraTimestampFields = []string{"timestamp", "time", "ts"}
	empty := ""
	in.FilenameLabel = &empty
	t.applyCommon(n, at, t.common(n, at+"."), global, &in)
	return in, true
}

// inputType is the input's type when it runs: enabled and of a supported
// type (log, filestream, container); otherwise its keys are marked used.
func (t *translator) inputType(n *node, at string) (string, bool) {
	if !n.isMap {
		t.fail(n, at, errors.New("an input is a mapping"))
		return "", false
	}
	typ := "log"
	if tn := n.get("type"); tn != nil {
		typ = t.strOf(tn, at+".type")
	}
	if en := n.get("enabled"); en != nil && !t.boolOf(en, at+".enabled") {
		n.markAll()
		return "", false
	}
	switch typ {
	case "log", "filestream", "container":
		return typ, true
	}
	t.note("%s: input type %s is not supported; input not run", at, typ)
	n.markAll()
	return "", false
}

// files reads paths (absolute) and exclude_files (regular expressions, the
// log input's and filestream's prospector.scanner's).
func (t *translator) files(n *node, at string, in *config.Input) {
	in.Paths = t.listOf(n.get("paths"), at+".paths")
	if len(in.Paths) == 0 {
		t.fail(n, at+".paths", errors.New("at least one path is needed"))
	}
	for _, p := range in.Paths {
		if !filepath.IsAbs(p) {
			t.fail(n.get("paths"), at+".paths", fmt.Errorf("%q: the shipper needs absolute paths", p))
		}
	}
	excl := t.listOf(n.get("exclude_files"), at+".exclude_files")
	excl = append(excl, t.listOf(n.get("prospector").get("scanner").get("exclude_files"), at+".prospector.scanner.exclude_files")...)
	for _, e := range excl {
		re, err := regexp.Compile(e)
		if err != nil {
			t.fail(n, at+".exclude_files", err)
			continue
		}
		in.ExcludeRegexps = append(in.ExcludeRegexps, re)
	}
}

// harvest reads how files are scanned, closed and started (log and
// filestream spellings) and the encoding, of which UTF-8 is supported.
func (t *translator) harvest(n *node, at string, in *config.Input) {
	if sf := n.get("scan_frequency"); sf != nil {
		in.ScanInterval = t.durOf(sf, at+".scan_frequency")
	}
	if ci := n.get("prospector").get("scanner").get("check_interval"); ci != nil {
		in.ScanInterval = t.durOf(ci, at+".prospector.scanner.check_interval")
	}
	if ci := n.get("close_inactive"); ci != nil {
		in.CloseInactive = t.durOf(ci, at+".close_inactive")
	}
	if ci := n.get("close").get("on_state_change").get("inactive"); ci != nil {
		in.CloseInactive = t.durOf(ci, at+".close.on_state_change.inactive")
	}
	if tf := n.get("tail_files"); tf != nil && t.boolOf(tf, at+".tail_files") {
		in.StartAt = "end"
	}
	if enc := n.get("encoding"); enc != nil {
		if s := strings.ToLower(t.strOf(enc, at+".encoding")); s != "utf-8" && s != "utf8" && s != "plain" {
			t.note("%s.encoding: %s is not supported; lines are read as UTF-8", at, s)
		}
	}
}

// lineFilters makes exclude_lines and include_lines drop conditions on
// the raw line.
func (t *translator) lineFilters(n *node, at string, in *config.Input) {
	for _, k := range []string{"exclude_lines", "include_lines"} {
		var res []*regexp.Regexp
		for _, r := range t.listOf(n.get(k), at+"."+k) {
			re, err := regexp.Compile(r)
			if err != nil {
				t.fail(n.get(k), at+"."+k, err)
				continue
			}
			res = append(res, re)
		}
		in.Drop = append(in.Drop, lineFilter(res, k == "include_lines")...)
	}
}

// lineFilter is the drop condition of line regexps: a line matching one
// is dropped, or with include, a line matching none.
func lineFilter(res []*regexp.Regexp, include bool) []process.Expr {
	if len(res) == 0 {
		return nil
	}
	exprs := make([]process.Expr, 0, len(res))
	for _, re := range res {
		exprs = append(exprs, process.Expr{Leaf: &process.Condition{Regexp: re}}) // no field: the raw line
	}
	if include {
		return []process.Expr{{Not: &process.Expr{Or: exprs}}}
	}
	return exprs
}

// parsers reads the log input's json.* options and filestream's parsers
// (ndjson, multiline) and multiline; it says whether lines are JSON.
func (t *translator) parsers(n *node, at string, in *config.Input) (jsonOn bool) {
	if j := n.get("json"); j != nil {
		jsonOn = true
		t.jsonOptions(j, at+".json", in, false)
	}
	if ps := n.get("parsers"); ps != nil {
		if !ps.isList {
			t.fail(ps, at+".parsers", errors.New("want a list"))
		}
		for i, p := range ps.list {
			pat := fmt.Sprintf("%s.parsers[%d]", at, i)
			switch {
			case p.get("ndjson") != nil:
				jsonOn = true
				t.jsonOptions(p.get("ndjson"), pat+".ndjson", in, true)
			case p.get("multiline") != nil:
				in.Multiline = t.multiline(p.get("multiline"), pat+".multiline")
			default:
				t.note("%s: parser not supported; not run", pat)
				p.markAll()
			}
		}
	}
	if ml := n.get("multiline"); ml != nil {
		in.Multiline = t.multiline(ml, at+".multiline")
	}
	return jsonOn
}

// recordFormat sets how a line becomes a record: a container runtime's
// record whose text is decoded when JSON, a JSON line, or raw text wrapped
// in a message as Filebeat does.
func (t *translator) recordFormat(n *node, at, typ string, jsonOn bool, in *config.Input) {
	switch {
	case typ == "container":
		format := "auto" // Filebeat's default: CRI or json-file per file
		if f := n.get("format"); f != nil {
			format = t.strOf(f, at+".format")
			if _, err := decode.ParseContainerFormat(format); err != nil {
				t.fail(f, at+".format", err)
			}
		}
		in.Container = &config.Container{Format: format}
		in.Format = "json" // the container record's text is decoded when it is JSON
		in.JSON.Target = ""
		if s := n.get("stream"); s != nil {
			if v := t.strOf(s, at+".stream"); v != "all" {
				t.note("%s.stream: %s is not supported; both streams are read", at, v)
			}
		}
	case jsonOn:
		in.Format = "json"
	default:
		in.Format = "raw"
		in.WrapRaw = true
	}
}

// applyCommon adds the input's and the top level's settings: static fields
// and tags, add_kubernetes_metadata (container inputs), and the processors'
// drops, field drops, renames and add_fields.
func (t *translator) applyCommon(n *node, at string, c, global common, in *config.Input) {
	raw := staticFields(global, c)
	for _, cm := range []common{c, global} {
		if cm.kubernetes != nil && in.Kubernetes == nil {
			if in.Container == nil {
				t.note("%s: add_kubernetes_metadata applies to container inputs; not run on this one", at)
			} else {
				in.Kubernetes = cm.kubernetes
			}
		}
		for k, v := range cm.rawFields {
			raw[k] = v
		}
		in.Drop = append(in.Drop, cm.drop...)
		in.DropFields = append(in.DropFields, cm.dropFields...)
		in.RenameFields = append(in.RenameFields, cm.renames...)
	}
	if len(raw) > 0 {
		in.RawFields = map[string]json.RawMessage{}
		for _, k := range sortedKeys(raw) {
			b, err := json.Marshal(raw[k])
			if err != nil {
				t.fail(n, at+".fields", err)
				continue
			}
			in.RawFields[k] = b
		}
	}
}

// staticFields are Filebeat's fields and tags: the top level's then the
// input's (the input's win), under "fields" unless fields_under_root, the
// input's tags before the top level's.
func staticFields(global, input common) map[string]any {
	raw := map[string]any{}
	for _, cm := range []common{global, input} {
		if cm.fields == nil {
			continue
		}
		if cm.fieldsUnderRoot {
			for k, v := range cm.fields {
				raw[k] = v
			}
			continue
		}
		obj, _ := raw["fields"].(map[string]any)
		if obj == nil {
			obj = map[string]any{}
		}
		for k, v := range cm.fields {
			obj[k] = v
		}
		raw["fields"] = obj
	}
	var tags []any
	tags = append(tags, input.tags...)
	tags = append(tags, global.tags...)
	if len(tags) > 0 {
		raw["tags"] = tags
	}
	return raw
}

func (t *translator) jsonOptions(j *node, at string, in *config.Input, ndjson bool) {
	underRoot := ndjson // the ndjson parser decodes to the root unless target says otherwise
	if k := j.get("keys_under_root"); k != nil {
		underRoot = t.boolOf(k, at+".keys_under_root")
	}
	if k := j.get("target"); k != nil {
		in.JSON.Target = t.strOf(k, at+".target")
		underRoot = in.JSON.Target == ""
	}
	if !underRoot && in.JSON.Target == "" {
		in.JSON.Target = "json"
	}
	if k := j.get("add_error_key"); k != nil {
		in.JSON.AddErrorKey = t.boolOf(k, at+".add_error_key")
	}
	if k := j.get("message_key"); k != nil {
		in.JSON.MessageKey = t.strOf(k, at+".message_key")
	}
	if k := j.get("overwrite_keys"); k != nil {
		in.JSON.OverwriteKeys = t.boolOf(k, at+".overwrite_keys")
	}
	if k := j.get("ignore_decoding_error"); k != nil && t.boolOf(k, at+".ignore_decoding_error") {
		in.JSON.AddErrorKey = false
	}
}

func (t *translator) multiline(ml *node, at string) *config.Multiline {
	m := &config.Multiline{Match: "after"}
	if ty := ml.get("type"); ty != nil {
		if s := t.strOf(ty, at+".type"); s != "pattern" {
			t.note("%s.type: %s is not supported (only pattern); lines are not grouped", at, s)
			ml.markAll()
			return nil
		}
	}
	m.Pattern = t.strOf(ml.get("pattern"), at+".pattern")
	if _, err := regexp.Compile(m.Pattern); err != nil {
		t.fail(ml, at+".pattern", err)
	}
	if v := ml.get("negate"); v != nil {
		m.Negate = t.boolOf(v, at+".negate")
	}
	if v := ml.get("match"); v != nil {
		m.Match = t.strOf(v, at+".match")
	}
	if v := ml.get("max_lines"); v != nil {
		n, err := strconv.Atoi(t.strOf(v, at+".max_lines"))
		if err != nil {
			t.fail(v, at+".max_lines", err)
		}
		m.MaxLines = n
	}
	if v := ml.get("timeout"); v != nil {
		m.Timeout = t.durOf(v, at+".timeout")
	}
	return m
}

func (t *translator) outputs(out *node, f *config.File) {
	if out == nil {
		t.fail(nil, "output", errors.New("no output configured (elasticsearch, console or file)"))
		return
	}
	n := 0
	if es := out.get("elasticsearch"); es != nil {
		if en := es.get("enabled"); en == nil || t.boolOf(en, "output.elasticsearch.enabled") {
			f.Outputs.Elasticsearch = t.elasticsearch(es)
			n++
		} else {
			es.markAll()
		}
	}
	if c := out.get("console"); c != nil {
		if en := c.get("enabled"); en == nil || t.boolOf(en, "output.console.enabled") {
			f.Outputs.Stdout = &config.Stdout{Path: "-", Format: "json"}
			n++
		} else {
			c.markAll()
		}
	}
	if fo := out.get("file"); fo != nil {
		if en := fo.get("enabled"); en == nil || t.boolOf(en, "output.file.enabled") {
			dir := "/tmp/filebeat"
			if p := fo.get("path"); p != nil {
				dir = t.strOf(p, "output.file.path")
			}
			name := "filebeat"
			if p := fo.get("filename"); p != nil {
				name = t.strOf(p, "output.file.filename")
			}
			f.Outputs.Stdout = &config.Stdout{Path: filepath.Join(dir, name), Format: "json"}
			n++
		} else {
			fo.markAll()
		}
	}
	if n == 0 {
		t.fail(out, "output", errors.New("no supported output enabled (elasticsearch, console or file)"))
	}
	if f.Outputs.Elasticsearch != nil && f.Outputs.Stdout != nil {
		t.fail(out, "output", errors.New("two outputs are enabled; Filebeat runs one"))
	}
}

func (t *translator) elasticsearch(es *node) *config.Elasticsearch {
	at := "output.elasticsearch"
	o := &config.Elasticsearch{Index: "filebeat-%{+yyyy.MM.dd}"}
	no := ""
	yes := true
	o.LabelsField, o.FilebeatFields = &no, &yes
	scheme := "http"
	if ssl := es.m["ssl"]; ssl != nil && ssl.isMap {
		if en, ok := ssl.m["enabled"].str(); !ok || en != "false" {
			scheme = "https"
		}
	}
	if p := es.get("protocol"); p != nil {
		scheme = t.strOf(p, at+".protocol")
	}
	prefix := ""
	if p := es.get("path"); p != nil {
		prefix = strings.TrimRight(t.strOf(p, at+".path"), "/")
	}
	for _, h := range t.listOf(es.get("hosts"), at+".hosts") {
		if !strings.Contains(h, "://") {
			h = scheme + "://" + h
		}
		o.Hosts = append(o.Hosts, h+prefix)
	}
	if len(o.Hosts) == 0 {
		o.Hosts = []string{scheme + "://localhost:9200" + prefix}
	}
	if p := es.get("index"); p != nil {
		o.Index = t.strOf(p, at+".index")
	}
	if is := es.get("indices"); is != nil {
		if !is.isList {
			t.fail(is, at+".indices", errors.New("want a list"))
		}
		for i, r := range is.list {
			rat := fmt.Sprintf("%s.indices[%d]", at, i)
			rule := config.IndexRule{Index: t.strOf(r.get("index"), rat+".index")}
			e := process.Expr{And: []process.Expr{}} // no when: always
			if w := r.get("when"); w != nil {
				var ok bool
				if e, ok = t.cond(w, rat+".when"); !ok {
					t.note("%s.when: the condition is not supported; rule not used", rat)
					w.markAll()
					continue
				}
			}
			o.Indices = append(o.Indices, rule)
			o.RuleExprs = append(o.RuleExprs, e)
		}
	}
	if v := es.get("username"); v != nil {
		o.Username = t.strOf(v, at+".username")
	}
	if v := es.get("password"); v != nil {
		o.Password = t.strOf(v, at+".password")
	}
	if v := es.get("api_key"); v != nil {
		o.APIKey = t.strOf(v, at+".api_key")
	}
	if v := es.get("pipeline"); v != nil {
		o.Pipeline = t.strOf(v, at+".pipeline")
	}
	if v := es.get("worker"); v != nil {
		o.Parallelism, _ = strconv.Atoi(t.strOf(v, at+".worker"))
	}
	if v := es.get("compression_level"); v != nil {
		l, err := strconv.Atoi(t.strOf(v, at+".compression_level"))
		if err != nil {
			t.fail(v, at+".compression_level", err)
		}
		o.CompressionLevel = &l
	}
	if v := es.get("timeout"); v != nil {
		s := t.strOf(v, at+".timeout")
		if _, err := strconv.Atoi(s); err == nil {
			s += "s" // Filebeat's timeout is in seconds
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			t.fail(v, at+".timeout", err)
		}
		o.Timeout = config.Duration(d)
	}
	if v := es.get("backoff").get("init"); v != nil {
		o.MinBackoff = t.durOf(v, at+".backoff.init")
	}
	if v := es.get("backoff").get("max"); v != nil {
		o.MaxBackoff = t.durOf(v, at+".backoff.max")
	}
	if h := es.get("headers"); h != nil {
		o.Headers = map[string]string{}
		for _, k := range h.keys {
			o.Headers[k] = t.strOf(h.get(k), at+".headers."+k)
		}
	}
	if ssl := es.get("ssl"); ssl != nil {
		if v := ssl.get("enabled"); v != nil && !t.boolOf(v, at+".ssl.enabled") {
			ssl.markAll()
		} else {
			cas := t.listOf(ssl.get("certificate_authorities"), at+".ssl.certificate_authorities")
			if len(cas) > 1 {
				t.note("%s.ssl.certificate_authorities: only the first of %d files is used", at, len(cas))
			}
			if len(cas) > 0 {
				o.TLS.CAFile = cas[0]
			}
			if v := ssl.get("certificate"); v != nil {
				o.TLS.CertFile = t.strOf(v, at+".ssl.certificate")
			}
			if v := ssl.get("key"); v != nil {
				o.TLS.KeyFile = t.strOf(v, at+".ssl.key")
			}
			if v := ssl.get("verification_mode"); v != nil {
				switch m := t.strOf(v, at+".ssl.verification_mode"); m {
				case "none":
					o.TLS.InsecureSkipVerify = true
				case "full", "strict", "certificate":
				default:
					t.fail(v, at+".ssl.verification_mode", fmt.Errorf("%q: want full, strict, certificate or none", m))
				}
			}
		}
	}
	return o
}
