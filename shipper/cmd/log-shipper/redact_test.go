package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testkit"
)

// TestRedactionThroughTheBinary writes the lines that were shipped
// unredacted (issue 16) to tailed files and reads what the built shipper
// writes: no secret reaches the output, in the line or in a label.
func TestRedactionThroughTheBinary(t *testing.T) {
	dir := testkit.TempDir(t, "shipper")
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	out := filepath.Join(dir, "out.txt")
	cfg := filepath.Join(dir, "shipper.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`inputs:
  - paths: [%[1]s/*.json]
    max_line_bytes: 120
    label_fields: {db: db}
  - paths: [%[1]s/*.txt]
    format: raw
outputs:
  stdout: {path: %[2]s}
`, logs, out)), 0o644)
	long := `{"msg":"` + strings.Repeat("x", 80) + `","password":"S3CRET-long-` + strings.Repeat("y", 60) + `"}`
	json := []string{
		`{"pass\u0077ord":"S3CRET-escaped"}`,
		`{"req":{"password" : "S3CRET-space"}}`,
		`[{"password":"S3CRET-array"}]`,
		`{"a":[[{"Authorization":"S3CRET-nested"}]]}`,
		long,
		`{"db":"postgres://app:S3CRET-dsn@db:5432/app","msg":"x"}`,
		`{"msg":"last"}`,
	}
	raw := []string{`login user=bob password=S3CRET-raw ok`, `token: S3CRET-header`, `last raw`}
	os.WriteFile(filepath.Join(logs, "app.json"), []byte(strings.Join(json, "\n")+"\n"), 0o644)
	os.WriteFile(filepath.Join(logs, "app.txt"), []byte(strings.Join(raw, "\n")+"\n"), 0o644)
	startShipper(t, dir, "--config.file="+cfg)
	var got string
	testkit.Eventually(t, 10*time.Second, "every line written out", func() error {
		b, _ := os.ReadFile(out)
		got = string(b)
		if n := strings.Count(got, "\n"); n < len(json)+len(raw) {
			return fmt.Errorf("%d lines", n)
		}
		return nil
	})
	if strings.Contains(got, "S3CRET") {
		t.Errorf("a secret was shipped:\n%s", got)
	}
	for _, want := range []string{`{"pass\u0077ord":"[REDACTED]"}`, `password=[REDACTED] ok`, `db="postgres://app:[REDACTED]@db:5432/app"`} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %s:\n%s", want, got)
		}
	}
}

// TestSecretLabelRefusedAtStart: a label taken from a redacted field stops
// the shipper at start with the field named.
func TestSecretLabelRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "shipper.yml")
	os.WriteFile(cfg, []byte("inputs:\n  - paths: [/app/logs/*.log]\n    label_fields: {auth: headers.authorization}\n"), 0o644)
	out, err := exec.Command(binary, "--config.file", cfg, "--config.check").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `label "auth" takes field "headers.authorization", whose key "authorization" is redacted`) {
		t.Errorf("want a refusal naming the field: %v\n%s", err, out)
	}
}
