package filebeat

import (
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const stackFile = "../../testdata/stack-filebeat.yml"

func TestStackFile(t *testing.T) {
	res, err := Load(stackFile)
	if err != nil {
		t.Fatal(err)
	}
	f := res.File
	if len(f.Inputs) != 1 {
		t.Fatalf("%d inputs", len(f.Inputs))
	}
	in := f.Inputs[0]
	if strings.Join(in.Paths, ",") != "/app/logs/app.log,/app/logs/api.log,/app/logs/error.log" || in.Format != "json" ||
		in.JSON.Target != "" || !in.JSON.AddErrorKey {
		t.Errorf("input %+v", in)
	}
	es := f.Outputs.Elasticsearch
	if es == nil || len(es.Hosts) != 1 || es.Hosts[0] != "http://elasticsearch:9200" || es.Index != "aliaport-%{+yyyy.MM.dd}" {
		t.Fatalf("output %+v", es)
	}
	if len(res.Unsupported) != 1 || res.Unsupported[0] != "setup.kibana.host: not supported, ignored" {
		t.Errorf("unsupported %q", res.Unsupported)
	}
	if _, err := f.Validate(); err != nil {
		t.Errorf("the translation does not validate: %v", err)
	}
}

func TestTranslation(t *testing.T) {
	t.Setenv("ES_PW", "s3cret")
	src := `
filebeat.inputs:
  - type: filestream
    id: api
    paths: [/app/logs/api*.log]
    prospector.scanner.exclude_files: ['\.gz$']
    parsers:
      - ndjson:
          target: ""
          add_error_key: true
    fields: {env: prod, team: {name: core}}
    fields_under_root: true
    tags: [api]
    processors:
      - drop_fields: {fields: [password_hash, request.body]}
      - rename: {fields: [{from: msg, to: message}]}
  - type: log
    paths: [/app/logs/worker.txt]
    multiline.pattern: '^\d{4}-'
    multiline.negate: true
    multiline.match: after
    exclude_lines: ['^DEBUG']
  - type: log
    enabled: false
    paths: [/nowhere/*.log]
  - type: udp
    host: "localhost:8080"
processors:
  - drop_event:
      when:
        or:
          - equals: {path: /health}
          - and:
              - contains: {message: "ping"}
              - not: {has_fields: [user]}
          - regexp: {message: '^GET /metrics'}
  - add_fields: {target: "", fields: {cluster: eu-1}}
  - add_host_metadata: ~
output.elasticsearch:
  hosts: ["es1:9200", "https://es2:9200"]
  index: "app-%{[fields.env]}-%{+yyyy.MM.dd}"
  username: elastic
  password: ${ES_PW}
  ssl.certificate_authorities: [/etc/ca.pem]
  bulk_max_size: 500
logging.level: debug
`
	res, err := Translate("fb.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	f := res.File
	if len(f.Inputs) != 2 {
		t.Fatalf("%d inputs, want 2 (disabled and udp skipped)", len(f.Inputs))
	}
	api, worker := f.Inputs[0], f.Inputs[1]
	if api.InputType != "filestream" || len(api.ExcludeRegexps) != 1 || !api.JSON.AddErrorKey || api.JSON.Target != "" {
		t.Errorf("api input %+v", api)
	}
	if string(api.RawFields["env"]) != `"prod"` || string(api.RawFields["team"]) != `{"name":"core"}` ||
		string(api.RawFields["tags"]) != `["api"]` || string(api.RawFields["cluster"]) != `"eu-1"` {
		t.Errorf("fields %s", api.RawFields)
	}
	if len(api.DropFields) != 1 || api.DropFields[0] != "password_hash" || len(api.RenameFields) != 1 || len(api.Drop) != 1 {
		t.Errorf("processors: drop %v rename %v drop_event %d", api.DropFields, api.RenameFields, len(api.Drop))
	}
	if worker.Format != "raw" || !worker.WrapRaw || worker.Multiline == nil || !worker.Multiline.Negate || len(worker.Drop) != 2 {
		t.Errorf("worker input %+v", worker)
	}
	es := f.Outputs.Elasticsearch
	if es.Hosts[0] != "https://es1:9200" || es.Hosts[1] != "https://es2:9200" || es.Password != "s3cret" || es.TLS.CAFile != "/etc/ca.pem" {
		t.Errorf("es %+v", es)
	}
	want := []string{"filebeat.inputs[1].request.body", "input type udp", "add_host_metadata", "output.elasticsearch.bulk_max_size", "logging.level"}
	all := strings.Join(res.Unsupported, "\n")
	for _, w := range want {
		if !strings.Contains(all, strings.TrimPrefix(w, "filebeat.inputs[1].")) {
			t.Errorf("unsupported list lacks %q:\n%s", w, all)
		}
	}
	if strings.Contains(all, "s3cret") {
		t.Error("a secret in the unsupported list")
	}
}

func TestBadFiles(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"output.console: {}\n", "filebeat.inputs: a list of inputs is required"},
		{"filebeat.inputs:\n  - type: log\n    paths: [logs/*.log]\noutput.console: {}\n", "absolute paths"},
		{"filebeat.inputs:\n  - paths: [/a.log]\n", "no output"},
		{"filebeat.inputs:\n  - paths: [/a.log]\n    json.add_error_key: maybe\noutput.console: {}\n", "fb.yml:3: filebeat.inputs[0].json.add_error_key: want true or false"},
		{"filebeat.inputs:\n  - paths: [/a.log]\noutput.console: {}\noutput.elasticsearch: {hosts: [x]}\n", "Filebeat runs one"},
		{"filebeat.inputs:\n  - paths: [\"${NOPE_NOT_SET}\"]\noutput.console: {}\n", "NOPE_NOT_SET is not set"},
	} {
		_, err := Translate("fb.yml", []byte(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.src, err, tt.want)
		}
	}
}

