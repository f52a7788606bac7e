// Package amconfig derives Alertmanager configurations for tests and the
// local demo from the shipped one: same routes, grouping and inhibitions,
// other timings and receivers that post to a local webhook sink. It lives
// apart from testkit so that only its users depend on a YAML package.
package amconfig

import (
	"strings"

	"github.com/outrigger/outrigger/internal/testkit"
	"gopkg.in/yaml.v3"
)

// SinkConfig says how ForSink changes a shipped configuration.
// Empty fields keep what the file says.
type SinkConfig struct {
	// SinkURL receives every notification: each receiver's integrations are
	// replaced by one webhook posting to SinkURL/<receiver name>, sending
	// resolutions when any of the receiver's integrations did.
	SinkURL string
	// Templates replaces the template file list.
	Templates []string
	// ResolveTimeout replaces global.resolve_timeout.
	ResolveTimeout string
	// GroupWait, GroupInterval and RepeatInterval are set on every route by
	// the receiver it sends to ("*": any other receiver).
	GroupWait, GroupInterval, RepeatInterval map[string]string
}

// ForSink returns the shipped Alertmanager configuration with
// its routes, grouping and inhibitions as they are, and only the timings and
// the receivers' destinations changed, for tests and the local demo.
func ForSink(t testkit.TB, shipped []byte, opts SinkConfig) string {
	t.Helper()
	var cfg map[string]any
	if err := yaml.Unmarshal(shipped, &cfg); err != nil {
		t.Fatalf("alertmanager config: %v", err)
	}
	if opts.ResolveTimeout != "" {
		global, _ := cfg["global"].(map[string]any)
		if global == nil {
			global = map[string]any{}
			cfg["global"] = global
		}
		global["resolve_timeout"] = opts.ResolveTimeout
	}
	if opts.Templates != nil {
		cfg["templates"] = opts.Templates
	}
	var walk func(r map[string]any, receiver string)
	walk = func(r map[string]any, receiver string) {
		if name, ok := r["receiver"].(string); ok {
			receiver = name
		}
		for key, by := range map[string]map[string]string{"group_wait": opts.GroupWait,
			"group_interval": opts.GroupInterval, "repeat_interval": opts.RepeatInterval} {
			if v, ok := by[receiver]; ok {
				r[key] = v
			} else if v, ok := by["*"]; ok {
				r[key] = v
			}
		}
		routes, _ := r["routes"].([]any)
		for _, c := range routes {
			if c, ok := c.(map[string]any); ok {
				walk(c, receiver)
			}
		}
	}
	root, _ := cfg["route"].(map[string]any)
	if root == nil {
		t.Fatal("alertmanager config has no route")
	}
	walk(root, "")
	if opts.SinkURL != "" {
		receivers, _ := cfg["receivers"].([]any)
		for _, r := range receivers {
			r, _ := r.(map[string]any)
			name, _ := r["name"].(string)
			resolved := false
			for k, v := range r {
				if !strings.HasSuffix(k, "_configs") {
					continue
				}
				integrations, _ := v.([]any)
				for _, c := range integrations {
					if c, ok := c.(map[string]any); ok && c["send_resolved"] == true {
						resolved = true
					}
				}
				delete(r, k)
			}
			r["webhook_configs"] = []any{map[string]any{"url": opts.SinkURL + "/" + name, "send_resolved": resolved}}
		}
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
