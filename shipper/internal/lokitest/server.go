package lokitest

import (
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/outrigger/outrigger/internal/testkit"
)

// Limits are Loki's acceptance limits the receiver applies (Loki's defaults
// unless a test changes them).
type Limits struct {
	MaxLineBytes  int           // 256 KB: longer lines are rejected ("line_too_long")
	MaxAge        time.Duration // 7 days: older entries are rejected ("too_old")
	MaxFuture     time.Duration // 10 min: entries further in the future are rejected ("too_new")
	MaxBehind     time.Duration // 1 h: entries this far behind their stream's newest are rejected ("too_far_behind")
	MaxBodyBytes  int           // decompressed request size above which the answer is 413 (0: no limit)
	MaxLabelPairs int           // 15
}

// DefaultLimits are Loki's defaults.
func DefaultLimits() Limits {
	return Limits{MaxLineBytes: 256 << 10, MaxAge: 7 * 24 * time.Hour, MaxFuture: 10 * time.Minute,
		MaxBehind: time.Hour, MaxLabelPairs: 15}
}

// Options configure a receiver.
type Options struct {
	Limits Limits
	// Tenant, when set, is required in X-Scope-OrgID.
	Tenant string
	// Username/Password, when set, are required as basic auth; Bearer as a bearer token.
	Username, Password, Bearer string
	// CountOnly keeps no entries, only counts (for benchmarks): no dedup.
	CountOnly bool
	// OnEntry, when set, is called for every accepted entry (outside the lock).
	OnEntry func(labels string, e Entry)
	// Now is the receiver's clock (testkit.Now when nil: the shared test
	// clock, which OUTRIGGER_TEST_CLOCK_SHIFT can move ahead). A test whose
	// entries come from a daemon's own real clock sets time.Now here.
	Now func() time.Time
	// TLS, when set, makes the receiver serve HTTPS (URL starts with https://).
	TLS *tls.Config
}

type stream struct {
	labels  string
	entries []Entry
	seen    map[string]struct{}
	newest  int64
}

// Stats counts what the receiver saw.
type Stats struct {
	Requests   int
	Status     map[int]int
	Accepted   int
	Duplicates int
	Rejected   map[string]int
}

type fault struct {
	status int
	count  int
}

// Server is a fake Loki push endpoint.
type Server struct {
	URL  string
	addr string
	opts Options

	mu       sync.Mutex
	ln       net.Listener
	srv      *http.Server
	streams  map[string]*stream
	order    []string
	faults   []fault
	rate     float64
	rateCode int
	rng      *rand.Rand
	reject   func(labels string, e Entry) string
	stats    Stats
}

// Start starts a receiver on a free loopback port; it stops at cleanup.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := New("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// New starts a receiver listening on addr.
func New(addr string, opts Options) (*Server, error) {
	if opts.Limits == (Limits{}) {
		opts.Limits = DefaultLimits()
	}
	if opts.Now == nil {
		opts.Now = testkit.Now
	}
	s := &Server{opts: opts, streams: map[string]*stream{}, rng: rand.New(rand.NewPCG(1, 2)),
		stats: Stats{Status: map[int]int{}, Rejected: map[string]int{}}}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening: %w", err)
	}
	s.addr = ln.Addr().String()
	s.URL = "http://" + s.addr
	if opts.TLS != nil {
		s.URL = "https://" + s.addr
	}
	s.serve(ln)
	return s, nil
}

func (s *Server) serve(ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("/loki/api/v1/push", s.push)
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ready\n") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if s.opts.TLS != nil {
		ln = tls.NewListener(ln, s.opts.TLS)
	}
	s.ln, s.srv = ln, srv
	go func() { _ = srv.Serve(ln) }()
}

// Now is the receiver's clock: test data meant to be accepted takes its times
// from it.
func (s *Server) Now() time.Time { return s.opts.Now() }

// Close stops the receiver.
func (s *Server) Close() {
	s.mu.Lock()
	srv := s.srv
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Down stops listening: connections are refused until Up.
func (s *Server) Down() { s.Close() }

// Up listens again on the same address.
func (s *Server) Up() error {
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("listening again on %s: %w", s.addr, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serve(ln)
	return nil
}

// FailNext answers the next n requests with status, storing nothing.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{status: status, count: n})
}

// FailRate answers a share p of the requests with status, storing nothing
// (a 429 storm); p = 0 ends it.
func (s *Server) FailRate(p float64, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate, s.rateCode = p, status
}

// RejectWhen makes the receiver reject the entries for which fn returns a
// reason, as Loki's validation does: the rest of the request is stored and
// the answer is 400.
func (s *Server) RejectWhen(fn func(labels string, e Entry) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = fn
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Status, st.Rejected = map[int]int{}, map[string]int{}
	for k, v := range s.stats.Status {
		st.Status[k] = v
	}
	for k, v := range s.stats.Rejected {
		st.Rejected[k] = v
	}
	return st
}

// Streams returns a copy of every stored stream, in the order entries were
// accepted, keyed by labels.
func (s *Server) Streams() map[string][]Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]Entry, len(s.streams))
	for k, st := range s.streams {
		out[k] = append([]Entry(nil), st.entries...)
	}
	return out
}

