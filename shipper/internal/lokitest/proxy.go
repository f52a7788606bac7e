package lokitest

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Proxy stands in front of a real Loki and injects the faults a test asks
// for: refused connections (Down), answers without forwarding (FailNext,
// FailRate: 429, 5xx), requests held until the client gives up (Hang),
// connections reset mid-request (Reset) and bodies forwarded slowly (Slow).
// Everything else reaches Loki unchanged.
type Proxy struct {
	URL  string
	addr string
	rp   *httputil.ReverseProxy

	mu       sync.Mutex
	srv      *http.Server
	faults   []fault
	rate     float64
	rateCode int
	hang     int
	reset    int
	slow     time.Duration
	rng      *rand.Rand
	counts   map[string]int
	hangs    chan struct{}
}

// StartProxy starts a proxy to the Loki at target on a free loopback port;
// it stops at cleanup.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{addr: ln.Addr().String(), rp: httputil.NewSingleHostReverseProxy(u),
		rng: rand.New(rand.NewPCG(3, 4)), counts: map[string]int{}, hangs: make(chan struct{})}
	p.rp.Transport = &http.Transport{DisableKeepAlives: true}
	p.URL = "http://" + p.addr
	p.serve(ln)
	t.Cleanup(func() {
		p.mu.Lock()
		close(p.hangs)
		p.mu.Unlock()
		p.Down()
	})
	return p
}

func (p *Proxy) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(p.handle), ReadHeaderTimeout: 10 * time.Second}
	p.srv = srv
	go func() { _ = srv.Serve(ln) }()
}

// Down stops listening: connections are refused until Up.
func (p *Proxy) Down() {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Up listens again on the same address.
func (p *Proxy) Up() error {
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("listening again on %s: %w", p.addr, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.serve(ln)
	return nil
}

// FailNext answers the next n pushes with status without forwarding them.
func (p *Proxy) FailNext(n, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, fault{status: status, count: n})
}

// FailRate answers a share q of the pushes with status without forwarding
// them; q = 0 ends it.
func (p *Proxy) FailRate(q float64, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate, p.rateCode = q, status
}

// Hang holds the next n pushes unanswered until the client gives up.
func (p *Proxy) Hang(n int) { p.mu.Lock(); p.hang += n; p.mu.Unlock() }

// Reset closes the connection of the next n pushes without an answer, after
// reading their bodies.
func (p *Proxy) Reset(n int) { p.mu.Lock(); p.reset += n; p.mu.Unlock() }

// Slow forwards every push's body a chunk every d (0 ends it).
func (p *Proxy) Slow(d time.Duration) { p.mu.Lock(); p.slow = d; p.mu.Unlock() }

// Count is how many pushes met each outcome: "forwarded", "hang", "reset",
// or the injected status ("429", "503", ...).
func (p *Proxy) Count(outcome string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[outcome]
}

func (p *Proxy) handle(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	status, action, slow := 0, "forwarded", p.slow
	switch {
	case r.URL.Path != "/loki/api/v1/push":
	case p.hang > 0:
		p.hang--
		action = "hang"
	case p.reset > 0:
		p.reset--
		action = "reset"
	case len(p.faults) > 0:
		status = p.faults[0].status
		if p.faults[0].count--; p.faults[0].count <= 0 {
			p.faults = p.faults[1:]
		}
	case p.rate > 0 && p.rng.Float64() < p.rate:
		status = p.rateCode
	}
	if status != 0 {
		action = fmt.Sprint(status)
	}
	p.counts[action]++
	hangs := p.hangs
	p.mu.Unlock()
	switch action {
	case "hang":
		select {
		case <-r.Context().Done():
		case <-hangs:
		}
		return
	case "reset":
		_, _ = io.Copy(io.Discard, r.Body)
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // RST, not FIN
				}
				c.Close()
			}
		}
		return
	case "forwarded":
	default:
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "injected by the test proxy", status)
		return
	}
	if slow > 0 {
		r.Body = &slowBody{r: r.Body, every: slow}
	}
	p.rp.ServeHTTP(w, r)
}

// slowBody hands its reader's bytes on 4 KiB at a time, one chunk every d.
type slowBody struct {
	r     io.ReadCloser
	every time.Duration
}

func (s *slowBody) Read(b []byte) (int, error) {
	time.Sleep(s.every)
	if len(b) > 4<<10 {
		b = b[:4<<10]
	}
	return s.r.Read(b)
}

func (s *slowBody) Close() error { return s.r.Close() }
