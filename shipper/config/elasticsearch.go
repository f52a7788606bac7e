package config

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"time"

	"github.com/outrigger/outrigger/shipper/output"
	"github.com/outrigger/outrigger/shipper/output/elasticsearch"
	"github.com/outrigger/outrigger/shipper/process"
)

// validateES checks the Elasticsearch output.
func (f *File) validateES(es *Elasticsearch) []error {
	var errs []error
	at := func(field string, err error, path ...any) {
		errs = append(errs, f.errAt("outputs.elasticsearch."+field, err, append([]any{"outputs", "elasticsearch"}, path...)...))
	}
	if len(es.Hosts) == 0 {
		at("hosts", errors.New("at least one host is needed"), "hosts")
	}
	for i, h := range es.Hosts {
		if _, err := elasticsearch.NormalizeHost(h); err != nil {
			at("hosts", err, "hosts", i)
		}
	}
	if es.Index == "" {
		at("index", errors.New("is required, e.g. app-%{+yyyy.MM.dd}"), "index")
	} else if _, err := elasticsearch.ParsePattern(es.Index); err != nil {
		at("index", err, "index")
	}
	for i, r := range es.Indices {
		if _, err := elasticsearch.ParsePattern(r.Index); err != nil {
			at("indices", err, "indices", i, "index")
		}
		if r.When.Regexp != "" {
			if _, err := regexp.Compile(r.When.Regexp); err != nil {
				at("indices", fmt.Errorf("regexp: %w", err), "indices", i, "when")
			}
		}
	}
	if es.Password != "" && es.PasswordFile != "" {
		at("password", errors.New("password and password_file are exclusive"), "password_file")
	}
	if es.APIKey != "" && es.APIKeyFile != "" {
		at("api_key", errors.New("api_key and api_key_file are exclusive"), "api_key_file")
	}
	if (es.APIKey != "" || es.APIKeyFile != "") && es.Username != "" {
		at("api_key", errors.New("an API key and basic auth are exclusive"), "api_key")
	}
	if es.Parallelism < 0 || es.Parallelism > 64 || es.BatchBytes < 0 {
		at("parallelism", errors.New("parallelism between 1 and 64, batch_bytes not negative"), "parallelism")
	}
	if l := es.CompressionLevel; l != nil && (*l < 0 || *l > 9) {
		at("compression_level", errors.New("between 0 (none) and 9"), "compression_level")
	}
	mem := int64(f.MemoryLimit)
	if mem == 0 {
		mem = 16 << 20
	}
	batch := int64(es.BatchBytes)
	if batch == 0 {
		batch = 1 << 20
	}
	if batch > mem/4 {
		at("batch_bytes", fmt.Errorf("%d bytes: keep it under a quarter of memory_limit (%d)", batch, mem), "batch_bytes")
	}
	if es.Setup.RetentionDays < 0 || es.Setup.AuditRetentionDays < 0 {
		at("setup", errors.New("retention days must not be negative"), "setup")
	}
	return errs
}

func (v *Validated) inputType() string {
	for _, in := range v.inputs {
		if in.InputType != "" {
			return in.InputType
		}
		if in.Docker != nil {
			return "container"
		}
	}
	return "log"
}

func condExpr(c Condition) process.Expr {
	pc := process.Condition{Field: c.Field, Equals: c.Equals, Contains: c.Contains, Missing: c.Missing}
	if c.Regexp != "" {
		pc.Regexp = regexp.MustCompile(c.Regexp)
	}
	return process.Expr{Leaf: &pc}
}

// buildES makes the Elasticsearch output.
func (v *Validated) buildES(es *Elasticsearch, index int, m *output.Metrics, logger *slog.Logger, stateDir string) (*elasticsearch.Output, error) {
	pw, err := secret(es.Password, es.PasswordFile)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch password: %w", err)
	}
	key, err := secret(es.APIKey, es.APIKeyFile)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch api key: %w", err)
	}
	idx, err := elasticsearch.ParsePattern(es.Index)
	if err != nil {
		return nil, err
	}
	cfg := elasticsearch.Config{Hosts: es.Hosts, Index: idx, DataStream: es.DataStream, Username: es.Username,
		Password: pw, APIKey: key, TLS: elasticsearch.TLS(es.TLS), Headers: es.Headers, Pipeline: es.Pipeline,
		BatchBytes: int(es.BatchBytes), BatchWait: time.Duration(es.BatchWait), Parallelism: es.Parallelism,
		Timeout: time.Duration(es.Timeout), MinBackoff: time.Duration(es.MinBackoff), MaxBackoff: time.Duration(es.MaxBackoff),
		DeadLetterPath: es.DeadLetterPath, DeadLetterMaxBytes: int64(es.DeadLetterMaxBytes),
		SetupTemplate: es.Setup.Template, SetupLifecycle: es.Setup.Lifecycle,
		Retention: time.Duration(es.Setup.RetentionDays) * 24 * time.Hour, AuditRetention: time.Duration(es.Setup.AuditRetentionDays) * 24 * time.Hour,
		Meta: es.FilebeatFields == nil || *es.FilebeatFields, InputType: v.inputType(), LabelsField: "labels", Logger: logger}
	if es.LabelsField != nil {
		cfg.LabelsField = *es.LabelsField
	}
	cfg.Kubernetes = es.KubernetesFields
	if es.CompressionLevel != nil {
		cfg.GzipLevel = *es.CompressionLevel
		if cfg.GzipLevel == 0 {
			cfg.GzipLevel = -1
		}
	}
	if cfg.DeadLetterPath == "" {
		cfg.DeadLetterPath = filepath.Join(stateDir, "elasticsearch-dead-letter.ndjson")
	}
	for i, r := range es.Indices {
		p, err := elasticsearch.ParsePattern(r.Index)
		if err != nil {
			return nil, err
		}
		e := condExpr(r.When)
		if i < len(es.RuleExprs) {
			e = es.RuleExprs[i]
		}
		cfg.Indices = append(cfg.Indices, elasticsearch.IndexRule{Index: p, When: process.Matcher(e)})
	}
	return elasticsearch.New(cfg, index, m)
}
