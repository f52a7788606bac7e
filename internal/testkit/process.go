package testkit

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// packages names the Debian package of every service binary testkit runs.
var packages = map[string]string{
	"initdb":                  "postgresql",
	"postgres":                "postgresql",
	"redis-server":            "redis-server",
	"rabbitmq-server":         "rabbitmq-server",
	"rabbitmqctl":             "rabbitmq-server",
	"prometheus":              "prometheus",
	"promtool":                "prometheus",
	"prometheus-alertmanager": "prometheus-alertmanager",
	"amtool":                  "prometheus-alertmanager",
}

// Binary returns the path of a service binary, or fails the test saying how
// to install it. It never skips: a test that needs a service must run.
func Binary(t TB, name string, dirs ...string) string {
	t.Helper()
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	pkg := packages[name]
	if pkg == "" {
		pkg = name
	}
	t.Fatalf("%s is not installed: run `make test` as root (it installs test prerequisites) or `apt-get install -y %s`", name, pkg)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t TB) int {
	t.Helper()
	lo, hi := freePortRange()
	for range 200 {
		p := lo + rand.IntN(hi-lo)
		freePorts.Lock()
		taken := freePorts.given[p]
		freePorts.Unlock()
		if taken {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		freePorts.Lock()
		freePorts.given[p] = true
		freePorts.Unlock()
		return p
	}
	t.Fatalf("finding a free port in %d-%d: 200 tries failed", lo, hi)
	return 0
}

// freePorts are the ports FreePort handed out in this process.
var freePorts = struct {
	sync.Mutex
	given map[int]bool
}{given: map[int]bool{}}

// freePortRange is where FreePort picks: below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), from which every outgoing connection of
// every process takes its source port. A port picked there by listening on
// :0 can be taken by some client's connection before a slow service (a
// RabbitMQ booting for seconds) binds it.
var freePortRange = sync.OnceValues(readFreePortRange)

func readFreePortRange() (lo, hi int) {
	lo, hi = 10000, 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	var elo, ehi int
	if _, err := fmt.Sscan(string(b), &elo, &ehi); err != nil {
		return lo, hi
	}
	switch {
	case elo-lo >= 4096:
		return lo, elo
	case 65535-ehi >= 4096:
		return ehi + 1, 65536
	}
	return lo, hi
}

// TempDir makes a directory that other users (such as postgres) may enter,
// removed at cleanup. t.TempDir's parent is private to root.
func TempDir(t TB, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "outrigger-"+pattern+"-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Process is a child process whose output goes to a log file that is printed
// when the test fails.
type Process struct {
	Name    string
	Path    string
	Args    []string
	Env     []string
	Dir     string
	LogPath string
	// RunAs is a system user to run as when the test runs as root ("" = self).
	RunAs string
	// StopSignal ends the process gracefully (default SIGTERM).
	StopSignal syscall.Signal

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start starts the process. The caller stops it (Stop or Kill, usually in a
// t.Cleanup); Pdeathsig kills it if the test binary dies first.
func (p *Process) Start(t TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		t.Fatalf("%s: already running", p.Name)
	}
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatalf("%s: opening log: %v", p.Name, err)
	}
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Dir = p.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if cred := credential(t, p.RunAs); cred != nil {
		cmd.SysProcAttr.Credential = cred
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("%s: starting %s: %v", p.Name, p.Path, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}(p.done)
}

// Pid returns the process id, or 0 when it is not running.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the process is running.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Exited returns a channel closed when the process exits, or nil.
func (p *Process) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// Signal sends sig to the process group.
func (p *Process) Signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// Stop ends the process gracefully, killing it after 15 seconds.
func (p *Process) Stop(t TB) {
	t.Helper()
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	sig := p.StopSignal
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	p.mu.Lock()
	p.cmd = nil
	p.mu.Unlock()
}

// Kill ends the process group with SIGKILL and waits for it.
func (p *Process) Kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
}

// Log returns what the process wrote so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// dumpOnFailure prints the tail of the log when the test failed.
func (p *Process) dumpOnFailure(t TB) {
	if !t.Failed() {
		return
	}
	b, _ := os.ReadFile(p.LogPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	t.Logf("--- %s log (%s) ---\n%s", p.Name, p.LogPath, b)
}

func credential(t TB, name string) *syscall.Credential {
	t.Helper()
	if name == "" || os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("user %s does not exist (it comes with its Debian package): %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// chownTree gives a directory tree to a system user when running as root.
func chownTree(t TB, dir, name string) {
	t.Helper()
	cred := credential(t, name)
	if cred == nil {
		return
	}
	err := filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(cred.Uid), int(cred.Gid))
	})
	if err != nil {
		t.Fatalf("chown %s to %s: %v", dir, name, err)
	}
}

// startServing starts p (stopped, its log printed on failure, at cleanup)
// and waits until ready answers nil, failing at once if p exits first.
func startServing(t TB, p *Process, timeout time.Duration, ready func() error) {
	t.Helper()
	t.Cleanup(func() {
		p.dumpOnFailure(t)
		p.Stop(t)
	})
	p.Start(t)
	Eventually(t, timeout, p.Name+" ready", func() error {
		select {
		case <-p.Exited():
			t.Fatalf("%s exited:\n%s", p.Name, p.Log())
		default:
		}
		return ready()
	})
}

// httpReady is a readiness check: GET url answers 200.
func httpReady(url string) func() error {
	return func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
}

// Eventually polls cond every 20 ms until it returns nil or timeout passes,
// and fails the test with the last error.
func Eventually(t TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s: %v", what, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitTCP waits until something accepts connections on addr, or the process exits.
func waitTCP(ctx context.Context, p *Process, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not listen on %s: %w", p.Name, addr, ctx.Err())
		case <-p.Exited():
			return fmt.Errorf("%s exited before listening on %s", p.Name, addr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func run(t TB, runAs, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if cred := credential(t, runAs); cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out.String())
	}
	return out.String()
}

func output(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
