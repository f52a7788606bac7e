package elasticsearch

import (
	"testing"

	"github.com/outrigger/outrigger/shipper/decode"
)

func membersOf(t testing.TB, s string) []decode.Member {
	t.Helper()
	m, err := decode.ParseObject([]byte(s), nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// FuzzParseBulkResponse feeds bulk responses of Elasticsearch 7, 8 and
// OpenSearch 2: the parser never panics, and what it accepts has one valid
// outcome per action.
func FuzzParseBulkResponse(f *testing.F) {
	f.Add([]byte(`{"took":3,"errors":false,"items":[{"create":{"_index":"app-2026.11.22","_id":"a","_version":1,"result":"created","status":201}}]}`), 1)
	f.Add([]byte(`{"took":3,"errors":true,"items":[{"index":{"_index":"i","_type":"_doc","_id":"b","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [user]","caused_by":{"type":"illegal_state_exception","reason":"Can't get text on a START_OBJECT"}}}},{"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"[x]: version conflict"}}}]}`), 2)
	f.Add([]byte(`{"errors":false}`), 5)
	f.Add([]byte(`{"errors":true,"items":[{"create":{"status":429,"error":"EsRejectedExecutionException[rejected execution]"}}]}`), 1)
	f.Add([]byte(`{"error":{"type":"illegal_argument_exception"},"status":400}`), 1)
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		if n < 0 || n > 1000 {
			return
		}
		out, err := parseBulkResponse(body, n)
		if err != nil {
			return
		}
		if len(out) != n {
			t.Fatalf("%d outcomes for %d actions", len(out), n)
		}
		for _, r := range out {
			if r.Status < 100 || r.Status > 599 {
				t.Fatalf("status %d accepted", r.Status)
			}
		}
		_ = wholeError(body)
	})
}
