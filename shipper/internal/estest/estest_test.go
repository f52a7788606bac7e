package estest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

type bulkResponse struct {
	Errors bool                                `json:"errors"`
	Items  []map[string]map[string]interface{} `json:"items"`
}

func post(t *testing.T, s *Server, body string, gz bool, mod func(*http.Request)) (int, bulkResponse) {
	t.Helper()
	var buf bytes.Buffer
	if gz {
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte(body))
		zw.Close()
	} else {
		buf.WriteString(body)
	}
	req, _ := http.NewRequest("POST", s.URL+"/_bulk", &buf)
	req.Header.Set("Content-Type", "application/x-ndjson")
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if mod != nil {
		mod(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bulkResponse
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func statuses(r bulkResponse) []int {
	var out []int
	for _, it := range r.Items {
		for _, v := range it {
			out = append(out, int(v["status"].(float64)))
		}
	}
	return out
}

func TestBulkItemOutcomesFollowTheContract(t *testing.T) {
	s := New(ES8)
	defer s.Close()
	s.DataStreams = []string{"logs-"}
	s.ItemStatus = func(index, id string, _ map[string]any) int {
		if id == "busy" {
			return 429
		}
		return 0
	}
	body := strings.Join([]string{
		`{"create":{"_index":"app-2026.11.22","_id":"a"}}`, `{"@timestamp":"2026-11-22T10:00:00Z","user":"bob"}`,
		`{"create":{"_index":"app-2026.11.22","_id":"a"}}`, `{"@timestamp":"2026-11-22T10:00:00Z","user":"bob"}`,
		`{"index":{"_index":"app-2026.11.22","_id":"b"}}`, `{"user":{"name":"bob"}}`,
		`{"create":{"_index":"app-2026.11.22","_id":"busy"}}`, `{"user":"x"}`,
		`{"index":{"_index":"logs-app","_id":"c"}}`, `{"@timestamp":"2026-11-22T10:00:00Z"}`,
		`{"create":{"_index":"logs-app","_id":"d"}}`, `{"message":"no timestamp"}`,
		`{"create":{"_index":"logs-app","_id":"e"}}`, `{"@timestamp":"2026-11-22T10:00:00Z"}`,
	}, "\n") + "\n"
	code, resp := post(t, s, body, true, nil)
	if code != 200 || !resp.Errors {
		t.Fatalf("bulk = %d errors=%v", code, resp.Errors)
	}
	want := []int{201, 409, 400, 429, 400, 400, 201}
	got := statuses(resp)
	if len(got) != len(want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	if docs := s.Docs(); len(docs) != 2 || docs[0].ID != "a" || docs[1].ID != "e" {
		t.Fatalf("stored %v", docs)
	}
}

func TestWholeRequestFailures(t *testing.T) {
	s := New(ES7)
	defer s.Close()
	one := `{"index":{"_index":"i","_id":"1"}}` + "\n" + `{"a":1}` + "\n"
	s.FailNext(503, 429)
	if code, _ := post(t, s, one, false, nil); code != 503 {
		t.Fatalf("first = %d, want injected 503", code)
	}
	if code, _ := post(t, s, one, false, nil); code != 429 {
		t.Fatalf("second = %d, want injected 429", code)
	}
	code, resp := post(t, s, one, false, nil)
	if code != 200 || resp.Items[0]["index"]["_type"] != "_doc" {
		t.Fatalf("ES7 item shape: %d %v", code, resp.Items)
	}
	if code, _ := post(t, s, strings.TrimSuffix(one, "\n"), false, nil); code != 400 {
		t.Fatalf("body without final newline = %d, want 400", code)
	}
	s.MaxBodyBytes = 10
	if code, _ := post(t, s, one, false, nil); code != 413 {
		t.Fatalf("oversized body = %d, want 413", code)
	}
	s.MaxBodyBytes = 0
	s.Username, s.Password = "elastic", "pw"
	if code, _ := post(t, s, one, false, nil); code != 401 {
		t.Fatalf("no credentials = %d, want 401", code)
	}
	if code, _ := post(t, s, one, false, func(r *http.Request) { r.SetBasicAuth("elastic", "pw") }); code != 200 {
		t.Fatalf("with credentials = %d", code)
	}
}
