package testkit

import (
	"net"
	"strconv"
	"syscall"
)

// Tripwire is a loopback TCP port that only counts the connections made to
// it: the target of a test asserting that something connects nowhere (a
// healthcheck, a refused probe). Nothing is accepted in the background: the
// kernel completes each handshake into the backlog, and Connections takes
// them from there, so a count read after the client acted is exact.
type Tripwire struct {
	l *net.TCPListener
	n int
}

// NewTripwire listens on a free loopback port until the test ends.
func NewTripwire(t TB) *Tripwire {
	t.Helper()
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &Tripwire{l: l}
}

// Addr is host:port.
func (w *Tripwire) Addr() string { return w.l.Addr().String() }

// Port is the port number.
func (w *Tripwire) Port() int { return w.l.Addr().(*net.TCPAddr).Port }

// Host is "127.0.0.1:PORT" spelled for a URL or DSN.
func (w *Tripwire) Host() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(w.Port())) }

// Connections returns how many connections reached the port so far; each is
// closed as it is counted.
func (w *Tripwire) Connections(t TB) int {
	t.Helper()
	rc, err := w.l.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	err = rc.Control(func(fd uintptr) {
		for {
			// The listener's descriptor is non-blocking: EAGAIN once the
			// backlog is empty.
			nfd, _, err := syscall.Accept4(int(fd), syscall.SOCK_CLOEXEC)
			if err != nil {
				return
			}
			syscall.Close(nfd)
			w.n++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return w.n
}