// Count is the number of entries stored.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.Accepted
}

func (s *Server) authorized(r *http.Request) bool {
	eq := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	if s.opts.Username != "" {
		u, p, ok := r.BasicAuth()
		if !ok || !eq(u, s.opts.Username) || !eq(p, s.opts.Password) {
			return false
		}
	}
	if s.opts.Bearer != "" && !eq(r.Header.Get("Authorization"), "Bearer "+s.opts.Bearer) {
		return false
	}
	return true
}

func (s *Server) push(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading body", http.StatusBadRequest)
		return
	}
	code, msg := s.handle(r, body)
	s.mu.Lock()
	s.stats.Status[code]++
	s.mu.Unlock()
	if code == http.StatusNoContent {
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg)
}

func (s *Server) handle(r *http.Request, body []byte) (int, string) {
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, "POST only\n"
	}
	if !s.authorized(r) {
		return http.StatusUnauthorized, "unauthorized\n"
	}
	if s.opts.Tenant != "" && r.Header.Get("X-Scope-OrgID") != s.opts.Tenant {
		return http.StatusUnauthorized, "no org id\n"
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		return http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Type %q\n", ct)
	}
	s.mu.Lock()
	s.stats.Requests++
	if len(s.faults) > 0 {
		f := &s.faults[0]
		f.count--
		code := f.status
		if f.count <= 0 {
			s.faults = s.faults[1:]
		}
		s.mu.Unlock()
		return code, http.StatusText(code) + " (injected)\n"
	}
	if s.rate > 0 && s.rng.Float64() < s.rate {
		code := s.rateCode
		s.mu.Unlock()
		return code, http.StatusText(code) + " (injected)\n"
	}
	s.mu.Unlock()
	raw, err := s2.Decode(nil, body)
	if err != nil {
		return http.StatusBadRequest, "decoding snappy block: " + err.Error() + "\n"
	}
	if max := s.opts.Limits.MaxBodyBytes; max > 0 && len(raw) > max {
		return http.StatusRequestEntityTooLarge, "request too large\n"
	}
	streams, err := DecodePushRequest(raw)
	if err != nil {
		return http.StatusBadRequest, "decoding push request: " + err.Error() + "\n"
	}
	for _, st := range streams {
		if err := validLabels(st.Labels, s.opts.Limits.MaxLabelPairs); err != nil {
			return http.StatusBadRequest, fmt.Sprintf("error parsing labels %q: %v\n", st.Labels, err)
		}
	}
	return s.store(streams)
}

func (s *Server) store(streams []Stream) (int, string) {
	now := s.opts.Now()
	lim := s.opts.Limits
	var msgs []string
	total, ignored := 0, 0
	var accepted []Stream
	s.mu.Lock()
	for _, in := range streams {
		st := s.streams[in.Labels]
		if st == nil {
			st = &stream{labels: in.Labels, seen: map[string]struct{}{}}
			s.streams[in.Labels] = st
			s.order = append(s.order, in.Labels)
		}
		var acc Stream
		for _, e := range in.Entries {
			total++
			reason := ""
			var key string
			if !s.opts.CountOnly {
				key = entryKey(e)
				if _, dup := st.seen[key]; dup {
					s.stats.Duplicates++
					continue
				}
			}
			switch {
			case lim.MaxLineBytes > 0 && len(e.Line) > lim.MaxLineBytes:
				reason = "line_too_long"
				msgs = append(msgs, fmt.Sprintf("Max entry size '%d' bytes exceeded for stream '%s' while adding an entry with length '%d' bytes", lim.MaxLineBytes, in.Labels, len(e.Line)))
			case e.TimeNs < now.Add(-lim.MaxAge).UnixNano():
				reason = "too_old"
				msgs = append(msgs, fmt.Sprintf("entry for stream '%s' has timestamp too old: %s, oldest acceptable timestamp is: %s", in.Labels, time.Unix(0, e.TimeNs).UTC().Format(time.RFC3339), now.Add(-lim.MaxAge).UTC().Format(time.RFC3339)))
			case e.TimeNs > now.Add(lim.MaxFuture).UnixNano():
				reason = "too_new"
				msgs = append(msgs, fmt.Sprintf("entry for stream '%s' has timestamp too new: %s", in.Labels, time.Unix(0, e.TimeNs).UTC().Format(time.RFC3339)))
			case st.newest != 0 && e.TimeNs < st.newest-lim.MaxBehind.Nanoseconds():
				reason = "too_far_behind"
				msgs = append(msgs, fmt.Sprintf("entry with timestamp %s ignored, reason: 'entry too far behind, entry timestamp is: %s, oldest acceptable timestamp is: %s' for stream: %s", time.Unix(0, e.TimeNs).UTC().Format(time.RFC3339), time.Unix(0, e.TimeNs).UTC().Format(time.RFC3339), time.Unix(0, st.newest-lim.MaxBehind.Nanoseconds()).UTC().Format(time.RFC3339), in.Labels))
			case s.reject != nil:
				if reason = s.reject(in.Labels, e); reason != "" {
					msgs = append(msgs, rejectMessage(reason, in.Labels, e, now))
				}
			}
			if reason != "" {
				ignored++
				s.stats.Rejected[reason]++
				continue
			}
			s.stats.Accepted++
			if e.TimeNs > st.newest {
				st.newest = e.TimeNs
			}
			if !s.opts.CountOnly {
				st.seen[key] = struct{}{}
				st.entries = append(st.entries, e)
			}
			if s.opts.OnEntry != nil {
				acc.Entries = append(acc.Entries, e)
			}
		}
		if len(acc.Entries) > 0 {
			acc.Labels = in.Labels
			accepted = append(accepted, acc)
		}
	}
	s.mu.Unlock()
	for _, st := range accepted {
		for _, e := range st.Entries {
			s.opts.OnEntry(st.Labels, e)
		}
	}
	if ignored == 0 {
		return http.StatusNoContent, ""
	}
	return http.StatusBadRequest, strings.Join(msgs, "\n") + fmt.Sprintf("\nuser 'fake', total ignored: %d out of %d\n", ignored, total)
}

