package elasticsearch

import (
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/shipper/internal/estest"
)

func TestValidIndexName(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"logs-app-2026.01.02", true}, {".ds-logs", true}, {"a_b+c-d", true}, {strings.Repeat("a", 255), true},
		{"", false}, {".", false}, {"..", false}, {strings.Repeat("a", 256), false}, {"_a", false}, {"-a", false},
		{"+a", false}, {"Logs", false}, {"a b", false}, {"a,b", false}, {"a#b", false}, {"a:b", false}, {`a\b`, false},
		{"a/b", false}, {"a*b", false}, {"a?b", false}, {`a"b`, false}, {"a<b", false}, {"a>b", false}, {"a|b", false},
	} {
		if err := ValidIndexName(tt.name); (err == nil) != tt.ok {
			t.Errorf("ValidIndexName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

// TestInvalidIndexFromFieldIsDeadLettered: an index named by a document
// field that makes an invalid name is not sent; the event goes to the
// dead-letter file with the reason, the others are indexed.
func TestInvalidIndexFromFieldIsDeadLettered(t *testing.T) {
	es := estest.New(estest.ES8)
	defer es.Close()
	f := newFixture(t, es, func(c *Config) { c.Index = mustPattern(t, "app-%{[env]}") })
	lines := []string{`{"env":"Prod","n":1}`, `{"env":"a b","n":2}`, `{"env":"x,*","n":3}`, `{"env":"staging","n":4}`, `{"env":"` + strings.Repeat("e", 260) + `","n":5}`}
	f.send("app.log", lines, time.Now())
	f.waitAcked(len(lines))
	if got := strings.Join(es.Indices(), " "); got != "app-prod app-staging" {
		t.Errorf("indices %q", got)
	}
	dead := f.deadLetters()
	if len(dead) != 3 {
		t.Fatalf("%d dead letters, want 3: %v", len(dead), dead)
	}
	for _, d := range dead {
		e := d["error"].(map[string]any)
		if e["type"] != "invalid_index_name" || !strings.Contains(e["reason"].(string), "app-%{[env]} made an invalid name") {
			t.Errorf("dead letter %v", d)
		}
	}
}
