// Package estest is the one in-process Elasticsearch bulk receiver every
// shipper test uses. It implements the documented contract of the bulk API
// (../../../../shared/reference/log-outputs.md): NDJSON action/source pairs,
// gzip bodies, per-item outcomes in request order, 409 on create of an
// existing _id, mapping conflicts as 400, data streams that take only create
// with @timestamp, 413 over a body limit, and injected 429/5xx per item or per
// request. It answers in the shapes of Elasticsearch 7, 8 or OpenSearch 2.
package estest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Flavor picks the response shapes.
type Flavor int

const (
	ES8 Flavor = iota
	ES7
	OpenSearch2
)

// Doc is one stored document.
type Doc struct {
	Index  string
	ID     string
	Source map[string]any
	Raw    json.RawMessage
}

// Server is a fake Elasticsearch. Configure it before use; inspect it with
// its methods. It is safe for concurrent requests.
type Server struct {
	*httptest.Server
	Flavor Flavor
	// MaxBodyBytes answers 413 to larger (decompressed) bulk bodies; 0 = no limit.
	MaxBodyBytes int
	// DataStreams are index name prefixes that behave as data streams.
	DataStreams []string
	// Username/Password or APIKey, when set, are required (401 otherwise).
	Username, Password, APIKey string
	// ItemStatus, when set, may fail one item before it is applied: it returns
	// an HTTP status (429, 500, 503...) or 0 to let the item through.
	ItemStatus func(index, id string, source map[string]any) int
	// CountOnly (benchmarks) keeps only each index's ids, so 409 on create
	// still holds, without decoding sources or applying mappings: Count
	// tells how many documents are stored, Docs returns none.
	CountOnly bool

	mu         sync.Mutex
	docs       map[string]map[string]Doc // index -> id -> doc
	order      []Doc                     // every accepted document, in acceptance order
	fields     map[string]map[string]string
	failNext   []int
	requests   int
	items      int
	outcomes   map[int]int
	templates  map[string]json.RawMessage
	policies   map[string]json.RawMessage
	nextAutoID int
	ids        map[string]map[string]struct{} // CountOnly: index -> ids
	count      int
}

// New starts a fake Elasticsearch of the given flavor on loopback.
func New(flavor Flavor) *Server {
	s := &Server{Flavor: flavor, docs: map[string]map[string]Doc{}, fields: map[string]map[string]string{},
		outcomes: map[int]int{}, templates: map[string]json.RawMessage{}, policies: map[string]json.RawMessage{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// NewTLS starts a fake Elasticsearch serving HTTPS; its CA is the
// certificate of s.Certificate() (write it with CAFile).
func NewTLS(flavor Flavor) *Server {
	s := &Server{Flavor: flavor, docs: map[string]map[string]Doc{}, fields: map[string]map[string]string{},
		outcomes: map[int]int{}, templates: map[string]json.RawMessage{}, policies: map[string]json.RawMessage{}}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s
}

// CAFile writes the server's certificate as a PEM file in dir and returns its path.
func (s *Server) CAFile(dir string) (string, error) {
	path := filepath.Join(dir, "es-ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	return path, os.WriteFile(path, pemBytes, 0o644)
}

// Count is the number of stored documents.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.CountOnly {
		return s.count
	}
	return len(s.order)
}

// FailNext makes the next len(statuses) bulk requests fail whole with these
// statuses, in order.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, statuses...)
}

// Docs returns every stored document, in the order they were first accepted.
func (s *Server) Docs() []Doc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Doc(nil), s.order...)
}

// Indices returns the index names holding documents, sorted.
func (s *Server) Indices() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.docs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Stats returns the number of bulk requests, items seen, and item outcomes by status.
func (s *Server) Stats() (requests, items int, outcomes map[int]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int]int{}
	for k, v := range s.outcomes {
		out[k] = v
	}
	return s.requests, s.items, out
}

// Template returns an installed index template (or ILM/ISM policy) body.
func (s *Server) Template(name string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.templates[name]
	return b, ok
}

