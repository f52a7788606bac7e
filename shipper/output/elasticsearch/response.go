package elasticsearch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// itemResult is one item's outcome in a bulk response.
type itemResult struct {
	Op     string // create or index
	Status int
	Type   string // error type, e.g. mapper_parsing_exception
	Reason string
}

type bulkItem struct {
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error"`
}

type bulkResponse struct {
	Errors *bool `json:"errors"`
	Items  []struct {
		Create *bulkItem `json:"create"`
		Index  *bulkItem `json:"index"`
	} `json:"items"`
}

// parseBulkResponse reads a bulk response body of Elasticsearch 7 or 8 or
// OpenSearch 2, full or shrunk by filter_path, and returns each item's
// outcome in request order. With "errors":false and no items (a
// filter_path that dropped them), every one of n items succeeded.
func parseBulkResponse(body []byte, n int) ([]itemResult, error) {
	if allCreated(body) {
		out := make([]itemResult, n)
		for i := range out {
			out[i].Status = 201
		}
		return out, nil
	}
	var r bulkResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding bulk response: %w", err)
	}
	if r.Errors == nil {
		return nil, errors.New("decoding bulk response: no errors field")
	}
	if !*r.Errors && len(r.Items) == 0 {
		out := make([]itemResult, n)
		for i := range out {
			out[i].Status = 201
		}
		return out, nil
	}
	if len(r.Items) != n {
		return nil, fmt.Errorf("bulk response has %d items for %d actions", len(r.Items), n)
	}
	out := make([]itemResult, n)
	for i, it := range r.Items {
		var b *bulkItem
		switch {
		case it.Create != nil:
			b, out[i].Op = it.Create, "create"
		case it.Index != nil:
			b, out[i].Op = it.Index, "index"
		default:
			return nil, fmt.Errorf("bulk response item %d: neither create nor index", i)
		}
		out[i].Status = b.Status
		if b.Status < 100 || b.Status > 599 {
			return nil, fmt.Errorf("bulk response item %d: status %d", i, b.Status)
		}
		if len(b.Error) > 0 && string(b.Error) != "null" {
			out[i].Type, out[i].Reason = errorText(b.Error)
		}
	}
	return out, nil
}

// allCreated is the fast path: "errors":false, which Elasticsearch and
// OpenSearch write before the items, means every item succeeded, and the
// items need not be decoded.
func allCreated(body []byte) bool {
	head := body[:min(len(body), 256)]
	e := bytes.Index(head, []byte(`"errors"`))
	if e < 0 || bytes.LastIndexByte(head[:e], '[') >= 0 || bytes.Count(head[:e], []byte("{")) != 1 {
		return false // not a top-level key before any item
	}
	rest := bytes.TrimLeft(head[e+len(`"errors"`):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return false
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	return bytes.HasPrefix(rest, []byte("false")) && len(rest) > 5 && (rest[5] == ',' || rest[5] == '}' || rest[5] == ' ' || rest[5] == '\n')
}

// errorText reads an item error: an object {type, reason, caused_by} or,
// in old versions, a string.
func errorText(raw json.RawMessage) (typ, reason string) {
	var e struct {
		Type     string `json:"type"`
		Reason   string `json:"reason"`
		CausedBy *struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"caused_by"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return "error", s
		}
		return "error", string(raw)
	}
	reason = e.Reason
	if e.CausedBy != nil && e.CausedBy.Reason != "" {
		reason += ": " + e.CausedBy.Reason
	}
	return e.Type, reason
}

// wholeError reads the error of a failed whole request (type and reason).
func wholeError(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Error) == 0 {
		if len(body) > 200 {
			body = body[:200]
		}
		return string(body)
	}
	t, r := errorText(e.Error)
	return t + ": " + r
}
