package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBadConfigs(t *testing.T) {
	want := map[string]string{
		"unknown-key.yml":                "line 3: field lables not found",
		"bad-duration.yml":               "line 3: duration \"soon\"",
		"relative-path.yml":              "relative-path.yml:3: inputs[0].paths: glob \"logs/*.log\": must be an absolute path",
		"bad-label.yml":                  "bad-label.yml:4: inputs[0].label_fields: label name \"log-level\"",
		"bad-regexp.yml":                 "bad-regexp.yml:5: inputs[0].drop_when: regexp:",
		"loki-credentials-in-url.yml":    "loki-credentials-in-url.yml:5: outputs.loki.url: must not hold credentials",
		"bad-size.yml":                   "line 1: size \"lots\"",
		"output-read-back.yml":           "output-read-back.yml:5: outputs.stdout.path: /app/logs/shipped.log is read by inputs[0]",
		"container-format.yml":           "container-format.yml:3: inputs[0].container: \"syslog\": want auto, cri or docker",
		"kubernetes-label.yml":           "kubernetes-label.yml:4: inputs[0].kubernetes: label name \"app.name\"",
		"kubernetes-too-many-labels.yml": "inputs[0].labels: 17 labels per stream: Loki accepts at most 15",
	}
	files, _ := filepath.Glob("testdata/bad/*.yml")
	if len(files) != len(want) {
		t.Fatalf("%d files in testdata/bad, %d expectations", len(files), len(want))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := Load(path)
			if err == nil {
				_, err = f.Validate()
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), want[filepath.Base(path)]) {
				t.Errorf("error %q\nwant it to contain %q", err, want[filepath.Base(path)])
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks a password: %v", err)
			}
		})
	}
}

func TestFullConfig(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("secret\n"), 0o600)
	data := `
registry:
  path: ` + filepath.Join(dir, "reg.json") + `
  flush_interval: 2s
memory_limit: 32MiB
inputs:
  - paths: [/app/logs/*.log]
    exclude: ["*.gz"]
    start_at: end
    timestamp: {field: "@timestamp", formats: [rfc3339, unix_ms]}
    labels: {job: api, env: prod}
    label_fields: {level: level, service: service}
    structured_metadata: {request_id: request_id, trace_id: trace_id}
    fields: {cluster: a}
    drop_fields: [internal]
    rename_fields: [{from: msg, to: message}]
    drop_when: [{field: path, regexp: "^/health"}, {field: level, equals: debug}]
    redact: {fields: [ssn]}
  - paths: [/app/logs/worker/*.txt]
    format: raw
    multiline: {pattern: '^\d{4}-', negate: true, match: after}
outputs:
  loki:
    url: https://loki:3100/loki/api/v1/push
    tenant_id: team
    username: u
    password_file: ` + pw + `
    batch_bytes: 512KiB
    batch_wait: 200ms
  stdout: {}
`
	f, err := Parse("full.yml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if s := v.Summary(); !strings.Contains(s, "2 input(s)") || !strings.Contains(s, "loki https://loki:3100") || !strings.Contains(s, "stdout") {
		t.Errorf("summary %q", s)
	}
	if f.MemoryLimit != 32<<20 || f.Outputs.Loki.BatchBytes != 512<<10 {
		t.Errorf("sizes %d %d", f.MemoryLimit, f.Outputs.Loki.BatchBytes)
	}
}

func TestFlagsAlone(t *testing.T) {
	f := &File{}
	if err := f.Merge(Flags{Paths: []string{"/app/logs/*.log,/var/log/app/*.json"}, LokiURL: "http://loki:3100/loki/api/v1/push",
		Labels: []string{"job=api"}, MemoryLimit: "8MiB"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(f.Inputs) != 1 || len(f.Inputs[0].Paths) != 2 || f.Inputs[0].Labels["job"] != "api" || f.MemoryLimit != 8<<20 {
		t.Errorf("%+v", f.Inputs)
	}
	if err := (&File{}).Merge(Flags{LokiTenant: "x"}); err == nil {
		t.Error("--loki.tenant-id without a URL accepted")
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"1024": 1024, "64MiB": 64 << 20, "1MB": 1e6, "512k": 512e3, "1.5KiB": 1536, "2G": 2e9} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("%s: %d %v, want %d", in, got, err, want)
		}
	}
}

// FuzzParse: the strict parser and validation never panic on any input.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/bad/*.yml")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte("inputs:\n  - paths: [/a/*.log]\n    multiline: {pattern: 'x', match: before}\noutputs:\n  loki: {url: 'http://l/p'}\n"))
	f.Fuzz(func(_ *testing.T, b []byte) {
		cfg, err := Parse("fuzz.yml", b)
		if err != nil {
			return
		}
		_, _ = cfg.Validate()
	})
}