// Policy returns an installed lifecycle policy body.
func (s *Server) Policy(name string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.policies[name]
	return b, ok
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="security"`)
		writeJSON(w, 401, map[string]any{"error": map[string]any{"type": "security_exception", "reason": "missing authentication credentials"}, "status": 401})
		return
	}
	path := strings.Trim(r.URL.Path, "/")
	switch {
	case r.Method == http.MethodGet && path == "":
		s.info(w)
	case r.Method == http.MethodPost && (path == "_bulk" || strings.HasSuffix(path, "/_bulk")):
		s.bulk(w, r, strings.TrimSuffix(strings.TrimSuffix(path, "_bulk"), "/"))
	case r.Method == http.MethodPut && (strings.HasPrefix(path, "_index_template/") || strings.HasPrefix(path, "_template/")):
		s.store(w, r, s.templates, path[strings.Index(path, "/")+1:])
	case r.Method == http.MethodPut && (strings.HasPrefix(path, "_ilm/policy/") || strings.HasPrefix(path, "_plugins/_ism/policies/")):
		s.store(w, r, s.policies, path[strings.LastIndex(path, "/")+1:])
	case r.Method == http.MethodGet && (strings.HasPrefix(path, "_index_template/") || strings.HasPrefix(path, "_ilm/policy/") || strings.HasPrefix(path, "_plugins/_ism/policies/")):
		name := path[strings.LastIndex(path, "/")+1:]
		s.mu.Lock()
		_, okT := s.templates[name]
		_, okP := s.policies[name]
		s.mu.Unlock()
		if okT || okP {
			writeJSON(w, 200, map[string]any{name: map[string]any{}})
			return
		}
		writeJSON(w, 404, map[string]any{"error": map[string]any{"type": "resource_not_found_exception", "reason": name + " not found"}, "status": 404})
	default:
		writeJSON(w, 400, map[string]any{"error": map[string]any{"type": "illegal_argument_exception",
			"reason": fmt.Sprintf("fake elasticsearch does not serve %s %s", r.Method, r.URL.Path)}, "status": 400})
	}
}

func (s *Server) authorized(r *http.Request) bool {
	if s.APIKey != "" {
		return r.Header.Get("Authorization") == "ApiKey "+s.APIKey
	}
	if s.Username != "" {
		u, p, ok := r.BasicAuth()
		return ok && u == s.Username && p == s.Password
	}
	return true
}

func (s *Server) info(w http.ResponseWriter) {
	v := map[string]any{"number": "8.15.0", "build_flavor": "default"}
	switch s.Flavor {
	case ES7:
		v = map[string]any{"number": "7.17.22", "build_flavor": "default"}
	case OpenSearch2:
		v = map[string]any{"distribution": "opensearch", "number": "2.15.0"}
	}
	writeJSON(w, 200, map[string]any{"name": "fake", "cluster_name": "estest", "version": v, "tagline": "You Know, for Search"})
}

func (s *Server) store(w http.ResponseWriter, r *http.Request, into map[string]json.RawMessage, name string) {
	body, err := io.ReadAll(r.Body)
	if err != nil || !json.Valid(body) {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"type": "parse_exception", "reason": "request body is not JSON"}, "status": 400})
		return
	}
	s.mu.Lock()
	into[name] = body
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"acknowledged": true})
}

func (s *Server) bulk(w http.ResponseWriter, r *http.Request, defaultIndex string) {
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/x-ndjson") && !strings.HasPrefix(ct, "application/json") {
		writeJSON(w, 406, map[string]any{"error": "Content-Type header [" + ct + "] is not supported", "status": 406})
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			writeJSON(w, 400, map[string]any{"error": map[string]any{"type": "parse_exception", "reason": "bad gzip body"}, "status": 400})
			return
		}
		defer zr.Close()
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"type": "parse_exception", "reason": err.Error()}, "status": 400})
		return
	}
	s.mu.Lock()
	s.requests++
	if len(s.failNext) > 0 {
		status := s.failNext[0]
		s.failNext = s.failNext[1:]
		s.mu.Unlock()
		writeJSON(w, status, map[string]any{"error": map[string]any{"type": "injected", "reason": "injected failure"}, "status": status})
		return
	}
	s.mu.Unlock()
	if s.MaxBodyBytes > 0 && len(raw) > s.MaxBodyBytes {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	if len(raw) == 0 || raw[len(raw)-1] != '\n' {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"type": "illegal_argument_exception",
			"reason": "The bulk request must be terminated by a newline [\\n]"}, "status": 400})
		return
	}
	items, hasErrors, perr := s.applyBulk(raw, defaultIndex)
	if perr != nil {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"type": "x_content_parse_exception", "reason": perr.Error()}, "status": 400})
		return
	}
	if fp := r.URL.Query().Get("filter_path"); fp != "" {
		writeJSON(w, 200, filterPath(fp, hasErrors, items))
		return
	}
	writeJSON(w, 200, map[string]any{"took": 1, "errors": hasErrors, "items": items})
}

func (s *Server) applyBulk(raw []byte, defaultIndex string) ([]map[string]any, bool, error) {
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var items []map[string]any
	hasErrors := false
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(line, &action); err != nil || len(action) != 1 {
			return nil, false, fmt.Errorf("malformed action line %q", line)
		}
		var op string
		for k := range action {
			op = k
		}
		meta := action[op]
		if op != "index" && op != "create" {
			return nil, false, fmt.Errorf("action [%s] is not supported by the fake", op)
		}
		if !sc.Scan() {
			return nil, false, fmt.Errorf("action without a source line")
		}
		src := append([]byte(nil), bytes.TrimSpace(sc.Bytes())...)
		index := meta.Index
		if index == "" {
			index = defaultIndex
		}
		status, errBody, id := s.applyItem(op, index, meta.ID, src)
		item := map[string]any{"_index": index, "_id": id, "status": status}
		if s.Flavor == ES7 {
			item["_type"] = "_doc"
		}
		if errBody != nil {
			item["error"] = errBody
			hasErrors = true
		} else {
			item["result"] = "created"
			item["_version"] = 1
		}
		items = append(items, map[string]any{op: item})
	}
	return items, hasErrors, sc.Err()
}

func (s *Server) applyItem(op, index, id string, src []byte) (int, map[string]any, string) {
	var source map[string]any
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items++
	record := func(status int, err map[string]any) (int, map[string]any, string) {
		s.outcomes[status]++
		return status, err, id
	}
	if index == "" {
		return record(400, map[string]any{"type": "action_request_validation_exception", "reason": "index is missing"})
	}
	if reason := invalidIndexName(index); reason != "" {
		return record(400, map[string]any{"type": "invalid_index_name_exception",
			"reason": "Invalid index name [" + index + "], " + reason, "index": index})
	}
	if s.CountOnly {
		if len(src) == 0 || src[0] != '{' || id == "" {
			return record(400, map[string]any{"type": "mapper_parsing_exception", "reason": "count-only mode needs an object with an _id"})
		}
		if s.ids == nil {
			s.ids = map[string]map[string]struct{}{}
		}
		if s.ids[index] == nil {
			s.ids[index] = map[string]struct{}{}
		}
		if _, ok := s.ids[index][id]; ok && op == "create" {
			return record(409, map[string]any{"type": "version_conflict_engine_exception", "reason": "document already exists"})
		}
		if _, ok := s.ids[index][id]; !ok {
			s.count++
		}
		s.ids[index][id] = struct{}{}
		return record(201, nil)
	}
	if err := json.Unmarshal(src, &source); err != nil {
		return record(400, map[string]any{"type": "mapper_parsing_exception", "reason": "failed to parse: " + err.Error()})
	}
	if key := duplicateKey(src); key != "" {
		return record(400, map[string]any{"type": "mapper_parsing_exception", "reason": "failed to parse",
			"caused_by": map[string]any{"type": "json_parse_exception", "reason": "Duplicate field '" + key + "'"}})
	}
	for k := range source {
		if metadataFields[k] {
			return record(400, map[string]any{"type": "mapper_parsing_exception", "reason": "Field [" + k +
				"] is a metadata field and cannot be added inside a document. Use the index API request parameters."})
		}
	}
	if s.ItemStatus != nil {
		if st := s.ItemStatus(index, id, source); st != 0 {
			typ := "es_rejected_execution_exception"
			if st >= 500 {
				typ = "unavailable_shards_exception"
			}
			return record(st, map[string]any{"type": typ, "reason": "injected"})
		}
	}
	if s.isDataStream(index) {
		if op != "create" {
			return record(400, map[string]any{"type": "illegal_argument_exception",
				"reason": "only write ops with an op_type of create are allowed in data streams"})
		}
		if _, ok := source["@timestamp"]; !ok {
			return record(400, map[string]any{"type": "illegal_argument_exception", "reason": "data stream timestamp field [@timestamp] is missing"})
		}
	}
	if id == "" {
		s.nextAutoID++
		id = fmt.Sprintf("auto-%d", s.nextAutoID)
	}
	if _, exists := s.docs[index][id]; exists && op == "create" {
		return record(409, map[string]any{"type": "version_conflict_engine_exception",
			"reason": fmt.Sprintf("[%s]: version conflict, document already exists (current version [1])", id)})
	}
	if conflict := s.checkMapping(index, source); conflict != "" {
		return record(400, map[string]any{"type": "mapper_parsing_exception", "reason": conflict})
	}
	if s.docs[index] == nil {
		s.docs[index] = map[string]Doc{}
	}
	doc := Doc{Index: index, ID: id, Source: source, Raw: src}
	if _, exists := s.docs[index][id]; !exists {
		s.order = append(s.order, doc)
	}
	s.docs[index][id] = doc
	return record(201, nil)
}

func (s *Server) isDataStream(index string) bool {
	for _, p := range s.DataStreams {
		if strings.HasPrefix(index, p) {
			return true
		}
	}
	return false
}

// checkMapping applies dynamic mapping to every field path: a dotted key is
// the same path as nested objects ({"a.b":1} maps a as an object), the
// first type a path is seen with in an index sticks, and another type is a
// mapping conflict (an object where a value was, or the reverse, included).
func (s *Server) checkMapping(index string, source map[string]any) string {
	m := s.fields[index]
	if m == nil {
		m = map[string]string{}
		s.fields[index] = m
	}
	pending := map[string]string{}
	var walk func(prefix string, obj map[string]any) string
	set := func(path, t string) string {
		have, ok := pending[path]
		if !ok {
			have, ok = m[path]
		}
		if ok && have != t {
			if have == "object" || t == "object" {
				return fmt.Sprintf("can't merge a non object mapping [%s] with an object mapping", path)
			}
			return fmt.Sprintf("failed to parse field [%s] of type [%s] in document: tried to parse a %s", path, have, t)
		}
		pending[path] = t
		return ""
	}
	walk = func(prefix string, obj map[string]any) string {
		for k, v := range obj {
			parts := strings.Split(k, ".")
			path := prefix
			for i, part := range parts {
				if path != "" {
					path += "."
				}
				path += part
				if i < len(parts)-1 {
					if c := set(path, "object"); c != "" {
						return c
					}
				}
			}
			t := kind(v)
			if t == "null" {
				continue
			}
			if c := set(path, t); c != "" {
				return c
			}
			for _, inner := range objects(v) {
				if c := walk(path, inner); c != "" {
					return c
				}
			}
		}
		return ""
	}
	if c := walk("", source); c != "" {
		return c
	}
	for k, t := range pending {
		m[k] = t
	}
	return ""
}

// objects are the objects a value holds: itself, or an array's elements.
func objects(v any) []map[string]any {
	switch v := v.(type) {
	case map[string]any:
		return []map[string]any{v}
	case []any:
		var out []map[string]any
		for _, e := range v {
			out = append(out, objects(e)...)
		}
		return out
	}
	return nil
}

// metadataFields are the fields Elasticsearch refuses inside _source.
var metadataFields = map[string]bool{"_id": true, "_index": true, "_source": true, "_routing": true, "_version": true,
	"_seq_no": true, "_primary_term": true, "_type": true, "_field_names": true, "_ignored": true, "_nested_path": true,
	"_tier": true, "_data_stream_timestamp": true, "_doc_count": true, "_tsid": true, "_ignored_source": true}

// invalidIndexName is why Elasticsearch refuses an index name on create,
// "" when it does not.
func invalidIndexName(name string) string {
	switch {
	case name == "." || name == "..":
		return "must not be '.' or '..'"
	case len(name) > 255:
		return "index name is too long, (" + fmt.Sprint(len(name)) + " > 255)"
	case name[0] == '_' || name[0] == '-' || name[0] == '+':
		return "must not start with '_', '-', or '+'"
	case strings.ToLower(name) != name:
		return "must be lowercase"
	case strings.Contains(name, "#"):
		return "must not contain '#'"
	case strings.Contains(name, ":"):
		return "must not contain ':'"
	case strings.ContainsAny(name, "\\/*?\"<>| ,"):
		return `must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]`
	}
	return ""
}

// duplicateKey returns a key that an object of the document holds twice
// (Elasticsearch's parser refuses the document), "" when there is none.
func duplicateKey(src []byte) string {
	dec := json.NewDecoder(bytes.NewReader(src))
	type frame struct {
		obj  bool
		keys map[string]bool
		key  bool // the next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.key {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return k
				}
				top.keys[k] = true
				top.key = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, keys: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: in an object, a key comes next.
		if len(stack) > 0 && stack[len(stack)-1].obj {
			stack[len(stack)-1].key = true
		}
	}
}

func kind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "text"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		// Elasticsearch maps an array by the type of its elements.
		if len(v) > 0 {
			return kind(v[0])
		}
		return "null"
	}
	return "unknown"
}

// filterPath shrinks a bulk response as Elasticsearch's filter_path does,
// for the paths a bulk client asks: errors, took, items.*.<field>.
func filterPath(fp string, hasErrors bool, items []map[string]any) map[string]any {
	out := map[string]any{}
	keep := map[string]bool{}
	for _, p := range strings.Split(fp, ",") {
		switch {
		case p == "errors":
			out["errors"] = hasErrors
		case p == "took":
			out["took"] = 1
		case p == "items":
			out["items"] = items
			return out
		case strings.HasPrefix(p, "items.*."):
			keep[strings.SplitN(strings.TrimPrefix(p, "items.*."), ".", 2)[0]] = true
		}
	}
	if len(keep) == 0 {
		return out
	}
	var kept []map[string]any
	for _, it := range items {
		for op, v := range it {
			fields := map[string]any{}
			for k, val := range v.(map[string]any) {
				if keep[k] {
					fields[k] = val
				}
			}
			kept = append(kept, map[string]any{op: fields})
		}
	}
	out["items"] = kept
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
