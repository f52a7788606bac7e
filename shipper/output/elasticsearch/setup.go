package elasticsearch

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/outrigger/outrigger/internal/promkit/backoff"
)

// flavor is what the cluster's root endpoint says it is.
type flavor struct {
	openSearch bool
	major      int
}

func (o *Output) detect() (flavor, error) {
	code, body, err := o.do(o.ctx, http.MethodGet, "/", nil, false)
	if err != nil {
		return flavor{}, fmt.Errorf("asking the cluster's version: %w", err)
	}
	if code != http.StatusOK {
		return flavor{}, fmt.Errorf("asking the cluster's version: HTTP %d", code)
	}
	var info struct {
		Version struct {
			Number       string `json:"number"`
			Distribution string `json:"distribution"`
		} `json:"version"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return flavor{}, fmt.Errorf("decoding the cluster's version: %w", err)
	}
	f := flavor{openSearch: info.Version.Distribution == "opensearch"}
	f.major, _ = strconv.Atoi(strings.SplitN(info.Version.Number, ".", 2)[0])
	return f, nil
}

// policyName names the lifecycle policy of a retention.
func policyName(audit bool, d time.Duration) string {
	kind := "logs"
	if audit {
		kind = "audit"
	}
	return fmt.Sprintf("outrigger-%s-%dd", kind, int(d.Hours()/24))
}

// templateTarget is one index family to set up.
type templateTarget struct {
	name, pattern string
	audit         bool
}

func (o *Output) targets() []templateTarget {
	seen := map[string]bool{}
	var out []templateTarget
	add := func(p *Pattern) {
		prefix := p.Prefix
		if prefix == "" || seen[prefix] {
			return
		}
		seen[prefix] = true
		name := "outrigger-" + strings.Trim(prefix, "-._")
		if p.Prefix == p.String() { // a fixed name (a data stream or alias)
			out = append(out, templateTarget{name: name, pattern: prefix + "*", audit: strings.Contains(prefix, "audit")})
			return
		}
		out = append(out, templateTarget{name: name, pattern: prefix + "*", audit: strings.Contains(prefix, "audit")})
	}
	for _, r := range o.cfg.Indices {
		add(r.Index)
	}
	add(o.cfg.Index)
	return out
}

// runSetup installs the lifecycle policies and index templates, retrying
// while the cluster is unreachable; a refusal (4xx) is logged and shipping
// goes on without them.
func (o *Output) runSetup() {
	retry := backoff.New(o.cfg.MinBackoff, o.cfg.MaxBackoff)
	for {
		err := o.setupOnce()
		if err == nil {
			return
		}
		o.setState(fmt.Errorf("elasticsearch output %s: setup: %w", o.cfg.Name, err))
		if permanent(err) {
			o.log.Error("installing index template and lifecycle policy; shipping without them", "output", o.cfg.Name, "err", err)
			return
		}
		o.log.Warn("installing index template and lifecycle policy; retrying", "output", o.cfg.Name, "err", err)
		if !retry.Wait(o.ctx) {
			return
		}
	}
}

type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func permanent(err error) bool {
	_, ok := err.(permanentError)
	return ok
}

func (o *Output) put(path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	code, resp, err := o.do(o.ctx, http.MethodPut, path, b, false)
	if err != nil {
		return fmt.Errorf("PUT %s: %w", path, err)
	}
	if code >= 400 {
		err := fmt.Errorf("PUT %s: HTTP %d: %s", path, code, shorten(wholeError(resp)))
		if code < 500 && code != http.StatusTooManyRequests {
			return permanentError{err}
		}
		return err
	}
	return nil
}

func (o *Output) setupOnce() error {
	f, err := o.detect()
	if err != nil {
		return err
	}
	for _, t := range o.targets() {
		retention := o.cfg.Retention
		if t.audit {
			retention = o.cfg.AuditRetention
		}
		policy := policyName(t.audit, retention)
		days := strconv.Itoa(int(retention.Hours()/24)) + "d"
		if o.cfg.SetupLifecycle {
			if f.openSearch {
				err = o.put("/_plugins/_ism/policies/"+policy, map[string]any{"policy": map[string]any{
					"description":   "Outrigger: delete " + t.pattern + " after " + days,
					"default_state": "hot",
					"states": []any{
						map[string]any{"name": "hot", "actions": []any{},
							"transitions": []any{map[string]any{"state_name": "delete", "conditions": map[string]any{"min_index_age": days}}}},
						map[string]any{"name": "delete", "actions": []any{map[string]any{"delete": map[string]any{}}}, "transitions": []any{}},
					},
					"ism_template": []any{map[string]any{"index_patterns": []string{t.pattern}, "priority": 100}},
				}})
			} else {
				err = o.put("/_ilm/policy/"+policy, map[string]any{"policy": map[string]any{"phases": map[string]any{
					"hot":    map[string]any{"min_age": "0ms", "actions": map[string]any{}},
					"delete": map[string]any{"min_age": days, "actions": map[string]any{"delete": map[string]any{}}},
				}}})
			}
			if err != nil {
				return err
			}
		}
		if !o.cfg.SetupTemplate {
			continue
		}
		settings := map[string]any{}
		if o.cfg.SetupLifecycle && !f.openSearch {
			settings["index.lifecycle.name"] = policy
		}
		tmpl := map[string]any{
			"index_patterns": []string{t.pattern},
			"priority":       200,
			"template": map[string]any{"settings": settings, "mappings": map[string]any{
				"properties": map[string]any{"@timestamp": map[string]any{"type": "date"}},
			}},
			"_meta": map[string]any{"managed_by": "outrigger log-shipper"},
		}
		if o.cfg.DataStream {
			tmpl["data_stream"] = map[string]any{}
		}
		if err := o.put("/_index_template/"+t.name, tmpl); err != nil {
			return err
		}
	}
	return nil
}
