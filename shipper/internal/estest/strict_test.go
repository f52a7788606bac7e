package estest

import (
	"fmt"
	"strings"
	"testing"
)

// TestStrictAsElasticsearch: what Elasticsearch 8 refuses per item, the fake
// refuses with the same status and error type.
func TestStrictAsElasticsearch(t *testing.T) {
	for _, tt := range []struct {
		name, index string
		docs        []string
		want        []int
		wantType    string
	}{
		{"duplicate key", "app", []string{`{"a":1,"a":2}`}, []int{400}, "mapper_parsing_exception"},
		{"nested duplicate key", "app", []string{`{"a":{"b":1,"c":[{"d":1,"d":2}]}}`}, []int{400}, "mapper_parsing_exception"},
		{"same key in two objects", "app", []string{`{"a":{"k":1},"b":{"k":1},"k":[{"k":1},{"k":2}]}`}, []int{201}, ""},
		{"metadata field", "app", []string{`{"_id":"x","msg":"m"}`}, []int{400}, "mapper_parsing_exception"},
		{"metadata field _index", "app", []string{`{"_index":"x"}`}, []int{400}, "mapper_parsing_exception"},
		{"dotted key then value", "app", []string{`{"a.b":1}`, `{"a":1}`}, []int{201, 400}, "mapper_parsing_exception"},
		{"value then dotted key", "app", []string{`{"a":"x"}`, `{"a.b":1}`}, []int{201, 400}, "mapper_parsing_exception"},
		{"dotted key and object agree", "app", []string{`{"a.b":1}`, `{"a":{"b":2}}`}, []int{201, 201}, ""},
		{"nested type conflict", "app", []string{`{"a":{"b":1}}`, `{"a":{"b":"x"}}`}, []int{201, 400}, "mapper_parsing_exception"},
		{"dotted and value in one document", "app", []string{`{"a.b":1,"a":1}`}, []int{400}, "mapper_parsing_exception"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := New(ES8)
			defer s.Close()
			var body strings.Builder
			for i, d := range tt.docs {
				fmt.Fprintf(&body, `{"create":{"_index":%q,"_id":"%d"}}`+"\n%s\n", tt.index, i, d)
			}
			_, r := post(t, s, body.String(), false, nil)
			if got := statuses(r); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("statuses %v, want %v: %v", got, tt.want, r.Items)
			}
			if tt.wantType != "" {
				last := r.Items[len(r.Items)-1]["create"]
				if e, _ := last["error"].(map[string]any); e == nil || e["type"] != tt.wantType {
					t.Errorf("error %v, want type %s", last["error"], tt.wantType)
				}
			}
		})
	}
}

func TestInvalidIndexNames(t *testing.T) {
	s := New(ES8)
	defer s.Close()
	bad := []string{"App", "a b", "a,b", "a#b", "a:b", `a"b`, "a*b", "a?b", "a<b", "a>b", "a|b", `a\b`, "a/b",
		"_a", "-a", "+a", ".", "..", strings.Repeat("a", 256)}
	for _, name := range append(bad, "logs-app-2026.01.02", ".internal", strings.Repeat("a", 255)) {
		_, r := post(t, s, fmt.Sprintf(`{"create":{"_index":%q,"_id":"1"}}`+"\n{}\n", name), false, nil)
		item := r.Items[0]["create"]
		isBad := !strings.HasPrefix(name, "logs") && name != ".internal" && len(name) != 255
		e, _ := item["error"].(map[string]any)
		if isBad && (item["status"] != 400.0 || e == nil || e["type"] != "invalid_index_name_exception") {
			t.Errorf("%q: %v", name, item)
		}
		if !isBad && item["status"] != 201.0 {
			t.Errorf("%q refused: %v", name, item)
		}
	}
}