func entryKey(e Entry) string {
	var b strings.Builder
	b.WriteString(strconv.FormatInt(e.TimeNs, 10))
	b.WriteByte(0)
	b.WriteString(e.Line)
	md := append([]Label(nil), e.Metadata...)
	sort.Slice(md, func(i, j int) bool { return md[i].Name < md[j].Name })
	for _, l := range md {
		b.WriteByte(0)
		b.WriteString(l.Name)
		b.WriteByte(1)
		b.WriteString(l.Value)
	}
	return b.String()
}

// ParseLabels parses a stream selector such as {app="api", env="prod"}.
func ParseLabels(s string) ([]Label, error) {
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return nil, errors.New("selector must be enclosed in braces")
	}
	rest := strings.TrimSpace(s[1 : len(s)-1])
	var out []Label
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("expected name= at %q", rest)
		}
		name := strings.TrimSpace(rest[:eq])
		if !validName(name) {
			return nil, fmt.Errorf("invalid label name %q", name)
		}
		rest = strings.TrimSpace(rest[eq+1:])
		q, err := strconv.QuotedPrefix(rest)
		if err != nil || !strings.HasPrefix(q, `"`) {
			return nil, fmt.Errorf("label %s: value must be a double-quoted string", name)
		}
		v, err := strconv.Unquote(q)
		if err != nil {
			return nil, fmt.Errorf("label %s: %w", name, err)
		}
		out = append(out, Label{Name: name, Value: v})
		rest = strings.TrimSpace(rest[len(q):])
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("expected , at %q", rest)
		}
		rest = strings.TrimSpace(rest[1:])
	}
	return out, nil
}

func validLabels(s string, maxPairs int) error {
	ls, err := ParseLabels(s)
	if err != nil {
		return err
	}
	if len(ls) == 0 {
		return errors.New("at least one label pair is required per stream")
	}
	if maxPairs > 0 && len(ls) > maxPairs {
		return fmt.Errorf("stream has %d labels, more than %d", len(ls), maxPairs)
	}
	return nil
}

func validName(n string) bool {
	if n == "" {
		return false
	}
	for i, c := range n {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// rejectMessage words an injected rejection as Loki words that reason.
func rejectMessage(reason, labels string, e Entry, now time.Time) string {
	ts := time.Unix(0, e.TimeNs).UTC().Format(time.RFC3339)
	switch reason {
	case "too_old":
		return fmt.Sprintf("entry for stream '%s' has timestamp too old: %s, oldest acceptable timestamp is: %s", labels, ts, now.UTC().Format(time.RFC3339))
	case "too_new":
		return fmt.Sprintf("entry for stream '%s' has timestamp too new: %s", labels, ts)
	case "line_too_long":
		return fmt.Sprintf("Max entry size '1' bytes exceeded for stream '%s' while adding an entry with length '%d' bytes", labels, len(e.Line))
	case "too_far_behind":
		return fmt.Sprintf("entry with timestamp %s ignored, reason: 'entry too far behind' for stream: %s", ts, labels)
	}
	return fmt.Sprintf("entry for stream '%s' rejected: %s", labels, reason)
}
