// Package dockertest is the one fake Docker Engine API the shipper's tests
// use (no engine runs here). It serves, on a unix socket, the documented
// endpoints a log collector needs: /_ping, /version, /containers/json with
// label filters, /containers/{id}/json, /containers/{id}/logs (the
// multiplexed stream, with follow, since and timestamps) and /events; and it
// writes each container's json-file log the way the engine does, so a
// collector may tail the files instead of the API.
package dockertest

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxRecordBytes is the most of a line one json-file record or stream frame
// holds: the engine splits longer lines into pieces this long.
const MaxRecordBytes = 16 << 10

// APIVersion is the Engine API version the fake speaks.
const APIVersion = "1.47"

// Container is a container as a test creates it.
type Container struct {
	ID     string // 64 hex characters; generated when empty
	Name   string // without the leading slash
	Image  string
	Labels map[string]string
	Tty    bool
}

type container struct {
	Container
	running bool
	created time.Time
	started time.Time
	logPath string
	lines   []logLine
}

type logLine struct {
	at     time.Time
	stream string // stdout or stderr
	text   string // a line, or a 16 KiB piece of one; the last piece ends in the newline
}

type event struct {
	Type     string `json:"Type"`
	Action   string `json:"Action"`
	Actor    actor  `json:"Actor"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

type actor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}

// Server is a fake Docker engine.
type Server struct {
	// Socket is the unix socket path; Host is "unix://" + Socket.
	Socket string
	Host   string
	// Root is the engine's data root: logs are at Root/containers/<id>/<id>-json.log.
	Root string
	// Now is the engine's clock for log and event times: the host's real
	// clock by default, the one the shipper under test shares with it.
	Now func() time.Time

	srv      *http.Server
	mu       sync.Mutex
	cond     *sync.Cond
	byID     map[string]*container
	events   []event
	closed   bool
	seq      int
	requests map[string]int
}

// New starts a fake engine with its socket and data root under dir.
func New(dir string) (*Server, error) {
	s := &Server{Socket: filepath.Join(dir, "docker.sock"), Root: filepath.Join(dir, "docker"),
		byID: map[string]*container{}, requests: map[string]int{}, Now: time.Now}
	s.Host = "unix://" + s.Socket
	s.cond = sync.NewCond(&s.mu)
	if err := os.MkdirAll(filepath.Join(s.Root, "containers"), 0o755); err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", s.Socket)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", s.Socket, err)
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(l)
	return s, nil
}

// Close stops the engine and ends every streaming response.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
	return s.srv.Close()
}

// Requests counts requests by endpoint ("logs", "events", "list", "inspect", ...).
func (s *Server) Requests(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[endpoint]
}

// Start creates and starts a container (like `docker run`) and returns its id.
func (s *Server) Start(c Container) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.ID == "" {
		s.seq++
		c.ID = fmt.Sprintf("%064x", uint64(s.Now().UnixNano())+uint64(s.seq))
	}
	dir := filepath.Join(s.Root, "containers", c.ID)
	_ = os.MkdirAll(dir, 0o755)
	ct := &container{Container: c, running: true, created: s.Now(), started: s.Now(),
		logPath: filepath.Join(dir, c.ID+"-json.log")}
	_ = os.WriteFile(ct.logPath, nil, 0o640)
	s.byID[c.ID] = ct
	s.emit("create", ct)
	s.emit("start", ct)
	return c.ID
}

// Log appends a line to a container's stdout or stderr: to its json-file log
// and to every follower of its logs endpoint.
func (s *Server) Log(id, stream, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct := s.byID[id]
	if ct == nil {
		panic("dockertest: no container " + id)
	}
	at := s.Now().UTC()
	var recs []byte
	// Like the engine, a line longer than 16 KiB goes out in 16 KiB pieces:
	// one json-file record and one stream frame each, the newline only on
	// the last.
	for rest := text + "\n"; rest != ""; {
		n := min(len(rest), MaxRecordBytes)
		l := logLine{at: at, stream: stream, text: rest[:n]}
		rest = rest[n:]
		ct.lines = append(ct.lines, l)
		rec, _ := json.Marshal(map[string]string{"log": l.text, "stream": stream, "time": at.Format(time.RFC3339Nano)})
		recs = append(append(recs, rec...), '\n')
	}
	f, err := os.OpenFile(ct.logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		f.Write(recs)
		f.Close()
	}
	s.cond.Broadcast()
}

// Stop stops a container (its log stays); Restart starts it again.
func (s *Server) Stop(id string) { s.setRunning(id, false, "die") }

// Restart starts a stopped container again, keeping its id and log.
func (s *Server) Restart(id string) { s.setRunning(id, true, "start") }

func (s *Server) setRunning(id string, running bool, action string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ct := s.byID[id]; ct != nil {
		ct.running = running
		if running {
			ct.started = s.Now()
		}
		s.emit(action, ct)
	}
}

// Remove deletes a container and its log directory (like `docker rm -f`).
func (s *Server) Remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct := s.byID[id]
	if ct == nil {
		return
	}
	if ct.running {
		s.emit("die", ct)
	}
	delete(s.byID, id)
	os.RemoveAll(filepath.Dir(ct.logPath))
	s.emit("destroy", ct)
}

func (s *Server) emit(action string, ct *container) {
	attrs := map[string]string{"name": ct.Name, "image": ct.Image}
	for k, v := range ct.Labels {
		attrs[k] = v
	}
	now := s.Now()
	s.events = append(s.events, event{Type: "container", Action: action, Actor: actor{ID: ct.ID, Attributes: attrs},
		Time: now.Unix(), TimeNano: now.UnixNano()})
	s.cond.Broadcast()
}

var versionPrefix = regexp.MustCompile(`^/v[0-9]+\.[0-9]+`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := versionPrefix.ReplaceAllString(r.URL.Path, "")
	w.Header().Set("Api-Version", APIVersion)
	w.Header().Set("Docker-Experimental", "false")
	w.Header().Set("Ostype", "linux")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case path == "/_ping":
		s.count("ping")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("OK"))
	case path == "/version":
		s.count("version")
		writeJSON(w, 200, map[string]any{"Version": "28.2.2", "ApiVersion": APIVersion, "MinAPIVersion": "1.24", "Os": "linux", "Arch": "amd64"})
	case path == "/containers/json":
		s.count("list")
		s.list(w, r)
	case len(parts) == 3 && parts[0] == "containers" && parts[2] == "json":
		s.count("inspect")
		s.inspect(w, parts[1])
	case len(parts) == 3 && parts[0] == "containers" && parts[2] == "logs":
		s.count("logs")
		s.logs(w, r, parts[1])
	case path == "/events":
		s.count("events")
		s.streamEvents(w, r)
	default:
		writeJSON(w, 404, map[string]string{"message": "page not found"})
	}
}

func (s *Server) count(endpoint string) {
	s.mu.Lock()
	s.requests[endpoint]++
	s.mu.Unlock()
}

// filters decodes the engine's filters parameter: {"label":["a=b"],"status":["running"]}
// (the older map form {"label":{"a=b":true}} too).
func filters(r *http.Request) (map[string][]string, error) {
	out := map[string][]string{}
	raw := r.URL.Query().Get("filters")
	if raw == "" {
		return out, nil
	}
	var list map[string][]string
	if err := json.Unmarshal([]byte(raw), &list); err == nil {
		return list, nil
	}
	var set map[string]map[string]bool
	if err := json.Unmarshal([]byte(raw), &set); err != nil {
		return nil, fmt.Errorf("invalid filter %q", raw)
	}
	for k, vs := range set {
		for v := range vs {
			out[k] = append(out[k], v)
		}
	}
	return out, nil
}

func labelsMatch(labels map[string]string, want []string) bool {
	for _, f := range want {
		k, v, hasValue := strings.Cut(f, "=")
		have, ok := labels[k]
		if !ok || (hasValue && have != v) {
			return false
		}
	}
	return true
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	f, err := filters(r)
	if err != nil {
		writeJSON(w, 400, map[string]string{"message": err.Error()})
		return
	}
	all := r.URL.Query().Get("all") == "1" || r.URL.Query().Get("all") == "true"
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, ct := range s.sorted() {
		if (!ct.running && !all) || !labelsMatch(ct.Labels, f["label"]) {
			continue
		}
		state := "running"
		if !ct.running {
			state = "exited"
		}
		if st := f["status"]; len(st) > 0 && !contains(st, state) {
			continue
		}
		out = append(out, map[string]any{"Id": ct.ID, "Names": []string{"/" + ct.Name}, "Image": ct.Image,
			"ImageID": "sha256:" + strings.Repeat("ab", 32), "Labels": nonNil(ct.Labels), "State": state,
			"Status": "Up", "Created": ct.created.Unix()})
	}
	writeJSON(w, 200, out)
}

func (s *Server) sorted() []*container {
	var out []*container
	for _, ct := range s.byID {
		out = append(out, ct)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].created.Before(out[j].created) })
	return out
}

func (s *Server) inspect(w http.ResponseWriter, idOrName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct := s.find(idOrName)
	if ct == nil {
		writeJSON(w, 404, map[string]string{"message": "No such container: " + idOrName})
		return
	}
	status := "running"
	if !ct.running {
		status = "exited"
	}
	writeJSON(w, 200, map[string]any{
		"Id": ct.ID, "Name": "/" + ct.Name, "Created": ct.created.Format(time.RFC3339Nano),
		"State":      map[string]any{"Status": status, "Running": ct.running, "StartedAt": ct.started.Format(time.RFC3339Nano)},
		"Image":      "sha256:" + strings.Repeat("ab", 32),
		"LogPath":    ct.logPath,
		"Config":     map[string]any{"Image": ct.Image, "Labels": nonNil(ct.Labels), "Tty": ct.Tty},
		"HostConfig": map[string]any{"LogConfig": map[string]any{"Type": "json-file", "Config": map[string]string{}}},
	})
}

func (s *Server) find(idOrName string) *container {
	if ct := s.byID[idOrName]; ct != nil {
		return ct
	}
	for id, ct := range s.byID {
		if ct.Name == strings.TrimPrefix(idOrName, "/") || (len(idOrName) >= 12 && strings.HasPrefix(id, idOrName)) {
			return ct
		}
	}
	return nil
}

// logs serves the multiplexed log stream: an 8-byte header (stream 1 or 2,
// three zero bytes, big-endian payload length) before each line. With a TTY
// the stream is raw.
func (s *Server) logs(w http.ResponseWriter, r *http.Request, id string) {
	q := r.URL.Query()
	truthy := func(k string) bool { return q.Get(k) == "1" || q.Get(k) == "true" }
	wantOut, wantErr, follow, stamps := truthy("stdout"), truthy("stderr"), truthy("follow"), truthy("timestamps")
	if !wantOut && !wantErr {
		writeJSON(w, 400, map[string]string{"message": "You must choose at least one stream"})
		return
	}
	var since time.Time
	if v := q.Get("since"); v != "" && v != "0" {
		secs, frac, _ := strings.Cut(v, ".")
		sec, err := strconv.ParseInt(secs, 10, 64)
		if err != nil {
			writeJSON(w, 400, map[string]string{"message": "invalid since " + v})
			return
		}
		nsec, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		since = time.Unix(sec, nsec)
	}
	s.mu.Lock()
	ct := s.find(id)
	if ct == nil {
		s.mu.Unlock()
		writeJSON(w, 404, map[string]string{"message": "No such container: " + id})
		return
	}
	tty := ct.Tty
	s.mu.Unlock()
	if tty {
		w.Header().Set("Content-Type", "application/vnd.docker.raw-stream")
	} else {
		w.Header().Set("Content-Type", "application/vnd.docker.multiplexed-stream")
	}
	w.WriteHeader(200)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush() // the client sees the headers before the first line
	}
	sent := 0
	ctx := r.Context()
	stop := context.AfterFunc(ctx, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
	defer stop()
	for {
		s.mu.Lock()
		for !s.closed && ctx.Err() == nil && sent == len(ct.lines) && follow && s.byID[ct.ID] == ct && ct.running {
			s.cond.Wait()
		}
		pending := append([]logLine(nil), ct.lines[sent:]...)
		sent = len(ct.lines)
		done := s.closed || ctx.Err() != nil || !follow || s.byID[ct.ID] != ct || !ct.running
		s.mu.Unlock()
		for _, l := range pending {
			if (l.stream == "stdout" && !wantOut) || (l.stream == "stderr" && !wantErr) || (!since.IsZero() && l.at.Before(since)) {
				continue
			}
			payload := l.text
			if stamps {
				payload = l.at.Format(time.RFC3339Nano) + " " + payload
			}
			if !tty {
				var hdr [8]byte
				hdr[0] = 1
				if l.stream == "stderr" {
					hdr[0] = 2
				}
				binary.BigEndian.PutUint32(hdr[4:], uint32(len(payload)))
				w.Write(hdr[:])
			}
			w.Write([]byte(payload))
		}
		if flusher != nil {
			flusher.Flush()
		}
		if done {
			return
		}
	}
}

func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	f, err := filters(r)
	if err != nil {
		writeJSON(w, 400, map[string]string{"message": err.Error()})
		return
	}
	// Only events after the request, as `docker events` without --since:
	// the position is taken before the client sees the answer, so an event
	// it causes once the call returned is always streamed.
	s.mu.Lock()
	next := len(s.events)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	ctx := r.Context()
	stop := context.AfterFunc(ctx, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
	defer stop()
	enc := json.NewEncoder(w)
	for {
		s.mu.Lock()
		for !s.closed && ctx.Err() == nil && next == len(s.events) {
			s.cond.Wait()
		}
		pending := append([]event(nil), s.events[next:]...)
		next = len(s.events)
		done := s.closed || ctx.Err() != nil
		s.mu.Unlock()
		if done {
			return
		}
		for _, e := range pending {
			if t := f["type"]; len(t) > 0 && !contains(t, e.Type) {
				continue
			}
			if a := f["event"]; len(a) > 0 && !contains(a, e.Action) {
				continue
			}
			if !labelsMatch(e.Actor.Attributes, f["label"]) {
				continue
			}
			enc.Encode(e)
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
