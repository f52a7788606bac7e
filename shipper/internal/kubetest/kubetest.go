// Package kubetest is a fake Kubernetes API server for the pod list and
// watch the shipper uses, built from the documented contract: a bearer
// token is required, fieldSelector spec.nodeName is honoured (other
// fields are refused as the real server refuses unknown ones), watches
// resume from a resourceVersion, a version older than the retained
// history ends the watch with an ERROR event of code 410 (Expired), and
// a test can drop every open watch or compact the history at any moment.
package kubetest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Pod is the part of a pod the fake serves.
type Pod struct {
	Namespace, Name, UID, Node string
	Labels, Annotations        map[string]string
}

type event struct {
	typ string
	rv  int
	seq int // order in the history, bookmarks included
	pod Pod
}

// Server is a fake API server.
type Server struct {
	URL string

	mu       sync.Mutex
	token    string
	rv       int
	seq      int
	pods     map[string]Pod // namespace/name
	history  []event        // events after oldest
	oldest   int            // a watch from a version below this gets 410
	watches  map[chan struct{}]bool
	requests map[string]int
	changed  chan struct{}
	srv      *http.Server
	ln       net.Listener
	wg       sync.WaitGroup
}

// Start starts a server on a free loopback port, stopped at cleanup.
func Start(t testing.TB, token string) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), token: token, rv: 100, pods: map[string]Pod{},
		watches: map[chan struct{}]bool{}, requests: map[string]int{}, changed: make(chan struct{}), ln: ln}
	s.oldest = s.rv
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/pods", s.pods_)
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods/{name}", s.get)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.wg.Go(func() { s.srv.Serve(ln) })
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and its watches.
func (s *Server) Close() {
	s.DropWatches()
	s.srv.Close()
	s.wg.Wait()
}

// Requests counts requests by kind: list, watch, get, unauthorized.
func (s *Server) Requests(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[kind]
}

// Watches is the number of watches open now.
func (s *Server) Watches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.watches)
}

func key(p Pod) string { return p.Namespace + "/" + p.Name }

// record applies a change under s.mu and wakes the watches.
func (s *Server) record(typ string, p Pod) {
	s.rv++
	s.seq++
	s.history = append(s.history, event{typ: typ, rv: s.rv, seq: s.seq, pod: p})
	close(s.changed)
	s.changed = make(chan struct{})
}

// Put adds or modifies a pod.
func (s *Server) Put(p Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	typ := "ADDED"
	if _, ok := s.pods[key(p)]; ok {
		typ = "MODIFIED"
	}
	s.pods[key(p)] = p
	s.record(typ, p)
}

// Delete deletes a pod.
func (s *Server) Delete(namespace, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pods[namespace+"/"+name]
	if !ok {
		return
	}
	delete(s.pods, key(p))
	s.record("DELETED", p)
}

// DropWatches ends every open watch abruptly (as a restarting API server
// or a load balancer would); clients resume from their last version.
func (s *Server) DropWatches() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.watches {
		close(c)
		delete(s.watches, c)
	}
}

// Compact forgets the history: a watch from any version seen so far then
// gets 410 Gone and must list again.
func (s *Server) Compact() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.history = nil
	s.oldest = s.rv + 1
}

// Bookmark sends a BOOKMARK with the current version to every watch.
func (s *Server) Bookmark() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.history = append(s.history, event{typ: "BOOKMARK", rv: s.rv, seq: s.seq})
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) status(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(statusObject(code, reason, msg))
}

func statusObject(code int, reason, msg string) map[string]any {
	return map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{}, "status": "Failure",
		"message": msg, "reason": reason, "code": code}
}

// SetToken rotates the service account token the server accepts (the
// kubelet rotates projected tokens); open watches go on.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	ok := r.Header.Get("Authorization") == "Bearer "+s.token
	if !ok {
		s.requests["unauthorized"]++
	}
	s.mu.Unlock()
	if !ok {
		s.status(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
		return false
	}
	return true
}

// nodeSelector parses fieldSelector; only spec.nodeName (= or ==) is known.
func nodeSelector(q url.Values) (string, bool, error) {
	fs := q.Get("fieldSelector")
	if fs == "" {
		return "", false, nil
	}
	if strings.Contains(fs, ",") {
		return "", false, fmt.Errorf("the fake knows one requirement, got %q", fs)
	}
	k, v, ok := strings.Cut(fs, "==")
	if !ok {
		k, v, ok = strings.Cut(fs, "=")
	}
	if !ok {
		return "", false, fmt.Errorf("invalid field selector %q", fs)
	}
	if k != "spec.nodeName" {
		return "", false, fmt.Errorf("field label not supported: %s", k)
	}
	return v, true, nil
}

