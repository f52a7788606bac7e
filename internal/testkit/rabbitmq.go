package testkit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// rabbitmqScripts is where Debian keeps the real scripts; /usr/sbin holds a
// wrapper that su's to the rabbitmq user and uses the system node.
const rabbitmqScripts = "/usr/lib/rabbitmq/bin"

// RabbitMQOptions shape a throwaway RabbitMQ node.
type RabbitMQOptions struct {
	// Management enables the management plugin (HTTP API, for unacked counts
	// and queue listings) on a free port. It adds a few seconds to start-up.
	Management bool
	// Config holds extra rabbitmq.conf lines ("key = value").
	Config []string
}

// RabbitMQ is a running rabbitmq-server owned by a test (or a test package).
type RabbitMQ struct {
	Host     string
	Port     int    // AMQP
	Addr     string // host:port of AMQP
	MgmtPort int    // 0 without Management
	Node     string // Erlang node name, e.g. outrigger-41234@localhost
	User     string
	Password string
	dir      string
	env      []string
	proc     *Process
	epmd     *Process
}

// StartRabbitMQ starts Debian's rabbitmq-server (run as the current user,
// root here) with its own node name, AMQP, distribution and epmd ports, data
// and log directories and HOME (for the Erlang cookie), all under a temporary
// directory and on free loopback ports. It is killed at cleanup. Start-up takes
// 5-10 seconds: share one node per test package where you can.
func StartRabbitMQ(t TB, opts RabbitMQOptions) *RabbitMQ {
	t.Helper()
	bin := Binary(t, "rabbitmq-server", rabbitmqScripts)
	epmdBin := Binary(t, "epmd", "/usr/bin")
	dir := TempDir(t, "rabbitmq")
	home := filepath.Join(dir, "home")
	for _, d := range []string{home, filepath.Join(dir, "mnesia"), filepath.Join(dir, "log")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	r := &RabbitMQ{Host: "127.0.0.1", Port: FreePort(t), User: "guest", Password: "guest", dir: dir}
	r.Addr = fmt.Sprintf("%s:%d", r.Host, r.Port)
	r.Node = fmt.Sprintf("outrigger-%d@localhost", r.Port)
	distPort, epmdPort := FreePort(t), FreePort(t)

	conf := []string{
		"listeners.tcp.1 = " + r.Addr,
		"loopback_users = none",
		"log.console = true",
		"log.console.level = warning",
		"log.file = false",
	}
	plugins := "[]."
	if opts.Management {
		r.MgmtPort = FreePort(t)
		conf = append(conf, "management.tcp.ip = 127.0.0.1", fmt.Sprintf("management.tcp.port = %d", r.MgmtPort),
			// The queue totals the API reports are sampled; keep them fresh.
			"collect_statistics_interval = 500")
		plugins = "[rabbitmq_management]."
	}
	conf = append(conf, opts.Config...)
	writeFile(t, filepath.Join(dir, "rabbitmq.conf"), strings.Join(conf, "\n")+"\n")
	writeFile(t, filepath.Join(dir, "enabled_plugins"), plugins+"\n")
	writeFile(t, filepath.Join(dir, "rabbitmq-env.conf"), "")

	r.env = []string{
		"HOME=" + home,
		"ERL_EPMD_PORT=" + fmt.Sprint(epmdPort),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_CONF_ENV_FILE=" + filepath.Join(dir, "rabbitmq-env.conf"),
		"RABBITMQ_NODENAME=" + r.Node,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT=" + fmt.Sprint(r.Port),
		"RABBITMQ_DIST_PORT=" + fmt.Sprint(distPort),
		"RABBITMQ_CONFIG_FILE=" + filepath.Join(dir, "rabbitmq.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE=" + filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_MNESIA_BASE=" + filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE=" + filepath.Join(dir, "log"),
		"RABBITMQ_PID_FILE=" + filepath.Join(dir, "rabbitmq.pid"),
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
	}
	// Our own epmd in the foreground: the one erl would spawn daemonizes and
	// outlives the test.
	r.epmd = &Process{Name: "epmd", Path: epmdBin, Dir: dir, LogPath: filepath.Join(dir, "epmd.log"),
		Args: []string{"-port", fmt.Sprint(epmdPort), "-address", "127.0.0.1"}}
	r.proc = &Process{Name: "rabbitmq-server", Path: bin, Dir: dir,
		Env: r.env, LogPath: filepath.Join(dir, "rabbitmq.log")}
	t.Cleanup(func() {
		r.proc.dumpOnFailure(t)
		r.proc.Kill()
		r.epmd.Kill()
	})
	r.epmd.Start(t)
	r.Start(t)
	return r
}

// Start starts the node (again, after Stop) and waits until it accepts AMQP
// connections (and, with Management, answers the HTTP API).
func (r *RabbitMQ) Start(t TB) {
	t.Helper()
	r.proc.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	Eventually(t, 90*time.Second, "rabbitmq accepts AMQP", func() error {
		if !r.proc.Running() {
			t.Fatalf("rabbitmq-server exited during start-up:\n%s", r.proc.Log())
		}
		return amqpHandshake(ctx, r.Addr)
	})
	if r.MgmtPort != 0 {
		Eventually(t, 60*time.Second, "rabbitmq management answers", func() error {
			var v map[string]any
			return r.api(ctx, http.MethodGet, "/api/overview", nil, &v)
		})
	}
}

// Stop shuts the node down gracefully (it takes several seconds).
func (r *RabbitMQ) Stop(t TB) {
	t.Helper()
	r.proc.Stop(t)
}

// Kill ends the node at once.
func (r *RabbitMQ) Kill() { r.proc.Kill() }

// Process gives access to the server process (to pause it with SIGSTOP).
func (r *RabbitMQ) Process() *Process { return r.proc }

// URL returns the amqp:// URL of the default vhost.
func (r *RabbitMQ) URL() string {
	return fmt.Sprintf("amqp://%s:%s@%s//", r.User, r.Password, r.Addr)
}

// ManagementURL returns the HTTP API base URL with credentials, or "".
func (r *RabbitMQ) ManagementURL() string {
	if r.MgmtPort == 0 {
		return ""
	}
	return fmt.Sprintf("http://%s:%s@%s:%d", r.User, r.Password, r.Host, r.MgmtPort)
}

// Ctl runs rabbitmqctl against this node and returns its output.
func (r *RabbitMQ) Ctl(t TB, args ...string) string {
	t.Helper()
	out, err := r.ctl(args...)
	if err != nil {
		t.Fatalf("rabbitmqctl %v: %v\n%s", args, err, out)
	}
	return out
}

func (r *RabbitMQ) ctl(args ...string) (string, error) {
	cmdArgs := append([]string{"-q", "-n", r.Node}, args...)
	return outputEnv(r.env, filepath.Join(rabbitmqScripts, "rabbitmqctl"), cmdArgs...)
}

// QueueInfo is one queue as rabbitmqctl list_queues reports it.
type QueueInfo struct {
	Name      string
	Ready     int
	Unacked   int
	Consumers int
}

// Queues lists the queues of the default vhost.
func (r *RabbitMQ) Queues(t TB) map[string]QueueInfo {
	t.Helper()
	out := r.Ctl(t, "list_queues", "--no-table-headers", "name", "messages_ready", "messages_unacknowledged", "consumers")
	qs := map[string]QueueInfo{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 {
			continue
		}
		var q QueueInfo
		q.Name = f[0]
		fmt.Sscan(f[1], &q.Ready)
		fmt.Sscan(f[2], &q.Unacked)
		fmt.Sscan(f[3], &q.Consumers)
		qs[q.Name] = q
	}
	return qs
}

// CloseConnections closes every client connection (as a broker restart or a
// network cut would), leaving the node running.
func (r *RabbitMQ) CloseConnections(t TB) {
	t.Helper()
	r.Ctl(t, "close_all_connections", "closed by test")
}

func (r *RabbitMQ) api(ctx context.Context, method, path string, body io.Reader, v any) error {
	u := fmt.Sprintf("http://%s:%d%s", r.Host, r.MgmtPort, path)
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.SetBasicAuth(r.User, r.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if v == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// ManagementQueue fetches one queue from the management API (vhost "/").
func (r *RabbitMQ) ManagementQueue(t TB, name string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var v map[string]any
	if err := r.api(ctx, http.MethodGet, "/api/queues/%2F/"+url.PathEscape(name), nil, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// amqpHandshake sends the AMQP 0-9-1 protocol header and expects the
// broker's Connection.Start method frame.
func amqpHandshake(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("AMQP\x00\x00\x09\x01")); err != nil {
		return err
	}
	hdr := make([]byte, 11)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return fmt.Errorf("reading Connection.Start: %w", err)
	}
	// frame type 1 (method), class 10 (connection), method 10 (start).
	if hdr[0] != 1 || hdr[7] != 0 || hdr[8] != 10 || hdr[9] != 0 || hdr[10] != 10 {
		return fmt.Errorf("unexpected first frame % x", hdr)
	}
	return nil
}

func writeFile(t TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func outputEnv(env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
