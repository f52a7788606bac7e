package testkit

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"
)

// RedisOptions shape a throwaway Redis server.
type RedisOptions struct {
	// Password sets requirepass for the default user.
	Password string
	// Args are extra redis-server arguments, e.g. "--maxmemory", "64mb".
	Args []string
	// Cluster starts a one-node cluster (cluster-enabled, every slot
	// assigned to the node) and waits for cluster_state:ok.
	Cluster bool
}

// Redis is a running redis-server owned by a test.
type Redis struct {
	Host     string
	Port     int
	Addr     string // host:port
	Password string
	proc     *Process
}

// StartRedis starts redis-server on a free port with persistence off. It is
// stopped at cleanup.
func StartRedis(t TB, opts RedisOptions) *Redis {
	t.Helper()
	bin := Binary(t, "redis-server")
	dir := TempDir(t, "redis")
	r := &Redis{Host: "127.0.0.1", Port: FreePort(t), Password: opts.Password}
	r.Addr = fmt.Sprintf("%s:%d", r.Host, r.Port)
	args := []string{"--port", fmt.Sprint(r.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--protected-mode", "no", "--enable-debug-command", "yes"}
	if opts.Password != "" {
		args = append(args, "--requirepass", opts.Password)
	}
	if opts.Cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"))
	}
	args = append(args, opts.Args...)
	r.proc = &Process{Name: "redis-server", Path: bin, Args: args, Dir: dir, LogPath: filepath.Join(dir, "redis.log")}
	t.Cleanup(func() {
		r.proc.dumpOnFailure(t)
		r.proc.Stop(t)
	})
	r.Start(t)
	if opts.Cluster {
		r.MustDo(t, "CLUSTER", "ADDSLOTSRANGE", "0", "16383")
		Eventually(t, 30*time.Second, "the one-node cluster is ok", func() error {
			s, err := r.Do("CLUSTER", "INFO")
			if err == nil && !strings.Contains(s, "cluster_state:ok") {
				err = fmt.Errorf("CLUSTER INFO says:\n%s", s)
			}
			return err
		})
	}
	return r
}

// Start starts the server (again, after Stop) and waits for PING.
func (r *Redis) Start(t TB) {
	t.Helper()
	r.proc.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitTCP(ctx, r.proc, r.Addr); err != nil {
		t.Fatalf("%v\n%s", err, r.proc.Log())
	}
	Eventually(t, 10*time.Second, "redis answers PING", func() error {
		reply, err := r.Do("PING")
		if err == nil && reply != "PONG" {
			err = fmt.Errorf("PING answered %q", reply)
		}
		return err
	})
}

// Stop shuts the server down.
func (r *Redis) Stop(t TB) {
	t.Helper()
	r.proc.Stop(t)
}

// Process gives access to the redis-server process (to pause or kill it).
func (r *Redis) Process() *Process { return r.proc }

// URL returns a redis:// URL for db.
func (r *Redis) URL(db int) string {
	if r.Password != "" {
		return fmt.Sprintf("redis://:%s@%s/%d", r.Password, r.Addr, db)
	}
	return fmt.Sprintf("redis://%s/%d", r.Addr, db)
}

// Do sends one command on a fresh connection and returns the reply as text:
// simple and bulk strings as they are, integers in decimal, arrays one element
// a line. It is for test set-up; the code under test uses its own client.
func (r *Redis) Do(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", r.Addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	w := bufio.NewWriter(c)
	if r.Password != "" {
		writeCommand(w, "AUTH", r.Password)
	}
	writeCommand(w, args...)
	if err := w.Flush(); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	if r.Password != "" {
		if _, err := readReply(br); err != nil {
			return "", fmt.Errorf("AUTH: %w", err)
		}
	}
	return readReply(br)
}

// MustDo is Do that fails the test on error.
func (r *Redis) MustDo(t TB, args ...string) string {
	t.Helper()
	s, err := r.Do(args...)
	if err != nil {
		t.Fatalf("redis %v: %v", args, err)
	}
	return s
}

func writeCommand(w *bufio.Writer, args ...string) {
	fmt.Fprintf(w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(w, "$%d\r\n%s\r\n", len(a), a)
	}
}

func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis error: %s", line[1:])
	case '$':
		var n int
		fmt.Sscan(line[1:], &n)
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := ioReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		var n int
		fmt.Sscan(line[1:], &n)
		var parts []string
		for i := 0; i < n; i++ {
			s, err := readReply(r)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}
