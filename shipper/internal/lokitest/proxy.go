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
// FailRate: 429, 5xx) and connections reset mid-request (Reset).
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
	reset    int
	rng      *rand.Rand
	counts   map[string]int
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
		rng: rand.New(rand.NewPCG(3, 4)), counts: map[string]int{}}
	p.rp.Transport = &http.Transport{DisableKeepAlives: true}
	p.URL = "http://" + p.addr
	p.serve(ln)
	t.Cleanup(p.Down)
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

// Reset closes the connection of the next n pushes without an answer, after
// reading their bodies.
func (p *Proxy) Reset(n int) { p.mu.Lock(); p.reset += n; p.mu.Unlock() }

// Count is how many pushes met each outcome: "forwarded", "reset",
// or the injected status ("429", "503", ...).
func (p *Proxy) Count(outcome string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[outcome]
}

func (p *Proxy) handle(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	status, action := 0, "forwarded"
	switch {
	case r.URL.Path != "/loki/api/v1/push":
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
	p.mu.Unlock()
	switch action {
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
	p.rp.ServeHTTP(w, r)
}