// FuzzTranslate: any bytes either translate into a configuration or fail
// with an error; never a panic.
func FuzzTranslate(f *testing.F) {
	if b, err := os.ReadFile(stackFile); err == nil {
		f.Add(b)
	}
	f.Add([]byte("filebeat.inputs:\n- type: filestream\n  paths: [/a/*.log]\n  parsers: [{ndjson: {target: x}}, {multiline: {pattern: '^a', negate: true}}]\nprocessors:\n- drop_event.when.not.equals.level: debug\noutput.file: {path: /tmp/fb-fuzz, filename: out}\n"))
	f.Add([]byte("filebeat.inputs: [{paths: [/x], fields: {a: [1, {b: c}]}}]\noutput.elasticsearch.hosts: [a]\noutput.elasticsearch.indices: [{index: 'x-%{+yyyy}', when.regexp.m: '('}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := Translate("fuzz.yml", b)
		if err != nil {
			return
		}
		if res.File == nil {
			t.Fatal("no file and no error")
		}
		if v, err := res.File.Validate(); err == nil && v == nil {
			t.Fatal("validated to nothing")
		}
	})
}

// TestContainerInputWithKubernetes: Filebeat's usual DaemonSet file runs
// through the shipper's container reader (format auto unless given) with
// the node from add_kubernetes_metadata's host; its matchers need no
// translation (the log path names the pod).
func TestContainerInputWithKubernetes(t *testing.T) {
	t.Setenv("NODE_NAME", "node-7")
	src := `
filebeat.inputs:
  - type: container
    paths: [/var/log/containers/*.log]
    processors:
      - add_kubernetes_metadata:
          host: ${NODE_NAME}
          matchers:
            - logs_path:
                logs_path: "/var/log/containers/"
  - type: container
    format: cri
    paths: [/var/log/pods/*/*/*.log]
  - type: container
    format: journald
    paths: [/x/*.log]
  - type: log
    paths: [/app/logs/*.log]
processors:
  - add_kubernetes_metadata: {in_cluster: true}
output.console: {}
`
	_, err := Translate("fb.yml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "journald") {
		t.Fatalf("format journald: %v", err)
	}
	src = strings.Replace(src, "format: journald\n    paths: [/x/*.log]", "paths: [/x/*.log]", 1)
	res, err := Translate("fb.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	in := res.File.Inputs
	if len(in) != 4 {
		t.Fatalf("%d inputs", len(in))
	}
	if in[0].Container == nil || in[0].Container.Format != "auto" || in[0].Kubernetes == nil || in[0].Kubernetes.Node != "node-7" {
		t.Errorf("input 0: container %+v kubernetes %+v", in[0].Container, in[0].Kubernetes)
	}
	if in[1].Container == nil || in[1].Container.Format != "cri" || in[1].Kubernetes == nil || in[1].Kubernetes.Node != "" {
		t.Errorf("input 1 (global processor): container %+v kubernetes %+v", in[1].Container, in[1].Kubernetes)
	}
	if in[3].Container != nil || in[3].Kubernetes != nil {
		t.Errorf("the log input became a container input")
	}
	all := strings.Join(res.Unsupported, "\n")
	if strings.Contains(all, "add_kubernetes_metadata: not") || strings.Contains(all, "matchers") {
		t.Errorf("add_kubernetes_metadata listed as unsupported:\n%s", all)
	}
	if !strings.Contains(all, "applies to container inputs") {
		t.Errorf("no note that the log input gets no Kubernetes metadata:\n%s", all)
	}
	if _, err := res.File.Validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
}