func podObject(p Pod, rv int) map[string]any {
	meta := map[string]any{"name": p.Name, "namespace": p.Namespace, "uid": p.UID, "resourceVersion": strconv.Itoa(rv),
		"creationTimestamp": "2026-01-01T00:00:00Z"}
	if p.Labels != nil {
		meta["labels"] = p.Labels
	}
	if p.Annotations != nil {
		meta["annotations"] = p.Annotations
	}
	return map[string]any{"kind": "Pod", "apiVersion": "v1", "metadata": meta,
		"spec":   map[string]any{"nodeName": p.Node, "containers": []any{map[string]any{"name": "app", "image": "app:1"}}},
		"status": map[string]any{"phase": "Running"}}
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	s.mu.Lock()
	s.requests["get"]++
	p, ok := s.pods[r.PathValue("ns")+"/"+r.PathValue("name")]
	rv := s.rv
	s.mu.Unlock()
	if !ok {
		s.status(w, http.StatusNotFound, "NotFound", fmt.Sprintf("pods %q not found", r.PathValue("name")))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(podObject(p, rv))
}

func (s *Server) pods_(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	q := r.URL.Query()
	node, byNode, err := nodeSelector(q)
	if err != nil {
		s.status(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	match := func(p Pod) bool { return !byNode || p.Node == node }
	if wq := q.Get("watch"); wq == "true" || wq == "1" {
		s.watch(w, r, q, match)
		return
	}
	s.mu.Lock()
	s.requests["list"]++
	items := []any{}
	for _, p := range s.pods {
		if match(p) {
			items = append(items, podObject(p, s.rv))
		}
	}
	rv := s.rv
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"kind": "PodList", "apiVersion": "v1",
		"metadata": map[string]any{"resourceVersion": strconv.Itoa(rv)}, "items": items})
}

// watch streams events after the asked version, one JSON object a line.
func (s *Server) watch(w http.ResponseWriter, r *http.Request, q url.Values, match func(Pod) bool) {
	from := -1 // "" and "0": the current state as ADDED events first
	if v := q.Get("resourceVersion"); v != "" && v != "0" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.status(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("invalid resource version %q", v))
			return
		}
		from = n
	}
	bookmarks := q.Get("allowWatchBookmarks") == "true"
	timeout := 30 * time.Minute
	if v := q.Get("timeoutSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.status(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("invalid timeoutSeconds %q", v))
			return
		}
		if n > 0 {
			timeout = time.Duration(n) * time.Second
		}
	}
	drop := make(chan struct{})
	s.mu.Lock()
	s.requests["watch"]++
	s.watches[drop] = true
	var initial []map[string]any
	if from < 0 {
		for _, p := range s.pods {
			if match(p) {
				initial = append(initial, map[string]any{"type": "ADDED", "object": podObject(p, s.rv)})
			}
		}
		from = s.rv
	}
	seen := s.seq // bookmarks before the watch began are not sent
	gone := from < s.oldest
	oldest, cur := s.oldest, s.rv
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watches, drop)
		s.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	if gone {
		enc.Encode(map[string]any{"type": "ERROR", "object": statusObject(http.StatusGone, "Expired",
			fmt.Sprintf("too old resource version: %d (%d)", from, max(oldest, cur)))})
		return
	}
	for _, ev := range initial {
		enc.Encode(ev)
	}
	rc.Flush()
	end := time.NewTimer(timeout)
	defer end.Stop()
	for {
		s.mu.Lock()
		var out []map[string]any
		for _, ev := range s.history {
			if ev.typ == "BOOKMARK" && ev.seq <= seen || ev.typ != "BOOKMARK" && ev.rv <= from {
				continue
			}
			switch {
			case ev.typ == "BOOKMARK":
				if bookmarks {
					out = append(out, map[string]any{"type": "BOOKMARK", "object": map[string]any{"kind": "Pod", "apiVersion": "v1",
						"metadata": map[string]any{"resourceVersion": strconv.Itoa(ev.rv)}}})
				}
			case match(ev.pod):
				out = append(out, map[string]any{"type": ev.typ, "object": podObject(ev.pod, ev.rv)})
			}
		}
		seen, from = s.seq, s.rv
		changed := s.changed
		s.mu.Unlock()
		for _, ev := range out {
			enc.Encode(ev)
		}
		rc.Flush()
		select {
		case <-changed:
		case <-end.C:
			return // the server's timeout: a clean end of the stream
		case <-r.Context().Done():
			return
		case <-drop:
			if conn, _, err := rc.Hijack(); err == nil {
				conn.Close() // abruptly, mid-stream
			}
			return
		}
	}
}
